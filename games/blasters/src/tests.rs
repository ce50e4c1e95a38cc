//! Blasters' rules through the framework's world, driven without a clock or sockets: bolts are
//! born and die (time, walls, hits), hits kill and score, the dead respawn, rounds cycle.

use std::sync::Arc;

use glam::Vec2;
use tickstorm_sim::{Entity, GameInput, GameRegistry, InputPort, InputQueue, RoomSpec, SimWorld};

use super::*;

const RATE: u32 = 30;

struct Match {
    sim: SimWorld,
    room: Entity,
    queue: Arc<dyn InputPort>,
    players: Vec<Entity>,
    seq: u32,
}

impl Match {
    /// A room of `n` fighters with `options` (a JSON object, validated like `room:create`).
    fn new(seed: u64, n: u32, options: serde_json::Value) -> Self {
        let mut registry = GameRegistry::new();
        registry.register(Blasters).expect("registers");
        let options = registry
            .validate_options(0, Some(&options))
            .expect("valid options");
        let mut sim = SimWorld::new(&registry);
        let (room, queue) = sim
            .spawn_room(RoomSpec {
                id: "b1".into(),
                game: 0,
                max_players: 8,
                tick_rate: RATE,
                send_rate: RATE,
                seed,
                options,
            })
            .expect("known game");
        let players = (0..n)
            .map(|i| {
                sim.spawn_player(room, i + 1, format!("p{i}"))
                    .expect("seat")
            })
            .collect();
        Match {
            sim,
            room,
            queue,
            players,
            seq: 0,
        }
    }

    /// Straight into play: no warm-up.
    fn playing(seed: u64, n: u32) -> Self {
        let mut m = Match::new(seed, n, serde_json::json!({"warmup_seconds": 0}));
        let view = m.step();
        assert_eq!(
            view.round.phase,
            Phase::Playing,
            "no warm-up with two fighters"
        );
        m
    }

    fn input(&mut self, player: usize, movement: [f32; 2], aim: f32, fire: bool) {
        self.seq += 1;
        let queue = self
            .queue
            .as_any()
            .downcast_ref::<InputQueue<BlasterInput>>()
            .expect("the blasters queue");
        let input = BlasterInput {
            seq: self.seq,
            movement,
            aim,
            fire,
        }
        .validate()
        .expect("valid");
        queue
            .submit_validated(self.players[player], input)
            .expect("accepted");
    }

    fn step(&mut self) -> BlastersView {
        let bytes = self.sim.step(&[self.room], 0)[0].1.clone();
        BlastersView::decode(&bytes).expect("a blasters snapshot")
    }

    fn steps(&mut self, n: u32) -> BlastersView {
        let mut last = None;
        for _ in 0..n {
            last = Some(self.step());
        }
        last.expect("at least one step")
    }

    fn place(&mut self, player: usize, at: Vec2) {
        self.sim
            .world_mut()
            .get_mut::<Fighter>(self.players[player])
            .expect("fighter")
            .at = at;
    }
}

#[test]
fn options_are_checked_and_unknown_keys_refused() {
    let mut registry = GameRegistry::new();
    registry.register(Blasters).expect("registers");
    assert!(
        registry
            .validate_options(0, Some(&serde_json::json!({})))
            .is_ok()
    );
    assert!(
        registry
            .validate_options(0, Some(&serde_json::json!({"round_seconds": 4})))
            .is_err()
    );
    assert!(
        registry
            .validate_options(0, Some(&serde_json::json!({"kills_to_win": 0})))
            .is_err()
    );
    assert!(
        registry
            .validate_options(0, Some(&serde_json::json!({"warmup_seconds": 31})))
            .is_err()
    );
    assert!(
        registry
            .validate_options(0, Some(&serde_json::json!({"lives": 3})))
            .is_err()
    );
}

#[test]
fn warm_up_holds_for_a_lone_fighter_and_forbids_firing() {
    let mut m = Match::new(1, 1, serde_json::json!({"warmup_seconds": 1}));
    m.input(0, [0.0, 0.0], 0.0, true);
    let view = m.steps(3 * RATE);
    assert_eq!(
        view.round.phase,
        Phase::WarmUp,
        "alone, the warm-up never ends"
    );
    assert_eq!(view.round.ticks_left, RATE);
    assert!(view.bolts.is_empty(), "no firing in warm-up");
    let second = m.sim.spawn_player(m.room, 2, "late".into()).expect("seat");
    m.players.push(second);
    let view = m.steps(RATE);
    assert_eq!(
        view.round.phase,
        Phase::Playing,
        "a second fighter starts the countdown"
    );
    assert_eq!(
        m.sim.metadata(m.room).and_then(|v| v.get("phase")),
        Some(&"playing".into())
    );
}

