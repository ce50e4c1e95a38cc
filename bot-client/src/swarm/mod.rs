//! The bot swarm: many bots against one server, a reporter that samples the run every second
//! (live progress, time series, CPU), and the final [`SwarmReport`] with its SLO verdict.
//!
//! Entry point: [`run`]. The `tickstorm-bots` binary is a thin wrapper around it.

mod bot;
pub mod brain;
mod cadence;
pub mod config;
mod feed;
pub mod metrics;
pub mod plot;
pub mod report;
pub mod slo;
pub mod sysstat;
pub mod wait;

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::OnceCell;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use config::{DeltaArg, Scenario, SnapshotMode, SwarmConfig};
use metrics::{Recorder, Window};
use report::{ProcessUsage, SloVerdict};
pub use report::{Sample, SwarmReport};
use sysstat::CpuSampler;

/// State shared by every bot of a run.
#[derive(Debug)]
pub(crate) struct SwarmShared {
    config: SwarmConfig,
    /// One recorder per game and snapshot mode of the run (see [`cohort`](Self::cohort)): each
    /// bot records into its own, the report sums them by game, by mode and in all.
    recorders: Vec<Recorder>,
    connected: AtomicUsize,
    stop: CancellationToken,
    /// Room of each group of `room_size` bots, created by whichever bot of the group comes first.
    rooms: Vec<OnceCell<String>>,
}

impl SwarmShared {
    /// The recorder of the bots of game `game` ([`SwarmConfig::game_names`] order) in snapshot
    /// mode `mode` ([`SwarmConfig::snapshot_modes`] order).
    fn cohort(&self, game: usize, mode: usize) -> usize {
        game * self.config.snapshot_modes().len() + mode
    }
}

/// Share of the bot process's available CPU above which its measurements are suspect.
const SATURATION: f64 = 0.9;

/// Runs a swarm to the end and returns its report (files are written by the caller).
pub async fn run(config: SwarmConfig) -> anyhow::Result<SwarmReport> {
    run_until(config, CancellationToken::new()).await
}

/// Like [`run`], but the play also ends (at the next whole second after every bot has started)
/// when `done` is cancelled: `--duration` is then an upper bound. For callers that wait for
/// something to happen in the game, e.g. a test that plays until the server reports a kill.
pub async fn run_until(
    config: SwarmConfig,
    done: CancellationToken,
) -> anyhow::Result<SwarmReport> {
    config.validate().map_err(anyhow::Error::msg)?;
    let objectives = config
        .slo
        .as_deref()
        .map(slo::parse)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    if !config.wait_for_server.is_zero() {
        let urls = std::iter::once(&config.url)
            .chain(&config.also_urls)
            .chain(&config.rooms_on);
        for url in urls {
            let local_ip = config.local_ips.first().copied();
            wait::until_answering(url, local_ip, config.wait_for_server)
                .await
                .map_err(anyhow::Error::msg)?;
        }
    }
    let groups = if config.room_size == 0 {
        0
    } else {
        config.bots.div_ceil(config.room_size)
    };
    let shared = Arc::new(SwarmShared {
        recorders: (0..config.game_names().len() * config.snapshot_modes().len())
            .map(|_| Recorder::new(16))
            .collect(),
        connected: AtomicUsize::new(0),
        stop: CancellationToken::new(),
        rooms: (0..groups).map(|_| OnceCell::new()).collect(),
        config: config.clone(),
    });
    let started_unix_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let started = Instant::now();

    let spawner = tokio::spawn(spawn_bots(shared.clone()));
    let mut sampler = Sampler::new(&config);
    let progress = Progress::new(&config);
    let mut second =
        tokio::time::interval_at(started + Duration::from_secs(1), Duration::from_secs(1));
    let mut ramp_done_at: Option<Instant> = None;
    let mut last_sample = started;
    loop {
        second.tick().await;
        let now = Instant::now();
        let window = sampler.take(&shared);
        let connected = shared.connected.load(Ordering::Relaxed);
        sampler.sample(now - started, now - last_sample, &window, connected);
        last_sample = now;
        progress.update(&shared, sampler.timeseries.last(), &sampler.games_second);
        if ramp_done_at.is_none() && spawner.is_finished() {
            ramp_done_at = Some(now);
        }
        if ramp_done_at.is_some_and(|at| now - at >= config.duration || done.is_cancelled()) {
            break;
        }
    }
    let connected_at_end = shared.connected.load(Ordering::Relaxed);
    shared.stop.cancel();
    let mut bots = spawner.await?;
    let all_stopped = tokio::time::timeout(Duration::from_secs(15), async {
        while bots.join_next().await.is_some() {}
    })
    .await;
    if all_stopped.is_err() {
        tracing::warn!("some bots did not stop within 15 s");
    }
    progress.finish();
    let window = sampler.take(&shared);
    sampler.totals.merge(&window);

    let seconds = (Instant::now() - started).as_secs_f64();
    Ok(sampler.into_report(
        config,
        objectives.as_deref(),
        started_unix_ms,
        seconds,
        connected_at_end,
    ))
}

