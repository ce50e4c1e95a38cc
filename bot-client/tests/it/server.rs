//! The test server: socketioxide on `127.0.0.1:0` with a `/game` namespace built for the tests.
//!
//! Pings every 200 ms with a 200 ms timeout, so every test also exercises the heartbeat: a client
//! that stopped answering would be dropped within half a second. `maxPayload` is Node's 1 MB
//! rather than socketioxide's 100 kB default, because a polling body carries binary as base64
//! and the 100 kB uploads of the tests grow to 133 kB that way.

use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use socketioxide::extract::{AckSender, Data, SocketRef, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::{ParserConfig, SocketIo};
use tickstorm_bot_client::{Client, ClientConfig, ClientError, Event, ParserKind, TransportKind};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

/// Bytes the server sends in its `bin` event.
pub const SERVER_BIN: &[u8] = &[0, 1, 2, 253, 254, 255, b'{', b'"'];

/// Ack timeout for round trips that must succeed.
pub const ACK: Duration = Duration::from_secs(2);

/// Node's default `maxPayload`.
pub const MAX_PAYLOAD: u64 = 1_000_000;

/// One cell of the test matrix: the parser both ends speak and the transport the client uses.
#[derive(Debug, Clone, Copy)]
pub struct Setup {
    pub parser: ParserKind,
    pub transport: TransportKind,
}

/// A running server.
pub struct TestServer {
    pub url: String,
    pub io: SocketIo,
    pub setup: Setup,
}

impl TestServer {
    /// Starts a server speaking `setup.parser`; its clients use `setup.transport`.
    pub async fn start(setup: Setup) -> Self {
        Self::start_with_max_payload(setup, MAX_PAYLOAD).await
    }

    /// Same as [`TestServer::start`] with another `maxPayload`.
    pub async fn start_with_max_payload(setup: Setup, max_payload: u64) -> Self {
        let builder = SocketIo::builder()
            .ping_interval(Duration::from_millis(200))
            .ping_timeout(Duration::from_millis(200))
            .max_payload(max_payload);
        let builder = match setup.parser {
            ParserKind::Common => builder,
            ParserKind::MsgPack => builder.with_parser(ParserConfig::msgpack()),
        };
        let (layer, io) = builder.build_layer();
        io.ns("/game", on_connect.with(require_name));
        let app = axum::Router::new().layer(layer);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a free port");
        let addr = listener.local_addr().expect("bound address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url: format!("http://{addr}"),
            io,
            setup,
        }
    }

    /// Client config for `/game` with this server's setup and the given auth.
    pub fn config(&self, auth: serde_json::Value) -> ClientConfig {
        ClientConfig::new(&self.url, "/game")
            .with_auth(auth)
            .with_parser(self.setup.parser)
            .with_transport(self.setup.transport)
    }

    /// Connects a client that passes the auth middleware.
    pub async fn connect(&self, name: &str) -> (Client, UnboundedReceiver<Event>) {
        Client::connect(self.config(serde_json::json!({ "name": name })))
            .await
            .expect("connect with a name")
    }

    /// How many sockets the server holds on `/game`.
    pub fn socket_count(&self) -> usize {
        self.io.of("/game").map_or(0, |ns| ns.sockets().len())
    }
}

#[derive(Debug)]
struct AuthError;

impl std::fmt::Display for AuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("auth needs a name")
    }
}

async fn require_name(TryData(auth): TryData<serde_json::Value>) -> Result<(), AuthError> {
    match auth {
        Ok(auth) if auth.get("name").is_some_and(serde_json::Value::is_string) => Ok(()),
        _ => Err(AuthError),
    }
}

async fn on_connect(socket: SocketRef) {
    // Acks its first argument unchanged (rmpv keeps NaN and binary as they are).
    socket.on(
        "echo",
        async |Data(value): Data<rmpv::Value>, ack: AckSender| {
            let _ = ack.send(&value);
        },
    );
    // Two arguments in, the same two swapped out: checks argument spreading both ways.
    socket.on(
        "swap",
        async |Data((a, b)): Data<(rmpv::Value, rmpv::Value)>, ack: AckSender| {
            let _ = ack.send(&(b, a));
        },
    );
    socket.on("no_args", async |ack: AckSender| {
        let _ = ack.send(&"got nothing");
    });
    // Binary upload: acks the metadata, the length it saw and the bytes themselves.
    socket.on(
        "upload",
        async |Data((meta, blob)): Data<(serde_json::Value, Bytes)>, ack: AckSender| {
            let _ = ack.send(&(meta, blob.len(), blob));
        },
    );
    socket.on("send_bin", async |s: SocketRef| {
        let _ = s.emit("bin", &Bytes::from_static(SERVER_BIN));
    });
    socket.on("kick", async |s: SocketRef| {
        let _ = s.disconnect();
    });
    // "silent" has no handler on purpose: its acks never come.
}

/// Waits for the next event, failing the test after 2 s.
pub async fn next_event(rx: &mut UnboundedReceiver<Event>) -> Option<Event> {
    tokio::time::timeout(Duration::from_secs(2), rx.recv())
        .await
        .expect("event or end of stream within 2 s")
}

/// A WebSocket as a fake server holds it.
pub type FakeSocket = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// A fake Engine.IO server for one client on `127.0.0.1:0`: opens the session with
/// `pingInterval`/`pingTimeout` of `ping_ms`, answers the client's CONNECT to `/game` (auth
/// `{"name":"ana"}`) with sid `s1`, then runs `then` on the socket. Returns the URL and the task.
pub async fn fake_engine_io<F, Fut>(ping_ms: u64, then: F) -> (String, JoinHandle<()>)
where
    F: FnOnce(FakeSocket) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a free port");
    let addr = listener.local_addr().expect("bound address");
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("client connects");
        let mut ws = tokio_tungstenite::accept_async(tcp)
            .await
            .expect("WebSocket handshake");
        let open = format!(
            r#"0{{"sid":"e1","upgrades":[],"pingInterval":{ping_ms},"pingTimeout":{ping_ms},"maxPayload":1000000}}"#
        );
        ws.send(Message::text(open)).await.expect("send open");
        let connect = ws.next().await.expect("a frame").expect("readable");
        assert_eq!(connect, Message::text(r#"40/game,{"name":"ana"}"#));
        ws.send(Message::text(r#"40/game,{"sid":"s1"}"#))
            .await
            .expect("send connect ack");
        then(ws).await;
    });
    (format!("http://{addr}"), server)
}

/// True for the error a dead connection gives.
pub fn is_closed(err: &ClientError) -> bool {
    matches!(err, ClientError::Closed)
}
