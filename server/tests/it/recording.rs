//! Record and replay over real sockets: a swarm plays every game on a server that records, and
//! each recording replays to identical hashes (the determinism guard CI runs), through the
//! library and through the `tickstorm-server replay` binary, which also names the first tick of
//! a tampered recording; recordings over the HTTP API and the admin namespace; a recording that
//! reaches its size limit or loses its disk ends while its room plays on.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use serde_json::{Value, json};
use tickstorm_bot_client::swarm::{self, SwarmConfig};
use tickstorm_server::config::{AdminToken, RecordRooms};
use tickstorm_shared::Snapshot;
use tickstorm_shared::protocol::events;
use tickstorm_sim::record::{Entry, EntryReader, Replay, load_segments, read_header};

use crate::admin::admin;
use crate::http::{get, send};
use crate::support::{TempDir, TestClient, TestServer, eventually};

const TOKEN: &str = "recording-test-token";

/// The first segment of every recording in `dir`.
fn recordings(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".0.tsrec"))
        .collect();
    found.sort();
    found
}

fn replay(path: &Path) -> Replay {
    let segments = load_segments(path).expect("segments");
    Replay::new(
        tickstorm_server::Games::default().registry(),
        segments.into_iter().map(|(_, b)| b).collect(),
    )
    .expect("replayable")
}

fn swarm_config(url: &str, extra: &[&str]) -> SwarmConfig {
    let mut args = vec!["tickstorm-bots", "--url", url, "--quiet"];
    args.extend_from_slice(extra);
    SwarmConfig::parse_from(args)
}

async fn metric(url: &str, name: &str) -> f64 {
    let text = get(url, "/metrics", &[]).await.text();
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("metric {name} not in /metrics"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_game_played_by_a_swarm_replays_to_identical_hashes() {
    let dir = TempDir::new("determinism");
    let server = TestServer::start(|c| {
        c.record_dir = Some(dir.0.clone());
        c.record_keyframe_secs = 1;
    })
    .await;
    // Two rooms of each game; half the bots on deltas; some drop their connection and rejoin
    // (halted inputs, seats held), so every kind of entry is in the recordings.
    let report = swarm::run(swarm_config(
        &server.url,
        &[
            "--bots",
            "16",
            "--room-size",
            "4",
            "--game",
            "orbs,blasters",
            "--room-options",
            r#"blasters={"warmup_seconds":0}"#,
            "--deltas",
            "split",
            "--scenario",
            "reconnect-storm",
            "--reconnect-fraction",
            "0.25",
            "--reconnect-every",
            "1s",
            "--duration",
            "4s",
        ],
    ))
    .await
    .expect("swarm runs");
    assert!(report.errors.is_empty(), "errors: {:?}", report.errors);
    // Shutting down closes every room, which ends its recording.
    server.stop().await.expect("clean stop");

    let found = recordings(&dir.0);
    assert_eq!(found.len(), 4, "{found:?}");
    let mut games = Vec::new();
    for path in &found {
        let mut replay = replay(path);
        replay.run(false).expect("follows");
        let stats = replay.stats().clone();
        assert_eq!(
            replay.difference(),
            None,
            "{} differs; {stats:?}",
            path.display()
        );
        assert_eq!(replay.end_reason(), Some("closed: shutdown"));
        assert_eq!(stats.joins, 4, "{stats:?}");
        assert!(stats.ticks > 90, "{stats:?}");
        assert_eq!(stats.hashes_identical, stats.ticks, "{stats:?}");
        assert!(stats.keyframes_identical >= 3, "{stats:?}");
        assert!(stats.inputs > 4 * 20, "{stats:?}");
        games.push(replay.header().game.clone());
        // Some seats were halted (dropped connections): the recording has them.
        let halts = entries(path)
            .iter()
            .filter(|e| matches!(e, Entry::Halt { .. }))
            .count();
        assert!(halts > 0 || stats.ticks < 60, "{}: no halt", path.display());
    }
    games.sort();
    assert_eq!(games, ["blasters", "blasters", "orbs", "orbs"]);

    // The binary says the same, and its snapshot stream has one snapshot per tick.
    let out = dir.0.join("snapshots.msgpack");
    let run = replay_binary(&[
        found[0].to_str().expect("utf-8"),
        "--snapshots",
        out.to_str().expect("utf-8"),
    ]);
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("identical: "), "{stdout}");
    assert!(stdout.contains("ticks/s"), "{stdout}");
    let stream = std::fs::read(&out).expect("written");
    let mut rest = stream.as_slice();
    let mut ticks = Vec::new();
    while !rest.is_empty() {
        let (tick, bytes): (u64, serde_bytes_like::Bin) =
            rmp_serde::from_read(&mut rest).expect("a [tick, snapshot] pair");
        let snapshot = Snapshot::decode(&bytes.0).expect("a snapshot");
        assert_eq!(snapshot.tick, tick);
        ticks.push(tick);
    }
    assert_eq!(ticks, (1..=ticks.len() as u64).collect::<Vec<_>>());
}

/// `bin` values read as bytes (serde reads MessagePack `bin` through `deserialize_bytes`).
mod serde_bytes_like {
    pub struct Bin(pub Vec<u8>);

    impl<'de> serde::Deserialize<'de> for Bin {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl serde::de::Visitor<'_> for V {
                type Value = Bin;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("bytes")
                }
                fn visit_bytes<E>(self, v: &[u8]) -> Result<Bin, E> {
                    Ok(Bin(v.to_vec()))
                }
            }
            d.deserialize_bytes(V)
        }
    }
}

