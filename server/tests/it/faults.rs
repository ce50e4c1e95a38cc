//! Fault containment: a room whose simulation panics is closed with `room:closed {reason:
//! "internal"}` and logged; the server, and every other room, plays on.

use serde_json::{Value, json};
use tickstorm_shared::protocol::{CreateRoomAck, JoinAck, events};

use crate::support::{TestClient, TestServer};

async fn own_room(server: &TestServer, name: &str) -> (TestClient, JoinAck) {
    let player = TestClient::connect(&server.url, name).await;
    let created: CreateRoomAck = player.ack(events::ROOM_CREATE, json!({"name": name})).await;
    let join: JoinAck = player
        .ack(events::ROOM_JOIN, json!({"room_id": created.room.id}))
        .await;
    (player, join)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_room_is_closed_and_the_others_play_on() {
    let server = TestServer::start_default().await;
    let (mut doomed, doomed_join) = own_room(&server, "doomed").await;
    let (mut healthy, healthy_join) = own_room(&server, "healthy").await;
    let before = healthy.next_snapshot().await.tick;

    server
        .handle
        .hub
        .inject_fault(doomed_join.room.id.clone())
        .await
        .expect("the room exists");
    let closed: Value = doomed.next(events::ROOM_CLOSED).await;
    assert_eq!(
        closed,
        json!({"room_id": doomed_join.room.id, "reason": "internal"})
    );
    assert_eq!(server.handle.metrics.room_faults.get(), 1);

    // The other room never missed a tick, and takes inputs as before.
    healthy.drain();
    let mut ticks = Vec::new();
    while ticks.len() < 15 {
        ticks.push(healthy.next_snapshot().await.tick);
    }
    assert!(
        ticks[0] > before && ticks.windows(2).all(|w| w[1] == w[0] + 1),
        "{ticks:?}"
    );
    let ack: Value = healthy
        .ack(events::INPUT, json!({"seq": 1, "move": [1, 0]}))
        .await;
    assert_eq!(ack["ok"], true);
    let rooms = server.handle.hub.directory().rooms();
    assert_eq!(rooms.len(), 1);
    assert_eq!(rooms[0].id, healthy_join.room.id);

    // The doomed room's player is free to play elsewhere.
    let again = doomed.quick_join().await;
    assert_eq!(again.room.id, healthy_join.room.id);
    server.stop().await.expect("clean shutdown");
}
