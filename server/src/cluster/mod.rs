//! Scale-out: several nodes joined through Redis (`--redis-url`).
//!
//! - [`bus`]: the node's Redis connection; socketioxide's Redis adapter runs on it (for the events
//!   a player's own node broadcasts: `player:joined`, chat), and so do our node-to-node messages.
//! - [`link`]: what that connection is, one Redis server or a Redis Cluster (sharded pub/sub).
//! - [`directory`]: each node's record (rooms, load, draining) and heartbeat in Redis with a TTL,
//!   and this node's view of the others; a node whose heartbeat expires is lost.
//! - [`wire`]: messages between nodes. Each room runs on exactly one node, its *owner*; a player
//!   connected to another node (the *edge*) is seated, and plays, by requests to the owner, and
//!   the owner sends the room's snapshots and events to the edges that have players of it.
//! - [`router`]: what the `/game` handlers call: this node's rooms directly, others' by request.
//!
//! [`Cluster`] holds it together. Without `--redis-url` there is none, and nothing here runs.

pub mod bus;
pub mod directory;
pub mod link;
pub mod router;
pub mod sink;
pub mod wire;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{FutureExt, StreamExt};
use socketioxide_redis::drivers::Driver;
use tickstorm_shared::protocol::{CloseReason, GAME_NAMESPACE, RoomClosed, events};
use tickstorm_shared::{PlayerId, RoomId};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::error::GameError;
use crate::metrics::ServerMetrics;
use crate::room::{Conn, RoomHub, Seat, SeatLink};
use crate::session::Session;
use bus::Bus;
use directory::{ClusterDirectory, NodeRecord};
use wire::{Body, Envelope, NodeId, NodeReply, NodeRequest, Release, RoomMessage, WireError};

/// The Socket.IO adapter: socketioxide's Redis adapter on our [`Bus`]. On a single node the bus
/// is local and sends nothing, so the adapter delivers to this process's sockets only, as
/// socketioxide's `LocalAdapter` would (one type either way, so the handlers are not generic).
pub type Adapter = socketioxide_redis::CustomRedisAdapter<socketioxide::adapter::Emitter, Bus>;
/// The Socket.IO handle of this server.
pub type Io = socketioxide::SocketIo<Adapter>;
/// A connected socket of this server.
pub type GameSocket = socketioxide::extract::SocketRef<Adapter>;
/// How long an edge node waits for the owner's answer before telling the client `unavailable`.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);
/// Request id of a message that wants no answer.
const NO_REPLY: u64 = 0;

type Pending = oneshot::Sender<Result<NodeReply, WireError>>;

/// This node's membership of the cluster (cheap to clone).
#[derive(Clone)]
pub struct Cluster(Arc<Shared>);

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("node", &self.0.node_id)
            .field("bus", &self.0.bus)
            .finish()
    }
}

struct Shared {
    node_id: NodeId,
    addr: String,
    prefix: String,
    bus: Bus,
    directory: ClusterDirectory,
    metrics: Arc<ServerMetrics>,
    pending: Mutex<HashMap<u64, Pending>>,
    next_request: AtomicU64,
    /// Owner side: seats in this node's rooms held by connections to other nodes, by player.
    remote_seats: Mutex<HashMap<PlayerId, RemoteSeat>>,
    /// Leaves, disconnects and releases told while Redis was down, sent once it is back (else
    /// an owner would keep those seats as connected, or an edge a seat in a closed room).
    deferred: Mutex<std::collections::VecDeque<(NodeId, Body)>>,
    draining: AtomicBool,
    /// Edge side: lease rounds sent, and the owners the last round listed seats for.
    leases: Mutex<(u64, std::collections::HashSet<NodeId>)>,
}

