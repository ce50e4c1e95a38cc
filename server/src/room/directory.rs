//! `RoomDirectory`: a read-mostly copy of the room list and server counts, published by the
//! driver after changes, so `lobby:list`, `/api/rooms` and tests read it without a round trip.

use std::sync::{Arc, RwLock};

use serde::Serialize;
use tickstorm_shared::RoomInfo;

/// Totals the driver publishes with the room list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ServerCounts {
    /// Open rooms.
    pub rooms: usize,
    /// Seats taken, including players inside their rejoin grace period.
    pub players: usize,
    /// Seats held for disconnected players.
    pub disconnected: usize,
}

#[derive(Debug, Default)]
struct Published {
    rooms: Arc<Vec<RoomInfo>>,
    counts: ServerCounts,
}

/// The published room list.
#[derive(Debug, Default)]
pub struct RoomDirectory {
    published: RwLock<Published>,
    /// Woken on every publish (the cluster heartbeat writes the change to Redis at once).
    changed: tokio::sync::Notify,
}

impl RoomDirectory {
    /// Rooms in creation order.
    pub fn rooms(&self) -> Arc<Vec<RoomInfo>> {
        self.read().rooms.clone()
    }

    /// Current totals.
    pub fn counts(&self) -> ServerCounts {
        self.read().counts
    }

    pub(crate) fn publish(&self, rooms: Vec<RoomInfo>, counts: ServerCounts) {
        let mut published = self.published.write().unwrap_or_else(|e| e.into_inner());
        *published = Published {
            rooms: Arc::new(rooms),
            counts,
        };
        drop(published);
        self.changed.notify_one();
    }

    /// Resolves after the next publish (or at once if one happened since the last call).
    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Published> {
        // Publishing replaces the whole value at once, so a poisoned lock still holds a
        // consistent list.
        self.published.read().unwrap_or_else(|e| e.into_inner())
    }
}
