//! The two tasks behind a connected [`Client`](crate::Client) and the state they share with it.
//!
//! The writer task owns the transport's [`FrameSink`] and drains an unbounded queue, so emitting is
//! a synchronous, lock-free push from any task. The reader task owns the [`FrameSource`]: it
//! answers pings, watches the heartbeat, resolves acks and forwards events. Whichever way the
//! connection ends, the reader runs [`Shared::shutdown`], which fails pending acks and stops the
//! writer, and then drops the event sender so the application's receiver ends. Neither task knows
//! which transport it drives (see [`transport`](crate::transport)).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rmpv::Value;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use crate::Event;
use crate::config::ParserKind;
use crate::engineio::{self, EioPacket};
use crate::error::ClientError;
use crate::socketio::{self, Decoder, Frames, Packet, PacketKind};
use crate::transport::{ByteCounters, FrameSink, FrameSource};

type AckReply = Result<Vec<Value>, ClientError>;

/// Work for the writer task.
pub(crate) enum Outgoing {
    Frames(Frames),
    /// Send the Engine.IO close, shut the transport, stop.
    Close,
}

/// State shared by the client handles and the two tasks.
pub(crate) struct Shared {
    pub nsp: String,
    pub parser: ParserKind,
    out: mpsc::UnboundedSender<Outgoing>,
    acks: Mutex<AckTable>,
    next_ack: AtomicU64,
    connected: AtomicBool,
    done: watch::Receiver<bool>,
    pub counters: Arc<ByteCounters>,
}

#[derive(Default)]
struct AckTable {
    pending: HashMap<u64, oneshot::Sender<AckReply>>,
    /// Set once the connection is gone, so late registrations fail instead of waiting forever.
    closed: bool,
}

/// A registered ack; dropping it (timeout, cancelled future) removes the table entry.
pub(crate) struct PendingAck<'a> {
    shared: &'a Shared,
    pub id: u64,
    rx: oneshot::Receiver<AckReply>,
}

impl PendingAck<'_> {
    pub(crate) async fn wait(mut self, timeout: Duration) -> AckReply {
        match tokio::time::timeout(timeout, &mut self.rx).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(_)) => Err(ClientError::Closed),
            Err(_) => Err(ClientError::AckTimeout),
        }
    }
}

impl Drop for PendingAck<'_> {
    fn drop(&mut self) {
        self.shared.acks().pending.remove(&self.id);
    }
}

impl Shared {
    fn acks(&self) -> MutexGuard<'_, AckTable> {
        // The table stays consistent even if a holder panicked: every update is a single call.
        self.acks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    /// Queues frames for the writer.
    pub(crate) fn send(&self, frames: Frames) -> Result<(), ClientError> {
        if !self.is_connected() {
            return Err(ClientError::Closed);
        }
        self.out
            .send(Outgoing::Frames(frames))
            .map_err(|_| ClientError::Closed)
    }

