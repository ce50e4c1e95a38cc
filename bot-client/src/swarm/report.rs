//! The swarm's report: one per-second [`Sample`] row while running, the [`SwarmReport`] at the end,
//! and the ways to show them: a human table, JSON, CSV.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::config::{SnapshotMode, SwarmConfig};
use super::metrics::{Latency, LatencySummary, Window};
use super::slo::Check;

/// One second of the run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Sample {
    /// Seconds since the swarm started.
    pub t: f64,
    /// Bots connected at the end of the second.
    pub bots_connected: usize,
    /// Snapshots received per second, all bots.
    pub snapshots_per_s: f64,
    /// Inputs sent per second, all bots.
    pub inputs_per_s: f64,
    /// Ack round trip p50 (ms).
    pub ack_p50_ms: f64,
    /// Ack round trip p99 (ms).
    pub ack_p99_ms: f64,
    /// Input -> snapshot p50 (ms).
    pub input_to_snapshot_p50_ms: f64,
    /// Input -> snapshot p99 (ms).
    pub input_to_snapshot_p99_ms: f64,
    /// Snapshot inter-arrival p99 (ms).
    pub interarrival_p99_ms: f64,
    /// Delivered / expected snapshots in this second.
    pub delivery: f64,
    /// Errors in this second.
    pub errors: u64,
    /// Of those, failed connection attempts (`connect_failed`).
    pub connect_errors: u64,
    /// Bytes received per second, all bots.
    pub bytes_in_per_s: f64,
    /// Bytes sent per second, all bots.
    pub bytes_out_per_s: f64,
    /// CPU of the bot process, percent of one core.
    pub bot_cpu_percent: f64,
    /// CPU of the server (with --server-pid), percent of one core.
    pub server_cpu_percent: Option<f64>,
    /// Resident memory of the server (with --server-pid), MiB.
    pub server_rss_mib: Option<f64>,
}

impl Sample {
    /// Builds a row from one second's window.
    pub fn from_window(t: f64, seconds: f64, window: &Window, bots_connected: usize) -> Self {
        let per_s = |n: u64| n as f64 / seconds.max(1e-9);
        let ack = window.summary(Latency::Ack);
        let i2s = window.summary(Latency::InputToSnapshot);
        Self {
            t,
            bots_connected,
            snapshots_per_s: per_s(window.snapshots),
            inputs_per_s: per_s(window.inputs),
            ack_p50_ms: ack.p50,
            ack_p99_ms: ack.p99,
            input_to_snapshot_p50_ms: i2s.p50,
            input_to_snapshot_p99_ms: i2s.p99,
            interarrival_p99_ms: window.summary(Latency::SnapshotInterarrival).p99,
            delivery: window.delivery(),
            errors: window.error_count(),
            connect_errors: window.errors.get("connect_failed").copied().unwrap_or(0),
            bytes_in_per_s: per_s(window.bytes_in),
            bytes_out_per_s: per_s(window.bytes_out),
            ..Self::default()
        }
    }
}

/// Snapshot delivery over the run.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    /// Snapshots received by all bots.
    pub received: u64,
    /// Of those, keyframes (version 2).
    pub keyframes: u64,
    /// Of those, deltas (version 3).
    pub deltas: u64,
    /// Snapshots the tick numbers say should have arrived.
    pub expected: u64,
    /// expected - received.
    pub missed: u64,
    /// received / expected.
    pub ratio: f64,
    /// Snapshots per bot per second of play.
    pub per_bot_per_s: f64,
}

impl Delivery {
    /// The delivery of `window` over `bot_seconds` of play.
    fn of(window: &Window, bot_seconds: f64) -> Self {
        Self {
            received: window.snapshots,
            keyframes: window.keyframes,
            deltas: window.deltas,
            expected: window.snapshots_expected,
            missed: window.snapshots_expected.saturating_sub(window.snapshots),
            ratio: window.delivery(),
            per_bot_per_s: window.snapshots as f64 / bot_seconds.max(1e-9),
        }
    }
}

