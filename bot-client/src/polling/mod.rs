//! The Engine.IO v4 HTTP long-polling transport, as a [`PollSource`] and a [`PollSink`].
//!
//! Two keep-alive connections per client: HTTP/1.1 cannot send a request on a connection whose
//! previous answer is still pending, and the long-poll GET is pending almost all the time. The
//! source owns the GET connection and writes the next GET as soon as an answer arrives, before the
//! packets in it are handled, so a poll is outstanding at all times. The sink owns the POST
//! connection; it is driven by the single writer task, so at most one POST is in flight, as the
//! protocol requires, and everything queued meanwhile goes into the next body.
//!
//! A polling client never upgrades to WebSocket: `upgrades` in the open packet is ignored.

pub(crate) mod http;
pub(crate) mod payload;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use self::http::{HttpConn, Response};
use crate::config::Endpoint;
use crate::engineio::{self, OpenInfo};
use crate::error::{ClientError, protocol};
use crate::transport::{ByteCounters, parse_open};

/// Packets from the server, read with long-poll GETs.
pub(crate) struct PollSource {
    conn: HttpConn,
    target: String,
    /// Frames of the last answer not handed out yet.
    queue: VecDeque<Message>,
    /// A GET has been written and its answer not read yet.
    in_flight: bool,
    ended: bool,
    counters: Arc<ByteCounters>,
}

/// Packets to the server, sent in POST bodies.
pub(crate) struct PollSink {
    conn: HttpConn,
    target: String,
    /// The server's `maxPayload`: a longer body is refused with 413 and ends the session.
    max_payload: usize,
    /// How long a POST may take; the heartbeat window, past which the session is dead anyway.
    timeout: Duration,
    /// The body being built, kept to reuse its allocation.
    body: Vec<u8>,
    counters: Arc<ByteCounters>,
}

/// Runs the polling handshake (`GET` without sid, answered by the open packet).
pub(crate) async fn connect(
    endpoint: &Endpoint,
    counters: &Arc<ByteCounters>,
) -> Result<(PollSink, PollSource, OpenInfo), ClientError> {
    let mut get = HttpConn::new(endpoint);
    let response = get
        .request("GET", &endpoint.polling_target(None), b"")
        .await?;
    counters.add_received(response.body.len());
    // `VecDeque::from(Vec)` then `pop_front`, not `into_iter().next()` then `collect()`: with
    // Rust 1.95 collecting an exhausted `vec::IntoIter` into a `VecDeque` leaves `head ==
    // capacity`, and the next push/pop touches memory past the buffer (rust-lang/rust#162452;
    // it crashed this code with a segfault).
    let mut frames = VecDeque::from(payload::decode(ok_body(response)?)?);
    let open = parse_open(
        frames
            .pop_front()
            .ok_or_else(|| protocol("empty handshake answer"))?,
    )?;
    // The sid goes into every request target unescaped.
    if open.sid.is_empty()
        || !open
            .sid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(protocol(format!("unusable Engine.IO sid {:?}", open.sid)));
    }
    let target = endpoint.polling_target(Some(&open.sid));
    let source = PollSource {
        conn: get,
        target: target.clone(),
        queue: frames,
        in_flight: false,
        ended: false,
        counters: Arc::clone(counters),
    };
    let sink = PollSink {
        conn: HttpConn::new(endpoint),
        target,
        max_payload: match usize::try_from(open.max_payload) {
            Ok(0) | Err(_) => usize::MAX,
            Ok(n) => n,
        },
        timeout: open.heartbeat_window(),
        body: Vec::new(),
        counters: Arc::clone(counters),
    };
    Ok((sink, source, open))
}

/// The body of a 200 answer; any other status means the session is gone or broken.
fn ok_body(response: Response) -> Result<bytes::Bytes, ClientError> {
    if response.status == 200 {
        return Ok(response.body);
    }
    let shown = &response.body[..response.body.len().min(200)];
    Err(protocol(format!(
        "HTTP {} from the server: {}",
        response.status,
        String::from_utf8_lossy(shown)
    )))
}

impl PollSource {
    /// The next frame; `None` after the transport failed (the error is returned once first).
    pub(crate) async fn next(&mut self) -> Option<Result<Message, ClientError>> {
        loop {
            if let Some(frame) = self.queue.pop_front() {
                return Some(Ok(frame));
            }
            if self.ended {
                return None;
            }
            if let Err(err) = self.poll().await {
                self.ended = true;
                return Some(Err(err));
            }
        }
    }

    /// Waits for one poll answer and queues its frames.
    async fn poll(&mut self) -> Result<(), ClientError> {
        if !self.in_flight {
            self.conn.send("GET", &self.target, b"").await?;
        }
        self.in_flight = false;
        let response = self.conn.receive("GET", &self.target, b"").await?;
        self.counters.add_received(response.body.len());
        let frames = payload::decode(ok_body(response)?)?;
        // After a close the session is gone; another GET would only earn a 400.
        let closing = frames
            .iter()
            .any(|f| matches!(f, Message::Text(t) if t.as_str() == engineio::CLOSE));
        if !closing {
            self.conn.send("GET", &self.target, b"").await?;
            self.in_flight = true;
        }
        self.queue.extend(frames);
        Ok(())
    }
}

impl PollSink {
    /// Sends `frames` (drained) in as few POSTs as `maxPayload` allows, then the close packet if
    /// asked. A single frame larger than `maxPayload` still goes out alone; the server then
    /// refuses it and the connection ends, as it would for an oversized WebSocket message.
    pub(crate) async fn write(
        &mut self,
        frames: &mut Vec<Message>,
        close: bool,
    ) -> Result<(), ClientError> {
        self.body.clear();
        let close_frame = close.then(|| Message::Text(Utf8Bytes::from_static(engineio::CLOSE)));
        for frame in frames.iter().chain(close_frame.as_ref()) {
            let len = payload::encoded_len(frame);
            if !self.body.is_empty() && self.body.len() + 1 + len > self.max_payload {
                self.post().await?;
            }
            payload::encode_into(&mut self.body, frame);
        }
        frames.clear();
        if self.body.is_empty() {
            return Ok(());
        }
        self.post().await
    }

    async fn post(&mut self) -> Result<(), ClientError> {
        let body = std::mem::take(&mut self.body);
        self.counters.add_sent(body.len());
        let result =
            tokio::time::timeout(self.timeout, self.conn.request("POST", &self.target, &body))
                .await;
        // Same policy as the request buffer: keep small allocations, drop big ones.
        self.body = if body.capacity() > http::KEEP_CAPACITY {
            Vec::new()
        } else {
            body
        };
        self.body.clear();
        let response = result.map_err(|_| protocol("POST not answered within the heartbeat"))??;
        self.counters.add_received(response.body.len());
        ok_body(response).map(drop)
    }
}
