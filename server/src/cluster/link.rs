//! `Link`: the node's connection to Redis, either one Redis server or a Redis Cluster.
//!
//! The bus and the directory are written once against this type; what differs between the two:
//! - **Pub/sub.** One server: classic `PUBLISH`/`SUBSCRIBE`. A cluster: sharded pub/sub
//!   (`SPUBLISH`/`SSUBSCRIBE`, Redis 7), where a channel lives on the shard that owns its hash
//!   slot, so a message goes to that shard and its subscribers only. Classic pub/sub in a cluster
//!   is broadcast over the cluster bus to every shard, which would make every shard carry every
//!   message and adding shards useless.
//! - **Keys.** Every key carries the hash tag `{prefix}` (see [`key`]), so a cluster's whole
//!   directory sits in one slot: its pipelines and `MGET`s stay single-slot, and `SCAN` is sent
//!   to the shard that holds that slot (a cluster-wide `SCAN` does not exist). Channels carry no
//!   tag, so the per-node channels spread over the shards.
//! - **A batch of publishes.** One server: one pipeline. A cluster: one pipeline per hash slot,
//!   sent concurrently; a channel always maps to one slot, so each channel keeps its order.
//! - **Connections.** A cluster link holds three cluster connections, each to every master:
//!   subscriptions only (Redis pushes an unsolicited `sunsubscribe` when a slot moves away, which
//!   redis-rs 1.8 may take for the reply to a command in flight on that connection, so no other
//!   command shares it); directory commands (retried on redirects and reconnects); and publishes,
//!   never retried, because redis-rs resends a whole pipeline after a dropped connection or a
//!   timeout, which would deliver a message twice (an input applied twice, a room created twice).
//!   Pub/sub delivers at most once anyway; a lost publish is what the leases are for.
//!
//! Which one: several comma-separated seed URLs mean a cluster; a single URL is a cluster if
//! that server says `cluster_enabled:1` (`INFO cluster`; a server that refuses `INFO` is taken as
//! a single server).

use std::collections::HashMap;
use std::time::Duration;

use redis::aio::{AsyncPushSender, ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, Slot, SlotAddr};
use redis::{Cmd, IntoConnectionInfo, Pipeline, RedisFuture, RedisResult, Value};
use socketioxide_redis::drivers::ChanItem;

/// How long connecting to one Redis server may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// A key in the cluster's namespace: `{prefix}:rest`. The braces are Redis Cluster's hash tag:
/// only `prefix` is hashed, so all of a cluster's keys share one slot (on one server they are
/// just part of the name).
pub fn key(prefix: &str, rest: &str) -> String {
    format!("{{{prefix}}}:{rest}")
}

/// A connection to one Redis server (reconnecting, resubscribing) or to a Redis Cluster
/// (following the slot map, reconnecting per shard). Cheap to clone.
#[derive(Clone)]
pub enum Link {
    /// One Redis server.
    Single(ConnectionManager),
    /// A Redis Cluster.
    Cluster(ClusterLink),
}

/// The connections of a cluster link (see the module doc for why three).
#[derive(Clone)]
pub struct ClusterLink {
    subscriptions: ClusterConnection,
    commands: ClusterConnection,
    publishes: ClusterConnection,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Link::Single(_) => "Link::Single",
            Link::Cluster(_) => "Link::Cluster",
        })
    }
}

/// What a batch of publishes came to.
#[derive(Debug, Default)]
pub struct Published {
    /// Messages Redis took.
    pub sent: u64,
    /// Messages lost with a failed pipeline.
    pub failed: u64,
    /// The first failure, if any.
    pub error: Option<redis::RedisError>,
}

impl Link {
    /// Whether `seeds` name a Redis Cluster: several seeds do; one does if it says so.
    pub async fn is_cluster_at(seeds: &[String]) -> RedisResult<bool> {
        match seeds {
            [one] => cluster_enabled(one.as_str().into_connection_info()?).await,
            _ => Ok(true),
        }
    }

