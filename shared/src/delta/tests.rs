//! Delta codec tests: the documented worked example byte for byte, and the property that a
//! client applying whatever reaches it (random drops, late and lost acks, entities spawning,
//! despawning and moving in and out of view, players joining, leaving and changing entity)
//! always holds the quantized full state of the tick it received (as a player: other players'
//! `last_input_seq` aside); and one `prepare` serving several members writes what a delta for
//! each would.

use std::collections::VecDeque;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng as SmallRng;

use super::*;

const EIGHTH: f64 = 0.125;

/// Avatars `[x, y, vx, vy, score]` (the orb arena's, but velocities at 1/8 to exercise more
/// quantized fields), orbs `[x, y]` (both positioned), plus a positionless kind with every exact
/// value type.
fn layout() -> Vec<KindCoding> {
    vec![
        KindCoding {
            precision: vec![EIGHTH, EIGHTH, EIGHTH, EIGHTH, 1.0],
            position: Some([0, 1]),
        },
        KindCoding {
            precision: vec![EIGHTH, EIGHTH],
            position: Some([0, 1]),
        },
        KindCoding {
            precision: vec![0.0, 0.0, 0.0, 0.0, 0.0],
            position: None,
        },
    ]
}

fn entry(player_id: u32, net_id: u32, last_input_seq: u32) -> PlayerEntry {
    PlayerEntry {
        player_id,
        net_id,
        last_input_seq,
    }
}

fn table(width: usize, rows: &[(u32, Vec<Field>)]) -> Table {
    let mut t = Table::default();
    t.clear(width);
    for (id, fields) in rows {
        t.push(*id, fields);
    }
    t.sort();
    t
}

#[test]
fn the_documented_example_is_what_the_encoder_writes_and_the_client_reads() {
    let layout = vec![
        KindCoding {
            precision: vec![EIGHTH, EIGHTH, 1.0, 1.0, 1.0],
            position: Some([0, 1]),
        },
        KindCoding {
            precision: vec![EIGHTH, EIGHTH],
            position: Some([0, 1]),
        },
    ];
    let avatar = |x: f32| {
        vec![
            Field::F32(x),
            Field::F32(200.0),
            Field::F32(200.0),
            Field::F32(0.0),
            Field::Uint(4),
        ]
    };
    let orb = |x: f32, y: f32| vec![Field::F32(x), Field::F32(y)];
    let base = State {
        tick: 100,
        server_time_ms: 1_790_000_000_000,
        players: vec![entry(7, 33, 12), entry(8, 34, 40)],
        tables: vec![
            table(5, &[(33, avatar(500.0)), (34, avatar(100.0))]),
            table(2, &[(5, orb(300.0, 300.0))]),
        ],
    };
    let current = State {
        tick: 103,
        server_time_ms: 1_790_000_000_100,
        players: vec![entry(7, 33, 13), entry(8, 34, 42)],
        tables: vec![
            table(5, &[(33, avatar(520.0)), (34, avatar(100.0))]),
            table(2, &[(5, orb(64.0, 936.5))]),
        ],
    };
    let mut bytes = Vec::new();
    // Sent to player 7: player 8's new `last_input_seq` is not its business.
    DeltaEncoder::new().delta(&base, &current, &layout, None, Some(7), &mut bytes);
    let none: Vec<u32> = Vec::new();
    let expected = rmp_serde::to_vec(&(
        3u8,
        103u64,
        3u64,
        100u64,
        (none.clone(), 7u32, 0b10u64, 1u64),
        (
            (none.clone(), 33u32, 0b1u64, 160u64),
            (none, 5u32, 0b11u64, -1888i64, 5092u64),
        ),
    ))
    .expect("serialize");
    assert_eq!(bytes, expected);

    let mut client = ClientState::new(layout.clone());
    let mut keyframe = Vec::new();
    DeltaEncoder::new().keyframe(&base, &layout, None, &mut keyframe);
    client.apply(&keyframe).expect("keyframe");
    let state = client.apply(&bytes).expect("delta").clone();
    assert_eq!(state.tick, 103);
    assert_eq!(state.server_time_ms, 1_790_000_000_100);
    assert_eq!(state.players, vec![entry(7, 33, 13), entry(8, 34, 40)]);
    assert_eq!(
        state.tables[0].get(33).map(|r| r[0]),
        Some(Field::F64(520.0))
    );
    assert_eq!(state.tables[0].get(33).map(|r| r[4]), Some(Field::Uint(4)));
    assert_eq!(
        state.tables[1].get(5),
        Some(&[Field::F64(64.0), Field::F64(936.5)][..])
    );
    assert_eq!(client.baseline(), 103);
}

