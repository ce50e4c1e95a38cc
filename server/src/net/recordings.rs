//! The HTTP API's recordings (`--record-dir`; admin token as for the rest of the API):
//!
//! - `POST /api/rooms/{id}/recording`: which recording a room has (422 when it has none: a
//!   recording starts with its room, `POST /api/rooms {"record": true}`);
//! - `DELETE /api/rooms/{id}/recording`: ends the room's recording (the room plays on);
//! - `GET /api/recordings`: the recordings in the directory, newest first;
//! - `GET /api/recordings/{name}?from=TICK&count=N`: the recording replayed, as MessagePack: its
//!   header, the game's kinds, the players' names and the snapshots of ticks `from..from+count`
//!   (what the web viewer, `/replay.html`, plays).
//!
//! Replays run on the blocking pool: a long recording takes a fraction of a second per request.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tickstorm_shared::RoomId;
use tickstorm_shared::protocol::KindInfo;
use tickstorm_sim::GameRegistry;
use tickstorm_sim::record::{
    EXTENSION, Entry, EntryReader, Header, Replay, load_segments, read_header, segment_path,
};

use super::api::{ApiError, ApiResult, authorize, local_room, ok};
use super::http::HttpState;
use crate::error::GameError;

/// Most ticks one `GET /api/recordings/{name}` returns (two minutes at 30 Hz).
const MAX_WINDOW: u64 = 3_600;

fn recording_dir(state: &HttpState) -> Result<&Path, ApiError> {
    state.record_dir.as_deref().ok_or_else(|| {
        GameError::BadRequest("recording is off on this server: start it with --record-dir".into())
            .into()
    })
}

/// `POST /api/rooms/{id}/recording`.
pub async fn start(
    State(state): State<HttpState>,
    headers: HeaderMap,
    UrlPath(room_id): UrlPath<RoomId>,
) -> ApiResult {
    set(&state, &headers, room_id, true).await
}

/// `DELETE /api/rooms/{id}/recording`.
pub async fn stop(
    State(state): State<HttpState>,
    headers: HeaderMap,
    UrlPath(room_id): UrlPath<RoomId>,
) -> ApiResult {
    set(&state, &headers, room_id, false).await
}

/// Both: `{ok, recording: name or null}`.
async fn set(state: &HttpState, headers: &HeaderMap, room_id: RoomId, record: bool) -> ApiResult {
    authorize(state, headers)?;
    local_room(state, &room_id)?;
    let name = state.hub.record(room_id.clone(), record).await?;
    if !record {
        tracing::info!(room = %room_id, recording = ?name, "recording stopped through the HTTP API");
    }
    ok(StatusCode::OK, json!({"ok": true, "recording": name}))
}

/// One recording in the directory.
#[derive(Debug, Serialize)]
struct Listed {
    name: String,
    room_id: String,
    game: String,
    game_version: String,
    started_unix_ms: u64,
    tick_rate: u32,
    segments: usize,
    bytes: u64,
}

/// `GET /api/recordings`.
pub async fn list(State(state): State<HttpState>, headers: HeaderMap) -> ApiResult {
    authorize(&state, &headers)?;
    let dir = recording_dir(&state)?.to_owned();
    let listed = tokio::task::spawn_blocking(move || list_dir(&dir))
        .await
        .map_err(|e| GameError::Internal(e.to_string()))?
        .map_err(|e| GameError::Internal(format!("cannot read the recordings: {e}")))?;
    ok(StatusCode::OK, json!({"ok": true, "recordings": listed}))
}

fn list_dir(dir: &Path) -> std::io::Result<Vec<Listed>> {
    let first_suffix = format!(".0.{EXTENSION}");
    let mut listed = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(&first_suffix))
        else {
            continue;
        };
        // The header is all a listing needs: read the first kilobytes, not whole segments.
        let Some(header) = read_first_header(&path) else {
            continue; // not a recording (or not yet a whole header)
        };
        let stem = dir.join(name);
        let mut segments = 0;
        let mut bytes = 0;
        while let Ok(meta) = std::fs::metadata(segment_path(&stem, segments)) {
            segments += 1;
            bytes += meta.len();
        }
        listed.push(Listed {
            name: name.to_owned(),
            room_id: header.room_id,
            game: header.game,
            game_version: header.game_version,
            started_unix_ms: header.started_unix_ms,
            tick_rate: header.tick_rate,
            segments: segments as usize,
            bytes,
        });
    }
    listed.sort_by_key(|l| std::cmp::Reverse(l.started_unix_ms));
    Ok(listed)
}

/// A segment's header, from the start of its file (a header is well under 64 KiB; the game's
/// options are the only part of it that can grow).
fn read_first_header(path: &Path) -> Option<Header> {
    use std::io::Read;
    let mut head = Vec::with_capacity(4096);
    std::fs::File::open(path)
        .ok()?
        .take(64 * 1024)
        .read_to_end(&mut head)
        .ok()?;
    read_header(&head).ok().map(|(header, _)| header)
}

