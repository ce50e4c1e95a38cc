//! The accept loop: HTTP/1.1 connections served by hyper, WebSocket upgrades included.
//!
//! Ours rather than `axum::serve`, which sets no timer: hyper's header read timeout is then off,
//! and hyper-util's protocol sniffing, which axum uses, waits for a silent connection's first
//! bytes with no deadline at all. Both let a connection that never speaks hold its socket
//! forever. Here each connection:
//! - is checked against the per-address cap before anything else ([`ConnGuard::admit`]; a
//!   refused one is reset at once, no task spawned);
//! - gets `TCP_NODELAY` (Nagle's algorithm would hold small frames, acks and snapshots, for up
//!   to 40 ms) and a bounded send buffer (`--tcp-send-buffer`: with the kernel's autotuning a
//!   client that stops reading would make it hold up to 4 MiB of stale snapshots before the
//!   connection's own queue, 128 packets, overflows and drops them for that client alone);
//! - must complete its first request head within `--header-timeout` of the accept (counted in
//!   `tickstorm_header_timeouts_total`); it is handed to hyper only once its first byte has
//!   arrived, so a silent one holds no HTTP buffers;
//! - is then served by hyper's HTTP/1 connection with `--header-timeout` as its header read
//!   timeout, which closes a keep-alive connection idle that long after an answer
//!   (`tickstorm_idle_closed_total`);
//! - passes its peer address to every request as axum's `ConnectInfo<SocketAddr>` (the
//!   Socket.IO per-address limit reads it) and its [`ConnWatch`].
//!
//! Every connection holds a token of the `open` tracker until it has really closed
//! ([`TrackedStream`]: a gentle close, FIN after the last byte), so shutdown can wait for the
//! last bytes to leave.
//!
//! Graceful shutdown as `axum::serve` does it: stop accepting, tell every connection to finish
//! its request in flight and close, wait for them. An upgraded WebSocket has left hyper by then;
//! closing the sessions is the caller's drain.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use axum::response::Response;
use axum::routing::future::RouteFuture;
use futures_util::future::{BoxFuture, Either};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpSocket};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::conn_guard::{ConnGuard, ConnWatch, GuardedStream};
use super::listener::TrackedStream;
use crate::metrics::ServerMetrics;

/// How many connections the kernel completes ahead of the accept loop. std's and mio's 128
/// overflow within milliseconds when a burst of connects (a flood, or every player reconnecting
/// after a restart) meets an accept loop that is briefly busy, and every SYN over it, honest ones
/// included, then waits for its 1 s retransmit. Linux caps it at `net.core.somaxconn` (4096 by
/// default).
pub const LISTEN_BACKLOG: u32 = 4096;

/// Binds the game's listener (`SO_REUSEADDR`, as `TcpListener::bind` sets it, and a deep backlog).
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// What [`serve`] serves, and with which limits.
#[derive(Debug)]
pub struct Serve {
    /// The bound listener.
    pub listener: TcpListener,
    /// Every route, the Socket.IO layer included.
    pub app: Router,
    /// The per-address cap and connection counts.
    pub guard: Arc<ConnGuard>,
    /// Every accepted connection holds a token of it until it has really closed.
    pub open: TaskTracker,
    /// Where timeouts are counted.
    pub metrics: Arc<ServerMetrics>,
    /// `--header-timeout`.
    pub header_timeout: Duration,
    /// `--tcp-send-buffer` (0: the kernel's autotuning).
    pub send_buffer: usize,
}

/// Accepts and serves connections until `shutdown` fires, then stops accepting and returns once
/// every connection still in hyper's hands has finished (the caller bounds that wait).
pub async fn serve(serve: Serve, shutdown: CancellationToken) {
    let Serve {
        listener,
        app,
        guard,
        open,
        metrics,
        header_timeout,
        send_buffer,
    } = serve;
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let connections = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) if peer_gave_up(&e) => continue,
            Err(e) => {
                // Out of file descriptors or memory: retrying at once would spin. Connections
                // that close meanwhile free what the next accept needs.
                tracing::error!(error = %e, "accept failed; retrying in 1 s");
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            }
        };
        let Some(slot) = guard.admit(peer.ip()) else {
            // A reset rather than a FIN: the peer learns at once, and the refused socket
            // leaves nothing in TIME_WAIT here.
            let _ = tcp.set_zero_linger();
            drop(tcp);
            guard.refused();
            tracing::debug!(%peer, "too many connections from this address: reset at accept");
            continue;
        };
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "could not set TCP_NODELAY");
        }
        if send_buffer > 0
            && let Err(e) = socket2::SockRef::from(&tcp).set_send_buffer_size(send_buffer)
        {
            tracing::warn!(error = %e, "could not set the send buffer size");
        }
        let stream = GuardedStream::new(TrackedStream::new(tcp, open.token()), slot);
        let service = PerConnection {
            app: app.clone(),
            peer,
            watch: stream.watch(),
        };
        connections.spawn(serve_connection(
            stream,
            service,
            http.clone(),
            header_timeout,
            metrics.clone(),
            shutdown.clone(),
        ));
    }
    drop(listener);
    connections.close();
    connections.wait().await;
}

