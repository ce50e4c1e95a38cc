//! Handlers of namespace `/game`: each turns one client event into a command for the rooms (or an
//! input for a room's queue) and answers with exactly one ack, `{ok: true, ...}` or
//! `{ok: false, error}`. They hold no game state of their own.

use std::sync::Arc;

use serde::Serialize;
use socketioxide::extract::{Event, State, TryData};
use socketioxide::handler::{ConnectHandler, FromMessageParts, MessageHandler, Value};
use socketioxide::socket::Socket;
use tickstorm_shared::ErrorCode;
use tickstorm_shared::protocol::{
    BaselineAck, ChatMessage, ChatRequest, ConnectionClosing, CreateRoomAck, CreateRoomRequest,
    InputAck, InputFrame, JoinAck, JoinRoomRequest, LeaveReason, LobbyAck, OkAck, PlayerJoined,
    RejoinRequest, TimeAck, TimeRequest, events,
};

use super::rate_limit::{Kind, Verdict};
use super::{Ack, Adapter, GameSocket as SocketRef, payload};
use crate::cluster::router::RoomRouter;
use crate::error::GameError;
use crate::games::Games;
use crate::metrics::ServerMetrics;
use crate::room::{Seat, SeatLink};
use crate::session::Session;

/// The `/game` connect handler: nothing left to do. The event handlers are registered earlier, by
/// the handshake middleware ([`register_handlers`]), because socketioxide queues the CONNECT
/// packet *before* it calls the connect handler: on a multi-threaded runtime a fast client's
/// first event can be read in between and would find no handler, hence no ack (the bot swarm saw
/// a few `room:join`/`room:rejoin` never answered, first with an `async` connect handler, then,
/// rarely, even with a synchronous one). The middleware runs before CONNECT is sent, so no event
/// can come first.
#[derive(Debug, Clone, Copy)]
pub struct GameConnect;

impl ConnectHandler<Adapter, GameConnect> for GameConnect {
    fn call(&self, socket: Arc<Socket<Adapter>>, _auth: Option<Value>) {
        tracing::debug!(sid = %socket.id, "game client connected");
    }
}

/// Registers the `/game` event handlers on a socket whose handshake was accepted.
///
/// `input`, the hot path, has a handler of its own; every other event goes through one fallback
/// handler, `GameEvents`, that dispatches on the event's name. socketioxide keeps a handler
/// table per connection, and a dozen entries cost ~1.2 KiB on every idle connection; the
/// dispatcher is a unit struct (boxed without an allocation) and the table keeps one entry.
pub fn register_handlers(
    socket: &SocketRef,
    metrics: Arc<ServerMetrics>,
    rooms: RoomRouter,
    games: Games,
) {
    socket.on(
        events::INPUT,
        InlineInput {
            metrics,
            rooms,
            games,
        },
    );
    socket.on_fallback(GameEvents);
    // Every connection is in the room named by its sid, so one room broadcast can leave out the
    // connections that get their own snapshot (a delta, or their view).
    socket.join(socket.id);
    socket.on_disconnect(on_disconnect);
}

/// Every `/game` event but `input`, dispatched by name to its handler. An event the server does
/// not know is answered (when the client asked for an ack) with a `bad_request` error naming it,
/// and charged to the connection's request limit like any other request.
#[derive(Debug, Clone, Copy)]
struct GameEvents;

