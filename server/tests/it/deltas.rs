//! Delta snapshots over real sockets: a client that names its baseline gets deltas that rebuild
//! the keyframes a client without one gets (quantized; other players' `last_input_seq`, which
//! deltas do not track, aside); `snapshot:ack` for clients without inputs;
//! views limited to a room's `view_radius`; a send rate below the tick rate.

use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use tickstorm_shared::PlayerId;
use tickstorm_shared::delta::{ClientState, DELTA_VERSION, KindCoding, State, same_value};
use tickstorm_shared::protocol::{JoinAck, delta_layout, events};

use crate::support::{TestClient, TestServer, WAIT};

/// The next `snapshot` payload's bytes.
async fn next_payload(client: &mut TestClient) -> Bytes {
    let event = client.next_event(events::SNAPSHOT).await;
    match event.args.first() {
        Some(rmpv::Value::Binary(bytes)) => Bytes::from(bytes.clone()),
        other => panic!("snapshot is not one binary argument: {other:?}"),
    }
}

async fn join(client: &TestClient, room_id: &str) -> JoinAck {
    let ack: Value = client
        .ack(events::ROOM_JOIN, json!({ "room_id": room_id }))
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    serde_json::from_value(ack).expect("join ack")
}

async fn create(client: &TestClient, request: Value) -> String {
    let ack: Value = client.ack(events::ROOM_CREATE, request).await;
    assert_eq!(ack["ok"], true, "{ack}");
    ack["room"]["id"].as_str().expect("room id").to_owned()
}

