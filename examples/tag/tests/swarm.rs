//! Tag plays with the bot swarm: a server hosting only `tag`, 24 bots in rooms of 6 for 3 s on
//! loopback. The bots' latency measurement is the framework's (the envelope's
//! `last_input_seq`), so it works for any game whose input is `{seq, move}`.

use std::time::Duration;

use clap::Parser;
use tickstorm_bot_client::swarm::{self, SwarmConfig};
use tickstorm_server::{Config, Games};
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_swarm_plays_tag_with_every_snapshot_and_every_ack() {
    let mut config = Config::parse_from(["tag-server"]);
    config.room_idle_timeout = Duration::from_millis(500);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let shutdown = CancellationToken::new();
    let games = Games::empty()
        .with(tickstorm_example_tag::Tag)
        .expect("registers");
    let (handle, serve) = tickstorm_server::start_games(config, games, listener, shutdown.clone())
        .await
        .expect("server starts");
    let server = tokio::spawn(serve);
    let bots = SwarmConfig::parse_from([
        "tickstorm-bots",
        "--url",
        &url,
        "--quiet",
        "--bots",
        "24",
        "--room-size",
        "6",
        "--ramp",
        "200",
        "--duration",
        "3s",
    ]);
    let report = swarm::run(bots).await.expect("swarm runs");
    assert!(report.errors.is_empty(), "errors: {:?}", report.errors);
    assert_eq!(report.bots_connected_peak, 24);
    assert_eq!(
        report.snapshots.missed, 0,
        "delivery {}",
        report.snapshots.ratio
    );
    assert!(
        report.snapshots.expected >= 24 * 60,
        "about 3 s x 30 Hz x 24 bots: {}",
        report.snapshots.expected
    );
    assert!(
        report.inputs_sent >= 24 * 20,
        "inputs sent: {}",
        report.inputs_sent
    );
    assert!(
        report.inputs_acked + 24 >= report.inputs_sent,
        "every input acked but at most one in flight per bot at the stop"
    );
    let rooms = handle.hub.directory().rooms().to_vec();
    assert!(rooms.iter().all(|r| r.game == "tag"), "{rooms:?}");
    shutdown.cancel();
    server.await.expect("joins").expect("clean shutdown");
}
