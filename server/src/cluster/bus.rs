//! `Bus`: the one Redis connection of a node, used by socketioxide's Redis adapter (it implements
//! the adapter's [`Driver`]) and by our own node-to-node messages and room directory.
//!
//! Why not the adapter's stock `RedisDriver`: it holds a plain multiplexed connection, which stays
//! dead after Redis restarts, and its `publish` is awaited inside every broadcast, so a Redis
//! stall would stall the room driver's ticks. This driver differs in two ways:
//! - its [`Link`] (one Redis server or a Redis Cluster) reconnects with backoff and resubscribes
//!   every channel;
//! - `publish` only queues the message for one publisher task, which sends in order, pipelined.
//!   A broadcast never waits for Redis, and while Redis is down messages are dropped and counted
//!   (the adapter then still delivers to this node's own sockets), instead of piling up.
//!
//! Without `--redis-url` the bus is [`Bus::local`]: publishing and subscribing do nothing, so
//! the adapter behaves as socketioxide's local adapter and no external service is needed.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use redis::{PushInfo, PushKind};
use socketioxide_redis::drivers::{ChanItem, Driver, MessageStream};
use tokio::sync::mpsc;

use super::link::Link;

/// Messages waiting for the publisher task; beyond this a message is dropped (and counted).
const OUTBOX_CAPACITY: usize = 65_536;
/// Most PUBLISH commands sent in one pipeline.
const PIPELINE_MAX: usize = 512;
/// How long a Redis command may take before the connection counts as lost. Not shorter: a node
/// that thinks Redis is down drops every cluster message until the next heartbeat gets through,
/// so a busy moment must not look like an outage.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// The counters a bus keeps (registered with the server's metrics).
#[derive(Debug, Clone, Default)]
pub struct BusMetrics {
    /// 1 while Redis answers, 0 while it does not.
    pub up: Gauge,
    /// Redis commands that failed, and connections Redis dropped.
    pub errors: Counter,
    /// Messages dropped because Redis was down or the outbox was full.
    pub dropped: Counter,
    /// Messages published.
    pub published: Counter,
}

/// A handle on the node's Redis connection (cheap to clone), or the no-op local bus.
#[derive(Clone)]
pub struct Bus(Option<Arc<Inner>>);

struct Inner {
    conn: Link,
    handlers: Arc<RwLock<HashMap<String, mpsc::Sender<ChanItem>>>>,
    outbox: mpsc::Sender<ChanItem>,
    health: Arc<Health>,
    metrics: BusMetrics,
}

/// What the bus knows of its connection, shared with the push handler.
struct Health {
    /// A Redis Cluster: one shard failing is not Redis down (see [`Bus::record_publish`]).
    cluster: bool,
    /// False from a failed command or a dropped connection until a command succeeds.
    up: AtomicBool,
    /// Set by every failure, and when Redis drops a subscription by itself: once Redis answers
    /// again, subscribe to every channel again.
    resubscribe: AtomicBool,
    /// A resubscription is running.
    resubscribing: AtomicBool,
}

impl fmt::Debug for Bus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            None => f.write_str("Bus(local)"),
            Some(inner) => write!(
                f,
                "Bus({:?}, up: {})",
                inner.conn,
                inner.health.up.load(Ordering::Relaxed)
            ),
        }
    }
}

/// Why the bus could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BusError(#[from] redis::RedisError);

impl Bus {
    /// The single-node bus: nothing leaves the process.
    pub fn local() -> Self {
        Bus(None)
    }

    /// Connects to Redis, one server or a cluster (`seeds`, see [`Link`]), and starts the
    /// publisher task. Fails if Redis cannot be reached now: a node that starts without its
    /// cluster would serve a lobby that silently misses every other node.
    pub async fn connect(seeds: &[String], metrics: BusMetrics) -> Result<Self, BusError> {
        let handlers: Arc<RwLock<HashMap<String, mpsc::Sender<ChanItem>>>> = Arc::default();
        let cluster = Link::is_cluster_at(seeds).await?;
        let health = Arc::new(Health {
            cluster,
            up: AtomicBool::new(true),
            resubscribe: AtomicBool::new(false),
            resubscribing: AtomicBool::new(false),
        });
        let push_handlers = handlers.clone();
        let push_health = health.clone();
        let push_metrics = metrics.clone();
        let conn = Link::connect(seeds, cluster, RESPONSE_TIMEOUT, move |push: PushInfo| {
            route_push(push, &push_handlers, &push_health, &push_metrics);
            Ok::<(), std::convert::Infallible>(())
        })
        .await?;
        let (outbox, queued) = mpsc::channel(OUTBOX_CAPACITY);
        metrics.up.set(1);
        let inner = Arc::new(Inner {
            conn,
            handlers,
            outbox,
            health,
            metrics,
        });
        tokio::spawn(publish_loop(
            inner.conn.clone(),
            queued,
            Arc::downgrade(&inner),
        ));
        Ok(Bus(Some(inner)))
    }

