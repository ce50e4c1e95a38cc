//! `ServerMetrics`: the server's counters, gauges and histograms, in one `prometheus-client`
//! registry per server (not a process-global recorder, so tests can run several servers in one
//! process and read each one's own numbers), plus the once-a-second [`MetricsSample`] that the
//! `/admin` namespace pushes to dashboards.
//!
//! Hot paths only touch atomics: an input is one `fetch_add`, an ok ack another. The tick time
//! is also kept in a small HDR histogram that the sampler swaps every second, because the
//! dashboard wants p50/p99 of the last second, which Prometheus buckets cannot give exactly.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram as Hdr;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use serde::Serialize;
use tickstorm_shared::ErrorCode;

use crate::room::ServerCounts;

/// Label of the `errors` family: the wire error code.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// e.g. `bad_request`.
    pub code: &'static str,
}

/// Every metric of one server.
#[derive(Debug)]
pub struct ServerMetrics {
    registry: Registry,
    started: Instant,
    /// Open `/game` connections (handshake accepted, not yet disconnected).
    pub game_connections: Gauge,
    /// Open `/admin` connections.
    pub admin_connections: Gauge,
    /// Handshakes refused (`connect_error`) on any namespace.
    pub handshakes_refused: Counter,
    /// Open TCP connections, from accept until closed (upgraded WebSockets included).
    pub tcp_connections: Gauge,
    /// Connections reset at accept: their address held `--max-tcp-per-ip`.
    pub tcp_refused: Counter,
    /// Connections closed for sending no complete request head within `--header-timeout` of
    /// opening: they never made a request.
    pub header_timeouts: Counter,
    /// Keep-alive connections closed when no next request head came within `--header-timeout`
    /// of their last answer (routine: browsers keep spare connections).
    pub idle_closed: Counter,
    /// WebSockets closed for completing no Socket.IO CONNECT within `--connect-timeout`.
    pub connect_timeouts: Counter,
    /// Open rooms.
    pub rooms: Gauge,
    /// Seats taken (including held seats).
    pub players: Gauge,
    /// Seats held for disconnected players.
    pub disconnected_players: Gauge,
    /// Wall time of one driver step: simulating and broadcasting every room that was due.
    pub tick_duration: Histogram,
    /// Room ticks simulated.
    pub room_ticks: Counter,
    /// Room ticks that started more than a whole period late (the missed ticks are skipped).
    pub tick_overruns: Counter,
    /// Snapshots handed to connections (one per connected member per tick).
    pub snapshots_sent: Counter,
    /// Snapshot bytes handed to connections (payload size times connected members).
    pub snapshot_bytes: Counter,
    /// Of `snapshots_sent`, the deltas (the rest are keyframes).
    pub delta_snapshots_sent: Counter,
    /// Of `snapshot_bytes`, the deltas' bytes.
    pub delta_snapshot_bytes: Counter,
    /// Broadcast packets (snapshots, room events) not queued for one connection because its
    /// outgoing queue was full: that client stopped reading, and loses them alone.
    pub packets_dropped: Counter,
    /// `input` events received.
    pub inputs: Counter,
    /// `/game` requests answered with `ok: true`.
    pub acks_ok: Counter,
    /// `/game` requests answered with `ok: false`, by error code.
    pub errors: Family<ErrorLabels, Counter>,
    /// Successful `room:rejoin`s.
    pub rejoins: Counter,
    /// Chat messages broadcast.
    pub chat_messages: Counter,
    /// Rooms closed because their simulation panicked.
    pub room_faults: Counter,
    /// The Redis connection's state and traffic (scale-out; stays 0 on a single node).
    pub redis: crate::cluster::bus::BusMetrics,
    /// The recorder's (`--record-dir`; stays 0 without it).
    pub recording: crate::recorder::RecorderMetrics,
    /// Requests sent to other nodes (scale-out).
    pub node_requests: Counter,
    /// Requests to other nodes that got no answer in time.
    pub node_request_timeouts: Counter,
    /// Other nodes declared lost.
    pub nodes_lost: Counter,
    tick_window: Mutex<Hdr<u64>>,
}