/// An owner this node holds no seat at gets an (empty) lease only every this many rounds, and in
/// the first rounds after start (a node restarted under its old id may have left seats behind).
/// Empty leases to every node every second would cost the cluster nodes x nodes messages a
/// second for nothing; this way a seat whose leave was lost is held for rejoin within ~10 s
/// instead of ~1 s, and a node with seats at an owner still tells it every second.
const EMPTY_LEASE_EVERY: u64 = 10;

/// Most deferred messages kept while Redis is down (beyond that the oldest are dropped).
const DEFERRED_MAX: usize = 100_000;

/// A seat in one of this node's rooms held through another node.
struct RemoteSeat {
    seat: Arc<Seat>,
    sid: socketioxide::socket::Sid,
    node: NodeId,
    granted: tokio::time::Instant,
}

/// A remote seat missing from its edge's lease is held for rejoin only once it is this old, so
/// a seat whose grant is still on its way to the edge is not taken back.
const LEASE_GRACE: Duration = Duration::from_secs(5);

impl Cluster {
    /// Joins the cluster through the Redis at `url`: fails when Redis cannot be reached.
    pub async fn connect(
        seeds: &[String],
        node_id: NodeId,
        prefix: String,
        addr: String,
        metrics: Arc<ServerMetrics>,
    ) -> Result<Cluster, bus::BusError> {
        let bus = Bus::connect(seeds, metrics.redis.clone()).await?;
        Ok(Cluster(Arc::new(Shared {
            directory: ClusterDirectory::new(node_id.clone()),
            node_id,
            addr,
            prefix,
            bus,
            metrics,
            pending: Mutex::default(),
            next_request: AtomicU64::new(1),
            remote_seats: Mutex::default(),
            deferred: Mutex::default(),
            draining: AtomicBool::new(false),
            leases: Mutex::default(),
        })))
    }

    /// This node's id.
    pub fn node_id(&self) -> &NodeId {
        &self.0.node_id
    }

    /// The bus, for socketioxide's Redis adapter.
    pub fn bus(&self) -> Bus {
        self.0.bus.clone()
    }

    /// The other nodes, as last seen.
    pub fn directory(&self) -> &ClusterDirectory {
        &self.0.directory
    }

    /// Marks this node draining in its next record (others stop placing rooms here).
    pub fn set_draining(&self) {
        self.0.draining.store(true, Ordering::Relaxed);
    }

    /// True once draining.
    pub fn is_draining(&self) -> bool {
        self.0.draining.load(Ordering::Relaxed)
    }

    fn node_channel(&self, node: &str) -> String {
        format!("{}:node:{node}", self.0.prefix)
    }

    /// The channel of the room traffic a node receives from the owners of its players' rooms.
    fn room_channel(&self, node: &str) -> String {
        format!("{}:room:{node}", self.0.prefix)
    }

    /// A node's record. Keys carry the prefix as a hash tag, channels do not (see [`link`]).
    fn record_key(&self, node: &str) -> String {
        link::key(&self.0.prefix, &format!("node:{node}"))
    }

    /// The version of a node's record, refreshed every heartbeat.
    fn version_key(&self, node: &str) -> String {
        link::key(&self.0.prefix, &format!("ver:{node}"))
    }

    /// Tagged like the keys, so on a cluster it lives on the directory's shard.
    fn directory_channel(&self) -> String {
        link::key(&self.0.prefix, "directory")
    }

    fn send(&self, node: &str, body: Body) {
        let envelope = Envelope {
            from: self.0.node_id.clone(),
            body,
        };
        self.0
            .bus
            .send(self.node_channel(node), wire::encode(&envelope));
    }