/// One connection, from its first byte to its close (or its upgrade).
async fn serve_connection(
    stream: GuardedStream,
    service: PerConnection,
    http: http1::Builder,
    header_timeout: Duration,
    metrics: Arc<ServerMetrics>,
    shutdown: CancellationToken,
) {
    let opened = Instant::now();
    // Wait for the first byte before handing the socket to hyper, which reserves its 8 KiB
    // read buffer on its first read: a connection that never speaks then costs a small task
    // and a timer (measured: 1.9 KiB of RSS per silent connection, 10.9 KiB otherwise).
    tokio::select! {
        first = tokio::time::timeout(header_timeout, stream.first_byte()) => match first {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return,
            Err(_) => {
                metrics.header_timeouts.inc();
                stream.close_now();
                return;
            }
        },
        () = shutdown.cancelled() => {
            stream.close_now();
            return;
        }
    }
    let watch = service.watch.clone();
    let peer = service.peer;
    // Boxed: inline, hyper's connection state (several KiB) would size this task's future
    // from the accept on, silent connections included.
    let mut conn = Box::pin(
        http.serve_connection(TokioIo::new(stream), service)
            .with_upgrades(),
    );
    let served = tokio::select! {
        served = conn.as_mut() => served,
        // hyper's clock starts at its first read; the first head's deadline counts from the
        // accept.
        () = first_head_late(&watch, opened + header_timeout) => {
            metrics.header_timeouts.inc();
            return;
        }
        () = shutdown.cancelled() => {
            if !watch.has_requested() {
                // Not one request yet (a half-sent head at most): nothing to answer.
                return;
            }
            // Closes an idle connection now, one with a request in flight after its answer.
            conn.as_mut().graceful_shutdown();
            conn.as_mut().await
        }
    };
    match served {
        Ok(()) => {}
        Err(e) if e.is_timeout() && watch.has_requested() => {
            metrics.idle_closed.inc();
        }
        Err(e) if e.is_timeout() => {
            metrics.header_timeouts.inc();
        }
        Err(e) => tracing::trace!(%peer, error = %e, "connection ended with an error"),
    }
}

/// Resolves at `deadline` if no complete request head has been read by then; never otherwise.
async fn first_head_late(watch: &ConnWatch, deadline: Instant) {
    tokio::time::sleep_until(deadline.into()).await;
    if watch.has_requested() {
        std::future::pending::<()>().await;
    }
}

/// Accept errors about one connection that is already gone; the next accept is unaffected.
fn peer_gave_up(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// The router as one connection's hyper service.
#[derive(Debug, Clone)]
struct PerConnection {
    app: Router,
    peer: SocketAddr,
    watch: Arc<ConnWatch>,
}

impl hyper::service::Service<Request<Incoming>> for PerConnection {
    type Response = Response;
    type Error = Infallible;
    type Future = Either<RouteFuture<Infallible>, BoxFuture<'static, Result<Response, Infallible>>>;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        self.watch.requested();
        let opens_websocket = opens_engineio_websocket(&request);
        request.extensions_mut().insert(ConnectInfo(self.peer));
        request.extensions_mut().insert(self.watch.clone());
        // A router clone is a reference count; `call` needs it mutable.
        let answer = tower_service::Service::call(&mut self.app.clone(), request);
        if !opens_websocket {
            return Either::Left(answer);
        }
        // Only upgrade requests pay for the box: the watch must learn whether it was accepted.
        let watch = self.watch.clone();
        Either::Right(Box::pin(async move {
            let response = answer.await?;
            if response.status() == StatusCode::SWITCHING_PROTOCOLS {
                watch.upgraded();
            }
            Ok(response)
        }))
    }
}

/// A WebSocket upgrade without an Engine.IO `sid`: it opens a new session (one with a `sid`
/// upgrades a long-polling session that may have joined already).
fn opens_engineio_websocket<B>(request: &Request<B>) -> bool {
    request
        .headers()
        .get(header::UPGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"))
        && !request
            .uri()
            .query()
            .is_some_and(|q| q.split('&').any(|pair| pair.starts_with("sid=")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_websocket_without_a_sid_opens_a_session() {
        let request = |uri: &str, upgrade: Option<&str>| {
            let mut builder = Request::builder().uri(uri);
            if let Some(upgrade) = upgrade {
                builder = builder.header(header::UPGRADE, upgrade);
            }
            builder.body(()).expect("request")
        };
        let fresh = "/socket.io/?EIO=4&transport=websocket";
        assert!(opens_engineio_websocket(&request(fresh, Some("websocket"))));
        assert!(opens_engineio_websocket(&request(fresh, Some("WebSocket"))));
        assert!(!opens_engineio_websocket(&request(fresh, None)));
        assert!(!opens_engineio_websocket(&request(
            "/socket.io/?EIO=4&transport=websocket&sid=abc",
            Some("websocket")
        )));
        assert!(!opens_engineio_websocket(&request(
            "/socket.io/?EIO=4&transport=polling",
            None
        )));
    }
}
