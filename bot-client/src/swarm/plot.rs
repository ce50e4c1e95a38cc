//! The report's plot over the run, as SVG: latency percentiles, throughput, and connections with
//! errors, each on its own axis (no scaled stand-ins), each legend in a strip to the right of
//! its chart so that it never covers a line.

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

const THROUGHPUT: [Series; 2] = [
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
];

const CONNECTIONS: [Series; 3] = [
    Series {
        label: "bots connected",
        color: RGBColor(90, 90, 90),
        value: |s| s.bots_connected as f64,
    },
    Series {
        label: "errors/s",
        color: RED,
        value: |s| s.errors as f64,
    },
    Series {
        label: "connect errors/s",
        color: RGBColor(200, 120, 0),
        value: |s| s.connect_errors as f64,
    },
];

/// Width of the legend strip right of each chart.
const LEGEND_WIDTH: u32 = 210;

/// Draws the time series into an SVG file.
pub fn draw(samples: &[Sample], title: &str, path: &Path) -> Result<(), String> {
    let root = SVGBackend::new(path, (1100, 1000)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let (top, rest) = root.split_vertically(380);
    let (middle, bottom) = rest.split_vertically(330);
    chart(
        &top,
        &format!("{title}: latency (ms)"),
        "ms",
        samples,
        &LATENCY,
    )?;
    chart(
        &middle,
        "throughput, all bots (per second)",
        "per second",
        samples,
        &THROUGHPUT,
    )?;
    chart(
        &bottom,
        "connections and errors",
        "bots, errors/s",
        samples,
        &CONNECTIONS,
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
    let (width, _) = area.dim_in_pixel();
    let (plot, legend) = area.split_horizontally(width.saturating_sub(LEGEND_WIDTH));
    let t_max = samples.last().map(|s| s.t).unwrap_or(1.0).max(1.0);
    let y_max = samples
        .iter()
        .flat_map(|s| series.iter().map(move |l| (l.value)(s)))
        .fold(1.0_f64, f64::max)
        * 1.1;
    let mut chart = ChartBuilder::on(&plot)
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
        chart
            .draw_series(LineSeries::new(
                samples.iter().map(|s| (s.t, (line.value)(s))),
                line.color.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?;
    }
    // The legend, beside the chart rather than over it.
    for (i, line) in series.iter().enumerate() {
        let y = 50 + 24 * i as i32;
        legend
            .draw(&PathElement::new(
                vec![(8, y), (32, y)],
                line.color.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?;
        legend
            .draw(&Text::new(line.label, (40, y - 7), ("sans-serif", 14)))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}