    /// Takes the next ack id and registers a waiter for it.
    pub(crate) fn register_ack(&self) -> Result<PendingAck<'_>, ClientError> {
        let id = self.next_ack.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        let mut acks = self.acks();
        if acks.closed {
            return Err(ClientError::Closed);
        }
        acks.pending.insert(id, tx);
        Ok(PendingAck {
            shared: self,
            id,
            rx,
        })
    }

    fn resolve_ack(&self, id: u64, args: Vec<Value>) {
        match self.acks().pending.remove(&id) {
            // The waiter may have given up in the meantime; nothing to do then.
            Some(tx) => {
                let _ = tx.send(Ok(args));
            }
            None => tracing::debug!(id, "ack for an unknown or expired id"),
        }
    }

    fn fail_acks(&self) {
        let pending = {
            let mut acks = self.acks();
            acks.closed = true;
            std::mem::take(&mut acks.pending)
        };
        for tx in pending.into_values() {
            let _ = tx.send(Err(ClientError::Closed));
        }
    }

    /// Client-initiated close: leave the namespace, then close the transport.
    pub(crate) fn close(&self) {
        if self.connected.swap(false, Ordering::AcqRel) {
            let leave = Packet::new(&self.nsp, PacketKind::Disconnect);
            if let Ok(frames) = socketio::encode(self.parser, leave) {
                let _ = self.out.send(Outgoing::Frames(frames));
            }
            let _ = self.out.send(Outgoing::Close);
        }
        self.fail_acks();
    }

    /// Reader-side end of the connection, whatever the cause.
    fn shutdown(&self) {
        self.connected.store(false, Ordering::Release);
        self.fail_acks();
        // The writer may already be gone; then there is nothing left to close.
        let _ = self.out.send(Outgoing::Close);
    }

    /// Waits (at most `limit`) until the reader task has finished.
    pub(crate) async fn wait_done(&self, limit: Duration) {
        let mut done = self.done.clone();
        // An error means the reader is gone, which is what we wait for anyway.
        let _ = tokio::time::timeout(limit, done.wait_for(|d| *d)).await;
    }
}

/// Starts the reader and writer tasks on an open, namespace-connected transport.
pub(crate) fn spawn(
    (sink, source): (FrameSink, FrameSource),
    nsp: String,
    parser: ParserKind,
    heartbeat: Duration,
    counters: Arc<ByteCounters>,
) -> (Arc<Shared>, mpsc::UnboundedReceiver<Event>) {
    let (out, out_rx) = mpsc::unbounded_channel();
    let (events, events_rx) = mpsc::unbounded_channel();
    let (done_tx, done) = watch::channel(false);
    let shared = Arc::new(Shared {
        nsp,
        parser,
        out,
        acks: Mutex::default(),
        next_ack: AtomicU64::new(0),
        connected: AtomicBool::new(true),
        done,
        counters,
    });
    let writer = tokio::spawn(write_loop(sink, out_rx));
    let reader = Reader {
        shared: Arc::clone(&shared),
        events,
        decoder: Decoder::new(parser),
    };
    tokio::spawn(async move {
        reader.run(source, writer, heartbeat).await;
        let _ = done_tx.send(true);
    });
    (shared, events_rx)
}

async fn write_loop(mut sink: FrameSink, mut rx: mpsc::UnboundedReceiver<Outgoing>) {
    let limit = sink.batch_limit();
    let mut batch = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        let mut items = 0;
        let mut close = false;
        // Gather what is already queued and write it at once: one flush (WebSocket) or one POST
        // (polling) for a burst of emits.
        while let Some(item) = next.take() {
            match item {
                Outgoing::Frames(Frames::One(msg)) => batch.push(msg),
                Outgoing::Frames(Frames::Many(msgs)) => batch.extend(msgs),
                Outgoing::Close => {
                    close = true;
                    break;
                }
            }
            items += 1;
            if items < limit {
                next = rx.try_recv().ok();
            }
        }
        if let Err(err) = sink.write(&mut batch, close).await {
            tracing::debug!(%err, "transport write failed");
            return;
        }
        if close {
            return;
        }
    }
}

/// What the reader loop does after one frame.
enum Step {
    Continue,
    /// A server ping: push the heartbeat deadline.
    Ping,
    Stop(&'static str),
}

struct Reader {
    shared: Arc<Shared>,
    events: mpsc::UnboundedSender<Event>,
    decoder: Decoder,
}

impl Reader {
    async fn run(
        mut self,
        mut source: FrameSource,
        mut writer: JoinHandle<()>,
        heartbeat: Duration,
    ) {
        let deadline = tokio::time::sleep(heartbeat);
        tokio::pin!(deadline);
        let reason = loop {
            tokio::select! {
                frame = source.next() => match frame {
                    Some(Ok(msg)) => match self.on_message(msg) {
                        Step::Continue => {}
                        Step::Ping => deadline.as_mut().reset(Instant::now() + heartbeat),
                        Step::Stop(reason) => break reason,
                    },
                    Some(Err(err)) => {
                        tracing::debug!(%err, "transport read failed");
                        break "read error";
                    }
                    None => break "transport ended",
                },
                () = &mut deadline => break "no ping within pingInterval + pingTimeout",
                _ = &mut writer => break "writer stopped",
            }
        };
        tracing::debug!(reason, nsp = %self.shared.nsp, "connection ended");
        self.shared.shutdown();
    }

