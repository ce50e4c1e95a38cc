//! The recording viewer (`/replay.html`) in real headless Chromium (Debian's `chromium`, driven
//! by `tests/js/browser_replay.mjs` on npm `playwright-core`, as in `browser.rs`). A server with
//! `--record-dir` records a real game of four bots; the room is closed through the HTTP API; this
//! test reads the recording back through the same API and decodes every tick with the orb arena's
//! Rust decoder, writes three altered copies (a tampered hash, a file cut short, an unknown game)
//! and hands the script what the chosen ticks hold. The script checks that the page draws those
//! players where the recording has them, that stepping, jumping, the slider and playing move the
//! shown tick, and the page's words for a wrong token, no recordings, a difference, a cut and a
//! recording the server cannot replay. Screenshots go to `artifacts/browser/replay/`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use serde_json::{Value, json};
use tickstorm_bot_client::swarm::{self, SwarmConfig};
use tickstorm_orbs::OrbView;
use tickstorm_server::config::AdminToken;
use tickstorm_sim::record::{Entry, EntryReader, Header, read_header, segment_path};

use crate::browser::{CHROMIUM, node, workspace};
use crate::http::{get, send};
use crate::js_client::{ensure_node_modules, js_dir};
use crate::support::{TempDir, TestServer};

const TOKEN: &str = "replay-viewer-test-token";
const BOTS: usize = 4;
/// Arena units between players beyond which no disc, glow or name label of one can cover
/// another's disc: at a tick where every two players are this far apart, the script must see
/// every disc. (Bots that head for the same orb can meet and then move as one, so a game may
/// have no such tick; then the script checks the discs it can see.)
const APART: f32 = 100.0;

/// `Authorization: Bearer TOKEN`.
fn bearer() -> String {
    format!("Bearer {TOKEN}")
}

/// A key of a MessagePack map.
fn field<'a>(map: &'a rmpv::Value, key: &str) -> &'a rmpv::Value {
    map.as_map()
        .and_then(|entries| entries.iter().find(|(k, _)| k.as_str() == Some(key)))
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no {key:?} in {map}"))
}

/// A recording replayed by the server's HTTP API, as the viewer gets it.
struct Replayed {
    total: u64,
    names: BTreeMap<u64, String>,
    end_reason: Option<String>,
    truncated: bool,
    first_difference: Option<u64>,
    /// Every tick of the window, decoded by the orb arena's Rust decoder.
    views: BTreeMap<u64, OrbView>,
}

/// `GET /api/recordings/{name}?from=&count=`: the status and the body.
async fn replay_window(url: &str, name: &str, from: u64, count: u64) -> (u16, Vec<u8>) {
    let path = format!("/api/recordings/{name}?from={from}&count={count}");
    let reply = get(url, &path, &[("Authorization", &bearer())]).await;
    (reply.status, reply.body)
}

async fn replayed(url: &str, name: &str, from: u64, count: u64) -> Replayed {
    let (status, body) = replay_window(url, name, from, count).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let value = rmpv::decode::read_value(&mut body.as_slice()).expect("a MessagePack body");
    let names = field(&value, "players")
        .as_array()
        .expect("players")
        .iter()
        .map(|pair| {
            let pair = pair.as_array().expect("[id, name]");
            (
                pair[0].as_u64().expect("id"),
                pair[1].as_str().expect("name").to_owned(),
            )
        })
        .collect();
    let views = field(&value, "snapshots")
        .as_array()
        .expect("snapshots")
        .iter()
        .map(|pair| {
            let pair = pair.as_array().expect("[tick, snapshot]");
            let bytes = pair[1].as_slice().expect("snapshot bytes");
            let view = OrbView::decode(bytes).expect("an orb arena keyframe");
            (pair[0].as_u64().expect("tick"), view)
        })
        .collect();
    Replayed {
        total: field(&value, "total_ticks").as_u64().expect("total_ticks"),
        names,
        end_reason: field(&value, "end_reason").as_str().map(str::to_owned),
        truncated: field(&value, "truncated").as_bool().expect("truncated"),
        first_difference: field(&value, "first_difference").as_u64(),
        views,
    }
}

/// The players of `view` as the script compares them, with their names.
fn players_json(view: &OrbView, names: &BTreeMap<u64, String>) -> Value {
    let players: Vec<Value> = view
        .players
        .iter()
        .map(|p| {
            json!({
                "id": p.id,
                "name": names.get(&u64::from(p.id)).expect("every seated player has a name"),
                "x": p.x,
                "y": p.y,
                "score": p.score,
            })
        })
        .collect();
    json!({"players": players, "orbs": view.orbs.len()})
}

/// The nearest two players of `view` are this far apart.
fn closest_pair(view: &OrbView) -> f32 {
    let mut closest = f32::INFINITY;
    for (i, a) in view.players.iter().enumerate() {
        for b in &view.players[i + 1..] {
            closest = closest.min((a.x - b.x).hypot(a.y - b.y));
        }
    }
    closest
}