impl MessageHandler<Adapter, GameEvents> for GameEvents {
    fn call(&self, socket: Arc<Socket<Adapter>>, mut value: Value, ack_id: Option<i64>) {
        // socketioxide only calls a handler for an event whose name it has read already.
        let Ok(Event(name)) = Event::from_message_parts(&socket, &mut value, &ack_id) else {
            return;
        };
        match name.as_str() {
            events::LOBBY_LIST => MessageHandler::call(&lobby_list, socket, value, ack_id),
            events::ROOM_CREATE => MessageHandler::call(&room_create, socket, value, ack_id),
            events::ROOM_JOIN => MessageHandler::call(&room_join, socket, value, ack_id),
            events::ROOM_LEAVE => MessageHandler::call(&room_leave, socket, value, ack_id),
            events::ROOM_REJOIN => MessageHandler::call(&room_rejoin, socket, value, ack_id),
            events::CHAT => MessageHandler::call(&chat, socket, value, ack_id),
            events::CHAT_WHISPER => {
                MessageHandler::call(&super::social::whisper, socket, value, ack_id)
            }
            events::CHAT_TYPING => {
                MessageHandler::call(&super::social::typing, socket, value, ack_id)
            }
            events::LOBBY_ONLINE => {
                MessageHandler::call(&super::social::online, socket, value, ack_id)
            }
            events::SNAPSHOT_ACK => MessageHandler::call(&snapshot_ack, socket, value, ack_id),
            events::TIME => MessageHandler::call(&time, socket, value, ack_id),
            _ => unknown_event(socket, &name, value, ack_id),
        }
    }
}

/// Answers an event no handler knows.
fn unknown_event(socket: Arc<Socket<Adapter>>, name: &str, mut value: Value, ack_id: Option<i64>) {
    let Ok(ack) = Ack::from_message_parts(&socket, &mut value, &ack_id);
    let Ok(State(metrics)) = Metrics::from_message_parts(&socket, &mut value, &ack_id) else {
        return;
    };
    let socket = SocketRef::from(socket);
    let result = session(&socket).and_then(|session| {
        admit(&socket, &session, Kind::Request)?;
        Err::<OkAck, _>(GameError::BadRequest(format!(
            "unknown event {name:?} on {}",
            tickstorm_shared::protocol::GAME_NAMESPACE
        )))
    });
    reply(ack, &metrics, result);
}

/// Sends the one ack every `/game` event gets, and counts it in the game's metrics. A client
/// that asked for no ack simply gets none (the request is still counted as answered). The count
/// comes first, so the metrics are never behind what a client has already been told.
pub(super) fn reply<T: Serialize>(ack: Ack, metrics: &ServerMetrics, result: Result<T, GameError>) {
    metrics.record_ack(result.as_ref().err().map(GameError::code));
    send_ack(ack, result);
}

/// Sends `{ok: true, ...}` or the error ack.
pub(crate) fn send_ack<T: Serialize>(ack: Ack, result: Result<T, GameError>) {
    let sent = match result {
        Ok(body) => ack.send(&body),
        Err(error) => ack.send(&error.to_ack()),
    };
    if let Err(e) = sent {
        tracing::trace!(error = %e, "ack not sent");
    }
}

pub(super) fn session(socket: &SocketRef) -> Result<Arc<Session>, GameError> {
    // The handshake middleware inserts the session before any handler can run.
    socket
        .extensions
        .get::<Arc<Session>>()
        .ok_or_else(|| GameError::Internal("no session for this connection".into()))
}

/// Charges a request to the connection's rate limits. A flooding connection is told why and
/// closed, after this request's own `rate_limited` ack.
pub(super) fn admit(socket: &SocketRef, session: &Session, kind: Kind) -> Result<(), GameError> {
    let what = match kind {
        Kind::Input { .. } => "input",
        Kind::Chat => "chat",
        Kind::Request => "lobby and room",
    };
    match session.limits.check(kind) {
        Verdict::Allowed => Ok(()),
        Verdict::Limited => Err(GameError::RateLimited(what)),
        Verdict::Disconnect => {
            close_for_flooding(socket.clone(), what);
            Err(GameError::RateLimited(what))
        }
    }
}

