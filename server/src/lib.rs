//! Tickstorm server library: [`run`] serves the game on a listener until a shutdown token fires.
//!
//! Layout (see ARCHITECTURE.md): `net` is the Socket.IO/HTTP edge, `room` owns room lifecycles
//! and drives ticks, `sim` is the bevy_ecs simulation, `config` and `error` are what they say.

pub mod cli;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod error;
pub mod games;
pub mod metrics;
pub mod net;
pub mod recorder;
pub mod replay_cmd;
pub mod room;
pub mod session;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use config::Config;
pub use games::Games;
pub use room::RoomHub;

/// How long shutdown waits for connections to close after every room was told.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A running server's handles, for tests and embedders.
#[derive(Debug, Clone)]
pub struct ServerHandle {
    /// The room hub (directory and counts).
    pub hub: RoomHub,
    /// The Socket.IO handle.
    pub io: net::Io,
    /// This node's cluster membership (with `--redis-url`).
    pub cluster: Option<cluster::Cluster>,
    /// The server's metrics.
    pub metrics: Arc<metrics::ServerMetrics>,
    /// The `/game` connection counters.
    pub admission: Arc<net::admission::Admission>,
    /// The TCP connection counters (per-address cap, open connections).
    pub connections: Arc<net::conn_guard::ConnGuard>,
}

/// Serves the default games ([`Games::default`]: the orb arena and blasters) on `listener` until `shutdown` is
/// cancelled, then closes every room with reason `shutdown`, disconnects every client and
/// returns. Bind the listener with [`net::serve::bind`], as the binary does, for its deep listen
/// backlog.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    run_games(config, Games::default(), listener, shutdown).await
}

/// Like [`run`], with the games to host (the first one is the default game).
pub async fn run_games(
    config: Config,
    games: Games,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let (handle, server) = start_games(config, games, listener, shutdown).await?;
    let _ = handle;
    server.await
}

