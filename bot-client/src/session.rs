//! [`Session`]: a connection driven by the task that owns it, with no tasks or channels of its
//! own. For clients by the thousand in one process (the swarm's bots).
//!
//! A [`Client`](crate::Client) runs a reader and a writer task and hands events and acks over
//! through channels, so any task can emit and await an ack. That costs, per message, a channel
//! hop and a wake-up of another task, and per acked emit a oneshot channel and a timer: measured
//! in the swarm, the runtime's own bookkeeping was the largest part of a bot's CPU. A session
//! instead does its reading and writing inside [`Session::next`], polled by its owner: emits are
//! encoded into an outbox at once, written (one flush for everything queued) the next time the
//! owner waits for the session, and acks come back as [`SessionEvent::Ack`] with the id that
//! [`Session::emit_with_ack`] returned, for the owner to match against its own table (and time
//! out on its own clock).
//!
//! Over WebSocket the session polls the socket's two halves directly. Over long-polling, whose
//! reads and writes are HTTP requests in flight, it keeps each request as one boxed future and
//! polls it the same way.

use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rmpv::Value;
use tokio::time::{Instant, Sleep};
use tokio_tungstenite::tungstenite::Message;

use crate::client::{self, encode_event};
use crate::config::{ClientConfig, ParserKind};
use crate::connection::{Incoming, interpret};
use crate::error::ClientError;
use crate::socketio::{self, Decoder, Frames, Packet, PacketKind};
use crate::transport::{ByteCounters, FrameSink, FrameSource, counted};
use crate::Event;

/// How long [`Session::close`] waits for the goodbye to be written.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// A long-poll GET in flight, owning the source until it answers.
type Reading =
    Pin<Box<dyn Future<Output = (FrameSource, Option<Result<Message, ClientError>>)> + Send + Sync>>;

/// A POST in flight, owning the sink until it is answered.
type Writing = Pin<Box<dyn Future<Output = (FrameSink, Result<(), ClientError>)> + Send + Sync>>;

/// What [`Session::next`] brings.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionEvent {
    /// A server event on the session's namespace.
    Event(Event),
    /// The server's answer to the emit that [`Session::emit_with_ack`] numbered `id`.
    Ack {
        /// The id returned by [`Session::emit_with_ack`].
        id: u64,
        /// The ack's arguments.
        args: Vec<Value>,
    },
    /// The connection is over (every later call says so again), and why.
    Closed(&'static str),
}

/// One namespace connection, read and written only while its owner polls [`Session::next`].
///
/// ```no_run
/// # async fn demo() -> Result<(), tickstorm_bot_client::ClientError> {
/// use tickstorm_bot_client::{ClientConfig, Session, SessionEvent};
///
/// let mut session = Session::connect(ClientConfig::new("http://127.0.0.1:3000", "/game")).await?;
/// let asked = session.emit_with_ack("room:join", &serde_json::json!({}))?;
/// loop {
///     match session.next().await {
///         SessionEvent::Ack { id, args } if id == asked => break println!("joined: {args:?}"),
///         SessionEvent::Closed(reason) => break println!("gone: {reason}"),
///         _ => {}
///     }
/// }
/// session.close().await;
/// # Ok(())
/// # }
/// ```
pub struct Session {
    sid: String,
    nsp: String,
    parser: ParserKind,
    /// `None` while a long-poll GET owns it ([`Session::reading`]).
    source: Option<FrameSource>,
    reading: Option<Reading>,
    /// `None` while a POST owns it ([`Session::writing`]).
    sink: Option<FrameSink>,
    writing: Option<Writing>,
    /// Frames encoded and not yet handed to the transport, in order.
    outbox: VecDeque<Message>,
    /// Frames handed to the WebSocket and not flushed yet.
    unflushed: bool,
    decoder: Decoder,
    heartbeat: Duration,
    /// No ping by then: the server is gone. Boxed because a `Sleep` cannot move once polled.
    deadline: Pin<Box<Sleep>>,
    next_ack: u64,
    ended: Option<&'static str>,
    counters: Arc<ByteCounters>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("sid", &self.sid)
            .field("namespace", &self.nsp)
            .field("ended", &self.ended)
            .finish()
    }
}

