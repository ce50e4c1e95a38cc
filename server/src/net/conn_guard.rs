//! The TCP connection guard: every accepted connection holds a [`TcpSlot`] for exactly as long
//! as its socket is open. The slot lives in the [`GuardedStream`] that hyper reads, and hyper
//! hands that same stream to engineioxide when a request is upgraded, so a WebSocket keeps its
//! slot until the WebSocket closes.
//!
//! - **Per-address cap.** At most `--max-tcp-per-ip` connections are open from one address. The
//!   check runs at accept, before a byte is read or a task is spawned; a connection over the cap
//!   is reset at once and counted (`tickstorm_tcp_refused_total`). Loopback is exempt, as for the
//!   Socket.IO limit ([`Exempt`]). IPv6 peers are counted per /64, the prefix one subscriber
//!   usually gets: counting single addresses would let one attacker step around the cap through
//!   its own 2^64 of them. With `--trust-proxy` the cap is off: every peer is then the proxy, and
//!   the client's own address is only known from `X-Forwarded-For`, after the request head (the
//!   Socket.IO per-address limit uses it).
//! - **What the connection became** ([`ConnWatch`]): whether it has been answered a request (so a
//!   header timeout is told from an idle keep-alive closing), and whether it was upgraded to a
//!   fresh Engine.IO WebSocket and joined a namespace. socketioxide's `connect_timeout` closes a
//!   session that has not joined in time but tells nobody; a WebSocket that closes unjoined after
//!   the whole timeout was closed by it (`tickstorm_connect_timeouts_total`). The handshake
//!   middlewares mark the connection joined ([`ConnWatch::joined`]).

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv6Addr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::http::request::Parts;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::listener::TrackedStream;

use super::admission::Exempt;
use crate::config::Config;
use crate::metrics::ServerMetrics;

/// The open TCP connections, per address, and what became of them.
#[derive(Debug)]
pub struct ConnGuard {
    /// 0: no per-address cap.
    max_per_ip: usize,
    exempt: Exempt,
    connect_timeout: Duration,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    open: Gauge,
    refused: Counter,
    connect_timeouts: Counter,
}

impl ConnGuard {
    /// The guard for `config`'s limits, counting into `metrics`.
    pub fn new(config: &Config, metrics: &ServerMetrics) -> Arc<Self> {
        Arc::new(Self {
            max_per_ip: if config.trust_proxy {
                0
            } else {
                config.max_tcp_per_ip
            },
            exempt: Exempt::from_config(config.exempt_all_loopback),
            connect_timeout: config.connect_timeout,
            per_ip: Mutex::default(),
            open: metrics.tcp_connections.clone(),
            refused: metrics.tcp_refused.clone(),
            connect_timeouts: metrics.connect_timeouts.clone(),
        })
    }

    /// A slot for a connection from `peer`, or `None` when its address holds its cap (the
    /// caller resets the connection, then counts it with [`ConnGuard::refused`]).
    pub fn admit(self: &Arc<Self>, peer: IpAddr) -> Option<TcpSlot> {
        let key =
            Some(limit_key(peer)).filter(|_| self.max_per_ip > 0 && !self.exempt.covers(peer));
        if let Some(key) = key {
            let mut per_ip = self.lock();
            let n = per_ip.entry(key).or_default();
            if *n >= self.max_per_ip {
                return None;
            }
            *n += 1;
        }
        self.open.inc();
        Some(TcpSlot {
            guard: self.clone(),
            key,
        })
    }

    /// Counts a connection refused at accept (once it is closed, so whoever reads the counter
    /// knows the peer has been told).
    pub fn refused(&self) {
        self.refused.inc();
    }

    /// Open connections, and the number of addresses counted against the cap.
    pub fn counts(&self) -> (usize, usize) {
        let open = usize::try_from(self.open.get()).unwrap_or_default();
        (open, self.lock().len())
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<IpAddr, usize>> {
        // Plain counters: a poisoned lock still holds usable numbers.
        self.per_ip.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What the cap counts a peer as: its address, an IPv6 peer's /64, an IPv4-mapped IPv6 peer's
/// IPv4 address.
fn limit_key(peer: IpAddr) -> IpAddr {
    match peer.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & (u128::MAX << 64))),
        v4 => v4,
    }
}

