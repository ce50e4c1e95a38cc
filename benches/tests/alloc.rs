//! Heap allocations per tick in steady state, counted by a global allocator: the snapshot encoder
//! allocates nothing once warm, and a whole simulation step allocates only the one `Bytes` per
//! room that is handed to socketioxide for the broadcast (it must own the bytes until every
//! member's connection has written them).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use glam::Vec2;
use tickstorm_server::sim::{InputQueue, PendingInput, RoomSpec, SimWorld};
use tickstorm_shared::{OrbState, PlayerState, SnapshotEncoder};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

#[expect(
    unsafe_code,
    reason = "a GlobalAlloc wrapper is unsafe by definition; it only counts and delegates"
)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's, passed through to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as for `alloc`/`dealloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    f();
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

// Both checks share the global counter, so they run in one test (the harness runs tests on
// several threads).
#[test]
fn steady_state_ticks_allocate_only_the_broadcast_bytes() {
    let players: Vec<PlayerState> = (0..8)
        .map(|id| PlayerState {
            id,
            x: 1.0,
            y: 2.0,
            vx: 3.0,
            vy: 4.0,
            last_input_seq: id,
            score: 0,
        })
        .collect();
    let orbs: Vec<OrbState> = (0..32).map(|id| OrbState { id, x: 5.0, y: 6.0 }).collect();
    let mut encoder = SnapshotEncoder::new();
    encoder.encode(0, 0, players.iter().copied(), orbs.iter().copied());
    let encoding = allocations_during(|| {
        for tick in 1..=1000 {
            encoder.encode(tick, tick, players.iter().copied(), orbs.iter().copied());
        }
    });
    assert_eq!(encoding, 0, "1,000 warm encodes allocated {encoding} times");

    let mut sim = SimWorld::new();
    let rooms: Vec<_> = (0..10u64)
        .map(|i| {
            let queue = Arc::new(InputQueue::new(0));
            let spec = RoomSpec {
                id: format!("r{i}"),
                name: "a".into(),
                max_players: 8,
                tick_rate: 30,
                seed: i,
            };
            let room = sim.spawn_room(spec, queue.clone());
            let players: Vec<_> = (0..8)
                .map(|p| sim.spawn_player(room, p + 1, "p".into()).expect("seat"))
                .collect();
            (room, queue, players)
        })
        .collect();
    let due: Vec<_> = rooms.iter().map(|(room, _, _)| *room).collect();
    let feed = |seq: u32| {
        for (_, queue, players) in &rooms {
            for &player in players {
                queue.submit(PendingInput {
                    player,
                    seq,
                    direction: Vec2::from_angle(seq as f32),
                    buttons: 0,
                });
            }
        }
    };
    for seq in 1..=50 {
        feed(seq);
        sim.step(&due, 0);
    }
    let ticks = 200u32;
    let stepping = allocations_during(|| {
        for seq in 51..51 + ticks {
            feed(seq);
            sim.step(&due, 0);
        }
    });
    let per_room_tick = stepping as f64 / f64::from(ticks) / rooms.len() as f64;
    println!("allocations per room per tick (inputs + step): {per_room_tick:.2}");
    assert!(
        per_room_tick <= 1.0,
        "expected at most the one snapshot Bytes per room per tick, got {per_room_tick:.2}"
    );
}