/// The server's side of the simulation: a world that changes every tick.
struct World {
    rng: SmallRng,
    state: State,
    next_net_id: u32,
    next_player_id: u32,
}

impl World {
    fn new(seed: u64) -> Self {
        let mut world = World {
            rng: SmallRng::seed_from_u64(seed),
            state: State {
                tick: 0,
                server_time_ms: 1_790_000_000_000,
                players: Vec::new(),
                tables: layout().iter().map(|c| table(c.width(), &[])).collect(),
            },
            next_net_id: 1,
            next_player_id: 1,
        };
        for _ in 0..4 {
            world.join();
        }
        for _ in 0..6 {
            world.spawn(1);
        }
        world.spawn(2);
        world
    }

    fn value(&mut self, kind: usize, field: usize) -> Field {
        let r = &mut self.rng;
        match (kind, field) {
            (0, 4) => Field::Uint(r.random_range(0..1000)),
            (0 | 1, _) => Field::F32(r.random_range(-50.0..1050.0)),
            (_, 0) => Field::Bool(r.random_bool(0.5)),
            (_, 1) => Field::Nil,
            (_, 2) => Field::Int(r.random_range(-1_000_000..-1)),
            (_, 3) => Field::F64(r.random_range(-1e9..1e9)),
            _ => Field::Uint(r.random_range(0..u64::MAX)),
        }
    }

    fn spawn(&mut self, kind: usize) -> u32 {
        let id = self.next_net_id;
        self.next_net_id += 1;
        let width = layout()[kind].width();
        let fields: Vec<Field> = (0..width).map(|f| self.value(kind, f)).collect();
        let t = &mut self.state.tables[kind];
        t.push(id, &fields);
        t.sort();
        id
    }

    fn despawn(&mut self, kind: usize) {
        let t = &self.state.tables[kind];
        if t.is_empty() {
            return;
        }
        let victim = t.ids[self.rng.random_range(0..t.len())];
        let width = t.width;
        let rows: Vec<(u32, Vec<Field>)> = (0..t.len())
            .filter(|&i| t.ids[i] != victim)
            .map(|i| (t.ids[i], t.row(i).to_vec()))
            .collect();
        self.state.tables[kind] = table(width, &rows);
    }

    fn join(&mut self) {
        let player_id = self.next_player_id;
        self.next_player_id += 1;
        let net_id = self.spawn(0);
        self.state.players.push(entry(player_id, net_id, 0));
    }

    /// Any player but the first leaves (the client under test plays as the first).
    fn leave(&mut self) {
        if self.state.players.len() < 2 {
            return;
        }
        let i = self.rng.random_range(1..self.state.players.len());
        self.state.players.remove(i);
    }

    /// A player's entity changes (a respawn as a new entity): its envelope `net_id` moves.
    fn new_entity(&mut self) {
        if self.state.players.is_empty() {
            return;
        }
        let i = self.rng.random_range(0..self.state.players.len());
        let net_id = self.spawn(0);
        self.state.players[i].net_id = net_id;
    }

