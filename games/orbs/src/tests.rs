//! The orb arena's rules through the framework's world, driven without a clock or sockets.

use std::sync::Arc;

use tickstorm_sim::{Entity, GameRegistry, InputPort, InputQueue, RoomSpec, SimWorld};

use super::*;

fn spec(seed: u64) -> RoomSpec {
    RoomSpec {
        id: "r1".into(),
        game: 0,
        max_players: 8,
        tick_rate: 30,
        send_rate: 30,
        seed,
        options: serde_json::json!({}),
    }
}

fn world() -> SimWorld {
    let mut registry = GameRegistry::new();
    registry.register(OrbArena).expect("registers");
    SimWorld::new(&registry)
}

fn room_with_players(seed: u64, n: u32) -> (SimWorld, Entity, Arc<dyn InputPort>, Vec<Entity>) {
    let mut sim = world();
    let (room, queue) = sim.spawn_room(spec(seed)).expect("known game");
    let players = (0..n)
        .map(|i| {
            sim.spawn_player(room, i + 1, format!("p{i}"))
                .expect("free seat")
        })
        .collect();
    (sim, room, queue, players)
}

fn submit(queue: &Arc<dyn InputPort>, player: Entity, seq: u32, movement: [f32; 2]) -> u64 {
    let typed = queue
        .as_any()
        .downcast_ref::<InputQueue<OrbInput>>()
        .expect("the orb arena's queue");
    typed
        .submit_validated(
            player,
            OrbInput {
                seq,
                movement,
                buttons: 0,
            },
        )
        .expect("valid")
        .tick
}

/// Plays a fixed script of inputs and returns every snapshot's bytes.
fn play_script(seed: u64) -> Vec<Vec<u8>> {
    let (mut sim, room, queue, players) = room_with_players(seed, 4);
    let mut out = Vec::new();
    for tick in 0..300u32 {
        for (i, &p) in players.iter().enumerate() {
            if tick % (i as u32 + 2) == 0 {
                let angle = (tick as f32 * 0.05) + i as f32;
                submit(&queue, p, tick + 1, [angle.cos(), angle.sin()]);
            }
        }
        let snaps = sim.step(&[room], 1_000 + u64::from(tick));
        out.extend(snaps.iter().map(|(_, b)| b.to_vec()));
    }
    out
}

#[test]
fn same_seed_and_inputs_give_identical_snapshot_bytes() {
    let a = play_script(42);
    let b = play_script(42);
    assert_eq!(a.len(), 300);
    assert_eq!(a, b);
    assert_ne!(a, play_script(43), "a different seed places orbs elsewhere");
}

#[test]
fn inputs_apply_at_the_acked_tick_and_move_the_avatar() {
    let (mut sim, room, queue, players) = room_with_players(7, 2);
    sim.step(&[room], 0);
    assert_eq!(submit(&queue, players[0], 9, [1.0, 0.0]), 2);
    assert!(
        sim.step(&[], 0).is_empty(),
        "no room was due, so no snapshot"
    );
    let snap = OrbView::decode(&sim.step(&[room], 0)[0].1).expect("decodes");
    assert_eq!(snap.tick, 2);
    let mover = snap.player(1).expect("player 1");
    assert_eq!(mover.last_input_seq, 9);
    assert!(
        (mover.vx - rules::PLAYER_SPEED).abs() < 1e-3
            || mover.x >= rules::ARENA_SIZE - rules::PLAYER_RADIUS
    );
    assert_eq!(snap.player(2).expect("player 2").last_input_seq, 0);
    assert_eq!(snap.orbs.len(), rules::ORBS_PER_ROOM);
}

#[test]
fn only_due_rooms_tick() {
    let mut sim = world();
    let (a, _) = sim.spawn_room(spec(1)).expect("room");
    let (b, _) = sim.spawn_room(spec(2)).expect("room");
    sim.step(&[a], 0);
    sim.step(&[a, b], 0);
    assert_eq!((sim.room_tick(a), sim.room_tick(b)), (Some(2), Some(1)));
}

#[test]
fn an_avatar_standing_on_an_orb_scores_and_the_orb_moves() {
    let (mut sim, room, _queue, players) = room_with_players(3, 1);
    let orb = sim.world().get::<OrbField>(room).expect("orbs").0[0];
    let orb_position = sim.world().get::<Position>(orb).expect("orb").0;
    sim.world_mut()
        .get_mut::<Position>(players[0])
        .expect("avatar")
        .0 = orb_position;
    let snap = OrbView::decode(&sim.step(&[room], 0)[0].1).expect("decodes");
    assert_eq!(snap.player(1).expect("player").score, 1);
    assert_ne!(snap.orbs[0].x, orb_position.x);
    assert_eq!(
        sim.metadata(room),
        Some(&serde_json::json!({"top_score": 1})),
        "the lobby sees the new top score"
    );
}

#[test]
fn rooms_fill_up_and_despawn_without_leaks() {
    let (mut sim, room, _queue, players) = room_with_players(5, 8);
    assert_eq!(
        sim.spawn_player(room, 99, "late".into()),
        Err(tickstorm_sim::SimError::RoomFull)
    );
    sim.despawn_player(players[0]);
    assert!(sim.spawn_player(room, 100, "now".into()).is_ok());
    assert_eq!(sim.despawn_room(room).len(), 8);
    assert_eq!(sim.entity_count(), 0);
}

#[test]
fn a_typical_snapshot_has_its_exact_size() {
    // 8 players and 32 orbs, as in docs/benchmarks.md. Net ids: orbs 1..=32, avatars 33..=40.
    let (mut sim, room, _queue, _players) = room_with_players(11, 8);
    let bytes = sim.step(&[room], 1_790_000_000_000)[0].1.clone();
    let view = OrbView::decode(&bytes).expect("decodes");
    assert_eq!(view.orbs.first().map(|o| o.net_id), Some(1));
    assert_eq!(view.players.first().map(|p| p.net_id), Some(33));
    // Header 1+1+1+9, envelope 1 + 8 x 4, tables 1, avatars 1 + 8 x 23 (net id, 4 x f32,
    // score), orbs 3 (array16) + 32 x 12.
    assert_eq!(bytes.len(), 12 + 33 + 1 + 185 + 387);
}
