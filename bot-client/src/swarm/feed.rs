//! One seat's snapshot stream as a bot follows it: a [`ClientState`] that applies every
//! `snapshot` payload, keyframe (version 2) or delta (version 3), and the baseline the bot tells
//! the server in its inputs (docs/protocol.md, "Delta snapshots").
//!
//! No sockets here, so the baseline and recovery rules are unit-tested on bytes alone:
//! - a bot in [`SnapshotMode::Keyframes`] never says a baseline (it is a stock client);
//! - a bot in [`SnapshotMode::Deltas`] says the newest tick it applied (`0` before the first);
//! - after a snapshot fails to apply it says `0` until a keyframe has applied, because its held
//!   states may no longer be what the server thinks it has.

use tickstorm_shared::delta::{ClientState, KindCoding, State};
use tickstorm_shared::{SnapshotDecodeError, Tick};

use super::config::SnapshotMode;

/// What a snapshot payload was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// A whole state (version 2).
    Keyframe,
    /// Changes against a state the bot holds (version 3).
    Delta,
}

/// The result of [`SnapshotFeed::apply`].
#[derive(Debug)]
pub(crate) enum Received<'a> {
    /// A new tick, applied: the state it describes.
    Applied { state: &'a State, format: Format },
    /// A tick not newer than the newest applied (repeated or reordered): nothing changed.
    Old,
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct SnapshotFeed {
    held: ClientState,
    mode: SnapshotMode,
    /// A snapshot failed to apply: say baseline 0 until a keyframe has applied.
    recovering: bool,
}

impl SnapshotFeed {
    /// The stream of a new seat (join or rejoin) whose kinds are coded as `layout` (from the
    /// ack's `kinds`): it holds nothing, so the server starts it with a keyframe.
    pub(crate) fn new(mode: SnapshotMode, layout: Vec<KindCoding>) -> Self {
        Self {
            held: ClientState::new(layout),
            mode,
            recovering: false,
        }
    }

    /// The `baseline` to put into the next input, or `None` to send none (keyframe mode).
    pub(crate) fn baseline(&self) -> Option<Tick> {
        match self.mode {
            SnapshotMode::Keyframes => None,
            SnapshotMode::Deltas if self.recovering => Some(0),
            SnapshotMode::Deltas => Some(self.held.baseline()),
        }
    }

    /// Applies one `snapshot` payload. A payload that fails to apply changes no held state and
    /// puts the feed in recovery (baseline 0 until a keyframe).
    pub(crate) fn apply(&mut self, bytes: &[u8]) -> Result<Received<'_>, SnapshotDecodeError> {
        let newest = self.held.latest().map(|s| s.tick);
        if let (Some(newest), Some(tick)) = (newest, tick_of(bytes))
            && tick <= newest
        {
            // Applying it would make an older state the newest, so the baseline said next would
            // go back in time.
            return Ok(Received::Old);
        }
        let format = match ClientState::version(bytes) {
            Some(tickstorm_shared::delta::DELTA_VERSION) => Format::Delta,
            _ => Format::Keyframe,
        };
        match self.held.apply(bytes) {
            Ok(state) => {
                if format == Format::Keyframe {
                    self.recovering = false;
                }
                Ok(Received::Applied { state, format })
            }
            Err(e) => {
                self.recovering = true;
                Err(e)
            }
        }
    }
}

/// The tick of a snapshot payload (element 1 in both versions), if it has one.
fn tick_of(bytes: &[u8]) -> Option<Tick> {
    use rmp::decode::{read_array_len, read_int};
    let rd = &mut &bytes[..];
    read_array_len(rd).ok()?;
    let _version: u8 = read_int(rd).ok()?;
    read_int(rd).ok()
}

/// The error code a bot records for a snapshot that failed to apply: `snapshot_rejected: ` and
/// the decoder's reason with every number written `N`, so one kind of failure is one line of the
/// report however many ticks it hit.
pub(crate) fn rejection_code(error: &SnapshotDecodeError) -> String {
    let mut code = String::from("snapshot_rejected: ");
    let mut in_number = false;
    for c in error.to_string().chars() {
        if c.is_ascii_digit() {
            if !in_number {
                code.push('N');
            }
            in_number = true;
        } else {
            code.push(c);
            in_number = false;
        }
    }
    code
}

#[cfg(test)]
mod tests {
    use tickstorm_shared::delta::{DeltaEncoder, KindCoding};
    use tickstorm_shared::{PlayerEntry, SnapshotWriter};

    use super::*;

    /// One kind, `[x, y]` at 1/8 precision, positioned.
    fn layout() -> Vec<KindCoding> {
        vec![KindCoding {
            precision: vec![0.125, 0.125],
            position: Some([0, 1]),
        }]
    }

    /// The keyframe of `tick`: player 1 (entity 10, last input `tick`) at `(tick, 0.5)`.
    fn keyframe(tick: Tick) -> Vec<u8> {
        let mut w = SnapshotWriter::new();
        let me = PlayerEntry {
            player_id: 1,
            net_id: 10,
            last_input_seq: tick as u32,
        };
        w.begin(tick, 1_000 + tick * 33, [me].into_iter(), 1);
        w.kind(0, 1, |k| {
            k.row(10, 2, |r| {
                r.f32(tick as f32).f32(0.5);
            });
        });
        w.finish().to_vec()
    }