    /// One tick: moves (some by less than the precision), input seqs, spawns and despawns.
    fn tick(&mut self) {
        self.state.tick += 1;
        self.state.server_time_ms += self.rng.random_range(20..50);
        for p in &mut self.state.players {
            if self.rng.random_bool(0.4) {
                p.last_input_seq += self.rng.random_range(1..4);
            }
        }
        for kind in 0..3 {
            let width = self.state.tables[kind].width;
            for i in 0..self.state.tables[kind].len() {
                for f in 0..width {
                    if !self.rng.random_bool(0.3) {
                        continue;
                    }
                    let old = self.state.tables[kind].values[i * width + f];
                    let new = match old {
                        // Small moves, sometimes below the precision, sometimes large jumps.
                        Field::F32(v) if self.rng.random_bool(0.8) => {
                            Field::F32(v + self.rng.random_range(-9.0..9.0))
                        }
                        Field::F32(v) if self.rng.random_bool(0.5) => {
                            Field::F32(v + self.rng.random_range(-0.05..0.05))
                        }
                        Field::Uint(v) if kind == 0 => Field::Uint(v + 1),
                        _ => self.value(kind, f),
                    };
                    self.state.tables[kind].values[i * width + f] = new;
                }
            }
        }
        if self.rng.random_bool(0.5) {
            self.spawn(1);
        }
        if self.rng.random_bool(0.45) {
            self.despawn(1);
        }
        if self.rng.random_bool(0.05) {
            self.join();
        }
        if self.rng.random_bool(0.03) {
            self.leave();
        }
        if self.rng.random_bool(0.04) {
            self.new_entity();
        }
        if self.rng.random_bool(0.1) {
            self.spawn(2);
        }
        if self.rng.random_bool(0.1) {
            self.despawn(2);
        }
    }

    /// A random view: each positioned entity visible with probability 2/3.
    fn view(&mut self, layout: &[KindCoding]) -> Vec<u32> {
        let mut visible = Vec::new();
        for (table, coding) in self.state.tables.iter().zip(layout) {
            if coding.position.is_some() {
                visible.extend(table.ids.iter().filter(|_| self.rng.random_bool(0.67)));
            }
        }
        visible.sort_unstable();
        visible
    }
}

/// The client holds `server` (as one client sees it): the same envelope in the same order; the
/// visible rows of each kind; exact fields equal, quantized fields equal after quantization.
/// With a `viewer`, other players' `last_input_seq` may be old (deltas only track the viewer's).
fn assert_holds(
    client: &State,
    server: &State,
    layout: &[KindCoding],
    visible: Option<&[u32]>,
    viewer: Option<u32>,
) {
    assert_eq!(client.tick, server.tick);
    assert_eq!(client.server_time_ms, server.server_time_ms);
    let envelope = |s: &State| -> Vec<(u32, u32, Option<u32>)> {
        s.players
            .iter()
            .map(|p| {
                let seq = viewer
                    .is_none_or(|v| v == p.player_id)
                    .then_some(p.last_input_seq);
                (p.player_id, p.net_id, seq)
            })
            .collect()
    };
    assert_eq!(envelope(client), envelope(server), "tick {}", server.tick);
    for (kind, coding) in layout.iter().enumerate() {
        let sees = |id: &u32| {
            coding.position.is_none() || visible.is_none_or(|v| v.binary_search(id).is_ok())
        };
        let expected: Vec<u32> = server.tables[kind]
            .ids
            .iter()
            .copied()
            .filter(sees)
            .collect();
        assert_eq!(
            client.tables[kind].ids, expected,
            "tick {} kind {kind}",
            server.tick
        );
        for &id in &expected {
            let (have, want) = (
                client.tables[kind].get(id).expect("row"),
                server.tables[kind].get(id).expect("row"),
            );
            for (f, ((&a, &b), &p)) in have.iter().zip(want).zip(&coding.precision).enumerate() {
                assert!(
                    same_value(a, b, p),
                    "tick {} kind {kind} row {id} field {f}: {a:?} vs {b:?}",
                    server.tick
                );
            }
        }
    }
}

