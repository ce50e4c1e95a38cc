//! The orb arena's snapshots as typed rows, for Rust clients and tests: the framework's envelope
//! joined with the `avatar` and `orb` tables.

use tickstorm_shared::snapshot::{Field, Snapshot, SnapshotDecodeError};
use tickstorm_shared::{PlayerId, Tick};

/// Kind number of avatars in the orb arena's snapshots.
pub const AVATAR_KIND: usize = 0;
/// Kind number of orbs.
pub const ORB_KIND: usize = 1;

/// One player with its avatar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AvatarState {
    /// Player id.
    pub id: PlayerId,
    /// The avatar's net id.
    pub net_id: u32,
    /// Position x.
    pub x: f32,
    /// Position y.
    pub y: f32,
    /// Velocity x, units per second.
    pub vx: f32,
    /// Velocity y, units per second.
    pub vy: f32,
    /// Highest input `seq` applied at or before this tick.
    pub last_input_seq: u32,
    /// Orbs collected.
    pub score: u32,
}

/// One orb.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OrbState {
    /// The orb's net id (it keeps it when it respawns).
    pub net_id: u32,
    /// Position x.
    pub x: f32,
    /// Position y.
    pub y: f32,
}

/// An orb arena snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct OrbView {
    /// The tick.
    pub tick: Tick,
    /// Server clock when the tick ran, unix ms.
    pub server_time_ms: u64,
    /// Every seated player, in join order.
    pub players: Vec<AvatarState>,
    /// Every orb, in spawn order.
    pub orbs: Vec<OrbState>,
}

impl OrbView {
    /// Decodes snapshot bytes of an orb arena room.
    pub fn decode(bytes: &[u8]) -> Result<Self, SnapshotDecodeError> {
        Self::from_snapshot(&Snapshot::decode(bytes)?)
    }

    /// Reads a decoded snapshot as the orb arena's.
    pub fn from_snapshot(s: &Snapshot) -> Result<Self, SnapshotDecodeError> {
        let wrong =
            |what: &str| SnapshotDecodeError::Invalid(format!("not an orb arena snapshot: {what}"));
        if s.kinds.len() != 2 {
            return Err(wrong("it does not have two kinds"));
        }
        let f = |fields: &[Field], i: usize| fields.get(i).and_then(|v| v.as_f32());
        let players = s
            .players
            .iter()
            .map(|entry| {
                let row = s
                    .entity(AVATAR_KIND, entry.net_id)
                    .ok_or_else(|| wrong("a player without an avatar"))?;
                let v = &row.fields;
                Ok(AvatarState {
                    id: entry.player_id,
                    net_id: entry.net_id,
                    x: f(v, 0).ok_or_else(|| wrong("avatar x"))?,
                    y: f(v, 1).ok_or_else(|| wrong("avatar y"))?,
                    vx: f(v, 2).ok_or_else(|| wrong("avatar vx"))?,
                    vy: f(v, 3).ok_or_else(|| wrong("avatar vy"))?,
                    last_input_seq: entry.last_input_seq,
                    score: v
                        .get(4)
                        .and_then(|s| s.as_u32())
                        .ok_or_else(|| wrong("avatar score"))?,
                })
            })
            .collect::<Result<_, SnapshotDecodeError>>()?;
        let orbs = s.kinds[ORB_KIND]
            .iter()
            .map(|row| {
                Ok(OrbState {
                    net_id: row.net_id,
                    x: f(&row.fields, 0).ok_or_else(|| wrong("orb x"))?,
                    y: f(&row.fields, 1).ok_or_else(|| wrong("orb y"))?,
                })
            })
            .collect::<Result<_, SnapshotDecodeError>>()?;
        Ok(OrbView {
            tick: s.tick,
            server_time_ms: s.server_time_ms,
            players,
            orbs,
        })
    }

    /// The row of one player, if seated.
    pub fn player(&self, id: PlayerId) -> Option<&AvatarState> {
        self.players.iter().find(|p| p.id == id)
    }
}
