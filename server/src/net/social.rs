//! The `/game` events around play: a whisper to one member of your room (`chat:whisper`), the
//! typing indicator (`chat:typing` -> `player:typing`) and who is online (`lobby:online`). All
//! work across the nodes of a cluster: a whisper's target is looked up where its room runs and
//! reached through the Socket.IO room named by its connection's sid (every connection joins
//! it); typing goes out as a room broadcast; presence adds up every node's published record.

use std::sync::Arc;

use socketioxide::extract::{State, TryData};
use tickstorm_shared::protocol::{
    ChatMessage, ChatRequest, OkAck, PlayerTyping, TypingRequest, WhisperRequest, events,
};

use super::game::{InFlightToken, Metrics, admit, reply, session};
use super::rate_limit::Kind;
use super::{Ack, GameSocket as SocketRef, payload};
use crate::cluster::router::RoomRouter;
use crate::error::GameError;
use crate::games::Games;
use crate::metrics::ServerMetrics;

/// `chat:whisper {to, text}`: the text (checked as `chat`'s, on the same rate limit) goes to
/// member `to` of the sender's room as `chat:whisper {player_id, name, text, time}`, and to
/// nobody else. `player_not_found` when `to` is not seated in the room or is disconnected.
pub(super) async fn whisper(
    socket: SocketRef,
    ack: Ack,
    State(rooms): State<RoomRouter>,
    State(metrics): Metrics,
    _in_flight: InFlightToken,
    TryData(data): TryData<WhisperRequest>,
) {
    let result = async {
        let session = session(&socket)?;
        admit(&socket, &session, Kind::Chat)?;
        let request = data.map_err(|e| payload::malformed(events::CHAT_WHISPER, e))?;
        let text = payload::chat_text(ChatRequest { text: request.text })?;
        let seat = session.seat().ok_or(GameError::NotInRoom)?;
        if request.to == seat.player_id {
            return Err(GameError::BadRequest(
                "to: a whisper goes to another member of your room, not to yourself".into(),
            ));
        }
        let target = rooms.member(&seat.room.id, request.to).await?;
        let message = ChatMessage {
            player_id: seat.player_id,
            name: session.name.clone(),
            text,
            time: crate::clock::unix_ms(),
        };
        // On this node: straight to the socket. Elsewhere: the room named by its sid, which
        // the cluster's adapter delivers on the node that holds the connection.
        let sent = match socket.broadcast().get_socket(target) {
            Some(target) => target
                .emit(events::CHAT_WHISPER, &message)
                .map_err(|e| e.to_string()),
            None => socket
                .to(target)
                .emit(events::CHAT_WHISPER, &message)
                .await
                .map_err(|e| e.to_string()),
        };
        sent.map_err(|e| GameError::Internal(format!("whisper not delivered: {e}")))?;
        metrics.chat_messages.inc();
        Ok(OkAck::OK)
    };
    reply(ack, &metrics, result.await);
}

/// `chat:typing {typing}`: the rest of the room gets `player:typing {player_id, typing}`.
/// Volatile in spirit: a member whose outgoing queue is full does not get it, and nothing is
/// retried (a `true` expires at the receivers anyway, see `limits::TYPING_HOLD_MS`).
pub(super) async fn typing(
    socket: SocketRef,
    ack: Ack,
    State(metrics): Metrics,
    _in_flight: InFlightToken,
    TryData(data): TryData<TypingRequest>,
) {
    let result = async {
        let session = session(&socket)?;
        admit(&socket, &session, Kind::Request)?;
        let request = data.map_err(|e| payload::malformed(events::CHAT_TYPING, e))?;
        let seat = session.seat().ok_or(GameError::NotInRoom)?;
        let typing = PlayerTyping {
            player_id: seat.player_id,
            typing: request.typing,
        };
        if let Err(e) = socket
            .to(seat.room.id.clone())
            .emit(events::PLAYER_TYPING, &typing)
            .await
        {
            tracing::trace!(error = %e, "player:typing not queued for some members");
        }
        Ok(OkAck::OK)
    };
    reply(ack, &metrics, result.await);
}

/// `lobby:online`: players seated and connections open, on every node; players per game.
pub(super) async fn online(
    socket: SocketRef,
    ack: Ack,
    State(rooms): State<RoomRouter>,
    State(games): State<Games>,
    State(metrics): State<Arc<ServerMetrics>>,
    _in_flight: InFlightToken,
) {
    let result = session(&socket)
        .and_then(|session| admit(&socket, &session, Kind::Request))
        .map(|()| {
            let here = usize::try_from(metrics.game_connections.get()).unwrap_or(0);
            rooms.online(here, games.names())
        });
    reply(ack, &metrics, result);
}