/// Starts the bots, `ramp` per second (all at once for the join storm).
async fn spawn_bots(shared: Arc<SwarmShared>) -> JoinSet<()> {
    let config = &shared.config;
    let mut bots = JoinSet::new();
    let interval = match config.scenario {
        Scenario::JoinStorm => Duration::ZERO,
        _ => Duration::from_secs_f64(1.0 / config.ramp),
    };
    let start = Instant::now();
    for index in 0..config.bots {
        if shared.stop.is_cancelled() {
            break;
        }
        if !interval.is_zero() {
            tokio::time::sleep_until(start + interval.mul_f64(index as f64)).await;
        }
        bots.spawn(bot::Bot::new(shared.clone(), index).run());
    }
    bots
}

/// Collects the per-second rows, the run's totals, and CPU/memory of the bots and the server.
struct Sampler {
    totals: Window,
    /// The totals of each game and of each snapshot mode.
    per_game: Vec<Window>,
    per_mode: Vec<Window>,
    /// Each game's last second for the live line: `(delivery, errors)`.
    games_second: Vec<(f64, u64)>,
    timeseries: Vec<Sample>,
    own_cpu: CpuSampler,
    server_cpu: Option<CpuSampler>,
    peak_connected: usize,
    own_rss_max: u64,
    server_rss_max: u64,
    server_rss_start: Option<u64>,
    cores: usize,
}

impl Sampler {
    fn new(config: &SwarmConfig) -> Self {
        let mut own_cpu = CpuSampler::this_process();
        let mut server_cpu = config.server_pid.map(CpuSampler::process);
        own_cpu.sample();
        if let Some(server) = server_cpu.as_mut() {
            server.sample();
        }
        let server_rss_start = server_cpu.as_ref().and_then(CpuSampler::rss_bytes);
        Self {
            totals: Window::default(),
            per_game: config
                .game_names()
                .iter()
                .map(|_| Window::default())
                .collect(),
            per_mode: config
                .snapshot_modes()
                .iter()
                .map(|_| Window::default())
                .collect(),
            games_second: Vec::new(),
            timeseries: Vec::new(),
            own_cpu,
            server_cpu,
            peak_connected: 0,
            own_rss_max: 0,
            server_rss_max: 0,
            server_rss_start,
            cores: sysstat::available_cores(),
        }
    }

    /// Takes what every game's bots recorded since the last call: adds each game's and each
    /// mode's part to its totals and returns the sum (the caller adds that to the run's totals).
    fn take(&mut self, shared: &SwarmShared) -> Window {
        let mut sum = Window::default();
        self.games_second.clear();
        for (game, totals) in self.per_game.iter_mut().enumerate() {
            let mut second = Window::default();
            for (mode, mode_totals) in self.per_mode.iter_mut().enumerate() {
                let window = shared.recorders[shared.cohort(game, mode)].take();
                mode_totals.merge(&window);
                second.merge(&window);
            }
            totals.merge(&second);
            sum.merge(&second);
            self.games_second
                .push((second.delivery(), second.error_count()));
        }
        sum
    }

    fn sample(&mut self, since_start: Duration, span: Duration, window: &Window, connected: usize) {
        self.totals.merge(window);
        self.peak_connected = self.peak_connected.max(connected);
        let mut row = Sample::from_window(
            since_start.as_secs_f64(),
            span.as_secs_f64(),
            window,
            connected,
        );
        row.bot_cpu_percent = self.own_cpu.sample().unwrap_or_default();
        self.own_rss_max = self
            .own_rss_max
            .max(self.own_cpu.rss_bytes().unwrap_or_default());
        if let Some(server) = self.server_cpu.as_mut() {
            row.server_cpu_percent = server.sample();
            let rss = server.rss_bytes();
            self.server_rss_max = self.server_rss_max.max(rss.unwrap_or_default());
            row.server_rss_mib = rss.map(mib);
        }
        self.timeseries.push(row);
    }