    fn state(tick: Tick) -> State {
        let mut s = State::default();
        s.read_keyframe(&keyframe(tick), &layout(), &mut Vec::new())
            .expect("a valid keyframe");
        s
    }

    /// The delta from tick `base` to tick `tick`.
    fn delta(base: Tick, tick: Tick) -> Vec<u8> {
        let mut out = Vec::new();
        DeltaEncoder::new().delta(&state(base), &state(tick), &layout(), None, None, &mut out);
        out
    }

    /// Applies `bytes` and returns (tick, format) of what was applied.
    fn applied(feed: &mut SnapshotFeed, bytes: &[u8]) -> (Tick, Format) {
        match feed.apply(bytes).expect("applies") {
            Received::Applied { state, format } => (state.tick, format),
            Received::Old => panic!("a new tick taken as old"),
        }
    }

    #[test]
    fn a_delta_bot_says_the_newest_tick_it_applied() {
        let mut feed = SnapshotFeed::new(SnapshotMode::Deltas, layout());
        assert_eq!(feed.baseline(), Some(0), "nothing held yet");
        assert_eq!(applied(&mut feed, &keyframe(5)), (5, Format::Keyframe));
        assert_eq!(feed.baseline(), Some(5));
        assert_eq!(applied(&mut feed, &delta(5, 6)), (6, Format::Delta));
        assert_eq!(feed.baseline(), Some(6));
        // The server may encode against any tick it heard, not only the newest.
        assert_eq!(applied(&mut feed, &delta(5, 7)), (7, Format::Delta));
        assert_eq!(feed.baseline(), Some(7));
    }

    #[test]
    fn the_applied_delta_is_the_state_of_its_tick() {
        let mut feed = SnapshotFeed::new(SnapshotMode::Deltas, layout());
        applied(&mut feed, &keyframe(5));
        let Ok(Received::Applied { state: got, .. }) = feed.apply(&delta(5, 9)) else {
            panic!("the delta applies");
        };
        assert_eq!(got.player(1).map(|p| p.last_input_seq), Some(9));
        assert_eq!(got.position(&layout(), 10), Some((9.0, 0.5)));
        assert_eq!(got.server_time_ms, 1_000 + 9 * 33);
    }

    #[test]
    fn a_keyframe_bot_never_says_a_baseline() {
        let mut feed = SnapshotFeed::new(SnapshotMode::Keyframes, layout());
        assert_eq!(feed.baseline(), None);
        applied(&mut feed, &keyframe(5));
        assert_eq!(feed.baseline(), None);
        assert!(feed.apply(b"\x93\x03").is_err());
        assert_eq!(feed.baseline(), None, "not even 0 after an error");
    }

    #[test]
    fn a_delta_it_cannot_apply_makes_it_say_zero_until_the_next_keyframe() {
        let mut feed = SnapshotFeed::new(SnapshotMode::Deltas, layout());
        applied(&mut feed, &keyframe(5));
        let error = feed.apply(&delta(4, 8)).expect_err("tick 4 is not held");
        assert_eq!(
            rejection_code(&error),
            "snapshot_rejected: malformed snapshot: delta against tick N, which this client does not hold"
        );
        assert_eq!(feed.baseline(), Some(0), "recovering");
        // A delta against a state it does hold still applies (the server had not heard the 0
        // yet), but does not end the recovery: only a whole state does.
        assert_eq!(applied(&mut feed, &delta(5, 9)), (9, Format::Delta));
        assert_eq!(feed.baseline(), Some(0));
        assert_eq!(applied(&mut feed, &keyframe(10)), (10, Format::Keyframe));
        assert_eq!(feed.baseline(), Some(10), "recovered");
    }

    #[test]
    fn garbage_is_rejected_with_a_reason_and_changes_nothing() {
        let mut feed = SnapshotFeed::new(SnapshotMode::Deltas, layout());
        applied(&mut feed, &keyframe(5));
        for bytes in [&b""[..], b"\xc0", b"\x95\x07", &keyframe(6)[..3]] {
            let error = feed.apply(bytes).expect_err("not a snapshot");
            assert!(
                rejection_code(&error).starts_with("snapshot_rejected: "),
                "{error}"
            );
        }
        assert_eq!(
            rejection_code(&SnapshotDecodeError::UnsupportedVersion(7)),
            "snapshot_rejected: unsupported snapshot version N (expected N)"
        );
        assert_eq!(applied(&mut feed, &delta(5, 6)), (6, Format::Delta));
    }

    #[test]
    fn a_repeated_or_older_tick_is_not_applied_again() {
        let mut feed = SnapshotFeed::new(SnapshotMode::Deltas, layout());
        applied(&mut feed, &keyframe(5));
        applied(&mut feed, &delta(5, 7));
        assert!(matches!(feed.apply(&delta(5, 7)), Ok(Received::Old)));
        assert!(matches!(feed.apply(&keyframe(6)), Ok(Received::Old)));
        assert_eq!(feed.baseline(), Some(7), "the baseline never goes back");
    }
}