impl Default for ServerMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl ServerMetrics {
    /// A registry with every metric registered (prefix `tickstorm_`) and every error code
    /// pre-created at zero, so dashboards and alerts see the series before the first error.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("tickstorm");
        let m = Self {
            registry: Registry::default(),
            started: Instant::now(),
            game_connections: Gauge::default(),
            admin_connections: Gauge::default(),
            handshakes_refused: Counter::default(),
            tcp_connections: Gauge::default(),
            tcp_refused: Counter::default(),
            header_timeouts: Counter::default(),
            idle_closed: Counter::default(),
            connect_timeouts: Counter::default(),
            rooms: Gauge::default(),
            players: Gauge::default(),
            disconnected_players: Gauge::default(),
            // 50 us .. ~105 ms: a step of a few rooms takes tens of microseconds, an
            // overloaded one tens of milliseconds.
            tick_duration: Histogram::new(exponential_buckets(50e-6, 2.0, 12)),
            room_ticks: Counter::default(),
            tick_overruns: Counter::default(),
            snapshots_sent: Counter::default(),
            packets_dropped: Counter::default(),
            snapshot_bytes: Counter::default(),
            delta_snapshots_sent: Counter::default(),
            delta_snapshot_bytes: Counter::default(),
            inputs: Counter::default(),
            acks_ok: Counter::default(),
            errors: Family::default(),
            rejoins: Counter::default(),
            chat_messages: Counter::default(),
            room_faults: Counter::default(),
            redis: crate::cluster::bus::BusMetrics::default(),
            recording: crate::recorder::RecorderMetrics::default(),
            node_requests: Counter::default(),
            node_request_timeouts: Counter::default(),
            nodes_lost: Counter::default(),
            tick_window: Mutex::new(new_window()),
        };
        for code in ErrorCode::ALL {
            drop(m.errors.get_or_create(&ErrorLabels {
                code: code.as_str(),
            }));
        }
        let r = &mut registry;
        r.register(
            "connections",
            "Open /game connections",
            m.game_connections.clone(),
        );
        r.register(
            "admin_connections",
            "Open /admin connections",
            m.admin_connections.clone(),
        );
        r.register(
            "handshakes_refused",
            "Handshakes refused with connect_error",
            m.handshakes_refused.clone(),
        );
        r.register(
            "tcp_connections",
            "Open TCP connections, upgraded WebSockets included",
            m.tcp_connections.clone(),
        );
        r.register(
            "tcp_refused",
            "Connections reset at accept because their address held --max-tcp-per-ip",
            m.tcp_refused.clone(),
        );
        r.register(
            "header_timeouts",
            "Connections closed for sending no complete request head within --header-timeout of opening",
            m.header_timeouts.clone(),
        );
        r.register(
            "idle_closed",
            "Keep-alive connections closed for no next request head within --header-timeout",
            m.idle_closed.clone(),
        );
        r.register(
            "connect_timeouts",
            "WebSockets closed for completing no Socket.IO CONNECT within --connect-timeout",
            m.connect_timeouts.clone(),
        );
        r.register("rooms", "Open rooms", m.rooms.clone());
        r.register(
            "recordings_active",
            "Room recordings being written (--record-dir)",
            m.recording.active.clone(),
        );
        r.register(
            "recording_bytes",
            "Bytes written to room recordings",
            m.recording.bytes.clone(),
        );
        r.register(
            "recording_errors",
            "Room recordings ended by an I/O error, a writer behind, or their size limit",
            m.recording.errors.clone(),
        );
        r.register(
            "redis_up",
            "1 while Redis answers (scale-out), else 0",
            m.redis.up.clone(),
        );
        r.register(
            "redis_errors",
            "Redis commands that failed and connections Redis dropped",
            m.redis.errors.clone(),
        );
        r.register(
            "redis_dropped_messages",
            "Pub/sub messages dropped while Redis was down or behind",
            m.redis.dropped.clone(),
        );
        r.register(
            "redis_published_messages",
            "Pub/sub messages published",
            m.redis.published.clone(),
        );
        r.register(
            "node_requests",
            "Requests sent to other nodes",
            m.node_requests.clone(),
        );
        r.register(
            "node_request_timeouts",
            "Requests to other nodes left unanswered",
            m.node_request_timeouts.clone(),
        );
        r.register(
            "nodes_lost",
            "Other nodes declared lost",
            m.nodes_lost.clone(),
        );
        r.register(
            "players",
            "Seats taken, including held seats",
            m.players.clone(),
        );
        r.register(
            "disconnected_players",
            "Seats held for disconnected players",
            m.disconnected_players.clone(),
        );
        r.register(
            "tick_duration_seconds",
            "Wall time of one driver step (simulate and broadcast every due room)",
            m.tick_duration.clone(),
        );
        r.register("room_ticks", "Room ticks simulated", m.room_ticks.clone());
        r.register(
            "tick_overruns",
            "Room ticks more than a whole period late (missed ticks skipped)",
            m.tick_overruns.clone(),
        );
        r.register(
            "snapshots_sent",
            "Snapshots handed to connections",
            m.snapshots_sent.clone(),
        );
        r.register(
            "packets_dropped",
            "Broadcast packets dropped for one connection whose outgoing queue was full",
            m.packets_dropped.clone(),
        );
        r.register(
            "snapshot_bytes",
            "Snapshot bytes handed to connections",
            m.snapshot_bytes.clone(),
        );
        r.register(
            "delta_snapshots_sent",
            "Delta snapshots handed to connections (the rest of snapshots_sent are keyframes)",
            m.delta_snapshots_sent.clone(),
        );
        r.register(
            "delta_snapshot_bytes",
            "Delta snapshot bytes handed to connections",
            m.delta_snapshot_bytes.clone(),
        );
        r.register("inputs", "input events received", m.inputs.clone());
        r.register(
            "acks_ok",
            "/game requests answered with ok: true",
            m.acks_ok.clone(),
        );
        r.register(
            "errors",
            "/game requests answered with ok: false, by error code",
            m.errors.clone(),
        );
        r.register("rejoins", "Successful room:rejoin", m.rejoins.clone());
        r.register(
            "room_faults",
            "Rooms closed because their simulation panicked",
            m.room_faults.clone(),
        );
        r.register(
            "chat_messages",
            "Chat messages broadcast",
            m.chat_messages.clone(),
        );
        Self { registry, ..m }
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(4096);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Records one driver step.
    pub fn record_step(&self, took: Duration, rooms: usize, overruns: usize) {
        self.tick_duration.observe(took.as_secs_f64());
        self.room_ticks.inc_by(rooms as u64);
        self.tick_overruns.inc_by(overruns as u64);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.window().saturating_record(micros.max(1));
    }