    /// Connects to `seeds`, a cluster or not (see [`Link::is_cluster_at`]). RESP3: pub/sub
    /// pushes arrive on a command connection and go to `pushes`. Fails if Redis cannot be
    /// reached now.
    pub async fn connect(
        seeds: &[String],
        cluster: bool,
        response_timeout: Duration,
        pushes: impl AsyncPushSender,
    ) -> RedisResult<Self> {
        let infos = seeds
            .iter()
            .map(|seed| seed.as_str().into_connection_info())
            .collect::<RedisResult<Vec<_>>>()?;
        if cluster {
            let builder = |retries: u32| {
                ClusterClientBuilder::new(infos.clone())
                    .use_protocol(redis::ProtocolVersion::RESP3)
                    .connection_timeout(CONNECT_TIMEOUT)
                    .response_timeout(response_timeout)
                    .retries(retries)
                    .max_retry_wait(1_000)
            };
            let subscriptions = builder(3).push_sender(pushes).build()?;
            let commands = builder(3).build()?;
            let publishes = builder(0).build()?;
            return Ok(Link::Cluster(ClusterLink {
                subscriptions: subscriptions.get_async_connection().await?,
                commands: commands.get_async_connection().await?,
                publishes: publishes.get_async_connection().await?,
            }));
        }
        let [info] = infos.as_slice() else {
            return Err((
                redis::ErrorKind::InvalidClientConfig,
                "several seeds name a Redis Cluster",
            )
                .into());
        };
        let settings_resp3 = info
            .redis_settings()
            .clone()
            .set_protocol(redis::ProtocolVersion::RESP3);
        let client = redis::Client::open(info.clone().set_redis_settings(settings_resp3))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(response_timeout))
            .set_number_of_retries(3)
            .set_max_delay(Duration::from_secs(1))
            .set_automatic_resubscription()
            .set_push_sender(pushes);
        Ok(Link::Single(
            ConnectionManager::new_with_config(client, config).await?,
        ))
    }

    /// Subscribes to a channel (sharded on a cluster).
    pub async fn subscribe(&mut self, channel: &str) -> RedisResult<()> {
        match self {
            Link::Single(conn) => conn.subscribe(channel).await,
            Link::Cluster(link) => link.subscriptions.ssubscribe(channel).await,
        }
    }

    /// Unsubscribes from a channel.
    pub async fn unsubscribe(&mut self, channel: &str) -> RedisResult<()> {
        match self {
            Link::Single(conn) => conn.unsubscribe(channel).await,
            Link::Cluster(link) => link.subscriptions.sunsubscribe(channel).await,
        }
    }

    /// How many connections (nodes) subscribe to `channel`.
    pub async fn subscribers(&mut self, channel: &str) -> RedisResult<u16> {
        let counts: HashMap<String, u16> = match self {
            Link::Single(conn) => {
                redis::cmd("PUBSUB")
                    .arg("NUMSUB")
                    .arg(channel)
                    .query_async(conn)
                    .await?
            }
            Link::Cluster(link) => {
                let mut cmd = redis::cmd("PUBSUB");
                cmd.arg("SHARDNUMSUB").arg(channel);
                link.commands
                    .route_command(cmd, on_slot_of(channel))
                    .await
                    .and_then(|reply| Ok(redis::from_redis_value(reply)?))?
            }
        };
        Ok(counts.get(channel).copied().unwrap_or(0))
    }

    /// Publishes `batch` (emptied), in order per channel, many messages per round trip.
    pub async fn publish_batch(&mut self, batch: &mut Vec<ChanItem>) -> Published {
        let pipelines: Vec<Pipeline> = match self {
            Link::Single(_) => {
                let mut pipe = redis::pipe();
                for (channel, payload) in batch.drain(..) {
                    pipe.publish(channel, payload).ignore();
                }
                vec![pipe]
            }
            Link::Cluster(_) => {
                let mut by_slot: HashMap<Slot, Pipeline> = HashMap::new();
                for (channel, payload) in batch.drain(..) {
                    by_slot
                        .entry(Slot::for_key(&channel))
                        .or_insert_with(redis::pipe)
                        .spublish(channel, payload)
                        .ignore();
                }
                by_slot.into_values().collect()
            }
        };
        let sends = pipelines.into_iter().map(|pipe| {
            let mut conn = self.clone();
            async move {
                let len = pipe.len() as u64;
                let result = match &mut conn {
                    Link::Single(conn) => pipe.query_async::<()>(conn).await,
                    Link::Cluster(link) => pipe.query_async::<()>(&mut link.publishes).await,
                };
                (result, len)
            }
        });
        let mut published = Published::default();
        for (result, len) in futures_util::future::join_all(sends).await {
            match result {
                Ok(()) => published.sent += len,
                Err(e) => {
                    published.failed += len;
                    published.error.get_or_insert(e);
                }
            }
        }
        published
    }

    /// Every key matching `pattern`, which must name keys of one hash tag (one slot): on a
    /// cluster the scan runs on the shard that holds that slot.
    pub async fn scan(&mut self, pattern: &str) -> RedisResult<Vec<String>> {
        let mut keys = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let mut cmd = redis::cmd("SCAN");
            cmd.arg(cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(1000);
            let (next, batch): (u64, Vec<String>) = match self {
                Link::Single(conn) => cmd.query_async(conn).await?,
                Link::Cluster(link) => link
                    .commands
                    .route_command(cmd, on_slot_of(pattern))
                    .await
                    .and_then(|reply| Ok(redis::from_redis_value(reply)?))?,
            };
            keys.extend(batch);
            if next == 0 {
                return Ok(keys);
            }
            cursor = next;
        }
    }
}