/// One open connection; dropping it frees its place.
#[derive(Debug)]
pub struct TcpSlot {
    guard: Arc<ConnGuard>,
    key: Option<IpAddr>,
}

impl Drop for TcpSlot {
    fn drop(&mut self) {
        self.guard.open.dec();
        if let Some(key) = self.key {
            let mut per_ip = self.guard.lock();
            if let Some(n) = per_ip.get_mut(&key) {
                *n -= 1;
                if *n == 0 {
                    per_ip.remove(&key);
                }
            }
        }
    }
}

/// What a connection became: answered at least one request, upgraded to a fresh Engine.IO
/// WebSocket, joined a namespace. Shared by the connection's stream, its task and, through the
/// request extensions, every request read from it (socketioxide keeps the upgrade request's
/// parts for the session).
#[derive(Debug, Default)]
pub struct ConnWatch {
    requested: AtomicBool,
    upgraded: OnceLock<Instant>,
    joined: AtomicBool,
}

impl ConnWatch {
    /// A complete request head was read from the connection.
    pub fn requested(&self) {
        self.requested.store(true, Ordering::Relaxed);
    }

    /// Whether a complete request head was ever read: a header timeout after that is an idle
    /// keep-alive connection closing, not a client that never spoke.
    pub fn has_requested(&self) -> bool {
        self.requested.load(Ordering::Relaxed)
    }

    /// The connection was just upgraded to a WebSocket that opens a new Engine.IO session.
    pub fn upgraded(&self) {
        let _ = self.upgraded.set(Instant::now());
    }

    /// Called by a handshake middleware that accepted a namespace CONNECT: marks the
    /// connection the session was opened on (nothing for a request that came another way).
    pub fn joined(request: &Parts) {
        if let Some(watch) = request.extensions.get::<Arc<ConnWatch>>() {
            watch.joined.store(true, Ordering::Relaxed);
        }
    }

    /// An upgraded, never-joined connection that stayed open for the whole `connect_timeout`:
    /// socketioxide's deadline closed it (it fires a moment after the upgrade, so nothing else
    /// closes such a connection after that long: the heartbeat takes longer still).
    fn outlived_the_deadline(&self, connect_timeout: Duration) -> bool {
        !self.joined.load(Ordering::Relaxed)
            && self
                .upgraded
                .get()
                .is_some_and(|at| at.elapsed() >= connect_timeout)
    }
}

/// An accepted TCP stream holding its slot (and its [`ConnWatch`]) for as long as it lives.
#[derive(Debug)]
pub struct GuardedStream {
    tcp: TrackedStream,
    watch: Arc<ConnWatch>,
    slot: TcpSlot,
}

impl GuardedStream {
    /// Wraps an accepted connection and its slot.
    pub fn new(tcp: TrackedStream, slot: TcpSlot) -> Self {
        Self {
            tcp,
            watch: Arc::default(),
            slot,
        }
    }

    /// Waits until the peer has sent a byte (left unread) or closed the connection. A peek, not
    /// `readable()`: tokio reports a freshly accepted socket readable before any byte arrives.
    pub async fn first_byte(&self) -> io::Result<()> {
        self.tcp.tcp().peek(&mut [0u8; 1]).await.map(drop)
    }

    /// Closes a connection that never made a request at once (see `TrackedStream::close_now`).
    pub fn close_now(mut self) {
        self.tcp.close_now();
    }

    /// The connection's watch, for its task and its requests' extensions.
    pub fn watch(&self) -> Arc<ConnWatch> {
        self.watch.clone()
    }
}

impl Drop for GuardedStream {
    fn drop(&mut self) {
        if self
            .watch
            .outlived_the_deadline(self.slot.guard.connect_timeout)
        {
            self.slot.guard.connect_timeouts.inc();
        }
    }
}

