//! The driver without sockets: a recording sink stands for the network and tokio's paused clock
//! for time, so grace periods, idle timeouts and ticks are exact and each test takes
//! milliseconds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use socketioxide::socket::Sid;
use tickstorm_shared::protocol::{CloseReason, CreateRoomRequest, LeaveReason, RoomClosed};
use tickstorm_shared::{ErrorCode, PlayerId, RoomId};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{DriverSettings, spawn_driver};
use crate::error::GameError;
use crate::metrics::ServerMetrics;
use crate::room::{Conn, Release, RoomHub, RoomSink, Seat};

const GRACE: Duration = Duration::from_secs(10);
const IDLE: Duration = Duration::from_secs(30);

/// What the driver told the network, in order (snapshots only counted, per room).
#[derive(Debug, Default)]
struct Recorded {
    events: Vec<(RoomId, &'static str, serde_json::Value)>,
    closed_here: Vec<RoomClosed>,
    subscribed: Vec<(Sid, RoomId)>,
    released: Vec<Release>,
    snapshots: HashMap<RoomId, usize>,
}

#[derive(Debug, Clone, Default)]
struct RecordingSink(Arc<Mutex<Recorded>>);

impl RecordingSink {
    fn with<T>(&self, f: impl FnOnce(&Recorded) -> T) -> T {
        f(&self.0.lock().expect("not poisoned"))
    }

