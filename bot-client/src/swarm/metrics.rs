//! What the swarm measures, and how: HDR histograms (microseconds) and counters, recorded by the
//! bots into a few mutex-guarded shards and collected once a second by the reporter, which keeps
//! the run's totals and one row per second for the time series.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Largest latency a histogram holds (longer ones are clamped to it): one minute.
const MAX_MICROS: u64 = 60_000_000;

/// The latency distributions the swarm records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Latency {
    /// Input emit (intended send time) to its ack.
    Ack,
    /// Input intended send time to the first snapshot whose `last_input_seq` covers it.
    InputToSnapshot,
    /// Time between consecutive snapshots of one bot.
    SnapshotInterarrival,
    /// TCP + Engine.IO + Socket.IO handshake.
    Connect,
    /// `room:join` (or create + join) round trip.
    Join,
    /// Reconnect + `room:rejoin` round trip.
    Rejoin,
    /// `chat` emit to its ack.
    ChatAck,
}

impl Latency {
    /// Every kind, in report order.
    pub const ALL: [Latency; 7] = [
        Latency::Ack,
        Latency::InputToSnapshot,
        Latency::SnapshotInterarrival,
        Latency::Connect,
        Latency::Join,
        Latency::Rejoin,
        Latency::ChatAck,
    ];

    /// Name in reports and SLO expressions.
    pub fn name(self) -> &'static str {
        match self {
            Latency::Ack => "ack",
            Latency::InputToSnapshot => "input_to_snapshot",
            Latency::SnapshotInterarrival => "snapshot_interarrival",
            Latency::Connect => "connect",
            Latency::Join => "join",
            Latency::Rejoin => "rejoin",
            Latency::ChatAck => "chat_ack",
        }
    }
}

fn new_histogram() -> Histogram<u64> {
    // 3 significant digits from 1 us to 60 s: ~0.1% error, ~30 KB each.
    Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("constant bounds are valid")
}

/// Counts and distributions over some span of time.
#[derive(Debug, Clone)]
pub struct Window {
    histograms: Vec<Histogram<u64>>,
    /// Snapshots received (new ticks applied): keyframes plus deltas.
    pub snapshots: u64,
    /// Of those, keyframes (version 2).
    pub keyframes: u64,
    /// Of those, deltas (version 3).
    pub deltas: u64,
    /// Snapshots that should have arrived, from tick numbers (gaps count as missing).
    pub snapshots_expected: u64,
    /// Inputs sent.
    pub inputs: u64,
    /// Inputs acked with `ok: true`.
    pub acks: u64,
    /// Inputs acked as stale.
    pub stale: u64,
    /// Chat messages sent / received.
    pub chat_sent: u64,
    /// Chat messages received from the room.
    pub chat_received: u64,
    /// Successful rejoins.
    pub rejoins: u64,
    /// Payload bytes received.
    pub bytes_in: u64,
    /// Payload bytes sent.
    pub bytes_out: u64,
    /// Errors by code (server error codes, plus `ack_timeout`, `connect_failed`, ...).
    pub errors: BTreeMap<String, u64>,
    /// What the bots' game brains saw of play (e.g. `bolts_seen`), summed when the bots stop.
    pub play: BTreeMap<&'static str, u64>,
}

impl Default for Window {
    fn default() -> Self {
        Self {
            histograms: Latency::ALL.iter().map(|_| new_histogram()).collect(),
            snapshots: 0,
            keyframes: 0,
            deltas: 0,
            snapshots_expected: 0,
            inputs: 0,
            acks: 0,
            stale: 0,
            chat_sent: 0,
            chat_received: 0,
            rejoins: 0,
            bytes_in: 0,
            bytes_out: 0,
            errors: BTreeMap::new(),
            play: BTreeMap::new(),
        }
    }
}

impl Window {
    /// Records one latency sample.
    pub fn record(&mut self, kind: Latency, elapsed: Duration) {
        let micros = u64::try_from(elapsed.as_micros())
            .unwrap_or(MAX_MICROS)
            .clamp(1, MAX_MICROS);
        self.histograms[kind as usize].saturating_record(micros);
    }

