//! A client that stops reading must not hold anyone else up: its room keeps ticking and the
//! other players get every snapshot on time, and the heartbeat closes the stalled connection
//! (its seat is then held like any dropped one).

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tickstorm_shared::protocol::events;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{TestClient, TestServer, WAIT, eventually};

/// A raw WebSocket player seated in `room_id`, for the caller never to read again. With
/// `receive_buffer`, its socket's kernel receive buffer is that small (set before connecting, so
/// the TCP window is small from the start): the server's writes then back up within seconds
/// instead of filling megabytes of loopback buffers first.
async fn stalled_player(
    url: &str,
    room_id: &str,
    receive_buffer: Option<u32>,
) -> (WebSocketStream<TcpStream>, u64) {
    let addr: std::net::SocketAddr = url
        .trim_start_matches("http://")
        .parse()
        .expect("server address");
    let socket = TcpSocket::new_v4().expect("socket");
    if let Some(size) = receive_buffer {
        socket.set_recv_buffer_size(size).expect("SO_RCVBUF");
    }
    let tcp = socket.connect(addr).await.expect("connect");
    let ws_url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
    let (mut stalled, _) = tokio_tungstenite::client_async(ws_url, tcp)
        .await
        .expect("websocket");
    stalled
        .send(Message::text("40/game,{\"name\":\"stalled\"}"))
        .await
        .expect("connect");
    // Like every real client, wait for the namespace's CONNECT answer before emitting: an event
    // that arrives while socketioxide is still running the connect middleware finds no socket,
    // and socketioxide then closes the whole connection ("cannot find socketio socket"; a raw
    // client emitting at once lost that race in about 1 run in 5).
    loop {
        let frame = tokio::time::timeout(WAIT, stalled.next())
            .await
            .expect("CONNECT answered in time");
        match frame {
            Some(Ok(Message::Text(text))) if text.starts_with("40/game,") => break,
            Some(Ok(_)) => continue,
            other => panic!("the connection ended before CONNECT was answered: {other:?}"),
        }
    }
    stalled
        .send(Message::text(format!(
            "42/game,1[\"room:join\",{{\"room_id\":\"{room_id}\"}}]"
        )))
        .await
        .expect("join");
    loop {
        let frame = tokio::time::timeout(WAIT, stalled.next())
            .await
            .expect("ack in time");
        let text = match frame {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(_)) => continue,
            // Without this the loop would spin on a closed stream for ever.
            other => panic!("the connection ended before the join ack: {other:?}"),
        };
        if text.as_str() == "2" {
            // Until it is seated the client answers pings, so a loaded machine cannot get it
            // closed by the (short) heartbeat before the test even starts.
            stalled.send(Message::text("3")).await.expect("pong");
        } else if let Some(body) = text.strip_prefix("43/game,1") {
            let ack: Value = serde_json::from_str(body).expect("ack json");
            let id = ack[0]["player_id"].as_u64().expect("seated");
            return (stalled, id);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_stalls_nobody_and_is_closed_by_the_heartbeat() {
    let server = TestServer::start(|c| {
        c.ping_interval = Duration::from_millis(500);
        c.ping_timeout = Duration::from_millis(500);
    })
    .await;
    let mut healthy = TestClient::connect(&server.url, "healthy").await;
    let join = healthy.quick_join().await;

    let (stalled, stalled_id) = stalled_player(&server.url, &join.room.id, None).await;
    // From here on `stalled` is never polled: no pongs, no reads.

    // Read everything the healthy player gets for 60 snapshots (~2 s, past the heartbeat).
    healthy.drain();
    let mut ticks = Vec::new();
    let mut stamps = Vec::new();
    let mut left = None;
    while ticks.len() < 60 {
        let event = tokio::time::timeout(WAIT, healthy.events.recv())
            .await
            .expect("events keep coming")
            .expect("still connected");
        match event.name.as_str() {
            events::SNAPSHOT => {
                let Some(rmpv::Value::Binary(bytes)) = event.args.first() else {
                    panic!("snapshot is one binary argument");
                };
                let snapshot = tickstorm_orbs::OrbView::decode(bytes).expect("decodes");
                ticks.push(snapshot.tick);
                stamps.push(snapshot.server_time_ms);
            }
            events::PLAYER_LEFT => left = Some(event),
            _ => {}
        }
    }
    assert!(
        ticks.windows(2).all(|w| w[1] == w[0] + 1),
        "the room missed no tick: {ticks:?}"
    );
    let mut gaps: Vec<u64> = stamps.windows(2).map(|w| w[1] - w[0]).collect();
    gaps.sort_unstable();
    assert!(
        (25..=45).contains(&gaps[gaps.len() / 2]),
        "the room kept its pace: {gaps:?}"
    );

    // The heartbeat (here 0.5 s + 0.5 s) closed the stalled connection; the room was told.
    let left = match left {
        Some(event) => event,
        None => healthy.next_event(events::PLAYER_LEFT).await,
    };
    let left: Value = tickstorm_bot_client::decode_value(left.args[0].clone()).expect("json");
    assert_eq!(left["player_id"].as_u64(), Some(stalled_id));
    assert_eq!(left["reason"], "disconnected");
    assert!(eventually(WAIT, || server.handle.metrics.game_connections.get() == 1).await);
    assert!(healthy.client.is_connected());
    drop(stalled);
    server.stop().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_fills_its_queue_and_loses_packets_alone() {
    // A heartbeat far longer than the test: only the full queue can act on the stalled client.
    // The send buffer as small as Linux allows (it takes 4.6 KiB at least), so the kernel's part
    // fills in a fraction of a second and the queue's part is what the test watches.
    let server = TestServer::start(|c| {
        c.ping_interval = Duration::from_secs(300);
        c.ping_timeout = Duration::from_secs(300);
        c.tcp_send_buffer = 4096;
    })
    .await;
    let mut healthy = TestClient::connect(&server.url, "healthy").await;
    let join = healthy.quick_join().await;
    let (stalled, _) = stalled_player(&server.url, &join.room.id, Some(4096)).await;
    // From here on `stalled` is never polled.
    let dropped = || server.handle.metrics.packets_dropped.get();
    assert_eq!(dropped(), 0);

    // Follow the healthy player's stream until the stalled one's queue has overflowed: the
    // kernel buffers (a few KiB each side here), tungstenite's write buffer (128 KiB) and then
    // socketioxide's 128 packets, ~600 B snapshots at 30 Hz: under 15 s; bounded at 60 s. Then
    // one more second of ticks.
    healthy.drain();
    let mut ticks = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut overflowed_at = None;
    loop {
        if overflowed_at.is_none() && dropped() > 0 {
            overflowed_at = Some(ticks.len());
        }
        if overflowed_at.is_some_and(|at| ticks.len() >= at + 30) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stalled client's queue never overflowed ({} ticks followed)",
            ticks.len()
        );
        ticks.push(healthy.next_snapshot().await.tick);
    }
    assert!(
        ticks.windows(2).all(|w| w[1] == w[0] + 1),
        "the healthy player missed no tick while the other's queue was full: {ticks:?}"
    );
    // Every tick since the overflow was dropped for the stalled player: the count grows with
    // the ticks, one packet per tick (a margin of a few for the moment it was read).
    let after = dropped();
    assert!(after >= 25, "{after} packets dropped over 30 ticks");
    // Dropped, not disconnected: the stalled player keeps its seat (no player:left) and the
    // server its connection.
    assert_eq!(server.handle.metrics.game_connections.get(), 2);
    assert_eq!(server.handle.hub.directory().counts().players, 2);
    drop(stalled);
    server.stop().await.expect("clean shutdown");
}
