//! `GameError`: every way a client request can fail, each mapped to a documented error code and
//! turned into the `{ok: false, error: {code, message}}` ack.

use tickstorm_shared::protocol::ErrorAck;
use tickstorm_shared::{ErrorCode, RoomId};

/// A request that could not be carried out. Nothing was changed when one is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GameError {
    /// Malformed or out-of-range payload.
    #[error("{0}")]
    BadRequest(String),
    /// The event needs a seat.
    #[error("you are not in a room; join one first")]
    NotInRoom,
    /// The player already sits in a room.
    #[error("you are already in room {0}; leave it first")]
    AlreadyInRoom(RoomId),
    /// No such room.
    #[error("room {0} does not exist")]
    RoomNotFound(RoomId),
    /// No free seat.
    #[error("room {0} is full")]
    RoomFull(RoomId),
    /// No seated player has that id (admin `player:kick`), or none in the room asked about.
    #[error("player {0} is not seated there (or not connected, for a whisper)")]
    PlayerNotFound(tickstorm_shared::PlayerId),
    /// Unknown token or grace period over.
    #[error("the rejoin token is unknown or its grace period is over")]
    RejoinExpired,
    /// The connection sends this kind of request too fast.
    #[error("too many {0} requests; slow down")]
    RateLimited(&'static str),
    /// A server-wide limit was reached.
    #[error("{0}")]
    ServerFull(String),
    /// A server-side fault.
    #[error("internal error: {0}")]
    Internal(String),
    /// No game of that name is registered.
    #[error("no game named {0:?} on this server")]
    GameNotFound(String),
    /// The room's owner node cannot be reached (scale-out).
    #[error("{0}")]
    Unavailable(String),
    /// An error the room's owner node answered with, relayed as it was.
    #[error("{message}")]
    Relayed {
        /// The owner's code.
        code: ErrorCode,
        /// The owner's message.
        message: String,
    },
}

impl GameError {
    /// The wire code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            GameError::BadRequest(_) => ErrorCode::BadRequest,
            GameError::NotInRoom => ErrorCode::NotInRoom,
            GameError::PlayerNotFound(_) => ErrorCode::PlayerNotFound,
            GameError::AlreadyInRoom(_) => ErrorCode::AlreadyInRoom,
            GameError::RoomNotFound(_) => ErrorCode::RoomNotFound,
            GameError::RoomFull(_) => ErrorCode::RoomFull,
            GameError::RejoinExpired => ErrorCode::RejoinExpired,
            GameError::RateLimited(_) => ErrorCode::RateLimited,
            GameError::ServerFull(_) => ErrorCode::ServerFull,
            GameError::Internal(_) => ErrorCode::Internal,
            GameError::Unavailable(_) => ErrorCode::Unavailable,
            GameError::GameNotFound(_) => ErrorCode::GameNotFound,
            GameError::Relayed { code, .. } => *code,
        }
    }

    /// The failed ack sent for this error.
    pub fn to_ack(&self) -> ErrorAck {
        ErrorAck::new(self.code(), self.to_string())
    }
}
