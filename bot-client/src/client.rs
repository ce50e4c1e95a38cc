//! [`Client`]: the connect handshake and the public emit/ack/close API.
//!
//! The handshake (transport, Engine.IO open, namespace CONNECT) runs inline, before any task
//! exists, so its failures come back as plain errors from [`Client::connect`]. Everything after
//! that goes through [`connection`](crate::connection).

use std::sync::Arc;
use std::time::Duration;

use rmpv::Value;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_tungstenite::tungstenite::Message;

use crate::Event;
use crate::config::{ClientConfig, Endpoint, ParserKind};
use crate::connection::{self, Shared};
use crate::engineio::{self, EioPacket};
use crate::error::{ClientError, protocol};
use crate::socketio::{self, Decoder, Frames, Packet, PacketKind, map_get, msgpack};
use crate::transport::{self, ByteCounters, FrameSink, FrameSource};

/// How long [`Client::close`] waits for the connection to wind down.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// A connected Socket.IO client for one namespace.
///
/// Cheap to clone: all clones share one connection. Dropping the last clone closes it like
/// [`Client::close`], without waiting.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    sid: String,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shared.close();
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("sid", &self.inner.sid)
            .field("namespace", &self.inner.shared.nsp)
            .field("connected", &self.is_connected())
            .finish()
    }
}

impl Client {
    /// Connects to the namespace and returns the client with the receiver of server events.
    ///
    /// Opens the transport with TCP_NODELAY (`ws://…/socket.io/?EIO=4&transport=websocket`, or
    /// for [`TransportKind::Polling`](crate::TransportKind::Polling) a `GET
    /// …&transport=polling`), reads the Engine.IO open packet, sends CONNECT with the auth object
    /// and waits for the answer. The receiver
    /// buffers events until read and ends (`recv()` gives `None`) when the connection does.
    ///
    /// # Errors
    /// [`ClientError::ConnectRefused`] with the server's message on CONNECT_ERROR,
    /// [`ClientError::ConnectTimeout`] past [`ClientConfig::connect_timeout`], otherwise the
    /// network or protocol error met on the way.
    pub async fn connect(
        config: ClientConfig,
    ) -> Result<(Client, UnboundedReceiver<Event>), ClientError> {
        let opened = open(config).await?;
        let (shared, events) = connection::spawn(
            (opened.sink, opened.source),
            opened.nsp,
            opened.parser,
            opened.heartbeat,
            opened.counters,
        );
        let client = Client {
            inner: Arc::new(Inner {
                shared,
                sid: opened.sid,
            }),
        };
        Ok((client, events))
    }

    /// The Socket.IO session id the server gave this namespace connection.
    pub fn sid(&self) -> &str {
        &self.inner.sid
    }

    /// Whether the connection is still up (false after close, server disconnect or a lost
    /// heartbeat).
    pub fn is_connected(&self) -> bool {
        self.inner.shared.is_connected()
    }

    /// Emits `event` with `data` as its single argument; returns once queued for sending.
    ///
    /// Binary values (serialized with `serialize_bytes`, e.g. [`bytes::Bytes`]) travel as
    /// binary; a plain `Vec<u8>` serializes as an array of numbers. Use [`Client::emit_args`] for
    /// several arguments.
    pub fn emit<T: serde::Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<(), ClientError> {
        let shared = &self.inner.shared;
        shared.send(encode_event(&shared.nsp, shared.parser, event, data, None)?)
    }

    /// Emits `event` with any number of arguments (zero included).
    pub fn emit_args(&self, event: &str, args: Vec<Value>) -> Result<(), ClientError> {
        self.send_event(event, args, None)
    }

    /// Emits `event` with `data` and waits for the server's ack; returns its first argument
    /// (`Nil` if the ack has none).
    ///
    /// # Errors
    /// [`ClientError::AckTimeout`] when no ack comes within `timeout` (the ack id is then
    /// forgotten), [`ClientError::Closed`] when the connection ends first.
    pub async fn emit_with_ack<T: serde::Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
        timeout: Duration,
    ) -> Result<Value, ClientError> {
        let shared = &self.inner.shared;
        let pending = shared.register_ack()?;
        shared.send(encode_event(
            &shared.nsp,
            shared.parser,
            event,
            data,
            Some(pending.id),
        )?)?;
        let args = pending.wait(timeout).await?;
        Ok(args.into_iter().next().unwrap_or(Value::Nil))
    }

    /// Raw form of [`Client::emit_with_ack`] for protocol tests: sends `args` as they are (any
    /// count, any shape; `F64(NaN)` goes out as NaN with msgpack and as `null` in JSON) and
    /// returns all ack arguments.
    pub async fn emit_args_with_ack(
        &self,
        event: &str,
        args: Vec<Value>,
        timeout: Duration,
    ) -> Result<Vec<Value>, ClientError> {
        let pending = self.inner.shared.register_ack()?;
        self.send_event(event, args, Some(pending.id))?;
        pending.wait(timeout).await
    }

    /// Answers a server event that asked for an ack ([`Event::ack_id`]).
    pub fn ack(&self, ack_id: u64, args: Vec<Value>) -> Result<(), ClientError> {
        let shared = &self.inner.shared;
        let packet = Packet::new(&shared.nsp, PacketKind::Ack { id: ack_id, args });
        shared.send(socketio::encode(shared.parser, packet)?)
    }

    /// Leaves the namespace (Socket.IO DISCONNECT), sends the Engine.IO close and shuts the
    /// transport (closes the WebSocket; with polling, both in one last POST). Pending acks fail with [`ClientError::Closed`]; the event receiver ends.
    /// Waits up to 2 s for the connection tasks to finish; calling it again is a no-op.
    pub async fn close(&self) {
        self.inner.shared.close();
        self.inner.shared.wait_done(CLOSE_WAIT).await;
    }

    /// Payload bytes this connection has written, handshake included: the payload of every
    /// WebSocket text/binary message, or with polling the body of every HTTP request. HTTP and
    /// WebSocket headers, WebSocket control frames and TCP/TLS overhead are not counted.
    pub fn bytes_sent(&self) -> u64 {
        self.inner.shared.counters.sent()
    }

    /// Payload bytes this connection has read, handshake included, counted like
    /// [`Client::bytes_sent`]: WebSocket message payloads, or with polling the body of every
    /// HTTP response (poll answers and the server's `ok` to each POST).
    pub fn bytes_received(&self) -> u64 {
        self.inner.shared.counters.received()
    }

    fn send_event(&self, name: &str, args: Vec<Value>, id: Option<u64>) -> Result<(), ClientError> {
        let shared = &self.inner.shared;
        let kind = PacketKind::Event {
            name: name.to_owned(),
            args,
            id,
        };
        shared.send(socketio::encode(
            shared.parser,
            Packet::new(&shared.nsp, kind),
        )?)
    }
}

