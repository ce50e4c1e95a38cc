//! Test support: a real server on 127.0.0.1:0 in this process, with its handles.

use std::time::{Duration, Instant};

use clap::Parser;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use tickstorm_bot_client::{Client, ClientConfig, Event, ParserKind, decode_value};
use tickstorm_orbs::OrbView as Snapshot;
use tickstorm_server::{Config, ServerHandle};
use tickstorm_shared::protocol::{JoinAck, events};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A server running on an ephemeral loopback port.
pub struct TestServer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The server's handles (room directory, Socket.IO).
    pub handle: ServerHandle,
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl TestServer {
    /// Starts a server with the default configuration, adjusted by `adjust`.
    pub async fn start(adjust: impl FnOnce(&mut Config)) -> Self {
        Self::start_games(tickstorm_server::Games::default(), adjust).await
    }

    /// Starts a server hosting `games`, with the default configuration adjusted by `adjust`.
    pub async fn start_games(
        games: tickstorm_server::Games,
        adjust: impl FnOnce(&mut Config),
    ) -> Self {
        let mut config = Config::parse_from(["tickstorm-server-test"]);
        adjust(&mut config);
        // The server's own bind (its listen backlog), as the binary does it.
        let listener =
            tickstorm_server::net::serve::bind(([127, 0, 0, 1], 0).into()).expect("bind loopback");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let shutdown = CancellationToken::new();
        let (handle, server) =
            tickstorm_server::start_games(config, games, listener, shutdown.clone())
                .await
                .expect("server starts");
        let task = tokio::spawn(server);
        Self {
            url,
            handle,
            shutdown,
            task,
        }
    }

    /// Starts a server with the default configuration.
    pub async fn start_default() -> Self {
        Self::start(|_| {}).await
    }

    /// Asserts that, within `timeout`, the server holds no room, seat, held seat, connection or
    /// admission slot: nothing outlived its purpose.
    pub async fn assert_drained(&self, timeout: Duration) {
        let h = &self.handle;
        let drained = eventually(timeout, || {
            h.hub.directory().counts() == Default::default()
                && h.admission.counts() == (0, 0)
                && h.metrics.game_connections.get() == 0
        })
        .await;
        assert!(
            drained,
            "left behind: {:?}, admission {:?}, connections {}",
            h.hub.directory().counts(),
            h.admission.counts(),
            h.metrics.game_connections.get()
        );
    }

    /// Starts the shutdown (as SIGTERM does) without waiting for it; [`TestServer::stop`] waits.
    pub fn begin_shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Asks the server to shut down and waits until it has.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(15), self.task)
            .await
            .expect("server stops in time")?
    }
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes; returns whether it held.
pub async fn eventually(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A connected test player: the client and its incoming events.
pub struct TestClient {
    /// The Socket.IO client.
    pub client: Client,
    /// Server events in arrival order.
    pub events: UnboundedReceiver<Event>,
}

/// The `connect_error` message of a refused connection; panics on anything else.
pub fn refusal<T>(result: Result<T, tickstorm_bot_client::ClientError>) -> String {
    match result {
        Err(tickstorm_bot_client::ClientError::ConnectRefused(message)) => message,
        Err(other) => panic!("expected connect_error, got {other}"),
        Ok(_) => panic!("expected connect_error, got a connection"),
    }
}

/// How long a test waits for any single answer before failing.
pub const WAIT: Duration = Duration::from_secs(5);

impl TestClient {
    /// Connects to `/game` with the default parser.
    pub async fn connect(url: &str, name: &str) -> Self {
        Self::connect_with(url, name, ParserKind::Common).await
    }

    /// Connects to `/game` with the given parser.
    pub async fn connect_with(url: &str, name: &str, parser: ParserKind) -> Self {
        let config = ClientConfig::new(url, "/game")
            .with_auth(json!({ "name": name }))
            .with_parser(parser);
        let (client, events) = Client::connect(config).await.expect("connect to /game");
        Self { client, events }
    }

    /// Emits `event` with `payload`, waits for the ack and decodes it as `T`.
    pub async fn ack<T: DeserializeOwned>(&self, event: &str, payload: impl Serialize) -> T {
        let value = self
            .client
            .emit_with_ack(event, &payload, WAIT)
            .await
            .expect("ack arrives");
        decode_value(value.clone())
            .unwrap_or_else(|e| panic!("ack of {event} is not the expected shape: {e}: {value}"))
    }

    /// Emits `event` with raw arguments (any number, any shape) and returns the first ack argument.
    pub async fn raw_ack(&self, event: &str, args: Vec<rmpv::Value>) -> rmpv::Value {
        let mut values = self
            .client
            .emit_args_with_ack(event, args, WAIT)
            .await
            .expect("ack arrives");
        assert!(!values.is_empty(), "{event} was acked with no argument");
        values.swap_remove(0)
    }

    /// Quick-matches into a room.
    pub async fn quick_join(&self) -> JoinAck {
        let ack: serde_json::Value = self.ack(events::ROOM_JOIN, json!({})).await;
        assert_eq!(ack["ok"], true, "join failed: {ack}");
        serde_json::from_value(ack).expect("join ack shape")
    }

    /// The next event named `name`, skipping others; panics after `WAIT`.
    pub async fn next_event(&mut self, name: &str) -> Event {
        self.next_event_within(name, WAIT).await
    }

    /// The next event named `name`, skipping others; panics after `within`.
    pub async fn next_event_within(&mut self, name: &str, within: Duration) -> Event {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let event = tokio::time::timeout_at(deadline, self.events.recv())
                .await
                .unwrap_or_else(|_| panic!("no `{name}` event within {within:?}"))
                .unwrap_or_else(|| panic!("connection ended while waiting for `{name}`"));
            if event.name == name {
                return event;
            }
        }
    }

    /// The next event named `name`, decoded from its first argument.
    pub async fn next<T: DeserializeOwned>(&mut self, name: &str) -> T {
        let mut event = self.next_event(name).await;
        assert!(!event.args.is_empty(), "`{name}` has no argument");
        decode_value(event.args.swap_remove(0)).expect("event payload shape")
    }

    /// The next snapshot, decoded.
    pub async fn next_snapshot(&mut self) -> Snapshot {
        let event = self.next_event(events::SNAPSHOT).await;
        match event.args.first() {
            Some(rmpv::Value::Binary(bytes)) => Snapshot::decode(bytes).expect("snapshot decodes"),
            other => panic!("snapshot is not one binary argument: {other:?}"),
        }
    }

    /// Snapshots until one satisfies `condition`; panics after `WAIT`.
    pub async fn snapshot_where(
        &mut self,
        mut condition: impl FnMut(&Snapshot) -> bool,
    ) -> Snapshot {
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut last: Option<Snapshot> = None;
        loop {
            let Ok(snapshot) = tokio::time::timeout_at(deadline, self.next_snapshot()).await else {
                // Say what was seen, so a failure tells "no snapshots" from "never matching".
                panic!("no matching snapshot within {WAIT:?}; the last one seen: {last:?}");
            };
            if condition(&snapshot) {
                return snapshot;
            }
            last = Some(snapshot);
        }
    }

    /// Drops buffered events (e.g. snapshots from before a step of the test).
    pub fn drain(&mut self) {
        while self.events.try_recv().is_ok() {}
    }
}