/// Like [`run`], but hands back the server's handles before serving (used by tests). Fails
/// when `--redis-url` is set and Redis cannot be reached.
pub async fn start(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<(ServerHandle, impl Future<Output = anyhow::Result<()>>)> {
    start_games(config, Games::default(), listener, shutdown).await
}

/// Like [`start`], with the games to host.
pub async fn start_games(
    config: Config,
    games: Games,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<(ServerHandle, impl Future<Output = anyhow::Result<()>>)> {
    anyhow::ensure!(!games.is_empty(), "no game to host: register at least one");
    let tracker = TaskTracker::new();
    let (hub, inbox) = RoomHub::channel();
    let metrics = Arc::new(metrics::ServerMetrics::new());
    let admin = net::admin::AdminState::new(config.admin_token.clone());
    let admission = net::admission::Admission::new(
        config.max_connections,
        config.max_connections_per_ip,
        config.trust_proxy,
        net::admission::Exempt::from_config(config.exempt_all_loopback),
    );
    let connections = net::conn_guard::ConnGuard::new(&config, &metrics);
    let in_flight = net::game::InFlight::default();
    let addr = listener.local_addr()?;
    let cluster = match &config.redis_url {
        None => None,
        Some(url) => {
            let node_id = config.node_id.clone().unwrap_or_else(room::node_id);
            let joined = cluster::Cluster::connect(
                &url.0,
                node_id,
                config.redis_prefix.clone(),
                addr.to_string(),
                metrics.clone(),
            )
            .await
            .with_context(|| format!("cannot reach Redis at {}", url.redacted()))?;
            tracing::info!(node = %joined.node_id(), redis = %url.redacted(), "joined the cluster");
            Some(joined)
        }
    };
    let bus = cluster
        .as_ref()
        .map_or_else(cluster::bus::Bus::local, cluster::Cluster::bus);
    let (layer, io) = net::socket_io(
        &config,
        net::SocketIoParts {
            hub: hub.clone(),
            router: cluster::router::RoomRouter::new(hub.clone(), cluster.clone()),
            bus: (bus, config.redis_prefix.clone()),
            metrics: metrics.clone(),
            admin: admin.clone(),
            admission: admission.clone(),
            in_flight: in_flight.clone(),
            games: games.clone(),
        },
    )
    .await?;
    // Everything below runs until `stop`. It is `shutdown` itself on a single node; a node of
    // a cluster drains first (see `drain_then_stop`).
    let stop = CancellationToken::new();
    let mut driver_settings = room::DriverSettings::from_config(&config, games.registry().clone());
    let recorder_thread = match config.recorder() {
        None => None,
        Some(settings) => {
            let dir = settings.dir.clone();
            let (recorder, thread) = recorder::Recorder::start(settings, metrics.recording.clone())
                .with_context(|| format!("cannot write recordings into {}", dir.display()))?;
            driver_settings.recorder = Some(Arc::new(recorder));
            Some(thread)
        }
    };
    room::spawn_driver(
        driver_settings,
        inbox,
        cluster::sink::NetSink::new(io.clone(), cluster.clone(), metrics.clone()),
        metrics.clone(),
        stop.clone(),
        &tracker,
    );
    net::admin::spawn_metrics_push(io.clone(), admin, metrics.clone(), stop.clone(), &tracker);
    if let Some(cluster) = &cluster {
        cluster
            .spawn(hub.clone(), io.clone(), stop.clone(), &tracker)
            .await
            .context("cannot subscribe to the cluster's Redis channels")?;
    }
    tracker.close();
    let drain_timeout = cluster
        .as_ref()
        .map_or(Duration::ZERO, |_| config.drain_timeout);
    tokio::spawn(drain_then_stop(
        shutdown,
        stop.clone(),
        hub.clone(),
        cluster.clone(),
        drain_timeout,
    ));
    let shutdown = stop;

    let http_state = net::http::HttpState {
        hub: hub.clone(),
        rooms: cluster::router::RoomRouter::new(hub.clone(), cluster.clone()),
        cluster: cluster.clone(),
        metrics: metrics.clone(),
        parser: config.parser,
        games: games.names().map(str::to_owned).collect(),
        io: io.clone(),
        admin_token: config.admin_token.clone(),
        api_limit: net::api::ApiLimit::default(),
        record_dir: config.record_dir.clone(),
        registry: games.registry().clone(),
    };
    // The Socket.IO layer wraps the whole router exactly once. Each `Layer::layer` call of
    // socketioxide builds its own Engine.IO engine with its own session table, and
    // `Router::layer` calls it per route and per HTTP method: a polling GET and POST could then
    // land in different engines ("Session ID unknown").
    let routes = net::http::routes(http_state, config.assets_dir.clone());
    let cors = net::cors::CorsPolicy::new(config.cors_origins.clone());
    // The client script's exact paths (`/socket.io/socket.io.js`, ...) are routes of this outer
    // router, so they answer before the Socket.IO layer, which takes everything else under
    // `/socket.io/` (the Engine.IO requests carry a query, `?EIO=4&...`, on the path `/socket.io/`).
    let app = axum::Router::new()
        .merge(net::http::socket_io_client(config.assets_dir.clone()))
        .fallback_service(tower_layer::Layer::layer(&layer, routes))
        // Outside the Socket.IO layer, so both its handshake and the HTTP API are covered.
        .layer(cors.layer())
        .layer(axum::middleware::from_fn_with_state(
            cors,
            net::cors::refuse_other_origins,
        ))
        .layer(axum::middleware::map_request(
            net::request_head::own_request_head,
        ));
    let handle = ServerHandle {
        hub,
        io: io.clone(),
        cluster: cluster.clone(),
        metrics: metrics.clone(),
        admission,
        connections: connections.clone(),
    };
    let server = async move {
        // Every accepted connection is tracked until it has really closed (see `net::listener`),
        // so shutdown can wait for the last bytes to leave.
        let open_connections = TaskTracker::new();
        tracing::info!(
            %addr,
            parser = ?config.parser,
            transports = ?config.transports,
            admin = config.admin_token.is_some(),
            games = ?games.names().collect::<Vec<_>>(),
            node = cluster.as_ref().map(|c| c.node_id().as_str()),
            "tickstorm listening: game at http://{addr}/, dashboard at http://{addr}/dashboard"
        );
        let closing = shutdown.clone();
        let drain = tokio::spawn(async move {
            closing.cancelled().await;
            // The driver tells every room `room:closed {reason: shutdown}`; once it is done,
            // close the sessions so the HTTP server can finish.
            tracker.wait().await;
            // The driver ended every recording; the writer finishes its queue and exits.
            if let Some(thread) = recorder_thread {
                let _ = tokio::task::spawn_blocking(move || thread.join()).await;
            }
            // Requests already being handled get their answers (the driver is gone, so they
            // finish at once, most with `server_full: shutting down`) before connections close.
            // Each request holds its token from the moment it is dispatched (`InFlightToken`);
            // one read from a socket while this waits is answered too: wait until the tracker
            // stays empty for a moment.
            in_flight.0.close();
            loop {
                in_flight.0.wait().await;
                tokio::time::sleep(Duration::from_millis(10)).await;
                if in_flight.0.is_empty() {
                    break;
                }
            }
            // Queues the Engine.IO close behind what each session has queued, and returns once
            // every WebSocket writer has written its queue and let go of its connection.
            io.close().await;
        });
        // The accept loop: per-address cap, header timeout, TCP_NODELAY, connect info.
        let serve = net::serve::serve(
            net::serve::Serve {
                listener,
                app,
                guard: connections,
                open: open_connections.clone(),
                metrics,
                header_timeout: config.header_timeout,
                send_buffer: config.tcp_send_buffer,
            },
            shutdown.clone(),
        );
        tokio::pin!(serve);
        // Shutdown first when both are ready: `serve` finishes in the very poll that sees the
        // shutdown (upgraded WebSockets are detached from hyper, so it has nothing to wait for),
        // and returning on it would end the process while the driver is still telling rooms and
        // before any session has written its queue (issue 18).
        let served_early = tokio::select! {
            biased;
            () = shutdown.cancelled() => false,
            () = &mut serve => true,
        };
        // `serve` only ends by itself when told to; stop the rest in any case.
        shutdown.cancel();
        // Stop accepting at once, then give open connections a bounded time to finish: the
        // drain task (room:closed, answers, then closing every session), then every connection
        // until it has sent its last bytes and the client has closed (`net::listener`).
        let finished = tokio::time::timeout(SHUTDOWN_GRACE, async {
            if !served_early {
                (&mut serve).await;
            }
            if let Err(e) = drain.await {
                tracing::warn!(error = %e, "shutdown drain task failed");
            }
            open_connections.close();
            open_connections.wait().await;
        })
        .await;
        if finished.is_err() {
            tracing::warn!(
                connections = open_connections.len(),
                "connections still open after the shutdown grace; exiting anyway"
            );
        }
        tracing::info!("server stopped");
        Ok(())
    };
    Ok((handle, server))
}

/// Waits for `shutdown`, then, with a drain timeout (a node of a cluster): marks the node
/// draining (no new rooms here; the others see it in its record), lets its rooms run until they
/// empty or the timeout passes, and only then fires `stop`, which closes what is left.
async fn drain_then_stop(
    shutdown: CancellationToken,
    stop: CancellationToken,
    hub: RoomHub,
    cluster: Option<cluster::Cluster>,
    drain_timeout: Duration,
) {
    shutdown.cancelled().await;
    if let Some(cluster) = cluster.filter(|_| !drain_timeout.is_zero()) {
        tracing::info!(timeout = ?drain_timeout, rooms = hub.directory().counts().rooms, "draining: no new rooms; waiting for rooms to empty");
        cluster.set_draining();
        hub.drain();
        let emptied = tokio::time::timeout(drain_timeout, async {
            while hub.directory().counts().rooms > 0 {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await;
        match emptied {
            Ok(()) => tracing::info!("drained: every room has emptied"),
            Err(_) => tracing::info!(
                rooms = hub.directory().counts().rooms,
                "drain timeout: closing the rooms still open"
            ),
        }
    }
    stop.cancel();
}
