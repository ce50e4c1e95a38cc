//! The HTTP API for a studio's backend (`/api/...` with the admin token) over real loopback
//! sockets: off without a token, 401/403 on a missing or wrong one, rooms created, listed,
//! closed, players kicked, notices to a room and to everyone reaching real clients, bad bodies
//! answered 422, unknown rooms and players 404, and the shared rate limit 429.

use serde_json::{Value, json};
use tickstorm_server::config::AdminToken;
use tickstorm_shared::protocol::events;

use crate::http::{Reply, send};
use crate::support::{TestClient, TestServer};

const TOKEN: &str = "api-test-token";

/// A call with the right token.
async fn call(server: &TestServer, method: &str, path: &str, body: &str) -> (u16, Value) {
    let bearer = format!("Bearer {TOKEN}");
    json_reply(
        send(
            &server.url,
            method,
            path,
            &[("Authorization", &bearer)],
            body,
        )
        .await,
    )
}

fn json_reply(reply: Reply) -> (u16, Value) {
    let value = serde_json::from_slice(&reply.body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", reply.text()));
    (reply.status, value)
}

/// `(status, code)` of a refusal.
fn refusal((status, body): (u16, Value)) -> (u16, String) {
    assert_eq!(body["ok"], false, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    (
        status,
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_admin_token_the_api_is_not_there_and_never_acts() {
    let server = TestServer::start_default().await;
    let (status, body) = json_reply(send(&server.url, "POST", "/api/rooms", &[], "{}").await);
    assert_eq!(refusal((status, body)), (404, "not_found".into()));
    let with_any = send(
        &server.url,
        "POST",
        "/api/notice",
        &[("Authorization", "Bearer guess")],
        r#"{"text":"hi"}"#,
    )
    .await;
    assert_eq!(refusal(json_reply(with_any)), (404, "not_found".into()));
    let rooms: Value =
        serde_json::from_slice(&crate::http::get(&server.url, "/api/rooms", &[]).await.body)
            .expect("room list");
    assert_eq!(rooms, json!([]), "nothing was created");
    server.stop().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_creates_lists_notifies_kicks_and_closes() {
    let server = TestServer::start(|c| c.admin_token = Some(AdminToken::new(TOKEN))).await;

    // A missing or wrong token: refused, nothing done.
    let none = send(&server.url, "POST", "/api/rooms", &[], "{}").await;
    assert_eq!(refusal(json_reply(none)), (401, "unauthorized".into()));
    let wrong = send(
        &server.url,
        "POST",
        "/api/rooms",
        &[("Authorization", "Bearer not-the-token")],
        "{}",
    )
    .await;
    assert_eq!(refusal(json_reply(wrong)), (403, "forbidden".into()));

    // Bad bodies: 422 with the Socket.IO side's codes.
    for (body, code) in [
        (r#"{"max_players": 0}"#, "bad_request"),
        ("not json", "bad_request"),
        (r#"{"game": "chess"}"#, "game_not_found"),
        (r#"{"tick_rate": "fast"}"#, "bad_request"),
    ] {
        let answer = call(&server, "POST", "/api/rooms", body).await;
        assert_eq!(refusal(answer), (422, code.into()), "{body}");
    }
    let rooms: Value =
        serde_json::from_slice(&crate::http::get(&server.url, "/api/rooms", &[]).await.body)
            .expect("room list");
    assert_eq!(rooms, json!([]), "no refused call created a room");

    // Create, then players join it from real clients.
    let (status, created) = call(
        &server,
        "POST",
        "/api/rooms",
        r#"{"name": "Finals", "max_players": 4}"#,
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        (&created["room"]["name"], &created["room"]["max_players"]),
        (&json!("Finals"), &json!(4))
    );
    let room = created["room"]["id"].as_str().expect("id").to_owned();
    let mut ana = TestClient::connect(&server.url, "ana").await;
    let bob = TestClient::connect(&server.url, "bob").await;
    let mut eve = TestClient::connect(&server.url, "eve").await;
    let mut ids = Vec::new();
    for client in [&ana, &bob] {
        let ack: Value = client
            .ack(events::ROOM_JOIN, json!({"room_id": room}))
            .await;
        assert_eq!(ack["ok"], true, "{ack}");
        ids.push(ack["player_id"].clone());
    }
    let (status, listed) = call(&server, "GET", &format!("/api/rooms/{room}"), "").await;
    assert_eq!(status, 200, "{listed}");
    let names: Vec<&str> = listed["players"]
        .as_array()
        .expect("players")
        .iter()
        .map(|p| p["name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(names, ["ana", "bob"], "{listed}");
    assert_eq!(listed["players"][0]["player_id"], ids[0]);

    // Notices: to the room (ana hears it, eve does not), then to everyone (eve too).
    let (status, body) = call(
        &server,
        "POST",
        &format!("/api/rooms/{room}/notice"),
        r#"{"text": " restart in 5 min ", "level": "warning"}"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let notice: Value = ana.next(events::NOTICE).await;
    assert_eq!(
        notice,
        json!({"text": "restart in 5 min", "level": "warning"})
    );
    let (status, body) = call(&server, "POST", "/api/notice", r#"{"text": "hello all"}"#).await;
    assert_eq!(status, 200, "{body}");
    let notice: Value = eve.next(events::NOTICE).await;
    assert_eq!(
        notice,
        json!({"text": "hello all", "level": "info"}),
        "eve's first notice is the one to everyone: the room's did not reach her"
    );
    let notice: Value = ana.next(events::NOTICE).await;
    assert_eq!(notice["text"], "hello all");
    for (path, body, expected) in [
        ("/api/notice", r#"{"text": "   "}"#, (422, "bad_request")),
        (
            "/api/notice",
            r#"{"text": "x", "level": "loud"}"#,
            (422, "bad_request"),
        ),
        (
            "/api/notice",
            r#"{"text": "x", "colour": "red"}"#,
            (422, "bad_request"),
        ),
        (
            "/api/rooms/zzzzzzzz/notice",
            r#"{"text": "x"}"#,
            (404, "room_not_found"),
        ),
    ] {
        let answer = call(&server, "POST", path, body).await;
        assert_eq!(
            refusal(answer),
            (expected.0, expected.1.into()),
            "{path} {body}"
        );
    }

    // Kick bob: the room hears `kicked`; a second kick, or one of nobody, is a 404.
    let bob_path = format!("/api/rooms/{room}/players/{}", ids[1]);
    let (status, body) = call(&server, "DELETE", &bob_path, "").await;
    assert_eq!(status, 200, "{body}");
    let left: Value = ana.next(events::PLAYER_LEFT).await;
    assert_eq!(
        (&left["player_id"], &left["reason"]),
        (&ids[1], &json!("kicked"))
    );
    assert_eq!(
        refusal(call(&server, "DELETE", &bob_path, "").await),
        (404, "player_not_found".into())
    );
    let not_a_number = format!("/api/rooms/{room}/players/bob");
    assert_eq!(
        refusal(call(&server, "DELETE", &not_a_number, "").await),
        (422, "bad_request".into())
    );

    // Close: the players are told `admin`; the room is gone.
    let (status, body) = call(&server, "DELETE", &format!("/api/rooms/{room}"), "").await;
    assert_eq!(status, 200, "{body}");
    let closed: Value = ana.next(events::ROOM_CLOSED).await;
    assert_eq!(closed["reason"], "admin", "{closed}");
    for (method, path) in [
        ("DELETE", format!("/api/rooms/{room}")),
        ("GET", format!("/api/rooms/{room}")),
    ] {
        assert_eq!(
            refusal(call(&server, method, &path, "").await),
            (404, "room_not_found".into()),
            "{method} {path}"
        );
    }
    server.stop().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_is_rate_limited_before_the_token_is_checked() {
    let server = TestServer::start(|c| c.admin_token = Some(AdminToken::new(TOKEN))).await;
    // 20 calls a second with bursts of 40: 60 calls at once cannot all pass.
    let mut statuses = Vec::new();
    for _ in 0..60 {
        let reply = send(
            &server.url,
            "GET",
            "/api/rooms/zzzzzzzz",
            &[("Authorization", "Bearer wrong")],
            "",
        )
        .await;
        statuses.push(refusal(json_reply(reply)));
    }
    assert!(
        statuses[..30]
            .iter()
            .all(|s| *s == (403, "forbidden".to_owned())),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&(429, "rate_limited".to_owned())),
        "{statuses:?}"
    );
    server.stop().await.expect("clean shutdown");
}