/// Runs one client against a changing world for `ticks`, with drops and late acks; returns how
/// many deltas and keyframes it applied. `as_player`: the client is the world's first player
/// (deltas track only its `last_input_seq`), else an observer that is sent every change.
fn play(seed: u64, ticks: usize, with_view: bool, as_player: bool) -> (usize, usize) {
    let layout = layout();
    let mut world = World::new(seed);
    let viewer = as_player
        .then(|| world.state.players.first().map(|p| p.player_id))
        .flatten();
    assert_eq!(viewer.is_some(), as_player, "the world starts with players");
    let mut rng = SmallRng::seed_from_u64(seed ^ 0x5eed);
    let mut encoder = DeltaEncoder::new();
    let mut client = ClientState::new(layout.clone());
    // What the server sent this client: (state, view), the last SERVER_BASELINE_WINDOW.
    let mut sent: VecDeque<(State, Option<Vec<u32>>)> = VecDeque::new();
    // Acks in flight: (arrives at tick, acked tick).
    let mut acks: VecDeque<(u64, Tick)> = VecDeque::new();
    let mut server_baseline: Tick = 0;
    let (mut deltas, mut keyframes) = (0, 0);
    let mut bytes = Vec::new();
    for _ in 0..ticks {
        world.tick();
        let now = world.state.tick;
        while acks.front().is_some_and(|&(at, _)| at <= now) {
            server_baseline = acks.pop_front().map_or(0, |(_, t)| t);
        }
        let view = with_view.then(|| world.view(&layout));
        let base = sent.iter().find(|(s, _)| s.tick == server_baseline);
        match base {
            Some((base, base_view)) => {
                let v = match (base_view, &view) {
                    (Some(b), Some(c)) => Some(View {
                        base: b,
                        current: c,
                    }),
                    _ => None,
                };
                encoder.delta(base, &world.state, &layout, v, viewer, &mut bytes);
            }
            None => encoder.keyframe(&world.state, &layout, view.as_deref(), &mut bytes),
        }
        sent.push_back((world.state.clone(), view.clone()));
        if sent.len() > SERVER_BASELINE_WINDOW {
            sent.pop_front();
        }
        if rng.random_bool(0.2) {
            continue; // lost on the way
        }
        let is_delta = ClientState::version(&bytes) == Some(DELTA_VERSION);
        let held = client
            .apply(&bytes)
            .expect("every delivered snapshot applies");
        assert_holds(held, &world.state, &layout, view.as_deref(), viewer);
        if is_delta {
            deltas += 1;
        } else {
            keyframes += 1;
        }
        if rng.random_bool(0.5) {
            // Acks lag 0..6 ticks; some are lost.
            let lag = rng.random_range(0..6);
            if rng.random_bool(0.9) {
                acks.push_back((now + lag, client.baseline()));
            }
        }
    }
    (deltas, keyframes)
}

#[test]
fn a_client_applying_what_reaches_it_holds_the_full_state_of_every_tick() {
    for seed in 0..40 {
        let (deltas, keyframes) = play(seed, 400, false, seed % 2 == 0);
        assert!(
            deltas > 200 && keyframes >= 1,
            "seed {seed}: {deltas} deltas, {keyframes} keyframes"
        );
    }
}

#[test]
fn with_visibility_a_client_holds_what_it_sees_as_entities_enter_and_leave_view() {
    for seed in 100..140 {
        let (deltas, _) = play(seed, 400, true, seed % 2 == 0);
        assert!(deltas > 200, "seed {seed}: {deltas} deltas");
    }
}

#[test]
fn one_prepare_serves_every_member_as_its_own_delta_would() {
    let layout = layout();
    let mut world = World::new(11);
    for _ in 0..4 {
        world.join();
    }
    let mut encoder = DeltaEncoder::new();
    let (mut shared, mut alone) = (Vec::new(), Vec::new());
    let mut checked = 0;
    for _ in 0..300 {
        let base = world.state.clone();
        for _ in 0..3 {
            world.tick();
        }
        let players: Vec<Option<u32>> = world
            .state
            .players
            .iter()
            .map(|p| Some(p.player_id))
            .chain([None, Some(u32::MAX)])
            .collect();
        encoder.prepare(&base, &world.state, &layout, None);
        // The server's pattern: several members written from one preparation, in any order.
        for &viewer in players.iter().rev() {
            encoder.write_for(viewer, &mut shared);
            DeltaEncoder::new().delta(&base, &world.state, &layout, None, viewer, &mut alone);
            assert_eq!(shared, alone, "tick {} viewer {viewer:?}", world.state.tick);
            checked += 1;
        }
    }
    assert!(checked > 1500, "{checked} deltas compared");
}

