//! [`NetSink`]: the room driver's [`RoomSink`] on a real server: socketioxide for this node's
//! connections, and, on a node of a cluster, the other nodes for theirs.

use std::sync::Arc;

use bytes::Bytes;
use serde::Serialize;
use socketioxide::BroadcastError;
use socketioxide::socket::Sid;
use socketioxide::{SendError, SocketError};
use tickstorm_shared::protocol::{GAME_NAMESPACE, RoomClosed, events};
use tickstorm_shared::{PlayerId, RoomId};

use super::wire::RoomMessage;
use super::{Cluster, Io, release_here};
use crate::metrics::ServerMetrics;
use crate::room::{Conn, NodeId, Recipients, Release, RoomSink, Seat};

/// The driver's way to the players: this node's sockets, and the cluster when there is one.
#[derive(Debug, Clone)]
pub struct NetSink {
    io: Io,
    cluster: Option<Cluster>,
    metrics: Arc<ServerMetrics>,
}

impl NetSink {
    /// A sink on `io`, releasing seats of other nodes' connections through `cluster`.
    pub fn new(io: Io, cluster: Option<Cluster>, metrics: Arc<ServerMetrics>) -> Self {
        Self {
            io,
            cluster,
            metrics,
        }
    }

    /// Counts the members a broadcast could not be queued for. A full queue (a client that
    /// stopped reading, 128 packets behind) drops the packet for that client only; a closed
    /// socket is one that is leaving anyway.
    fn count_failures(&self, room: &RoomId, event: &'static str, error: &BroadcastError) {
        if let BroadcastError::Socket(failed) = error {
            let full = failed
                .iter()
                .filter(|e| matches!(e, SocketError::InternalChannelFull))
                .count();
            self.metrics.packets_dropped.inc_by(full as u64);
        }
        tracing::debug!(%room, event, %error, "broadcast failed for some members");
    }

    /// One connection's snapshot not queued: a full queue is a client that stopped reading.
    fn count_send_failure(&self, room: &RoomId, error: &SendError) {
        if matches!(error, SendError::Socket(SocketError::InternalChannelFull)) {
            self.metrics.packets_dropped.inc();
        }
        tracing::debug!(%room, %error, "snapshot not sent to one member");
    }
}

impl RoomSink for NetSink {
    fn subscribe(&self, sid: Sid, room: &RoomId) {
        if let Some(socket) = self.io.of(GAME_NAMESPACE).and_then(|ns| ns.get_socket(sid)) {
            socket.join(room.clone());
        }
    }

    async fn broadcast<T: Serialize + Sync>(
        &self,
        room: &RoomId,
        event: &'static str,
        data: &T,
        remote: &[NodeId],
    ) {
        let Some(namespace) = self.io.of(GAME_NAMESPACE) else {
            return;
        };
        if let Err(e) = namespace.local().to(room.clone()).emit(event, data).await {
            self.count_failures(room, event, &e);
        }
        if let (Some(cluster), false) = (&self.cluster, remote.is_empty()) {
            // With field names, as socketioxide's parsers write structs to clients (rmpv's own
            // serializer would write them as arrays).
            let value = rmp_serde::to_vec_named(data)
                .map_err(|e| e.to_string())
                .and_then(|bytes| {
                    rmpv::decode::read_value(&mut bytes.as_slice()).map_err(|e| e.to_string())
                });
            match value {
                Ok(data) => cluster.send_room(
                    remote,
                    room,
                    RoomMessage::Event {
                        event: event.to_owned(),
                        data,
                    },
                ),
                Err(e) => tracing::error!(%room, event, error = %e, "event not serializable"),
            }
        }
    }

    async fn snapshot(&self, room: &RoomId, bytes: &Bytes, to: &Recipients, remote: &[NodeId]) {
        let Some(namespace) = self.io.of(GAME_NAMESPACE) else {
            return;
        };
        // socketioxide frames the packet once and hands the same bytes to every member here;
        // the members on other nodes get it through their node (below), never through the Redis
        // adapter, which would publish every snapshot of every room to every node.
        let members = namespace.local();
        let sent = match to {
            Recipients::Room => members.to(room.clone()).emit(events::SNAPSHOT, bytes).await,
            // Each connection is in the room named by its sid (joined at connect), so the
            // connections served on their own can be left out of the room's broadcast.
            Recipients::RoomExcept(sids) => {
                let except: Vec<String> = sids.iter().map(ToString::to_string).collect();
                members
                    .to(room.clone())
                    .except(except)
                    .emit(events::SNAPSHOT, bytes)
                    .await
            }
            Recipients::Only(sids) => {
                for &sid in sids {
                    if let Some(socket) = members.get_socket(sid)
                        && let Err(e) = socket.emit(events::SNAPSHOT, bytes)
                    {
                        self.count_send_failure(room, &e);
                    }
                }
                Ok(())
            }
        };
        if let Err(e) = sent {
            self.count_failures(room, events::SNAPSHOT, &e);
        }
        let for_remote = matches!(to, Recipients::Room | Recipients::RoomExcept(_));
        if let (Some(cluster), true, false) = (&self.cluster, for_remote, remote.is_empty()) {
            cluster.send_room(remote, room, RoomMessage::Snapshot(bytes.clone()));
        }
    }

    async fn room_closed_here(&self, closed: &RoomClosed) {
        let Some(namespace) = self.io.of(GAME_NAMESPACE) else {
            return;
        };
        if let Err(e) = namespace
            .local()
            .to(closed.room_id.clone())
            .emit(events::ROOM_CLOSED, closed)
            .await
        {
            self.count_failures(&closed.room_id, events::ROOM_CLOSED, &e);
        }
    }

    fn release(&self, conn: &Conn, release: Release) {
        match (&conn.node, &self.cluster) {
            (Some(node), Some(cluster)) => cluster.release(node, release),
            (Some(_), None) => {} // a remote connection without a cluster cannot exist
            (None, _) => release_here(&self.io, release),
        }
    }

    fn keep_remote_seat(&self, seat: &Seat, conn: &Conn) {
        if let (Some(cluster), Some(node)) = (&self.cluster, &conn.node) {
            cluster.keep_remote_seat(seat.clone(), conn.sid, node.clone());
        }
    }

    fn forget_remote_seat(&self, player_id: PlayerId) {
        if let Some(cluster) = &self.cluster {
            cluster.forget_remote_seat(player_id);
        }
    }
}
