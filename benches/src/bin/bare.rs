//! `tickstorm-bare`: the bare socketioxide game server that the capacity benchmark
//! (`benches/capacity.sh`) runs side by side with Tickstorm, so that every capacity claim is a
//! ratio measured on one machine in one sitting (issue 19).
//!
//! It is the minimal game server of the performance notes: plain socketioxide and axum, no ECS, no
//! game framework, no limits, no metrics. What it keeps is the traffic shape and the wire of the
//! subset of Tickstorm's protocol the swarm bot (`tickstorm-bots`) uses, so the bot runs unchanged
//! against it and its measurements mean the same thing:
//! - namespace `/game`, handshake `auth.name`; `room:create`, `room:join` (by id, or quick match:
//!   rooms of `--room-size` filled in order as players arrive), `room:rejoin`, `input`, `chat`,
//!   each answered with the same ack bodies (`tickstorm_shared::protocol`);
//! - a task per room ticking at `--tick-rate`, the rooms' phases spread over the period, each tick
//!   one binary MessagePack keyframe (the framework's layout, written by
//!   `tickstorm_shared::SnapshotWriter`: ~600 B for 8 players and 32 orbs) broadcast to the room;
//!   the envelope's `last_input_seq` is what the bots measure input -> snapshot latency from;
//! - every input acked with the tick it applies at; `player:joined`, `player:left`, `chat` events;
//! - TCP_NODELAY on every accepted socket; both parsers (`--parser`), both transports.
//!
//! Differences from Tickstorm's server, on purpose: no delta snapshots (a `baseline` is read and
//! ignored, so every client gets keyframes), one game (the orb arena's few rules, written out in
//! `bare/room.rs`), no rate limits, connection limits, timeouts, CORS, admin, metrics or
//! recording; event handlers are socketioxide's ordinary async handlers (a task per event).
//! `GET /healthz` answers 200 with the room and player counts (the capacity script and the bots
//! wait for it).

#[path = "bare/events.rs"]
mod events;
#[path = "bare/lobby.rs"]
mod lobby;
#[path = "bare/room.rs"]
mod room;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use axum::serve::ListenerExt;
use clap::{Parser, ValueEnum};
use socketioxide::handler::ConnectHandler;
use socketioxide::{ParserConfig, SocketIo};
use tickstorm_shared::protocol::GAME_NAMESPACE;

use crate::lobby::Lobby;

/// Socket.IO parser, as a command-line value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ParserArg {
    /// The default Socket.IO parser (JSON text packets, binary attachments).
    Common,
    /// socket.io-msgpack-parser.
    Msgpack,
}

impl ParserArg {
    fn name(self) -> &'static str {
        match self {
            ParserArg::Common => "common",
            ParserArg::Msgpack => "msgpack",
        }
    }
}

/// tickstorm-bare: a bare socketioxide game server, the baseline of Tickstorm's capacity benchmark.
///
/// Plain socketioxide + axum with the same traffic shape as Tickstorm (rooms of 8, a 30 Hz binary
/// MessagePack snapshot of ~600 B broadcast to each room, every input acked) and the subset of its
/// wire protocol the bot swarm uses, so `tickstorm-bots --url http://ADDR` runs unchanged against
/// it. No ECS, no deltas, no limits: what socketioxide costs on its own. `benches/capacity.sh`
/// runs it next to tickstorm-server and reports the ratio. Stop it with Ctrl-C or SIGTERM.
#[derive(Debug, Parser)]
#[command(name = "tickstorm-bare", version)]
struct Args {
    /// Listen address (port 0: any free port; the bound address is printed on stdout).
    #[arg(long, default_value = "127.0.0.1:3100")]
    addr: SocketAddr,
    /// Socket.IO parser: the bots' `--parser` must match.
    #[arg(long, value_enum, default_value_t = ParserArg::Common)]
    parser: ParserArg,
    /// Ticks (and snapshots) per second of every room, Hz.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=128))]
    tick_rate: u32,
    /// Seats of a room that quick match creates (and of `room:create` without `max_players`).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256))]
    room_size: u32,
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(serve(args))
}

async fn serve(args: Args) -> std::io::Result<()> {
    let lobby = Arc::new(Lobby::new(args.room_size, args.tick_rate));
    let builder = SocketIo::builder().with_state(lobby.clone());
    let builder = match args.parser {
        ParserArg::Common => builder.with_parser(ParserConfig::common()),
        ParserArg::Msgpack => builder.with_parser(ParserConfig::msgpack()),
    };
    let (layer, io) = builder.build_layer();
    // The handlers are registered by the middleware, which runs before socketioxide answers the
    // CONNECT: a client's first event can then never arrive before its handler exists.
    io.ns(GAME_NAMESPACE, connected.with(events::handshake));

    let app = Router::new()
        .route("/healthz", get(healthz))
        .with_state(lobby)
        .layer(layer);
    let listener = tokio::net::TcpListener::bind(args.addr).await?;
    let addr = listener.local_addr()?;
    println!(
        "tickstorm-bare listening on http://{addr} (parser {}, {} Hz, rooms of {})",
        args.parser.name(),
        args.tick_rate,
        args.room_size
    );
    // Nagle's algorithm would hold small frames (acks, snapshots) for up to 40 ms.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            eprintln!("tickstorm-bare: cannot set TCP_NODELAY: {e}");
        }
    });
    tokio::select! {
        served = axum::serve(listener, app) => served,
        () = stop_signal() => Ok(()),
    }
}

/// The `/game` connect handler: everything happened in the middleware.
async fn connected() {}

/// `GET /healthz`: 200 with what the server holds (the capacity script and the bots wait for it).
async fn healthz(State(lobby): State<Arc<Lobby>>) -> axum::Json<serde_json::Value> {
    axum::Json(lobby.health())
}

/// Ctrl-C or SIGTERM: the process ends at once (the benchmark has finished with it).
async fn stop_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