impl Session {
    /// Connects like [`Client::connect`](crate::Client::connect) (same handshake, errors and
    /// timeout), without starting any task.
    pub async fn connect(config: ClientConfig) -> Result<Session, ClientError> {
        let opened = client::open(config).await?;
        Ok(Session {
            sid: opened.sid,
            nsp: opened.nsp,
            parser: opened.parser,
            source: Some(opened.source),
            reading: None,
            sink: Some(opened.sink),
            writing: None,
            outbox: VecDeque::new(),
            unflushed: false,
            decoder: Decoder::new(opened.parser),
            heartbeat: opened.heartbeat,
            deadline: Box::pin(tokio::time::sleep(opened.heartbeat)),
            next_ack: 0,
            ended: None,
            counters: opened.counters,
        })
    }

    /// The Socket.IO session id the server gave this namespace connection.
    pub fn sid(&self) -> &str {
        &self.sid
    }

    /// Whether the connection is still up, as far as the last [`Session::next`] saw.
    pub fn is_connected(&self) -> bool {
        self.ended.is_none()
    }

    /// Queues `event` with `data` as its single argument; it is written at the next
    /// [`Session::next`].
    pub fn emit<T: serde::Serialize + ?Sized>(
        &mut self,
        event: &str,
        data: &T,
    ) -> Result<(), ClientError> {
        self.queue(encode_event(&self.nsp, self.parser, event, data, None)?)
    }

    /// Queues `event` asking for an ack; returns the ack id that the answer
    /// ([`SessionEvent::Ack`]) will carry. Waiting, and giving up, is the caller's.
    pub fn emit_with_ack<T: serde::Serialize + ?Sized>(
        &mut self,
        event: &str,
        data: &T,
    ) -> Result<u64, ClientError> {
        let id = self.next_ack;
        self.queue(encode_event(&self.nsp, self.parser, event, data, Some(id))?)?;
        self.next_ack += 1;
        Ok(id)
    }

    fn queue(&mut self, frames: Frames) -> Result<(), ClientError> {
        if self.ended.is_some() {
            return Err(ClientError::Closed);
        }
        match frames {
            Frames::One(msg) => self.outbox.push_back(msg),
            Frames::Many(msgs) => self.outbox.extend(msgs),
        }
        Ok(())
    }

    /// Writes what is queued and waits for the next event, ack or the end of the connection.
    ///
    /// Cancel-safe: dropping the future (another `select!` branch won) loses nothing; frames
    /// leave the outbox only once the transport took them, and an incoming frame is handled in
    /// the same poll that read it.
    pub async fn next(&mut self) -> SessionEvent {
        poll_fn(|cx| self.poll_next(cx)).await
    }

    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<SessionEvent> {
        if let Some(reason) = self.ended {
            return Poll::Ready(SessionEvent::Closed(reason));
        }
        if let Poll::Ready(Err(err)) = self.poll_write(cx) {
            tracing::debug!(%err, "transport write failed");
            return Poll::Ready(self.end("write error"));
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(self.end("no ping within pingInterval + pingTimeout"));
        }
        loop {
            let frame = match ready!(self.poll_frame(cx)) {
                Some(Ok(frame)) => frame,
                Some(Err(err)) => {
                    tracing::debug!(%err, "transport read failed");
                    return Poll::Ready(self.end("read error"));
                }
                None => return Poll::Ready(self.end("transport ended")),
            };
            match interpret(&mut self.decoder, &self.nsp, frame) {
                Incoming::Packet(packet) => {
                    if let Some(event) = self.on_packet(packet) {
                        return Poll::Ready(event);
                    }
                }
                Incoming::Ping(pong) => {
                    let next_deadline = Instant::now() + self.heartbeat;
                    self.deadline.as_mut().reset(next_deadline);
                    self.outbox.push_back(pong);
                    // Registers the waker if the socket is full; an error shows at the next call.
                    let _ = self.poll_write(cx);
                }
                Incoming::Nothing => {}
                Incoming::Stop(reason) => return Poll::Ready(self.end(reason)),
            }
        }
    }

