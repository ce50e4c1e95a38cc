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
//! Over WebSocket the session polls the socket directly, unsplit (one owner needs no lock between
//! a read half and a write half). Over long-polling, whose reads and writes are HTTP requests in
//! flight, it keeps each request as one boxed future and polls it the same way.

use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker, ready};
use std::time::Duration;

use futures_util::{FutureExt, SinkExt, StreamExt};
use rmpv::Value;
use tokio::time::{Instant, Sleep};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use crate::Event;
use crate::client::{self, encode_event};
use crate::config::{ClientConfig, ParserKind};
use crate::connection::{Incoming, interpret};
use crate::engineio;
use crate::error::{ClientError, protocol};
use crate::socketio::{self, Decoder, Frames, Packet, PacketKind};
use crate::transport::{ByteCounters, FrameSink, FrameSource, Ws, counted};

/// How long [`Session::close`] waits for the goodbye to be written.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// A long-poll GET in flight, owning the source until it answers.
type Reading = Pin<
    Box<dyn Future<Output = (FrameSource, Option<Result<Message, ClientError>>)> + Send + Sync>,
>;

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
    io: Io,
    /// Frames encoded and not yet handed to the transport, in order.
    outbox: VecDeque<Message>,
    decoder: Decoder,
    heartbeat: Duration,
    /// No ping by then: the server is gone. Boxed because a `Sleep` cannot move once polled.
    deadline: Pin<Box<Sleep>>,
    /// The waker the deadline's timer holds (see [`Session::heartbeat_expired`]).
    armed_for: Option<Waker>,
    next_ack: u64,
    ended: Option<&'static str>,
    counters: Arc<ByteCounters>,
}

/// The transport, as the session drives it.
#[expect(
    clippy::large_enum_variant,
    reason = "the WebSocket is the common case and inline saves a pointer chase per frame; the \
              rare polling variant is the boxed one"
)]
enum Io {
    WebSocket {
        ws: Ws,
        /// Frames handed to the socket and not flushed yet.
        unflushed: bool,
    },
    /// Boxed: the swarm's usual transport is WebSocket.
    Polling(Box<PollingIo>),
}

