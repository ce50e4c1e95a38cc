//! The cluster's room directory: each node's record in Redis, and this node's cached view of all
//! of them.
//!
//! Every node keeps two keys with a TTL of [`RECORD_TTL`]: its record `{prefix}:node:{id}` (JSON,
//! so `redis-cli GET` is readable), written and published on `{prefix}:directory` only when it
//! changed (a room opened or closed, a player came or went, a connection opened or closed: its
//! load), so the others see a new room at once;
//! and its record's version `{prefix}:ver:{id}` (a hash of the record), rewritten once a second:
//! the heartbeat. Once a second every node reads all versions and fetches only the records whose
//! version it does not hold. So a quiet cluster costs Redis a few dozen bytes per node per second
//! for each node, whatever the number of rooms. A node that dies stops refreshing its keys; once
//! they are gone and the node has not been seen for the TTL, every other node treats it as lost.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tickstorm_shared::{RoomId, RoomInfo};
use tokio::time::Instant;

use super::wire::NodeId;

/// How often a node rewrites its record and rereads everyone's.
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// How long a record outlives its last write.
pub const RECORD_TTL: Duration = Duration::from_secs(3);
/// How often a record is rewritten when only its rooms' game metadata changed (a score, a round
/// phase: in most games, every second). A room opening or closing, or a player coming or going,
/// is written at once; other nodes' lobbies show a room's metadata up to this much late.
pub const METADATA_REFRESH: Duration = Duration::from_secs(10);

/// What a node publishes about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeRecord {
    /// The node's id.
    pub node_id: NodeId,
    /// The address it serves on (informational).
    pub addr: String,
    /// Draining nodes take no new rooms.
    pub draining: bool,
    /// Open `/game` connections.
    pub connections: usize,
    /// Seats taken in its rooms (all nodes' players).
    pub players: usize,
    /// Its rooms, oldest first.
    pub rooms: Vec<RoomInfo>,
    /// Unix milliseconds of the write.
    pub written_ms: u64,
    /// [`content_version`](Self::content_version) of this record, as written.
    #[serde(default)]
    pub version: u64,
}

impl NodeRecord {
    /// A hash of everything but the write time and the version itself: equal for two writes of
    /// the same content, so readers fetch a record again only when it changed.
    pub fn content_version(&self) -> u64 {
        self.hash(true)
    }

    /// Like [`content_version`](Self::content_version), without the rooms' game metadata: what
    /// must reach the other nodes at once (rooms, seats, load).
    pub fn structure_version(&self) -> u64 {
        self.hash(false)
    }

    /// A hash of the record's JSON without its write time and version (and, unless asked for,
    /// its rooms' metadata). Only ever compared with hashes the same node wrote, so any stable
    /// hash will do.
    fn hash(&self, with_metadata: bool) -> u64 {
        use std::hash::{DefaultHasher, Hasher};
        let mut content = NodeRecord {
            written_ms: 0,
            version: 0,
            ..self.clone()
        };
        if !with_metadata {
            for room in &mut content.rooms {
                room.metadata = serde_json::Value::Null;
            }
        }
        let mut hasher = DefaultHasher::new();
        hasher.write(&serde_json::to_vec(&content).unwrap_or_default());
        hasher.finish()
    }

    /// What quick match compares: fewer is less loaded.
    pub fn load(&self) -> (usize, usize) {
        (self.players, self.rooms.len())
    }
}

#[derive(Debug)]
struct Known {
    record: NodeRecord,
    seen: Instant,
}

/// This node's view of the other nodes.
#[derive(Debug)]
pub struct ClusterDirectory {
    me: NodeId,
    nodes: RwLock<HashMap<NodeId, Known>>,
    /// Woken on every update, for [`ClusterDirectory::wait_for_owner`].
    updated: tokio::sync::Notify,
}

impl ClusterDirectory {
    /// An empty view for node `me` (its own record is never kept: its driver knows better).
    pub fn new(me: NodeId) -> Self {
        ClusterDirectory {
            me,
            nodes: RwLock::default(),
            updated: tokio::sync::Notify::new(),
        }
    }

    /// A record pushed on the directory channel or read from Redis.
    pub fn upsert(&self, record: NodeRecord) {
        if record.node_id == self.me {
            return;
        }
        let mut nodes = self.nodes.write().unwrap_or_else(|e| e.into_inner());
        nodes.insert(
            record.node_id.clone(),
            Known {
                record,
                seen: Instant::now(),
            },
        );
        drop(nodes);
        self.updated.notify_waiters();
    }

    /// Takes a complete read of Redis: records in it are refreshed, and nodes missing from it
    /// that have not been seen for the TTL are dropped and returned (they are lost).
    pub fn reconcile(&self, records: Vec<NodeRecord>) -> Vec<NodeId> {
        for record in records {
            self.upsert(record);
        }
        let now = Instant::now();
        let mut nodes = self.nodes.write().unwrap_or_else(|e| e.into_inner());
        let lost: Vec<NodeId> = nodes
            .iter()
            .filter(|(_, known)| now - known.seen > RECORD_TTL)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &lost {
            nodes.remove(id);
        }
        lost
    }