/// One game's part of a run (the bots that played it, with its brain).
#[derive(Debug, Clone, Serialize)]
pub struct GameReport {
    /// The game's name (`--game`).
    pub game: String,
    /// Bots that played it.
    pub bots: usize,
    /// Their snapshot delivery.
    pub snapshots: Delivery,
    /// Inputs they sent.
    pub inputs_sent: u64,
    /// Of those, acked `ok: true`.
    pub inputs_acked: u64,
    /// Input ack latency, ms.
    pub ack_ms: LatencySummary,
    /// Input -> snapshot latency, ms.
    pub input_to_snapshot_ms: LatencySummary,
    /// Their errors by code.
    pub errors: BTreeMap<String, u64>,
    /// Payload bytes received per bot per second.
    pub bytes_in_per_bot_per_s: f64,
    /// What the game's brain saw of play, summed over its bots (see `swarm::brain`).
    pub play: BTreeMap<&'static str, u64>,
}

impl GameReport {
    /// The report of `bots` bots of `game` from their totals over `seconds`.
    pub fn of(game: &str, bots: usize, seconds: f64, totals: &Window) -> Self {
        let bot_seconds = (bots as f64 * seconds).max(1e-9);
        Self {
            game: game.to_owned(),
            bots,
            snapshots: Delivery::of(totals, bot_seconds),
            inputs_sent: totals.inputs,
            inputs_acked: totals.acks,
            ack_ms: totals.summary(Latency::Ack),
            input_to_snapshot_ms: totals.summary(Latency::InputToSnapshot),
            errors: totals.errors.clone(),
            bytes_in_per_bot_per_s: totals.bytes_in as f64 / bot_seconds,
            play: totals.play.clone(),
        }
    }

