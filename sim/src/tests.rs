//! The framework's own tests, with a small game made for them: entities that are born and die,
//! input delivery, net ids, kinds, several games in one world, fault containment.

use bevy_ecs::prelude::*;
use serde::{Deserialize, Serialize};
use tickstorm_shared::Snapshot;
use tickstorm_shared::snapshot::Field;

use crate::*;

/// Input of the test game: how many sparks to spawn this tick.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct SparkInput {
    seq: u32,
    sparks: u8,
}

impl GameInput for SparkInput {
    fn seq(&self) -> u32 {
        self.seq
    }
    fn validate(self) -> Result<Self, String> {
        if self.sparks > 4 {
            return Err("at most 4 sparks a tick".into());
        }
        Ok(self)
    }
}

/// A spark lives 2 ticks. Replicated as `[net_id, age]`.
#[derive(Component, Debug)]
struct Spark {
    age: u32,
}

impl Replicate for Spark {
    const NAME: &'static str = "spark";
    const FIELDS: &'static [&'static str] = &["age"];
    type Data = &'static Spark;
    fn write(spark: &Spark, row: &mut RowWriter<'_>) {
        row.uint(u64::from(spark.age));
    }
}

/// A player's marker, replicated as `[net_id, score]`.
#[derive(Component, Debug)]
struct Hand;

impl Replicate for Hand {
    const NAME: &'static str = "hand";
    const FIELDS: &'static [&'static str] = &["score"];
    type Data = &'static Player;
    fn write(player: &Player, row: &mut RowWriter<'_>) {
        row.uint(u64::from(player.score));
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct SparkOptions {
    #[serde(default)]
    start_sparks: u8,
}

struct Sparks;

impl Game for Sparks {
    type Input = SparkInput;
    type Options = SparkOptions;
    fn name(&self) -> &'static str {
        "sparks"
    }
    fn build(&self, game: &mut GameBuilder<'_, Self>) {
        game.replicate::<Hand>()
            .replicate::<Spark>()
            .add_systems((age_sparks, spawn_sparks).chain());
    }
    fn validate_options(&self, options: &SparkOptions) -> Result<(), String> {
        (options.start_sparks <= 3)
            .then_some(())
            .ok_or_else(|| "start_sparks is at most 3".into())
    }
    fn setup_room(&self, room: &mut RoomSetup<'_>, options: &SparkOptions) {
        for _ in 0..options.start_sparks {
            room.spawn(Spark { age: 0 });
        }
    }
    fn player_joined(&self, player: &mut PlayerSetup<'_>) {
        let entity = player.player();
        player.world().entity_mut(entity).insert(Hand);
    }
}

fn age_sparks(
    due: Due<Sparks>,
    rooms: Query<&Room>,
    mut sparks: Query<&mut Spark>,
    mut commands: Commands,
) {
    for room in due.rooms(&rooms) {
        for &e in room.entities() {
            if let Ok(mut spark) = sparks.get_mut(e) {
                spark.age += 1;
                if spark.age > 2 {
                    commands.entity(e).despawn();
                }
            }
        }
    }
}

fn spawn_sparks(
    due: Due<Sparks>,
    rooms: Query<&Room>,
    mut players: Query<(&PlayerInput<SparkInput>, &mut Player)>,
    mut commands: Commands,
) {
    for room_entity in due.entities() {
        let Ok(room) = rooms.get(room_entity) else {
            continue;
        };
        for &p in room.players() {
            let Ok((input, mut player)) = players.get_mut(p) else {
                continue;
            };
            for _ in 0..input.0.sparks {
                commands.spawn((InRoom::new(room_entity), Spark { age: 0 }));
                player.score += 1;
            }
        }
    }
}

/// A second game whose systems panic when asked to, sharing the world with the first.
struct Faulty;

#[derive(Component, Debug)]
struct Bomb;

impl Game for Faulty {
    type Input = SparkInput;
    type Options = SparkOptions;
    fn name(&self) -> &'static str {
        "faulty"
    }
    fn build(&self, game: &mut GameBuilder<'_, Self>) {
        game.add_systems(explode);
    }
    fn setup_room(&self, room: &mut RoomSetup<'_>, options: &SparkOptions) {
        room.spawn(Bomb);
        if options.start_sparks > 0 {
            panic!("this game cannot set up sparks");
        }
    }
    fn player_joined(&self, player: &mut PlayerSetup<'_>) {
        let entity = player.player();
        let name = player.world().get::<Player>(entity).map(|p| p.name.clone());
        if name.as_deref() == Some("trouble") {
            panic!("this game refuses trouble");
        }
    }
}