#[test]
fn unchanged_state_costs_a_few_bytes_and_sub_precision_drift_is_not_resent() {
    let layout = layout();
    let world = World::new(7);
    let mut next = world.state.clone();
    next.tick += 1;
    next.server_time_ms += 33;
    // Every quantized float drifts by less than half its precision.
    for (table, coding) in next.tables.iter_mut().zip(&layout) {
        for (i, v) in table.values.iter_mut().enumerate() {
            if let Field::F32(x) = v
                && coding.precision[i % coding.width()] != 0.0
            {
                let q = (f64::from(*x) / EIGHTH + 0.5).floor() * EIGHTH;
                *x = q as f32 + 0.01;
            }
        }
    }
    let mut base = world.state.clone();
    for (table, coding) in base.tables.iter_mut().zip(&layout) {
        for (i, v) in table.values.iter_mut().enumerate() {
            if let Field::F32(x) = v
                && coding.precision[i % coding.width()] != 0.0
            {
                let q = (f64::from(*x) / EIGHTH + 0.5).floor() * EIGHTH;
                *x = q as f32 - 0.01;
            }
        }
    }
    let mut bytes = Vec::new();
    DeltaEncoder::new().delta(&base, &next, &layout, None, None, &mut bytes);
    // [3, tick, 1, 33, [[]], [[[]], [[]], [[]]]]
    assert_eq!(bytes.len(), 1 + 1 + 1 + 1 + 1 + 2 + 1 + 3 * 2, "{bytes:x?}");
}

fn keyframe_and_delta() -> (Vec<KindCoding>, Vec<u8>, Vec<u8>) {
    let layout = layout();
    let mut world = World::new(3);
    let base = world.state.clone();
    for _ in 0..3 {
        world.tick();
    }
    let (mut keyframe, mut delta) = (Vec::new(), Vec::new());
    let mut encoder = DeltaEncoder::new();
    encoder.keyframe(&base, &layout, None, &mut keyframe);
    encoder.delta(&base, &world.state, &layout, None, None, &mut delta);
    (layout, keyframe, delta)
}

#[test]
fn a_delta_against_a_tick_the_client_does_not_hold_is_refused_and_changes_nothing() {
    let (layout, _, delta) = keyframe_and_delta();
    let mut client = ClientState::new(layout);
    let error = client.apply(&delta).expect_err("no baseline");
    assert!(error.to_string().contains("does not hold"), "{error}");
    assert!(client.latest().is_none());
}

#[test]
fn truncated_or_padded_deltas_are_refused_and_leave_the_state_alone() {
    let (layout, keyframe, delta) = keyframe_and_delta();
    let mut client = ClientState::new(layout);
    client.apply(&keyframe).expect("keyframe");
    let held = client.latest().cloned();
    for cut in 0..delta.len() {
        assert!(client.apply(&delta[..cut]).is_err(), "cut at {cut}");
        assert_eq!(client.latest().cloned(), held);
    }
    let mut padded = delta.clone();
    padded.push(0xc0);
    assert!(client.apply(&padded).is_err());
    client.apply(&delta).expect("the whole delta applies");
}