    /// The play counts as `name=value, ...` (`-` when there are none).
    fn play_line(&self) -> String {
        if self.play.is_empty() {
            return "-".into();
        }
        self.play
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The bots of one snapshot mode (`--deltas`): what they received and what it cost.
#[derive(Debug, Clone, Serialize)]
pub struct ModeReport {
    /// `deltas` (the bots said their baseline) or `keyframes` (they never did).
    pub mode: SnapshotMode,
    /// Bots in this mode.
    pub bots: usize,
    /// Their snapshot delivery, keyframes and deltas counted apart.
    pub snapshots: Delivery,
    /// Inputs they sent.
    pub inputs_sent: u64,
    /// Of those, acked `ok: true`.
    pub inputs_acked: u64,
    /// Input -> snapshot latency, ms.
    pub input_to_snapshot_ms: LatencySummary,
    /// Their errors by code.
    pub errors: BTreeMap<String, u64>,
    /// Payload bytes received per bot per second: what the mode costs the network.
    pub bytes_in_per_bot_per_s: f64,
    /// Payload bytes sent per bot per second (the `baseline` field is in here).
    pub bytes_out_per_bot_per_s: f64,
}

impl ModeReport {
    /// The report of `bots` bots in `mode` from their totals over `seconds`.
    pub fn of(mode: SnapshotMode, bots: usize, seconds: f64, totals: &Window) -> Self {
        let bot_seconds = (bots as f64 * seconds).max(1e-9);
        Self {
            mode,
            bots,
            snapshots: Delivery::of(totals, bot_seconds),
            inputs_sent: totals.inputs,
            inputs_acked: totals.acks,
            input_to_snapshot_ms: totals.summary(Latency::InputToSnapshot),
            errors: totals.errors.clone(),
            bytes_in_per_bot_per_s: totals.bytes_in as f64 / bot_seconds,
            bytes_out_per_bot_per_s: totals.bytes_out as f64 / bot_seconds,
        }
    }
}

/// The modes side by side, one column each, for the text report.
fn modes_table(modes: &[ModeReport]) -> String {
    let mut out = String::new();
    let mut row = |label: &str, cell: &dyn Fn(&ModeReport) -> String| {
        let _ = write!(out, "{label:<26}");
        for m in modes {
            let _ = write!(out, " {:>14}", cell(m));
        }
        out.push('\n');
    };
    row("snapshot mode (--deltas)", &|m| m.mode.name().to_owned());
    row("bots", &|m| m.bots.to_string());
    row("bytes in per bot per s", &|m| {
        format!("{:.0}", m.bytes_in_per_bot_per_s)
    });
    row("bytes out per bot per s", &|m| {
        format!("{:.0}", m.bytes_out_per_bot_per_s)
    });
    row("keyframes received", &|m| m.snapshots.keyframes.to_string());
    row("deltas received", &|m| m.snapshots.deltas.to_string());
    row("delivery", &|m| {
        format!("{:.4}%", m.snapshots.ratio * 100.0)
    });
    row("inputs sent / acked", &|m| {
        format!("{} / {}", m.inputs_sent, m.inputs_acked)
    });
    row("input->snapshot p99 (ms)", &|m| {
        format!("{:.3}", m.input_to_snapshot_ms.p99)
    });
    row("errors", &|m| m.errors.values().sum::<u64>().to_string());
    if let [deltas, keyframes] = modes
        && keyframes.bytes_in_per_bot_per_s > 0.0
    {
        let _ = writeln!(
            out,
            "delta bots receive {:.1}% of the keyframe bots' bytes",
            deltas.bytes_in_per_bot_per_s / keyframes.bytes_in_per_bot_per_s * 100.0
        );
    }
    out
}

/// CPU and memory of a process over the run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProcessUsage {
    /// PID (absent for the bot process itself).
    pub pid: Option<u32>,
    /// Cores the process may use (bot process only).
    pub cores: Option<usize>,
    /// Mean CPU, percent of one core.
    pub cpu_percent_avg: f64,
    /// Highest one-second CPU, percent of one core.
    pub cpu_percent_max: f64,
    /// Highest resident memory, MiB.
    pub rss_mib_max: f64,
    /// Resident memory before the first bot connected, MiB (server only).
    pub rss_mib_start: Option<f64>,
}

/// The SLO verdict.
#[derive(Debug, Clone, Serialize)]
pub struct SloVerdict {
    /// The objectives as given.
    pub spec: String,
    /// All held.
    pub passed: bool,
    /// Each objective.
    pub checks: Vec<Check>,
}

/// Everything a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct SwarmReport {
    /// Tool and version.
    pub tool: String,
    /// The configuration of the run.
    pub config: SwarmConfig,
    /// Wall-clock start, unix ms.
    pub started_unix_ms: u64,
    /// Seconds from the first bot's start to the stop.
    pub seconds: f64,
    /// Bots asked for.
    pub bots: usize,
    /// Most bots connected at once.
    pub bots_connected_peak: usize,
    /// Bots connected when the run stopped.
    pub bots_connected_at_end: usize,
    /// Latency percentiles by kind, ms.
    pub latency_ms: BTreeMap<&'static str, LatencySummary>,
    /// Snapshot delivery.
    pub snapshots: Delivery,
    /// Inputs sent.
    pub inputs_sent: u64,
    /// Inputs acked `ok: true`.
    pub inputs_acked: u64,
    /// Inputs acked as stale.
    pub inputs_stale: u64,
    /// Chat messages sent.
    pub chat_sent: u64,
    /// Chat messages received.
    pub chat_received: u64,
    /// Seats taken back with room:rejoin.
    pub rejoins: u64,
    /// Errors by code.
    pub errors: BTreeMap<String, u64>,
    /// Payload bytes received per bot per second.
    pub bytes_in_per_bot_per_s: f64,
    /// Payload bytes sent per bot per second.
    pub bytes_out_per_bot_per_s: f64,
    /// The bot process.
    pub bot_process: ProcessUsage,
    /// The server, with --server-pid.
    pub server: Option<ProcessUsage>,
    /// The SLO verdict, with --slo.
    pub slo: Option<SloVerdict>,
    /// Things that make the numbers less trustworthy (e.g. the bots' CPU was saturated).
    pub warnings: Vec<String>,
    /// One row per second.
    pub timeseries: Vec<Sample>,
    /// Each game's part, in `--game` order (one entry without `--game`).
    pub games: Vec<GameReport>,
    /// Each snapshot mode's part (`--deltas`): one entry, or `deltas` then `keyframes` with
    /// `split`.
    pub modes: Vec<ModeReport>,
}