fn explode(due: Due<Faulty>, rooms: Query<&Room>, players: Query<&PlayerInput<SparkInput>>) {
    for room in due.rooms(&rooms) {
        for &p in room.players() {
            if players.get(p).is_ok_and(|i| i.0.sparks > 0) {
                panic!("boom");
            }
        }
    }
}

pub(crate) fn registry() -> GameRegistry {
    let mut registry = GameRegistry::new();
    registry.register(Sparks).expect("sparks");
    registry.register(Faulty).expect("faulty");
    registry
}

pub(crate) fn spec(game: usize, options: serde_json::Value) -> RoomSpec {
    RoomSpec {
        id: format!("room-{game}"),
        game,
        max_players: 4,
        tick_rate: 30,
        send_rate: 30,
        seed: 1,
        options,
    }
}

pub(crate) fn send(port: &std::sync::Arc<dyn InputPort>, player: Entity, seq: u32, sparks: u8) {
    let bytes = rmp_serde::to_vec_named(&SparkInput { seq, sparks }).expect("encode");
    port.submit_msgpack(player, &bytes).expect("valid input");
}

#[test]
fn spawned_entities_get_net_ids_that_are_never_reused_and_leave_the_snapshot_when_despawned() {
    let mut sim = SimWorld::new(&registry());
    let options = registry()
        .validate_options(0, Some(&serde_json::json!({"start_sparks": 2})))
        .expect("valid options");
    let (room, port) = sim.spawn_room(spec(0, options)).expect("room");
    let player = sim.spawn_player(room, 7, "ana".into()).expect("seat");
    send(&port, player, 1, 1);
    let snap = Snapshot::decode(&sim.step(&[room], 5)[0].1).expect("decodes");
    // Sparks 1 and 2 from setup, the player 3, the new spark 4 (spawned this tick, age 0).
    assert_eq!(snap.players[0].player_id, 7);
    assert_eq!(snap.players[0].net_id, 3);
    assert_eq!(snap.players[0].last_input_seq, 1);
    assert_eq!(snap.kinds.len(), 2);
    assert_eq!(snap.kinds[0][0].fields, vec![Field::Uint(1)], "score 1");
    let ids = |s: &Snapshot| s.kinds[1].iter().map(|r| r.net_id).collect::<Vec<_>>();
    assert_eq!(ids(&snap), vec![1, 2, 4]);
    // The latest input stays the player's intent: one more spark each tick until it changes.
    send(&port, player, 2, 0);
    let snap = Snapshot::decode(&sim.step(&[room], 6)[0].1).expect("decodes");
    assert_eq!(ids(&snap), vec![1, 2, 4]);
    let snap = Snapshot::decode(&sim.step(&[room], 7)[0].1).expect("decodes");
    assert_eq!(ids(&snap), vec![4], "sparks 1 and 2 died of age");
    send(&port, player, 3, 1);
    let snap = Snapshot::decode(&sim.step(&[room], 8)[0].1).expect("decodes");
    assert_eq!(
        ids(&snap),
        vec![5],
        "spark 4 died of age; the new one gets a new id"
    );
    sim.despawn_room(room);
    assert_eq!(
        sim.entity_count(),
        0,
        "every entity of the room went with it"
    );
}

#[test]
fn bad_input_and_options_are_refused_with_the_games_message() {
    let sim_registry = registry();
    let mut sim = SimWorld::new(&sim_registry);
    let (room, port) = sim
        .spawn_room(spec(0, serde_json::json!({})))
        .expect("room");
    let player = sim.spawn_player(room, 1, "bo".into()).expect("seat");
    let bytes = rmp_serde::to_vec_named(&SparkInput { seq: 1, sparks: 9 }).expect("encode");
    assert_eq!(
        port.submit_msgpack(player, &bytes)
            .map_err(|e| e.to_string()),
        Err("invalid input payload: at most 4 sparks a tick".into())
    );
    assert!(
        port.submit_msgpack(player, b"\xc1").is_err(),
        "not MessagePack"
    );
    assert_eq!(
        sim_registry.validate_options(0, Some(&serde_json::json!({"start_sparks": 9}))),
        Err("start_sparks is at most 3".into())
    );
    assert!(
        sim_registry
            .validate_options(0, Some(&serde_json::json!({"start_sparks": "x"})))
            .is_err()
    );
}

