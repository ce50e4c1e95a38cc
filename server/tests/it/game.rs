//! Gameplay over real sockets: quick match, snapshots at the tick rate, inputs and acks, chat.

use serde_json::json;
use tickstorm_orbs::rules;
use tickstorm_shared::protocol::{ChatMessage, InputAck, PlayerJoined, events};

use crate::support::{TestClient, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_quick_join_one_room_and_get_snapshots_at_the_tick_rate() {
    let server = TestServer::start_default().await;
    let mut ana = TestClient::connect(&server.url, "ana").await;
    let mut bob = TestClient::connect(&server.url, "bob").await;
    let ana_join = ana.quick_join().await;
    let bob_join = bob.quick_join().await;
    assert_eq!(
        ana_join.room.id, bob_join.room.id,
        "quick match fills the open room"
    );
    assert_ne!(ana_join.player_id, bob_join.player_id);
    assert_eq!(bob_join.room.players, 2);
    let names: Vec<(u32, &str)> = bob_join
        .members
        .iter()
        .map(|m| (m.player_id, m.name.as_str()))
        .collect();
    assert_eq!(
        names,
        [(ana_join.player_id, "ana"), (bob_join.player_id, "bob")],
        "the join ack names everyone seated"
    );
    let joined: PlayerJoined = ana.next(events::PLAYER_JOINED).await;
    assert_eq!(
        joined,
        PlayerJoined {
            player_id: bob_join.player_id,
            name: "bob".into()
        }
    );

    for client in [&mut ana, &mut bob] {
        client.drain();
        // 30 snapshots in a row; the rate is judged from the server's own timestamps (median
        // spacing), not from wall-clock counting, which a loaded CI machine would distort.
        let mut ticks = Vec::new();
        let mut stamps = Vec::new();
        while ticks.len() < 30 {
            let snapshot = client.next_snapshot().await;
            assert_eq!(snapshot.players.len(), 2, "both players in every snapshot");
            assert_eq!(snapshot.orbs.len(), rules::ORBS_PER_ROOM);
            ticks.push(snapshot.tick);
            stamps.push(snapshot.server_time_ms);
        }
        let mut gaps: Vec<u64> = stamps.windows(2).map(|w| w[1] - w[0]).collect();
        gaps.sort_unstable();
        let median = gaps[gaps.len() / 2];
        assert!(
            (25..=45).contains(&median),
            "median spacing {median} ms at 30 Hz: {gaps:?}"
        );
        assert!(
            ticks.windows(2).all(|w| w[1] == w[0] + 1),
            "ticks increase by one: {ticks:?}"
        );
    }
    server.stop().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_input_is_acked_with_its_tick_and_the_other_player_sees_the_move() {
    let server = TestServer::start_default().await;
    let ana = TestClient::connect(&server.url, "ana").await;
    let mut bob = TestClient::connect(&server.url, "bob").await;
    let ana_id = ana.quick_join().await.player_id;
    bob.quick_join().await;
    let before = *bob
        .snapshot_where(|s| s.player(ana_id).is_some())
        .await
        .player(ana_id)
        .expect("ana");
    // Move away from the nearer wall so the move is visible.
    let dx = if before.x < rules::ARENA_SIZE / 2.0 {
        1.0
    } else {
        -1.0
    };

    let ack: InputAck = ana
        .ack(events::INPUT, json!({ "seq": 5, "move": [dx, 0.0] }))
        .await;
    assert!(ack.ok && ack.seq == 5 && !ack.stale);
    let applied = bob.snapshot_where(|s| s.tick >= ack.tick).await;
    assert_eq!(
        applied.tick, ack.tick,
        "the first snapshot at the acked tick carries the input"
    );
    let after = applied.player(ana_id).expect("ana");
    assert_eq!(after.last_input_seq, 5);
    assert!(
        (after.vx - dx * rules::PLAYER_SPEED).abs() < 1e-3,
        "vx = {}",
        after.vx
    );
    assert!(
        (after.x - before.x) * dx > 0.0,
        "x moved from {} to {}",
        before.x,
        after.x
    );

    let stale: InputAck = ana
        .ack(events::INPUT, json!({ "seq": 4, "move": [0.0, 1.0] }))
        .await;
    assert!(
        stale.ok && stale.stale,
        "a lower seq is acked as stale: {stale:?}"
    );
    let later = bob.snapshot_where(|s| s.tick > stale.tick).await;
    let ana_later = later.player(ana_id).expect("ana");
    assert_eq!(
        ana_later.last_input_seq, 5,
        "the stale input was not applied"
    );
    assert_eq!(ana_later.vy, 0.0);
    server.stop().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_reaches_the_whole_room() {
    let server = TestServer::start_default().await;
    let ana = TestClient::connect(&server.url, "ana").await;
    let mut bob = TestClient::connect(&server.url, "bob").await;
    let ana_id = ana.quick_join().await.player_id;
    bob.quick_join().await;
    let ack: serde_json::Value = ana.ack(events::CHAT, json!({ "text": "  gl hf " })).await;
    assert_eq!(ack, json!({ "ok": true }));
    let message: ChatMessage = bob.next(events::CHAT).await;
    assert_eq!(
        (
            message.player_id,
            message.name.as_str(),
            message.text.as_str()
        ),
        (ana_id, "ana", "gl hf")
    );
    assert!(message.time > 0);
    server.stop().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_echoes_the_client_clock() {
    let server = TestServer::start_default().await;
    let ana = TestClient::connect(&server.url, "ana").await;
    let ack: serde_json::Value = ana
        .ack(events::TIME, json!({ "client_time": 1234.5 }))
        .await;
    assert_eq!(ack["ok"], true);
    assert_eq!(ack["client_time"], 1234.5);
    assert!(ack["server_time"].as_u64().expect("server_time") > 1_700_000_000_000);
    server.stop().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_emitted_right_after_connecting_are_answered() {
    // socketioxide sends CONNECT before it runs the connect handler; event handlers registered by
    // an async handler could miss an event emitted at once. Many clients make the race likely.
    let server = TestServer::start_default().await;
    let clients = futures_util::future::join_all((0..40).map(|i| {
        let url = server.url.clone();
        async move {
            let client = TestClient::connect(&url, &format!("fast{i}")).await;
            let ack: serde_json::Value =
                client.ack(events::TIME, json!({ "client_time": i })).await;
            assert_eq!(ack["ok"], true);
            client
        }
    }))
    .await;
    assert_eq!(clients.len(), 40);
    server.stop().await.expect("clean shutdown");
}