    /// Counts one error.
    pub fn error(&mut self, code: &str) {
        *self.errors.entry(code.to_owned()).or_default() += 1;
    }

    /// The distribution of one kind.
    pub fn histogram(&self, kind: Latency) -> &Histogram<u64> {
        &self.histograms[kind as usize]
    }

    /// Adds another window into this one.
    pub fn merge(&mut self, other: &Window) {
        for (mine, theirs) in self.histograms.iter_mut().zip(&other.histograms) {
            // Same bounds on both sides, so adding cannot fail.
            let _ = mine.add(theirs);
        }
        self.snapshots += other.snapshots;
        self.keyframes += other.keyframes;
        self.deltas += other.deltas;
        self.snapshots_expected += other.snapshots_expected;
        self.inputs += other.inputs;
        self.acks += other.acks;
        self.stale += other.stale;
        self.chat_sent += other.chat_sent;
        self.chat_received += other.chat_received;
        self.rejoins += other.rejoins;
        self.bytes_in += other.bytes_in;
        self.bytes_out += other.bytes_out;
        for (code, n) in &other.errors {
            *self.errors.entry(code.clone()).or_default() += n;
        }
        for (name, n) in &other.play {
            *self.play.entry(name).or_default() += n;
        }
    }

    /// Errors of every code.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Delivered / expected snapshots (1.0 when nothing was expected).
    pub fn delivery(&self) -> f64 {
        if self.snapshots_expected == 0 {
            1.0
        } else {
            self.snapshots as f64 / self.snapshots_expected as f64
        }
    }

    /// Percentiles of one kind, in milliseconds.
    pub fn summary(&self, kind: Latency) -> LatencySummary {
        LatencySummary::of(self.histogram(kind))
    }
}

/// Percentiles of a distribution, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest sample.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

impl LatencySummary {
    fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        let ms = |micros: u64| micros as f64 / 1000.0;
        Self {
            count: h.len(),
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
            mean: h.mean() / 1000.0,
        }
    }
}

/// Where bots record: a few shards so that threads rarely wait on one another.
#[derive(Debug)]
pub struct Recorder {
    shards: Vec<Mutex<Window>>,
}

impl Recorder {
    /// A recorder with `shards` shards.
    pub fn new(shards: usize) -> Self {
        Self {
            shards: (0..shards.max(1))
                .map(|_| Mutex::new(Window::default()))
                .collect(),
        }
    }

    /// Runs `f` on the shard of bot `bot`.
    pub fn with<R>(&self, bot: usize, f: impl FnOnce(&mut Window) -> R) -> R {
        let shard = &self.shards[bot % self.shards.len()];
        f(&mut shard.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Takes everything recorded since the last call.
    pub fn take(&self) -> Window {
        let mut total = Window::default();
        for shard in &self.shards {
            let window = std::mem::take(&mut *shard.lock().unwrap_or_else(|e| e.into_inner()));
            total.merge(&window);
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_merge_and_summarize() {
        let recorder = Recorder::new(4);
        for i in 1..=100u64 {
            recorder.with(i as usize, |w| {
                w.record(Latency::Ack, Duration::from_millis(i));
                w.snapshots += 1;
                w.keyframes += i % 2;
                w.deltas += 1 - i % 2;
            });
        }
        recorder.with(0, |w| {
            w.snapshots_expected = 200;
            w.error("room_full");
        });
        let window = recorder.take();
        let ack = window.summary(Latency::Ack);
        assert_eq!(ack.count, 100);
        assert_eq!(
            (window.snapshots, window.keyframes, window.deltas),
            (100, 50, 50)
        );
        assert!((ack.p50 - 50.0).abs() < 0.1, "p50 {}", ack.p50);
        assert!((ack.p99 - 99.0).abs() < 0.1, "p99 {}", ack.p99);
        assert!((window.delivery() - 0.5).abs() < 1e-9);
        assert_eq!(window.error_count(), 1);
        assert_eq!(recorder.take().snapshots, 0, "take empties the shards");
    }
}
