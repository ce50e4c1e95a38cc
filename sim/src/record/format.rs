//! The recording format (`docs/recording.md`): a MessagePack stream per file segment, a
//! [`Header`] map first, then one positional array per [`Entry`].
//!
//! ```text
//! {format: "tickstorm-recording", version: 1, segment, game, ...}   # Header (named map)
//! [0, tick, ms_since_previous_tick, player_id, input, player_id, input, ...]   # Tick
//! [1, player_id, name]      # Join        [2, player_id]  # Leave     [3, player_id]  # Halt
//! [4, tick, hash]           # Hash        [5, tick, keyframe]         # Keyframe
//! [6, reason]               # End
//! ```
//!
//! Entries are positional arrays with a small integer code first, so a room-minute costs a few
//! kilobytes; each input is the game's own input value as named MessagePack (`bin`), which the
//! game's `Deserialize` reads back exactly as it reads a client's. The header is a named map, so
//! tools can read it without this crate.

use bytes::Bytes;
use rmp::decode::NumValueReadError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tickstorm_shared::{PlayerId, Tick};

/// The `format` value of every header.
pub const FORMAT_NAME: &str = "tickstorm-recording";
/// The only format version this crate writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// The file name extension of a segment (`ROOM-STARTMS.SEGMENT.tsrec`).
pub const EXTENSION: &str = "tsrec";

/// What a recording says about its room, repeated at the top of each segment file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// Always [`FORMAT_NAME`].
    pub format: String,
    /// [`FORMAT_VERSION`].
    pub version: u32,
    /// This file's place in the recording (0, 1, ...).
    pub segment: u32,
    /// The framework version that recorded it (`tickstorm-sim`).
    pub framework_version: String,
    /// The game's name.
    pub game: String,
    /// The game's version ([`Game::version`](crate::Game::version)).
    pub game_version: String,
    /// The room's public id.
    pub room_id: String,
    /// Seed of the room's RNG.
    pub seed: u64,
    /// The game's validated create options.
    pub options: serde_json::Value,
    /// Seats.
    pub max_players: u32,
    /// Ticks per second.
    pub tick_rate: u32,
    /// Snapshots per second.
    pub send_rate: u32,
    /// A hash of every n-th tick's snapshot is recorded (ticks that encode one).
    pub hash_every: u32,
    /// The whole snapshot is recorded every n ticks (and at the end), to show a difference.
    pub keyframe_every: u32,
    /// Wall clock when the room was created, unix milliseconds.
    pub started_unix_ms: u64,
}

impl Header {
    /// Encodes the header as a named MessagePack map.
    pub fn to_bytes(&self) -> Vec<u8> {
        rmp_serde::to_vec_named(self).expect("a header always encodes")
    }

    /// The same header for segment `segment`.
    pub fn for_segment(&self, segment: u32) -> Self {
        Self {
            segment,
            ..self.clone()
        }
    }
}

/// Entry codes, the first element of each entry array.
mod code {
    pub const TICK: u8 = 0;
    pub const JOIN: u8 = 1;
    pub const LEAVE: u8 = 2;
    pub const HALT: u8 = 3;
    pub const HASH: u8 = 4;
    pub const KEYFRAME: u8 = 5;
    pub const END: u8 = 6;
}

/// One recorded event, in the order the room saw them.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// The room ticked: the inputs it applied (the player's id and its input, as named
    /// MessagePack), and the wall clock of the tick as milliseconds since the previous one (the
    /// room's start for the first), which the snapshot carries.
    Tick {
        /// The tick number.
        tick: Tick,
        /// Milliseconds since the previous tick (may be negative if the clock stepped back).
        ms_since_previous: i64,
        /// The inputs applied at this tick.
        inputs: Vec<(PlayerId, Bytes)>,
    },
    /// A player took a seat (before the next tick).
    Join {
        /// Player id.
        player_id: PlayerId,
        /// Display name.
        name: String,
    },
    /// A player left for good.
    Leave {
        /// Player id.
        player_id: PlayerId,
    },
    /// A player's connection dropped: its input was reset, its seat held.
    Halt {
        /// Player id.
        player_id: PlayerId,
    },
    /// The hash ([`snapshot_hash`]) of the snapshot the tick encoded.
    Hash {
        /// The tick.
        tick: Tick,
        /// Its snapshot's hash.
        hash: u64,
    },
    /// The whole snapshot of a tick, as the server encoded it.
    Keyframe {
        /// The tick.
        tick: Tick,
        /// The snapshot bytes.
        snapshot: Bytes,
    },
    /// The recording ended (`closed`, `stopped`, `fault`, `size limit`, ...).
    End {
        /// Why.
        reason: String,
    },
}