/// A copy of a recording segment with its header and entries edited (re-encoded with the
/// format's own writer, as tools that edit recordings do).
fn rewrite(
    original: &[u8],
    edit_header: impl FnOnce(&mut Header),
    mut edit_entry: impl FnMut(Entry) -> Entry,
) -> Vec<u8> {
    let (mut header, start) = read_header(original).expect("a recording header");
    edit_header(&mut header);
    let mut out = header.to_bytes();
    let mut reader = EntryReader::new(Bytes::copy_from_slice(original), start);
    while let Some(entry) = reader.next().expect("a readable entry") {
        edit_entry(entry).encode(&mut out);
    }
    assert!(!reader.truncated(), "the original recording is whole");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_recording_viewer_replays_a_real_game_in_headless_chromium() {
    assert!(
        Path::new(CHROMIUM).exists(),
        "browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium); .ci/run installs it"
    );
    ensure_node_modules();
    let record_dir = TempDir::new("replay-viewer");
    let empty_dir = TempDir::new("replay-viewer-empty");
    let server = TestServer::start(|c| {
        c.admin_token = Some(AdminToken::new(TOKEN));
        c.record_dir = Some(record_dir.0.clone());
    })
    .await;
    let empty = TestServer::start(|c| {
        c.admin_token = Some(AdminToken::new(TOKEN));
        c.record_dir = Some(empty_dir.0.clone());
    })
    .await;

    // A real game: four bots in one room for four seconds.
    let bots = BOTS.to_string();
    let report = swarm::run(SwarmConfig::parse_from([
        "tickstorm-bots",
        "--url",
        &server.url,
        "--bots",
        &bots,
        "--room-size",
        &bots,
        "--duration",
        "4s",
        "--quiet",
    ]))
    .await
    .expect("swarm runs");
    assert!(report.errors.is_empty(), "errors: {:?}", report.errors);
    assert_eq!(report.bots_connected_peak, BOTS);

    // Its recording; closing the room ends it.
    let listed = get(
        &server.url,
        "/api/recordings",
        &[("Authorization", &bearer())],
    )
    .await;
    assert_eq!(listed.status, 200, "{}", listed.text());
    let listed: Value = serde_json::from_slice(&listed.body).expect("JSON");
    let recordings = listed["recordings"].as_array().expect("recordings");
    assert_eq!(recordings.len(), 1, "one room, one recording: {listed}");
    let name = recordings[0]["name"].as_str().expect("name").to_owned();
    let room_id = recordings[0]["room_id"]
        .as_str()
        .expect("room id")
        .to_owned();
    let tick_rate = recordings[0]["tick_rate"].as_u64().expect("tick rate");
    let closed = send(
        &server.url,
        "DELETE",
        &format!("/api/rooms/{room_id}"),
        &[("Authorization", &bearer())],
        "",
    )
    .await;
    assert_eq!(closed.status, 200, "{}", closed.text());
    let mut ended = None;
    for _ in 0..100 {
        let replay = replayed(&server.url, &name, 0, 1).await;
        if replay.end_reason.is_some() {
            ended = Some(replay);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ended = ended.expect("the recording ends when its room closes");
    let end_reason = ended.end_reason.clone().expect("ended");

    // Every tick, decoded here.
    let recording = replayed(&server.url, &name, 0, 3_600).await;
    let total = recording.total;
    assert!(
        total > 100 && total < 3_600,
        "four seconds of play and a close: {total} ticks"
    );
    assert_eq!(
        recording.views.keys().copied().collect::<Vec<_>>(),
        (1..=total).collect::<Vec<_>>(),
        "a room sending every tick: a snapshot for each of ticks 1..={total}"
    );
    assert_eq!(recording.names.len(), BOTS, "{:?}", recording.names);
    // Five windows or more, so the page crosses several.
    let window = (total / 5).max(8);
    let window_of = |tick: u64| tick / window;
    let seated = |tick: &u64| recording.views[tick].players.len() == BOTS;
    // Someone moves from tick t - 1 to t + 1 (so a step shows a different picture).
    let moving = |t: &u64| {
        let (before, after) = (&recording.views[&(t - 1)], &recording.views[&(t + 1)]);
        before
            .players
            .iter()
            .zip(&after.players)
            .any(|(a, b)| a.x != b.x || a.y != b.y)
    };
    // The tick whose drawing is checked: everyone seated and someone moving, with a tick either
    // side, and the players as far apart as they ever were (the earliest such tick); past the
    // first window (so the jump fetches another) if the players are `APART` there.
    let farthest_apart = |ticks: std::ops::Range<u64>| {
        ticks
            .filter(|t| seated(t) && seated(&(t - 1)) && seated(&(t + 1)) && moving(t))
            .map(|t| (t, closest_pair(&recording.views[&t])))
            .fold(None, |best: Option<(u64, f32)>, (t, d)| match best {
                Some((_, b)) if b >= d => best,
                _ => Some((t, d)),
            })
    };
    let (chosen, apart) = farthest_apart(window + 1..total)
        .filter(|(_, d)| *d >= APART)
        .or_else(|| farthest_apart(2..total))
        .expect("ticks with every bot seated and moving");
    println!("chosen tick {chosen} of {total}: players {apart} apart");
    // The slider goes two windows or more away, to a tick where everyone is seated.
    let slider = (1..=total)
        .rev()
        .filter(seated)
        .find(|t| window_of(*t).abs_diff(window_of(chosen)) >= 2)
        .or_else(|| {
            (1..=total)
                .filter(seated)
                .find(|t| window_of(*t).abs_diff(window_of(chosen)) >= 2)
        })
        .expect("a seated tick two windows away");
    let expected: serde_json::Map<String, Value> = [chosen - 1, chosen, chosen + 1, slider]
        .into_iter()
        .map(|t| {
            (
                t.to_string(),
                players_json(&recording.views[&t], &recording.names),
            )
        })
        .collect();

    // Three altered copies, with the format's own reader and writer.
    let stem = record_dir.0.join(&name);
    let original = std::fs::read(segment_path(&stem, 0)).expect("the recording's file");
    assert!(
        !segment_path(&stem, 1).exists(),
        "a short game fits one segment"
    );
    assert_eq!(
        rewrite(&original, |_| {}, |e| e),
        original,
        "rewriting without an edit gives the same bytes"
    );
    let write = |copy: &str, bytes: &[u8]| {
        std::fs::write(segment_path(&record_dir.0.join(copy), 0), bytes).expect("write a copy")
    };
    // The hash of one tick in the third window no longer matches: a replay differs there.
    let difference = 2 * window + 3;
    let tampered = rewrite(
        &original,
        |_| {},
        |entry| match entry {
            Entry::Hash { tick, hash } if tick == difference => Entry::Hash {
                tick,
                hash: hash ^ 1,
            },
            other => other,
        },
    );
    assert_ne!(tampered, original, "tick {difference} has a hash to tamper");
    write("tampered", &tampered);
    // The last entry cut in half, as when a server dies mid-write.
    write("cut", &original[..original.len() - 40]);
    // A game this server does not host.
    write(
        "nogame",
        &rewrite(&original, |h| h.game = "nosuchgame".into(), |e| e),
    );
    // What the page will be told, checked here first, so a failure below is the page's.
    assert_eq!(
        replayed(&server.url, "tampered", 0, window)
            .await
            .first_difference,
        None,
        "the first window ends before the difference"
    );
    assert_eq!(
        replayed(&server.url, "tampered", 2 * window, window)
            .await
            .first_difference,
        Some(difference)
    );
    // Known once a replay reaches the end of the file (GET /api/recordings/{name} reads only as
    // far as the window asked for).
    assert!(replayed(&server.url, "cut", 0, 3_600).await.truncated);
    let (status, refusal) = replay_window(&server.url, "nogame", 0, 1).await;
    let refusal: Value = serde_json::from_slice(&refusal).expect("a JSON refusal");
    assert_eq!(status, 422, "{refusal}");
    let nogame_message = refusal["error"]["message"]
        .as_str()
        .expect("message")
        .to_owned();
    assert!(nogame_message.contains("nosuchgame"), "{nogame_message}");

    let artifacts = workspace().join("artifacts/browser/replay");
    let plan = json!({
        "url": server.url,
        "emptyUrl": empty.url,
        "token": TOKEN,
        "artifacts": artifacts,
        "window": window,
        "recording": {"name": name, "roomId": room_id, "total": total, "tickRate": tick_rate, "endReason": end_reason},
        "expected": expected,
        "chosen": chosen,
        "apart": apart,
        "clearApart": APART,
        "slider": slider,
        "tampered": {"name": "tampered", "difference": difference},
        "cut": {"name": "cut"},
        "nogame": {"name": "nogame", "message": nogame_message},
    });
    let script = js_dir().join("browser_replay.mjs");
    let stdout = node(
        &[&script.to_string_lossy(), &plan.to_string()],
        "recording viewer browser test",
    )
    .await;
    let summary: Value = serde_json::from_str(stdout.trim().lines().last().unwrap_or_default())
        .expect("one JSON summary line");
    assert_eq!(summary["ok"], true, "{summary}");
    assert_eq!(summary["chosen"]["tick"], chosen, "{summary}");
    let seen = summary["chosen"]["verified"]
        .as_u64()
        .expect("players seen drawn");
    let hidden = summary["chosen"]["hidden"]
        .as_u64()
        .expect("players covered");
    assert_eq!(seen + hidden, BOTS as u64, "{summary}");
    assert!(seen >= 1 && (hidden == 0 || apart < APART), "{summary}");
    for shot in summary["screenshots"].as_array().expect("screenshot list") {
        let path = shot.as_str().expect("path");
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        assert!(size > 10_000, "screenshot {path} is {size} bytes");
    }
    empty.stop().await.expect("clean shutdown");
    server.stop().await.expect("clean shutdown");
}
