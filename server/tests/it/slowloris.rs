//! Connections that never speak (issue 21), played as an attacker would on loopback: half request
//! heads, silent connections, idle keep-alives, a WebSocket that never sends CONNECT, a flood
//! from one address (5,000 silent connections: the `flood` test binary). Each is closed within
//! its bound (and not before it: the bound is what closed it), honest players keep joining and
//! playing throughout, and every counter comes back down.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tickstorm_bot_client::{Client, ClientConfig};
use tickstorm_shared::protocol::events;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use crate::support::{
    EARLY, MARGIN, TestClient, TestServer, WAIT, assert_connections_gone, closed_by_server,
    eventually, refusal,
};

const HALF_HEAD: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n";

fn ip(text: &str) -> IpAddr {
    text.parse().expect("ip")
}

fn server_addr(server: &TestServer) -> SocketAddr {
    server
        .url
        .trim_start_matches("http://")
        .parse()
        .expect("server address")
}

/// A TCP connection to `server` from `local`; an error when the server reset it at once (the
/// reset can arrive before the connect call returns).
async fn try_open_from(server: SocketAddr, local: IpAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(local, 0))?;
    socket.connect(server).await
}

/// A player connected from `local`.
async fn player_from(url: &str, name: &str, local: IpAddr) -> TestClient {
    let config = ClientConfig::new(url, "/game")
        .with_auth(json!({ "name": name }))
        .with_local_ip(Some(local));
    let (client, events) = Client::connect(config).await.expect("connect to /game");
    TestClient { client, events }
}

/// New players from `local`, one after another until `stop`: each connects, quick-joins, has
/// an input acked and leaves. Returns how many did; any failure fails the test.
fn players_keep_joining(url: &str, local: IpAddr, stop: CancellationToken) -> JoinHandle<u32> {
    let url = url.to_owned();
    tokio::spawn(async move {
        let mut played = 0u32;
        while !stop.is_cancelled() {
            let player = player_from(&url, &format!("honest{played}"), local).await;
            player.quick_join().await;
            let ack: Value = player
                .ack(events::INPUT, json!({"seq": 1, "move": [1, 0]}))
                .await;
            assert_eq!(ack["ok"], true, "{ack}");
            let _: Value = player.ack(events::ROOM_LEAVE, json!({})).await;
            player.client.close().await;
            played += 1;
        }
        played
    })
}

