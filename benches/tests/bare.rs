//! `tickstorm-bare` (the capacity benchmark's baseline) speaks what the bot swarm needs: the built
//! binary is started on 127.0.0.1 with an ephemeral port and the swarm (`tickstorm-bots`' library)
//! plays on it, unchanged, over real sockets. Every run must end with no error, every snapshot
//! delivered, every input acked, input -> snapshot latencies measured from `last_input_seq`, and
//! the players in two full rooms whose ticks ran (asked of the server's `/healthz`). Loopback
//! only; each run is bounded.

use std::process::Stdio;
use std::time::Duration;

use clap::Parser;
use tickstorm_bot_client::swarm::{self, SwarmConfig, SwarmReport};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

/// Bots per run: two rooms of 8.
const BOTS: usize = 16;

/// The server binary, killed when dropped.
struct Bare {
    _child: Child,
    url: String,
}

impl Bare {
    /// Starts `tickstorm-bare --addr 127.0.0.1:0 ARGS` and reads the address it bound.
    async fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tickstorm-bare"))
            .args(["--addr", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("tickstorm-bare starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        tokio::time::timeout(
            Duration::from_secs(30),
            BufReader::new(stdout).read_line(&mut line),
        )
        .await
        .expect("tickstorm-bare says where it listens within 30 s")
        .expect("reads its stdout");
        let url = line
            .split_whitespace()
            .find(|word| word.starts_with("http://127.0.0.1:"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_owned();
        Self { _child: child, url }
    }

    /// `GET /healthz`, its JSON body.
    async fn health(&self) -> serde_json::Value {
        let authority = self.url.trim_start_matches("http://");
        let mut tcp = tokio::net::TcpStream::connect(authority)
            .await
            .expect("connects");
        let request =
            format!("GET /healthz HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
        tcp.write_all(request.as_bytes()).await.expect("asks");
        let mut response = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut response))
            .await
            .expect("answers within 10 s")
            .expect("reads the answer");
        let response = String::from_utf8(response).expect("utf-8");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        let (_, body) = response.split_once("\r\n\r\n").expect("a body");
        serde_json::from_str(body).expect("JSON")
    }
}

/// Runs `BOTS` bots for 3 s against `bare` with `args`, bounded.
async fn play(bare: &Bare, args: &[&str]) -> SwarmReport {
    let bots = BOTS.to_string();
    let mut argv = vec![
        "tickstorm-bots",
        "--url",
        &bare.url,
        "--quiet",
        "--bots",
        &bots,
        "--ramp",
        "200",
        "--duration",
        "3s",
    ];
    argv.extend_from_slice(args);
    tokio::time::timeout(
        Duration::from_secs(90),
        swarm::run(SwarmConfig::parse_from(argv)),
    )
    .await
    .expect("the swarm ends within 90 s")
    .expect("the swarm runs")
}

/// What every run must show: no error, every bot connected to the end, every snapshot owed
/// delivered, every input acked, latencies measured; two rooms of 8 that ticked.
async fn assert_clean(bare: &Bare, report: &SwarmReport) {
    assert_eq!(report.bots_connected_peak, BOTS);
    assert_eq!(report.bots_connected_at_end, BOTS);
    assert_delivered(report);
    assert_eq!(report.inputs_acked, report.inputs_sent, "every input acked");
    let ack = &report.latency_ms["ack"];
    assert_eq!(ack.count, report.inputs_sent, "an ack latency per input");
    // Each input's latency to the first snapshot whose `last_input_seq` covers it: all but the
    // last one or two of each bot, sent just before the stop.
    let to_snapshot = &report.latency_ms["input_to_snapshot"];
    assert!(
        to_snapshot.count + 2 * BOTS as u64 >= report.inputs_sent,
        "input->snapshot samples {} of {} inputs",
        to_snapshot.count,
        report.inputs_sent
    );
    assert!(
        to_snapshot.p50 > 0.0 && ack.p50 > 0.0,
        "{to_snapshot:?} {ack:?}"
    );
    assert_two_full_rooms(bare).await;
}

/// No error, every snapshot owed delivered, inputs sent all along.
fn assert_delivered(report: &SwarmReport) {
    assert!(report.errors.is_empty(), "errors: {:?}", report.errors);
    assert_eq!(
        report.snapshots.missed, 0,
        "delivery {}",
        report.snapshots.ratio
    );
    assert_eq!(report.snapshots.ratio, 1.0);
    // About 3 s x 30 Hz x 16 bots = 1,440; a loaded machine may skip ticks (the bots then expect
    // fewer). A second's worth per bot proves the streams were followed; `missed == 0` is the
    // claim.
    assert!(
        report.snapshots.expected >= (BOTS * 30) as u64,
        "snapshots expected: {}",
        report.snapshots.expected
    );
    assert!(
        report.inputs_sent >= (BOTS * 10) as u64,
        "inputs sent: {}",
        report.inputs_sent
    );
}

/// Two rooms of 8 whose ticks ran, asked of the server (seats are held for 10 s after the bots
/// leave, so the rooms are still there, full).
async fn assert_two_full_rooms(bare: &Bare) {
    let health = bare.health().await;
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(health["rooms_opened"], 2, "{health}");
    assert_eq!(health["players"], BOTS, "{health}");
    let rooms = health["room_list"].as_array().expect("a room list");
    assert_eq!(rooms.len(), 2, "{health}");
    for room in rooms {
        assert_eq!(room["players"], 8, "{health}");
        assert!(
            room["tick"].as_u64().expect("a tick") >= 30,
            "a room that ticked: {health}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_in_rooms_they_create_get_every_snapshot_and_every_ack() {
    // The swarm's default: the first bot of each group of 8 sends `room:create`, all 8
    // `room:join {room_id}`; default parser over WebSocket, delta mode (a `baseline` in every
    // input, which the bare server ignores: keyframes only).
    let bare = Bare::start(&[]).await;
    let report = play(&bare, &[]).await;
    assert_clean(&bare, &report).await;
    assert_eq!(
        report.snapshots.deltas, 0,
        "the bare server sends keyframes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_matched_bots_fill_two_rooms_over_msgpack_and_long_polling() {
    // Quick match (`room:join {}`) fills rooms of 8 in order as the bots arrive.
    let bare = Bare::start(&["--parser", "msgpack"]).await;
    let report = play(
        &bare,
        &[
            "--parser",
            "msgpack",
            "--transport",
            "polling",
            "--room-size",
            "0",
            "--deltas",
            "off",
        ],
    )
    .await;
    assert_clean(&bare, &report).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_bots_take_their_seats_back_with_room_rejoin() {
    // Half the bots drop their connection about every second and send `room:rejoin`.
    let bare = Bare::start(&[]).await;
    let report = play(
        &bare,
        &[
            "--scenario",
            "reconnect-storm",
            "--reconnect-fraction",
            "0.5",
            "--reconnect-every",
            "1s",
        ],
    )
    .await;
    assert!(report.rejoins >= 4, "rejoins: {}", report.rejoins);
    assert_delivered(&report);
    // A connection dropped on purpose fails the acks still on their way, uncounted; everything
    // else is answered.
    assert!(
        report.inputs_acked * 20 >= report.inputs_sent * 19,
        "inputs acked {} of {}",
        report.inputs_acked,
        report.inputs_sent
    );
    assert_two_full_rooms(&bare).await;
}
