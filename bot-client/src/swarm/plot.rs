//! The report's plot: latency percentiles (top) and throughput (bottom) over the run, as SVG.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::report::Sample;

/// One line of a chart.
struct Series {
    label: &'static str,
    color: RGBColor,
    value: fn(&Sample) -> f64,
}

const LATENCY: [Series; 5] = [
    Series {
        label: "ack p50",
        color: BLUE,
        value: |s| s.ack_p50_ms,
    },
    Series {
        label: "ack p99",
        color: RGBColor(0, 0, 120),
        value: |s| s.ack_p99_ms,
    },
    Series {
        label: "input->snapshot p50",
        color: GREEN,
        value: |s| s.input_to_snapshot_p50_ms,
    },
    Series {
        label: "input->snapshot p99",
        color: RGBColor(0, 110, 0),
        value: |s| s.input_to_snapshot_p99_ms,
    },
    Series {
        label: "snapshot gap p99",
        color: RED,
        value: |s| s.interarrival_p99_ms,
    },
];

const THROUGHPUT: [Series; 3] = [
    Series {
        label: "snapshots/s",
        color: BLUE,
        value: |s| s.snapshots_per_s,
    },
    Series {
        label: "inputs/s",
        color: GREEN,
        value: |s| s.inputs_per_s,
    },
    Series {
        label: "bots connected x10",
        color: RGBColor(120, 120, 120),
        value: |s| s.bots_connected as f64 * 10.0,
    },
];

/// Draws the time series into an SVG file.
pub fn draw(samples: &[Sample], title: &str, path: &Path) -> Result<(), String> {
    let root = SVGBackend::new(path, (1100, 760)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let (top, bottom) = root.split_vertically(380);
    chart(
        &top,
        &format!("{title}: latency (ms)"),
        "ms",
        samples,
        &LATENCY,
    )?;
    chart(
        &bottom,
        "throughput, all bots (per second)",
        "per second",
        samples,
        &THROUGHPUT,
    )?;
    root.present().map_err(|e| e.to_string())
}

fn chart(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    caption: &str,
    y_desc: &str,
    samples: &[Sample],
    series: &[Series],
) -> Result<(), String> {
    let t_max = samples.last().map(|s| s.t).unwrap_or(1.0).max(1.0);
    let y_max = samples
        .iter()
        .flat_map(|s| series.iter().map(move |l| (l.value)(s)))
        .fold(1.0_f64, f64::max)
        * 1.1;
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..t_max, 0.0..y_max)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("seconds")
        .y_desc(y_desc)
        .draw()
        .map_err(|e| e.to_string())?;
    for line in series {
        let style = line.color.stroke_width(2);
        chart
            .draw_series(LineSeries::new(
                samples.iter().map(|s| (s.t, (line.value)(s))),
                style,
            ))
            .map_err(|e| e.to_string())?
            .label(line.label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| e.to_string())
}