    fn on_message(&mut self, msg: Message) -> Step {
        match interpret(&mut self.decoder, &self.shared.nsp, msg) {
            Incoming::Packet(packet) => self.on_packet(packet),
            Incoming::Ping(pong) => {
                let _ = self.shared.out.send(Outgoing::Frames(Frames::One(pong)));
                Step::Ping
            }
            Incoming::Nothing => Step::Continue,
            Incoming::Stop(reason) => Step::Stop(reason),
        }
    }

    fn on_packet(&mut self, packet: Packet) -> Step {
        match packet.kind {
            PacketKind::Event { name, args, id } => {
                // A dropped receiver only means nobody listens; acks must keep working.
                let _ = self.events.send(Event {
                    name,
                    args,
                    ack_id: id,
                });
                Step::Continue
            }
            PacketKind::Ack { id, args } => {
                self.shared.resolve_ack(id, args);
                Step::Continue
            }
            PacketKind::Disconnect => Step::Stop("server disconnected the namespace"),
            PacketKind::Connect(_) | PacketKind::ConnectError(_) => {
                tracing::debug!("late CONNECT/CONNECT_ERROR ignored");
                Step::Continue
            }
        }
    }
}

/// What one incoming frame means to a connection on namespace `nsp`.
pub(crate) enum Incoming {
    /// A whole packet for our namespace.
    Packet(Packet),
    /// A server ping: send this pong, and push the heartbeat deadline.
    Ping(Message),
    /// Nothing to act on (a control frame, an attachment still pending, a bad packet dropped,
    /// another namespace's packet).
    Nothing,
    /// The connection is over, and why.
    Stop(&'static str),
}

/// Decodes one frame: the Engine.IO and Socket.IO handling every connection shares, whoever
/// drives it (the reader task here, or a [`Session`](crate::Session)'s owner).
pub(crate) fn interpret(decoder: &mut Decoder, nsp: &str, msg: Message) -> Incoming {
    let decoded = match msg {
        Message::Text(text) => match engineio::decode(&text) {
            Ok(EioPacket::Ping(payload)) => {
                let pong = if payload.is_empty() {
                    Utf8Bytes::from_static("3")
                } else {
                    engineio::pong(payload).into()
                };
                return Incoming::Ping(Message::Text(pong));
            }
            Ok(EioPacket::Message(payload)) => decoder.text(payload),
            Ok(EioPacket::Close) => return Incoming::Stop("server sent Engine.IO close"),
            Ok(EioPacket::Open(_) | EioPacket::Pong(_) | EioPacket::Upgrade | EioPacket::Noop) => {
                return Incoming::Nothing;
            }
            Err(err) => Err(err),
        },
        Message::Binary(bytes) => decoder.binary(bytes),
        Message::Close(_) => return Incoming::Stop("WebSocket closed by the server"),
        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => return Incoming::Nothing,
    };
    match decoded {
        Ok(Some(packet)) if packet.nsp == nsp => Incoming::Packet(packet),
        Ok(Some(packet)) => {
            tracing::debug!(nsp = %packet.nsp, "packet for another namespace ignored");
            Incoming::Nothing
        }
        Ok(None) => Incoming::Nothing,
        Err(err) => {
            // One bad packet is not worth the connection; the error says what to fix.
            tracing::warn!(%err, "dropping undecodable packet");
            Incoming::Nothing
        }
    }
}
