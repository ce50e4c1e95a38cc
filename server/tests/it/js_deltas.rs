//! The web client's delta decoder (`assets/js/delta.js`) on payloads this server really sent.
//! Sessions are recorded here with the Rust reference client ring (`shared::delta::ClientState`,
//! itself checked against keyframes in `deltas.rs`); `tests/js/delta_replay.mjs` replays each
//! payload through the JavaScript `SnapshotRing`, which must rebuild every state exactly as the
//! reference does, and where a client that names no baseline got the same tick, its keyframe
//! after quantization (other players' `last_input_seq` aside: deltas track only the receiver's). The sessions cover what the browser tests cannot steer: baselines several
//! ticks old, `baseline: 0` and back, a `view_radius` (entities entering and leaving view) with a
//! send rate below the tick rate, and blasters' bolts appearing and despawning.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use tickstorm_bot_client::Event;
use tickstorm_shared::delta::{ClientState, DELTA_VERSION, KindCoding, State};
use tickstorm_shared::protocol::{JoinAck, delta_layout, events};
use tickstorm_shared::snapshot::Field;

use crate::js_client::js_dir;
use crate::support::{TestClient, TestServer};

/// Snapshots recorded per session.
const STEPS: usize = 150;

/// One client's payloads in one room, with what the reference made of each.
struct Recording {
    name: &'static str,
    kinds: Value,
    /// The recording client's player id: the only one whose `last_input_seq` deltas track.
    player_id: u32,
    layout: Vec<KindCoding>,
    held: ClientState,
    steps: Vec<Value>,
    ticks: Vec<u64>,
    /// Keyframes of a client that names no baseline, by tick (rooms without a view radius).
    truth: HashMap<u64, Vec<u8>>,
}

impl Recording {
    fn new(name: &'static str, join_ack: &Value) -> (Self, JoinAck) {
        let joined: JoinAck = serde_json::from_value(join_ack.clone()).expect("join ack");
        let layout = delta_layout(&joined.kinds);
        let recording = Self {
            name,
            kinds: join_ack["kinds"].clone(),
            player_id: joined.player_id,
            held: ClientState::new(layout.clone()),
            layout,
            steps: Vec::new(),
            ticks: Vec::new(),
            truth: HashMap::new(),
        };
        (recording, joined)
    }

    /// Applies `payload` with the reference ring and records both; returns the state.
    fn record(&mut self, payload: &[u8]) -> State {
        let state = self
            .held
            .apply(payload)
            .unwrap_or_else(|e| panic!("{}: the reference refuses a payload: {e}", self.name))
            .clone();
        self.steps.push(json!({
            "payload": hex(payload),
            "delta": ClientState::version(payload) == Some(DELTA_VERSION),
            "state": state_json(&state),
        }));
        self.ticks.push(state.tick);
        state
    }

    /// A held tick `back` snapshots before the newest (a baseline the server may still use).
    fn older_baseline(&self, back: usize) -> u64 {
        self.ticks
            .len()
            .checked_sub(back + 1)
            .map_or_else(|| self.held.baseline(), |i| self.ticks[i])
    }

    fn deltas(&self) -> usize {
        self.steps.iter().filter(|s| s["delta"] == true).count()
    }