/// The window of `GET /api/recordings/{name}`.
#[derive(Debug, Deserialize)]
pub struct Window {
    #[serde(default)]
    from: u64,
    #[serde(default = "default_count")]
    count: u64,
}

fn default_count() -> u64 {
    900
}

/// The body of `GET /api/recordings/{name}` (MessagePack).
#[derive(Debug, Serialize)]
struct Replayed {
    ok: bool,
    name: String,
    header: Header,
    kinds: Vec<KindInfo>,
    /// Ticks in the whole recording.
    total_ticks: u64,
    from: u64,
    /// `[player_id, name]` of everyone who ever sat in the room.
    players: Vec<(u32, String)>,
    /// `[tick, snapshot]` of each tick of the window that sent one.
    snapshots: Vec<(u64, Bytes)>,
    end_reason: Option<String>,
    truncated: bool,
    /// The first tick whose snapshot differs from the recording (this server's game rules differ
    /// from the recording's), if any up to the window's end.
    first_difference: Option<u64>,
}

/// `GET /api/recordings/{name}?from=&count=`.
pub async fn replayed(
    State(state): State<HttpState>,
    headers: HeaderMap,
    UrlPath(name): UrlPath<String>,
    Query(window): Query<Window>,
) -> ApiResult {
    authorize(&state, &headers)?;
    let dir = recording_dir(&state)?.to_owned();
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(GameError::BadRequest(format!("{name:?} is not a recording's name")).into());
    }
    if !segment_path(&dir.join(&name), 0).is_file() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no recording named {name}"),
        ));
    }
    let registry = state.registry.clone();
    let count = window.count.clamp(1, MAX_WINDOW);
    let body = tokio::task::spawn_blocking(move || {
        replay_window(
            &registry,
            &dir.join(&name),
            name.clone(),
            window.from,
            count,
        )
    })
    .await
    .map_err(|e| GameError::Internal(e.to_string()))??;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/msgpack")],
        body,
    )
        .into_response())
}

fn replay_window(
    registry: &GameRegistry,
    stem: &Path,
    name: String,
    from: u64,
    count: u64,
) -> Result<Vec<u8>, ApiError> {
    let unreadable = |e: &dyn std::fmt::Display| -> ApiError {
        GameError::BadRequest(format!("cannot replay {name}: {e}")).into()
    };
    let segments: Vec<Bytes> = load_segments(&PathBuf::from(stem))
        .map_err(|e| unreadable(&e))?
        .into_iter()
        .map(|(_, bytes)| bytes)
        .collect();
    let scanned = scan(&segments).map_err(|e| unreadable(&e))?;
    let mut replay = Replay::new(registry, segments).map_err(|e| unreadable(&e))?;
    let mut snapshots = Vec::new();
    while let Some(ticked) = replay.next_tick().map_err(|e| unreadable(&e))? {
        if ticked.tick >= from.saturating_add(count) {
            break;
        }
        if ticked.tick >= from
            && let Some(snapshot) = ticked.snapshot
        {
            snapshots.push((ticked.tick, snapshot));
        }
    }
    let body = Replayed {
        ok: true,
        name,
        header: replay.header().clone(),
        kinds: replay.kinds().iter().map(|k| k.info()).collect(),
        total_ticks: scanned.ticks,
        from,
        players: scanned.players.into_iter().collect(),
        snapshots,
        end_reason: scanned.end_reason,
        truncated: scanned.truncated,
        first_difference: replay.difference().map(|d| d.tick),
    };
    rmp_serde::to_vec_named(&body).map_err(|e| GameError::Internal(e.to_string()).into())
}

/// What a whole recording holds, read without simulating.
#[derive(Debug, Default)]
struct Scanned {
    ticks: u64,
    /// Every seated player's name.
    players: BTreeMap<u32, String>,
    end_reason: Option<String>,
    /// The last segment ends inside an entry.
    truncated: bool,
}

fn scan(segments: &[Bytes]) -> Result<Scanned, Box<dyn std::error::Error>> {
    let mut scanned = Scanned::default();
    for bytes in segments {
        let (_, start) = read_header(bytes)?;
        let mut reader = EntryReader::new(bytes.clone(), start);
        while let Some(entry) = reader.next()? {
            match entry {
                Entry::Tick { .. } => scanned.ticks += 1,
                Entry::Join { player_id, name } => {
                    scanned.players.insert(player_id, name);
                }
                Entry::End { reason } => scanned.end_reason = Some(reason),
                _ => {}
            }
        }
        scanned.truncated = reader.truncated();
    }
    Ok(scanned)
}
