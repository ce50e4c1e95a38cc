//! Replication: what a game declares ([`Replicate`]) and how the framework turns it into one
//! snapshot per room per tick.
//!
//! A game marks a component type as a replicated *kind*; every entity with that component and
//! [`InRoom`] is a row of the kind's table, `[net_id, field, ...]`, in spawn order. The lists of
//! each room's entities per kind are kept by component hooks, so encoding walks exactly the rows
//! it writes. Each kind is written by its own system, in kind order, into the room's reused
//! [`SnapshotWriter`];
//! the envelope (tick, time, players) is the framework's. Net ids are stable for an entity's life
//! and never reused in a room, and spawns and despawns pass through the hooks: what per-client
//! deltas and visibility will need, without a change to games.

use std::marker::PhantomData;

use bevy_ecs::component::ComponentId;
use bevy_ecs::lifecycle::HookContext;
use bevy_ecs::prelude::*;
use bevy_ecs::query::{ROQueryItem, ReadOnlyQueryData};
use bevy_ecs::world::DeferredWorld;
use bytes::Bytes;
use tickstorm_shared::snapshot::{PlayerEntry, RowWriter, SnapshotWriter};

use crate::game::{Due, Game, KindLayout};
use crate::room::{InRoom, Player, Room};
use crate::world::{ReplicateRows, StepOutput, StepRequest};

/// A replicated kind: a component whose entities (with [`InRoom`]) are sent to the room's
/// clients every tick, one row each.
///
/// ```ignore
/// impl Replicate for Orb {
///     const NAME: &'static str = "orb";
///     const FIELDS: &'static [&'static str] = &["x", "y"];
///     type Data = &'static Position;
///     fn write(position: &Position, row: &mut RowWriter<'_>) {
///         row.f32(position.0.x).f32(position.0.y);
///     }
/// }
/// ```
pub trait Replicate: Component {
    /// The kind's name (documentation and the join ack's `kinds`).
    const NAME: &'static str;
    /// Field names after `net_id`, in the order [`write`](Self::write) writes them.
    const FIELDS: &'static [&'static str];
    /// What a row is read from (the entity's components).
    type Data: ReadOnlyQueryData;
    /// Per field of `FIELDS`, the precision deltas send it at: `0.0` exact (the default for a
    /// field not listed), else a power of two (`0.125`: to an eighth of a unit; `1.0`: an
    /// integer, sent as a difference). Keyframes stay exact.
    const PRECISION: &'static [f64] = &[];
    /// The indexes in `FIELDS` of the entity's `x` and `y`: entities of this kind are then sent
    /// only to players within a room's `view_radius`. `None`: always visible.
    const POSITION: Option<[usize; 2]> = None;
    /// Writes exactly `FIELDS.len()` values; a row that writes another number fails its room's
    /// tick (the room is closed with reason `internal`), never the snapshot of others.
    fn write(data: ROQueryItem<'_, '_, Self::Data>, row: &mut RowWriter<'_>);
}

/// How many kinds one game may replicate (the spawn hook keeps an entity's kinds in a `u64`).
pub const MAX_KINDS: usize = 64;

/// The replicated kinds of every game: which component is which game's kind number.
#[derive(Resource, Debug, Default)]
pub(crate) struct KindRegistry {
    kinds: Vec<(ComponentId, usize, usize)>,
}

/// Which kind number `K` is in its game.
#[derive(Resource, Debug)]
struct KindIndex<K> {
    game: usize,
    index: usize,
    marker: PhantomData<fn() -> K>,
}

/// Each due room's snapshot writer, by slot (reused from step to step).
#[derive(Resource, Debug, Default)]
pub(crate) struct SnapshotBuffers {
    writers: Vec<SnapshotWriter>,
}

/// The systems that write kind number `n` (of any game): ordered by `n`.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct KindOrder(usize);

/// `K`'s layout, checked: at most [`MAX_FIELDS`](tickstorm_shared::delta::MAX_FIELDS) fields,
/// valid precisions, a position within its fields.
pub(crate) fn layout<K: Replicate>() -> KindLayout {
    let name = std::any::type_name::<K>();
    assert!(
        K::FIELDS.len() <= tickstorm_shared::delta::MAX_FIELDS,
        "{name} has more than {} fields",
        tickstorm_shared::delta::MAX_FIELDS
    );
    assert!(
        K::PRECISION.len() <= K::FIELDS.len()
            && K::PRECISION
                .iter()
                .all(|&p| tickstorm_shared::delta::valid_precision(p)),
        "{name}: PRECISION needs one value per field, each 0 or a power of two"
    );
    assert!(
        K::POSITION.is_none_or(|[x, y]| x < K::FIELDS.len() && y < K::FIELDS.len()),
        "{name}: POSITION names a field it does not have"
    );
    let mut precision = K::PRECISION.to_vec();
    precision.resize(K::FIELDS.len(), 0.0);
    KindLayout {
        name: K::NAME,
        fields: K::FIELDS,
        precision,
        position: K::POSITION,
    }
}