    /// True without Redis, or while Redis answers.
    pub fn is_up(&self) -> bool {
        self.0
            .as_ref()
            .is_none_or(|i| i.health.up.load(Ordering::Relaxed))
    }

    /// A connection for plain commands (directory reads and writes); `None` on the local bus.
    pub fn commands(&self) -> Option<Link> {
        self.0.as_ref().map(|i| i.conn.clone())
    }

    /// Records the outcome of a Redis command: a failure marks Redis down (logged once), a
    /// success after a failure marks it back up.
    pub fn record<T>(&self, result: &redis::RedisResult<T>) {
        let Some(inner) = &self.0 else { return };
        match result {
            Ok(_) => mark_up(&inner.health, &inner.metrics),
            Err(e) => {
                inner.metrics.errors.inc();
                mark_down(&inner.health, &inner.metrics, e);
            }
        }
    }

    /// The outcome of a batch of publishes. On one server like any command. On a cluster a
    /// failure is one shard's (the others took their messages): it is counted, and the shard's
    /// subscriptions are renewed once it is back, but Redis is not marked down, which would
    /// drop every other shard's messages too.
    fn record_publish(&self, result: &redis::RedisResult<()>) {
        let Some(inner) = &self.0 else { return };
        match (result, inner.health.cluster) {
            (Err(_), true) => {
                inner.metrics.errors.inc();
                inner.health.resubscribe.store(true, Ordering::Relaxed);
            }
            _ => self.record(result),
        }
    }

    /// After an outage or a subscription Redis dropped by itself, once Redis answers: subscribes
    /// to every channel again, in a task of its own (a shard still down must not hold up the
    /// heartbeat that calls this). Needed on a cluster: redis-rs 1.8 resubscribes a reconnected
    /// master with one `SSUBSCRIBE` of all its channels, which Redis refuses (`CROSSSLOT`) as
    /// soon as they are in different slots, and a slot that moves (failover, resharding) drops
    /// its channels' subscriptions for good. A lost subscription is silent: the node would hear
    /// nothing on that channel, forever. A subscription that already holds is a no-op for Redis.
    /// What fails is tried again on a later call.
    pub fn resubscribe_after_outage(&self) {
        let Some(inner) = &self.0 else { return };
        if !inner.health.up.load(Ordering::Relaxed)
            || inner.health.resubscribing.load(Ordering::Relaxed)
            || !inner.health.resubscribe.swap(false, Ordering::Relaxed)
        {
            return;
        }
        inner.health.resubscribing.store(true, Ordering::Relaxed);
        let inner = inner.clone();
        tokio::spawn(async move {
            let channels: Vec<String> = inner
                .handlers
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .keys()
                .cloned()
                .collect();
            let attempts = channels.iter().map(|channel| {
                let (inner, mut conn) = (inner.clone(), inner.conn.clone());
                async move {
                    // Not one the adapter has unsubscribed from meanwhile.
                    let wanted = inner
                        .handlers
                        .read()
                        .unwrap_or_else(|e| e.into_inner())
                        .contains_key(channel);
                    if !wanted {
                        return true;
                    }
                    match tokio::time::timeout(RESPONSE_TIMEOUT, conn.subscribe(channel)).await {
                        Ok(Ok(())) => true,
                        Ok(Err(error)) => {
                            tracing::debug!(%error, channel, "resubscribing failed; trying again");
                            false
                        }
                        Err(_) => false,
                    }
                }
            });
            let done = futures_util::future::join_all(attempts).await;
            let failed = done.iter().filter(|ok| !**ok).count();
            if failed > 0 {
                inner.health.resubscribe.store(true, Ordering::Relaxed);
            } else {
                tracing::info!(
                    channels = channels.len(),
                    "subscribed to every channel again"
                );
            }
            inner.health.resubscribing.store(false, Ordering::Relaxed);
        });
    }

    /// Queues a message for publishing; never waits. Dropped (and counted) while Redis is down
    /// or when the outbox is full.
    pub fn send(&self, channel: String, payload: Vec<u8>) {
        let Some(inner) = &self.0 else { return };
        if !inner.health.up.load(Ordering::Relaxed) {
            inner.metrics.dropped.inc();
            return;
        }
        if inner.outbox.try_send((channel, payload)).is_err() {
            inner.metrics.dropped.inc();
        }
    }
}

fn mark_up(health: &Health, metrics: &BusMetrics) {
    if !health.up.swap(true, Ordering::Relaxed) {
        metrics.up.set(1);
        tracing::info!("redis connection restored");
    }
}