/// Routes a command to the primary of the slot that `key` (or pattern) hashes to; only the hash
/// tag is hashed when there is one, so `{prefix}:ver:*` routes like every `{prefix}` key.
fn on_slot_of(key: &str) -> RoutingInfo {
    RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(Route::with_key(
        key,
        SlotAddr::Master,
    )))
}

/// Asks one Redis server whether it runs in cluster mode.
async fn cluster_enabled(info: redis::ConnectionInfo) -> RedisResult<bool> {
    let client = redis::Client::open(info)?;
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(CONNECT_TIMEOUT));
    let mut conn = client
        .get_multiplexed_async_connection_with_config(&config)
        .await?;
    let info: RedisResult<String> = redis::cmd("INFO")
        .arg("cluster")
        .query_async(&mut conn)
        .await;
    match info {
        Ok(info) => Ok(info.lines().any(|line| line.trim() == "cluster_enabled:1")),
        // Refused (an ACL user without `INFO`, a provider that disables it): not a cluster,
        // as before cluster support, rather than a node that cannot start.
        Err(e) if e.code().is_some() => Ok(false),
        Err(e) => Err(e),
    }
}

impl ConnectionLike for Link {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Link::Single(conn) => conn.req_packed_command(cmd),
            Link::Cluster(link) => link.commands.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Link::Single(conn) => conn.req_packed_commands(cmd, offset, count),
            Link::Cluster(link) => link.commands.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Link::Single(conn) => conn.get_db(),
            Link::Cluster(link) => link.commands.get_db(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_share_one_hash_slot_per_prefix_and_channels_do_not() {
        let a = key("game", "node:a");
        let b = key("game", "ver:zzz");
        assert_eq!(a, "{game}:node:a");
        assert_eq!(Slot::for_key(&a), Slot::for_key(&b));
        assert_eq!(Slot::for_key(&a), Slot::for_key("{game}:ver:*"));
        // Channel names have no tag: two nodes' channels land on different slots.
        assert_ne!(
            Slot::for_key("game:node:a"),
            Slot::for_key("game:node:b"),
            "per-node channels spread over the shards"
        );
    }
}
