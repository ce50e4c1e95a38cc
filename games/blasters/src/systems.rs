//! Blasters' tick, after the framework has delivered inputs, in this order:
//! move and respawn fighters -> fly bolts (walls, hits, kills) -> fire new bolts -> advance the
//! round clock -> publish the lobby metadata.
//!
//! Bolts are spawned and despawned with `Commands`: the framework's hooks give each new bolt a
//! `net_id` and list it in its room, so it is in the snapshot of the tick it was fired, and a
//! despawned one is gone from the next.

use bevy_ecs::prelude::*;
use glam::Vec2;
use rand::RngExt;
use tickstorm_sim::{Due, InRoom, Player, PlayerInput, Room, RoomMetadata};

use crate::components::{Arena, Bolt, Fighter, Phase, Round};
use crate::{BlasterInput, Blasters, rules};

/// The phase of a room's round (warm-up if its clock is missing).
fn phase_of(arena: &Arena, rounds: &Query<&Round>) -> Phase {
    rounds.get(arena.round).map_or(Phase::WarmUp, |r| r.phase)
}

/// A spawn place from the room's RNG.
fn draw_spawn(rng: &mut tickstorm_sim::ChaCha8Rng) -> Vec2 {
    rules::spawn_position(Vec2::new(rng.random(), rng.random()))
}

/// Turns and moves living fighters; counts down the dead and respawns them at a seeded place.
/// Nothing moves while the scoreboard shows.
pub fn move_fighters(
    due: Due<Blasters>,
    mut rooms: Query<(&mut Room, &Arena)>,
    rounds: Query<&Round>,
    mut fighters: Query<(&PlayerInput<BlasterInput>, &mut Fighter)>,
) {
    for room_entity in due.entities() {
        let Ok((mut room, arena)) = rooms.get_mut(room_entity) else {
            continue;
        };
        if phase_of(arena, &rounds) == Phase::Over {
            continue;
        }
        let dt = room.dt();
        let (seated, rng) = room.players_and_rng();
        for &player in seated {
            let Ok((input, mut fighter)) = fighters.get_mut(player) else {
                continue;
            };
            if fighter.alive() {
                fighter.aim = input.0.aim;
                fighter.at = rules::step_fighter(fighter.at, Vec2::from(input.0.movement), dt);
            } else {
                fighter.respawn = fighter.respawn.saturating_sub(1);
                if fighter.respawn == 0 {
                    *fighter = Fighter {
                        aim: input.0.aim,
                        ..Fighter::spawned_at(draw_spawn(rng))
                    };
                }
            }
        }
    }
}

/// Moves every bolt of a due room; a bolt that runs out of time or leaves the arena is
/// despawned, one that touches a living fighter other than its shooter hurts it and is despawned.
/// A kill scores for the shooter (if still seated) and starts the victim's respawn countdown.
pub fn fly_bolts(
    due: Due<Blasters>,
    mut commands: Commands,
    rooms: Query<&Room>,
    mut bolts: Query<&mut Bolt>,
    mut fighters: Query<(&mut Fighter, &mut Player)>,
) {
    for room in due.rooms(&rooms) {
        let dt = room.dt();
        for &entity in room.entities() {
            let Ok(mut bolt) = bolts.get_mut(entity) else {
                continue;
            };
            let velocity = bolt.velocity;
            bolt.at += velocity * dt;
            bolt.ticks_left = bolt.ticks_left.saturating_sub(1);
            if bolt.ticks_left == 0 || rules::outside_arena(bolt.at) {
                commands.entity(entity).despawn();
                continue;
            }
            let victim = room.players().iter().copied().find(|&p| {
                p != bolt.owner
                    && fighters
                        .get(p)
                        .is_ok_and(|(f, _)| f.alive() && rules::bolt_hits(bolt.at, f.at))
            });
            let Some(victim) = victim else { continue };
            commands.entity(entity).despawn();
            let Ok((mut fighter, _)) = fighters.get_mut(victim) else {
                continue;
            };
            fighter.health = fighter.health.saturating_sub(rules::BOLT_DAMAGE);
            if fighter.health == 0 {
                fighter.respawn = rules::ticks(rules::RESPAWN_SECS, room.tick_rate());
                if let Ok((_, mut shooter)) = fighters.get_mut(bolt.owner) {
                    shooter.score += 1;
                }
            }
        }
    }
}