fn mark_down(health: &Health, metrics: &BusMetrics, error: &dyn fmt::Display) {
    health.resubscribe.store(true, Ordering::Relaxed);
    if health.up.swap(false, Ordering::Relaxed) {
        metrics.up.set(0);
        tracing::warn!(%error, "redis connection lost: serving this node's own rooms only until it is back");
    }
}

/// Hands a pub/sub message to the subscriber of its channel (the adapter's streams or ours).
fn route_push(
    push: PushInfo,
    handlers: &RwLock<HashMap<String, mpsc::Sender<ChanItem>>>,
    health: &Health,
    metrics: &BusMetrics,
) {
    match push.kind {
        // `SMessage`: a sharded channel's message (Redis Cluster).
        PushKind::Message | PushKind::SMessage => {
            let mut data = push.data.into_iter();
            let (Some(channel), Some(payload)) = (data.next(), data.next()) else {
                return;
            };
            let (Ok(channel), Ok(payload)) = (
                redis::from_redis_value::<String>(channel),
                redis::from_redis_value::<Vec<u8>>(payload),
            ) else {
                tracing::warn!("unreadable pub/sub message from redis");
                return;
            };
            let handlers = handlers.read().unwrap_or_else(|e| e.into_inner());
            if let Some(tx) = handlers.get(&channel)
                && tx.try_send((channel, payload)).is_err()
            {
                metrics.dropped.inc();
            }
        }
        PushKind::Disconnection if health.cluster => {
            // One master's connection (or a replica's): not Redis down. The cluster client
            // reconnects it; its subscriptions are renewed then.
            metrics.errors.inc();
            health.resubscribe.store(true, Ordering::Relaxed);
        }
        PushKind::Disconnection => {
            metrics.errors.inc();
            mark_down(health, metrics, &"disconnected");
        }
        // Unsubscribed without asking (the adapter's own unsubscribes remove the handler
        // first): a Redis Cluster does this to every subscriber of a slot that moved away.
        PushKind::Unsubscribe | PushKind::SUnsubscribe => {
            let channel = push
                .data
                .into_iter()
                .next()
                .and_then(|c| redis::from_redis_value::<String>(c).ok());
            let handlers = handlers.read().unwrap_or_else(|e| e.into_inner());
            if let Some(channel) = channel.filter(|c| handlers.contains_key(c)) {
                tracing::info!(channel, "redis dropped a subscription; renewing it");
                health.resubscribe.store(true, Ordering::Relaxed);
            }
        }
        _ => {}
    }
}

/// Sends queued messages in order, many per round trip. While Redis is down, drops what is
/// queued: stale snapshots and inputs are worth nothing once Redis is back.
async fn publish_loop(
    mut conn: Link,
    mut queued: mpsc::Receiver<ChanItem>,
    inner: std::sync::Weak<Inner>,
) {
    let mut batch = Vec::with_capacity(PIPELINE_MAX);
    while queued.recv_many(&mut batch, PIPELINE_MAX).await > 0 {
        let Some(inner) = inner.upgrade() else { return };
        if !inner.health.up.load(Ordering::Relaxed) {
            inner.metrics.dropped.inc_by(batch.len() as u64);
            batch.clear();
            continue;
        }
        let published = conn.publish_batch(&mut batch).await;
        inner.metrics.published.inc_by(published.sent);
        inner.metrics.dropped.inc_by(published.failed);
        let result = match published.error {
            Some(e) => Err(e),
            None => Ok(()),
        };
        Bus(Some(inner)).record_publish(&result);
    }
}

impl Driver for Bus {
    type Error = BusError;

    async fn publish(&self, chan: String, val: Vec<u8>) -> Result<(), Self::Error> {
        // Never fails: an error here would make the adapter skip this node's own sockets too.
        self.send(chan, val);
        Ok(())
    }

    async fn subscribe(
        &self,
        chan: String,
        size: usize,
    ) -> Result<MessageStream<ChanItem>, Self::Error> {
        let Some(inner) = &self.0 else {
            return Ok(MessageStream::new_empty());
        };
        let (tx, rx) = mpsc::channel(size);
        inner
            .handlers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(chan.clone(), tx);
        let result = inner.conn.clone().subscribe(&chan).await;
        self.record(&result);
        result?;
        Ok(MessageStream::new(rx))
    }

    async fn unsubscribe(&self, chan: String) -> Result<(), Self::Error> {
        let Some(inner) = &self.0 else { return Ok(()) };
        inner
            .handlers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&chan);
        let result = inner.conn.clone().unsubscribe(&chan).await;
        self.record(&result);
        Ok(result?)
    }

    async fn num_serv(&self, chan: &str) -> Result<u16, Self::Error> {
        let Some(inner) = &self.0 else { return Ok(1) };
        let result = inner.conn.clone().subscribers(chan).await;
        self.record(&result);
        Ok(result?)
    }
}