fn entries(path: &Path) -> Vec<Entry> {
    let mut out = Vec::new();
    for (_, bytes) in load_segments(path).expect("segments") {
        let (_, start) = read_header(&bytes).expect("header");
        let mut reader = EntryReader::new(bytes, start);
        while let Some(entry) = reader.next().expect("well formed") {
            out.push(entry);
        }
    }
    out
}

fn replay_binary(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tickstorm-server"))
        .arg("replay")
        .args(args)
        .output()
        .expect("runs")
}

fn show(output: &std::process::Output) -> String {
    format!(
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_replay_command_names_the_first_tick_of_a_tampered_recording() {
    let dir = TempDir::new("tampered");
    let server = TestServer::start(|c| c.record_dir = Some(dir.0.clone())).await;
    let report = swarm::run(swarm_config(
        &server.url,
        &["--bots", "4", "--room-size", "4", "--duration", "2s"],
    ))
    .await
    .expect("swarm runs");
    assert!(report.errors.is_empty(), "errors: {:?}", report.errors);
    server.stop().await.expect("clean stop");
    let original = recordings(&dir.0).pop().expect("a recording");

    // Turn one moving player's input at some tick the other way round.
    let mut all = entries(&original);
    let (tampered_tick, _) = all
        .iter_mut()
        .filter_map(|e| match e {
            Entry::Tick { tick, inputs, .. } if *tick > 20 => Some((*tick, inputs)),
            _ => None,
        })
        .find_map(|(tick, inputs)| {
            inputs.iter_mut().find_map(|(_, input)| {
                let mut value: Value = rmp_serde::from_slice(input).expect("an orbs input");
                let x = value["move"][0].as_f64()?;
                if x.abs() < 0.5 {
                    return None;
                }
                value["move"][0] = json!(-x);
                *input = Bytes::from(rmp_serde::to_vec_named(&value).expect("encodes"));
                Some((tick, ()))
            })
        })
        .expect("a moving input");
    let (header, _) = read_header(&std::fs::read(&original).expect("read")).expect("header");
    let mut bytes = header.to_bytes();
    for entry in &all {
        entry.encode(&mut bytes);
    }
    let tampered = dir.0.join("tampered.tsrec");
    std::fs::write(&tampered, &bytes).expect("write");

    let run = replay_binary(&[tampered.to_str().expect("utf-8")]);
    assert_eq!(run.status.code(), Some(1), "{}", show(&run));
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        stdout.contains(&format!(
            "first differing tick {tampered_tick} (last identical tick: {};",
            tampered_tick - 1
        )),
        "{stdout}"
    );
    // The states side by side name the avatar that went the other way.
    assert!(stdout.contains("avatar "), "{stdout}");
    assert!(stdout.contains(" | "), "{stdout}");

    let garbage = dir.0.join("garbage.tsrec");
    std::fs::write(&garbage, b"not a recording").expect("write");
    let run = replay_binary(&[garbage.to_str().expect("utf-8")]);
    assert_eq!(run.status.code(), Some(2), "{}", show(&run));
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("not a Tickstorm recording"),
        "{}",
        show(&run)
    );
    let run = replay_binary(&[dir.0.join("missing.0.tsrec").to_str().expect("utf-8")]);
    assert_eq!(run.status.code(), Some(2), "{}", show(&run));
}