/// How late a close may come after its timeout. A loaded 2-core machine (the suite runs tests
/// in parallel, CI builds beside it) can delay a timer's wake-up and the close by well over a
/// second; what matters is that the close comes, and that it does not come early.
pub const MARGIN: Duration = Duration::from_secs(4);
/// Each test starts its clock before the client connects (or sends), so the server's own clock
/// for a connection starts later and a close can never come earlier than the timeout; this only
/// allows for the timer's millisecond ticks.
pub const EARLY: Duration = Duration::from_millis(20);

/// Asserts that, within `WAIT`, no connection, `/game` session or admission slot is left.
pub async fn assert_connections_gone(server: &TestServer) {
    let h = &server.handle;
    let gone = eventually(WAIT, || {
        h.connections.counts() == (0, 0)
            && h.admission.counts() == (0, 0)
            && h.metrics.game_connections.get() == 0
    })
    .await;
    assert!(
        gone,
        "left: connections {:?}, admission {:?}, /game {}",
        h.connections.counts(),
        h.admission.counts(),
        h.metrics.game_connections.get()
    );
}

/// Waits for the server to close `stream` (EOF or reset) and returns how long that took from
/// `since`; panics if it is still open after `bound` or if the server sent anything.
pub async fn closed_by_server(mut stream: TcpStream, since: Instant, bound: Duration) -> Duration {
    let mut buf = [0u8; 512];
    let remaining = bound.saturating_sub(since.elapsed());
    match tokio::time::timeout(remaining, stream.read(&mut buf)).await {
        Err(_) => panic!("still open {:?} after it was opened", since.elapsed()),
        Ok(Ok(0) | Err(_)) => since.elapsed(),
        Ok(Ok(n)) => panic!(
            "the server answered {:?}",
            String::from_utf8_lossy(&buf[..n])
        ),
    }
}

/// A raw WebSocket, for Engine.IO checks below any client library.
pub type RawWebSocket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a raw Engine.IO WebSocket to the server at `url` and reads its open packet; returns the
/// socket and the handshake (`sid`, `pingInterval`, ...).
pub async fn open_raw_ws(url: &str) -> (RawWebSocket, serde_json::Value) {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let ws_url = format!(
        "{}/socket.io/?EIO=4&transport=websocket",
        url.replace("http", "ws")
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url)
        .await
        .expect("websocket");
    let open = match ws.next().await.expect("open packet").expect("frame") {
        Message::Text(text) => text.to_string(),
        other => panic!("open packet is text, got {other:?}"),
    };
    let handshake =
        serde_json::from_str(open.strip_prefix('0').expect("type 0 (open)")).expect("json");
    (ws, handshake)
}

/// A directory of its own under the system's temp dir, removed when dropped.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    /// A new, empty directory whose name starts with `tickstorm-{what}-`.
    pub fn new(what: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let dir =
            std::env::temp_dir().join(format!("tickstorm-{what}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create a temp dir");
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