/// Long-polling's two HTTP connections, each owned by its request while one is in flight.
struct PollingIo {
    /// `None` while a long-poll GET owns it (`reading`).
    source: Option<FrameSource>,
    reading: Option<Reading>,
    /// `None` while a POST owns it (`writing`).
    sink: Option<FrameSink>,
    writing: Option<Writing>,
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
        let io = match (opened.sink, opened.source) {
            (FrameSink::WebSocket(sink, _), FrameSource::WebSocket(stream, _)) => Io::WebSocket {
                ws: stream
                    .reunite(sink)
                    .map_err(|_| protocol("WebSocket halves of two sockets"))?,
                unflushed: false,
            },
            (sink, source) => Io::Polling(Box::new(PollingIo {
                source: Some(source),
                reading: None,
                sink: Some(sink),
                writing: None,
            })),
        };
        Ok(Session {
            sid: opened.sid,
            nsp: opened.nsp,
            parser: opened.parser,
            io,
            outbox: VecDeque::new(),
            decoder: Decoder::new(opened.parser),
            heartbeat: opened.heartbeat,
            deadline: Box::pin(tokio::time::sleep(opened.heartbeat)),
            armed_for: None,
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
            return Poll::Ready(self.write_failed(&err));
        }
        loop {
            let frame = match self.poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => frame,
                Poll::Ready(Some(Err(err))) => {
                    tracing::debug!(%err, "transport read failed");
                    return Poll::Ready(self.end("read error"));
                }
                Poll::Ready(None) => return Poll::Ready(self.end("transport ended")),
                // Only once everything received is read: a late owner with a ping waiting in
                // the socket is not a dead server.
                Poll::Pending if self.heartbeat_expired(cx) => {
                    return Poll::Ready(self.end("no ping within pingInterval + pingTimeout"));
                }
                Poll::Pending => return Poll::Pending,
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
                    self.armed_for = None;
                    self.outbox.push_back(pong);
                    // Pending only registers the waker (the socket is full); an error is the end:
                    // frames taken from the outbox are gone with it.
                    if let Poll::Ready(Err(err)) = self.poll_write(cx) {
                        return Poll::Ready(self.write_failed(&err));
                    }
                }
                Incoming::Nothing => {}
                Incoming::Stop(reason) => return Poll::Ready(self.end(reason)),
            }
        }
    }

    fn write_failed(&mut self, err: &ClientError) -> SessionEvent {
        tracing::debug!(%err, "transport write failed");
        self.end("write error")
    }

    /// Whether the heartbeat deadline has passed. The timer is polled (and given this task's
    /// waker) once per reset or per new owner task only; it keeps that waker until it fires, so
    /// the other polls, one per message, just compare the clock.
    fn heartbeat_expired(&mut self, cx: &mut Context<'_>) -> bool {
        if self
            .armed_for
            .as_ref()
            .is_some_and(|waker| waker.will_wake(cx.waker()))
        {
            return Instant::now() >= self.deadline.deadline();
        }
        // Unconstrained: with the task's cooperative budget spent, tokio's timer would answer
        // Pending without registering anything, and a deadline thought armed would never wake us.
        let expired = tokio::task::unconstrained(self.deadline.as_mut())
            .poll_unpin(cx)
            .is_ready();
        self.armed_for = Some(cx.waker().clone());
        expired
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
        let outbox = &mut self.outbox;
        match &mut self.io {
            Io::WebSocket { ws, unflushed } => {
                while !outbox.is_empty() {
                    ready!(ws.poll_ready_unpin(cx))?;
                    let Some(frame) = outbox.pop_front() else {
                        break;
                    };
                    self.counters.add_sent(frame.len());
                    ws.start_send_unpin(frame)?;
                    *unflushed = true;
                }
                if *unflushed {
                    ready!(ws.poll_flush_unpin(cx))?;
                    *unflushed = false;
                }
                Poll::Ready(Ok(()))
            }
            Io::Polling(polling) => loop {
                let PollingIo { sink, writing, .. } = &mut **polling;
                if let Some(post) = writing {
                    let (done, result) = ready!(post.as_mut().poll(cx));
                    *writing = None;
                    *sink = Some(done);
                    result?;
                }
                if outbox.is_empty() {
                    return Poll::Ready(Ok(()));
                }
                let Some(mut owned) = sink.take() else {
                    return Poll::Ready(Err(ClientError::Closed));
                };
                let mut batch: Vec<Message> = outbox.drain(..).collect();
                *writing = Some(Box::pin(async move {
                    let result = owned.write(&mut batch, false).await;
                    (owned, result)
                }));
            },
        }
    }

    /// The next incoming frame; `None` once the transport ended.
    fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, ClientError>>> {
        match &mut self.io {
            Io::WebSocket { ws, .. } => {
                let frame = ready!(ws.poll_next_unpin(cx));
                Poll::Ready(frame.map(|frame| counted(&self.counters, frame)))
            }
            Io::Polling(polling) => {
                let PollingIo {
                    source, reading, ..
                } = &mut **polling;
                let get = match (reading.as_mut(), source.take()) {
                    (Some(get), _) => get,
                    (None, Some(mut owned)) => reading.insert(Box::pin(async move {
                        let frame = owned.next().await;
                        (owned, frame)
                    })),
                    (None, None) => return Poll::Ready(None),
                };
                let (owned, frame) = ready!(get.as_mut().poll(cx));
                *reading = None;
                *source = Some(owned);
                Poll::Ready(frame)
            }
        }
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
        let goodbye = Message::Text(Utf8Bytes::from_static(engineio::CLOSE));
        self.outbox.push_back(goodbye);
        let _ = tokio::time::timeout(CLOSE_WAIT, async {
            // Best effort all along: the server may be gone already.
            // Over long-polling the close packet in the last POST is all there is to it.
            let _ = poll_fn(|cx| self.poll_write(cx)).await;
            if let Io::WebSocket { ws, .. } = &mut self.io {
                let _ = SinkExt::close(ws).await;
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