// Plain delegation to the TCP stream (vectored writes included: hyper writes head and body
// in one call when the stream says it can).
impl AsyncRead for GuardedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for GuardedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.tcp().is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn new_guard(adjust: impl FnOnce(&mut Config)) -> (Arc<ConnGuard>, ServerMetrics) {
        let mut config = Config::parse_from(["t"]);
        adjust(&mut config);
        let metrics = ServerMetrics::new();
        (ConnGuard::new(&config, &metrics), metrics)
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    #[test]
    fn caps_each_address_and_frees_places_on_drop() {
        let (guard, _metrics) = new_guard(|c| c.max_tcp_per_ip = 2);
        let a1 = guard.admit(ip("203.0.113.7")).expect("1st");
        let a2 = guard.admit(ip("203.0.113.7")).expect("2nd");
        assert!(guard.admit(ip("203.0.113.7")).is_none(), "over the cap");
        let b = guard.admit(ip("198.51.100.1")).expect("another address");
        assert_eq!(guard.counts(), (3, 2));
        drop(a1);
        let a3 = guard.admit(ip("203.0.113.7")).expect("a place came back");
        drop((a2, a3, b));
        assert_eq!(guard.counts(), (0, 0), "nothing left behind");
    }

    #[test]
    fn ipv6_peers_count_per_64_and_mapped_ipv4_as_ipv4() {
        let (guard, _metrics) = new_guard(|c| c.max_tcp_per_ip = 1);
        let _a = guard.admit(ip("2001:db8:1:2::1")).expect("1st of the /64");
        assert!(
            guard.admit(ip("2001:db8:1:2:ffff::9")).is_none(),
            "same /64"
        );
        let _b = guard.admit(ip("2001:db8:1:3::1")).expect("another /64");
        let _c = guard.admit(ip("203.0.113.7")).expect("ipv4");
        assert!(
            guard.admit(ip("::ffff:203.0.113.7")).is_none(),
            "the same peer"
        );
    }

    #[test]
    fn loopback_is_exempt_and_trust_proxy_turns_the_cap_off() {
        let (guard, _metrics) = new_guard(|c| c.max_tcp_per_ip = 1);
        let local: Vec<TcpSlot> = ["127.0.0.1", "127.0.0.1", "127.0.0.2", "::1"]
            .into_iter()
            .map(|a| guard.admit(ip(a)).expect("loopback"))
            .collect();
        assert_eq!(guard.counts(), (4, 0));
        drop(local);

        let (narrow, _metrics) = new_guard(|c| {
            c.max_tcp_per_ip = 1;
            c.exempt_all_loopback = false;
        });
        let _one = narrow.admit(ip("127.0.0.2")).expect("first");
        assert!(
            narrow.admit(ip("127.0.0.2")).is_none(),
            "127.0.0.2 is capped"
        );
        let _two = narrow.admit(ip("127.0.0.1")).expect("127.0.0.1 is exempt");
        let _three = narrow.admit(ip("127.0.0.1")).expect("127.0.0.1 is exempt");

        let (proxied, _metrics) = new_guard(|c| {
            c.max_tcp_per_ip = 1;
            c.trust_proxy = true;
        });
        let slots: Vec<TcpSlot> = (0..3)
            .map(|_| proxied.admit(ip("10.0.0.5")).expect("the proxy"))
            .collect();
        assert_eq!(proxied.counts(), (3, 0));
        drop(slots);
    }

    #[test]
    fn only_an_upgraded_unjoined_connection_outlives_the_deadline() {
        let deadline = Duration::from_millis(1);
        let fresh = ConnWatch::default();
        assert!(!fresh.outlived_the_deadline(deadline), "never upgraded");
        fresh.upgraded();
        std::thread::sleep(Duration::from_millis(5));
        assert!(fresh.outlived_the_deadline(deadline));
        assert!(
            !fresh.outlived_the_deadline(Duration::from_secs(60)),
            "closed before the deadline"
        );

        let watch = Arc::new(ConnWatch::default());
        watch.upgraded();
        let mut request = axum::http::Request::new(());
        request.extensions_mut().insert(watch.clone());
        let (parts, ()) = request.into_parts();
        ConnWatch::joined(&parts);
        std::thread::sleep(Duration::from_millis(5));
        assert!(!watch.outlived_the_deadline(deadline), "joined in time");
    }
}