    fn into_json(mut self) -> Value {
        for step in &mut self.steps {
            let tick = step["state"]["tick"].as_u64().expect("tick");
            if let Some(bytes) = self.truth.get(&tick) {
                step["keyframe"] = json!(hex(bytes));
            }
        }
        json!({"name": self.name, "kinds": self.kinds, "player": self.player_id, "steps": self.steps})
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A value as JSON: floats widened to f64 first, so JavaScript parses the very same number.
fn field_json(field: Field) -> Value {
    match field {
        Field::Uint(v) => json!(v),
        Field::Int(v) => json!(v),
        Field::F32(v) => json!(f64::from(v)),
        Field::F64(v) => json!(v),
        Field::Bool(v) => json!(v),
        Field::Nil => Value::Null,
    }
}

fn state_json(state: &State) -> Value {
    let players: Vec<Value> = state
        .players
        .iter()
        .map(|p| json!([p.player_id, p.net_id, p.last_input_seq]))
        .collect();
    let tables: Vec<Value> = state
        .tables
        .iter()
        .map(|table| {
            let rows: Vec<Value> = (0..table.len())
                .map(|i| {
                    let mut row = vec![json!(table.ids()[i])];
                    row.extend(table.row(i).iter().map(|&f| field_json(f)));
                    Value::Array(row)
                })
                .collect();
            Value::Array(rows)
        })
        .collect();
    json!({"tick": state.tick, "serverTime": state.server_time_ms, "players": players, "tables": tables})
}

fn payload_of(event: &Event) -> Option<Vec<u8>> {
    match (event.name == events::SNAPSHOT, event.args.first()) {
        (true, Some(rmpv::Value::Binary(bytes))) => Some(bytes.clone()),
        _ => None,
    }
}

async fn next_payload(client: &mut TestClient) -> Vec<u8> {
    payload_of(&client.next_event(events::SNAPSHOT).await).expect("one binary argument")
}

async fn create_and_join(ana: &TestClient, bob: &TestClient, request: Value) -> (Value, JoinAck) {
    let created: Value = ana.ack(events::ROOM_CREATE, request).await;
    assert_eq!(created["ok"], true, "{created}");
    let room = created["room"]["id"].clone();
    let ana_ack: Value = ana.ack(events::ROOM_JOIN, json!({ "room_id": room })).await;
    assert_eq!(ana_ack["ok"], true, "{ana_ack}");
    let bob_ack: Value = bob.ack(events::ROOM_JOIN, json!({ "room_id": room })).await;
    assert_eq!(bob_ack["ok"], true, "{bob_ack}");
    let bob_join: JoinAck = serde_json::from_value(bob_ack).expect("join ack");
    (ana_ack, bob_join)
}

async fn input(client: &TestClient, payload: Value) {
    let ack: Value = client.ack(events::INPUT, payload).await;
    assert_eq!(ack["ok"], true, "{ack}");
}

/// Bob's keyframes so far (he names no baseline), into `truth`; his own position in the last.
fn take_keyframes(
    bob: &mut TestClient,
    layout: &[KindCoding],
    bob_player: u32,
    truth: &mut HashMap<u64, Vec<u8>>,
) -> Option<(f64, f64)> {
    let mut position = None;
    while let Ok(event) = bob.events.try_recv() {
        let Some(bytes) = payload_of(&event) else {
            continue;
        };
        assert_eq!(
            ClientState::version(&bytes),
            Some(2),
            "bob names no baseline"
        );
        let mut state = State::default();
        state
            .read_keyframe(&bytes, layout, &mut Vec::new())
            .expect("keyframe");
        position = state
            .player(bob_player)
            .and_then(|p| state.position(layout, p.net_id))
            .or(position);
        truth.insert(state.tick, bytes);
    }
    position
}

/// A move toward `to` from `from`: full speed, slowing down within a unit of it.
fn toward(from: (f64, f64), to: (f64, f64)) -> [f64; 2] {
    let (dx, dy) = (to.0 - from.0, to.1 - from.1);
    let length = dx.hypot(dy).max(1.0);
    [dx / length, dy / length]
}

/// The orb arena, everyone visible: ana moves and names her newest baseline, now and then one
/// a few snapshots old, and for a while 0 (keyframes); bob names none and moves too.
async fn orbs_session(url: &str) -> Recording {
    let mut ana = TestClient::connect(url, "ana").await;
    let mut bob = TestClient::connect(url, "bob").await;
    let (ana_ack, bob_join) = create_and_join(&ana, &bob, json!({})).await;
    let (mut rec, _) = Recording::new("orbs", &ana_ack);
    let mut seq = 0;
    while rec.steps.len() < STEPS {
        let payload = next_payload(&mut ana).await;
        rec.record(&payload);
        let n = rec.steps.len();
        if n % 2 == 0 {
            seq += 1;
            let baseline = match n {
                60..=75 => 0,
                _ if n % 7 == 0 => rec.older_baseline(4),
                _ => rec.held.baseline(),
            };
            let dir = if (n / 30) % 2 == 0 { 1.0 } else { -1.0 };
            input(
                &ana,
                json!({"seq": seq, "move": [dir, 0.7 * dir], "baseline": baseline}),
            )
            .await;
            input(&bob, json!({"seq": seq, "move": [-dir, 0.2]})).await;
        }
        take_keyframes(&mut bob, &rec.layout, bob_join.player_id, &mut rec.truth);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    take_keyframes(&mut bob, &rec.layout, bob_join.player_id, &mut rec.truth);
    let keyframes_between = rec.steps[62..80]
        .iter()
        .filter(|s| s["delta"] == false)
        .count();
    assert!(
        keyframes_between >= 5,
        "baseline 0 brings keyframes ({keyframes_between})"
    );
    rec
}

/// A room with a view radius and half the tick rate as its send rate: ana and bob first walk to
/// the middle (bob's avatar enters ana's view), then to opposite walls (it leaves); orbs come and
/// go around ana as she walks.
async fn view_session(url: &str) -> Recording {
    const RADIUS: f64 = 150.0;
    let mut ana = TestClient::connect(url, "ana").await;
    let mut bob = TestClient::connect(url, "bob").await;
    let (ana_ack, bob_join) = create_and_join(
        &ana,
        &bob,
        json!({"view_radius": RADIUS, "tick_rate": 30, "send_rate": 15}),
    )
    .await;
    let (mut rec, joined) = Recording::new("orbs with view_radius 150, send_rate 15", &ana_ack);
    let mut seq = 0;
    let mut bob_at = None;
    let (mut saw_bob, mut lost_bob, mut orb_counts) = (false, false, BTreeSet::new());
    while rec.steps.len() < STEPS {
        let payload = next_payload(&mut ana).await;
        let state = rec.record(&payload);
        let me = state
            .player(joined.player_id)
            .and_then(|p| state.position(&rec.layout, p.net_id))
            .expect("ana's own avatar is always sent");
        let bob_net = state.player(bob_join.player_id).map(|p| p.net_id);
        let bob_visible = bob_net.is_some_and(|id| state.position(&rec.layout, id).is_some());
        saw_bob |= bob_visible;
        lost_bob |= saw_bob && !bob_visible;
        orb_counts.insert(state.tables[1].len());
        bob_at =
            take_keyframes(&mut bob, &rec.layout, bob_join.player_id, &mut rec.truth).or(bob_at);
        seq += 1;
        let middle = rec.steps.len() < 70;
        let (ana_to, bob_to) = if middle {
            ((500.0, 500.0), (500.0, 500.0))
        } else {
            ((16.0, 500.0), (984.0, 500.0))
        };
        input(
            &ana,
            json!({"seq": seq, "move": toward(me, ana_to), "baseline": rec.held.baseline()}),
        )
        .await;
        if let Some(at) = bob_at {
            input(&bob, json!({"seq": seq, "move": toward(at, bob_to)})).await;
        }
    }
    assert!(
        saw_bob && lost_bob,
        "bob's avatar entered ana's view and left it (saw {saw_bob}, lost {lost_bob})"
    );
    assert!(
        orb_counts.len() > 1 && orb_counts.iter().all(|&n| n < 32),
        "orbs came and went: {orb_counts:?}"
    );
    // Bob gets keyframes of his own view: not ana's truth.
    rec.truth.clear();
    rec
}

/// Blasters, no warm-up: ana fires at bob, so bolts appear, fly and despawn (a hit or the
/// arena's edge), health drops, bob may go down and respawn.
async fn blasters_session(url: &str) -> Recording {
    let mut ana = TestClient::connect(url, "ana").await;
    let mut bob = TestClient::connect(url, "bob").await;
    let (ana_ack, bob_join) = create_and_join(
        &ana,
        &bob,
        json!({"game": "blasters", "options": {"warmup_seconds": 0, "kills_to_win": 100}}),
    )
    .await;
    let (mut rec, joined) = Recording::new("blasters", &ana_ack);
    let mut seq = 0;
    let mut bolts_seen = BTreeSet::new();
    while rec.steps.len() < STEPS {
        let payload = next_payload(&mut ana).await;
        let state = rec.record(&payload);
        bolts_seen.extend(state.tables[1].ids().iter().copied());
        take_keyframes(&mut bob, &rec.layout, bob_join.player_id, &mut rec.truth);
        if rec.steps.len() % 3 == 0 {
            let at = |player| {
                state
                    .player(player)
                    .and_then(|p| state.position(&rec.layout, p.net_id))
            };
            if let (Some(me), Some(target)) = (at(joined.player_id), at(bob_join.player_id)) {
                seq += 1;
                let aim = (target.1 - me.1).atan2(target.0 - me.0);
                input(
                    &ana,
                    json!({"seq": seq, "move": [0, 0], "aim": aim, "fire": true, "baseline": rec.held.baseline()}),
                )
                .await;
            }
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    take_keyframes(&mut bob, &rec.layout, bob_join.player_id, &mut rec.truth);
    assert!(bolts_seen.len() >= 3, "bolts fired: {bolts_seen:?}");
    rec
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_clients_delta_decoder_rebuilds_what_the_server_sent() {
    let server = TestServer::start_default().await;
    let sessions = vec![
        orbs_session(&server.url).await,
        view_session(&server.url).await,
        blasters_session(&server.url).await,
    ];
    for rec in &sessions {
        assert!(
            rec.deltas() >= STEPS / 2,
            "{}: {} deltas of {STEPS}",
            rec.name,
            rec.deltas()
        );
    }
    let fixture =
        json!({"sessions": sessions.into_iter().map(Recording::into_json).collect::<Vec<_>>()});
    let path = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("delta_replay_{}.json", std::process::id()));
    std::fs::write(&path, fixture.to_string()).expect("write the fixture");
    let output = tokio::process::Command::new("node")
        .arg(js_dir().join("delta_replay.mjs"))
        .arg(&path)
        .output()
        .await
        .expect("node must be installed (Node 20 or newer)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("delta replay: {stdout}{stderr}");
    // On failure the fixture stays, to replay by hand: node tests/js/delta_replay.mjs FIXTURE.
    assert!(
        output.status.success(),
        "delta replay failed (fixture kept at {}): {stdout}{stderr}",
        path.display()
    );
    let summary: Value =
        serde_json::from_str(stdout.trim().lines().last().unwrap_or_default()).expect("summary");
    assert_eq!(summary["ok"], true, "{summary}");
    for session in summary["sessions"].as_array().expect("sessions") {
        assert_eq!(session["states"], STEPS, "{session}");
    }
    let sessions = &summary["sessions"];
    assert!(
        sessions[0]["keyframesCompared"].as_u64() >= Some(50),
        "most of ana's snapshots compared with bob's keyframes: {summary}"
    );
    for session in [&sessions[1], &sessions[2]] {
        assert!(
            session["appeared"].as_u64() > Some(0) && session["removed"].as_u64() > Some(0),
            "entities appeared and went: {session}"
        );
    }
    let _ = std::fs::remove_file(&path);
    server.stop().await.expect("clean shutdown");
}
