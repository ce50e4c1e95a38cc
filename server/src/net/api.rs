//! The server-side HTTP API for a studio's backend: create and close rooms, list a room's
//! players, kick one, push a `notice` to a room or to everyone. JSON in and out; every call
//! needs `Authorization: Bearer <admin token>` (the `--admin-token` of the `/admin` namespace).
//! Without a configured token the API does not exist (404, and it never acts); a missing token
//! is 401, a wrong one 403. Answers are `{ok: true, ...}` or `{ok: false, error: {code,
//! message}}` with the codes of the Socket.IO side (docs/protocol.md, "HTTP API"). All calls
//! share one rate limit, checked first, so guessing tokens is as slow as anything else.
//!
//! Rooms are acted on by the node that runs them: in a cluster, a call about a room of another
//! node answers 421 with that node's id and address (`GET /api/cluster`), except notices, which
//! reach the room's members on every node through the Socket.IO adapter.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tickstorm_shared::admin::RoomDetail;
use tickstorm_shared::protocol::{
    CloseReason, CreateRoomRequest, GAME_NAMESPACE, Notice, NoticeLevel, events,
};
use tickstorm_shared::{ErrorCode, PlayerId, RoomId};

use super::admin::check_token;
use super::http::HttpState;
use super::payload;
use super::rate_limit::TokenBucket;
use crate::error::GameError;

/// Calls per second the whole API takes (bursts of twice as many).
const CALLS_PER_SEC: f64 = 20.0;

/// The API's one rate limit.
#[derive(Debug, Clone)]
pub struct ApiLimit(Arc<Mutex<TokenBucket>>);

impl Default for ApiLimit {
    fn default() -> Self {
        Self(Arc::new(Mutex::new(TokenBucket::full(
            CALLS_PER_SEC * 2.0,
            Instant::now(),
        ))))
    }
}

impl ApiLimit {
    fn allow(&self) -> bool {
        let mut bucket = self.0.lock().unwrap_or_else(|e| e.into_inner());
        bucket.try_take(CALLS_PER_SEC, CALLS_PER_SEC * 2.0, Instant::now())
    }
}

/// A refused call: its HTTP status and the body's code and message.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    pub(super) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }
}

impl From<GameError> for ApiError {
    fn from(error: GameError) -> Self {
        let code = error.code();
        let status = match code {
            ErrorCode::BadRequest | ErrorCode::GameNotFound => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::RoomNotFound | ErrorCode::PlayerNotFound => StatusCode::NOT_FOUND,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::ServerFull | ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::CONFLICT,
        };
        Self::new(status, code.as_str(), error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"ok": false, "error": {"code": self.code, "message": self.message}});
        (self.status, Json(body)).into_response()
    }
}

pub(super) type ApiResult = Result<Response, ApiError>;

/// The rate limit, then the token.
pub(super) fn authorize(state: &HttpState, headers: &HeaderMap) -> Result<(), ApiError> {
    if !state.api_limit.allow() {
        return Err(GameError::RateLimited("HTTP API").into());
    }
    let Some(configured) = state.admin_token.as_ref() else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "the HTTP API is off: start the server with --admin-token (or TICKSTORM_ADMIN_TOKEN)",
        ));
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "send the admin token as `Authorization: Bearer <token>`",
            )
        })?;
    check_token(Some(configured), Some(presented.trim()))
        .map_err(|_| ApiError::new(StatusCode::FORBIDDEN, "forbidden", "wrong admin token"))
}

/// A JSON body as `T` (an empty body reads as `{}` where `T` allows it).
fn body<T: for<'de> Deserialize<'de>>(bytes: &Bytes) -> Result<T, ApiError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    serde_json::from_slice(bytes).map_err(|e| {
        GameError::BadRequest(format!("the body must be a JSON object as documented: {e}")).into()
    })
}

pub(super) fn ok(status: StatusCode, body: impl Serialize) -> ApiResult {
    Ok((status, Json(body)).into_response())
}

/// Whether this node runs `room_id`; for a room of another node, the 421 that says which.
pub(super) fn local_room(state: &HttpState, room_id: &RoomId) -> Result<(), ApiError> {
    if state
        .hub
        .directory()
        .rooms()
        .iter()
        .any(|r| &r.id == room_id)
    {
        return Ok(());
    }
    let owner = state.cluster.as_ref().and_then(|cluster| {
        let node = cluster.directory().owner_of(room_id)?;
        let addr = cluster
            .directory()
            .others()
            .into_iter()
            .find(|n| n.node_id == node)
            .map(|n| n.addr)
            .unwrap_or_default();
        Some((node, addr))
    });
    match owner {
        Some((node, addr)) => Err(ApiError::new(
            StatusCode::MISDIRECTED_REQUEST,
            "wrong_node",
            format!("room {room_id} runs on node {node} ({addr}): call that node's HTTP API"),
        )),
        None => Err(GameError::RoomNotFound(room_id.clone()).into()),
    }
}