impl SwarmReport {
    /// Fills the totals part of a report from the run's merged window.
    pub fn totals(&mut self, totals: &Window) {
        self.latency_ms = Latency::ALL
            .iter()
            .map(|&k| (k.name(), totals.summary(k)))
            .collect();
        let bot_seconds = (self.bots as f64 * self.seconds).max(1e-9);
        self.snapshots = Delivery::of(totals, bot_seconds);
        self.inputs_sent = totals.inputs;
        self.inputs_acked = totals.acks;
        self.inputs_stale = totals.stale;
        self.chat_sent = totals.chat_sent;
        self.chat_received = totals.chat_received;
        self.rejoins = totals.rejoins;
        self.errors = totals.errors.clone();
        self.bytes_in_per_bot_per_s = totals.bytes_in as f64 / bot_seconds;
        self.bytes_out_per_bot_per_s = totals.bytes_out as f64 / bot_seconds;
    }

    /// The human-readable table printed at the end of a run.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let c = &self.config;
        let _ = writeln!(
            out,
            "tickstorm-bots: {} bots, {:?} scenario, {:?} parser over {:?}, {:.1} s against {}",
            self.bots, c.scenario, c.parser, c.transport, self.seconds, c.url
        );
        let _ = writeln!(
            out,
            "connected: peak {}, at end {}",
            self.bots_connected_peak, self.bots_connected_at_end
        );
        let _ = writeln!(
            out,
            "\n{:<22} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "latency (ms)", "count", "p50", "p90", "p99", "p99.9", "max"
        );
        for (name, s) in &self.latency_ms {
            if s.count > 0 {
                let _ = writeln!(
                    out,
                    "{name:<22} {:>8} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
                    s.count, s.p50, s.p90, s.p99, s.p999, s.max
                );
            }
        }
        let d = &self.snapshots;
        let _ = writeln!(
            out,
            "\nsnapshots: {} received ({} keyframes, {} deltas) of {} expected ({} missed), delivery {:.4}%, {:.2}/s per bot",
            d.received,
            d.keyframes,
            d.deltas,
            d.expected,
            d.missed,
            d.ratio * 100.0,
            d.per_bot_per_s
        );
        let _ = writeln!(
            out,
            "inputs: {} sent, {} acked ({} stale); chat {} sent / {} received; rejoins {}",
            self.inputs_sent,
            self.inputs_acked,
            self.inputs_stale,
            self.chat_sent,
            self.chat_received,
            self.rejoins
        );
        let _ = writeln!(
            out,
            "traffic per bot: {:.0} B/s in, {:.0} B/s out",
            self.bytes_in_per_bot_per_s, self.bytes_out_per_bot_per_s
        );
        let errors = if self.errors.is_empty() {
            "none".to_owned()
        } else {
            self.errors
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(out, "errors: {errors}");
        for g in &self.games {
            let errors: u64 = g.errors.values().sum();
            let _ = writeln!(
                out,
                "game {}: {} bots, delivery {:.4}% ({} missed), inputs {} sent / {} acked, ack p99 {:.3} ms, input->snapshot p99 {:.3} ms, {:.0} B/s in per bot, {errors} errors; play: {}",
                g.game,
                g.bots,
                g.snapshots.ratio * 100.0,
                g.snapshots.missed,
                g.inputs_sent,
                g.inputs_acked,
                g.ack_ms.p99,
                g.input_to_snapshot_ms.p99,
                g.bytes_in_per_bot_per_s,
                g.play_line()
            );
        }
        let _ = write!(out, "\n{}\n", modes_table(&self.modes));
        let b = &self.bot_process;
        let _ = writeln!(
            out,
            "bot process: cpu avg {:.0}% max {:.0}% of one core ({} cores available), rss {:.0} MiB",
            b.cpu_percent_avg,
            b.cpu_percent_max,
            b.cores.unwrap_or(1),
            b.rss_mib_max
        );
        if let Some(s) = &self.server {
            let _ = writeln!(
                out,
                "server (pid {}): cpu avg {:.0}% max {:.0}% of one core, rss max {:.0} MiB",
                s.pid.unwrap_or_default(),
                s.cpu_percent_avg,
                s.cpu_percent_max,
                s.rss_mib_max
            );
        }
        for warning in &self.warnings {
            let _ = writeln!(out, "WARNING: {warning}");
        }
        if let Some(slo) = &self.slo {
            let _ = writeln!(
                out,
                "\nSLO {}: {}",
                slo.spec,
                if slo.passed { "PASSED" } else { "FAILED" }
            );
            for check in &slo.checks {
                let _ = writeln!(
                    out,
                    "  [{}] {}",
                    if check.passed { "ok" } else { "FAIL" },
                    check.describe()
                );
            }
        }
        out
    }