/// A seated player keeps being answered and keeps getting snapshots.
async fn still_playing(player: &mut TestClient, seq: u32) {
    let ack: Value = player
        .ack(events::INPUT, json!({"seq": seq, "move": [0, 1]}))
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    player.drain();
    let first = player.next_snapshot().await.tick;
    player.snapshot_where(|s| s.tick > first).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_heads_silent_and_idle_keep_alive_connections_are_closed_at_the_header_timeout() {
    let timeout = Duration::from_secs(1);
    let server = TestServer::start(|c| c.header_timeout = timeout).await;
    let addr = server_addr(&server);
    let local = ip("127.0.0.1");
    let mut seated = TestClient::connect(&server.url, "seated").await;
    seated.quick_join().await;
    let stop = CancellationToken::new();
    let joining = players_keep_joining(&server.url, local, stop.clone());

    let mut attack = Vec::new();
    for n in 0..200 {
        let since = Instant::now();
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        if n % 2 == 0 {
            stream.write_all(HALF_HEAD).await.expect("half a head");
        }
        attack.push((stream, since));
    }
    // One complete request, answered; then the connection idles as a keep-alive (the server's
    // clock starts once the answer is written, after `since`).
    let mut idle = TcpStream::connect(addr).await.expect("connect");
    let since = Instant::now();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("request");
    let mut answer = [0u8; 1024];
    let n = idle.read(&mut answer).await.expect("answer");
    assert!(
        answer[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        &answer[..n]
    );
    attack.push((idle, since));
    // A new player gets in while all of them are open.
    let newcomer = TestClient::connect(&server.url, "newcomer").await;
    newcomer.quick_join().await;

    let closes = futures_util::future::join_all(
        attack
            .into_iter()
            .map(|(stream, since)| closed_by_server(stream, since, timeout + MARGIN)),
    )
    .await;
    let earliest = closes.iter().min().expect("closes");
    assert!(
        *earliest >= timeout - EARLY,
        "closed after {earliest:?}, before the {timeout:?} timeout"
    );
    still_playing(&mut seated, 1).await;
    stop.cancel();
    let played = joining.await.expect("honest players");
    assert!(played > 0, "no honest player got through during the attack");

    let metrics = &server.handle.metrics;
    assert_eq!(
        metrics.header_timeouts.get(),
        200,
        "the ones that never made a request"
    );
    assert_eq!(metrics.idle_closed.get(), 1, "the idle keep-alive");
    newcomer.client.close().await;
    seated.client.close().await;
    assert_connections_gone(&server).await;
    server.stop().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_does_not_wait_for_connections_that_never_made_a_request() {
    let server = TestServer::start(|c| c.header_timeout = Duration::from_secs(60)).await;
    let addr = server_addr(&server);
    let silent = TcpStream::connect(addr).await.expect("connect");
    let mut half = TcpStream::connect(addr).await.expect("connect");
    half.write_all(HALF_HEAD).await.expect("half a head");
    let connections = &server.handle.connections;
    assert!(eventually(WAIT, || connections.counts().0 == 2).await);
    let stopping = Instant::now();
    let closes = futures_util::future::join(
        closed_by_server(silent, stopping, WAIT),
        closed_by_server(half, stopping, WAIT),
    );
    let (stopped, _) = tokio::join!(server.stop(), closes);
    stopped.expect("clean shutdown");
    // Waiting for them would take the header timeout, cut short by the 5 s shutdown grace; an
    // idle server stops in milliseconds, so 4 s leaves a loaded machine a wide margin.
    let took = stopping.elapsed();
    assert!(took < Duration::from_secs(4), "stopping took {took:?}");
}

use crate::support::RawWebSocket as WebSocket;

/// Opens a raw Engine.IO WebSocket and reads its open packet.
async fn open_ws(url: &str) -> WebSocket {
    crate::support::open_raw_ws(url).await.0
}

/// Reads (and ignores: pings, a `connect_error`) until the server closes the WebSocket; returns
/// how long that took from `since`, or panics after `bound`.
async fn ws_closed_by_server(mut ws: WebSocket, since: Instant, bound: Duration) -> Duration {
    tokio::time::timeout(bound, async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return since.elapsed(),
                Some(Ok(_)) => {}
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("still open {:?} after the upgrade", since.elapsed()))
}

/// One HTTP/1.1 request on its own connection; the whole answer.
async fn http_once(addr: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut answer = String::new();
    tokio::time::timeout(WAIT, stream.read_to_string(&mut answer))
        .await
        .expect("answer in time")
        .expect("answer");
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_that_never_complete_connect_are_closed_at_the_connect_timeout() {
    let timeout = Duration::from_secs(1);
    let server = TestServer::start(|c| c.connect_timeout = timeout).await;
    let addr = server_addr(&server);
    let mut honest = TestClient::connect(&server.url, "honest").await;
    honest.quick_join().await;

    // A WebSocket that never sends CONNECT, and one whose CONNECT is refused (an empty name)
    // and that stays open anyway.
    let silent_since = Instant::now();
    let silent = open_ws(&server.url).await;
    let refused_since = Instant::now();
    let mut refused = open_ws(&server.url).await;
    refused
        .send(Message::text("40/game,{\"name\":\"\"}"))
        .await
        .expect("send");
    // A long-polling session that never sends CONNECT (it holds no connection, only its state).
    let polling_since = Instant::now();
    let opened = http_once(addr, "/socket.io/?EIO=4&transport=polling").await;
    let sid = opened
        .split("\"sid\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no sid in {opened}"))
        .to_owned();

    let (silent_closed, refused_closed) = tokio::join!(
        ws_closed_by_server(silent, silent_since, timeout + MARGIN),
        ws_closed_by_server(refused, refused_since, timeout + MARGIN),
    );
    for closed in [silent_closed, refused_closed] {
        assert!(closed >= timeout - EARLY, "closed early, after {closed:?}");
    }
    // Its polls get what is queued (a ping), then wait; the deadline answers the waiting one
    // with a close packet, and the session is gone ("Session ID unknown").
    let poll_path = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    loop {
        let poll = http_once(addr, &poll_path).await;
        if poll.starts_with("HTTP/1.1 400") {
            break;
        }
        assert!(
            polling_since.elapsed() < timeout + MARGIN,
            "the polling session is still open: {poll:?}"
        );
    }
    assert!(polling_since.elapsed() >= timeout - EARLY);

    // The player who did send CONNECT plays on, well past the deadline.
    still_playing(&mut honest, 1).await;
    assert!(honest.client.is_connected());
    let metrics = &server.handle.metrics;
    assert!(
        eventually(WAIT, || metrics.connect_timeouts.get() == 2).await,
        "both WebSockets counted (polling sessions are not): {}",
        metrics.connect_timeouts.get()
    );
    honest.client.close().await;
    assert_connections_gone(&server).await;
    server.stop().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_one_address_is_capped_at_accept_while_others_play() {
    const CAP: usize = 8;
    const FLOOD: usize = 200;
    let server = TestServer::start(|c| {
        c.max_tcp_per_ip = CAP;
        // 127.0.0.2 plays the remote attacker; only 127.0.0.1 stays exempt.
        c.exempt_all_loopback = false;
        // Long enough that the cap, not the timeout, is what the flood meets.
        c.header_timeout = Duration::from_secs(60);
    })
    .await;
    let addr = server_addr(&server);
    let (attacker, bystander) = (ip("127.0.0.2"), ip("127.0.0.3"));
    let mut seated = TestClient::connect(&server.url, "seated").await;
    seated.quick_join().await;
    let stop = CancellationToken::new();
    let joining = players_keep_joining(&server.url, bystander, stop.clone());

    let mut flood = Vec::with_capacity(FLOOD);
    for _ in 0..FLOOD {
        // Reset during the connect call: refused, nothing to hold.
        if let Ok(stream) = try_open_from(addr, attacker).await {
            flood.push(stream);
        }
    }
    let metrics = &server.handle.metrics;
    assert!(
        eventually(WAIT, || metrics.tcp_refused.get() == (FLOOD - CAP) as u64).await,
        "refused {} of {FLOOD}",
        metrics.tcp_refused.get()
    );
    // The refused ones were reset at accept; the others are held (a read stays pending).
    let held = futures_util::future::join_all(flood.iter_mut().map(|stream| async move {
        let mut buf = [0u8; 16];
        // A reset has arrived long before this (loopback); a held connection stays pending.
        tokio::time::timeout(Duration::from_millis(500), stream.read(&mut buf))
            .await
            .is_err()
    }))
    .await;
    assert_eq!(held.iter().filter(|held| **held).count(), CAP);
    // One more from the attacker's address is refused too; a player from it cannot get in.
    let config = ClientConfig::new(&server.url, "/game")
        .with_auth(json!({"name": "same-address"}))
        .with_local_ip(Some(attacker));
    assert!(Client::connect(config.clone()).await.is_err());
    // A new player from another address gets in while the flood is held.
    let newcomer = player_from(&server.url, "newcomer", bystander).await;
    newcomer.quick_join().await;
    newcomer.client.close().await;

    still_playing(&mut seated, 1).await;
    stop.cancel();
    let played = joining.await.expect("honest players");
    assert!(played > 0, "no player from another address got through");

    drop(flood);
    assert!(
        eventually(WAIT, || server.handle.connections.counts() == (1, 0)).await,
        "only the seated player's connection is left: {:?}",
        server.handle.connections.counts()
    );
    // The address's places came back.
    let (again, _events) = Client::connect(config)
        .await
        .expect("the attacker's address may connect again");
    again.close().await;
    seated.client.close().await;
    assert_connections_gone(&server).await;
    server.stop().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_socketio_limit_applies_from_a_non_exempt_loopback_address() {
    let server = TestServer::start(|c| {
        c.max_connections_per_ip = 1;
        c.exempt_all_loopback = false;
    })
    .await;
    let from = ip("127.0.0.2");
    let first = player_from(&server.url, "first", from).await;
    let config = ClientConfig::new(&server.url, "/game")
        .with_auth(json!({"name": "second"}))
        .with_local_ip(Some(from));
    let message = refusal(Client::connect(config).await);
    assert!(message.contains("too many connections"), "{message}");
    first.client.close().await;
    assert_connections_gone(&server).await;
    server.stop().await.expect("clean shutdown");
}
