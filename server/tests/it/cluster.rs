//! Scale-out with real processes: two or three server nodes (the real binary) on one real
//! `redis-server`, and again on a real three-master Redis Cluster. Rooms of every node show on every node; players connected to any node play
//! in any room; a killed node, a draining node, a Redis restart and a missing Redis each do
//! what docs/operations.md says.

use std::time::Duration;

use clap::Parser;
use serde_json::{Value, json};
use tickstorm_bot_client::swarm::{self, SwarmConfig};
use tickstorm_server::cluster::directory::RECORD_TTL;
use tickstorm_shared::protocol::events;

use crate::procs::{Failover, Node, Redis, RedisKind, agreed_rooms, free_port, signal, until};
use crate::support::{TestClient, WAIT};

/// How long after a node dies the others count it lost (docs/operations.md: "within about 4 to
/// 6 s"): its record outlives its last write (at most 1 s before the death) by the 3 s TTL, then
/// the others wait until they have not seen it for the TTL, reading once a second. Plus 2 s for a
/// loaded 2-core machine (late heartbeats, the kill itself, the relay to the player).
const NODE_LOSS: Duration = Duration::from_secs(6 + 2);

async fn create(client: &TestClient) -> String {
    let ack: Value = client.ack(events::ROOM_CREATE, json!({})).await;
    assert_eq!(ack["ok"], true, "create failed: {ack}");
    ack["room"]["id"].as_str().expect("room id").to_owned()
}

async fn join(client: &TestClient, room_id: &str) -> Value {
    let ack: Value = client
        .ack(events::ROOM_JOIN, json!({ "room_id": room_id }))
        .await;
    assert_eq!(ack["ok"], true, "join of {room_id} failed: {ack}");
    ack
}

async fn input(client: &TestClient, seq: u32, movement: [f32; 2]) -> Value {
    client
        .ack(
            events::INPUT,
            json!({ "seq": seq, "move": movement, "buttons": 0 }),
        )
        .await
}