/// Tells a flooding client why it is being closed, then closes it. On a task: the ack of the
/// request that tipped it over goes out first.
fn close_for_flooding(socket: SocketRef, what: &'static str) {
    tracing::warn!(sid = %socket.id, what, "closing a connection that keeps flooding");
    tokio::spawn(async move {
        let notice = ConnectionClosing {
            reason: "rate_limited".into(),
            message: format!("too many {what} requests for too long"),
        };
        let _ = socket.emit(events::CONNECTION_CLOSING, &notice);
        // Give the notice a moment to leave before the transport closes.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let _ = socket.disconnect();
    });
}

pub(super) type Metrics = State<Arc<ServerMetrics>>;

/// Requests being handled. Shutdown closes the connections only once this tracker is empty (or
/// the shutdown grace is over), so a request the server has started on still gets its answer.
#[derive(Debug, Clone, Default)]
pub struct InFlight(pub tokio_util::task::TaskTracker);

/// A request's place in [`InFlight`], taken as a handler argument. socketioxide runs extractors
/// synchronously in the connection's read loop and only then spawns the handler's task, so the
/// request counts from the moment it is dispatched: a token taken inside the handler would leave
/// a spawned task that has not run yet uncounted, and shutdown could close its connection before
/// it answers (seen: ~5% of a burst of creates sent as shutdown began lost their answers).
pub(super) struct InFlightToken {
    _held_until_answered: tokio_util::task::task_tracker::TaskTrackerToken,
}

impl FromMessageParts<Adapter> for InFlightToken {
    type Error = <State<InFlight> as FromMessageParts<Adapter>>::Error;

    fn from_message_parts(
        socket: &Arc<Socket<Adapter>>,
        value: &mut Value,
        ack_id: &Option<i64>,
    ) -> Result<Self, Self::Error> {
        let State(in_flight) = State::<InFlight>::from_message_parts(socket, value, ack_id)?;
        Ok(Self {
            _held_until_answered: in_flight.0.token(),
        })
    }
}

async fn lobby_list(
    socket: SocketRef,
    ack: Ack,
    State(rooms): State<RoomRouter>,
    State(metrics): Metrics,
    _in_flight: InFlightToken,
) {
    let result = session(&socket)
        .and_then(|session| admit(&socket, &session, Kind::Request))
        .map(|()| LobbyAck {
            ok: true,
            rooms: rooms.lobby(),
        });
    reply(ack, &metrics, result);
}

async fn room_create(
    socket: SocketRef,
    ack: Ack,
    State(rooms): State<RoomRouter>,
    State(metrics): Metrics,
    _in_flight: InFlightToken,
    TryData(data): TryData<Option<CreateRoomRequest>>,
) {
    let result = async {
        admit(&socket, &*session(&socket)?, Kind::Request)?;
        let request = data
            .map_err(|e| payload::malformed(events::ROOM_CREATE, e))?
            .unwrap_or_default();
        if request.record.is_some() {
            return Err(GameError::BadRequest(
                "record is for the HTTP API (POST /api/rooms): recordings use the server's disk"
                    .into(),
            ));
        }
        let room = rooms.create(payload::create_room(request)?).await?;
        Ok(CreateRoomAck { ok: true, room })
    };
    reply(ack, &metrics, result.await);
}

async fn room_join(
    socket: SocketRef,
    ack: Ack,
    State(rooms): State<RoomRouter>,
    State(metrics): Metrics,
    _in_flight: InFlightToken,
    TryData(data): TryData<Option<JoinRoomRequest>>,
) {
    let result = async {
        let session = session(&socket)?;
        admit(&socket, &session, Kind::Request)?;
        let request = data
            .map_err(|e| payload::malformed(events::ROOM_JOIN, e))?
            .unwrap_or_default();
        if let Some(seat) = session.seat() {
            return Err(GameError::AlreadyInRoom(seat.room.id.clone()));
        }
        let seat = rooms
            .join(request.room_id, request.game, session.name.clone(), &socket)
            .await?;
        take_seat(&socket, &rooms, &session, seat).await
    };
    reply(ack, &metrics, result.await);
}