    fn into_report(
        self,
        config: SwarmConfig,
        objectives: Option<&[slo::Objective]>,
        started_unix_ms: u64,
        seconds: f64,
        connected_at_end: usize,
    ) -> SwarmReport {
        let cpu = |values: &mut dyn Iterator<Item = f64>| {
            let values: Vec<f64> = values.collect();
            let avg = if values.is_empty() {
                0.0
            } else {
                values.iter().sum::<f64>() / values.len() as f64
            };
            (avg, values.iter().copied().fold(0.0, f64::max))
        };
        let (own_avg, own_max) = cpu(&mut self.timeseries.iter().map(|s| s.bot_cpu_percent));
        let mut warnings = Vec::new();
        let limit = self.cores as f64 * 100.0 * SATURATION;
        let saturated = self
            .timeseries
            .iter()
            .filter(|s| s.bot_cpu_percent >= limit)
            .count();
        if saturated > 0 {
            warnings.push(format!(
                "the bot process used over {:.0}% of its {} core(s) in {saturated} of {} seconds: the bots, not the server, may limit these numbers",
                SATURATION * 100.0,
                self.cores,
                self.timeseries.len()
            ));
        }
        let server = config.server_pid.map(|pid| {
            let (avg, max) = cpu(&mut self.timeseries.iter().filter_map(|s| s.server_cpu_percent));
            ProcessUsage {
                pid: Some(pid),
                cores: None,
                cpu_percent_avg: avg,
                cpu_percent_max: max,
                rss_mib_max: mib(self.server_rss_max),
                rss_mib_start: self.server_rss_start.map(mib),
            }
        });
        let slo = objectives.map(|objectives| {
            let checks = slo::evaluate(
                objectives,
                &self.totals,
                connected_at_end as f64 / config.bots.max(1) as f64,
            );
            SloVerdict {
                spec: config.slo.clone().unwrap_or_default(),
                passed: checks.iter().all(|c| c.passed),
                checks,
            }
        });
        let games = config
            .game_names()
            .iter()
            .zip(&self.per_game)
            .enumerate()
            .map(|(g, (name, totals))| {
                let bots = (0..config.bots).filter(|&i| config.game_of(i) == g).count();
                report::GameReport::of(name, bots, seconds, totals)
            })
            .collect();
        let modes = config
            .snapshot_modes()
            .iter()
            .zip(&self.per_mode)
            .enumerate()
            .map(|(m, (mode, totals))| {
                let bots = (0..config.bots)
                    .filter(|&i| config.snapshot_mode_of(i) == m)
                    .count();
                report::ModeReport::of(*mode, bots, seconds, totals)
            })
            .collect();
        let mut report = SwarmReport {
            tool: format!("tickstorm-bots {}", env!("CARGO_PKG_VERSION")),
            bots: config.bots,
            config,
            started_unix_ms,
            seconds,
            bots_connected_peak: self.peak_connected,
            bots_connected_at_end: connected_at_end,
            latency_ms: Default::default(),
            snapshots: report::Delivery {
                received: 0,
                keyframes: 0,
                deltas: 0,
                expected: 0,
                missed: 0,
                ratio: 1.0,
                per_bot_per_s: 0.0,
            },
            inputs_sent: 0,
            inputs_acked: 0,
            inputs_stale: 0,
            chat_sent: 0,
            chat_received: 0,
            rejoins: 0,
            errors: Default::default(),
            bytes_in_per_bot_per_s: 0.0,
            bytes_out_per_bot_per_s: 0.0,
            bot_process: ProcessUsage {
                pid: None,
                cores: Some(self.cores),
                cpu_percent_avg: own_avg,
                cpu_percent_max: own_max,
                rss_mib_max: mib(self.own_rss_max),
                rss_mib_start: None,
            },
            server,
            slo,
            warnings,
            timeseries: self.timeseries,
            games,
            modes,
        };
        report.totals(&self.totals);
        report
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// The live line: an indicatif spinner on a terminal, a plain line every 5 s otherwise.
struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    fn new(config: &SwarmConfig) -> Self {
        let bar = (!config.quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Self { bar }
    }

    /// Shows the last second; with several games, each game's delivery and errors too.
    fn update(&self, shared: &SwarmShared, row: Option<&Sample>, games: &[(f64, u64)]) {
        let Some(row) = row else { return };
        let mut line = format!(
            "bots {}/{} | snapshots {:.0}/s inputs {:.0}/s | ack p50 {:.2} p99 {:.2} ms | input->snapshot p99 {:.1} ms | delivery {:.2}% | errors {} | cpu {:.0}%",
            row.bots_connected,
            shared.config.bots,
            row.snapshots_per_s,
            row.inputs_per_s,
            row.ack_p50_ms,
            row.ack_p99_ms,
            row.input_to_snapshot_p99_ms,
            row.delivery * 100.0,
            row.errors,
            row.bot_cpu_percent
        );
        if games.len() > 1 {
            for (name, (delivery, errors)) in shared.config.game_names().iter().zip(games) {
                line.push_str(&format!(" | {name} {:.2}% {errors} err", delivery * 100.0));
            }
        }
        match &self.bar {
            Some(bar) => bar.set_message(line),
            None if (row.t.round() as u64).is_multiple_of(5) => {
                eprintln!("[{:>5.0}s] {line}", row.t)
            }
            None => {}
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
