//! Decoding of `input` payloads per game. The handler learns the game only from the seat, so each
//! registered game brings an [`InputCodec`] of its input type (made by `Games::register`): it
//! decodes the event with the connection's parser straight into the game's type, validates it
//! with the game's rules and queues it, or encodes it for the room's owner node.

use std::marker::PhantomData;
use std::sync::Arc;

use socketioxide::extract::TryData;
use socketioxide::handler::{FromMessageParts, Value};
use socketioxide::socket::Socket;
use tickstorm_shared::protocol::{InputAck, events};
use tickstorm_sim::{Entity, GameInput, InputPort, InputQueue};

use super::{Adapter, payload};
use crate::error::GameError;

/// A game's input type, as the `input` handler uses it.
pub(crate) trait InputCodec: Send + Sync + std::fmt::Debug {
    /// Decodes, validates and queues an input for a seat in one of this node's rooms.
    fn queue(
        &self,
        socket: &Arc<Socket<Adapter>>,
        value: &mut Value,
        ack_id: &Option<i64>,
        player: Entity,
        port: &dyn InputPort,
    ) -> Result<InputAck, GameError>;

    /// Decodes and validates an input for a seat in a room of another node; returns its `seq`
    /// and the MessagePack bytes to forward (the owner validates them again).
    fn encode(
        &self,
        socket: &Arc<Socket<Adapter>>,
        value: &mut Value,
        ack_id: &Option<i64>,
    ) -> Result<(u32, Vec<u8>), GameError>;
}

/// The codec of input type `I`.
#[derive(Debug)]
pub(crate) struct TypedInput<I>(PhantomData<fn() -> I>);

impl<I> Default for TypedInput<I> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<I: GameInput> TypedInput<I> {
    fn decode(
        socket: &Arc<Socket<Adapter>>,
        value: &mut Value,
        ack_id: &Option<i64>,
    ) -> Result<I, GameError> {
        let Ok(TryData(data)) = TryData::<I>::from_message_parts(socket, value, ack_id);
        data.map_err(|e| payload::malformed(events::INPUT, e))
    }
}

impl<I: GameInput> InputCodec for TypedInput<I> {
    fn queue(
        &self,
        socket: &Arc<Socket<Adapter>>,
        value: &mut Value,
        ack_id: &Option<i64>,
        player: Entity,
        port: &dyn InputPort,
    ) -> Result<InputAck, GameError> {
        let input = Self::decode(socket, value, ack_id)?;
        let seq = input.seq();
        let queue = port
            .as_any()
            .downcast_ref::<InputQueue<I>>()
            .ok_or_else(|| GameError::Internal("the room's queue is of another game".into()))?;
        let accepted = queue
            .submit_validated(player, input)
            .map_err(|e| GameError::BadRequest(e.to_string()))?;
        Ok(crate::room::input_ack(seq, accepted))
    }

    fn encode(
        &self,
        socket: &Arc<Socket<Adapter>>,
        value: &mut Value,
        ack_id: &Option<i64>,
    ) -> Result<(u32, Vec<u8>), GameError> {
        let input = Self::decode(socket, value, ack_id)?
            .validate()
            .map_err(|e| GameError::BadRequest(format!("invalid input payload: {e}")))?;
        let bytes = rmp_serde::to_vec_named(&input)
            .map_err(|e| GameError::Internal(format!("cannot encode the input: {e}")))?;
        Ok((input.seq(), bytes))
    }
}