    /// Records one snapshot payload handed to `recipients` connections.
    pub fn record_snapshot(&self, bytes: usize, recipients: usize, delta: bool) {
        self.snapshots_sent.inc_by(recipients as u64);
        self.snapshot_bytes.inc_by((bytes * recipients) as u64);
        if delta {
            self.delta_snapshots_sent.inc_by(recipients as u64);
            self.delta_snapshot_bytes
                .inc_by((bytes * recipients) as u64);
        }
    }

    /// Records an ack's outcome.
    pub fn record_ack(&self, error: Option<ErrorCode>) {
        match error {
            None => self.acks_ok.inc(),
            Some(code) => self
                .errors
                .get_or_create(&ErrorLabels {
                    code: code.as_str(),
                })
                .inc(),
        };
    }

    /// Publishes the room driver's counts as gauges.
    pub fn set_counts(&self, counts: ServerCounts) {
        self.rooms.set(counts.rooms as i64);
        self.players.set(counts.players as i64);
        self.disconnected_players.set(counts.disconnected as i64);
    }

    /// Failed acks so far, by code.
    pub fn errors_by_code(&self) -> Vec<(&'static str, u64)> {
        ErrorCode::ALL
            .iter()
            .map(|code| {
                let labels = ErrorLabels {
                    code: code.as_str(),
                };
                (code.as_str(), self.errors.get_or_create(&labels).get())
            })
            .collect()
    }

