//! Rooms: the bridge between tokio and the simulation.
//!
//! One driver task owns the [`SimWorld`](tickstorm_sim::SimWorld) and every room's lifecycle. The
//! network layer talks to it through [`RoomHub`]: a closed [`RoomCmd`] enum in, replies on
//! oneshot channels. Inputs skip the driver: they go straight into the room's
//! [`InputQueue`](tickstorm_sim::InputQueue), so an input is acked without waiting for a tick.
//! Snapshots go out from the driver: each room's keyframe is encoded once by the simulation;
//! members that name a baseline get deltas from `replica`: the kind sections once per distinct
//! baseline (or per view), each member's own envelope section in front.

mod directory;
mod driver;
mod hub;
mod ids;
mod replica;
mod requests;
mod sink;

pub use directory::{RoomDirectory, ServerCounts};
pub use driver::{DriverSettings, spawn_driver};
pub use hub::{Conn, HubInbox, NodeId, RoomCmd, RoomHub, Seat, SeatLink};
pub use ids::{node_id, token_room};
pub use replica::{Baseline, Recipients};
pub use requests::{input_ack, queue_forwarded, validate_create};
pub use sink::{Release, RoomSink};