#[test]
fn a_bolt_is_born_at_the_muzzle_flies_and_dies_after_its_lifetime() {
    let mut m = Match::playing(2, 2);
    m.place(0, Vec2::new(100.0, 400.0));
    m.place(1, Vec2::new(100.0, 780.0)); // out of the line of fire
    m.input(0, [0.0, 0.0], 0.0, true); // aim +x, hold the trigger
    let view = m.step();
    let [bolt] = view.bolts.as_slice() else {
        panic!("one bolt: {:?}", view.bolts)
    };
    assert_eq!(
        (bolt.x, bolt.y),
        (100.0 + rules::MUZZLE, 400.0),
        "in the snapshot of its tick"
    );
    assert_eq!(
        (bolt.vx, bolt.vy, bolt.owner),
        (rules::BOLT_SPEED, 0.0, view.fighters[0].net_id)
    );
    let first = bolt.net_id;
    m.input(0, [0.0, 0.0], 0.0, false);
    let view = m.step();
    assert_eq!(
        view.bolts[0].x,
        100.0 + rules::MUZZLE + rules::BOLT_SPEED / RATE as f32
    );
    // Lifetime: one second of flight, 600 units, from x = 120 to 720: inside the arena all along.
    let view = m.steps(rules::ticks(rules::BOLT_LIFETIME_SECS, RATE) - 2);
    assert_eq!(view.bolts.len(), 1, "still flying one tick before its end");
    let view = m.step();
    assert!(view.bolts.is_empty(), "gone after its lifetime");
    m.input(0, [0.0, 0.0], 0.0, true);
    let view = m.step();
    assert!(view.bolts[0].net_id > first, "a new bolt gets a new net id");
}

#[test]
fn the_trigger_held_fires_at_the_cooldown_rate_and_walls_stop_bolts() {
    let mut m = Match::playing(3, 2);
    m.place(0, Vec2::new(700.0, 50.0));
    m.place(1, Vec2::new(50.0, 750.0));
    m.input(0, [0.0, 0.0], 0.0, true); // towards the right wall, 84 units away
    let mut born = std::collections::BTreeSet::new();
    let mut most_alive = 0;
    for _ in 0..RATE {
        let view = m.step();
        born.extend(view.bolts.iter().map(|b| b.net_id));
        most_alive = most_alive.max(view.bolts.len());
        assert!(view.bolts.iter().all(|b| b.x <= rules::ARENA_SIZE));
    }
    let cooldown = rules::ticks(rules::FIRE_COOLDOWN_SECS, RATE);
    assert_eq!(
        born.len() as u32,
        RATE.div_ceil(cooldown),
        "one bolt per cooldown"
    );
    assert_eq!(most_alive, 1, "the wall takes each bolt within a few ticks");
}

#[test]
fn three_hits_kill_score_for_the_shooter_and_the_victim_respawns() {
    let mut m = Match::playing(4, 2);
    m.place(0, Vec2::new(100.0, 400.0));
    m.place(1, Vec2::new(300.0, 400.0));
    m.input(0, [0.0, 0.0], 0.0, true);
    m.input(1, [0.0, 0.0], std::f32::consts::PI, false); // faces the shooter, does not fire
    let mut healths = vec![];
    let mut view = m.step();
    for _ in 0..3 * RATE {
        if view.fighters[1].health == 0 {
            break;
        }
        if healths.last() != Some(&view.fighters[1].health) {
            healths.push(view.fighters[1].health);
        }
        view = m.step();
    }
    assert_eq!(healths, vec![100, 66, 32], "34 damage a hit");
    let (shooter, victim) = (view.fighters[0], view.fighters[1]);
    assert_eq!((victim.health, shooter.score, victim.score), (0, 1, 0));
    assert_eq!(victim.respawn, rules::ticks(rules::RESPAWN_SECS, RATE));
    assert_eq!(
        m.sim.metadata(m.room).and_then(|v| v.get("top_score")),
        Some(&1.into())
    );
    // Dead: it neither moves nor is hit; the shooter's next bolts fly through.
    m.input(1, [1.0, 0.0], 0.0, true);
    let view = m.steps(RATE);
    assert_eq!(view.fighters[1].x, 300.0, "the dead do not move");
    assert_eq!(view.fighters[0].score, 1, "no kill of the dead");
    assert!(
        view.bolts
            .iter()
            .all(|b| b.owner == view.fighters[0].net_id),
        "the dead do not fire"
    );
    let view = m.steps(rules::ticks(rules::RESPAWN_SECS, RATE) - RATE);
    let back = view.fighters[1];
    assert_eq!((back.health, back.respawn), (rules::MAX_HEALTH, 0));
    assert_ne!(
        (back.x, back.y),
        (300.0, 400.0),
        "respawned at a seeded place"
    );
}

