//! Limits over real sockets: a flood is answered `rate_limited` without touching anyone else's
//! game, a connection that keeps flooding is told why and closed, and connections beyond the
//! server's or one address's limit are refused with `server_full` (and their slots come back).

use serde_json::{Value, json};
use tickstorm_bot_client::{Client, ClientConfig};
use tickstorm_shared::protocol::events;

use crate::support::{TestClient, TestServer, WAIT, eventually, refusal};

fn code(ack: &Value) -> &str {
    ack["error"]["code"].as_str().unwrap_or("ok")
}

/// What a flood of 100 inputs sent at once got.
#[derive(Debug)]
struct Flood {
    accepted: u32,
    limited: usize,
    /// From before the first was sent to after the last answer.
    took: std::time::Duration,
}

/// Sends 100 inputs at once and sorts the answers; every one must be `ok` or `rate_limited`.
/// (Not more than 100: each connection's outgoing queue holds 128 packets, acks and snapshots
/// together, and a client that sends faster than it reads loses what overflows.)
async fn flood_inputs(flooder: &TestClient) -> Flood {
    let payloads: Vec<Value> = (1..=100u32)
        .map(|seq| json!({"seq": seq, "move": [1, 0]}))
        .collect();
    let started = std::time::Instant::now();
    let acks = futures_util::future::join_all(
        payloads
            .iter()
            .map(|p| flooder.client.emit_with_ack(events::INPUT, p, WAIT)),
    )
    .await;
    let took = started.elapsed();
    let (mut accepted, mut limited) = (0u32, 0usize);
    for ack in acks {
        let ack: Value = tickstorm_bot_client::decode_value(ack.expect("ack")).expect("json");
        match code(&ack) {
            "ok" => accepted += 1,
            "rate_limited" => {
                // The refusal says what to do about it.
                assert!(
                    ack["error"]["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("slow down")),
                    "{ack}"
                );
                limited += 1;
            }
            other => panic!("unexpected {other}: {ack}"),
        }
    }
    assert_eq!(accepted as usize + limited, 100);
    Flood {
        accepted,
        limited,
        took,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_and_input_floods_are_answered_rate_limited_and_others_play_on() {
    let server = TestServer::start_default().await;
    let mut victim = TestClient::connect(&server.url, "victim").await;
    let flooder = TestClient::connect(&server.url, "flooder").await;
    victim.quick_join().await;
    flooder.quick_join().await;

    // Chat: a burst of 3, then one a second.
    let mut chat = Vec::new();
    for n in 0..6 {
        let ack: Value = flooder
            .ack(events::CHAT, json!({"text": format!("spam {n}")}))
            .await;
        chat.push(code(&ack).to_owned());
    }
    assert_eq!(chat[..3], ["ok", "ok", "ok"]);
    assert!(chat[3..].iter().all(|c| c == "rate_limited"), "{chat:?}");

    // Inputs: twice the tick rate with a second of burst (60 at 30 Hz). 100 sent at once
    // overflow it. While they are handled the bucket refills at 60/s, so at most 60 + 60 x the
    // flood's duration (measured around it, so an overestimate; one token of slack for rounding)
    // can be accepted. That bound says something only while it is well under 100: a flood that
    // took longer than `FAST` (bound 85) proves too little, so on a machine loaded enough for
    // that a fresh flooder tries again (this one's strikes take seconds to be forgiven). A
    // normal flood takes a few tens of milliseconds.
    const FAST: std::time::Duration = std::time::Duration::from_millis(400);
    const TRIES: usize = 5;
    let mut flooders = vec![flooder];
    let mut limited = 0;
    let mut slow = Vec::new();
    loop {
        let flood = flood_inputs(flooders.last().expect("a flooder")).await;
        limited += flood.limited;
        if flood.took < FAST {
            let bound = 61.0 + 60.0 * flood.took.as_secs_f64();
            assert!(
                flood.accepted >= 60 && f64::from(flood.accepted) <= bound,
                "{flood:?}: at most {bound:.1} may be accepted"
            );
            assert!(flood.limited > 0);
            break;
        }
        slow.push(flood.took);
        assert!(
            slow.len() < TRIES,
            "no flood of 100 inputs took less than {FAST:?} in {TRIES} tries: {slow:?}"
        );
        let fresh = TestClient::connect(&server.url, "flooder").await;
        fresh.quick_join().await;
        flooders.push(fresh);
    }
    let flooder = flooders.last().expect("a flooder");
    // The flooder is still connected and answered: limited while its bucket is empty, accepted
    // once it has refilled (how long the flood took decides which, so both are right).
    let after: Value = flooder
        .ack(events::INPUT, json!({"seq": 999, "move": [0, 0]}))
        .await;
    assert!(matches!(code(&after), "ok" | "rate_limited"), "{after}");
    let limited_after = usize::from(code(&after) == "rate_limited");

    // The victim's game went on: its own input is acked and applied, snapshots keep coming.
    let ack: Value = victim
        .ack(events::INPUT, json!({"seq": 1, "move": [0, 1]}))
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    victim.drain();
    let first = victim.next_snapshot().await.tick;
    let later = victim.snapshot_where(|s| s.tick >= first + 10).await;
    assert!(later.players.iter().any(|p| p.last_input_seq == 1));
    assert!(server.handle.metrics.errors_by_code().contains(&(
        "rate_limited",
        (chat.len() - 3 + limited + limited_after) as u64
    )));
    assert!(
        flooders.iter().all(|f| f.client.is_connected()),
        "bursts are refused, not punished"
    );
    server.stop().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_keeps_flooding_is_told_why_and_closed() {
    let server = TestServer::start(|c| c.abuse_strikes = 20.0).await;
    let mut flooder = TestClient::connect(&server.url, "flooder").await;
    let bystander = TestClient::connect(&server.url, "bystander").await;
    flooder.quick_join().await;
    bystander.quick_join().await;
    // Fire and forget: a real flooder does not wait for acks.
    for n in 0..200 {
        if flooder
            .client
            .emit(events::CHAT, &json!({"text": format!("spam {n}")}))
            .is_err()
        {
            break;
        }
    }
    let notice: Value = flooder.next("connection:closing").await;
    assert_eq!(notice["reason"], "rate_limited", "{notice}");
    assert!(
        notice["message"]
            .as_str()
            .is_some_and(|m| m.contains("chat")),
        "{notice}"
    );
    assert!(
        eventually(WAIT, || !flooder.client.is_connected()).await,
        "the flooder is disconnected"
    );
    // Its seat is held like any dropped connection; the bystander is untouched.
    assert!(bystander.client.is_connected());
    let ack: Value = bystander
        .ack(events::CHAT, json!({"text": "still here"}))
        .await;
    assert_eq!(ack["ok"], true);
    server.stop().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_refuses_connections_beyond_its_limit_and_frees_slots() {
    let server = TestServer::start(|c| c.max_connections = 3).await;
    let mut players = Vec::new();
    for n in 0..3 {
        players.push(TestClient::connect(&server.url, &format!("p{n}")).await);
    }
    let config = ClientConfig::new(&server.url, "/game").with_auth(json!({"name": "fourth"}));
    let message = refusal(Client::connect(config.clone()).await);
    assert!(message.starts_with("server_full"), "{message}");
    players.pop().expect("a player").client.close().await;
    assert!(eventually(WAIT, || server.handle.admission.counts().0 == 2).await);
    let (fourth, _events) = Client::connect(config).await.expect("a slot came back");
    fourth.close().await;
    for p in players {
        p.client.close().await;
    }
    assert!(
        eventually(WAIT, || server.handle.admission.counts() == (0, 0)).await,
        "every slot is given back: {:?}",
        server.handle.admission.counts()
    );
    server.stop().await.expect("clean shutdown");
}

/// `--max-rooms`: at the limit, a `room:create`, and a quick match that finds no free seat and
/// would need a new room, are answered `server_full` and change nothing; the open rooms play on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_room_limit_answers_server_full_and_the_open_rooms_play_on() {
    let server = TestServer::start(|c| c.max_rooms = 2).await;
    let mut players = Vec::new();
    let mut rooms = Vec::new();
    for name in ["ana", "bob"] {
        let player = TestClient::connect(&server.url, name).await;
        // One seat each: once both are taken, no room has a free seat.
        let created: Value = player
            .ack(events::ROOM_CREATE, json!({"max_players": 1}))
            .await;
        assert_eq!(created["ok"], true, "{created}");
        let room_id = created["room"]["id"].as_str().expect("room id").to_owned();
        let joined: Value = player
            .ack(events::ROOM_JOIN, json!({"room_id": room_id}))
            .await;
        assert_eq!(joined["ok"], true, "{joined}");
        rooms.push(room_id);
        players.push(player);
    }

    let cid = TestClient::connect(&server.url, "cid").await;
    let third: Value = cid.ack(events::ROOM_CREATE, json!({})).await;
    assert_eq!(code(&third), "server_full", "{third}");
    assert!(
        third["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("maximum of 2 rooms")),
        "{third}"
    );
    let quick: Value = cid.ack(events::ROOM_JOIN, json!({})).await;
    assert_eq!(code(&quick), "server_full", "{quick}");
    assert!(
        server
            .handle
            .metrics
            .errors_by_code()
            .contains(&("server_full", 2))
    );

    // Nothing changed: the same two rooms with one player each, and cid holds no seat.
    let lobby: Value = cid.ack(events::LOBBY_LIST, json!({})).await;
    let listed: Vec<(&str, u64)> = lobby["rooms"]
        .as_array()
        .expect("rooms")
        .iter()
        .map(|r| {
            let id = r["id"].as_str().unwrap_or_default();
            (id, r["players"].as_u64().unwrap_or_default())
        })
        .collect();
    assert_eq!(listed, [(rooms[0].as_str(), 1), (rooms[1].as_str(), 1)]);
    let unseated: Value = cid.ack(events::CHAT, json!({"text": "hi"})).await;
    assert_eq!(code(&unseated), "not_in_room", "{unseated}");

    // The open rooms play on: each player's input is acked and shows in its room's snapshots.
    for player in &mut players {
        let ack: Value = player
            .ack(events::INPUT, json!({"seq": 1, "move": [1, 0]}))
            .await;
        assert_eq!(ack["ok"], true, "{ack}");
        player
            .snapshot_where(|s| s.players.iter().any(|p| p.last_input_seq == 1))
            .await;
    }
    server.stop().await.expect("clean shutdown");
}

/// Opens a raw WebSocket claiming to come from `ip` (through a trusted proxy) and asks for
/// `/game`; returns the server's answer to the CONNECT packet.
async fn connect_from(url: &str, ip: &str) -> (WebSocket, String) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};
    let ws_url = format!(
        "{}/socket.io/?EIO=4&transport=websocket",
        url.replace("http", "ws")
    );
    let mut request = ws_url.into_client_request().expect("request");
    request
        .headers_mut()
        .insert("x-forwarded-for", ip.parse().expect("header value"));
    let (mut ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("websocket");
    let _open = ws.next().await.expect("open packet").expect("frame");
    ws.send(Message::text("40/game,{\"name\":\"proxied\"}"))
        .await
        .expect("send");
    loop {
        let frame = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("an answer in time")
            .expect("frame")
            .expect("frame ok");
        if let Message::Text(text) = frame
            && text.starts_with("4")
            && !text.starts_with("42")
        {
            return (ws, text.to_string());
        }
    }
}

type WebSocket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_per_address_are_limited_behind_a_trusted_proxy() {
    let server = TestServer::start(|c| {
        c.max_connections_per_ip = 2;
        c.trust_proxy = true;
    })
    .await;
    let (a1, first) = connect_from(&server.url, "203.0.113.7").await;
    let (_a2, second) = connect_from(&server.url, "203.0.113.7").await;
    assert!(first.starts_with("40/game,{\"sid\"") && second.starts_with("40/game,{\"sid\""));
    let (_a3, third) = connect_from(&server.url, "203.0.113.7").await;
    assert!(
        third.starts_with("44/game,") && third.contains("too many connections from your address"),
        "{third}"
    );
    let (_b, other) = connect_from(&server.url, "198.51.100.1").await;
    assert!(
        other.starts_with("40/game,{\"sid\""),
        "another address is let in: {other}"
    );
    drop(a1);
    assert!(
        eventually(WAIT, || server.handle.admission.counts().0 == 2).await,
        "the dropped connection's slot is free: {:?}",
        server.handle.admission.counts()
    );
    let (_a4, again) = connect_from(&server.url, "203.0.113.7").await;
    assert!(again.starts_with("40/game,{\"sid\""), "{again}");
    server.stop().await.expect("clean shutdown");
}
