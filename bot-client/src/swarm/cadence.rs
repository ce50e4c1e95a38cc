//! Which ticks of a room come with a snapshot, so the delivery accounting counts a gap between
//! two snapshots as missed only for the ticks the room really sends.
//!
//! A room simulates at `tick_rate` and sends the snapshot of tick `t` when `floor(t * send_rate
//! / tick_rate)` grew (docs/protocol.md, "Visibility and send rate"); without a `send_rate`
//! (the default, and servers before send rates) it sends every tick.

use tickstorm_shared::Tick;

/// A room's send schedule, from its `RoomInfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cadence {
    send_rate: u64,
    tick_rate: u64,
}

impl Cadence {
    /// Every tick sent.
    pub(crate) const EVERY_TICK: Cadence = Cadence {
        send_rate: 1,
        tick_rate: 1,
    };

    /// The schedule of the room a join or rejoin ack describes (`ack.room`); every tick when
    /// the room says no `send_rate` (0 or absent) or no `tick_rate`.
    pub(crate) fn of_room(room: &serde_json::Value) -> Self {
        let rate = |key: &str| room[key].as_u64().filter(|&r| r > 0);
        match (rate("send_rate"), rate("tick_rate")) {
            (Some(send_rate), Some(tick_rate)) if send_rate < tick_rate => Cadence {
                send_rate,
                tick_rate,
            },
            _ => Self::EVERY_TICK,
        }
    }

    /// How many snapshots the room sends for the ticks after `after` up to `up_to` (inclusive):
    /// `floor(up_to * s / r) - floor(after * s / r)`, since that floor grows by one on each sent
    /// tick and stays put on the others.
    pub(crate) fn sends_between(self, after: Tick, up_to: Tick) -> u64 {
        if up_to <= after {
            return 0;
        }
        let sent_by = |tick: Tick| {
            (u128::from(tick) * u128::from(self.send_rate) / u128::from(self.tick_rate)) as u64
        };
        sent_by(up_to) - sent_by(after)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The server's rule, tick by tick (server/src/room/replica.rs `sends_on`).
    fn sends_on(tick: Tick, send_rate: u64, tick_rate: u64) -> bool {
        send_rate >= tick_rate || tick * send_rate / tick_rate > (tick - 1) * send_rate / tick_rate
    }

    #[test]
    fn counts_exactly_the_ticks_the_room_sends() {
        for (send, tick) in [(20, 60), (7, 30), (1, 128), (29, 30)] {
            let cadence = Cadence::of_room(&json!({ "send_rate": send, "tick_rate": tick }));
            for after in 0..70 {
                for up_to in after..after + 70 {
                    let by_tick = (after + 1..=up_to)
                        .filter(|&t| sends_on(t, send, tick))
                        .count() as u64;
                    assert_eq!(
                        cadence.sends_between(after, up_to),
                        by_tick,
                        "{send}/{tick} Hz, ticks {after}..={up_to}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_room_without_a_lower_send_rate_sends_every_tick() {
        for room in [
            json!({ "tick_rate": 30 }),
            json!({ "tick_rate": 30, "send_rate": 0 }),
            json!({ "tick_rate": 30, "send_rate": 30 }),
            json!({}),
        ] {
            assert_eq!(Cadence::of_room(&room), Cadence::EVERY_TICK, "{room}");
        }
        assert_eq!(Cadence::EVERY_TICK.sends_between(100, 103), 3);
        assert_eq!(Cadence::EVERY_TICK.sends_between(103, 100), 0);
    }
}
