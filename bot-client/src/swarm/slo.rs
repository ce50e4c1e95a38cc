//! Service-level objectives: parsing `ack_p99<20ms,input_to_snapshot_p99<60ms,delivery>=99.9%`
//! and checking them against a run's totals.
//!
//! A check is `metric op value`. Metrics: `<latency>_<p50|p90|p99|p999|max|mean>` for every latency
//! kind (`ack`, `input_to_snapshot`, `snapshot_interarrival`, `connect`, `join`, `rejoin`,
//! `chat_ack`), in milliseconds (`ms`, `us` or `s` suffixes accepted); `delivery` as a percentage
//! or a ratio; `errors` as a count; `snapshots` as the count of snapshots received (a floor: a
//! ratio alone cannot tell a run that received nothing); `connected` as the share of bots
//! connected at the end (%).

use serde::Serialize;

use super::metrics::{Latency, LatencySummary, Window};

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Op {
    /// `<`
    #[serde(rename = "<")]
    Lt,
    /// `<=`
    #[serde(rename = "<=")]
    Le,
    /// `>`
    #[serde(rename = ">")]
    Gt,
    /// `>=`
    #[serde(rename = ">=")]
    Ge,
}

impl Op {
    fn holds(self, actual: f64, threshold: f64) -> bool {
        // `99.9%` parses to 0.9990000000000001; a delivery of exactly 999/1000 must still meet it.
        let slack = 1e-9 * threshold.abs().max(1.0);
        match self {
            Op::Lt => actual < threshold,
            Op::Le => actual <= threshold + slack,
            Op::Gt => actual > threshold,
            Op::Ge => actual >= threshold - slack,
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }
}

/// One objective, its threshold normalized (milliseconds, ratio 0..=1, or count).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Objective {
    /// Metric name as written.
    pub metric: String,
    /// Comparison.
    pub op: Op,
    /// Threshold in the metric's unit.
    pub threshold: f64,
}

/// The result of one objective.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// The objective.
    #[serde(flatten)]
    pub objective: Objective,
    /// The measured value, same unit.
    pub actual: f64,
    /// Whether it held.
    pub passed: bool,
}

impl Check {
    /// `ack_p99 = 25.1 ms, wanted < 20 ms`.
    pub fn describe(&self) -> String {
        let unit = unit_of(&self.objective.metric);
        let (actual, threshold) = match unit {
            "%" => (self.actual * 100.0, self.objective.threshold * 100.0),
            _ => (self.actual, self.objective.threshold),
        };
        format!(
            "{} = {actual:.3}{unit}, wanted {} {threshold}{unit}",
            self.objective.metric,
            self.objective.op.symbol()
        )
    }
}

fn unit_of(metric: &str) -> &'static str {
    match metric {
        "delivery" | "connected" => "%",
        "errors" | "snapshots" => "",
        _ => " ms",
    }
}

/// Parses a comma-separated list of objectives.
pub fn parse(spec: &str) -> Result<Vec<Objective>, String> {
    spec.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(parse_one)
        .collect()
}

fn parse_one(text: &str) -> Result<Objective, String> {
    let (at, op, len) = ["<=", ">=", "<", ">"]
        .iter()
        .find_map(|sym| text.find(sym).map(|i| (i, *sym, sym.len())))
        .ok_or_else(|| {
            format!("`{text}`: expected metric<value, metric<=value, metric>value or metric>=value")
        })?;
    let op = match op {
        "<=" => Op::Le,
        ">=" => Op::Ge,
        "<" => Op::Lt,
        _ => Op::Gt,
    };
    let metric = text[..at].trim().to_owned();
    let value = text[at + len..].trim();
    validate_metric(&metric)?;
    let threshold = match unit_of(&metric) {
        "%" => parse_ratio(value),
        "" => value.parse::<f64>().ok(),
        _ => parse_millis(value),
    }
    .ok_or_else(|| format!("`{text}`: cannot read `{value}` as a {} value", metric))?;
    Ok(Objective {
        metric,
        op,
        threshold,
    })
}

fn validate_metric(metric: &str) -> Result<(), String> {
    if matches!(metric, "delivery" | "errors" | "snapshots" | "connected")
        || latency_metric(metric).is_some()
    {
        Ok(())
    } else {
        Err(format!(
            "unknown metric `{metric}` (use delivery, errors, snapshots, connected, or <kind>_<p50|p90|p99|p999|max|mean> with kind one of {})",
            Latency::ALL.map(Latency::name).join(", ")
        ))
    }
}