impl Entry {
    /// Appends the entry's bytes to `out` (what a recording holds; tools that edit one use it).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut w = EntryWriter(out);
        match self {
            Entry::Tick {
                tick,
                ms_since_previous,
                inputs,
            } => {
                let mut buf = Vec::new();
                for (player_id, input) in inputs {
                    EntryWriter::input(&mut buf, *player_id, input);
                }
                w.tick(*tick, *ms_since_previous, inputs.len() as u32, &buf);
            }
            Entry::Join { player_id, name } => w.join(*player_id, name),
            Entry::Leave { player_id } => w.leave(*player_id),
            Entry::Halt { player_id } => w.halt(*player_id),
            Entry::Hash { tick, hash } => w.hash(*tick, *hash),
            Entry::Keyframe { tick, snapshot } => w.keyframe(*tick, snapshot),
            Entry::End { reason } => w.end(reason),
        }
    }
}

/// The 64-bit hash recordings keep of a snapshot: the first 8 bytes of its SHA-256, big-endian.
/// (A cryptographic hash on purpose: stable across versions and platforms, and a recorded hash
/// cannot be matched by accident; at ~600 bytes a snapshot it costs about a microsecond.)
pub fn snapshot_hash(snapshot: &[u8]) -> u64 {
    let digest = Sha256::digest(snapshot);
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// Appends entries to a buffer. Writing into a `Vec` cannot fail, hence no `Result`s.
pub(crate) struct EntryWriter<'a>(pub(crate) &'a mut Vec<u8>);

impl EntryWriter<'_> {
    fn head(&mut self, len: u32, code: u8) {
        rmp::encode::write_array_len(self.0, len).expect("vec write");
        rmp::encode::write_uint(self.0, u64::from(code)).expect("vec write");
    }

    /// A tick entry; `inputs` is `(player id, input bytes)` pairs already written as
    /// `[pid, bin, pid, bin, ...]` into `inputs_buf`, `count` of them.
    pub(crate) fn tick(&mut self, tick: Tick, ms: i64, count: u32, inputs_buf: &[u8]) {
        self.head(3 + 2 * count, code::TICK);
        rmp::encode::write_uint(self.0, tick).expect("vec write");
        rmp::encode::write_sint(self.0, ms).expect("vec write");
        self.0.extend_from_slice(inputs_buf);
    }

    /// Appends one `(player id, input)` pair for [`tick`](Self::tick).
    pub(crate) fn input(buf: &mut Vec<u8>, player_id: PlayerId, input: &[u8]) {
        rmp::encode::write_uint(buf, u64::from(player_id)).expect("vec write");
        rmp::encode::write_bin(buf, input).expect("vec write");
    }

    pub(crate) fn join(&mut self, player_id: PlayerId, name: &str) {
        self.head(3, code::JOIN);
        rmp::encode::write_uint(self.0, u64::from(player_id)).expect("vec write");
        rmp::encode::write_str(self.0, name).expect("vec write");
    }

    pub(crate) fn leave(&mut self, player_id: PlayerId) {
        self.head(2, code::LEAVE);
        rmp::encode::write_uint(self.0, u64::from(player_id)).expect("vec write");
    }

    pub(crate) fn halt(&mut self, player_id: PlayerId) {
        self.head(2, code::HALT);
        rmp::encode::write_uint(self.0, u64::from(player_id)).expect("vec write");
    }

    pub(crate) fn hash(&mut self, tick: Tick, hash: u64) {
        self.head(3, code::HASH);
        rmp::encode::write_uint(self.0, tick).expect("vec write");
        rmp::encode::write_u64(self.0, hash).expect("vec write");
    }

    pub(crate) fn keyframe(&mut self, tick: Tick, snapshot: &[u8]) {
        self.head(3, code::KEYFRAME);
        rmp::encode::write_uint(self.0, tick).expect("vec write");
        rmp::encode::write_bin(self.0, snapshot).expect("vec write");
    }

    /// An end entry.
    pub fn end(&mut self, reason: &str) {
        self.head(2, code::END);
        rmp::encode::write_str(self.0, reason).expect("vec write");
    }
}