#[test]
fn two_games_share_the_world_and_a_panicking_room_is_isolated() {
    let mut sim = SimWorld::new(&registry());
    let (sparks, _) = sim
        .spawn_room(spec(0, serde_json::json!({})))
        .expect("room");
    let (faulty, port) = sim
        .spawn_room(spec(1, serde_json::json!({})))
        .expect("room");
    let player = sim.spawn_player(faulty, 2, "cy".into()).expect("seat");
    let outcome = sim.step_isolating_faults(&[sparks, faulty], 1);
    assert!(outcome.failed.is_empty());
    let faulty_snap = Snapshot::decode(&outcome.snapshots[1].1).expect("decodes");
    assert!(
        faulty_snap.kinds.is_empty(),
        "a game without kinds sends the envelope only"
    );
    send(&port, player, 1, 1);
    let outcome = sim.step_isolating_faults(&[sparks, faulty], 2);
    assert_eq!(outcome.failed, vec![faulty]);
    assert_eq!(outcome.snapshots.len(), 1);
    assert_eq!(outcome.snapshots[0].0, sparks);
}

#[test]
fn a_panicking_hook_costs_only_its_room_or_seat_and_leaves_nothing_behind() {
    let mut sim = SimWorld::new(&registry());
    let broken = sim.spawn_room(spec(1, serde_json::json!({"start_sparks": 1})));
    assert_eq!(broken.err(), Some(SimError::GameFault("setup_room")));
    assert_eq!(sim.entity_count(), 0, "the half-made room is gone");
    let (room, _) = sim
        .spawn_room(spec(1, serde_json::json!({})))
        .expect("room");
    assert_eq!(
        sim.spawn_player(room, 1, "trouble".into()),
        Err(SimError::GameFault("player_joined"))
    );
    assert!(
        sim.room(room)
            .expect("the room lives on")
            .players()
            .is_empty()
    );
    assert!(
        sim.spawn_player(room, 2, "calm".into()).is_ok(),
        "the seat stayed free"
    );
    assert_eq!(
        sim.spawn_player(Entity::PLACEHOLDER, 3, "x".into()),
        Err(SimError::NoRoom)
    );
}

#[test]
fn registry_refuses_duplicate_and_bad_names() {
    let mut registry = registry();
    assert!(matches!(
        registry.register(Sparks),
        Err(RegistryError::Duplicate("sparks"))
    ));
    assert_eq!(
        registry.names().collect::<Vec<_>>(),
        vec!["sparks", "faulty"]
    );
    assert_eq!(registry.default_name(), Some("sparks"));
    struct Shouty;
    impl Game for Shouty {
        type Input = SparkInput;
        type Options = SparkOptions;
        fn name(&self) -> &'static str {
            "LOUD"
        }
        fn build(&self, _: &mut GameBuilder<'_, Self>) {}
    }
    assert!(matches!(
        registry.register(Shouty),
        Err(RegistryError::BadName("LOUD"))
    ));
}

#[test]
fn a_send_rate_below_the_tick_rate_encodes_only_the_ticks_it_sends() {
    let mut sim = SimWorld::new(&registry());
    let options = registry()
        .validate_options(0, Some(&serde_json::json!({})))
        .expect("valid options");
    let spec = RoomSpec {
        tick_rate: 60,
        send_rate: 20,
        ..spec(0, options)
    };
    let (room, _port) = sim.spawn_room(spec).expect("room");
    let mut sent = Vec::new();
    for _ in 0..12 {
        for (_, bytes) in sim.step(&[room], 5) {
            sent.push(Snapshot::decode(bytes).expect("decodes").tick);
        }
    }
    assert_eq!(sent, vec![3, 6, 9, 12], "every third tick of twelve");
    assert_eq!(sim.room_tick(room), Some(12), "every tick simulated");
}

#[test]
fn send_rates_send_exactly_that_many_ticks_a_second() {
    for (send, tick) in [(20, 60), (30, 60), (7, 30), (30, 30), (1, 128), (128, 128)] {
        let sent = (1..=u64::from(tick) * 10)
            .filter(|&t| crate::sends_on(t, send, tick))
            .count();
        assert_eq!(sent, send as usize * 10, "{send} of {tick}");
    }
    // Evenly spread: 20 of 60 is every third tick.
    assert!(
        (1..=9)
            .filter(|&t| crate::sends_on(t, 20, 60))
            .eq([3, 6, 9])
    );
}