/// The names in a join ack's `members`, in order.
/// Sends inputs numbered `seqs`, 100 ms apart, until one is acked ok (after an outage); fails
/// the test if none is.
async fn input_until_acked(
    client: &TestClient,
    seqs: std::ops::RangeInclusive<u32>,
    movement: [f32; 2],
) {
    let mut last = Value::Null;
    for seq in seqs {
        last = input(client, seq, movement).await;
        if last["ok"] == true {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("inputs are not acked again: {last}");
}

fn member_names(ack: &Value) -> Vec<&str> {
    ack["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| m["name"].as_str().unwrap_or_default())
        .collect()
}

/// Which node's record lists `room_id`, as `node` sees the cluster (itself included).
async fn owner_seen_from(node: &Node, room_id: &str) -> Option<String> {
    let view = node.cluster_view().await;
    let holds = |rooms: &Value| {
        rooms
            .as_array()
            .is_some_and(|r| r.iter().any(|room| room["id"] == room_id))
    };
    if holds(&view["rooms"]) {
        return view["node_id"].as_str().map(str::to_owned);
    }
    view["others"].as_array()?.iter().find_map(|other| {
        holds(&other["rooms"]).then(|| other["node_id"].as_str().unwrap_or_default().to_owned())
    })
}

/// Waits until `node` sees `room_id` run by node `owner`.
async fn assert_owner(node: &Node, room_id: &str, owner: &str) {
    let seen = until(WAIT, || async {
        owner_seen_from(node, room_id).await.as_deref() == Some(owner)
    })
    .await;
    assert!(seen, "{} never saw room {room_id} on node {owner}", node.id);
}

async fn a_player_on_another_node_plays_the_room_and_every_node_lists_it(kind: RedisKind) {
    let redis = Redis::start_kind(kind).await;
    let nodes = Node::cluster(&redis.url(), "play", &["a", "b", "c"], &[]).await;
    let mut ana = TestClient::connect(&nodes[0].url, "ana").await;
    let mut bob = TestClient::connect(&nodes[1].url, "bob").await;
    let room = create(&ana).await;
    let ana_join = join(&ana, &room).await;

    // Every node's lobby and /api/rooms list the room, and agree.
    assert_eq!(agreed_rooms(&nodes, WAIT).await, vec![room.clone()]);
    let lobby: Value = bob.ack(events::LOBBY_LIST, json!({})).await;
    assert_eq!(lobby["rooms"][0]["id"], room.as_str(), "{lobby}");

    // bob, on node b, joins the room that node a runs: ana is in the ack, ana hears of bob.
    let bob_join = join(&bob, &room).await;
    let bob_id = bob_join["player_id"].as_u64().expect("player id");
    assert_eq!(member_names(&bob_join), ["ana", "bob"]);
    let joined: Value = ana.next(events::PLAYER_JOINED).await;
    assert_eq!(joined["player_id"], bob_id);

    // His inputs cross to node a and are acked from there; the snapshots that come back
    // through the adapter show him moving, to him and to ana.
    let start = bob
        .snapshot_where(|s| s.players.iter().any(|p| p.id as u64 == bob_id))
        .await;
    let x0 = start
        .players
        .iter()
        .find(|p| p.id as u64 == bob_id)
        .expect("bob")
        .x;
    // Towards the far side of the arena: a spawn near a wall must not block him.
    let direction = if x0 < tickstorm_orbs::rules::ARENA_SIZE / 2.0 {
        1.0
    } else {
        -1.0
    };
    for seq in 1..=20 {
        let ack = input(&bob, seq, [direction, 0.0]).await;
        assert_eq!(ack["ok"], true, "input {seq}: {ack}");
        assert_eq!(ack["seq"], seq);
        assert!(ack["tick"].as_u64().is_some(), "{ack}");
    }
    let moved = |s: &tickstorm_orbs::OrbView| {
        s.players
            .iter()
            .any(|p| p.id as u64 == bob_id && (p.x - x0) * direction > 20.0)
    };
    bob.snapshot_where(moved).await;
    ana.snapshot_where(moved).await;

    // Chat crosses nodes both ways; leaving is seen on the owner.
    let ok: Value = bob.ack(events::CHAT, json!({ "text": "hi from b" })).await;
    assert_eq!(ok["ok"], true, "{ok}");
    let chat: Value = ana.next(events::CHAT).await;
    assert_eq!(chat["text"], "hi from b");
    let ok: Value = bob.ack(events::ROOM_LEAVE, json!({})).await;
    assert_eq!(ok["ok"], true, "{ok}");
    let left: Value = ana.next(events::PLAYER_LEFT).await;
    assert_eq!(
        (left["player_id"].as_u64(), left["reason"].as_str()),
        (Some(bob_id), Some("left"))
    );
    let after = input(&bob, 21, [1.0, 0.0]).await;
    assert_eq!(after["error"]["code"], "not_in_room", "{after}");

    // A room id nobody runs is refused quickly, not waited on forever.
    let missing: Value = bob
        .ack(events::ROOM_JOIN, json!({ "room_id": "zzzzzzzz" }))
        .await;
    assert_eq!(missing["error"]["code"], "room_not_found", "{missing}");
    assert_eq!(ana_join["members"][0]["name"], "ana");
}

async fn whispers_typing_and_presence_cross_nodes(kind: RedisKind) {
    let redis = Redis::start_kind(kind).await;
    let nodes = Node::cluster(&redis.url(), "social", &["a", "b", "c"], &[]).await;
    let mut ana = TestClient::connect(&nodes[0].url, "ana").await;
    let mut bob = TestClient::connect(&nodes[1].url, "bob").await;
    let mut cid = TestClient::connect(&nodes[2].url, "cid").await;
    let room = create(&ana).await;
    let ana_id = join(&ana, &room).await["player_id"].clone();
    let bob_id = join(&bob, &room).await["player_id"].clone();
    let cid_id = join(&cid, &room).await["player_id"].clone();

    // bob (node b) whispers cid (node c) in a room node a runs: the lookup goes to a, the
    // message straight to c.
    let ack: Value = bob
        .ack(
            events::CHAT_WHISPER,
            json!({"to": cid_id, "text": "b to c"}),
        )
        .await;
    assert_eq!(ack, json!({"ok": true}));
    let whisper: Value = cid.next(events::CHAT_WHISPER).await;
    assert_eq!(
        (&whisper["player_id"], &whisper["name"], &whisper["text"]),
        (&bob_id, &json!("bob"), &json!("b to c"))
    );
    // And from the room's own node to a player elsewhere, and back.
    let ack: Value = ana
        .ack(
            events::CHAT_WHISPER,
            json!({"to": bob_id, "text": "a to b"}),
        )
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    let whisper: Value = bob.next(events::CHAT_WHISPER).await;
    assert_eq!(whisper["text"], "a to b");
    let ack: Value = cid
        .ack(
            events::CHAT_WHISPER,
            json!({"to": ana_id, "text": "c to a"}),
        )
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    let whisper: Value = ana.next(events::CHAT_WHISPER).await;
    assert_eq!(whisper["text"], "c to a");
    let missing: Value = bob
        .ack(
            events::CHAT_WHISPER,
            json!({"to": 999_999, "text": "anyone?"}),
        )
        .await;
    assert_eq!(missing["error"]["code"], "player_not_found", "{missing}");

    // Typing from node c reaches a and b.
    let ack: Value = cid.ack(events::CHAT_TYPING, json!({"typing": true})).await;
    assert_eq!(ack["ok"], true, "{ack}");
    for member in [&mut ana, &mut bob] {
        let typing: Value = member.next(events::PLAYER_TYPING).await;
        assert_eq!(typing, json!({"player_id": cid_id, "typing": true}));
    }

    // Every node counts the whole cluster (others as of their last heartbeat, once a second).
    for (client, node) in [(&ana, "a"), (&bob, "b"), (&cid, "c")] {
        let counted = until(WAIT, || async {
            let online: Value = client.ack(events::LOBBY_ONLINE, json!({})).await;
            online["players"] == 3 && online["connections"] == 3 && online["games"]["orbs"] == 3
        })
        .await;
        assert!(
            counted,
            "node {node} never counted 3 players on 3 connections"
        );
    }
}

/// Messages node `node` published to Redis while `during` ran.
async fn published_during(node: &Node, during: impl std::future::Future<Output = ()>) -> f64 {
    const PUBLISHED: &str = "tickstorm_redis_published_messages_total";
    let before = node.metric(PUBLISHED).await;
    during.await;
    node.metric(PUBLISHED).await - before
}

async fn a_room_costs_redis_nothing_per_tick_until_a_player_joins_through_another_node(
    kind: RedisKind,
) {
    let redis = Redis::start_kind(kind).await;
    let nodes = Node::cluster(&redis.url(), "local", &["a", "b", "c"], &[]).await;
    let mut ana = TestClient::connect(&nodes[0].url, "ana").await;
    let bea = TestClient::connect(&nodes[0].url, "bea").await;
    let room = create(&ana).await;
    let ana_id = join(&ana, &room).await["player_id"].as_u64();
    join(&bea, &room).await;
    let window = Duration::from_secs(2);

    // Both players on the room's node: 2 s of play (60 ticks at 30 Hz, each a keyframe for these
    // clients) publish nothing per tick. What a's bus does publish meanwhile: its empty leases to
    // b and c (every second in a node's first 10 s, so up to 6 in a window a little over 2 s)
    // and its record when it changes; per tick it would be 60.
    let all_local = published_during(&nodes[0], async {
        ana.drain();
        let first = ana.next_snapshot().await.tick;
        tokio::time::sleep(window).await;
        ana.drain();
        let last = ana.next_snapshot().await.tick;
        assert!(last >= first + 20, "the room ticked ({first} -> {last})");
    })
    .await;
    assert!(
        all_local <= 10.0,
        "{all_local} messages published in 2 s by a room whose players are all local"
    );

    // carl joins through node c: the room's snapshots now cross to node c, one message a tick.
    let mut carl = TestClient::connect(&nodes[2].url, "carl").await;
    let carl_join = join(&carl, &room).await;
    assert_eq!(member_names(&carl_join), ["ana", "bea", "carl"]);
    let crossing = published_during(&nodes[0], async {
        carl.next_snapshot().await;
        tokio::time::sleep(window).await;
        carl.drain();
        carl.next_snapshot().await;
    })
    .await;
    assert!(
        crossing >= 30.0,
        "{crossing} messages published in 2 s with a player on another node"
    );

    // The owner's room events reach him through his node too, once: ana leaves, carl hears it.
    let ok: Value = ana.ack(events::ROOM_LEAVE, json!({})).await;
    assert_eq!(ok["ok"], true, "{ok}");
    let left: Value = carl.next(events::PLAYER_LEFT).await;
    assert_eq!(left["player_id"].as_u64(), ana_id);
}

async fn bots_spread_over_three_nodes_see_every_snapshot_and_every_ack(kind: RedisKind) {
    let redis = Redis::start_kind(kind).await;
    let nodes = Node::cluster(&redis.url(), "swarm", &["a", "b", "c"], &[]).await;
    // Every 4 consecutive bots share a room its first bot creates; consecutive bots connect to
    // different nodes, so each room has players on three nodes, and the rooms' creators (bots
    // 0, 4, 8, ...) are on every node.
    let config = SwarmConfig::parse_from([
        "tickstorm-bots",
        "--url",
        &nodes[0].url,
        "--also-url",
        &nodes[1].url,
        "--also-url",
        &nodes[2].url,
        "--bots",
        "36",
        "--room-size",
        "4",
        "--duration",
        "4s",
        "--scenario",
        "chat",
        "--quiet",
    ]);
    let report = swarm::run(config).await.expect("swarm runs");
    assert!(report.errors.is_empty(), "errors: {:?}", report.errors);
    assert_eq!(report.bots_connected_peak, 36);
    if report.snapshots.missed > 0 {
        // Say which path shed them: Redis' pub/sub (behind or down) or a connection's queue.
        let mut drops = Vec::new();
        for node in &nodes {
            drops.push((
                node.id.clone(),
                node.metric("tickstorm_redis_dropped_messages_total").await,
                node.metric("tickstorm_packets_dropped_total").await,
            ));
        }
        panic!(
            "{} snapshots missed, delivery {}; (node, redis dropped, packets dropped): {drops:?}",
            report.snapshots.missed, report.snapshots.ratio
        );
    }
    assert!(
        report.snapshots.expected > 36 * 60,
        "{:?}",
        report.snapshots
    );
    assert!(
        report.inputs_acked + 36 >= report.inputs_sent,
        "acked {} of {}",
        report.inputs_acked,
        report.inputs_sent
    );
    // Each chat line reaches the 4 members of its room, wherever they are connected.
    assert!(report.chat_sent > 0);
    assert!(
        report.chat_received + 36 * 4 >= report.chat_sent * 4,
        "chat {} sent, {} received",
        report.chat_sent,
        report.chat_received
    );
    // Every node lists the same 9 rooms, and they really are spread: every node runs some (the
    // group creators are on all three).
    assert_eq!(agreed_rooms(&nodes, WAIT).await.len(), 9);
    for node in &nodes {
        let view = node.cluster_view().await;
        assert!(
            view["rooms"].as_array().is_some_and(|r| !r.is_empty()),
            "node {} runs no room: {view}",
            node.id
        );
    }
}

async fn quick_match_fills_open_rooms_first_and_puts_new_rooms_on_the_least_loaded_node(
    kind: RedisKind,
) {
    let redis = Redis::start_kind(kind).await;
    let nodes = Node::cluster(&redis.url(), "quick", &["a", "b"], &[]).await;
    // Node a has one full room (one seat, taken); node b has nothing.
    let ana = TestClient::connect(&nodes[0].url, "ana").await;
    let ack: Value = ana
        .ack(events::ROOM_CREATE, json!({ "max_players": 1 }))
        .await;
    let full = ack["room"]["id"].as_str().expect("id").to_owned();
    join(&ana, &full).await;
    assert!(
        until(WAIT, || async {
            nodes[1].cluster_view().await["others"][0]["players"] == 1
        })
        .await,
        "b sees a's player"
    );
    // No open room anywhere, and b is less loaded: the new room goes to b.
    let bob = TestClient::connect(&nodes[0].url, "bob").await;
    let first: Value = bob.ack(events::ROOM_JOIN, json!({})).await;
    assert_eq!(first["ok"], true, "{first}");
    let placed = first["room"]["id"].as_str().expect("id").to_owned();
    assert_owner(&nodes[0], &placed, "b").await;
    // Now b has an open room: the next quick match on a fills it instead of opening another.
    assert!(
        until(WAIT, || async {
            nodes[0].room_ids().await.contains(&placed)
        })
        .await,
        "a lists the new room"
    );
    let cid = TestClient::connect(&nodes[0].url, "cid").await;
    let second: Value = cid.ack(events::ROOM_JOIN, json!({})).await;
    assert_eq!(second["room"]["id"], placed.as_str(), "{second}");
    assert_eq!(member_names(&second), ["bob", "cid"]);
}

async fn a_killed_node_closes_its_rooms_for_players_elsewhere_and_holds_their_seats_elsewhere(
    kind: RedisKind,
) {
    let redis = Redis::start_kind(kind).await;
    let mut nodes = Node::cluster(&redis.url(), "kill", &["a", "b"], &[]).await;
    let node_b = nodes.pop().expect("b");
    let node_a = nodes.pop().expect("a");
    // Room ra runs on a; cid plays it from b. Room rb runs on b; dan plays it from a.
    let ana = TestClient::connect(&node_a.url, "ana").await;
    let mut cid = TestClient::connect(&node_b.url, "cid").await;
    let bea = TestClient::connect(&node_b.url, "bea").await;
    let dan = TestClient::connect(&node_a.url, "dan").await;
    let ra = create(&ana).await;
    join(&ana, &ra).await;
    join(&cid, &ra).await;
    let rb = create(&bea).await;
    join(&bea, &rb).await;
    let dan_join = join(&dan, &rb).await;
    let dan_token = dan_join["rejoin_token"].as_str().expect("token").to_owned();
    cid.snapshot_where(|_| true).await;

    let killed = tokio::time::Instant::now();
    node_a.kill().await;

    // cid hears that his room's node is gone, and can play elsewhere at once.
    let deadline = killed + NODE_LOSS;
    let closed: Value = loop {
        match tokio::time::timeout_at(deadline, cid.events.recv()).await {
            Ok(Some(event)) if event.name == events::ROOM_CLOSED => {
                break tickstorm_bot_client::decode_value(event.args[0].clone()).expect("payload");
            }
            Ok(Some(_)) => continue,
            other => panic!("no room:closed for cid after the node died: {other:?}"),
        }
    };
    let lost_after = killed.elapsed();
    assert_eq!(
        (closed["room_id"].as_str(), closed["reason"].as_str()),
        (Some(ra.as_str()), Some("node_lost"))
    );
    // Never sooner than the TTL: a's record outlives it by more than a second (a rewrites it
    // every second), and b waits until it has missed a for the TTL after its last sighting.
    assert!(
        lost_after > RECORD_TTL,
        "a was counted lost {lost_after:?} after it died, before the record's {RECORD_TTL:?} TTL"
    );
    let again: Value = cid.ack(events::ROOM_JOIN, json!({})).await;
    assert_eq!(again["ok"], true, "{again}");

    // b lists ra no more, and says the node was lost.
    assert!(
        until(NODE_LOSS, || async {
            !node_b.room_ids().await.contains(&ra)
        })
        .await,
        "b still lists the dead node's room"
    );
    assert_eq!(node_b.metric("tickstorm_nodes_lost_total").await, 1.0);

    // dan's connection died with node a, but his seat in rb (on b) was held: he reconnects to
    // b and takes it back, same player.
    let dan_again = TestClient::connect(&node_b.url, "dan").await;
    let rejoin: Value = dan_again
        .ack(events::ROOM_REJOIN, json!({ "token": dan_token }))
        .await;
    assert_eq!(rejoin["ok"], true, "{rejoin}");
    assert_eq!(rejoin["player_id"], dan_join["player_id"]);
    assert_eq!(rejoin["room"]["id"], rb.as_str());
    let ack = input(&dan_again, 1, [0.0, 1.0]).await;
    assert_eq!(ack["ok"], true, "{ack}");
}

async fn a_node_restarted_under_its_old_id_has_its_players_seats_held_by_the_lease(
    kind: RedisKind,
) {
    let redis = Redis::start_kind(kind).await;
    let mut nodes = Node::cluster(&redis.url(), "lease", &["a", "b"], &[]).await;
    let mut ana = TestClient::connect(&nodes[0].url, "ana").await;
    let bob = TestClient::connect(&nodes[1].url, "bob").await;
    let room = create(&ana).await;
    join(&ana, &room).await;
    let bob_join = join(&bob, &room).await;
    let bob_id = bob_join["player_id"].as_u64().expect("id");
    let token = bob_join["rejoin_token"].as_str().expect("token").to_owned();

    // b dies and is back under the same id before its record expires: a never sees it lost,
    // and b's goodbye for bob was never sent. The new b's lease does not list bob's seat.
    nodes.pop().expect("b").kill().await;
    let node_b = Node::start(&redis.url(), "lease", "b", &[]).await;
    // The owner holds a seat missing from a lease only once the seat is 5 s old (a grant may
    // still be on its way), and leases come every second: up to ~6 s after the join, plus a
    // loaded machine's margin. (`next` alone gives up after 5 s, which this can exceed.)
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let left: Value = loop {
        let wait = deadline.saturating_duration_since(tokio::time::Instant::now());
        let event = ana.next_event_within(events::PLAYER_LEFT, wait).await;
        let left: Value =
            tickstorm_bot_client::decode_value(event.args[0].clone()).expect("player:left payload");
        if left["player_id"] == bob_id {
            break left;
        }
    };
    assert_eq!(left["reason"], "disconnected");
    // The gauge follows once the driver has finished its turn (after the event went out).
    assert!(
        until(WAIT, || async {
            nodes[0].metric("tickstorm_disconnected_players").await == 1.0
        })
        .await,
        "node a counts bob's held seat"
    );

    // Bob comes back through the new b and takes his seat back.
    let bob_again = TestClient::connect(&node_b.url, "bob").await;
    let rejoin: Value = bob_again
        .ack(events::ROOM_REJOIN, json!({ "token": token }))
        .await;
    assert_eq!(rejoin["ok"], true, "{rejoin}");
    assert_eq!(rejoin["player_id"], bob_id);
    let ack = input(&bob_again, 1, [1.0, 0.0]).await;
    assert_eq!(ack["ok"], true, "{ack}");
}

async fn redis_restarted_mid_game_the_owner_plays_on_and_the_cluster_recovers(kind: RedisKind) {
    let mut redis = Redis::start_kind(kind).await;
    let nodes = Node::cluster(&redis.url(), "restart", &["a", "b"], &[]).await;
    let mut ana = TestClient::connect(&nodes[0].url, "ana").await;
    let mut bob = TestClient::connect(&nodes[1].url, "bob").await;
    let room = create(&ana).await;
    join(&ana, &room).await;
    let bob_id = join(&bob, &room).await["player_id"].as_u64().expect("id");
    bob.snapshot_where(|_| true).await;

    redis.kill().await;

    // Node a serves its own room on: ana's inputs are acked, her snapshots keep coming.
    assert!(
        until(WAIT, || async {
            nodes[0].metric("tickstorm_redis_up").await == 0.0
                && nodes[0].metric("tickstorm_redis_errors_total").await >= 1.0
        })
        .await,
        "node a notices and counts that Redis is gone"
    );
    ana.drain();
    for seq in 1..=5 {
        let ack = input(&ana, seq, [1.0, 0.0]).await;
        assert_eq!(
            ack["ok"], true,
            "ana's input {seq} while Redis is down: {ack}"
        );
    }
    let first = ana.next_snapshot().await.tick;
    let later = ana.snapshot_where(|s| s.tick >= first + 15).await;
    assert!(later.tick > first);
    // bob's node cannot reach the owner: a clear error, not a hang.
    let cut_off = input(&bob, 1, [1.0, 0.0]).await;
    assert_eq!(cut_off["ok"], false, "{cut_off}");
    assert_eq!(cut_off["error"]["code"], "unavailable", "{cut_off}");

    redis.restart().await;

    // Both nodes reconnect and resubscribe by themselves: bob plays again, with snapshots
    // through the adapter, and the directory is whole again.
    assert!(
        until(Duration::from_secs(15), || async {
            nodes[1].metric("tickstorm_redis_up").await == 1.0
                && nodes[1].room_ids().await.contains(&room)
        })
        .await,
        "node b is back in the cluster"
    );
    input_until_acked(&bob, 2..=40, [0.0, 1.0]).await;
    bob.drain();
    let snapshot = bob.next_snapshot().await;
    assert!(
        snapshot.players.iter().any(|p| p.id as u64 == bob_id),
        "bob is still seated"
    );
    let ack = input(&ana, 6, [1.0, 0.0]).await;
    assert_eq!(ack["ok"], true, "{ack}");
}

async fn a_room_closed_while_redis_is_down_reaches_its_remote_players_once_redis_is_back(
    kind: RedisKind,
) {
    let mut redis = Redis::start_kind(kind).await;
    let admin_flags = ["--admin-token", crate::admin::TOKEN];
    let nodes = Node::cluster(&redis.url(), "closed", &["a", "b"], &admin_flags).await;
    let ana = TestClient::connect(&nodes[0].url, "ana").await;
    let mut bob = TestClient::connect(&nodes[1].url, "bob").await;
    let room = create(&ana).await;
    join(&ana, &room).await;
    join(&bob, &room).await;
    bob.snapshot_where(|_| true).await;

    // The room closes on a while a cannot tell b.
    redis.kill().await;
    assert!(
        until(WAIT, || async {
            nodes[0].metric("tickstorm_redis_up").await == 0.0
        })
        .await,
        "a notices Redis is gone"
    );
    let ops = crate::admin::admin(&nodes[0].url, json!({ "token": crate::admin::TOKEN }))
        .await
        .expect("admin connects");
    let closed: Value = ops
        .ack(
            tickstorm_shared::admin::events::ROOM_CLOSE,
            json!({ "room_id": room }),
        )
        .await;
    assert_eq!(closed["ok"], true, "{closed}");
    redis.restart().await;

    // Once Redis is back, bob hears it (from the held release, or else from the lease), and his
    // seat is gone on b too: he can join again.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let closed: Value = loop {
        let event = tokio::time::timeout_at(deadline, bob.events.recv())
            .await
            .expect("bob hears that his room closed")
            .expect("bob stays connected");
        if event.name == events::ROOM_CLOSED {
            break tickstorm_bot_client::decode_value(event.args[0].clone()).expect("payload");
        }
    };
    assert_eq!(closed["room_id"], room.as_str());
    let again: Value = bob.ack(events::ROOM_JOIN, json!({})).await;
    assert_eq!(again["ok"], true, "bob is free to join again: {again}");
}

async fn redis_unavailable_at_start_is_a_clear_error_and_a_failed_exit(kind: RedisKind) {
    let seeds = match kind {
        RedisKind::Single => 1,
        RedisKind::Cluster | RedisKind::ReplicatedCluster => 3,
    };
    let closed: Vec<String> = (0..seeds)
        .map(|_| format!("redis://127.0.0.1:{}", free_port()))
        .collect();
    let redis_url = closed.join(",");
    let mut node = Node::spawn_unchecked(&redis_url, "absent", "a");
    // docs/operations.md promises status 1: `main` returns the error (`anyhow::Result`), which
    // Rust reports as exit code 1; a panic would be 101, a signal no code at all.
    let status = node.exit_status(Duration::from_secs(20)).await;
    assert_eq!(status.code(), Some(1), "exit status {status}");
    let stderr = node.stderr().await;
    assert!(
        stderr.contains(&format!("cannot reach Redis at {redis_url}")),
        "stderr: {stderr}"
    );
}

async fn a_draining_node_places_new_rooms_elsewhere_and_exits_once_its_rooms_empty(
    kind: RedisKind,
) {
    let redis = Redis::start_kind(kind).await;
    let mut nodes = Node::cluster(
        &redis.url(),
        "drain",
        &["a", "b"],
        &["--drain-timeout", "60s"],
    )
    .await;
    let ana = TestClient::connect(&nodes[0].url, "ana").await;
    let room = create(&ana).await;
    join(&ana, &room).await;

    signal(nodes[0].process(), "TERM");

    // a says it drains; its room plays on.
    assert!(
        until(WAIT, || async {
            nodes[1].cluster_view().await["others"][0]["draining"] == true
        })
        .await,
        "b sees a draining"
    );
    let ack = input(&ana, 1, [1.0, 0.0]).await;
    assert_eq!(
        ack["ok"], true,
        "the draining node still serves its room: {ack}"
    );
    // A new room asked of a goes to b; a quick match on a also lands on b.
    let eve = TestClient::connect(&nodes[0].url, "eve").await;
    let placed = create(&eve).await;
    assert_owner(&nodes[1], &placed, "b").await;
    let quick: Value = eve.ack(events::ROOM_JOIN, json!({})).await;
    assert_eq!(quick["ok"], true, "{quick}");
    let quick_room = quick["room"]["id"].as_str().expect("id").to_owned();
    assert_owner(&nodes[1], &quick_room, "b").await;
    let ack = input(&eve, 1, [1.0, 0.0]).await;
    assert_eq!(ack["ok"], true, "{ack}");

    // Once ana leaves, a's last room closes and a exits cleanly, long before the timeout,
    // and b's directory forgets it.
    let ok: Value = ana.ack(events::ROOM_LEAVE, json!({})).await;
    assert_eq!(ok["ok"], true, "{ok}");
    let mut node_a = nodes.remove(0);
    assert!(node_a.exited_ok(Duration::from_secs(20)).await, "a exits 0");
    assert!(
        until(NODE_LOSS, || async {
            !nodes[0].room_ids().await.contains(&room)
        })
        .await,
        "b forgets a's room"
    );
}

/// The bus itself, on both kinds of Redis: messages on many channels arrive, in order per
/// channel, at the node subscribed to them; the adapter's count of subscribers is right; and on a
/// cluster the channels really are sharded (each master holds some of them as shard channels).
async fn the_bus_delivers_in_order_on_every_channel_and_counts_subscribers(kind: RedisKind) {
    use futures_util::StreamExt;
    use socketioxide_redis::drivers::Driver;
    use tickstorm_server::cluster::bus::{Bus, BusMetrics};

    let redis = Redis::start_kind(kind).await;
    let sender = Bus::connect(&redis.seeds(), BusMetrics::default())
        .await
        .expect("the sender connects");
    let receiver = Bus::connect(&redis.seeds(), BusMetrics::default())
        .await
        .expect("the receiver connects");
    const CHANNELS: usize = 16;
    const MESSAGES: u32 = 200;
    let channel = |i: usize| format!("bus-test:ch:{i}");
    let mut streams = Vec::new();
    for i in 0..CHANNELS {
        let stream = receiver
            .subscribe(channel(i), MESSAGES as usize)
            .await
            .expect("subscribes");
        streams.push(stream);
    }
    for i in 0..CHANNELS {
        assert_eq!(sender.num_serv(&channel(i)).await.expect("counts"), 1);
    }
    assert_eq!(sender.num_serv("bus-test:nobody").await.expect("counts"), 0);

    // Interleaved over the channels, as the outbox sees them: one batch spans many slots.
    for n in 0..MESSAGES {
        for i in 0..CHANNELS {
            sender.send(channel(i), n.to_be_bytes().to_vec());
        }
    }
    for (i, stream) in streams.iter_mut().enumerate() {
        for n in 0..MESSAGES {
            let (name, payload) = tokio::time::timeout(WAIT, stream.next())
                .await
                .unwrap_or_else(|_| panic!("message {n} on channel {i} in time"))
                .expect("the stream stays open");
            assert_eq!(name, channel(i));
            assert_eq!(payload, n.to_be_bytes(), "channel {i} in order");
        }
    }

    if kind != RedisKind::Single {
        for port in redis.ports() {
            let held: Vec<String> = redis::cmd("PUBSUB")
                .arg("SHARDCHANNELS")
                .arg("bus-test:*")
                .query_async(&mut crate::procs::connect(port).await)
                .await
                .expect("PUBSUB SHARDCHANNELS");
            assert!(
                !held.is_empty() && held.len() < CHANNELS,
                "master on {port} holds a share of the channels: {held:?}"
            );
        }
    }
}

/// In a Redis Cluster with replicas, the shard that carries a room's snapshots to the node of
/// one of its players fails over: once the replica has taken over (seconds), that player plays
/// on without reconnecting: inputs acked, snapshots arriving.
async fn failover_interrupts_cross_node_play_only_until_the_replica_takes_over(how: Failover) {
    let mut redis = Redis::start_kind(RedisKind::ReplicatedCluster).await;
    let nodes = Node::cluster(&redis.url(), "failover", &["a", "b"], &[]).await;
    let ana = TestClient::connect(&nodes[0].url, "ana").await;
    let mut bob = TestClient::connect(&nodes[1].url, "bob").await;
    let room = create(&ana).await;
    join(&ana, &room).await;
    let bob_id = join(&bob, &room).await["player_id"].as_u64().expect("id");
    bob.snapshot_where(|_| true).await;

    // Node b's room channel: the owner's snapshots for bob go there.
    redis.fail_over_master_of("failover:room:b", how).await;

    input_until_acked(&bob, 1..=100, [1.0, 0.0]).await;
    bob.drain();
    let first = bob.next_snapshot().await.tick;
    let later = bob.snapshot_where(|s| s.tick >= first + 30).await;
    assert!(
        later.players.iter().any(|p| p.id as u64 == bob_id),
        "bob is still seated"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_cluster_shard_whose_master_dies_fails_over_and_cross_node_play_resumes() {
    failover_interrupts_cross_node_play_only_until_the_replica_takes_over(Failover::MasterKilled)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planned_redis_cluster_failover_drops_subscriptions_that_the_nodes_renew() {
    failover_interrupts_cross_node_play_only_until_the_replica_takes_over(Failover::Planned).await;
}

/// Runs each named test twice, as `NAME::single_redis` (one `redis-server`) and as
/// `NAME::redis_cluster` (a three-master Redis Cluster): the cluster code has one path per
/// Redis kind where they differ (pub/sub, key slots, scans), and every behaviour holds on both.
macro_rules! on_both_redis_kinds {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use crate::procs::RedisKind;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn single_redis() {
                super::$name(RedisKind::Single).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn redis_cluster() {
                super::$name(RedisKind::Cluster).await
            }
        }
    )*};
}

on_both_redis_kinds!(
    the_bus_delivers_in_order_on_every_channel_and_counts_subscribers,
    a_player_on_another_node_plays_the_room_and_every_node_lists_it,
    whispers_typing_and_presence_cross_nodes,
    a_room_costs_redis_nothing_per_tick_until_a_player_joins_through_another_node,
    bots_spread_over_three_nodes_see_every_snapshot_and_every_ack,
    quick_match_fills_open_rooms_first_and_puts_new_rooms_on_the_least_loaded_node,
    a_killed_node_closes_its_rooms_for_players_elsewhere_and_holds_their_seats_elsewhere,
    a_node_restarted_under_its_old_id_has_its_players_seats_held_by_the_lease,
    redis_restarted_mid_game_the_owner_plays_on_and_the_cluster_recovers,
    a_room_closed_while_redis_is_down_reaches_its_remote_players_once_redis_is_back,
    redis_unavailable_at_start_is_a_clear_error_and_a_failed_exit,
    a_draining_node_places_new_rooms_elsewhere_and_exits_once_its_rooms_empty,
);
