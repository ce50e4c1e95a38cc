//! Tickstorm's shared vocabulary: the wire protocol types, the snapshot codec. Nothing here does I/O, spawns tasks or reads a clock, so the server, the bot client,
//! the benches and the tests can all use the same definitions.

pub mod admin;
pub mod delta;
pub mod duration;
pub mod protocol;
pub mod snapshot;

pub use duration::parse_duration;
pub use protocol::{ErrorCode, PlayerId, RoomId, RoomInfo, Tick};
pub use snapshot::{
    Field, PlayerEntry, Snapshot, SnapshotDecodeError, SnapshotVisitor, SnapshotWriter,
    scan as scan_snapshot,
};