#[test]
fn a_round_ends_at_the_kill_limit_shows_the_board_and_restarts() {
    let mut m = Match::new(
        5,
        2,
        serde_json::json!({"warmup_seconds": 0, "kills_to_win": 1}),
    );
    m.step();
    m.place(0, Vec2::new(100.0, 400.0));
    m.place(1, Vec2::new(200.0, 400.0));
    m.input(0, [0.0, 0.0], 0.0, true);
    let mut view = m.step();
    for _ in 0..3 * RATE {
        if view.round.phase == Phase::Over {
            break;
        }
        view = m.step();
    }
    assert_eq!(view.round.phase, Phase::Over, "one kill ends the round");
    assert_eq!(view.fighters[0].score, 1, "the board shows the winner");
    assert!(view.bolts.is_empty(), "bolts cleared for the board");
    let frozen = view.fighters[0];
    m.input(0, [1.0, 0.0], 0.0, true);
    let view = m.steps(rules::ROUND_OVER_SECS * RATE - 1);
    assert_eq!(
        (view.round.phase, view.fighters[0].x),
        (Phase::Over, frozen.x),
        "nothing moves"
    );
    assert!(view.bolts.is_empty());
    let view = m.step();
    assert_eq!((view.round.phase, view.round.number), (Phase::WarmUp, 2));
    assert!(
        view.fighters
            .iter()
            .all(|f| f.score == 0 && f.health == rules::MAX_HEALTH)
    );
    assert_eq!(
        m.sim.metadata(m.room),
        Some(&serde_json::json!({"phase": "warmup", "round": 2, "top_score": 0}))
    );
}

#[test]
fn a_round_ends_when_its_time_is_up() {
    let mut m = Match::new(
        6,
        2,
        serde_json::json!({"warmup_seconds": 1, "round_seconds": 5}),
    );
    let view = m.steps(RATE);
    assert_eq!(view.round.phase, Phase::Playing);
    assert_eq!(view.round.ticks_left, 5 * RATE);
    let view = m.steps(5 * RATE - 1);
    assert_eq!(
        (view.round.phase, view.round.ticks_left),
        (Phase::Playing, 1)
    );
    assert_eq!(m.step().round.phase, Phase::Over);
}

/// A fixed script of moves, turns and trigger pulls; every snapshot's bytes.
fn play_script(seed: u64) -> Vec<Vec<u8>> {
    let mut m = Match::new(
        seed,
        4,
        serde_json::json!({"warmup_seconds": 0, "round_seconds": 5}),
    );
    let mut out = Vec::new();
    for tick in 0..400u32 {
        for player in 0..4 {
            if tick % (player as u32 + 2) == 0 {
                let angle = tick as f32 * 0.07 + player as f32;
                m.input(
                    player,
                    [angle.cos(), angle.sin()],
                    angle * 1.3,
                    tick % 3 != 0,
                );
            }
        }
        out.push(m.sim.step(&[m.room], 1_000 + u64::from(tick))[0].1.to_vec());
    }
    out
}

#[test]
fn same_seed_and_inputs_give_identical_snapshot_bytes_through_rounds() {
    let a = play_script(42);
    assert_eq!(a, play_script(42));
    assert_ne!(
        a,
        play_script(43),
        "a different seed places fighters elsewhere"
    );
    let views: Vec<BlastersView> = a
        .iter()
        .map(|b| BlastersView::decode(b).expect("decodes"))
        .collect();
    assert!(
        views.iter().any(|v| !v.bolts.is_empty()),
        "the script fires"
    );
    assert!(
        views.iter().any(|v| v.round.number == 2),
        "and plays into the second round"
    );
}

#[test]
fn rooms_despawn_with_their_bolts_and_leak_nothing() {
    let mut m = Match::playing(7, 8);
    for p in 0..8 {
        m.input(p, [0.0, 0.0], p as f32, true);
    }
    let view = m.steps(5);
    assert!(!view.bolts.is_empty());
    assert_eq!(m.sim.despawn_room(m.room).len(), 8);
    assert_eq!(m.sim.entity_count(), 0);
}