/// The bytes of an `End` entry (for a writer that ends a recording itself, e.g. at its size
/// limit).
pub fn end_entry(reason: &str) -> Vec<u8> {
    let mut buf = Vec::new();
    EntryWriter(&mut buf).end(reason);
    buf
}

/// Why a recording could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// Not a recording, or a version this build does not read.
    #[error("not a Tickstorm recording: {0}")]
    NotARecording(String),
    /// An entry that does not follow the format.
    #[error("malformed entry at byte {offset}: {message}")]
    Malformed {
        /// Offset of the entry in its segment's entries.
        offset: usize,
        /// What was wrong.
        message: String,
    },
}

/// Reads a segment's header; returns it and the offset of its first entry.
pub fn read_header(bytes: &[u8]) -> Result<(Header, usize), FormatError> {
    let mut de = rmp_serde::Deserializer::new(bytes);
    let header: Header = Deserialize::deserialize(&mut de)
        .map_err(|e| FormatError::NotARecording(format!("unreadable header: {e}")))?;
    if header.format != FORMAT_NAME {
        return Err(FormatError::NotARecording(format!(
            "format is {:?}",
            header.format
        )));
    }
    if header.version != FORMAT_VERSION {
        return Err(FormatError::NotARecording(format!(
            "format version {} (this build reads {FORMAT_VERSION})",
            header.version
        )));
    }
    let consumed = bytes.len() - de.into_inner().len();
    Ok((header, consumed))
}

/// Reads entries one by one from a segment's bytes after the header. A segment cut short (the
/// server stopped mid-write) reads as its complete entries followed by `Ok(None)` with
/// [`EntryReader::truncated`] set.
pub struct EntryReader {
    bytes: Bytes,
    pos: usize,
    truncated: bool,
}

impl EntryReader {
    /// A reader of `bytes` from offset `start`.
    pub fn new(bytes: Bytes, start: usize) -> Self {
        Self {
            bytes,
            pos: start,
            truncated: false,
        }
    }

    /// Whether the bytes ended inside an entry.
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// The next entry, `None` at the end.
    #[allow(clippy::should_implement_trait)] // fallible, unlike Iterator::next
    pub fn next(&mut self) -> Result<Option<Entry>, FormatError> {
        if self.pos >= self.bytes.len() {
            return Ok(None);
        }
        let start = self.pos;
        let mut cursor = Cursor {
            bytes: &self.bytes,
            pos: start,
        };
        match read_entry(&mut cursor, &self.bytes) {
            Ok(entry) => {
                self.pos = cursor.pos;
                Ok(Some(entry))
            }
            Err(ReadError::Eof) => {
                self.truncated = true;
                self.pos = self.bytes.len();
                Ok(None)
            }
            Err(ReadError::Bad(message)) => Err(FormatError::Malformed {
                offset: start,
                message,
            }),
        }
    }
}

enum ReadError {
    /// The bytes end inside the entry.
    Eof,
    /// Something that is not the format.
    Bad(String),
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn rest(&self) -> &[u8] {
        &self.bytes[self.pos..]
    }