#[test]
fn malformed_sections_are_refused_with_what_is_wrong() {
    let layout = vec![KindCoding {
        precision: vec![EIGHTH, 0.0],
        position: None,
    }];
    let base = State {
        tick: 10,
        server_time_ms: 1000,
        players: vec![entry(1, 5, 0)],
        tables: vec![table(2, &[(5, vec![Field::F32(1.0), Field::Bool(true)])])],
    };
    let mut keyframe = Vec::new();
    DeltaEncoder::new().keyframe(&base, &layout, None, &mut keyframe);
    let none: Vec<u32> = Vec::new();
    let envelope = (none.clone(),);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        // A new row without every field.
        (
            rmp_serde::to_vec(&(3, 11, 1, 33, envelope.clone(), ((none.clone(), 9, 1, 8),)))
                .expect("ser"),
            "without every field",
        ),
        // Removing what the baseline does not hold.
        (
            rmp_serde::to_vec(&(3, 11, 1, 33, envelope.clone(), ((vec![4u32],),))).expect("ser"),
            "does not hold",
        ),
        // Rows out of order: a key step of 0 after the first row.
        (
            rmp_serde::to_vec(&(
                3,
                11,
                1,
                33,
                envelope.clone(),
                ((none.clone(), 9, 3, 8, true, 0, 3, 8, true),),
            ))
            .expect("ser"),
            "ascending",
        ),
        // A mask beyond the kind's fields.
        (
            rmp_serde::to_vec(&(3, 11, 1, 33, envelope.clone(), ((none.clone(), 5, 4, 1),)))
                .expect("ser"),
            "mask",
        ),
        // A quantized field that is not an integer.
        (
            rmp_serde::to_vec(&(3, 11, 1, 33, envelope.clone(), ((none.clone(), 5, 1, 1.5),)))
                .expect("ser"),
            "not an integer",
        ),
        // A row whose mask names more values than the section has left.
        (
            rmp_serde::to_vec(&(3, 11, 1, 33, envelope.clone(), ((none.clone(), 5, 3, 1),)))
                .expect("ser"),
            "elements left",
        ),
        // A key step without its mask.
        (
            rmp_serde::to_vec(&(3, 11, 1, 33, envelope.clone(), ((none.clone(), 5),)))
                .expect("ser"),
            "cut short",
        ),
        // Another number of kinds.
        (
            rmp_serde::to_vec(&(3, 11, 1, 33, envelope.clone(), Vec::<u8>::new())).expect("ser"),
            "kind sections",
        ),
        // A base age that points before tick 0.
        (
            rmp_serde::to_vec(&(3, 11, 12, 33, envelope, ((none,),))).expect("ser"),
            "base age",
        ),
    ];
    for (bytes, wanted) in cases {
        let mut client = ClientState::new(layout.clone());
        client.apply(&keyframe).expect("keyframe");
        let error = client.apply(&bytes).expect_err(wanted).to_string();
        assert!(error.contains(wanted), "{error} (wanted {wanted})");
        assert_eq!(client.baseline(), 10);
    }
}

#[test]
fn precisions_are_powers_of_two_or_zero() {
    for ok in [0.0, 1.0, 0.125, 1.0 / 64.0, 4.0, 1024.0] {
        assert!(valid_precision(ok), "{ok}");
    }
    for bad in [0.1, 3.0, -0.5, f64::NAN, f64::INFINITY, 2f64.powi(-30)] {
        assert!(!valid_precision(bad), "{bad}");
    }
}

#[test]
fn a_warm_encoder_and_client_reuse_their_buffers() {
    let layout = layout();
    let mut world = World::new(9);
    let mut encoder = DeltaEncoder::new();
    let mut client = ClientState::new(layout.clone());
    let mut bytes = Vec::new();
    let mut previous = world.state.clone();
    encoder.keyframe(&previous, &layout, None, &mut bytes);
    client.apply(&bytes).expect("keyframe");
    for _ in 0..200 {
        world.tick();
        encoder.delta(&previous, &world.state, &layout, None, None, &mut bytes);
        client.apply(&bytes).expect("delta");
        previous = world.state.clone();
    }
    assert_eq!(client.held(), CLIENT_STATE_RING);
}

#[test]
fn floor_to_i64_is_the_floor_then_the_saturating_cast() {
    let edges = [
        0.0,
        -0.0,
        0.5,
        -0.5,
        0.999_999_999,
        -0.999_999_999,
        1.0,
        -1.0,
        2.5,
        -2.5,
        -3.0,
        4_503_599_627_370_495.5, // 2^52 - 0.5: the last values with a fraction
        -4_503_599_627_370_495.5,
        9_007_199_254_740_993.0,
        9.223_372_036_854_776e18, // 2^63: just out of range
        -9.223_372_036_854_776e18,
        -9.3e18,
        1e300,
        -1e300,
        f64::MAX,
        f64::MIN,
        f64::MIN_POSITIVE,
        -f64::MIN_POSITIVE,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
    ];
    let mut rng = SmallRng::seed_from_u64(7);
    let random = (0..100_000).map(|i| {
        let scale = [1.0, 1e3, 1e9, 1e15, 1e19][i % 5];
        (rng.random::<f64>() - 0.5) * 2.0 * scale
    });
    for x in edges.into_iter().chain(random) {
        assert_eq!(floor_to_i64(x), x.floor() as i64, "{x:e}");
    }
}