fn latency_metric(metric: &str) -> Option<(Latency, &str)> {
    let (kind, stat) = metric.rsplit_once('_')?;
    let kind = Latency::ALL.into_iter().find(|k| k.name() == kind)?;
    matches!(stat, "p50" | "p90" | "p99" | "p999" | "max" | "mean").then_some((kind, stat))
}

fn parse_millis(value: &str) -> Option<f64> {
    let (number, scale) = if let Some(n) = value.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = value.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = value.strip_suffix('s') {
        (n, 1000.0)
    } else {
        (value, 1.0)
    };
    number
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .map(|v| v * scale)
}

fn parse_ratio(value: &str) -> Option<f64> {
    match value.strip_suffix('%') {
        Some(n) => n.trim().parse::<f64>().ok().map(|v| v / 100.0),
        None => value.parse::<f64>().ok(),
    }
    .filter(|v| v.is_finite())
}

/// Measures one metric on a run's totals; `connected` is the share of bots connected at the end.
fn measure(metric: &str, totals: &Window, connected: f64) -> f64 {
    match metric {
        "delivery" => totals.delivery(),
        "errors" => totals.error_count() as f64,
        "snapshots" => totals.snapshots as f64,
        "connected" => connected,
        _ => match latency_metric(metric) {
            Some((kind, stat)) => {
                let s: LatencySummary = totals.summary(kind);
                match stat {
                    "p50" => s.p50,
                    "p90" => s.p90,
                    "p99" => s.p99,
                    "p999" => s.p999,
                    "max" => s.max,
                    _ => s.mean,
                }
            }
            None => f64::NAN,
        },
    }
}

/// Checks every objective.
pub fn evaluate(objectives: &[Objective], totals: &Window, connected: f64) -> Vec<Check> {
    objectives
        .iter()
        .map(|o| {
            let actual = measure(&o.metric, totals, connected);
            Check {
                objective: o.clone(),
                actual,
                passed: o.op.holds(actual, o.threshold),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn parses_the_documented_example() {
        let objectives =
            parse("ack_p99<20ms, input_to_snapshot_p99<=0.06s,delivery>=99.9%,errors<1")
                .expect("valid");
        assert_eq!(objectives.len(), 4);
        assert_eq!(
            objectives[0],
            Objective {
                metric: "ack_p99".into(),
                op: Op::Lt,
                threshold: 20.0
            }
        );
        assert_eq!(objectives[1].threshold, 60.0);
        assert_eq!(objectives[1].op, Op::Le);
        assert!((objectives[2].threshold - 0.999).abs() < 1e-12);
        assert_eq!(
            objectives[3],
            Objective {
                metric: "errors".into(),
                op: Op::Lt,
                threshold: 1.0
            }
        );
    }

    #[test]
    fn rejects_what_it_cannot_read() {
        assert!(parse("ack_p98<20ms").is_err());
        assert!(parse("latency<20ms").is_err());
        assert!(parse("ack_p99=20ms").is_err());
        assert!(parse("ack_p99<fast").is_err());
        assert!(parse("delivery>=lots").is_err());
        assert!(parse("snapshots>=many").is_err());
    }

    #[test]
    fn a_snapshot_floor_fails_a_run_that_received_too_few() {
        let mut totals = Window::default();
        totals.snapshots = 120;
        // Nothing expected either: the ratio alone would pass.
        let checks = evaluate(
            &parse("snapshots>=121,delivery>=99%").expect("valid"),
            &totals,
            1.0,
        );
        assert!(!checks[0].passed && checks[1].passed);
        assert_eq!(checks[0].describe(), "snapshots = 120.000, wanted >= 121");
    }

    #[test]
    fn evaluates_against_measurements() {
        let mut totals = Window::default();
        for ms in 1..=100 {
            totals.record(Latency::Ack, Duration::from_millis(ms));
        }
        totals.snapshots = 999;
        totals.snapshots_expected = 1000;
        let checks = evaluate(
            &parse("ack_p99<20ms,ack_p50<60ms,delivery>=99.9%").expect("valid"),
            &totals,
            1.0,
        );
        assert!(!checks[0].passed && checks[1].passed && checks[2].passed);
        assert!(
            checks[0].describe().starts_with("ack_p99 = 99"),
            "{}",
            checks[0].describe()
        );
    }
}