    fn read<T>(
        &mut self,
        f: impl FnOnce(&mut &[u8]) -> Result<T, NumValueReadError<std::io::Error>>,
        what: &str,
    ) -> Result<T, ReadError> {
        let mut rest = self.rest();
        let before = rest.len();
        match f(&mut rest) {
            Ok(v) => {
                self.pos += before - rest.len();
                Ok(v)
            }
            Err(
                NumValueReadError::InvalidMarkerRead(e) | NumValueReadError::InvalidDataRead(e),
            ) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(ReadError::Eof),
            Err(e) => Err(ReadError::Bad(format!("{what}: {e}"))),
        }
    }

    fn uint(&mut self, what: &str) -> Result<u64, ReadError> {
        self.read(|r| rmp::decode::read_int::<u64, _>(r), what)
    }

    fn player_id(&mut self) -> Result<PlayerId, ReadError> {
        self.read(|r| rmp::decode::read_int::<u32, _>(r), "player id")
    }

    fn sint(&mut self, what: &str) -> Result<i64, ReadError> {
        self.read(|r| rmp::decode::read_int::<i64, _>(r), what)
    }

    /// A `bin` value's range in the bytes.
    fn bin(&mut self, what: &str) -> Result<std::ops::Range<usize>, ReadError> {
        let len = self.read(|r| Ok(rmp::decode::read_bin_len(r)?), what)? as usize;
        self.take(len)
    }

    /// A `str` value.
    fn str(&mut self, what: &str) -> Result<String, ReadError> {
        let len = self.read(|r| Ok(rmp::decode::read_str_len(r)?), what)? as usize;
        let range = self.take(len)?;
        String::from_utf8(self.bytes[range].to_vec())
            .map_err(|_| ReadError::Bad(format!("{what}: not UTF-8")))
    }

    fn take(&mut self, len: usize) -> Result<std::ops::Range<usize>, ReadError> {
        if self.rest().len() < len {
            return Err(ReadError::Eof);
        }
        let range = self.pos..self.pos + len;
        self.pos += len;
        Ok(range)
    }
}

fn read_entry(c: &mut Cursor<'_>, owner: &Bytes) -> Result<Entry, ReadError> {
    let len = c.read(|r| Ok(rmp::decode::read_array_len(r)?), "entry")?;
    let code = c.uint("entry code")?;
    let expect = |want: u32| {
        if len == want {
            Ok(())
        } else {
            Err(ReadError::Bad(format!(
                "entry {code} has {len} elements, not {want}"
            )))
        }
    };
    let entry = match u8::try_from(code).unwrap_or(u8::MAX) {
        code::TICK => {
            if len < 3 || (len - 3) % 2 != 0 {
                return Err(ReadError::Bad(format!("tick entry of {len} elements")));
            }
            let tick = c.uint("tick")?;
            let ms_since_previous = c.sint("milliseconds")?;
            let count = (len - 3) / 2;
            let mut inputs = Vec::with_capacity(count as usize);
            for _ in 0..count {
                let player_id = c.player_id()?;
                let input = c.bin("input")?;
                inputs.push((player_id, owner.slice(input)));
            }
            Entry::Tick {
                tick,
                ms_since_previous,
                inputs,
            }
        }
        code::JOIN => {
            expect(3)?;
            Entry::Join {
                player_id: c.player_id()?,
                name: c.str("name")?,
            }
        }
        code::LEAVE => {
            expect(2)?;
            Entry::Leave {
                player_id: c.player_id()?,
            }
        }
        code::HALT => {
            expect(2)?;
            Entry::Halt {
                player_id: c.player_id()?,
            }
        }
        code::HASH => {
            expect(3)?;
            Entry::Hash {
                tick: c.uint("tick")?,
                hash: c.uint("hash")?,
            }
        }
        code::KEYFRAME => {
            expect(3)?;
            let tick = c.uint("tick")?;
            let range = c.bin("keyframe")?;
            Entry::Keyframe {
                tick,
                snapshot: owner.slice(range),
            }
        }
        code::END => {
            expect(2)?;
            Entry::End {
                reason: c.str("reason")?,
            }
        }
        other => return Err(ReadError::Bad(format!("unknown entry code {other}"))),
    };
    Ok(entry)
}
