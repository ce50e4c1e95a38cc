//! Room lifecycle over real sockets: room full, leave, rejoin within and after the grace period,
//! idle rooms closing, and graceful shutdown.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use glam::Vec2;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tickstorm_orbs::OrbView as Snapshot;
use tickstorm_server::Games;
use tickstorm_shared::ErrorCode;
use tickstorm_shared::protocol::{CloseReason, LeaveReason, PlayerLeft, RoomClosed, events};
use tickstorm_sim::bevy_ecs::prelude::Query;
use tickstorm_sim::{Due, Game, GameBuilder, GameInput, Room};

use crate::support::{MARGIN, TestClient, TestServer, WAIT, eventually};

fn error_code(ack: &serde_json::Value) -> Option<ErrorCode> {
    assert_eq!(ack["ok"], false, "expected a failed ack: {ack}");
    assert!(
        ack["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "error without message: {ack}"
    );
    serde_json::from_value(ack["error"]["code"].clone()).ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_room_refuses_the_next_player_and_quick_match_opens_another() {
    let server = TestServer::start_default().await;
    let owner = TestClient::connect(&server.url, "owner").await;
    let created: serde_json::Value = owner
        .ack(
            events::ROOM_CREATE,
            json!({ "name": "duel", "max_players": 2 }),
        )
        .await;
    let room_id = created["room"]["id"].as_str().expect("room id").to_owned();
    assert_eq!(created["room"]["max_players"], 2);
    let a = TestClient::connect(&server.url, "a").await;
    let b = TestClient::connect(&server.url, "b").await;
    let c = TestClient::connect(&server.url, "c").await;
    for client in [&a, &b] {
        let ack: serde_json::Value = client
            .ack(events::ROOM_JOIN, json!({ "room_id": room_id }))
            .await;
        assert_eq!(ack["ok"], true, "{ack}");
    }
    let full: serde_json::Value = c
        .ack(events::ROOM_JOIN, json!({ "room_id": room_id }))
        .await;
    assert_eq!(error_code(&full), Some(ErrorCode::RoomFull));
    let elsewhere = c.quick_join().await;
    assert_ne!(
        elsewhere.room.id, room_id,
        "quick match skips the full room"
    );
    let lobby: serde_json::Value = c.ack(events::LOBBY_LIST, json!({})).await;
    assert_eq!(lobby["rooms"].as_array().map(Vec::len), Some(2));
    assert_eq!(lobby["rooms"][0]["players"], 2);
    let again: serde_json::Value = c.ack(events::ROOM_JOIN, json!({})).await;
    assert_eq!(error_code(&again), Some(ErrorCode::AlreadyInRoom));
    let missing: serde_json::Value = owner
        .ack(events::ROOM_JOIN, json!({ "room_id": "nosuchroom" }))
        .await;
    assert_eq!(error_code(&missing), Some(ErrorCode::RoomNotFound));
    server.stop().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_frees_the_seat_and_tells_the_room() {
    let server = TestServer::start_default().await;
    let ana = TestClient::connect(&server.url, "ana").await;
    let mut bob = TestClient::connect(&server.url, "bob").await;
    let ana_id = ana.quick_join().await.player_id;
    bob.quick_join().await;
    let ack: serde_json::Value = ana.ack(events::ROOM_LEAVE, json!({})).await;
    assert_eq!(ack, json!({ "ok": true }));
    let left: PlayerLeft = bob.next(events::PLAYER_LEFT).await;
    assert_eq!(
        left,
        PlayerLeft {
            player_id: ana_id,
            reason: LeaveReason::Left
        }
    );
    bob.snapshot_where(|s| s.player(ana_id).is_none()).await;
    assert!(eventually(WAIT, || server.handle.hub.directory().counts().players == 1).await);
    for event in [events::ROOM_LEAVE, events::INPUT, events::CHAT] {
        let payload = match event {
            events::INPUT => json!({ "seq": 1, "move": [0, 0] }),
            events::CHAT => json!({ "text": "hi" }),
            _ => json!({}),
        };
        let refused: serde_json::Value = ana.ack(event, payload).await;
        assert_eq!(
            error_code(&refused),
            Some(ErrorCode::NotInRoom),
            "{event} after leaving"
        );
    }
    server.stop().await.expect("clean shutdown");
}

/// Steers `client`'s player toward the nearest orb until it has scored; returns the last snapshot.
async fn score_an_orb(client: &mut TestClient, player_id: u32) -> Snapshot {
    let mut seq = 0;
    loop {
        let snapshot = client.next_snapshot().await;
        let me = *snapshot.player(player_id).expect("own player");
        if me.score > 0 {
            return snapshot;
        }
        let here = Vec2::new(me.x, me.y);
        let target = snapshot
            .orbs
            .iter()
            .map(|o| Vec2::new(o.x, o.y))
            .min_by(|a, b| {
                a.distance_squared(here)
                    .total_cmp(&b.distance_squared(here))
            })
            .expect("orbs");
        let direction = (target - here).normalize_or_zero();
        seq += 1;
        client
            .client
            .emit(
                events::INPUT,
                &json!({ "seq": seq, "move": [direction.x, direction.y] }),
            )
            .expect("emit");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejoin_within_grace_keeps_the_player_id_position_and_score() {
    let server = TestServer::start(|c| c.rejoin_grace = Duration::from_secs(5)).await;
    let mut ana = TestClient::connect(&server.url, "ana").await;
    let mut watcher = TestClient::connect(&server.url, "watcher").await;
    let join = ana.quick_join().await;
    watcher.quick_join().await;
    let scored = tokio::time::timeout(
        Duration::from_secs(20),
        score_an_orb(&mut ana, join.player_id),
    )
    .await
    .expect("reaches an orb");
    let score = scored.player(join.player_id).expect("ana").score;
    ana.client.close().await;
    let left: PlayerLeft = watcher.next(events::PLAYER_LEFT).await;
    assert_eq!(
        left,
        PlayerLeft {
            player_id: join.player_id,
            reason: LeaveReason::Disconnected
        }
    );
    assert!(
        eventually(WAIT, || server.handle.hub.directory().counts().disconnected
            == 1)
        .await
    );
    let held = watcher.next_snapshot().await;
    let held_me = *held.player(join.player_id).expect("the seat is held");

    let mut back = TestClient::connect(&server.url, "ana").await;
    let rejoin: serde_json::Value = back
        .ack(events::ROOM_REJOIN, json!({ "token": join.rejoin_token }))
        .await;
    assert_eq!(rejoin["ok"], true, "{rejoin}");
    assert_eq!(rejoin["player_id"], join.player_id);
    assert_eq!(rejoin["room"]["id"], join.room.id.as_str());
    assert_ne!(
        rejoin["rejoin_token"],
        join.rejoin_token.as_str(),
        "tokens are single use"
    );
    let now = back.next_snapshot().await;
    let me = now.player(join.player_id).expect("own player after rejoin");
    assert!(me.score >= score, "score kept: {} < {score}", me.score);
    assert_eq!(
        (me.x, me.y),
        (held_me.x, held_me.y),
        "a held player stands still"
    );

    let reused: serde_json::Value = watcher
        .ack(events::ROOM_REJOIN, json!({ "token": join.rejoin_token }))
        .await;
    assert_eq!(error_code(&reused), Some(ErrorCode::AlreadyInRoom));
    server.stop().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejoin_after_grace_fails_with_rejoin_expired() {
    let server = TestServer::start(|c| c.rejoin_grace = Duration::from_millis(300)).await;
    let ana = TestClient::connect(&server.url, "ana").await;
    let mut watcher = TestClient::connect(&server.url, "watcher").await;
    let join = ana.quick_join().await;
    watcher.quick_join().await;
    ana.client.close().await;
    let first: PlayerLeft = watcher.next(events::PLAYER_LEFT).await;
    assert_eq!(first.reason, LeaveReason::Disconnected);
    let second: PlayerLeft = watcher.next(events::PLAYER_LEFT).await;
    assert_eq!(
        second,
        PlayerLeft {
            player_id: join.player_id,
            reason: LeaveReason::Timeout
        }
    );
    let back = TestClient::connect(&server.url, "ana").await;
    let rejoin: serde_json::Value = back
        .ack(events::ROOM_REJOIN, json!({ "token": join.rejoin_token }))
        .await;
    assert_eq!(error_code(&rejoin), Some(ErrorCode::RejoinExpired));
    let bogus: serde_json::Value = back
        .ack(events::ROOM_REJOIN, json!({ "token": "not-a-token" }))
        .await;
    assert_eq!(error_code(&bogus), Some(ErrorCode::RejoinExpired));
    server.stop().await.expect("clean shutdown");
}

/// An empty room stays open (and listed) until the idle timeout has passed since its last seat
/// was freed, then closes. Nobody can hear its `room:closed {reason: "idle"}`: an empty room has
/// no members to broadcast to (the driver's own test checks the reason), so this one watches the
/// lobby and the clock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_rooms_are_closed_after_the_idle_timeout() {
    // Long enough that the room is certainly still open when the test looks at it right after it
    // emptied, even on a loaded machine; short enough for a quick test.
    const IDLE: Duration = Duration::from_secs(2);
    const GRACE: Duration = Duration::from_millis(200);
    let server = TestServer::start(|c| {
        c.room_idle_timeout = IDLE;
        c.rejoin_grace = GRACE;
    })
    .await;
    let ana = TestClient::connect(&server.url, "ana").await;
    let bob = TestClient::connect(&server.url, "bob").await;
    let created: serde_json::Value = ana.ack(events::ROOM_CREATE, json!({})).await;
    let room_id = created["room"]["id"].as_str().expect("room id").to_owned();
    assert_eq!(
        ana.quick_join().await.room.id,
        room_id,
        "quick match used the created room"
    );
    bob.quick_join().await;
    // The room cannot be empty before this: ana leaves first, then bob's seat is held for the
    // rejoin grace after his connection drops, and only then freed.
    let emptying = std::time::Instant::now();
    let _: serde_json::Value = ana.ack(events::ROOM_LEAVE, json!({})).await;
    bob.client.close().await;
    let directory = server.handle.hub.directory();
    assert!(
        eventually(WAIT, || {
            let counts = directory.counts();
            counts.players == 0 && counts.disconnected == 0
        })
        .await,
        "every seat freed: {:?}",
        directory.counts()
    );

    // Empty, and still open: listed with no players, well within the idle timeout.
    let lobby: serde_json::Value = ana.ack(events::LOBBY_LIST, json!(null)).await;
    let listed: Vec<(&str, &serde_json::Value)> = lobby["rooms"]
        .as_array()
        .expect("rooms")
        .iter()
        .map(|r| (r["id"].as_str().unwrap_or_default(), &r["players"]))
        .collect();
    assert_eq!(
        listed,
        [(room_id.as_str(), &json!(0))],
        "the empty room is open until its idle timeout ({:?} after the leave)",
        emptying.elapsed()
    );

    // Then closed: not before the grace and the idle timeout have both passed.
    assert!(
        eventually(IDLE + MARGIN, || directory.counts() == Default::default()).await,
        "rooms, seats and held seats all gone: {:?}",
        directory.counts()
    );
    let closed_after = emptying.elapsed();
    assert!(
        closed_after >= GRACE + IDLE,
        "closed {closed_after:?} after the leave, before the grace and the idle timeout"
    );
    assert!(directory.rooms().is_empty());
    let lobby: serde_json::Value = ana.ack(events::LOBBY_LIST, json!(null)).await;
    assert_eq!(lobby, json!({ "ok": true, "rooms": [] }));
    server.stop().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_tells_every_room_and_closes_connections() {
    let server = TestServer::start_default().await;
    let mut ana = TestClient::connect(&server.url, "ana").await;
    let join = ana.quick_join().await;
    ana.next_snapshot().await;
    let stopping = tokio::spawn(server.stop());
    let closed: RoomClosed = ana.next(events::ROOM_CLOSED).await;
    assert_eq!(
        closed,
        RoomClosed {
            room_id: join.room.id,
            reason: CloseReason::Shutdown
        }
    );
    let ended =
        tokio::time::timeout(WAIT, async { while ana.events.recv().await.is_some() {} }).await;
    assert!(ended.is_ok(), "the connection is closed after room:closed");
    stopping.await.expect("join").expect("server exits cleanly");
}

/// While set, every tick of a [`Sluggish`] room holds the room driver (a stand-in for a busy
/// one), at most for `HOLD_AT_MOST`: requests that reach the driver meanwhile wait in its queue.
static HOLD: AtomicBool = AtomicBool::new(false);
/// Whether a tick is holding the driver right now.
static HOLDING: AtomicBool = AtomicBool::new(false);
const HOLD_AT_MOST: Duration = Duration::from_secs(3);

/// A game that does nothing but hold the driver on demand (see [`HOLD`]).
struct Sluggish;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct SluggishInput {
    seq: u32,
}

impl GameInput for SluggishInput {
    fn seq(&self) -> u32 {
        self.seq
    }
    fn validate(self) -> Result<Self, String> {
        Ok(self)
    }
}

impl Game for Sluggish {
    type Input = SluggishInput;
    type Options = ();
    fn name(&self) -> &'static str {
        "sluggish"
    }
    fn build(&self, game: &mut GameBuilder<'_, Self>) {
        game.add_systems(hold_the_driver);
    }
}

fn hold_the_driver(due: Due<Sluggish>, rooms: Query<&Room>) {
    if due.rooms(&rooms).next().is_none() {
        return;
    }
    // The driver's worker thread blocks here; `block_in_place` hands that worker's other tasks
    // (and its share of the I/O and timers) to another thread meanwhile, so only the driver waits.
    tokio::task::block_in_place(|| {
        let since = std::time::Instant::now();
        while HOLD.load(Ordering::SeqCst) && since.elapsed() < HOLD_AT_MOST {
            HOLDING.store(true, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(1));
        }
        HOLDING.store(false, Ordering::SeqCst);
    });
}

/// Requests the server has already read when shutdown starts are all answered (with a result or
/// `server_full: shutting down`) before their connection is closed.
///
/// The room driver is held busy (by a [`Sluggish`] room's tick) while a burst of `room:create`s
/// arrives; once a `time` request sent after the burst is answered, the server has read every
/// create (it reads a connection's packets in order), and they wait in the driver's queue. Then
/// shutdown starts, and only once the server has stopped listening is the driver let go: it must
/// refuse what it still has queued, and every request must get its answer before the connection
/// closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_in_flight_at_shutdown_are_all_answered() {
    use futures_util::{FutureExt, StreamExt};
    const REQUESTS: usize = 40;
    let games = Games::default().with(Sluggish).expect("a second game");
    let server = TestServer::start_games(games, |c| c.request_rate = 10_000.0).await;
    let ana = TestClient::connect(&server.url, "ana").await;
    let busy: serde_json::Value = ana
        .ack(events::ROOM_CREATE, json!({"game": "sluggish"}))
        .await;
    assert_eq!(busy["ok"], true, "{busy}");

    HOLD.store(true, Ordering::SeqCst);
    assert!(
        eventually(WAIT, || HOLDING.load(Ordering::SeqCst)).await,
        "the sluggish room holds the driver"
    );
    let payloads: Vec<serde_json::Value> = (0..REQUESTS)
        .map(|n| json!({"name": format!("room {n}")}))
        .collect();
    let mut requests: futures_util::stream::FuturesUnordered<_> = payloads
        .iter()
        .map(|p| ana.client.emit_with_ack(events::ROOM_CREATE, p, WAIT))
        .collect();
    // One poll sends every request (each goes out on its first poll); none is answered while
    // the driver is held.
    assert!(requests.next().now_or_never().is_none());
    let time: serde_json::Value = ana.ack(events::TIME, json!({"client_time": 0})).await;
    assert_eq!(time["ok"], true, "{time}");
    assert!(
        HOLDING.load(Ordering::SeqCst),
        "the driver was held until every create was read"
    );

    server.begin_shutdown();
    // The driver (like the accept loop) watches the server's own stop, which a task fires once
    // it sees the shutdown. The accept loop closes the listener as soon as it sees that stop:
    // once connecting is refused, the driver will see it too, at its next turn.
    let addr = server.url.trim_start_matches("http://").to_owned();
    let stopped = tokio::time::timeout(WAIT, async {
        while tokio::net::TcpStream::connect(&addr).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    assert!(
        stopped.is_ok(),
        "the server still listens {WAIT:?} after its shutdown began"
    );
    HOLD.store(false, Ordering::SeqCst);
    let (answers, stopped) = tokio::join!(requests.collect::<Vec<_>>(), server.stop());
    stopped.expect("server exits cleanly");
    // The driver takes nothing more from its queue once shutdown has started, so every create
    // still queued there is refused; none may go unanswered.
    for answer in answers {
        let value = answer
            .unwrap_or_else(|e| panic!("a request read before shutdown lost its answer: {e}"));
        let ack: serde_json::Value = tickstorm_bot_client::decode_value(value).expect("json");
        assert_eq!(ack["ok"], false, "created after shutdown started: {ack}");
        assert_eq!(ack["error"]["code"], "server_full", "{ack}");
        assert!(
            ack["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("shutting down")),
            "{ack}"
        );
    }
}