async fn room_rejoin(
    socket: SocketRef,
    ack: Ack,
    State(rooms): State<RoomRouter>,
    State(metrics): Metrics,
    _in_flight: InFlightToken,
    TryData(data): TryData<RejoinRequest>,
) {
    let result = async {
        let session = session(&socket)?;
        admit(&socket, &session, Kind::Request)?;
        let request = data.map_err(|e| payload::malformed(events::ROOM_REJOIN, e))?;
        if let Some(seat) = session.seat() {
            return Err(GameError::AlreadyInRoom(seat.room.id.clone()));
        }
        let seat = rooms.rejoin(request.token, &socket).await?;
        let joined = take_seat(&socket, &rooms, &session, seat).await?;
        metrics.rejoins.inc();
        Ok(joined)
    };
    reply(ack, &metrics, result.await);
}

/// Binds a seat the driver granted to this connection: session, broadcast room, announcement.
async fn take_seat(
    socket: &SocketRef,
    rooms: &RoomRouter,
    session: &Session,
    seat: Seat,
) -> Result<JoinAck, GameError> {
    let seat = Arc::new(seat);
    if matches!(seat.link, SeatLink::Remote { .. }) {
        // The owner node cannot reach this node's sockets: join its broadcasts here. Snapshots
        // the owner sent before this line are not seen, but nothing after the ack is missed.
        socket.join(seat.room.id.clone());
    }
    if !session.set_seat(seat.clone()) {
        // Two joins raced on one connection; the second seat must not linger, nor its
        // broadcasts (the driver joined this connection to the seat's room).
        if session
            .seat()
            .is_none_or(|held| held.room.id != seat.room.id)
        {
            socket.leave(seat.room.id.clone());
        }
        rooms.leave(&seat, socket.id, LeaveReason::Left);
        return Err(GameError::AlreadyInRoom(seat.room.id.clone()));
    }
    // The driver has already joined this connection to the room's broadcasts, in the same step
    // that seated it, so no `player:joined` or snapshot falls between the ack's `members` and
    // the first event this connection receives.
    // The connection may have dropped while the driver was seating it; its disconnect handler
    // found no seat then. Hold the seat like any other disconnect, so the rejoin token still works.
    // Liveness is membership of the namespace: `Socket::connected()` is also false for a moment
    // *after* CONNECT was sent, and a fast client's first `room:join` can land in that moment.
    let still_there = socket.broadcast().get_socket(socket.id).is_some();
    if !still_there && let Some(seat) = session.take_seat() {
        rooms.disconnect(&seat, socket.id);
    }
    let joined = PlayerJoined {
        player_id: seat.player_id,
        name: session.name.clone(),
    };
    if let Err(e) = socket
        .to(seat.room.id.clone())
        .emit(events::PLAYER_JOINED, &joined)
        .await
    {
        tracing::debug!(error = %e, "player:joined broadcast failed for some members");
    }
    Ok(JoinAck {
        ok: true,
        room: seat.room.clone(),
        player_id: seat.player_id,
        tick: seat.tick,
        rejoin_token: seat.rejoin_token.clone(),
        members: seat.members.clone(),
        kinds: seat.kinds.clone(),
    })
}

async fn room_leave(
    socket: SocketRef,
    ack: Ack,
    State(rooms): State<RoomRouter>,
    State(metrics): Metrics,
    _in_flight: InFlightToken,
) {
    let result = session(&socket).and_then(|session| {
        admit(&socket, &session, Kind::Request)?;
        let seat = session.take_seat().ok_or(GameError::NotInRoom)?;
        socket.leave(seat.room.id.clone());
        rooms.leave(&seat, socket.id, LeaveReason::Left);
        Ok(OkAck::OK)
    });
    reply(ack, &metrics, result);
}