    /// Counts every known node as seen now. Called when Redis answers again after an outage:
    /// nobody could refresh a record meanwhile, so an old `seen` says nothing about a node.
    pub fn touch_all(&self) {
        let now = Instant::now();
        let mut nodes = self.nodes.write().unwrap_or_else(|e| e.into_inner());
        for known in nodes.values_mut() {
            known.seen = now;
        }
    }

    /// The record held for `node`, if it has version `version`.
    pub fn record_at(&self, node: &str, version: u64) -> Option<NodeRecord> {
        let nodes = self.nodes.read().unwrap_or_else(|e| e.into_inner());
        nodes
            .get(node)
            .filter(|known| known.record.version == version)
            .map(|known| known.record.clone())
    }

    /// Every other node's record.
    pub fn others(&self) -> Vec<NodeRecord> {
        let nodes = self.nodes.read().unwrap_or_else(|e| e.into_inner());
        let mut records: Vec<NodeRecord> = nodes.values().map(|k| k.record.clone()).collect();
        records.sort_by(|a, b| a.node_id.cmp(&b.node_id));
        records
    }

    /// The node that runs `room_id`, if another node does.
    pub fn owner_of(&self, room_id: &RoomId) -> Option<NodeId> {
        let nodes = self.nodes.read().unwrap_or_else(|e| e.into_inner());
        nodes
            .values()
            .find(|k| k.record.rooms.iter().any(|r| &r.id == room_id))
            .map(|k| k.record.node_id.clone())
    }

    /// Like [`owner_of`](Self::owner_of), but waits up to `timeout` for a record that names the
    /// room. A room created on another node a moment ago reaches this node's view in a few
    /// milliseconds, and a player told its id (the bot swarm's room groups, a friend's link) can
    /// be faster than that.
    pub async fn wait_for_owner(&self, room_id: &RoomId, timeout: Duration) -> Option<NodeId> {
        let deadline = Instant::now() + timeout;
        loop {
            let updated = self.updated.notified();
            if let Some(owner) = self.owner_of(room_id) {
                return Some(owner);
            }
            if tokio::time::timeout_at(deadline, updated).await.is_err() {
                return None;
            }
        }
    }
}

/// Where quick match sends a player, given this node's record and the others'.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuickTarget {
    /// This node: join its fullest open room, or create one here.
    Here,
    /// Another node: let it pick (it has an open room, or it is the least loaded).
    Node(NodeId),
    /// Nobody takes new players (every node draining or full).
    Nowhere,
}

/// Quick match across nodes: an open room on this node first (no extra hop); else the node with
/// the fullest open room, so rooms fill up; else a new room on the least loaded node (this node
/// wins ties). Draining nodes are skipped.
pub fn quick_target(me: &NodeRecord, others: &[NodeRecord]) -> QuickTarget {
    let has_open = |r: &NodeRecord| r.rooms.iter().any(|room| room.players < room.max_players);
    if !me.draining && has_open(me) {
        return QuickTarget::Here;
    }
    let fullest_open = others
        .iter()
        .filter(|r| !r.draining)
        .flat_map(|r| r.rooms.iter().map(move |room| (r, room)))
        .filter(|(_, room)| room.players < room.max_players)
        .max_by_key(|(_, room)| room.players);
    if let Some((node, _)) = fullest_open {
        return QuickTarget::Node(node.node_id.clone());
    }
    let least = least_loaded(others);
    match (me.draining, least) {
        (false, Some(other)) if other.load() < me.load() => {
            QuickTarget::Node(other.node_id.clone())
        }
        (false, _) => QuickTarget::Here,
        (true, Some(other)) => QuickTarget::Node(other.node_id.clone()),
        (true, None) => QuickTarget::Nowhere,
    }
}

/// Where a new room goes when this node is draining: the least loaded live node.
pub fn placement_elsewhere(others: &[NodeRecord]) -> Option<NodeId> {
    least_loaded(others).map(|r| r.node_id.clone())
}