    /// Asks `node`; the future is its answer: `unavailable` when Redis is down or the node does
    /// not answer in time. The request is queued before this returns, so requests made one
    /// after another leave in that order.
    pub fn request(
        &self,
        node: &NodeId,
        request: NodeRequest,
    ) -> impl Future<Output = Result<NodeReply, GameError>> + Send + 'static {
        let cluster = self.clone();
        let node = node.clone();
        let sent = self.0.bus.is_up().then(|| {
            let id = self.0.next_request.fetch_add(1, Ordering::Relaxed);
            let (reply, answer) = oneshot::channel();
            self.pending().insert(id, reply);
            self.0.metrics.node_requests.inc();
            self.send(&node, Body::Request { id, request });
            (id, answer)
        });
        async move {
            let Some((id, answer)) = sent else {
                return Err(GameError::Unavailable(
                    "the cluster's Redis is unreachable from this node; try again shortly".into(),
                ));
            };
            let outcome = tokio::time::timeout(REQUEST_TIMEOUT, answer).await;
            cluster.pending().remove(&id);
            match outcome {
                Ok(Ok(result)) => result.map_err(GameError::from),
                Ok(Err(_)) | Err(_) => {
                    cluster.0.metrics.node_request_timeouts.inc();
                    Err(GameError::Unavailable(format!(
                        "node {node}, which runs the room, did not answer; try again"
                    )))
                }
            }
        }
    }

    /// Tells `node` something that needs no answer (a player left or dropped); kept for later
    /// while Redis is down.
    pub fn tell(&self, node: &NodeId, request: NodeRequest) {
        self.0.metrics.node_requests.inc();
        self.send_or_defer(
            node,
            Body::Request {
                id: NO_REPLY,
                request,
            },
        );
    }

    fn send_or_defer(&self, node: &NodeId, body: Body) {
        if self.0.bus.is_up() {
            self.send(node, body);
            return;
        }
        let mut deferred = self.0.deferred.lock().unwrap_or_else(|e| e.into_inner());
        if deferred.len() >= DEFERRED_MAX {
            deferred.pop_front();
        }
        deferred.push_back((node.clone(), body));
    }

    /// Sends what [`tell`](Self::tell) kept while Redis was down.
    fn flush_deferred(&self) {
        let deferred =
            std::mem::take(&mut *self.0.deferred.lock().unwrap_or_else(|e| e.into_inner()));
        if !deferred.is_empty() {
            tracing::info!(
                messages = deferred.len(),
                "redis is back: sending the leaves and disconnects held meanwhile"
            );
        }
        for (node, body) in deferred {
            self.send_or_defer(&node, body);
        }
    }

    /// Owner side: tells the edge node of a connection that its seat is gone.
    pub fn release(&self, node: &NodeId, release: Release) {
        self.send_or_defer(node, Body::Released(release));
    }

    /// Owner side: starts taking inputs for a seat the driver just gave a connection to `node`.
    /// Called by the driver in the step that seats the player, so a close or kick that follows
    /// always finds it.
    pub fn keep_remote_seat(&self, seat: Seat, sid: socketioxide::socket::Sid, node: NodeId) {
        self.remote_seats().insert(
            seat.player_id,
            RemoteSeat {
                seat: Arc::new(seat),
                sid,
                node,
                granted: tokio::time::Instant::now(),
            },
        );
    }

    /// Owner side: stops taking inputs for a seat held through another node.
    pub fn forget_remote_seat(&self, player_id: PlayerId) {
        self.remote_seats().remove(&player_id);
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Pending>> {
        self.0.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn remote_seats(&self) -> std::sync::MutexGuard<'_, HashMap<PlayerId, RemoteSeat>> {
        self.0
            .remote_seats
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Starts the node's cluster tasks: answering other nodes, following the directory channel,
    /// and the heartbeat that writes this node's record and notices lost nodes. They stop when
    /// `stop` fires; the record is then deleted so the others forget this node at once.
    pub async fn spawn(
        &self,
        hub: RoomHub,
        io: Io,
        stop: CancellationToken,
        tracker: &TaskTracker,
    ) -> Result<(), bus::BusError> {
        let bus = self.bus();
        let inbox = bus
            .subscribe(self.node_channel(&self.0.node_id), 4096)
            .await?;
        // Room traffic (30 messages a second per room with players here) has its own channel and
        // listener, so a burst of it never crowds requests, replies and leases out of the inbox.
        let room_traffic = bus
            .subscribe(self.room_channel(&self.0.node_id), 4096)
            .await?;
        let records = bus.subscribe(self.directory_channel(), 256).await?;
        let cluster = self.clone();
        let (serve_hub, serve_io) = (hub.clone(), io.clone());
        spawn_listener(inbox, stop.clone(), tracker, move |bytes| {
            cluster.on_message(&bytes, &serve_hub, &serve_io);
        });
        let cluster = self.clone();
        let (serve_hub, serve_io) = (hub.clone(), io.clone());
        spawn_listener(room_traffic, stop.clone(), tracker, move |bytes| {
            cluster.on_message(&bytes, &serve_hub, &serve_io);
        });
        let cluster = self.clone();
        spawn_listener(
            records,
            stop.clone(),
            tracker,
            move |bytes| match serde_json::from_slice::<NodeRecord>(&bytes) {
                Ok(record) => cluster.0.directory.upsert(record),
                Err(e) => {
                    tracing::warn!(error = %e, "unreadable node record on the directory channel")
                }
            },
        );
        let cluster = self.clone();
        tracker.spawn(async move { cluster.heartbeat(hub, io, stop).await });
        Ok(())
    }

    fn on_message(&self, bytes: &[u8], hub: &RoomHub, io: &Io) {
        let envelope = match wire::decode(bytes) {
            Ok(envelope) => envelope,
            Err(e) => {
                tracing::warn!(error = %e, "unreadable message from another node; ignored");
                return;
            }
        };
        match envelope.body {
            Body::Reply { id, result } => {
                if let Some(waiting) = self.pending().remove(&id) {
                    let _ = waiting.send(result);
                }
            }
            Body::Request { id, request } => self.serve(envelope.from, id, request, hub),
            Body::Released(release) => release_here(io, release),
            Body::Room { room_id, message } => room_message_here(io, &room_id, message),
        }
    }

    /// Sends a room's snapshot or event to the other nodes its players are connected through,
    /// encoded once.
    pub(crate) fn send_room(&self, nodes: &[NodeId], room_id: &RoomId, message: RoomMessage) {
        let envelope = Envelope {
            from: self.0.node_id.clone(),
            body: Body::Room {
                room_id: room_id.clone(),
                message,
            },
        };
        let payload = wire::encode(&envelope);
        for node in nodes {
            self.0.bus.send(self.room_channel(node), payload.clone());
        }
    }

    /// Owner side: carries out a request from an edge node. Inputs, leaves and disconnects are
    /// handled right here, in arrival order (a player's inputs stay in sequence); requests that
    /// wait for the room driver run on their own task.
    fn serve(&self, from: NodeId, id: u64, request: NodeRequest, hub: &RoomHub) {
        match request {
            NodeRequest::Input {
                player_id,
                sid,
                seq,
                payload,
            } => {
                let seat = self
                    .remote_seats()
                    .get(&player_id)
                    .filter(|r| r.sid == sid)
                    .map(|r| r.seat.clone());
                let result = match seat.as_deref() {
                    Some(Seat {
                        link: SeatLink::Local { player, inputs, .. },
                        ..
                    }) => crate::room::queue_forwarded(*player, &**inputs, seq, &payload)
                        .map(NodeReply::Input),
                    _ => Err(GameError::NotInRoom),
                };
                self.reply(&from, id, result);
            }
            NodeRequest::Leave { player_id, sid } => {
                if self.take_remote_seat(player_id, sid) {
                    hub.leave(player_id, tickstorm_shared::protocol::LeaveReason::Left);
                }
                self.reply(&from, id, Ok(NodeReply::Done));
            }
            NodeRequest::Disconnect { player_id, sid } => {
                self.take_remote_seat(player_id, sid);
                hub.disconnect(player_id, sid);
                self.reply(&from, id, Ok(NodeReply::Done));
            }
            NodeRequest::Holding { seats } => self.renew_lease(&from, seats, hub),
            NodeRequest::Create(request) => {
                let (cluster, hub) = (self.clone(), hub.clone());
                tokio::spawn(async move {
                    let result = async {
                        let request = crate::room::validate_create(request)?;
                        hub.create(request).await.map(NodeReply::Room)
                    };
                    cluster.reply(&from, id, result.await);
                });
            }
            NodeRequest::Join {
                room_id,
                game,
                name,
                sid,
            } => {
                let (cluster, hub) = (self.clone(), hub.clone());
                let conn = Conn {
                    sid,
                    node: Some(from.clone()),
                };
                tokio::spawn(async move {
                    let result = hub.join(room_id, game, name, conn).await.map(grant);
                    cluster.reply(&from, id, result);
                });
            }
            NodeRequest::Member { room_id, player_id } => {
                let (cluster, hub) = (self.clone(), hub.clone());
                tokio::spawn(async move {
                    let result = hub
                        .member(room_id, player_id)
                        .await
                        .map(|conn| NodeReply::Connection(conn.sid));
                    cluster.reply(&from, id, result);
                });
            }
            NodeRequest::Rejoin { token, sid } => {
                let (cluster, hub) = (self.clone(), hub.clone());
                let conn = Conn {
                    sid,
                    node: Some(from.clone()),
                };
                tokio::spawn(async move {
                    let result = hub.rejoin(token, conn).await.map(grant);
                    cluster.reply(&from, id, result);
                });
            }
        }
    }

    fn reply(&self, to: &NodeId, id: u64, result: Result<NodeReply, GameError>) {
        if id != NO_REPLY {
            let result = result.map_err(|e| WireError::from(&e));
            self.send(to, Body::Reply { id, result });
        }
    }

    /// Owner side: `edge` says which seats in this node's rooms its connections hold. Seats of
    /// `edge` it no longer lists are held for rejoin (their leave or disconnect was lost); seats
    /// it lists that this node does not have are released (their room closed, or this node
    /// restarted, while the notice could not get through).
    fn renew_lease(
        &self,
        edge: &NodeId,
        listed: Vec<(
            PlayerId,
            socketioxide::socket::Sid,
            tickstorm_shared::RoomId,
        )>,
        hub: &RoomHub,
    ) {
        let now = tokio::time::Instant::now();
        let mut unknown = Vec::new();
        let dropped: Vec<(PlayerId, socketioxide::socket::Sid)> = {
            let mut seats = self.remote_seats();
            for (player_id, sid, room_id) in &listed {
                if seats.get(player_id).is_none_or(|r| r.sid != *sid) {
                    unknown.push((*sid, room_id.clone()));
                }
            }
            let dropped: Vec<_> = seats
                .iter()
                .filter(|(player_id, r)| {
                    &r.node == edge
                        && now - r.granted > LEASE_GRACE
                        && !listed
                            .iter()
                            .any(|(p, s, _)| p == *player_id && *s == r.sid)
                })
                .map(|(player_id, r)| (*player_id, r.sid))
                .collect();
            for (player_id, _) in &dropped {
                seats.remove(player_id);
            }
            dropped
        };
        for (player_id, sid) in dropped {
            tracing::info!(%edge, player = player_id, "seat missing from its node's lease: held for rejoin");
            hub.disconnect(player_id, sid);
        }
        for (sid, room_id) in unknown {
            tracing::info!(%edge, room = %room_id, "a node holds a seat this node does not have: released");
            self.release(
                edge,
                Release {
                    sid,
                    room_id,
                    closed: Some(CloseReason::NodeLost),
                    evict: false,
                },
            );
        }
    }

    /// Edge side: tells every other node which seats in its rooms this node's connections hold.
    fn send_leases(&self, io: &Io) {
        let mut held: HashMap<NodeId, Vec<_>> = self
            .0
            .directory
            .others()
            .into_iter()
            .map(|r| (r.node_id, Vec::new()))
            .collect();
        if let Some(namespace) = io.of(GAME_NAMESPACE) {
            for socket in namespace.sockets() {
                let Some(seat) = socket
                    .extensions
                    .get::<Arc<Session>>()
                    .and_then(|session| session.seat())
                else {
                    continue;
                };
                if let SeatLink::Remote { owner } = &seat.link {
                    held.entry(owner.clone()).or_default().push((
                        seat.player_id,
                        socket.id,
                        seat.room.id.clone(),
                    ));
                }
            }
        }
        let mut leases = self.0.leases.lock().unwrap_or_else(|e| e.into_inner());
        let (round, held_last) = &mut *leases;
        let everyone = *round < EMPTY_LEASE_EVERY || round.is_multiple_of(EMPTY_LEASE_EVERY);
        *round += 1;
        let mut holding = std::collections::HashSet::new();
        for (owner, seats) in held {
            if seats.is_empty() && !everyone && !held_last.contains(&owner) {
                continue;
            }
            if !seats.is_empty() {
                holding.insert(owner.clone());
            }
            self.tell(&owner, NodeRequest::Holding { seats });
        }
        *held_last = holding;
    }

    /// Drops a remote seat if `sid` still holds it; true if it did.
    fn take_remote_seat(&self, player_id: PlayerId, sid: socketioxide::socket::Sid) -> bool {
        let mut seats = self.remote_seats();
        if seats.get(&player_id).is_some_and(|r| r.sid == sid) {
            seats.remove(&player_id);
            true
        } else {
            false
        }
    }

    /// This node's record, from its driver's published directory (also what quick match weighs
    /// this node by).
    pub(crate) fn own_record(&self, hub: &RoomHub) -> NodeRecord {
        let directory = hub.directory();
        NodeRecord {
            node_id: self.0.node_id.clone(),
            addr: self.0.addr.clone(),
            draining: self.is_draining(),
            // The `/game` connections gauge: the same count as the admission's, kept by a drop
            // guard on each socket (so the cluster needs nothing from the network edge).
            connections: usize::try_from(self.0.metrics.game_connections.get()).unwrap_or(0),
            players: directory.counts().players,
            rooms: directory.rooms().to_vec(),
            written_ms: crate::clock::unix_ms(),
            version: 0,
        }
    }

    /// Writes this node's record every [`directory::HEARTBEAT`] and soon after each change, and
    /// rereads everyone's once per heartbeat. A failing Redis is logged once and counted; the
    /// loop keeps trying, which is also what notices Redis coming back.
    async fn heartbeat(self, hub: RoomHub, io: Io, stop: CancellationToken) {
        let Some(mut conn) = self.0.bus.commands() else {
            return;
        };
        let key = self.record_key(&self.0.node_id);
        let version_key = self.version_key(&self.0.node_id);
        let ttl = directory::RECORD_TTL.as_millis() as u64;
        // The record Redis holds, as far as this node knows: (structure, version, written at).
        let mut stored: Option<(u64, u64, tokio::time::Instant)> = None;
        let mut last_read = tokio::time::Instant::now() - directory::HEARTBEAT;
        let mut was_up = true;
        loop {
            let mut record = self.own_record(&hub);
            record.version = record.content_version();
            let structure = record.structure_version();
            let rewrite = match stored {
                None => true,
                Some((held_structure, held_version, at)) => {
                    held_structure != structure
                        || (held_version != record.version
                            && at.elapsed() >= directory::METADATA_REFRESH)
                }
            };
            let version = match (rewrite, stored) {
                (false, Some((_, held_version, _))) => held_version,
                _ => record.version,
            };
            let mut pipe = redis::pipe();
            pipe.set(&version_key, version).arg("PX").arg(ttl).ignore();
            let json = rewrite.then(|| serde_json::to_vec(&record).unwrap_or_default());
            if let Some(json) = &json {
                pipe.set(&key, json).arg("PX").arg(ttl).ignore();
            } else {
                // Its content unchanged: only its TTL. 0 means Redis lost it (a restart).
                pipe.pexpire(&key, ttl as i64);
            }
            let written: redis::RedisResult<Vec<i64>> = pipe.query_async(&mut conn).await;
            // First: a success after an outage marks Redis up, so the announcement below is sent.
            self.0
                .bus
                .record(&written.as_ref().map(|_| ()).map_err(Clone::clone));
            let wrote = written.is_ok();
            stored = match (written, stored, json) {
                (Ok(_), _, Some(json)) => {
                    // Announced once stored (on a cluster the channel is a sharded one, which a
                    // pipeline of keys cannot carry).
                    self.0.bus.send(self.directory_channel(), json);
                    Some((structure, record.version, tokio::time::Instant::now()))
                }
                (Ok(kept), held, None) if kept.first() == Some(&1) => held,
                _ => None,
            };
            let up = self.0.bus.is_up();
            if up && !was_up {
                // Back after an outage: nobody could refresh a record meanwhile.
                self.0.directory.touch_all();
            }
            was_up = up;
            if up {
                self.0.bus.resubscribe_after_outage();
                self.flush_deferred();
            }
            // Only once this node's own write went through: a read that succeeds while the write
            // failed (a cluster whose shards come back one by one) would find every other
            // record stale before `touch_all` has forgiven the outage.
            if up && wrote && last_read.elapsed() >= directory::HEARTBEAT {
                last_read = tokio::time::Instant::now();
                match self.read_records(&mut conn).await {
                    Ok(records) => {
                        for node in self.0.directory.reconcile(records) {
                            self.on_node_lost(&node, &hub, &io);
                        }
                        self.send_leases(&io);
                    }
                    Err(e) => tracing::debug!(error = %e, "directory read failed"),
                }
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(directory::HEARTBEAT) => {}
                _ = hub.directory().changed() => {
                    // Let a burst of changes settle into one write.
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        }
        let deleted: redis::RedisResult<()> = redis::cmd("DEL")
            .arg(&key)
            .arg(&version_key)
            .query_async(&mut conn)
            .await;
        self.0.bus.record(&deleted);
    }

    /// Every live node's record: all versions (one small read), then the records whose version
    /// this node does not hold yet.
    async fn read_records(&self, conn: &mut link::Link) -> redis::RedisResult<Vec<NodeRecord>> {
        let version_prefix = self.version_key("");
        let keys = conn
            .scan(&format!("{version_prefix}*"))
            .await
            .inspect_err(|e| self.0.bus.record::<()>(&Err(e.clone())))?;
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let versions: Vec<Option<u64>> = redis::cmd("MGET")
            .arg(&keys)
            .query_async(conn)
            .await
            .inspect_err(|e| self.0.bus.record::<()>(&Err(e.clone())))?;
        let mut records = Vec::with_capacity(keys.len());
        let mut stale = Vec::new();
        for (key, version) in keys.iter().zip(versions) {
            let (Some(node), Some(version)) = (key.strip_prefix(&version_prefix), version) else {
                continue;
            };
            match self.0.directory.record_at(node, version) {
                Some(held) => records.push(held),
                None if node != self.0.node_id => stale.push(self.record_key(node)),
                None => {}
            }
        }
        if !stale.is_empty() {
            let values: Vec<Option<Vec<u8>>> = redis::cmd("MGET")
                .arg(&stale)
                .query_async(conn)
                .await
                .inspect_err(|e| self.0.bus.record::<()>(&Err(e.clone())))?;
            records.extend(
                values
                    .into_iter()
                    .flatten()
                    .filter_map(|bytes| serde_json::from_slice::<NodeRecord>(&bytes).ok()),
            );
        }
        Ok(records)
    }

    /// A node stopped refreshing its record. As owner: the seats its connections held are held
    /// for rejoin. As edge: this node's players in its rooms are told `room:closed {node_lost}`.
    fn on_node_lost(&self, node: &NodeId, hub: &RoomHub, io: &Io) {
        tracing::warn!(%node, "node lost: its record expired");
        self.0.metrics.nodes_lost.inc();
        hub.node_lost(node.clone());
        let Some(namespace) = io.of(GAME_NAMESPACE) else {
            return;
        };
        for socket in namespace.sockets() {
            let Some(session) = socket.extensions.get::<Arc<Session>>() else {
                continue;
            };
            let Some(seat) = session.seat() else { continue };
            if !matches!(&seat.link, SeatLink::Remote { owner } if owner == node) {
                continue;
            }
            release_here(
                io,
                Release {
                    sid: socket.id,
                    room_id: seat.room.id.clone(),
                    closed: Some(CloseReason::NodeLost),
                    evict: false,
                },
            );
        }
    }
}

/// Describes a seat the driver granted (and [`Cluster::keep_remote_seat`] kept) for the edge.
fn grant(seat: Seat) -> NodeReply {
    NodeReply::Seat(wire::SeatGrant {
        room: seat.room,
        player_id: seat.player_id,
        tick: seat.tick,
        rejoin_token: seat.rejoin_token,
        members: seat.members,
        kinds: seat.kinds,
    })
}

/// Hands each message of a subscription to `handle`, in order, until `stop`.
fn spawn_listener(
    mut messages: socketioxide_redis::drivers::MessageStream<socketioxide_redis::drivers::ChanItem>,
    stop: CancellationToken,
    tracker: &TaskTracker,
    mut handle: impl FnMut(Vec<u8>) + Send + 'static,
) {
    tracker.spawn(async move {
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                message = messages.next() => {
                    let Some((_, bytes)) = message else { break };
                    handle(bytes);
                }
            }
        }
    });
}

/// An owner's snapshot or event for a room: handed to this node's members of it.
fn room_message_here(io: &Io, room_id: &RoomId, message: RoomMessage) {
    let Some(namespace) = io.of(GAME_NAMESPACE) else {
        return;
    };
    let members = namespace.local().to(room_id.clone());
    // A local broadcast queues the packet for each member on the future's first poll
    // (socketioxide-redis awaits only when it publishes), so it is done here, in arrival order.
    let sent = match message {
        RoomMessage::Snapshot(bytes) => members.emit(events::SNAPSHOT, &bytes).now_or_never(),
        RoomMessage::Event { event, data } => members.emit(event, &data).now_or_never(),
    };
    match sent {
        Some(Ok(())) => {}
        Some(Err(e)) => {
            tracing::debug!(room = %room_id, error = %e, "an owner's room message not queued for some members here");
        }
        None => {
            tracing::warn!(room = %room_id, "a local broadcast did not complete at once; dropped")
        }
    }
}

/// A seat one of this node's connections held is gone (see [`Release`]): the edge side of an
/// owner's notice, and the driver's own way of releasing its local connections.
pub(crate) fn release_here(io: &Io, release: Release) {
    let Some(socket) = io
        .of(GAME_NAMESPACE)
        .and_then(|ns| ns.get_socket(release.sid))
    else {
        return;
    };
    if let Some(session) = socket.extensions.get::<Arc<Session>>() {
        session.take_seat_in(&release.room_id);
    }
    socket.leave(release.room_id.clone());
    if let Some(reason) = release.closed {
        let closed = RoomClosed {
            room_id: release.room_id,
            reason,
        };
        let _ = socket.emit(events::ROOM_CLOSED, &closed);
    }
    if release.evict {
        let _ = socket.disconnect();
    }
}
