//! Tickstorm server library: [`run`] serves the game on a listener until a shutdown token fires.
//!
//! Layout (see ARCHITECTURE.md): `net` is the Socket.IO/HTTP edge, `room` owns room lifecycles
//! and drives ticks, `sim` is the bevy_ecs simulation, `config` and `error` are what they say.

pub mod config;
pub mod error;
pub mod metrics;
pub mod net;
pub mod room;
pub mod session;
pub mod sim;

use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use config::Config;
pub use room::RoomHub;

/// How long shutdown waits for connections to close after every room was told.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A running server's handles, for tests and embedders.
#[derive(Debug, Clone)]
pub struct ServerHandle {
    /// The room hub (directory and counts).
    pub hub: RoomHub,
    /// The Socket.IO handle.
    pub io: socketioxide::SocketIo,
    /// The server's metrics.
    pub metrics: Arc<metrics::ServerMetrics>,
    /// The connection counters.
    pub admission: Arc<net::admission::Admission>,
}

/// Serves the game on `listener` until `shutdown` is cancelled, then closes every room with
/// reason `shutdown`, disconnects every client and returns.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let (handle, server) = start(config, listener, shutdown);
    let _ = handle;
    server.await
}

/// Like [`run`], but hands back the server's handles before serving (used by tests).
pub fn start(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> (ServerHandle, impl Future<Output = anyhow::Result<()>>) {
    let tracker = TaskTracker::new();
    let (hub, inbox) = RoomHub::channel();
    let metrics = Arc::new(metrics::ServerMetrics::new());
    let admin = net::admin::AdminState::new(config.admin_token.clone());
    let admission = net::admission::Admission::new(
        config.max_connections,
        config.max_connections_per_ip,
        config.trust_proxy,
    );
    let in_flight = net::game::InFlight::default();
    let (layer, io) = net::socket_io(
        &config,
        hub.clone(),
        metrics.clone(),
        admin.clone(),
        admission.clone(),
        in_flight.clone(),
    );
    room::spawn_driver(
        room::DriverSettings::from_config(&config),
        inbox,
        io.clone(),
        metrics.clone(),
        shutdown.clone(),
        &tracker,
    );
    net::admin::spawn_metrics_push(
        io.clone(),
        admin,
        metrics.clone(),
        shutdown.clone(),
        &tracker,
    );
    tracker.close();

    let http_state = net::http::HttpState {
        hub: hub.clone(),
        metrics: metrics.clone(),
        parser: config.parser,
    };
    // The Socket.IO layer wraps the whole router exactly once. Each `Layer::layer` call of
    // socketioxide builds its own Engine.IO engine with its own session table, and
    // `Router::layer` calls it per route and per HTTP method: a polling GET and POST could then
    // land in different engines ("Session ID unknown").
    let routes = net::http::routes(http_state, config.assets_dir.clone());
    let app = axum::Router::new()
        .fallback_service(tower_layer::Layer::layer(&layer, routes))
        .layer(axum::middleware::map_request(
            net::request_head::own_request_head,
        ));
    let handle = ServerHandle {
        hub,
        io: io.clone(),
        metrics,
        admission,
    };
    let server = async move {
        let addr = listener.local_addr()?;
        // Nagle's algorithm would hold small frames (acks, snapshots) for up to 40 ms.
        let listener = listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::warn!(error = %e, "could not set TCP_NODELAY");
            }
        });
        tracing::info!(
            %addr,
            parser = ?config.parser,
            transports = ?config.transports,
            admin = config.admin_token.is_some(),
            "tickstorm listening: game at http://{addr}/, dashboard at http://{addr}/dashboard"
        );
        let closing = shutdown.clone();
        let drain = tokio::spawn(async move {
            closing.cancelled().await;
            // The driver tells every room `room:closed {reason: shutdown}`; once it is done,
            // close the sessions so the HTTP server can finish.
            tracker.wait().await;
            // Requests already being handled get their answers (the driver is gone, so they
            // finish at once, most with `server_full: shutting down`) before connections close.
            // A handler task socketioxide has spawned but not yet run holds no token yet: wait
            // until the tracker stays empty for a moment.
            in_flight.0.close();
            loop {
                in_flight.0.wait().await;
                tokio::time::sleep(Duration::from_millis(10)).await;
                if in_flight.0.is_empty() {
                    break;
                }
            }
            io.close().await;
        });
        // Connect info: the peer address, for the per-address connection limit.
        let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
        let serve = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown.clone().cancelled_owned())
            .into_future();
        tokio::pin!(serve);
        tokio::select! {
            result = &mut serve => result?,
            () = shutdown.cancelled() => {
                // Stop accepting at once, then give open connections a bounded time to finish.
                // WebSocket connections are detached from hyper once upgraded, so `serve` does not
                // wait for them: the drain task (room:closed, then closing every session) does.
                let finished = tokio::time::timeout(SHUTDOWN_GRACE, async {
                    let (served, drained) = tokio::join!(&mut serve, drain);
                    if let Err(e) = drained {
                        tracing::warn!(error = %e, "shutdown drain task failed");
                    }
                    served
                })
                .await;
                match finished {
                    Ok(served) => served?,
                    Err(_) => tracing::warn!("connections still open after the shutdown grace; exiting anyway"),
                }
            }
        }
        tracing::info!("server stopped");
        Ok(())
    };
    (handle, server)
}