    fn totals(&self) -> Totals {
        let errors = self.errors_by_code().iter().map(|(_, n)| n).sum::<u64>();
        Totals {
            room_ticks: self.room_ticks.get(),
            overruns: self.tick_overruns.get(),
            inputs: self.inputs.get(),
            acks: self.acks_ok.get() + errors,
            errors,
            snapshots: self.snapshots_sent.get(),
            bytes_out: self.snapshot_bytes.get(),
        }
    }

    fn window(&self) -> std::sync::MutexGuard<'_, Hdr<u64>> {
        // A histogram of plain counts: a poisoned lock still holds usable numbers.
        self.tick_window.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Counts one open connection in a gauge for exactly as long as the guard lives. The handshake
/// middleware stores it in the socket's extensions, so the count follows the socket's own life
/// (socketioxide may skip the connect handler, or the disconnect handler, for a socket that closes
/// during its handshake; counting in handlers drifted both ways under chaos).
#[derive(Debug)]
pub struct GaugeGuard(Gauge);

impl GaugeGuard {
    /// Adds one to `gauge` until the guard is dropped.
    pub fn new(gauge: &Gauge) -> Self {
        gauge.inc();
        Self(gauge.clone())
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

fn new_window() -> Hdr<u64> {
    // 1 us .. 60 s at 3 significant digits; `new_with_bounds` only fails on invalid bounds.
    Hdr::new_with_bounds(1, 60_000_000, 3).expect("constant, valid histogram bounds")
}

/// Counter values at one instant, to turn totals into per-second rates.
#[derive(Debug, Clone, Copy, Default)]
struct Totals {
    room_ticks: u64,
    overruns: u64,
    inputs: u64,
    acks: u64,
    errors: u64,
    snapshots: u64,
    bytes_out: u64,
}

/// Tick time of the last sampling interval, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct TickMillis {
    /// Median driver step.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Longest.
    pub max: f64,
}

/// One second of the server, as pushed to `/admin` as `metrics`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MetricsSample {
    /// Server clock, unix ms.
    pub time: u64,
    /// Seconds since the server started.
    pub uptime_s: u64,
    /// Open `/game` connections.
    pub connections: i64,
    /// Open rooms.
    pub rooms: i64,
    /// Seats taken.
    pub players: i64,
    /// Seats held for disconnected players.
    pub disconnected: i64,
    /// Driver step time over the interval.
    pub tick_ms: TickMillis,
    /// Room ticks per second.
    pub ticks_per_s: f64,
    /// Overruns per second.
    pub overruns_per_s: f64,
    /// Inputs per second.
    pub inputs_per_s: f64,
    /// Acks (ok and failed) per second.
    pub acks_per_s: f64,
    /// Failed acks per second.
    pub errors_per_s: f64,
    /// Snapshots handed to connections per second.
    pub snapshots_per_s: f64,
    /// Snapshot bytes handed to connections per second.
    pub bytes_out_per_s: f64,
}

/// Turns the metrics into a [`MetricsSample`] per call, with rates since the previous call.
#[derive(Debug)]
pub struct MetricsSampler {
    previous: Totals,
    previous_at: Instant,
}

impl MetricsSampler {
    /// A sampler whose first interval starts now.
    pub fn new(metrics: &ServerMetrics) -> Self {
        Self {
            previous: metrics.totals(),
            previous_at: Instant::now(),
        }
    }

