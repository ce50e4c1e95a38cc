//! Checks that every path into the rooms applies, whoever asks: a client's handler on this node,
//! or another node forwarding a request to the room's owner.

use tickstorm_shared::protocol::{CreateRoomRequest, InputAck, limits};
use tickstorm_sim::{Accepted, Entity, InputPort};

use crate::error::GameError;

/// Checks `room:create` fields and normalizes the name (the game and its options are checked
/// by the driver, which knows the games).
pub fn validate_create(mut request: CreateRoomRequest) -> Result<CreateRoomRequest, GameError> {
    if let Some(n) = request.max_players
        && !(1..=limits::MAX_PLAYERS_CAP).contains(&n)
    {
        return Err(GameError::BadRequest(format!(
            "max_players must be 1..={}",
            limits::MAX_PLAYERS_CAP
        )));
    }
    if let Some(t) = request.tick_rate
        && !(1..=limits::TICK_RATE_CAP).contains(&t)
    {
        return Err(GameError::BadRequest(format!(
            "tick_rate must be 1..={}",
            limits::TICK_RATE_CAP
        )));
    }
    // At most the room's tick rate, which the driver checks (it knows the server default).
    if let Some(s) = request.send_rate
        && !(1..=limits::TICK_RATE_CAP).contains(&s)
    {
        return Err(GameError::BadRequest(format!(
            "send_rate must be 1..=tick_rate (at most {})",
            limits::TICK_RATE_CAP
        )));
    }
    if let Some(r) = request.view_radius
        && !limits::valid_view_radius(r)
    {
        return Err(GameError::BadRequest(format!(
            "view_radius must be a number above 0 and at most {}",
            limits::VIEW_RADIUS_CAP
        )));
    }
    if let Some(name) = request.name.take() {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > limits::ROOM_NAME_MAX_CHARS {
            return Err(GameError::BadRequest(format!(
                "name must be 1..={} characters",
                limits::ROOM_NAME_MAX_CHARS
            )));
        }
        if name.chars().any(char::is_control) {
            return Err(GameError::BadRequest(
                "name must not contain control characters".into(),
            ));
        }
        request.name = Some(name.to_owned());
    }
    Ok(request)
}

/// Queues an input forwarded by another node (MessagePack of the game's input type) into one of
/// this node's rooms; the game validates it again here.
pub fn queue_forwarded(
    player: Entity,
    port: &dyn InputPort,
    seq: u32,
    payload: &[u8],
) -> Result<InputAck, GameError> {
    let accepted = port
        .submit_msgpack(player, payload)
        .map_err(|e| GameError::BadRequest(e.to_string()))?;
    Ok(input_ack(seq, accepted))
}

/// The ack of an input the room's queue took (or found stale).
pub fn input_ack(seq: u32, accepted: Accepted) -> InputAck {
    InputAck {
        ok: true,
        seq,
        tick: accepted.tick,
        stale: accepted.stale,
    }
}
