//! Record and replay: a room's recording is its header (game, seed, options, rates) and every
//! event that changed its simulation (seats, applied inputs with the ticks they applied at), plus
//! hashes and occasional whole snapshots to check a replay against. The simulation is
//! deterministic for a seed and inputs, so [`Replay`] rebuilds the room's every snapshot byte
//! for byte, or names the first tick where it could not. `docs/recording.md` has the format.
//!
//! The framework captures ([`SimWorld::start_recording`](crate::SimWorld::start_recording));
//! where the bytes go (files, rotation, limits) is the server's business.

mod capture;
mod files;
mod format;
mod replay;

pub use capture::RecordSettings;
pub(crate) use capture::RoomLog;
pub use files::{load_segments, segment_path};
pub use format::{
    EXTENSION, Entry, EntryReader, FORMAT_NAME, FORMAT_VERSION, FormatError, Header, end_entry,
    read_header, snapshot_hash,
};
pub use replay::{Difference, Replay, ReplayError, ReplayStats, Ticked};

/// Why a room's recording could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The room entity does not exist.
    #[error("no such room")]
    NoRoom,
    /// The room has ticked or seated someone: its state can no longer be rebuilt from its seed.
    #[error("a recording starts with its room: this room has already run")]
    NotAtStart,
    /// The room is being recorded.
    #[error("the room is already being recorded")]
    AlreadyRecording,
}

#[cfg(test)]
mod tests;