    /// The sample of the interval since the previous call (or since [`MetricsSampler::new`]).
    pub fn sample(&mut self, metrics: &ServerMetrics) -> MetricsSample {
        let now = Instant::now();
        let totals = metrics.totals();
        let secs = now.duration_since(self.previous_at).as_secs_f64().max(1e-3);
        let rate = |now: u64, before: u64| now.saturating_sub(before) as f64 / secs;
        let tick_ms = {
            let mut window = metrics.window();
            let ms = |micros: u64| micros as f64 / 1000.0;
            let t = if window.is_empty() {
                TickMillis::default()
            } else {
                TickMillis {
                    p50: ms(window.value_at_quantile(0.5)),
                    p99: ms(window.value_at_quantile(0.99)),
                    max: ms(window.max()),
                }
            };
            window.reset();
            t
        };
        let p = self.previous;
        let sample = MetricsSample {
            time: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or_default(),
            uptime_s: metrics.started.elapsed().as_secs(),
            connections: metrics.game_connections.get(),
            rooms: metrics.rooms.get(),
            players: metrics.players.get(),
            disconnected: metrics.disconnected_players.get(),
            tick_ms,
            ticks_per_s: rate(totals.room_ticks, p.room_ticks),
            overruns_per_s: rate(totals.overruns, p.overruns),
            inputs_per_s: rate(totals.inputs, p.inputs),
            acks_per_s: rate(totals.acks, p.acks),
            errors_per_s: rate(totals.errors, p.errors),
            snapshots_per_s: rate(totals.snapshots, p.snapshots),
            bytes_out_per_s: rate(totals.bytes_out, p.bytes_out),
        };
        self.previous = totals;
        self.previous_at = now;
        sample
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_names_every_metric_and_every_error_code() {
        let m = ServerMetrics::new();
        m.inputs.inc_by(3);
        m.record_ack(Some(ErrorCode::RoomFull));
        let text = m.encode();
        for name in [
            "tickstorm_connections ",
            "tickstorm_rooms ",
            "tickstorm_tick_duration_seconds_bucket",
            "tickstorm_tick_overruns_total",
            "tickstorm_snapshot_bytes_total",
            "tickstorm_inputs_total 3",
            "tickstorm_rejoins_total",
            "tickstorm_tcp_connections ",
            "tickstorm_tcp_refused_total 0",
            "tickstorm_header_timeouts_total 0",
            "tickstorm_idle_closed_total 0",
            "tickstorm_connect_timeouts_total 0",
            "tickstorm_errors_total{code=\"room_full\"} 1",
            "tickstorm_errors_total{code=\"internal\"} 0",
        ] {
            assert!(text.contains(name), "missing `{name}` in:\n{text}");
        }
    }

    #[test]
    fn sampler_turns_totals_into_rates_and_tick_quantiles() {
        let m = ServerMetrics::new();
        let outer = Instant::now();
        let mut sampler = MetricsSampler::new(&m);
        for micros in 1..=100u64 {
            // 100 steps of 2 rooms each, every tenth one overrun.
            m.record_step(
                Duration::from_micros(micros * 10),
                2,
                usize::from(micros % 10 == 0),
            );
        }
        m.inputs.inc_by(50);
        for _ in 0..30 {
            m.record_ack(None);
        }
        for _ in 0..5 {
            m.record_ack(Some(ErrorCode::RoomFull));
        }
        m.record_snapshot(400, 8, false);
        std::thread::sleep(Duration::from_millis(50));
        let s = sampler.sample(&m);
        let longest = outer.elapsed().as_secs_f64();
        // Every rate is its known count over the same interval, which the sampler measured
        // itself: at least the 50 ms slept, at most the whole test so far.
        let interval = 50.0 / s.inputs_per_s;
        assert!(
            (0.05..=longest).contains(&interval),
            "interval {interval} s of at most {longest} s"
        );
        for (name, rate, count) in [
            ("ticks", s.ticks_per_s, 200.0),
            ("overruns", s.overruns_per_s, 10.0),
            ("acks", s.acks_per_s, 35.0),
            ("errors", s.errors_per_s, 5.0),
            ("snapshots", s.snapshots_per_s, 8.0),
            ("bytes out", s.bytes_out_per_s, 3200.0),
        ] {
            assert!(
                (rate * interval - count).abs() < 1e-6,
                "{name}: {rate}/s over {interval} s is not {count}"
            );
        }
        assert!((s.tick_ms.p50 - 0.5).abs() < 0.01, "p50 {}", s.tick_ms.p50);
        assert!((s.tick_ms.p99 - 0.99).abs() < 0.01, "p99 {}", s.tick_ms.p99);
        assert!((s.tick_ms.max - 1.0).abs() < 0.01);
        // The next interval starts empty.
        let s = sampler.sample(&m);
        assert_eq!(s.tick_ms, TickMillis::default());
        assert_eq!(
            (
                s.inputs_per_s,
                s.ticks_per_s,
                s.acks_per_s,
                s.bytes_out_per_s
            ),
            (0.0, 0.0, 0.0, 0.0)
        );
    }
}