async fn call(url: &str, method: &str, path: &str, body: &str) -> (u16, Value) {
    let bearer = format!("Bearer {TOKEN}");
    let reply = send(url, method, path, &[("Authorization", &bearer)], body).await;
    let value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
    (reply.status, value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recordings_start_with_their_room_and_are_stopped_listed_and_replayed_over_the_api() {
    let dir = TempDir::new("api");
    let server = TestServer::start(|c| {
        c.record_dir = Some(dir.0.clone());
        c.record = RecordRooms::Requested;
        c.admin_token = Some(AdminToken::new(TOKEN));
    })
    .await;
    let url = server.url.clone();

    // Players cannot ask for recordings.
    let ana = TestClient::connect(&url, "ana").await;
    let refused: Value = ana.ack(events::ROOM_CREATE, json!({"record": true})).await;
    assert_eq!(refused["error"]["code"], "bad_request", "{refused}");

    let (status, created) = call(
        &url,
        "POST",
        "/api/rooms",
        r#"{"record": true, "max_players": 2}"#,
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let recorded = created["room"]["id"].as_str().expect("id").to_owned();
    let (_, plain) = call(&url, "POST", "/api/rooms", "{}").await;
    let plain = plain["room"]["id"].as_str().expect("id").to_owned();

    let (status, body) = call(&url, "POST", &format!("/api/rooms/{plain}/recording"), "").await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("can only start with its room")),
        "{body}"
    );
    let (status, body) = call(
        &url,
        "POST",
        &format!("/api/rooms/{recorded}/recording"),
        "",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let name = body["recording"].as_str().expect("a name").to_owned();
    assert!(name.starts_with(&recorded), "{name}");

    let join: Value = ana
        .ack(events::ROOM_JOIN, json!({"room_id": recorded}))
        .await;
    assert_eq!(join["ok"], true, "{join}");
    for seq in 1..=20u32 {
        let ack: Value = ana
            .ack(events::INPUT, json!({"seq": seq, "move": [1, 0]}))
            .await;
        assert_eq!(ack["ok"], true, "{ack}");
        // One input a tick (30 Hz), within the input rate limit: 20 inputs span 20+ ticks.
        tokio::time::sleep(Duration::from_millis(34)).await;
    }

    // Stopping through the admin namespace names the recording; a second stop has none.
    let ops = admin(&url, json!({"token": TOKEN})).await.expect("admin");
    let stopped: Value = ops
        .ack("room:record", json!({"room_id": recorded, "record": false}))
        .await;
    assert_eq!(stopped, json!({"ok": true, "recording": name}));
    let (status, body) = call(
        &url,
        "DELETE",
        &format!("/api/rooms/{recorded}/recording"),
        "",
    )
    .await;
    assert_eq!((status, &body["recording"]), (200, &Value::Null), "{body}");
    let missing: Value = ops
        .ack(
            "room:record",
            json!({"room_id": "nosuchrm", "record": false}),
        )
        .await;
    assert_eq!(missing["error"]["code"], "room_not_found", "{missing}");

    // The room played on; its recording is listed and replays.
    let (status, listed) = call(&url, "GET", "/api/recordings", "").await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["recordings"][0]["name"], name.as_str(), "{listed}");
    assert_eq!(listed["recordings"][0]["game"], "orbs", "{listed}");
    fn member(body: &rmpv::Value, key: &str) -> rmpv::Value {
        body.as_map()
            .and_then(|m| m.iter().find(|(k, _)| k.as_str() == Some(key)))
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{key} in {body}"))
    }
    // The writer writes every half second: the recording's end reaches the file within that.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let body = loop {
        let window = send(
            &url,
            "GET",
            &format!("/api/recordings/{name}?from=5&count=10"),
            &[("Authorization", &format!("Bearer {TOKEN}"))],
            "",
        )
        .await;
        assert_eq!(window.status, 200, "{}", window.text());
        assert_eq!(window.header("content-type"), Some("application/msgpack"));
        let body: rmpv::Value = rmp_serde::from_slice(&window.body).expect("msgpack");
        if member(&body, "end_reason").as_str() == Some("stopped") {
            break body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the recording's end never reached its file: {}",
            member(&body, "end_reason")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let field = |key: &str| member(&body, key);
    let total = field("total_ticks").as_u64().expect("total_ticks");
    assert!(total >= 20, "{total} ticks");
    assert!(field("first_difference").is_nil());
    let players = field("players");
    assert_eq!(players[0][1].as_str(), Some("ana"), "{players}");
    let snapshots = field("snapshots");
    let snapshots = snapshots.as_array().expect("array");
    assert_eq!(snapshots.len(), 10);
    for (i, pair) in snapshots.iter().enumerate() {
        let tick = pair[0].as_u64().expect("tick");
        assert_eq!(tick, 5 + i as u64);
        let decoded = Snapshot::decode(pair[1].as_slice().expect("bin")).expect("snapshot");
        assert_eq!(decoded.tick, tick);
    }

    for (path, status) in [
        ("/api/recordings/nosuch-1", 404),
        ("/api/recordings/..%2F..%2Fetc", 422),
    ] {
        let (got, body) = call(&url, "GET", path, "").await;
        assert_eq!(got, status, "{path}: {body}");
    }
    let (status, _) = {
        let reply = get(&url, "/api/recordings", &[]).await;
        (reply.status, ())
    };
    assert_eq!(status, 401);

    // A server that does not record says so.
    let plain_server = TestServer::start(|c| c.admin_token = Some(AdminToken::new(TOKEN))).await;
    let (status, body) = call(
        &plain_server.url,
        "POST",
        "/api/rooms",
        r#"{"record": true}"#,
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("--record-dir")),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_at_its_size_limit_ends_in_segments_and_its_room_plays_on() {
    let dir = TempDir::new("limit");
    let server = TestServer::start(|c| {
        c.record_dir = Some(dir.0.clone());
        c.record_segment_size = 8 * 1024;
        c.record_max_size = 32 * 1024;
    })
    .await;
    let report = swarm::run(swarm_config(
        &server.url,
        &[
            "--bots",
            "8",
            "--room-size",
            "8",
            "--input-rate",
            "30",
            "--duration",
            "6s",
        ],
    ))
    .await
    .expect("swarm runs");
    // The room played on: every snapshot, every ack.
    assert!(report.errors.is_empty(), "errors: {:?}", report.errors);
    assert_eq!(report.snapshots.missed, 0);
    assert!(metric(&server.url, "tickstorm_recording_errors_total").await >= 1.0);
    server.stop().await.expect("clean stop");

    let first = recordings(&dir.0).pop().expect("a recording");
    let segments = load_segments(&first).expect("segments");
    assert!(segments.len() >= 4, "{} segments", segments.len());
    let total: usize = segments.iter().map(|(_, b)| b.len()).sum();
    assert!(total <= 33 * 1024, "{total} bytes");
    let mut replay = replay(&first);
    replay.run(false).expect("follows");
    assert_eq!(replay.difference(), None);
    assert_eq!(replay.end_reason(), Some("size limit"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_that_loses_its_directory_ends_and_its_room_plays_on() {
    let dir = TempDir::new("lost");
    let server = TestServer::start(|c| {
        c.record_dir = Some(dir.0.clone());
        c.record_segment_size = 4 * 1024;
    })
    .await;
    let mut ana = TestClient::connect(&server.url, "ana").await;
    ana.quick_join().await;
    assert!(
        eventually(Duration::from_secs(5), || recordings(&dir.0).len() == 1).await,
        "recording started"
    );
    std::fs::remove_dir_all(&dir.0).expect("remove");
    // Inputs fill the segment; the next one cannot be created.
    let mut seq = 0;
    let errors = loop {
        seq += 1;
        let ack: Value = ana
            .ack(events::INPUT, json!({"seq": seq, "move": [0.5, 0.5]}))
            .await;
        assert_eq!(ack["ok"], true, "{ack}");
        let errors = metric(&server.url, "tickstorm_recording_errors_total").await;
        if errors >= 1.0 || seq > 600 {
            break errors;
        }
        // One input a tick (30 Hz), within the input rate limit.
        tokio::time::sleep(Duration::from_millis(34)).await;
    };
    assert_eq!(errors, 1.0, "after {seq} inputs");
    assert_eq!(
        metric(&server.url, "tickstorm_recordings_active").await,
        0.0
    );
    // The room plays on.
    ana.drain();
    let before = ana.next_snapshot().await.tick;
    let later = ana.next_snapshot().await.tick;
    assert!(later > before);

    // A directory that cannot be written is refused at start, with what and why.
    let file = TempDir::new("not-a-dir");
    let path = file.0.join("file");
    std::fs::write(&path, b"x").expect("write");
    let mut config = tickstorm_server::Config::parse_from(["t"]);
    config.record_dir = Some(path.clone());
    let listener = tickstorm_server::net::serve::bind(([127, 0, 0, 1], 0).into()).expect("bind");
    let error =
        tickstorm_server::start(config, listener, tokio_util::sync::CancellationToken::new())
            .await
            .err()
            .expect("refused");
    assert!(
        format!("{error:#}").contains("cannot write recordings into"),
        "{error:#}"
    );
}