    /// Writes the JSON report to `path` and the time series as CSV next to it.
    pub fn write_files(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(
            path,
            serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?,
        )?;
        std::fs::write(path.with_extension("csv"), self.csv())
    }

    /// The per-second time series as CSV.
    pub fn csv(&self) -> String {
        let mut out = String::from(
            "t,bots_connected,snapshots_per_s,inputs_per_s,ack_p50_ms,ack_p99_ms,input_to_snapshot_p50_ms,\
             input_to_snapshot_p99_ms,interarrival_p99_ms,delivery,errors,connect_errors,bytes_in_per_s,\
             bytes_out_per_s,bot_cpu_percent,server_cpu_percent,server_rss_mib\n",
        );
        let opt = |v: Option<f64>| v.map(|v| format!("{v:.1}")).unwrap_or_default();
        for s in &self.timeseries {
            let _ = writeln!(
                out,
                "{:.1},{},{:.1},{:.1},{:.3},{:.3},{:.3},{:.3},{:.3},{:.6},{},{},{:.0},{:.0},{:.1},{},{}",
                s.t,
                s.bots_connected,
                s.snapshots_per_s,
                s.inputs_per_s,
                s.ack_p50_ms,
                s.ack_p99_ms,
                s.input_to_snapshot_p50_ms,
                s.input_to_snapshot_p99_ms,
                s.interarrival_p99_ms,
                s.delivery,
                s.errors,
                s.connect_errors,
                s.bytes_in_per_s,
                s.bytes_out_per_s,
                s.bot_cpu_percent,
                opt(s.server_cpu_percent),
                opt(s.server_rss_mib)
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_modes_stand_side_by_side_with_bytes_per_bot_per_second() {
        let mut deltas = Window::default();
        (deltas.snapshots, deltas.keyframes, deltas.deltas) = (300, 2, 298);
        (deltas.snapshots_expected, deltas.bytes_in) = (300, 40_000);
        (deltas.inputs, deltas.acks) = (100, 100);
        let mut keyframes = Window::default();
        (keyframes.snapshots, keyframes.keyframes) = (300, 300);
        (keyframes.snapshots_expected, keyframes.bytes_in) = (300, 160_000);
        let modes = [
            ModeReport::of(SnapshotMode::Deltas, 2, 10.0, &deltas),
            ModeReport::of(SnapshotMode::Keyframes, 2, 10.0, &keyframes),
        ];
        assert_eq!(modes[0].bytes_in_per_bot_per_s, 2_000.0);
        assert_eq!(modes[1].bytes_in_per_bot_per_s, 8_000.0);
        let table = modes_table(&modes);
        let line = |label: &str| {
            table
                .lines()
                .find(|l| l.starts_with(label))
                .map(|l| l[label.len()..].split_whitespace().collect::<Vec<_>>())
                .unwrap_or_else(|| panic!("no {label:?} line in\n{table}"))
        };
        assert_eq!(line("snapshot mode (--deltas)"), ["deltas", "keyframes"]);
        assert_eq!(line("bytes in per bot per s"), ["2000", "8000"]);
        assert_eq!(line("keyframes received"), ["2", "300"]);
        assert_eq!(line("deltas received"), ["298", "0"]);
        assert_eq!(line("delivery"), ["100.0000%", "100.0000%"]);
        assert!(
            table.contains("delta bots receive 25.0% of the keyframe bots' bytes"),
            "{table}"
        );
        let json = serde_json::to_value(&modes[0]).expect("serializes");
        assert_eq!(json["mode"], "deltas");
        assert_eq!(json["snapshots"]["deltas"], 298);
        assert_eq!(json["bytes_in_per_bot_per_s"], 2_000.0);
    }
}
