//! `Session`: what the server remembers about one `/game` connection: the validated name from the
//! handshake, its rate limits and the seat it holds, if any. Stored in the socket's extensions, so it lives and dies
//! with the connection.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::net::rate_limit::{RateLimitConfig, RateLimiter};
use crate::room::Seat;

/// Per-connection state.
#[derive(Debug)]
pub struct Session {
    /// Display name, validated at the handshake.
    pub name: String,
    /// The `sub` of the player's signed token (only with `--auth-secret`).
    pub identity: Option<String>,
    /// This connection's request budget.
    pub limits: RateLimiter,
    seat: Mutex<Option<Arc<Seat>>>,
}

impl Session {
    /// A session without a seat.
    pub fn new(name: String, identity: Option<String>, limits: RateLimitConfig) -> Self {
        Self {
            name,
            identity,
            limits: RateLimiter::new(limits),
            seat: Mutex::new(None),
        }
    }

    /// The seat held, if any.
    pub fn seat(&self) -> Option<Arc<Seat>> {
        self.lock().clone()
    }

    /// Stores a seat; returns false (and stores nothing) when one is already held.
    pub fn set_seat(&self, seat: Arc<Seat>) -> bool {
        let mut slot = self.lock();
        if slot.is_some() {
            return false;
        }
        *slot = Some(seat);
        true
    }

    /// Gives up the seat.
    pub fn take_seat(&self) -> Option<Arc<Seat>> {
        self.lock().take()
    }

    /// Gives up the seat if it is in `room_id` (used when the server closes a room).
    pub fn take_seat_in(&self, room_id: &str) -> Option<Arc<Seat>> {
        let mut slot = self.lock();
        if slot.as_ref().is_some_and(|s| s.room.id == room_id) {
            slot.take()
        } else {
            None
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<Arc<Seat>>> {
        // The slot is a single Option replaced whole; a poisoned lock still holds a valid value.
        self.seat.lock().unwrap_or_else(|e| e.into_inner())
    }
}