/// The `input` handler. It runs inline on the connection's reader instead of on a task of its own
/// (what socketioxide does for `async` handlers): the work is a short lock and one ack, cheaper
/// than a task spawn and wake-up at 10 inputs per second per player, and a client's inputs are
/// then handled in the order they were sent. An input for a room on another node is sent there
/// in that same order, and acked when the owner answers. The payload is decoded only once the
/// seat is known: its room's game says what type it has.
#[derive(Debug, Clone)]
struct InlineInput {
    metrics: Arc<ServerMetrics>,
    rooms: RoomRouter,
    games: Games,
}

impl MessageHandler<Adapter, InlineInput> for InlineInput {
    fn call(&self, socket: Arc<Socket<Adapter>>, mut value: Value, ack_id: Option<i64>) {
        let Ok(ack) = Ack::from_message_parts(&socket, &mut value, &ack_id);
        self.metrics.inputs.inc();
        match input(&socket, &self.games, &mut value, &ack_id) {
            Routed::Here(result) => reply(ack, &self.metrics, result),
            Routed::Owner {
                owner,
                seat,
                seq,
                payload,
            } => {
                let answer = self
                    .rooms
                    .forward_input(&owner, &seat, socket.id, seq, payload);
                let metrics = self.metrics.clone();
                let socket = SocketRef::from(socket);
                tokio::spawn(async move {
                    let answer = answer.await;
                    if answer
                        .as_ref()
                        .is_err_and(|e| e.code() == ErrorCode::NotInRoom)
                    {
                        // The owner no longer has this seat (its room closed while a notice
                        // could not get through, say): drop it here too and say so, so the
                        // player joins again instead of sending inputs into nothing.
                        if let Ok(session) = session(&socket)
                            && session.take_seat_in(&seat.room.id).is_some()
                        {
                            socket.leave(seat.room.id.clone());
                            let closed = tickstorm_shared::protocol::RoomClosed {
                                room_id: seat.room.id.clone(),
                                reason: tickstorm_shared::protocol::CloseReason::NodeLost,
                            };
                            let _ = socket.emit(events::ROOM_CLOSED, &closed);
                        }
                    }
                    reply(ack, &metrics, answer)
                });
            }
        }
    }
}

/// Where an input ends up.
enum Routed {
    /// Queued (or refused) on this node.
    Here(Result<InputAck, GameError>),
    /// Valid, for a room on another node.
    Owner {
        owner: crate::cluster::wire::NodeId,
        seat: Arc<Seat>,
        seq: u32,
        payload: Vec<u8>,
    },
}

fn input(
    socket: &Arc<Socket<Adapter>>,
    games: &Games,
    value: &mut Value,
    ack_id: &Option<i64>,
) -> Routed {
    let checked = (|| {
        let socket_ref = SocketRef::from(socket.clone());
        let session = session(&socket_ref)?;
        let seat = session.seat();
        let kind = seat.as_ref().map_or(Kind::Request, |s| Kind::Input {
            tick_rate: s.room.tick_rate,
        });
        // Charged before parsing: malformed floods are floods too.
        admit(&socket_ref, &session, kind)?;
        let seat = match seat {
            Some(seat) => seat,
            None => {
                // Still a malformed payload first, as before seats had games: decode it as the
                // default game's input to tell a bad payload from a missing seat.
                if let Some(codec) = games.names().next().and_then(|name| games.input(name))
                    && let Err(e) = codec.encode(socket, value, ack_id)
                {
                    return Err(e);
                }
                return Err(GameError::NotInRoom);
            }
        };
        let codec = games
            .input(&seat.room.game)
            .ok_or_else(|| GameError::GameNotFound(seat.room.game.clone()))?;
        Ok((seat, codec))
    })();
    let (seat, codec) = match checked {
        Ok(checked) => checked,
        Err(e) => return Routed::Here(Err(e)),
    };
    match &seat.link {
        SeatLink::Local {
            player,
            inputs,
            baseline,
        } => {
            // The framework's own field, read before the game's input so a bad one changes
            // nothing (the payload holds no binary attachments, so reading it twice is safe).
            let Ok(TryData(frame)) =
                TryData::<InputFrame>::from_message_parts(socket, value, ack_id);
            let said = match frame {
                Ok(frame) => frame.baseline,
                Err(e) => return Routed::Here(Err(payload::malformed(events::INPUT, e))),
            };
            let queued = codec.queue(socket, value, ack_id, *player, &**inputs);
            if let (Ok(_), Some(tick)) = (&queued, said) {
                baseline.set(tick);
            }
            Routed::Here(queued)
        }
        SeatLink::Remote { owner } => match codec.encode(socket, value, ack_id) {
            Ok((seq, payload)) => Routed::Owner {
                owner: owner.clone(),
                seat: seat.clone(),
                seq,
                payload,
            },
            Err(e) => Routed::Here(Err(e)),
        },
    }
}

