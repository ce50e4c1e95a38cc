//! Several games on one server: the orb arena (default) and tag, over real sockets.

use serde_json::{Value, json};
use tickstorm_server::Games;
use tickstorm_shared::protocol::{JoinAck, events};
use tickstorm_shared::{Field, Snapshot};

use crate::support::{TestClient, TestServer};

fn orbs_and_tag() -> Games {
    Games::default()
        .with(tickstorm_example_tag::Tag)
        .expect("a second, distinct game")
}

fn code(ack: &Value) -> &str {
    ack["error"]["code"].as_str().unwrap_or("ok")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_of_two_games_run_side_by_side_and_say_which_game_they_play() {
    let server = TestServer::start_games(orbs_and_tag(), |_| {}).await;
    let health: Value =
        serde_json::from_slice(&crate::http::get(&server.url, "/healthz", &[]).await.body)
            .expect("JSON health");
    assert_eq!(
        health["games"],
        json!(["orbs", "blasters", "tag"]),
        "{health}"
    );

    let mut ana = TestClient::connect(&server.url, "ana").await;
    let created: Value = ana
        .ack(events::ROOM_CREATE, json!({"game": "tag", "name": "chase"}))
        .await;
    assert_eq!(created["room"]["game"], "tag", "{created}");
    let tag_room = created["room"]["id"].as_str().expect("room id").to_owned();
    let join: JoinAck = ana.ack(events::ROOM_JOIN, json!({"game": "tag"})).await;
    assert_eq!(
        join.room.id, tag_room,
        "quick match by game finds the tag room"
    );
    assert_eq!(join.kinds.len(), 1);
    assert_eq!(join.kinds[0].name, "runner");
    assert_eq!(join.kinds[0].fields, ["x", "y", "it"]);

    let ack: Value = ana
        .ack(events::INPUT, json!({"seq": 1, "move": [1, 0]}))
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    let bad: Value = ana
        .ack(events::INPUT, json!({"seq": 2, "move": [1, "x"]}))
        .await;
    assert_eq!(code(&bad), "bad_request", "{bad}");

    // Tag's snapshots: the framework's envelope and tag's one table, the runner row of ana.
    let mut seen = None;
    for _ in 0..60 {
        let event = ana.next_event(events::SNAPSHOT).await;
        let Some(rmpv::Value::Binary(bytes)) = event.args.first() else {
            panic!("snapshot is not binary");
        };
        let snapshot = Snapshot::decode(bytes).expect("decodes");
        let me = snapshot
            .player(join.player_id)
            .copied()
            .expect("in the envelope");
        if me.last_input_seq == 1 {
            seen = Some((snapshot.clone(), me));
            break;
        }
    }
    let (snapshot, me) = seen.expect("the input was applied within 60 ticks");
    assert_eq!(snapshot.kinds.len(), 1);
    let runner = snapshot.entity(0, me.net_id).expect("ana's runner");
    assert_eq!(runner.fields.len(), 3);
    assert_eq!(runner.fields[2], Field::Bool(true), "the only runner is it");

    // The orb arena is still the default game, and the lobby lists both.
    let mut bo = TestClient::connect(&server.url, "bo").await;
    let orbs = bo.quick_join().await;
    assert_eq!(orbs.room.game, "orbs");
    assert_ne!(orbs.room.id, tag_room);
    let lobby: Value = bo.ack(events::LOBBY_LIST, json!({})).await;
    let mut games: Vec<&str> = lobby["rooms"]
        .as_array()
        .expect("rooms")
        .iter()
        .filter_map(|r| r["game"].as_str())
        .collect();
    games.sort_unstable();
    assert_eq!(games, ["orbs", "tag"], "{lobby}");
    let orb_room = lobby["rooms"]
        .as_array()
        .expect("rooms")
        .iter()
        .find(|r| r["game"] == "orbs")
        .expect("orb room");
    assert!(orb_room["metadata"]["top_score"].is_u64(), "{orb_room}");
    bo.drain();
    ana.drain();
    server.stop().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_games_bad_options_and_mismatched_rooms_are_refused_clearly() {
    let server = TestServer::start_games(orbs_and_tag(), |_| {}).await;
    let player = TestClient::connect(&server.url, "cy").await;
    let ack: Value = player
        .ack(events::ROOM_CREATE, json!({"game": "chess"}))
        .await;
    assert_eq!(code(&ack), "game_not_found", "{ack}");
    assert!(
        ack["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("chess")),
        "{ack}"
    );
    let ack: Value = player
        .ack(events::ROOM_JOIN, json!({"game": "chess"}))
        .await;
    assert_eq!(code(&ack), "game_not_found", "{ack}");
    let ack: Value = player
        .ack(events::ROOM_CREATE, json!({"options": {"orbs": 99}}))
        .await;
    assert_eq!(
        code(&ack),
        "bad_request",
        "the orb arena takes no options: {ack}"
    );
    let created: Value = player
        .ack(events::ROOM_CREATE, json!({"game": "tag"}))
        .await;
    let room = created["room"]["id"].clone();
    let ack: Value = player
        .ack(events::ROOM_JOIN, json!({"room_id": room, "game": "orbs"}))
        .await;
    assert_eq!(code(&ack), "bad_request", "{ack}");
    assert_eq!(
        server.handle.hub.directory().counts().players,
        0,
        "nothing changed"
    );
    server.stop().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blasters_is_hosted_by_default_with_checked_options_and_input() {
    let server = TestServer::start(|_| {}).await;
    let mut ana = TestClient::connect(&server.url, "ana").await;
    let ack: Value = ana
        .ack(
            events::ROOM_CREATE,
            json!({"game": "blasters", "options": {"round_seconds": 4}}),
        )
        .await;
    assert_eq!(code(&ack), "bad_request", "{ack}");
    assert!(
        ack["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("round_seconds")),
        "the message names the option: {ack}"
    );
    let created: Value = ana
        .ack(
            events::ROOM_CREATE,
            json!({"game": "blasters", "options": {"round_seconds": 30, "warmup_seconds": 0}}),
        )
        .await;
    assert_eq!(created["room"]["game"], "blasters", "{created}");
    assert_eq!(
        created["room"]["metadata"],
        json!({"phase": "warmup", "round": 1, "top_score": 0})
    );
    let join: JoinAck = ana
        .ack(events::ROOM_JOIN, json!({"game": "blasters"}))
        .await;
    assert_eq!(join.room.id, created["room"]["id"]);
    let kinds: Vec<&str> = join.kinds.iter().map(|k| k.name.as_str()).collect();
    assert_eq!(kinds, ["fighter", "bolt", "round"]);
    assert_eq!(
        join.kinds[0].fields,
        ["x", "y", "aim", "health", "score", "respawn"]
    );

    let ack: Value = ana
        .ack(
            events::INPUT,
            json!({"seq": 1, "move": [0, 1], "aim": 1.0, "fire": true}),
        )
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    for bad in [
        json!({"seq": 2, "move": [0, 1]}),
        json!({"seq": 2, "move": [0, 1], "aim": "up"}),
        json!({"seq": 2, "move": [0, 1], "aim": 0, "fire": "yes"}),
    ] {
        let ack: Value = ana.ack(events::INPUT, bad.clone()).await;
        assert_eq!(code(&ack), "bad_request", "{bad} -> {ack}");
    }
    // Alone in warm-up: the input is applied (the fighter turns) but nothing is fired.
    let mut applied = None;
    for _ in 0..60 {
        let event = ana.next_event(events::SNAPSHOT).await;
        let Some(rmpv::Value::Binary(bytes)) = event.args.first() else {
            panic!("snapshot is not binary");
        };
        let view = tickstorm_blasters::BlastersView::decode(bytes).expect("a blasters snapshot");
        if view
            .fighter(join.player_id)
            .is_some_and(|f| f.last_input_seq == 1)
        {
            applied = Some(view);
            break;
        }
    }
    let view = applied.expect("the input was applied within 60 ticks");
    let me = view.fighter(join.player_id).expect("seated");
    assert_eq!((me.aim, me.health), (1.0, 100));
    assert_eq!(view.round.phase, tickstorm_blasters::Phase::WarmUp);
    assert!(view.bolts.is_empty(), "no firing in warm-up");
    ana.drain();
    server.stop().await.expect("clean shutdown");
}