/// Registers `K` as kind `index` of game `game` (see `GameBuilder::replicate`).
pub(crate) fn register<G: Game, K: Replicate>(
    world: &mut World,
    schedule: &mut Schedule,
    game: usize,
    index: usize,
) {
    assert!(
        index < MAX_KINDS,
        "a game replicates at most {MAX_KINDS} kinds ({} would be kind {index})",
        std::any::type_name::<K>()
    );
    assert!(
        !world.contains_resource::<KindIndex<K>>(),
        "{} is replicated twice: a component can be the kind of one game only",
        std::any::type_name::<K>()
    );
    let id = world.register_component::<K>();
    world
        .register_component_hooks::<K>()
        .on_add(kind_added::<K>)
        .on_remove(kind_removed::<K>);
    world.insert_resource(KindIndex::<K> {
        game,
        index,
        marker: PhantomData,
    });
    world
        .get_resource_or_init::<KindRegistry>()
        .kinds
        .push((id, game, index));
    // Tables are written in kind order, straight into each room's one buffer.
    schedule.configure_sets(KindOrder(index).in_set(ReplicateRows));
    if index > 0 {
        schedule.configure_sets(KindOrder(index).after(KindOrder(index - 1)));
    }
    schedule.add_systems(write_kind::<G, K>.in_set(KindOrder(index)));
}

/// The kinds of game `game` that `entity` has, as a bit set (bit `n` = kind `n`). A bit set and
/// not a list: this runs in the hook of every spawn into a room (a game's bolts, many per tick),
/// which should not allocate.
pub(crate) fn kinds_of(world: &DeferredWorld, entity: Entity, game: usize) -> u64 {
    let (Some(registry), Ok(entity)) = (
        world.get_resource::<KindRegistry>(),
        world.get_entity(entity),
    ) else {
        return 0;
    };
    registry
        .kinds
        .iter()
        .filter(|&&(id, kind_game, _)| kind_game == game && entity.contains_id(id))
        .fold(0, |set, &(_, _, kind)| set | 1 << kind)
}

fn kind_added<K: Replicate>(mut world: DeferredWorld, ctx: HookContext) {
    let Some(room_entity) = world.get::<InRoom>(ctx.entity).map(|m| m.room()) else {
        return; // listed when its InRoom is added
    };
    let Some((game, index)) = world
        .get_resource::<KindIndex<K>>()
        .map(|k| (k.game, k.index))
    else {
        return;
    };
    if let Some(mut room) = world.get_mut::<Room>(room_entity)
        && room.game == game
        && let Some(list) = room.kinds.get_mut(index)
        && !list.contains(&ctx.entity)
    {
        list.push(ctx.entity);
    }
}

fn kind_removed<K: Replicate>(mut world: DeferredWorld, ctx: HookContext) {
    let Some(room_entity) = world.get::<InRoom>(ctx.entity).map(|m| m.room()) else {
        return;
    };
    let Some(index) = world.get_resource::<KindIndex<K>>().map(|k| k.index) else {
        return;
    };
    if let Some(mut room) = world.get_mut::<Room>(room_entity)
        && let Some(list) = room.kinds.get_mut(index)
    {
        list.retain(|&e| e != ctx.entity);
    }
}

/// Starts each due room's snapshot: header, envelope, and empty tables for its game's kinds.
pub(crate) fn write_envelopes(
    request: Res<StepRequest>,
    mut buffers: ResMut<SnapshotBuffers>,
    rooms: Query<&Room>,
    players: Query<(&Player, &InRoom)>,
) {
    let buffers = &mut *buffers;
    if buffers.writers.len() < request.due.len() {
        buffers
            .writers
            .resize_with(request.due.len(), SnapshotWriter::new);
    }
    for (slot, &room_entity) in request.due.iter().enumerate() {
        // A tick between two sends (a send rate below the tick rate) is simulated only.
        let Some(room) = rooms.get(room_entity).ok().filter(|r| r.sends_this_tick()) else {
            continue;
        };
        let envelope = room.players.iter().map(|&e| match players.get(e) {
            Ok((player, membership)) => PlayerEntry {
                player_id: player.id,
                net_id: membership.net_id(),
                last_input_seq: player.last_input_seq,
            },
            // Every seated entity has both (the framework spawns them together).
            Err(_) => PlayerEntry {
                player_id: 0,
                net_id: 0,
                last_input_seq: 0,
            },
        });
        buffers.writers[slot].begin(room.tick, request.now_ms, envelope, room.kinds.len());
    }
}

/// Writes kind `K`'s table of every due room of game `G`.
fn write_kind<G: Game, K: Replicate>(
    due: Due<G>,
    kind: Res<KindIndex<K>>,
    mut buffers: ResMut<SnapshotBuffers>,
    rooms: Query<&Room>,
    items: Query<(&InRoom, K::Data), With<K>>,
) {
    for (slot, room_entity) in due.slots() {
        let (Some(room), Some(writer)) = (
            rooms.get(room_entity).ok().filter(|r| r.sends_this_tick()),
            buffers.writers.get_mut(slot),
        ) else {
            continue;
        };
        let Some(entities) = room.kinds.get(kind.index) else {
            continue;
        };
        writer.kind(kind.index, entities.len(), |table| {
            for &entity in entities {
                if let Ok((membership, data)) = items.get(entity) {
                    table.row(membership.net_id(), K::FIELDS.len(), |row| {
                        K::write(data, row)
                    });
                }
            }
        });
    }
}

/// Hands each due room's finished snapshot to the step's output, in the order of the request.
pub(crate) fn finish_snapshots(
    request: Res<StepRequest>,
    mut buffers: ResMut<SnapshotBuffers>,
    mut output: ResMut<StepOutput>,
    rooms: Query<&Room>,
) {
    output.snapshots.clear();
    for (slot, &room_entity) in request.due.iter().enumerate() {
        if !rooms.get(room_entity).is_ok_and(Room::sends_this_tick) {
            continue;
        }
        if let Some(writer) = buffers.writers.get_mut(slot) {
            let bytes = Bytes::copy_from_slice(writer.finish());
            output.snapshots.push((room_entity, bytes));
        }
    }
}