    fn on_packet(&mut self, packet: Packet) -> Option<SessionEvent> {
        match packet.kind {
            PacketKind::Event { name, args, id } => Some(SessionEvent::Event(Event {
                name,
                args,
                ack_id: id,
            })),
            PacketKind::Ack { id, args } => Some(SessionEvent::Ack { id, args }),
            PacketKind::Disconnect => Some(self.end("server disconnected the namespace")),
            PacketKind::Connect(_) | PacketKind::ConnectError(_) => {
                tracing::debug!("late CONNECT/CONNECT_ERROR ignored");
                None
            }
        }
    }

    fn end(&mut self, reason: &'static str) -> SessionEvent {
        tracing::debug!(reason, nsp = %self.nsp, "connection ended");
        self.ended = Some(reason);
        SessionEvent::Closed(reason)
    }

    /// Hands the outbox to the transport: over WebSocket every frame, then one flush; over
    /// long-polling one POST at a time with everything queued when it starts.
    fn poll_write(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ClientError>> {
        loop {
            if let Some(writing) = &mut self.writing {
                let (sink, result) = ready!(writing.as_mut().poll(cx));
                self.writing = None;
                self.sink = Some(sink);
                result?;
            }
            match &mut self.sink {
                Some(FrameSink::WebSocket(ws, counters)) => {
                    while !self.outbox.is_empty() {
                        ready!(ws.poll_ready_unpin(cx))?;
                        let Some(frame) = self.outbox.pop_front() else {
                            break;
                        };
                        counters.add_sent(frame.len());
                        ws.start_send_unpin(frame)?;
                        self.unflushed = true;
                    }
                    if self.unflushed {
                        ready!(ws.poll_flush_unpin(cx))?;
                        self.unflushed = false;
                    }
                    return Poll::Ready(Ok(()));
                }
                Some(FrameSink::Polling(_)) if !self.outbox.is_empty() => {
                    let Some(mut sink) = self.sink.take() else {
                        unreachable!("matched Some just above")
                    };
                    let mut batch: Vec<Message> = self.outbox.drain(..).collect();
                    self.writing = Some(Box::pin(async move {
                        let result = sink.write(&mut batch, false).await;
                        (sink, result)
                    }));
                }
                Some(FrameSink::Polling(_)) | None => return Poll::Ready(Ok(())),
            }
        }
    }

    /// The next incoming frame; `None` once the transport ended.
    fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, ClientError>>> {
        if let Some(FrameSource::WebSocket(ws, counters)) = &mut self.source {
            let frame = ready!(ws.poll_next_unpin(cx));
            return Poll::Ready(frame.map(|frame| counted(counters, frame)));
        }
        let reading = match (&mut self.reading, self.source.take()) {
            (Some(reading), _) => reading,
            (None, Some(mut source)) => self.reading.insert(Box::pin(async move {
                let frame = source.next().await;
                (source, frame)
            })),
            (None, None) => return Poll::Ready(None),
        };
        let (source, frame) = ready!(reading.as_mut().poll(cx));
        self.reading = None;
        self.source = Some(source);
        Poll::Ready(frame)
    }

    /// Leaves the namespace, sends the Engine.IO close and shuts the transport, after writing
    /// what is still queued; waits at most 2 s. Calling it again is a no-op.
    pub async fn close(&mut self) {
        if self.ended.is_some() {
            return;
        }
        let leave = Packet::new(&self.nsp, PacketKind::Disconnect);
        if let Ok(frames) = socketio::encode(self.parser, leave) {
            let _ = self.queue(frames);
        }
        self.ended = Some("closed by the client");
        let _ = tokio::time::timeout(CLOSE_WAIT, async {
            // Let a POST in flight finish first: at most one at a time.
            if let Some(writing) = self.writing.take() {
                let (sink, _) = writing.await;
                self.sink = Some(sink);
            }
            if let Some(sink) = &mut self.sink {
                let mut frames: Vec<Message> = self.outbox.drain(..).collect();
                let _ = sink.write(&mut frames, true).await;
            }
        })
        .await;
    }

    /// Payload bytes written, counted like [`Client::bytes_sent`](crate::Client::bytes_sent).
    pub fn bytes_sent(&self) -> u64 {
        self.counters.sent()
    }

    /// Payload bytes read, counted like
    /// [`Client::bytes_received`](crate::Client::bytes_received).
    pub fn bytes_received(&self) -> u64 {
        self.counters.received()
    }
}