/// The live (not draining) node with the least load; ties go to the smaller node id.
fn least_loaded(records: &[NodeRecord]) -> Option<&NodeRecord> {
    records
        .iter()
        .filter(|r| !r.draining)
        .min_by_key(|r| (r.load(), &r.node_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, rooms: &[(u32, u32)], draining: bool) -> NodeRecord {
        NodeRecord {
            node_id: id.into(),
            addr: String::new(),
            draining,
            connections: 0,
            players: rooms.iter().map(|(p, _)| *p as usize).sum(),
            rooms: rooms
                .iter()
                .enumerate()
                .map(|(i, &(players, max_players))| RoomInfo {
                    id: format!("{id}-{i}"),
                    name: String::new(),
                    players,
                    max_players,
                    tick_rate: 30,
                    send_rate: 30,
                    view_radius: None,
                    game: "orbs".into(),
                    metadata: serde_json::Value::Null,
                })
                .collect(),
            written_ms: 0,
            version: 0,
        }
    }

    #[test]
    fn a_record_version_changes_with_its_content_not_its_write_time() {
        let mut a = record("a", &[(1, 8)], false);
        let version = a.content_version();
        a.written_ms = 12_345;
        a.version = version;
        assert_eq!(a.content_version(), version);
        let structure = a.structure_version();
        a.rooms[0].metadata = serde_json::json!({ "top_score": 3 });
        assert_ne!(a.content_version(), version, "metadata is content");
        assert_eq!(a.structure_version(), structure, "but not structure");
        a.rooms[0].players = 2;
        assert_ne!(a.content_version(), version);
        assert_ne!(a.structure_version(), structure);
        let directory = ClusterDirectory::new("b".into());
        directory.upsert(NodeRecord {
            version,
            ..record("a", &[(1, 8)], false)
        });
        assert!(directory.record_at("a", version).is_some());
        assert!(directory.record_at("a", version + 1).is_none());
        assert!(directory.record_at("c", version).is_none());
    }

    #[test]
    fn quick_match_prefers_here_then_the_fullest_room_then_the_least_loaded_node() {
        let me = record("a", &[(2, 8)], false);
        assert_eq!(
            quick_target(&me, &[record("b", &[(7, 8)], false)]),
            QuickTarget::Here
        );
        let me_full = record("a", &[(8, 8)], false);
        let others = [record("b", &[(3, 8)], false), record("c", &[(5, 8)], false)];
        assert_eq!(
            quick_target(&me_full, &others),
            QuickTarget::Node("c".into())
        );
        // No open room anywhere: the least loaded node, this one on a tie.
        let others = [
            record("b", &[(8, 8), (8, 8)], false),
            record("c", &[(8, 8)], false),
        ];
        assert_eq!(quick_target(&me_full, &others), QuickTarget::Here);
        let me_busy = record("a", &[(8, 8), (8, 8)], false);
        assert_eq!(
            quick_target(&me_busy, &others),
            QuickTarget::Node("c".into())
        );
    }

    #[test]
    fn draining_nodes_take_no_new_players() {
        let me = record("a", &[(1, 8)], true);
        let others = [record("b", &[(1, 8)], true), record("c", &[], false)];
        assert_eq!(quick_target(&me, &others), QuickTarget::Node("c".into()));
        assert_eq!(placement_elsewhere(&others), Some("c".into()));
        assert_eq!(quick_target(&me, &others[..1]), QuickTarget::Nowhere);
        assert_eq!(placement_elsewhere(&others[..1]), None);
    }

    #[test]
    fn a_node_is_lost_only_after_it_was_missing_for_the_ttl() {
        let directory = ClusterDirectory::new("a".into());
        directory.upsert(record("a", &[], false));
        directory.upsert(record("b", &[(1, 8)], false));
        assert!(
            directory.others().iter().all(|r| r.node_id != "a"),
            "own record is not cached"
        );
        // A read without b right after it was seen (Redis just restarted, say): not lost yet.
        assert!(directory.reconcile(Vec::new()).is_empty());
        assert_eq!(directory.owner_of(&"b-0".to_string()), Some("b".into()));
    }

    /// Both halves on tokio's paused clock: missing from every read, b is kept up to the TTL
    /// after it was last seen and lost just after it; a read that has b counts as seeing it.
    #[tokio::test(start_paused = true)]
    async fn a_node_missing_for_longer_than_the_ttl_is_lost_and_forgotten() {
        let directory = ClusterDirectory::new("a".into());
        directory.upsert(record("b", &[(1, 8)], false));
        directory.upsert(record("c", &[], false));
        tokio::time::advance(RECORD_TTL / 2).await;
        // c is in this read (seen again now), b is not.
        assert!(
            directory
                .reconcile(vec![record("c", &[], false)])
                .is_empty()
        );
        tokio::time::advance(RECORD_TTL / 2).await;
        // Exactly the TTL since b was seen: not yet.
        assert!(directory.reconcile(Vec::new()).is_empty());
        assert_eq!(directory.owner_of(&"b-0".to_string()), Some("b".into()));
        tokio::time::advance(Duration::from_millis(1)).await;
        // Just past it: b is lost, returned once and forgotten; c was seen later and stays.
        assert_eq!(directory.reconcile(Vec::new()), vec![NodeId::from("b")]);
        assert_eq!(directory.owner_of(&"b-0".to_string()), None);
        let others: Vec<NodeId> = directory.others().into_iter().map(|r| r.node_id).collect();
        assert_eq!(others, vec![NodeId::from("c")]);
        assert!(directory.reconcile(Vec::new()).is_empty(), "lost only once");
        tokio::time::advance(RECORD_TTL / 2).await;
        assert_eq!(directory.reconcile(Vec::new()), vec![NodeId::from("c")]);
    }
}
