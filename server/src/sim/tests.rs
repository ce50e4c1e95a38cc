//! Unit tests of the simulation, driven without a clock.

use super::*;
use tickstorm_shared::Snapshot;

fn spec(seed: u64) -> RoomSpec {
    RoomSpec {
        id: "r1".into(),
        name: "test".into(),
        max_players: 8,
        tick_rate: 30,
        seed,
    }
}

fn room_with_players(seed: u64, n: u32) -> (SimWorld, Entity, Arc<InputQueue>, Vec<Entity>) {
    let mut sim = SimWorld::new();
    let queue = Arc::new(InputQueue::new(0));
    let room = sim.spawn_room(spec(seed), queue.clone());
    let players = (0..n)
        .map(|i| {
            sim.spawn_player(room, i + 1, format!("p{i}"))
                .expect("free seat")
        })
        .collect();
    (sim, room, queue, players)
}

/// Plays a fixed script of inputs and returns every snapshot's bytes.
fn play_script(seed: u64) -> Vec<Vec<u8>> {
    let (mut sim, room, queue, players) = room_with_players(seed, 4);
    let mut out = Vec::new();
    for tick in 0..300u32 {
        for (i, &p) in players.iter().enumerate() {
            if tick % (i as u32 + 2) == 0 {
                let angle = (tick as f32 * 0.05) + i as f32;
                let direction = rules::sanitize_move([angle.cos(), angle.sin()]).expect("finite");
                queue.submit(PendingInput {
                    player: p,
                    seq: tick + 1,
                    direction,
                    buttons: 0,
                });
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
fn inputs_apply_at_the_acked_tick_and_move_the_player() {
    let (mut sim, room, queue, players) = room_with_players(7, 2);
    sim.step(&[room], 0);
    let accepted = queue.submit(PendingInput {
        player: players[0],
        seq: 9,
        direction: Vec2::X,
        buttons: 0,
    });
    assert_eq!(
        accepted,
        Accepted {
            tick: 2,
            stale: false
        }
    );
    let before = Snapshot::decode(
        &sim.step(&[], 0)
            .iter()
            .map(|(_, b)| b.to_vec())
            .next()
            .unwrap_or_default(),
    );
    assert!(before.is_err(), "no room was due, so no snapshot");
    let snap = Snapshot::decode(&sim.step(&[room], 0)[0].1).expect("decodes");
    assert_eq!(snap.tick, 2);
    let mover = snap.player(1).expect("player 1");
    assert_eq!(mover.last_input_seq, 9);
    assert!(
        (mover.vx - rules::PLAYER_SPEED).abs() < 1e-3
            || mover.x >= rules::ARENA_SIZE - rules::PLAYER_RADIUS
    );
    assert_eq!(snap.player(2).expect("player 2").last_input_seq, 0);
}

#[test]
fn only_due_rooms_tick() {
    let mut sim = SimWorld::new();
    let a = sim.spawn_room(spec(1), Arc::new(InputQueue::new(0)));
    let b = sim.spawn_room(spec(2), Arc::new(InputQueue::new(0)));
    sim.step(&[a], 0);
    sim.step(&[a, b], 0);
    assert_eq!((sim.room_tick(a), sim.room_tick(b)), (Some(2), Some(1)));
}

#[test]
fn a_player_standing_on_an_orb_scores_and_the_orb_moves() {
    let (mut sim, room, _queue, players) = room_with_players(3, 1);
    let orb = sim.room(room).expect("room").orbs[0];
    let orb_position = sim.world.get::<Position>(orb).expect("orb").0;
    sim.world.get_mut::<Position>(players[0]).expect("player").0 = orb_position;
    let snap = Snapshot::decode(&sim.step(&[room], 0)[0].1).expect("decodes");
    assert_eq!(snap.player(1).expect("player").score, 1);
    assert_ne!(snap.orbs[0].x, orb_position.x);
}

#[test]
fn rooms_fill_up_and_despawn_without_leaks() {
    let (mut sim, room, _queue, players) = room_with_players(5, 8);
    assert_eq!(sim.spawn_player(room, 99, "late".into()), None, "room full");
    sim.despawn_player(players[0]);
    assert!(sim.spawn_player(room, 100, "now".into()).is_some());
    assert_eq!(sim.despawn_room(room).len(), 8);
    assert_eq!(sim.entity_count(), 0);
}
