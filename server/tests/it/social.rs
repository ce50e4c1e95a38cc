//! Whispers, the typing indicator and presence over real sockets, with both Socket.IO parsers
//! (cross-node behaviour is in `cluster.rs`).

use serde_json::{Value, json};
use tickstorm_bot_client::ParserKind;
use tickstorm_server::config::ParserKind as ServerParser;
use tickstorm_shared::protocol::events;

use crate::support::{TestClient, TestServer, WAIT};

async fn create(client: &TestClient) -> String {
    let ack: Value = client.ack(events::ROOM_CREATE, json!({})).await;
    assert_eq!(ack["ok"], true, "{ack}");
    ack["room"]["id"].as_str().expect("room id").to_owned()
}

async fn join(client: &TestClient, room: &str) -> u64 {
    let ack: Value = client
        .ack(events::ROOM_JOIN, json!({ "room_id": room }))
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    ack["player_id"].as_u64().expect("player id")
}

/// The names of the events `client` got until (and without) the next `chat`, which some
/// member broadcasts after the step under test: what the step sent to `client` came first.
async fn events_before_next_chat(client: &mut TestClient) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        let event = tokio::time::timeout(WAIT, client.events.recv())
            .await
            .expect("an event within WAIT")
            .expect("the connection is open");
        if event.name == events::CHAT {
            return seen;
        }
        if event.name != events::SNAPSHOT {
            seen.push(event.name);
        }
    }
}