/// `held` is what `full` says, quantized fields compared after quantization, as `receiver` holds
/// it: other players' `last_input_seq` is not tracked by deltas.
fn assert_same_state(held: &State, full: &State, layout: &[KindCoding], receiver: PlayerId) {
    assert_eq!(held.tick, full.tick);
    assert_eq!(held.server_time_ms, full.server_time_ms);
    let envelope = |s: &State| -> Vec<(PlayerId, u32, Option<u32>)> {
        s.players
            .iter()
            .map(|p| {
                let seq = (p.player_id == receiver).then_some(p.last_input_seq);
                (p.player_id, p.net_id, seq)
            })
            .collect()
    };
    assert_eq!(envelope(held), envelope(full), "tick {}", full.tick);
    for (kind, coding) in layout.iter().enumerate() {
        let (a, b) = (&held.tables[kind], &full.tables[kind]);
        assert_eq!(a.ids(), b.ids(), "tick {} kind {kind}", full.tick);
        for i in 0..a.len() {
            for (f, ((&x, &y), &p)) in a
                .row(i)
                .iter()
                .zip(b.row(i))
                .zip(&coding.precision)
                .enumerate()
            {
                assert!(
                    same_value(x, y, p),
                    "tick {} kind {kind} row {i} field {f}: {x:?} vs {y:?}",
                    full.tick
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_names_its_baseline_gets_deltas_that_rebuild_every_keyframe() {
    let server = TestServer::start_default().await;
    let mut ana = TestClient::connect(&server.url, "ana").await;
    let mut bob = TestClient::connect(&server.url, "bob").await;
    let room = create(&ana, json!({})).await;
    let ana_join = join(&ana, &room).await;
    let bob_join = join(&bob, &room).await;
    let layout = delta_layout(&ana_join.kinds);
    assert!(
        layout[0].precision.iter().any(|&p| p != 0.0) && layout[0].position == Some([0, 1]),
        "the orb arena declares precisions and a position: {:?}",
        ana_join.kinds
    );
    let mut held = ClientState::new(layout.clone());
    // Bob never names a baseline: a stock client's keyframes, the truth to compare with.
    let mut keyframes = std::collections::HashMap::new();
    let (mut deltas, mut delta_bytes, mut keyframe_bytes, mut seq) = (0, 0, 0, 0u32);
    let mut compared = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while compared < 60 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {compared} ticks compared"
        );
        let payload = next_payload(&mut ana).await;
        let is_delta = ClientState::version(&payload) == Some(DELTA_VERSION);
        let state = held
            .apply(&payload)
            .expect("every snapshot applies")
            .clone();
        if is_delta {
            deltas += 1;
            delta_bytes += payload.len();
        }
        // Moving, and saying what it holds, on every third snapshot (as a client at 10 inputs/s).
        if state.tick.is_multiple_of(3) {
            seq += 1;
            let dir = if seq % 20 < 10 { 1.0 } else { -1.0 };
            let ack: Value = ana
                .ack(
                    events::INPUT,
                    json!({"seq": seq, "move": [dir, 0.5], "baseline": held.baseline()}),
                )
                .await;
            assert_eq!(ack["ok"], true, "{ack}");
            // Bob moves too (naming no baseline): his input seq changes in the keyframes, and
            // ana's deltas must not carry it.
            let ack: Value = bob
                .ack(events::INPUT, json!({"seq": seq, "move": [-dir, 0.5]}))
                .await;
            assert_eq!(ack["ok"], true, "{ack}");
        }
        while let Ok(event) = bob.events.try_recv() {
            if event.name == events::SNAPSHOT
                && let Some(rmpv::Value::Binary(bytes)) = event.args.first()
            {
                assert_eq!(
                    ClientState::version(bytes),
                    Some(2),
                    "bob names no baseline"
                );
                let mut full = State::default();
                full.read_keyframe(bytes, &layout, &mut Vec::new())
                    .expect("keyframe");
                keyframe_bytes = bytes.len();
                keyframes.insert(full.tick, full);
            }
        }
        if is_delta && let Some(full) = keyframes.get(&state.tick) {
            assert_same_state(&state, full, &layout, ana_join.player_id);
            compared += 1;
        }
    }
    assert!(deltas >= 60, "{deltas} deltas");
    let bob_seq = keyframes
        .values()
        .filter_map(|k| k.player(bob_join.player_id))
        .map(|p| p.last_input_seq)
        .max();
    assert!(bob_seq > Some(10), "bob's inputs applied: {bob_seq:?}");
    let average = delta_bytes / deltas;
    assert!(
        average * 3 < keyframe_bytes,
        "a delta averages {average} bytes, a keyframe {keyframe_bytes}"
    );
    server.stop().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_ack_brings_deltas_to_a_client_without_inputs_and_zero_brings_keyframes_back() {
    let server = TestServer::start_default().await;
    let mut ana = TestClient::connect(&server.url, "ana").await;
    let not_seated: Value = ana.ack(events::SNAPSHOT_ACK, json!({"tick": 1})).await;
    assert_eq!(not_seated["error"]["code"], "not_in_room", "{not_seated}");
    let joined = ana.quick_join().await;
    let mut held = ClientState::new(delta_layout(&joined.kinds));
    let bad: Value = ana.ack(events::SNAPSHOT_ACK, json!({"tick": "soon"})).await;
    assert_eq!(bad["error"]["code"], "bad_request", "{bad}");
    let bad_input: Value = ana
        .ack(
            events::INPUT,
            json!({"seq": 1, "move": [1, 0], "baseline": -4}),
        )
        .await;
    assert_eq!(bad_input["error"]["code"], "bad_request", "{bad_input}");

    // Keyframes until a baseline is named; then deltas.
    let first = next_payload(&mut ana).await;
    assert_eq!(ClientState::version(&first), Some(2));
    held.apply(&first).expect("keyframe");
    let ok: Value = ana
        .ack(events::SNAPSHOT_ACK, json!({"tick": held.baseline()}))
        .await;
    assert_eq!(ok["ok"], true, "{ok}");
    let mut saw_delta = false;
    for _ in 0..30 {
        let payload = next_payload(&mut ana).await;
        held.apply(&payload).expect("applies");
        if ClientState::version(&payload) == Some(DELTA_VERSION) {
            saw_delta = true;
            break;
        }
    }
    assert!(saw_delta, "no delta after snapshot:ack");
    ana.client
        .emit(events::SNAPSHOT_ACK, &json!({"tick": 0}))
        .expect("emit");
    let mut keyframes_in_a_row = 0;
    for _ in 0..60 {
        let payload = next_payload(&mut ana).await;
        held.apply(&payload).expect("applies");
        if ClientState::version(&payload) == Some(2) {
            keyframes_in_a_row += 1;
            if keyframes_in_a_row == 5 {
                break;
            }
        } else {
            keyframes_in_a_row = 0;
        }
    }
    assert_eq!(keyframes_in_a_row, 5, "baseline 0 brings keyframes back");
    server.stop().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_view_radius_sends_each_player_only_what_is_near_it() {
    const RADIUS: f64 = 200.0;
    let server = TestServer::start_default().await;
    let mut ana = TestClient::connect(&server.url, "ana").await;
    let room = create(&ana, json!({"view_radius": RADIUS})).await;
    let joined = join(&ana, &room).await;
    assert_eq!(joined.room.view_radius, Some(RADIUS as f32));
    let layout = delta_layout(&joined.kinds);
    let mut held = ClientState::new(layout.clone());
    let mut seen_counts = std::collections::BTreeSet::new();
    let mut seq = 0;
    for n in 0..150 {
        let payload = next_payload(&mut ana).await;
        let state = held.apply(&payload).expect("applies").clone();
        let me = state
            .player(joined.player_id)
            .expect("in the envelope")
            .net_id;
        let (mx, my) = state
            .position(&layout, me)
            .expect("my avatar is always sent");
        let orbs = &state.tables[1];
        for i in 0..orbs.len() {
            let (x, y) = state
                .position(&layout, orbs.ids()[i])
                .expect("orb position");
            let d = ((x - mx).powi(2) + (y - my).powi(2)).sqrt();
            // Positions are quantized to 1/8 unit in deltas.
            assert!(d <= RADIUS + 1.0, "orb {} at {d} > {RADIUS}", orbs.ids()[i]);
        }
        seen_counts.insert(orbs.len());
        if n % 3 == 0 {
            seq += 1;
            let ack: Value = ana
                .ack(
                    events::INPUT,
                    json!({"seq": seq, "move": [1, 0.3], "baseline": held.baseline()}),
                )
                .await;
            assert_eq!(ack["ok"], true, "{ack}");
        }
    }
    assert!(
        seen_counts.iter().all(|&n| n < 32) && seen_counts.len() > 1,
        "a moving player sees some of the 32 orbs, more or fewer as it goes: {seen_counts:?}"
    );
    server.stop().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_rate_below_the_tick_rate_sends_every_nth_tick() {
    let server = TestServer::start_default().await;
    let mut ana = TestClient::connect(&server.url, "ana").await;
    let room = create(&ana, json!({"tick_rate": 60, "send_rate": 20})).await;
    let joined = join(&ana, &room).await;
    assert_eq!((joined.room.tick_rate, joined.room.send_rate), (60, 20));
    let mut held = ClientState::new(delta_layout(&joined.kinds));
    let mut ticks = Vec::new();
    while ticks.len() < 12 {
        let payload = tokio::time::timeout(WAIT, next_payload(&mut ana))
            .await
            .expect("snapshots keep coming");
        ticks.push(held.apply(&payload).expect("applies").tick);
    }
    assert!(
        ticks.windows(2).all(|w| w[1] - w[0] == 3) && ticks.iter().all(|t| t.is_multiple_of(3)),
        "every third tick: {ticks:?}"
    );
    let too_fast: Value = ana
        .ack(
            events::ROOM_CREATE,
            json!({"tick_rate": 20, "send_rate": 30}),
        )
        .await;
    assert_eq!(too_fast["error"]["code"], "bad_request", "{too_fast}");
    server.stop().await.expect("clean shutdown");
}