/// Fires a bolt for every living fighter that holds the trigger and whose cooldown is over,
/// while the round is being played.
pub fn fire(
    due: Due<Blasters>,
    mut commands: Commands,
    rooms: Query<(&Room, &Arena)>,
    rounds: Query<&Round>,
    mut fighters: Query<(&PlayerInput<BlasterInput>, &mut Fighter, &InRoom)>,
) {
    for room_entity in due.entities() {
        let Ok((room, arena)) = rooms.get(room_entity) else {
            continue;
        };
        let playing = phase_of(arena, &rounds) == Phase::Playing;
        for &player in room.players() {
            let Ok((input, mut fighter, membership)) = fighters.get_mut(player) else {
                continue;
            };
            fighter.cooldown = fighter.cooldown.saturating_sub(1);
            if !(playing && input.0.fire && fighter.alive() && fighter.cooldown == 0) {
                continue;
            }
            fighter.cooldown = rules::ticks(rules::FIRE_COOLDOWN_SECS, room.tick_rate());
            let direction = rules::aim_direction(fighter.aim);
            commands.spawn((
                InRoom::new(room_entity),
                Bolt {
                    at: fighter.at + direction * rules::MUZZLE,
                    velocity: direction * rules::BOLT_SPEED,
                    owner: player,
                    owner_net_id: membership.net_id(),
                    ticks_left: rules::ticks(rules::BOLT_LIFETIME_SECS, room.tick_rate()),
                },
            ));
        }
    }
}

/// Runs the round clock: warm-up (held while fewer than two fighters are seated) -> playing
/// (until time is up or someone reaches `kills_to_win`) -> over (bolts cleared, scoreboard) ->
/// the next round (scores reset, everyone respawned at a seeded place).
pub fn advance_round(
    due: Due<Blasters>,
    mut commands: Commands,
    mut rooms: Query<(&mut Room, &Arena)>,
    mut rounds: Query<&mut Round>,
    mut fighters: Query<(&mut Fighter, &mut Player)>,
    bolts: Query<(), With<Bolt>>,
) {
    for room_entity in due.entities() {
        let Ok((mut room, arena)) = rooms.get_mut(room_entity) else {
            continue;
        };
        let Ok(mut round) = rounds.get_mut(arena.round) else {
            continue;
        };
        match round.phase {
            Phase::WarmUp if room.players().len() < rules::MIN_FIGHTERS => {
                round.ticks_left = round.warmup_ticks;
            }
            Phase::WarmUp => {
                round.ticks_left = round.ticks_left.saturating_sub(1);
                if round.ticks_left == 0 {
                    (round.phase, round.ticks_left) = (Phase::Playing, round.playing_ticks);
                }
            }
            Phase::Playing => {
                round.ticks_left = round.ticks_left.saturating_sub(1);
                let top = room
                    .players()
                    .iter()
                    .filter_map(|&p| fighters.get(p).ok())
                    .map(|(_, player)| player.score)
                    .max()
                    .unwrap_or(0);
                if round.ticks_left == 0 || top >= round.kills_to_win {
                    (round.phase, round.ticks_left) = (Phase::Over, round.over_ticks);
                    for &entity in room.entities() {
                        if bolts.contains(entity) {
                            commands.entity(entity).despawn();
                        }
                    }
                }
            }
            Phase::Over => {
                round.ticks_left = round.ticks_left.saturating_sub(1);
                if round.ticks_left == 0 {
                    round.number += 1;
                    (round.phase, round.ticks_left) = (Phase::WarmUp, round.warmup_ticks);
                    let (seated, rng) = room.players_and_rng();
                    for &p in seated {
                        if let Ok((mut fighter, mut player)) = fighters.get_mut(p) {
                            player.score = 0;
                            *fighter = Fighter {
                                aim: fighter.aim,
                                ..Fighter::spawned_at(draw_spawn(rng))
                            };
                        }
                    }
                }
            }
        }
    }
}

/// Keeps the lobby's `{phase, round, top_score}` current; writes only on a change.
pub fn publish_metadata(
    due: Due<Blasters>,
    rooms: Query<(&Room, &Arena)>,
    rounds: Query<&Round>,
    players: Query<&Player>,
    mut metadata: Query<&mut RoomMetadata>,
) {
    for room_entity in due.entities() {
        let (Ok((room, arena)), Ok(mut meta)) =
            (rooms.get(room_entity), metadata.get_mut(room_entity))
        else {
            continue;
        };
        let Ok(round) = rounds.get(arena.round) else {
            continue;
        };
        let top = room.top_score(&players);
        // Compared in place: a steady tick builds no JSON (and so does not allocate).
        let field = |key: &str| meta.0.get(key);
        let current = field("phase").and_then(serde_json::Value::as_str)
            == Some(round.phase.name())
            && field("round").and_then(serde_json::Value::as_u64) == Some(round.number.into())
            && field("top_score").and_then(serde_json::Value::as_u64) == Some(top.into());
        if current {
            continue;
        }
        // In place where the keys exist: numbers do not allocate, only a new phase's name does.
        let name = round.phase.name();
        match meta.0.as_object_mut() {
            Some(map)
                if ["phase", "round", "top_score"]
                    .iter()
                    .all(|k| map.contains_key(*k)) =>
            {
                if let Some(phase) = map.get_mut("phase")
                    && phase.as_str() != Some(name)
                {
                    *phase = name.into();
                }
                if let Some(number) = map.get_mut("round") {
                    *number = round.number.into();
                }
                if let Some(score) = map.get_mut("top_score") {
                    *score = top.into();
                }
            }
            _ => {
                meta.0 =
                    serde_json::json!({"phase": name, "round": round.number, "top_score": top});
            }
        }
    }
}