/// `snapshot:ack {tick}`: the snapshot a client that sends no inputs holds, as its baseline for
/// deltas (a client that sends inputs puts `baseline` in them instead). Charged to the input
/// rate limit.
async fn snapshot_ack(
    socket: SocketRef,
    ack: Ack,
    State(metrics): Metrics,
    _in_flight: InFlightToken,
    TryData(data): TryData<BaselineAck>,
) {
    let result = session(&socket).and_then(|session| {
        let seat = session.seat().ok_or(GameError::NotInRoom)?;
        admit(
            &socket,
            &session,
            Kind::Input {
                tick_rate: seat.room.tick_rate,
            },
        )?;
        let tick = data
            .map_err(|e| payload::malformed(events::SNAPSHOT_ACK, e))?
            .tick;
        // A seat held through another node gets keyframes: its baseline stays here unused.
        if let SeatLink::Local { baseline, .. } = &seat.link {
            baseline.set(tick);
        }
        Ok(OkAck::OK)
    });
    reply(ack, &metrics, result);
}

async fn chat(
    socket: SocketRef,
    ack: Ack,
    State(metrics): Metrics,
    _in_flight: InFlightToken,
    TryData(data): TryData<ChatRequest>,
) {
    let result = async {
        let session = session(&socket)?;
        admit(&socket, &session, Kind::Chat)?;
        let text = payload::chat_text(data.map_err(|e| payload::malformed(events::CHAT, e))?)?;
        let seat = session.seat().ok_or(GameError::NotInRoom)?;
        let message = ChatMessage {
            player_id: seat.player_id,
            name: session.name.clone(),
            text,
            time: crate::clock::unix_ms(),
        };
        socket
            .within(seat.room.id.clone())
            .emit(events::CHAT, &message)
            .await
            .map_err(|e| GameError::Internal(format!("chat broadcast failed: {e}")))?;
        metrics.chat_messages.inc();
        Ok(OkAck::OK)
    };
    reply(ack, &metrics, result.await);
}

async fn time(
    socket: SocketRef,
    ack: Ack,
    State(metrics): Metrics,
    _in_flight: InFlightToken,
    TryData(data): TryData<TimeRequest>,
) {
    let result = session(&socket)
        .and_then(|session| admit(&socket, &session, Kind::Request))
        .and_then(|()| data.map_err(|e| payload::malformed(events::TIME, e)))
        .and_then(|request| {
            if !request.client_time.is_finite() {
                return Err(GameError::BadRequest(
                    "client_time must be a finite number".into(),
                ));
            }
            Ok(TimeAck {
                ok: true,
                client_time: request.client_time,
                server_time: crate::clock::unix_ms(),
            })
        });
    reply(ack, &metrics, result);
}

async fn on_disconnect(socket: SocketRef, State(rooms): State<RoomRouter>) {
    let Ok(session) = session(&socket) else {
        return;
    };
    if let Some(seat) = session.take_seat() {
        rooms.disconnect(&seat, socket.id);
    }
    tracing::debug!(sid = %socket.id, "game client disconnected");
}