/// Encodes an EVENT with one typed argument, straight to MessagePack when possible.
pub(crate) fn encode_event<T: serde::Serialize + ?Sized>(
    nsp: &str,
    parser: ParserKind,
    name: &str,
    data: &T,
    id: Option<u64>,
) -> Result<Frames, ClientError> {
    match parser {
        ParserKind::MsgPack => {
            let bytes = msgpack::encode_event(nsp, name, data, id)?;
            Ok(Frames::One(Message::Binary(bytes.into())))
        }
        ParserKind::Common => {
            let kind = PacketKind::Event {
                name: name.to_owned(),
                args: vec![socketio::to_value(data)?],
                id,
            };
            socketio::encode(ParserKind::Common, Packet::new(nsp, kind))
        }
    }
}

/// A transport that finished the handshake: namespace connected, no task started yet.
pub(crate) struct Opened {
    pub sink: FrameSink,
    pub source: FrameSource,
    pub sid: String,
    pub nsp: String,
    pub parser: ParserKind,
    /// The Engine.IO heartbeat window: no ping for this long means the server is gone.
    pub heartbeat: Duration,
    pub counters: Arc<ByteCounters>,
}

/// Runs the whole handshake within [`ClientConfig::connect_timeout`].
pub(crate) async fn open(config: ClientConfig) -> Result<Opened, ClientError> {
    let limit = config.connect_timeout;
    tokio::time::timeout(limit, handshake(config))
        .await
        .map_err(|_| ClientError::ConnectTimeout(limit))?
}

async fn handshake(config: ClientConfig) -> Result<Opened, ClientError> {
    let mut endpoint = Endpoint::parse(&config.url)?;
    endpoint.local_ip = config.local_ip;
    let nsp = config.wire_namespace();
    let counters = Arc::new(ByteCounters::default());
    let (mut sink, mut source, open) =
        transport::connect(&endpoint, config.transport, &counters).await?;
    let auth = if config.auth.is_null() {
        Value::Nil
    } else {
        socketio::to_value(&config.auth)?
    };
    let connect = Packet::new(&nsp, PacketKind::Connect(auth));
    sink.send(socketio::encode(config.parser, connect)?).await?;
    let sid = match wait_connect(&mut sink, &mut source, &nsp, config.parser).await {
        Ok(sid) => sid,
        Err(err) => {
            // Best effort: the server may have closed already.
            sink.close().await;
            return Err(err);
        }
    };
    tracing::debug!(eio_sid = %open.sid, %sid, %nsp, transport = ?config.transport, "connected");
    Ok(Opened {
        sink,
        source,
        sid,
        nsp,
        parser: config.parser,
        heartbeat: open.heartbeat_window(),
        counters,
    })
}

/// Reads until the server answers our CONNECT; returns the namespace sid.
async fn wait_connect(
    sink: &mut FrameSink,
    source: &mut FrameSource,
    nsp: &str,
    parser: ParserKind,
) -> Result<String, ClientError> {
    let mut decoder = Decoder::new(parser);
    loop {
        let packet = match source.next().await.ok_or(ClientError::Closed)?? {
            Message::Text(text) => match engineio::decode(&text)? {
                EioPacket::Ping(payload) => {
                    let pong = Message::text(engineio::pong(payload));
                    sink.send(Frames::One(pong)).await?;
                    continue;
                }
                EioPacket::Message(payload) => decoder.text(payload)?,
                EioPacket::Close => return Err(ClientError::Closed),
                _ => continue,
            },
            Message::Binary(bytes) => decoder.binary(bytes)?,
            Message::Close(_) => return Err(ClientError::Closed),
            _ => continue,
        };
        let Some(packet) = packet else { continue };
        if packet.nsp != nsp {
            continue;
        }
        match packet.kind {
            PacketKind::Connect(data) => {
                return map_get(&data, "sid")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| protocol("CONNECT answer without a sid"));
            }
            PacketKind::ConnectError(message) => return Err(ClientError::ConnectRefused(message)),
            _ => continue,
        }
    }
}