/// `lobby:online` once it counts `players`: the counts are the room list the driver publishes
/// after each batch of work, which can trail a join or leave ack by a moment.
async fn online_when(client: &TestClient, players: u64) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let online: Value = client.ack(events::LOBBY_ONLINE, json!({})).await;
        if online["players"] == players || tokio::time::Instant::now() > deadline {
            assert_eq!(online["players"], players, "{online}");
            return online;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// `client`'s whisper `payload` is refused with `code` and a message.
async fn refused(client: &TestClient, payload: Value, code: &str) {
    let ack: Value = client.ack(events::CHAT_WHISPER, payload.clone()).await;
    assert_eq!(ack["ok"], false, "{payload}: {ack}");
    assert_eq!(ack["error"]["code"], code, "{payload}: {ack}");
    assert!(
        ack["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{ack}"
    );
}

async fn whispers_typing_and_presence(parser: ParserKind) {
    let server = TestServer::start(|c| {
        c.parser = match parser {
            ParserKind::Common => ServerParser::Common,
            ParserKind::MsgPack => ServerParser::Msgpack,
        };
        // Many whispers in a row; the shared chat limit has its own test below.
        c.chat_rate = 100.0;
    })
    .await;
    let connect = |name: &'static str| TestClient::connect_with(&server.url, name, parser);
    let mut ana = connect("ana").await;
    let mut bob = connect("bob").await;
    let mut cid = connect("cid").await;
    let dan = connect("dan").await;
    let eve = connect("eve").await;
    let room = create(&ana).await;
    let ana_id = join(&ana, &room).await;
    let bob_id = join(&bob, &room).await;
    join(&cid, &room).await;
    let other_room = create(&dan).await;
    let dan_id = join(&dan, &other_room).await;

    // A whisper reaches its one member, with the sender's id and name; nobody else hears it.
    let ack: Value = ana
        .ack(
            events::CHAT_WHISPER,
            json!({"to": bob_id, "text": " psst "}),
        )
        .await;
    assert_eq!(ack, json!({"ok": true}));
    let whisper: Value = bob.next(events::CHAT_WHISPER).await;
    assert_eq!(
        (&whisper["player_id"], &whisper["name"], &whisper["text"]),
        (&json!(ana_id), &json!("ana"), &json!("psst"))
    );
    assert!(whisper["time"].as_u64() > Some(0), "{whisper}");
    let ok: Value = ana.ack(events::CHAT, json!({"text": "all"})).await;
    assert_eq!(ok["ok"], true, "{ok}");
    assert!(
        !events_before_next_chat(&mut cid)
            .await
            .contains(&events::CHAT_WHISPER.to_owned()),
        "cid must not get ana's whisper to bob"
    );
    assert!(
        !events_before_next_chat(&mut ana)
            .await
            .contains(&events::CHAT_WHISPER.to_owned()),
        "the sender gets an ack, not the whisper"
    );

    // Refusals, each with its code.
    // dan is seated, but in another room.
    refused(
        &ana,
        json!({"to": dan_id, "text": "hi"}),
        "player_not_found",
    )
    .await;
    refused(
        &ana,
        json!({"to": 999_999, "text": "hi"}),
        "player_not_found",
    )
    .await;
    refused(&ana, json!({"to": ana_id, "text": "me"}), "bad_request").await;
    refused(&ana, json!({"to": bob_id, "text": "   "}), "bad_request").await;
    refused(
        &ana,
        json!({"to": bob_id, "text": "a\u{7}b"}),
        "bad_request",
    )
    .await;
    refused(&ana, json!({"to": "bob", "text": "hi"}), "bad_request").await;
    refused(&ana, json!({"text": "hi"}), "bad_request").await;
    let unseated: Value = eve
        .ack(events::CHAT_WHISPER, json!({"to": bob_id, "text": "hi"}))
        .await;
    assert_eq!(unseated["error"]["code"], "not_in_room", "{unseated}");

    // Typing goes to the rest of the room, not back to the typist.
    let ack: Value = ana.ack(events::CHAT_TYPING, json!({"typing": true})).await;
    assert_eq!(ack, json!({"ok": true}));
    for member in [&mut bob, &mut cid] {
        let typing: Value = member.next(events::PLAYER_TYPING).await;
        assert_eq!(typing, json!({"player_id": ana_id, "typing": true}));
    }
    let ack: Value = ana.ack(events::CHAT_TYPING, json!({"typing": false})).await;
    assert_eq!(ack["ok"], true, "{ack}");
    let typing: Value = bob.next(events::PLAYER_TYPING).await;
    assert_eq!(typing["typing"], false, "{typing}");
    let ok: Value = bob.ack(events::CHAT, json!({"text": "sync"})).await;
    assert_eq!(ok["ok"], true, "{ok}");
    assert!(
        !events_before_next_chat(&mut ana)
            .await
            .contains(&events::PLAYER_TYPING.to_owned()),
        "the typist is not told about itself"
    );
    let bad: Value = ana.ack(events::CHAT_TYPING, json!({"typing": "yes"})).await;
    assert_eq!(bad["error"]["code"], "bad_request", "{bad}");
    let unseated: Value = eve.ack(events::CHAT_TYPING, json!({"typing": true})).await;
    assert_eq!(unseated["error"]["code"], "not_in_room", "{unseated}");

    // Presence: 4 seated (3 + 1), 5 connections, every hosted game listed.
    let online = online_when(&eve, 4).await;
    assert_eq!(online["ok"], true, "{online}");
    assert_eq!(online["connections"], 5, "{online}");
    assert_eq!(online["games"]["orbs"], 4, "{online}");
    assert_eq!(online["games"]["blasters"], 0, "{online}");

    // A member who left is not whispered to any more.
    let ok: Value = bob.ack(events::ROOM_LEAVE, json!({})).await;
    assert_eq!(ok["ok"], true, "{ok}");
    refused(
        &ana,
        json!({"to": bob_id, "text": "still there?"}),
        "player_not_found",
    )
    .await;
    // `room:leave` is acked before the driver frees the seat; the count follows right after.
    let online = online_when(&eve, 3).await;
    assert_eq!(online["games"]["orbs"], 3, "{online}");
    server.stop().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whispers_typing_and_presence_with_the_default_parser() {
    whispers_typing_and_presence(ParserKind::Common).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whispers_typing_and_presence_with_the_msgpack_parser() {
    whispers_typing_and_presence(ParserKind::MsgPack).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whispers_share_the_chat_rate_limit() {
    let server = TestServer::start_default().await;
    let ana = TestClient::connect(&server.url, "ana").await;
    let bob = TestClient::connect(&server.url, "bob").await;
    let room = create(&ana).await;
    join(&ana, &room).await;
    let bob_id = join(&bob, &room).await;
    // Chat allows a burst of 3 then 1 a second: the fourth whisper at once is refused.
    let mut codes = Vec::new();
    for i in 0..4 {
        let ack: Value = ana
            .ack(
                events::CHAT_WHISPER,
                json!({"to": bob_id, "text": format!("{i}")}),
            )
            .await;
        codes.push(ack["error"]["code"].as_str().unwrap_or("ok").to_owned());
    }
    assert_eq!(codes, ["ok", "ok", "ok", "rate_limited"]);
    server.stop().await.expect("clean shutdown");
}
