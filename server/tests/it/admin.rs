//! Namespace `/admin` over real sockets: the token gate (off without a configured token, refused
//! with a wrong one), the `metrics` push every second, `stats` with every room and its members,
//! and the operator's `room:close` and `player:kick`, with their errors.

use std::time::Duration;

use serde_json::{Value, json};
use tickstorm_bot_client::{Client, ClientConfig, ClientError, decode_value};
use tickstorm_server::config::AdminToken;
use tickstorm_shared::protocol::{RoomClosed, events};

use crate::support::{TestClient, TestServer, WAIT, eventually, refusal};

pub(crate) const TOKEN: &str = "test-admin-token";

/// An `/admin` connection with `auth`.
pub(crate) async fn admin(url: &str, auth: Value) -> Result<TestClient, ClientError> {
    let config = ClientConfig::new(url, "/admin").with_auth(auth);
    let (client, events) = Client::connect(config).await?;
    Ok(TestClient { client, events })
}

async fn with_admin() -> TestServer {
    TestServer::start(|c| c.admin_token = Some(AdminToken::new(TOKEN))).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_is_off_without_a_token_and_refuses_wrong_tokens() {
    let off = TestServer::start_default().await;
    let message = refusal(admin(&off.url, json!({"token": TOKEN})).await);
    assert!(message.contains("admin is disabled"), "{message}");
    off.stop().await.expect("clean shutdown");

    let server = with_admin().await;
    for auth in [
        json!({"token": "test-admin-tokeN"}),
        json!({"token": ""}),
        json!({}),
        json!({"token": 5}),
    ] {
        let message = refusal(admin(&server.url, auth.clone()).await);
        assert_eq!(message, "invalid admin token", "{auth}");
    }
    assert_eq!(server.handle.metrics.handshakes_refused.get(), 4);
    assert_eq!(server.handle.metrics.admin_connections.get(), 0);
    // A refused admin does not affect players.
    let ana = TestClient::connect(&server.url, "ana").await;
    ana.quick_join().await;
    server.stop().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_gets_metrics_every_second_and_stats_with_room_members() {
    let server = with_admin().await;
    let mut ops = admin(&server.url, json!({"token": TOKEN}))
        .await
        .expect("admin connects");
    let ana = TestClient::connect(&server.url, "ana").await;
    let join = ana.quick_join().await;
    for seq in 1..=10u32 {
        let _: Value = ana
            .ack(events::INPUT, json!({"seq": seq, "move": [0, 1]}))
            .await;
    }

    let started = tokio::time::Instant::now();
    let mut samples: Vec<Value> = Vec::new();
    while samples.len() < 3 {
        samples.push(ops.next("metrics").await);
    }
    let spread = started.elapsed();
    assert!(
        spread >= Duration::from_millis(1500) && spread < Duration::from_secs(5),
        "3 pushes took {spread:?}"
    );
    let times: Vec<u64> = samples
        .iter()
        .map(|s| s["time"].as_u64().expect("time"))
        .collect();
    assert!(
        times.windows(2).all(|w| w[1] > w[0] + 500),
        "one push a second: {times:?}"
    );
    let last = samples.last().expect("a sample");
    assert_eq!(last["connections"], 1);
    assert_eq!(last["rooms"], 1);
    assert_eq!(last["players"], 1);
    assert!(last["ticks_per_s"].as_f64().expect("rate") > 20.0, "{last}");
    assert!(
        last["bytes_out_per_s"].as_f64().expect("rate") > 1000.0,
        "{last}"
    );
    assert!(
        last["tick_ms"]["p99"].as_f64().expect("p99") > 0.0,
        "{last}"
    );
    assert!(
        samples
            .iter()
            .any(|s| s["inputs_per_s"].as_f64() > Some(0.0)),
        "the inputs show as a rate"
    );

    let stats: Value = ops.ack("stats", json!({})).await;
    assert_eq!(stats["ok"], true, "{stats}");
    assert_eq!(stats["connections"], 1);
    let room = &stats["rooms_detail"][0];
    assert_eq!(room["id"], join.room.id.as_str());
    assert_eq!(room["members"][0]["name"], "ana");
    assert_eq!(room["members"][0]["player_id"], join.player_id);
    assert_eq!(room["members"][0]["connected"], true);
    assert_eq!(stats["errors_by_code"]["bad_request"], 0);
    server.stop().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_closes_rooms_and_kicks_players() {
    let server = with_admin().await;
    let ops = admin(&server.url, json!({"token": TOKEN}))
        .await
        .expect("admin connects");
    let ana = TestClient::connect(&server.url, "ana").await;
    let mut bob = TestClient::connect(&server.url, "bob").await;
    let ana_join = ana.quick_join().await;
    let bob_join = bob.quick_join().await;
    assert_eq!(ana_join.room.id, bob_join.room.id);

    let kicked: Value = ops
        .ack("player:kick", json!({"player_id": ana_join.player_id}))
        .await;
    assert_eq!(kicked, json!({"ok": true}));
    let left: Value = bob.next(events::PLAYER_LEFT).await;
    assert_eq!(
        left,
        json!({"player_id": ana_join.player_id, "reason": "kicked"})
    );
    assert!(
        eventually(WAIT, || !ana.client.is_connected()).await,
        "the kicked connection is closed"
    );
    assert!(eventually(WAIT, || server.handle.hub.directory().counts().players == 1).await);

    for (event, payload, code) in [
        (
            "player:kick",
            json!({"player_id": 999_999}),
            "player_not_found",
        ),
        ("player:kick", json!({"player_id": "ana"}), "bad_request"),
        (
            "room:close",
            json!({"room_id": "nosuchrm"}),
            "room_not_found",
        ),
        ("room:close", json!({}), "bad_request"),
    ] {
        let ack: Value = ops.ack(event, payload.clone()).await;
        assert_eq!(ack["ok"], false, "{event} {payload}");
        assert_eq!(ack["error"]["code"], code, "{event} {payload}: {ack}");
    }

    let closed: Value = ops
        .ack("room:close", json!({"room_id": bob_join.room.id}))
        .await;
    assert_eq!(closed, json!({"ok": true}));
    let event = bob.next_event(events::ROOM_CLOSED).await;
    let closed: RoomClosed = decode_value(event.args[0].clone()).expect("room:closed shape");
    assert_eq!(closed.room_id, bob_join.room.id);
    assert_eq!(serde_json::to_value(closed.reason).expect("json"), "admin");
    assert!(eventually(WAIT, || server.handle.hub.directory().counts().rooms == 0).await);
    // Bob keeps his connection and can play on.
    assert!(bob.client.is_connected());
    bob.quick_join().await;
    server.stop().await.expect("clean shutdown");
}
