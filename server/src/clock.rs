//! The wall clock, in the one unit the protocol uses (unix milliseconds). The simulation never
//! reads it; the driver stamps snapshots with it, the handlers answer `time` with it.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}
