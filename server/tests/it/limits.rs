//! Per-connection rate limits over real sockets: a flood is answered `rate_limited` without
//! touching anyone else's game, and a connection that keeps flooding is told why and closed.

use serde_json::{Value, json};
use tickstorm_shared::protocol::events;

use crate::support::{TestClient, TestServer, WAIT, eventually};

fn code(ack: &Value) -> &str {
    ack["error"]["code"].as_str().unwrap_or("ok")
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
    // overflow it; while they are handled the bucket refills at 60/s, so the bound on what is
    // accepted depends on how long that took, which is measured rather than assumed. (Not more
    // than 100: each connection's outgoing queue holds 128 packets, acks and snapshots together,
    // and a client that sends faster than it reads loses what overflows.)
    let started = std::time::Instant::now();
    let payloads: Vec<Value> = (1..=100u32)
        .map(|seq| json!({"seq": seq, "move": [1, 0]}))
        .collect();
    let acks = futures_util::future::join_all(
        payloads
            .iter()
            .map(|p| flooder.client.emit_with_ack(events::INPUT, p, WAIT)),
    )
    .await;
    let refill = 60.0 * started.elapsed().as_secs_f64();
    let (mut accepted, mut limited) = (0u32, 0usize);
    for ack in acks {
        let ack: Value = tickstorm_bot_client::decode_value(ack.expect("ack")).expect("json");
        match code(&ack) {
            "ok" => accepted += 1,
            "rate_limited" => limited += 1,
            other => panic!("unexpected {other}: {ack}"),
        }
    }
    assert!(
        accepted >= 60 && f64::from(accepted) <= 61.0 + refill,
        "{accepted} accepted, {limited} limited, refill {refill:.1}"
    );
    assert_eq!(accepted as usize + limited, 100);
    assert!(limited > 0);
    let error: Value = flooder
        .ack(events::INPUT, json!({"seq": 999, "move": [0, 0]}))
        .await;
    assert!(
        error["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("slow down")),
        "{error}"
    );

    // The victim's game went on: its own input is acked and applied, snapshots keep coming.
    let ack: Value = victim
        .ack(events::INPUT, json!({"seq": 1, "move": [0, 1]}))
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    victim.drain();
    let first = victim.next_snapshot().await.tick;
    let later = victim.snapshot_where(|s| s.tick >= first + 10).await;
    assert!(later.players.iter().any(|p| p.last_input_seq == 1));
    assert!(
        server
            .handle
            .metrics
            .errors_by_code()
            .contains(&("rate_limited", (chat.len() - 3 + limited + 1) as u64))
    );
    assert!(
        flooder.client.is_connected(),
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
