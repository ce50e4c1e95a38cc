//! The Engine.IO transports behind a connection, seen as a source and a sink of frames.
//!
//! A frame is a tungstenite [`Message`] in both cases: a text frame is one Engine.IO text packet
//! (`4...`, `2`, ...), a binary frame one Engine.IO binary message. That is exactly what a
//! WebSocket carries, and what [`polling`](crate::polling) turns each packet of an HTTP body into,
//! so the handshake and the reader/writer tasks in [`connection`](crate::connection) are written
//! once for both transports. The enums (rather than trait objects) keep the hot path free of
//! boxing and dynamic dispatch.
//!
//! [`ByteCounters`] lives here too, because only the transport sees what goes over the wire.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use crate::config::{Endpoint, TransportKind};
use crate::engineio::{self, EioPacket, OpenInfo};
use crate::error::{ClientError, protocol};
use crate::polling::{PollSink, PollSource};
use crate::socketio::Frames;

pub(crate) type Ws = WebSocketStream<TcpStream>;

/// tungstenite allocates its read buffer eagerly (128 KiB by default); a swarm of thousands of
/// clients would spend hundreds of MiB on it. Larger messages still work, read in more steps.
/// Small also because every read zeroes up to this much of the buffer before the `read` call
/// (tungstenite's `read_in`), successful or not: at 16 KiB that memset was 4 % of the swarm's
/// CPU. A snapshot is well under 1 KiB.
const READ_BUFFER: usize = 4 * 1024;

/// Frames written between two flushes at most on a WebSocket, so a flood of emits still reaches
/// the wire.
const WS_MAX_BATCH: usize = 256;

/// Payload bytes moved by one connection, bumped once per frame or HTTP body.
///
/// Relaxed ordering: the counters are statistics, read on their own, never used to order other
/// memory accesses.
#[derive(Debug, Default)]
pub(crate) struct ByteCounters {
    sent: AtomicU64,
    received: AtomicU64,
}

impl ByteCounters {
    pub(crate) fn add_sent(&self, n: usize) {
        self.sent.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn add_received(&self, n: usize) {
        self.received.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    pub(crate) fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }
}

/// Where incoming frames come from.
pub(crate) enum FrameSource {
    WebSocket(SplitStream<Ws>, Arc<ByteCounters>),
    /// Boxed so WebSocket clients, the swarm's usual case, do not carry its 200-odd bytes.
    Polling(Box<PollSource>),
}

/// Where outgoing frames go.
pub(crate) enum FrameSink {
    WebSocket(SplitSink<Ws, Message>, Arc<ByteCounters>),
    Polling(PollSink),
}

/// Opens the transport and reads the Engine.IO open packet.
pub(crate) async fn connect(
    endpoint: &Endpoint,
    kind: TransportKind,
    counters: &Arc<ByteCounters>,
) -> Result<(FrameSink, FrameSource, OpenInfo), ClientError> {
    match kind {
        TransportKind::WebSocket => {
            let tcp = endpoint.open_tcp().await?;
            tcp.set_nodelay(true)?;
            let ws_config = WebSocketConfig::default().read_buffer_size(READ_BUFFER);
            let (ws, _response) = tokio_tungstenite::client_async_with_config(
                endpoint.ws_url(),
                tcp,
                Some(ws_config),
            )
            .await?;
            let (sink, stream) = ws.split();
            let mut source = FrameSource::WebSocket(stream, Arc::clone(counters));
            let open = parse_open(source.next().await.ok_or(ClientError::Closed)??)?;
            Ok((
                FrameSink::WebSocket(sink, Arc::clone(counters)),
                source,
                open,
            ))
        }
        TransportKind::Polling => {
            let (sink, source, open) = crate::polling::connect(endpoint, counters).await?;
            Ok((
                FrameSink::Polling(sink),
                FrameSource::Polling(Box::new(source)),
                open,
            ))
        }
    }
}

/// Reads the open packet the server starts every session with.
pub(crate) fn parse_open(frame: Message) -> Result<OpenInfo, ClientError> {
    if let Message::Text(text) = &frame
        && let EioPacket::Open(open) = engineio::decode(text)?
    {
        return Ok(open);
    }
    Err(protocol(format!("expected Engine.IO open, got {frame:?}")))
}

impl FrameSource {
    /// The next frame; `None` once the transport has ended.
    pub(crate) async fn next(&mut self) -> Option<Result<Message, ClientError>> {
        match self {
            FrameSource::WebSocket(stream, counters) => {
                Some(counted(counters, stream.next().await?))
            }
            FrameSource::Polling(source) => source.next().await,
        }
    }
}

/// Counts a frame read from a WebSocket: data messages only, as documented on
/// `Client::bytes_received`.
pub(crate) fn counted(
    counters: &ByteCounters,
    frame: Result<Message, tokio_tungstenite::tungstenite::Error>,
) -> Result<Message, ClientError> {
    if let Ok(msg @ (Message::Text(_) | Message::Binary(_))) = &frame {
        counters.add_received(msg.len());
    }
    frame.map_err(ClientError::from)
}

impl FrameSink {
    /// How many queued items the writer may gather into one [`FrameSink::write`].
    pub(crate) fn batch_limit(&self) -> usize {
        match self {
            FrameSink::WebSocket(..) => WS_MAX_BATCH,
            // The spec wants everything queued in one POST; `max_payload` splits bodies anyway.
            FrameSink::Polling(_) => usize::MAX,
        }
    }

    /// Writes one packet's frames back to back (handshake use).
    pub(crate) async fn send(&mut self, frames: Frames) -> Result<(), ClientError> {
        let mut batch = match frames {
            Frames::One(msg) => vec![msg],
            Frames::Many(msgs) => msgs,
        };
        self.write(&mut batch, false).await
    }

    /// Writes (and drains) `frames` in order, then, if `close`, the Engine.IO close, after which
    /// the transport is shut. WebSocket: one flush per call; polling: one POST per call unless
    /// the frames exceed the server's `maxPayload`.
    pub(crate) async fn write(
        &mut self,
        frames: &mut Vec<Message>,
        close: bool,
    ) -> Result<(), ClientError> {
        match self {
            FrameSink::WebSocket(sink, counters) => {
                let mut bytes = 0;
                for frame in frames.drain(..) {
                    bytes += frame.len();
                    sink.feed(frame).await?;
                }
                if close {
                    bytes += engineio::CLOSE.len();
                    counters.add_sent(bytes);
                    // Best effort: the peer may already be gone.
                    let _ = sink
                        .feed(Message::Text(Utf8Bytes::from_static(engineio::CLOSE)))
                        .await;
                    let _ = sink.close().await;
                    return Ok(());
                }
                counters.add_sent(bytes);
                Ok(sink.flush().await?)
            }
            FrameSink::Polling(sink) => sink.write(frames, close).await,
        }
    }

    /// Best-effort close after a failed handshake.
    pub(crate) async fn close(&mut self) {
        let _ = self.write(&mut Vec::new(), true).await;
    }
}