    fn left(&self, player: PlayerId) -> Vec<String> {
        self.with(|r| {
            r.events
                .iter()
                .filter(|(_, e, v)| *e == "player:left" && v["player_id"] == player)
                .map(|(_, _, v)| v["reason"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
    }

    fn closed(&self, room: &RoomId) -> Option<CloseReason> {
        self.with(|r| {
            r.closed_here
                .iter()
                .find(|c| &c.room_id == room)
                .map(|c| c.reason)
        })
    }

    fn snapshots(&self, room: &RoomId) -> usize {
        self.with(|r| r.snapshots.get(room).copied().unwrap_or(0))
    }
}

impl RoomSink for RecordingSink {
    fn subscribe(&self, sid: Sid, room: &RoomId) {
        self.0
            .lock()
            .expect("lock")
            .subscribed
            .push((sid, room.clone()));
    }

    async fn broadcast<T: Serialize + Sync>(
        &self,
        room: &RoomId,
        event: &'static str,
        data: &T,
        _remote: &[crate::room::NodeId],
    ) {
        let value = serde_json::to_value(data).expect("serializable");
        self.0
            .lock()
            .expect("lock")
            .events
            .push((room.clone(), event, value));
    }

    async fn snapshot(
        &self,
        room: &RoomId,
        bytes: &Bytes,
        _to: &crate::room::Recipients,
        _remote: &[crate::room::NodeId],
    ) {
        assert!(!bytes.is_empty());
        *self
            .0
            .lock()
            .expect("lock")
            .snapshots
            .entry(room.clone())
            .or_default() += 1;
    }

    async fn room_closed_here(&self, closed: &RoomClosed) {
        self.0
            .lock()
            .expect("lock")
            .closed_here
            .push(closed.clone());
    }

    fn release(&self, _conn: &Conn, release: Release) {
        self.0.lock().expect("lock").released.push(release);
    }

    fn keep_remote_seat(&self, _seat: &Seat, _conn: &Conn) {}

    fn forget_remote_seat(&self, _player_id: PlayerId) {}
}

struct Harness {
    hub: RoomHub,
    sink: RecordingSink,
    shutdown: CancellationToken,
    tracker: TaskTracker,
}

impl Harness {
    fn start(max_rooms: usize) -> Self {
        let (hub, inbox) = RoomHub::channel();
        let sink = RecordingSink::default();
        let settings = DriverSettings {
            default_tick_rate: 30,
            default_max_players: 2,
            default_send_rate: None,
            default_view_radius: None,
            max_rooms,
            rejoin_grace: GRACE,
            room_idle_timeout: IDLE,
            seed: 7,
            games: crate::Games::default().registry().clone(),
            recorder: None,
        };
        let (shutdown, tracker) = (CancellationToken::new(), TaskTracker::new());
        let metrics = Arc::new(ServerMetrics::new());
        spawn_driver(
            settings,
            inbox,
            sink.clone(),
            metrics,
            shutdown.clone(),
            &tracker,
        );
        Harness {
            hub,
            sink,
            shutdown,
            tracker,
        }
    }

    async fn join(&self, room: Option<&RoomId>) -> (Sid, Result<Seat, GameError>) {
        let sid = Sid::new();
        let seat = self
            .hub
            .join(room.cloned(), None, "p".into(), Conn::local(sid))
            .await;
        (sid, seat)
    }

    async fn create(&self) -> RoomId {
        self.hub
            .create(CreateRoomRequest::default())
            .await
            .expect("room")
            .id
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_room_ticks_on_its_period_and_closes_with_everyone_told_at_shutdown() {
    let h = Harness::start(10);
    let (sid, seat) = h.join(None).await;
    let seat = seat.expect("quick match creates a room");
    let room = seat.room.id.clone();
    assert_eq!(seat.room.game, "orbs");
    assert_eq!(seat.kinds.len(), 2, "the orb arena's avatar and orb");
    assert!(h.sink.with(|r| r.subscribed.contains(&(sid, room.clone()))));
    tokio::time::sleep(Duration::from_millis(1001)).await;
    let ticks = h.sink.snapshots(&room);
    assert!((29..=31).contains(&ticks), "30 Hz for one second: {ticks}");
    let sink = h.sink.clone();
    h.stop().await;
    assert_eq!(sink.closed(&room), Some(CloseReason::Shutdown));
}

#[tokio::test(start_paused = true)]
async fn a_dropped_seat_is_held_for_the_grace_then_freed() {
    let h = Harness::start(10);
    let (sid, seat) = h.join(None).await;
    let seat = seat.expect("seat");
    h.hub.disconnect(seat.player_id, sid);
    tokio::time::sleep(GRACE - Duration::from_millis(10)).await;
    assert_eq!(h.sink.left(seat.player_id), ["disconnected"]);
    assert_eq!(
        h.hub.directory().counts().disconnected,
        1,
        "held, not freed"
    );
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(h.sink.left(seat.player_id), ["disconnected", "timeout"]);
    assert_eq!(h.hub.directory().counts().players, 0);
    let again = h
        .hub
        .rejoin(seat.rejoin_token.clone(), Conn::local(Sid::new()))
        .await;
    assert_eq!(again.map(|_| ()), Err(GameError::RejoinExpired));
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn rejoin_within_the_grace_keeps_the_seat_and_spends_the_token() {
    let h = Harness::start(10);
    let (sid, seat) = h.join(None).await;
    let seat = seat.expect("seat");
    h.hub.disconnect(seat.player_id, sid);
    tokio::time::sleep(GRACE / 2).await;
    let back = h
        .hub
        .rejoin(seat.rejoin_token.clone(), Conn::local(Sid::new()))
        .await
        .expect("within the grace");
    assert_eq!(back.player_id, seat.player_id);
    assert_ne!(
        back.rejoin_token, seat.rejoin_token,
        "a new token each time"
    );
    let reused = h
        .hub
        .rejoin(seat.rejoin_token.clone(), Conn::local(Sid::new()))
        .await;
    assert_eq!(reused.map(|_| ()), Err(GameError::RejoinExpired));
    tokio::time::sleep(GRACE).await;
    assert_eq!(
        h.sink.left(seat.player_id),
        ["disconnected"],
        "no timeout after rejoin"
    );
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_empty_room_closes_after_the_idle_timeout_and_not_before() {
    let h = Harness::start(10);
    let room = h.create().await;
    tokio::time::sleep(IDLE - Duration::from_millis(10)).await;
    assert_eq!(h.sink.closed(&room), None);
    assert_eq!(h.hub.directory().counts().rooms, 1);
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(h.sink.closed(&room), Some(CloseReason::Idle));
    assert_eq!(h.hub.directory().counts().rooms, 0);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn quick_match_fills_a_room_before_opening_another_and_knows_the_games() {
    let h = Harness::start(10);
    let first = h.join(None).await.1.expect("seat").room.id;
    let second = h.join(None).await.1.expect("seat").room.id;
    let third = h.join(None).await.1.expect("seat").room.id;
    assert_eq!(first, second, "two seats per room in these settings");
    assert_ne!(second, third, "a full room makes quick match open another");
    let unknown = h
        .hub
        .join(
            None,
            Some("chess".into()),
            "p".into(),
            Conn::local(Sid::new()),
        )
        .await;
    assert_eq!(
        unknown.map(|_| ()).map_err(|e| e.code()),
        Err(ErrorCode::GameNotFound)
    );
    let full = h.join(Some(&first)).await.1;
    assert_eq!(
        full.map(|_| ()).map_err(|e| e.code()),
        Err(ErrorCode::RoomFull)
    );
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn draining_closes_empty_rooms_refuses_new_ones_and_closes_rooms_as_they_empty() {
    let h = Harness::start(10);
    let (_, seat) = h.join(None).await;
    let seat = seat.expect("seat");
    let empty = h.create().await;
    h.hub.drain();
    let refused = h.hub.create(CreateRoomRequest::default()).await;
    assert_eq!(
        refused.map(|_| ()).map_err(|e| e.code()),
        Err(ErrorCode::ServerFull)
    );
    assert_eq!(h.sink.closed(&empty), Some(CloseReason::Shutdown));
    assert_eq!(h.sink.closed(&seat.room.id), None, "a room in play stays");
    h.hub.leave(seat.player_id, LeaveReason::Left);
    h.hub.details().await.expect("the driver handled the leave");
    assert_eq!(h.sink.closed(&seat.room.id), Some(CloseReason::Shutdown));
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_panicking_room_is_closed_and_the_others_keep_ticking() {
    let h = Harness::start(10);
    let broken = h.create().await;
    let healthy = h.create().await;
    h.hub
        .inject_fault(broken.clone())
        .await
        .expect("room exists");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(h.sink.closed(&broken), Some(CloseReason::Internal));
    let before = h.sink.snapshots(&healthy);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        h.sink.snapshots(&healthy) >= before + 14,
        "the healthy room still ticks at 30 Hz"
    );
    assert_eq!(h.sink.closed(&healthy), None);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn the_room_limit_answers_server_full() {
    let h = Harness::start(1);
    h.create().await;
    let second = h.hub.create(CreateRoomRequest::default()).await;
    assert_eq!(
        second.map(|_| ()).map_err(|e| e.code()),
        Err(ErrorCode::ServerFull)
    );
    h.stop().await;
}