/// A room of this node with its members (421 for another node's room, 404 for none).
async fn room_detail(state: &HttpState, room_id: RoomId) -> Result<RoomDetail, ApiError> {
    local_room(state, &room_id)?;
    Ok(state
        .hub
        .details()
        .await?
        .into_iter()
        .find(|d| d.info.id == room_id)
        .ok_or(GameError::RoomNotFound(room_id))?)
}

/// `POST /api/rooms`: body as `room:create`; 201 `{ok, room}`.
pub async fn create_room(
    State(state): State<HttpState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult {
    authorize(&state, &headers)?;
    let request: CreateRoomRequest = body(&bytes)?;
    let room = state.rooms.create(payload::create_room(request)?).await?;
    tracing::info!(room = %room.id, "room created through the HTTP API");
    ok(StatusCode::CREATED, json!({"ok": true, "room": room}))
}

/// `GET /api/rooms/{id}`: `{ok, room, players: [{player_id, name, score, connected}]}`.
pub async fn room_players(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Path(room_id): Path<RoomId>,
) -> ApiResult {
    authorize(&state, &headers)?;
    let detail = room_detail(&state, room_id).await?;
    ok(
        StatusCode::OK,
        json!({"ok": true, "room": detail.info, "players": detail.members}),
    )
}

/// `DELETE /api/rooms/{id}`: closes the room (its players get `room:closed {reason: "admin"}`).
pub async fn close_room(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Path(room_id): Path<RoomId>,
) -> ApiResult {
    authorize(&state, &headers)?;
    local_room(&state, &room_id)?;
    state.hub.close(room_id.clone(), CloseReason::Admin).await?;
    tracing::info!(room = %room_id, "room closed through the HTTP API");
    ok(StatusCode::OK, json!({"ok": true}))
}

/// `DELETE /api/rooms/{id}/players/{player_id}`: kicks a player of that room.
pub async fn kick(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Path((room_id, player_id)): Path<(RoomId, String)>,
) -> ApiResult {
    authorize(&state, &headers)?;
    let player_id: PlayerId = player_id
        .parse()
        .map_err(|_| GameError::BadRequest(format!("player id {player_id:?} is not a number")))?;
    let detail = room_detail(&state, room_id.clone()).await?;
    if !detail.members.iter().any(|m| m.player_id == player_id) {
        return Err(GameError::PlayerNotFound(player_id).into());
    }
    state.hub.kick(player_id).await?;
    tracing::info!(room = %room_id, player = player_id, "player kicked through the HTTP API");
    ok(StatusCode::OK, json!({"ok": true}))
}

/// The body of both notice calls.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoticeRequest {
    text: String,
    #[serde(default)]
    level: NoticeLevel,
}

fn notice(bytes: &Bytes) -> Result<Notice, ApiError> {
    let request: NoticeRequest = body(bytes)?;
    Ok(Notice {
        text: payload::notice_text(&request.text)?,
        level: request.level,
    })
}

/// Broadcasts `notice` to one room's members or to every `/game` connection, on every node.
async fn send_notice(
    state: &HttpState,
    room_id: Option<&RoomId>,
    notice: &Notice,
) -> Result<(), GameError> {
    let namespace = state
        .io
        .of(GAME_NAMESPACE)
        .ok_or_else(|| GameError::Internal("no /game namespace".into()))?;
    let sent = match room_id {
        Some(room_id) => {
            namespace
                .to(room_id.clone())
                .emit(events::NOTICE, notice)
                .await
        }
        None => namespace.emit(events::NOTICE, notice).await,
    };
    sent.map_err(|e| GameError::Internal(format!("notice not sent: {e}")))
}

/// `POST /api/rooms/{id}/notice`: `notice {text, level}` to the room's members, on every node.
pub async fn room_notice(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Path(room_id): Path<RoomId>,
    bytes: Bytes,
) -> ApiResult {
    authorize(&state, &headers)?;
    let notice = notice(&bytes)?;
    if !state.rooms.lobby().iter().any(|r| r.id == room_id) {
        return Err(GameError::RoomNotFound(room_id).into());
    }
    send_notice(&state, Some(&room_id), &notice).await?;
    tracing::info!(room = %room_id, level = ?notice.level, "notice sent to a room");
    ok(StatusCode::OK, json!({"ok": true}))
}

/// `POST /api/notice`: `notice {text, level}` to every `/game` connection, on every node.
pub async fn notice_all(
    State(state): State<HttpState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult {
    authorize(&state, &headers)?;
    let notice = notice(&bytes)?;
    send_notice(&state, None, &notice).await?;
    tracing::info!(level = ?notice.level, "notice sent to everyone");
    ok(StatusCode::OK, json!({"ok": true}))
}
