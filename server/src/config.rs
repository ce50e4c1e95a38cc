//! Server configuration: one `clap` derive struct, every option also settable by an environment
//! variable, every default visible in `--help` (and mirrored in the README's table).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use tickstorm_shared::parse_duration;

use crate::net::rate_limit::RateLimitConfig;

/// Which Socket.IO parser the server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ParserKind {
    /// The default Socket.IO parser: JSON text packets with binary attachments. Any stock client.
    Common,
    /// socket.io-msgpack-parser: one MessagePack frame per packet. Clients must use it too.
    Msgpack,
}

/// Which Engine.IO transports are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Transports {
    /// HTTP long-polling first, then upgrade to WebSocket (what stock clients do).
    All,
    /// WebSocket only (clients must connect with `transports: ["websocket"]`).
    Websocket,
    /// Long-polling only.
    Polling,
}

/// Tickstorm game server: lobbies and rooms over Socket.IO, each room a fixed-tick simulation
/// that streams a MessagePack snapshot to its players every tick.
#[derive(Debug, Clone, Parser)]
#[command(name = "tickstorm-server", version, about, long_about = None)]
pub struct Config {
    /// A tool instead of the server (`replay`); none: serve.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Address to listen on. Binds loopback only by default; use 0.0.0.0:3000 to accept remote players.
    #[arg(long, env = "TICKSTORM_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,

    /// Default simulation rate of new rooms, in Hz (1..=128); a room may ask for its own.
    #[arg(long, env = "TICKSTORM_TICK_RATE", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=128))]
    pub tick_rate: u32,

    /// Default snapshots per second of new rooms (1..=128, at most the room's tick rate; default:
    /// the tick rate). A room may ask for its own (`room:create {send_rate}`).
    #[arg(long, env = "TICKSTORM_SEND_RATE", value_parser = clap::value_parser!(u32).range(1..=128))]
    pub send_rate: Option<u32>,

    /// Default view radius of new rooms, in game units: players are sent positioned entities only
    /// within it (default: none, everyone sees everything). A room may ask for its own
    /// (`room:create {view_radius}`).
    #[arg(long, env = "TICKSTORM_VIEW_RADIUS", value_parser = parse_view_radius)]
    pub view_radius: Option<f32>,

    /// Default seats per room (1..=256); `room:create` may ask for another number.
    #[arg(long, env = "TICKSTORM_MAX_PLAYERS", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub max_players: u32,

    /// Most rooms the server hosts at once; creating more fails with `server_full`.
    #[arg(long, env = "TICKSTORM_MAX_ROOMS", default_value_t = 10_000)]
    pub max_rooms: usize,

    /// Most `/game` connections at once; more are refused (`connect_error` "server_full: ...").
    #[arg(long, env = "TICKSTORM_MAX_CONNECTIONS", default_value_t = 20_000)]
    pub max_connections: usize,

    /// Most `/game` connections from one IP address (0 = no limit). Loopback is exempt.
    #[arg(long, env = "TICKSTORM_MAX_CONNECTIONS_PER_IP", default_value_t = 32)]
    pub max_connections_per_ip: usize,

    /// Take the client address from the last `X-Forwarded-For` entry, the one the proxy added
    /// (only behind a proxy that sets it; otherwise clients could pick their own address).
    #[arg(long, env = "TICKSTORM_TRUST_PROXY")]
    pub trust_proxy: bool,

    /// Most open TCP connections from one IP address (IPv6: one /64), counted at accept before
    /// a byte is read, WebSockets included (0 = no limit); more are closed at once. Loopback is
    /// exempt. Off with `--trust-proxy`: every peer is then the proxy, which must limit instead.
    #[arg(long, env = "TICKSTORM_MAX_TCP_PER_IP", default_value_t = 64)]
    pub max_tcp_per_ip: usize,

    /// Kernel send buffer of each accepted connection, in bytes (Linux doubles it for its own
    /// bookkeeping; 0 = the kernel's autotuning, up to `net.ipv4.tcp_wmem`'s maximum, 4 MiB by
    /// default). Bounds what a client that stops reading holds in server memory before its
    /// outgoing queue overflows and packets are dropped for it alone: the default is ~7 s of
    /// snapshots at 30 Hz, and far above what a reading client ever needs.
    #[arg(long, env = "TICKSTORM_TCP_SEND_BUFFER", default_value_t = 64 * 1024)]
    pub tcp_send_buffer: usize,

    /// A connection that has not sent a complete HTTP request head this long after it opened,
    /// or after its previous answer (an idle keep-alive connection), is closed.
    #[arg(long, env = "TICKSTORM_HEADER_TIMEOUT", default_value = "5s", value_parser = positive_duration)]
    pub header_timeout: Duration,

    /// An Engine.IO session (WebSocket or long-polling) that has not completed a Socket.IO
    /// CONNECT this long after it opened is closed.
    #[arg(long, env = "TICKSTORM_CONNECT_TIMEOUT", default_value = "10s", value_parser = positive_duration)]
    pub connect_timeout: Duration,

    /// Not a flag: whether every loopback address (127.0.0.0/8, ::1) is exempt from the
    /// per-address limits (the default), or only 127.0.0.1 and ::1, so that an embedding test
    /// can play a remote client from 127.0.0.2.
    #[arg(skip = true)]
    pub exempt_all_loopback: bool,

    /// How long a disconnected player's seat is kept for `room:rejoin` (e.g. 10s, 500ms).
    #[arg(long, env = "TICKSTORM_REJOIN_GRACE", default_value = "10s", value_parser = parse_duration)]
    pub rejoin_grace: Duration,

    /// How long a room with no players stays open before it is closed.
    #[arg(long, env = "TICKSTORM_ROOM_IDLE_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub room_idle_timeout: Duration,

    /// Socket.IO parser.
    #[arg(long, env = "TICKSTORM_PARSER", value_enum, default_value_t = ParserKind::Common)]
    pub parser: ParserKind,

    /// Engine.IO transports to accept.
    #[arg(long, env = "TICKSTORM_TRANSPORTS", value_enum, default_value_t = Transports::All)]
    pub transports: Transports,

    /// Engine.IO ping interval.
    #[arg(long, env = "TICKSTORM_PING_INTERVAL", default_value = "25s", value_parser = parse_duration)]
    pub ping_interval: Duration,

    /// Engine.IO ping timeout: a client silent this long after a ping is disconnected.
    #[arg(long, env = "TICKSTORM_PING_TIMEOUT", default_value = "20s", value_parser = parse_duration)]
    pub ping_timeout: Duration,

    /// Largest HTTP long-polling body, in bytes.
    #[arg(long, env = "TICKSTORM_MAX_PAYLOAD", default_value_t = 1_000_000)]
    pub max_payload: u64,

    /// Largest WebSocket message, in bytes.
    #[arg(long, env = "TICKSTORM_WS_MAX_MESSAGE", default_value_t = 64 * 1024)]
    pub ws_max_message_size: usize,

    /// Read buffer of each WebSocket connection, in bytes. Client messages are small; a small
    /// buffer keeps idle connections cheap (it grows for a larger message).
    #[arg(long, env = "TICKSTORM_WS_READ_BUFFER", default_value_t = 1024)]
    pub ws_read_buffer_size: usize,

    /// Seed of the rooms' random number generators; random when absent. With a seed, the n-th
    /// room created gets the same orbs and spawn points on every run.
    #[arg(long, env = "TICKSTORM_SEED")]
    pub seed: Option<u64>,

    /// Record rooms into this directory (created if needed): each room's seed, options, seats
    /// and applied inputs, so `tickstorm-server replay FILE` re-simulates it byte for byte.
    /// Off when absent. See docs/operations.md, "Record and replay".
    #[arg(long, env = "TICKSTORM_RECORD_DIR", help_heading = "Recording")]
    pub record_dir: Option<std::path::PathBuf>,

    /// Which rooms `--record-dir` records: `all` new rooms, or only those `requested` through
    /// the HTTP API (`POST /api/rooms {"record": true}`).
    #[arg(long, env = "TICKSTORM_RECORD", value_enum, default_value_t = RecordRooms::All, help_heading = "Recording")]
    pub record: RecordRooms,

    /// Size of one recording file (`16MiB`, `512KiB`, bytes without a unit); a longer recording
    /// continues in the next segment (`ROOM-START.1.tsrec`, ...).
    #[arg(long, env = "TICKSTORM_RECORD_SEGMENT_SIZE", default_value = "16MiB", value_parser = parse_size, help_heading = "Recording")]
    pub record_segment_size: u64,

    /// Most a room's recording may take on disk (all segments); at the limit the recording ends
    /// (the room plays on).
    #[arg(long, env = "TICKSTORM_RECORD_MAX_SIZE", default_value = "256MiB", value_parser = parse_size, help_heading = "Recording")]
    pub record_max_size: u64,

    /// Record the hash of every n-th snapshot (1: every tick, so a replay names the exact tick
    /// where it first differs).
    #[arg(long, env = "TICKSTORM_RECORD_HASH_EVERY", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..), help_heading = "Recording")]
    pub record_hash_every: u32,

    /// Seconds between whole snapshots in a recording (a replay that differs shows the two
    /// states at the first one after the difference; the last snapshot is always recorded).
    #[arg(long, env = "TICKSTORM_RECORD_KEYFRAME_SECS", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..), help_heading = "Recording")]
    pub record_keyframe_secs: u32,

    /// Inputs a connection may send per tick of its room (2 = twice the tick rate, with one
    /// second of burst). More are answered `rate_limited`.
    #[arg(long, env = "TICKSTORM_INPUT_RATE_PER_TICK", default_value_t = 2.0, value_parser = positive_f64)]
    pub input_rate_per_tick: f64,

    /// Chat messages a connection may send per second (bursts of 3 times this).
    #[arg(long, env = "TICKSTORM_CHAT_RATE", default_value_t = 1.0, value_parser = positive_f64)]
    pub chat_rate: f64,

    /// Other requests (lobby, rooms, time) a connection may send per second (bursts of twice this).
    #[arg(long, env = "TICKSTORM_REQUEST_RATE", default_value_t = 10.0, value_parser = positive_f64)]
    pub request_rate: f64,

    /// Refused requests tolerated in a burst before a flooding connection is closed; they are
    /// forgiven at a tenth of this number per second.
    #[arg(long, env = "TICKSTORM_ABUSE_STRIKES", default_value_t = 100.0, value_parser = positive_f64)]
    pub abuse_strikes: f64,

    /// A web origin (`scheme://host[:port]`) whose pages may use this server: the Socket.IO
    /// handshake and the HTTP API answer it with CORS headers. Repeat the flag (or separate
    /// with commas in the variable) for several. Default: same origin only; a browser request
    /// from any other origin gets `403` with the reason. Requests without an `Origin` header
    /// (bots, servers, curl) are not affected.
    #[arg(long = "cors-origin", env = "TICKSTORM_CORS_ORIGIN", value_delimiter = ',', value_parser = parse_origin)]
    pub cors_origins: Vec<String>,

    /// Token that opens the `/admin` namespace and the `/dashboard` page (16+ characters).
    /// Without one, admin is off. Prefer the environment variable: command lines are visible to
    /// other local users.
    #[arg(long, env = "TICKSTORM_ADMIN_TOKEN", value_parser = parse_secret, hide_env_values = true)]
    pub admin_token: Option<AdminToken>,

    /// Secret that signs player tokens. With it, every `/game` handshake needs `auth.token`: an
    /// HS256 JWT with `exp` and `sub` (the player's identity). Without it, anyone may play.
    #[arg(long, env = "TICKSTORM_AUTH_SECRET", value_parser = parse_secret, hide_env_values = true)]
    pub auth_secret: Option<Secret>,

    /// Serve the web client from this folder instead of the copy embedded in the binary (for
    /// working on `assets/` without rebuilding).
    #[arg(long, env = "TICKSTORM_ASSETS_DIR")]
    pub assets_dir: Option<PathBuf>,

    /// Scale out: join the cluster of nodes that share this Redis (e.g.
    /// `redis://127.0.0.1:6379`; Redis 7+, RESP3). Rooms of every node show in the lobby, any
    /// node seats players in any room, broadcasts go through socketioxide's Redis adapter.
    /// A Redis Cluster: its seed nodes, comma-separated (`redis://10.0.0.1:7000,redis://10.0.0.2:7000`),
    /// or any one of them (a server in cluster mode is recognised); pub/sub is then sharded.
    /// Without it the server is a single node and needs no external service. The node exits at
    /// start if Redis cannot be reached.
    #[arg(long, env = "TICKSTORM_REDIS_URL")]
    pub redis_url: Option<RedisUrl>,

    /// This node's id in the cluster (letters, digits, `-`, `_`; default: random `node-…`).
    #[arg(long, env = "TICKSTORM_NODE_ID", value_parser = parse_node_id)]
    pub node_id: Option<String>,

    /// Prefix of every Redis key and channel, so several clusters can share one Redis.
    #[arg(long, env = "TICKSTORM_REDIS_PREFIX", default_value = "tickstorm", value_parser = parse_node_id)]
    pub redis_prefix: String,

    /// In a cluster, SIGTERM first drains the node: it takes no new rooms, lets players finish
    /// and closes each room as it empties; rooms still open after this long are closed with
    /// reason `shutdown`. `0s` skips draining.
    #[arg(long, env = "TICKSTORM_DRAIN_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub drain_timeout: Duration,

    /// Log filter (tracing EnvFilter syntax, e.g. `info`, `tickstorm_server=debug`). socketioxide
    /// and engineioxide stay at `info` unless named, because their debug logs print handshake
    /// payloads, tokens included.
    #[arg(long, env = "TICKSTORM_LOG", default_value = "info")]
    pub log: String,
}

/// A secret from the configuration (admin token, auth secret). Its `Debug` form is redacted, so
/// logging the configuration leaks nothing.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

/// The admin token.
pub type AdminToken = Secret;

impl Secret {
    /// A secret (the parsers check its length).
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// The secret itself, for comparison.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Shortest admin token or auth secret accepted.
pub const SECRET_MIN_CHARS: usize = 16;

/// A web origin as browsers send it: `http://` or `https://`, a host, an optional port, no path.
pub fn parse_origin(raw: &str) -> Result<String, String> {
    let origin = raw.trim().trim_end_matches('/');
    let authority = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .ok_or_else(|| format!("{raw:?} must start with http:// or https://"))?;
    let ok = !authority.is_empty()
        && authority
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if !ok {
        return Err(format!(
            "{raw:?} must be scheme://host[:port] with no path (e.g. https://play.example.com)"
        ));
    }
    Ok(origin.to_ascii_lowercase())
}

/// Parses `--admin-token` and `--auth-secret`: a short secret could be guessed.
pub fn parse_secret(raw: &str) -> Result<Secret, String> {
    if raw.chars().count() < SECRET_MIN_CHARS {
        return Err(format!(
            "must be at least {SECRET_MIN_CHARS} characters (e.g. `openssl rand -hex 32`)"
        ));
    }
    Ok(Secret(raw.to_owned()))
}

/// A Redis URL; its `Debug` form hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl(pub Vec<String>);

impl std::str::FromStr for RedisUrl {
    type Err = String;
    fn from_str(raw: &str) -> Result<Self, String> {
        let seeds: Vec<String> = raw
            .split(',')
            .map(str::trim)
            .filter(|seed| !seed.is_empty())
            .map(str::to_owned)
            .collect();
        if seeds.is_empty() {
            return Err("give a redis:// URL, or several separated by commas".into());
        }
        for seed in &seeds {
            let ok = ["redis://", "rediss://", "unix://"]
                .iter()
                .any(|scheme| seed.starts_with(scheme));
            if !ok {
                return Err(format!("`{}` is not a redis:// URL", redact(seed)));
            }
        }
        if seeds.len() > 1 && seeds.iter().any(|seed| seed.starts_with("unix://")) {
            return Err("a Redis Cluster's seeds are redis:// or rediss:// URLs".into());
        }
        Ok(RedisUrl(seeds))
    }
}

impl RedisUrl {
    /// The URLs, comma-separated, with any `user:password@` part replaced.
    pub fn redacted(&self) -> String {
        let seeds: Vec<String> = self.0.iter().map(|seed| redact(seed)).collect();
        seeds.join(",")
    }
}

/// One URL with any `user:password@` part replaced.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}<redacted>{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

impl std::fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RedisUrl({})", self.redacted())
    }
}

/// Node ids and the key prefix go into Redis key and channel names.
fn parse_node_id(raw: &str) -> Result<String, String> {
    let ok = !raw.is_empty()
        && raw.len() <= 64
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(raw.to_owned())
    } else {
        Err("use 1 to 64 letters, digits, `-` or `_`".into())
    }
}

impl Default for Config {
    fn default() -> Self {
        // The defaults above are the single source of truth: parse an empty command line.
        Config::parse_from(["tickstorm-server"])
    }
}

/// Parses a timeout: a duration above zero (a zero timeout would close every connection).
fn positive_duration(raw: &str) -> Result<Duration, String> {
    match parse_duration(raw)? {
        d if d.is_zero() => Err(format!("`{raw}` must be above zero")),
        d => Ok(d),
    }
}

/// Parses a rate: a finite number above zero.
fn positive_f64(raw: &str) -> Result<f64, String> {
    match raw.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("`{raw}` is not a number above zero")),
    }
}

fn parse_view_radius(text: &str) -> Result<f32, String> {
    match text.parse::<f32>() {
        Ok(r) if tickstorm_shared::protocol::limits::valid_view_radius(r) => Ok(r),
        _ => Err(format!(
            "a view radius is a number above 0 and at most {}",
            tickstorm_shared::protocol::limits::VIEW_RADIUS_CAP
        )),
    }
}

/// A size: a positive number of bytes, or with a unit `KiB`, `MiB` or `GiB` (`16MiB`).
fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let shift = match unit.trim() {
        "" | "B" => 0,
        "KiB" => 10,
        "MiB" => 20,
        "GiB" => 30,
        other => return Err(format!("unknown unit {other:?}: use KiB, MiB or GiB")),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a size such as 16MiB"))?;
    n.checked_shl(shift)
        .filter(|v| *v > 0 && v >> shift == n)
        .ok_or_else(|| format!("{s:?} must be positive and at most 2^64 bytes"))
}

/// What `tickstorm-server` does besides serving.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Re-simulate a recorded room (`--record-dir`) and check it against its recording: prints
    /// "identical", or the first tick that differs with both states side by side. Exit status 0
    /// identical, 1 different, 2 not replayable.
    Replay(crate::replay_cmd::ReplayArgs),
}

/// Which rooms are recorded (`--record`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RecordRooms {
    /// Every new room.
    All,
    /// Only rooms created with `record: true` (HTTP API).
    Requested,
}

impl Config {
    /// The recorder's settings, when `--record-dir` is set.
    pub fn recorder(&self) -> Option<crate::recorder::RecorderSettings> {
        let dir = self.record_dir.clone()?;
        Some(crate::recorder::RecorderSettings {
            dir,
            record_all: self.record == RecordRooms::All,
            segment_bytes: self.record_segment_size,
            max_bytes: self.record_max_size,
            hash_every: self.record_hash_every,
            keyframe_secs: self.record_keyframe_secs,
        })
    }

    /// The per-connection rate limits.
    pub fn rate_limits(&self) -> RateLimitConfig {
        RateLimitConfig {
            inputs_per_tick: self.input_rate_per_tick,
            chat_per_sec: self.chat_rate,
            chat_burst: self.chat_rate * 3.0,
            requests_per_sec: self.request_rate,
            requests_burst: self.request_rate * 2.0,
            strikes: self.abuse_strikes,
        }
    }

    /// The period of one tick at `tick_rate` Hz.
    pub fn tick_period(tick_rate: u32) -> Duration {
        Duration::from_secs_f64(1.0 / f64::from(tick_rate.max(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documentation() {
        let c = Config::default();
        assert_eq!(c.addr.to_string(), "127.0.0.1:3000");
        assert_eq!((c.tick_rate, c.max_players), (30, 8));
        assert_eq!(c.rejoin_grace, Duration::from_secs(10));
        assert_eq!(c.parser, ParserKind::Common);
        assert_eq!(c.transports, Transports::All);
        assert_eq!(c.max_tcp_per_ip, 64);
        assert_eq!(c.tcp_send_buffer, 65536);
        assert_eq!(c.header_timeout, Duration::from_secs(5));
        assert_eq!(c.connect_timeout, Duration::from_secs(10));
        assert!(c.exempt_all_loopback);
    }

    #[test]
    fn timeouts_must_be_above_zero() {
        assert!(Config::try_parse_from(["t", "--header-timeout", "0s"]).is_err());
        assert!(Config::try_parse_from(["t", "--connect-timeout", "0ms"]).is_err());
        let c = Config::try_parse_from(["t", "--header-timeout", "1500ms"]).expect("valid");
        assert_eq!(c.header_timeout, Duration::from_millis(1500));
    }

    #[test]
    fn default_rate_limits_are_the_documented_ones() {
        assert_eq!(Config::default().rate_limits(), RateLimitConfig::default());
        assert!(Config::try_parse_from(["t", "--chat-rate", "0"]).is_err());
        assert!(Config::try_parse_from(["t", "--request-rate", "NaN"]).is_err());
    }

    #[test]
    fn out_of_range_values_are_refused() {
        assert!(Config::try_parse_from(["t", "--tick-rate", "0"]).is_err());
        let c = Config::try_parse_from(["t", "--record-segment-size", "64KiB"]).expect("valid");
        assert_eq!(c.record_segment_size, 65_536);
        assert_eq!(c.record_max_size, 256 << 20);
        for bad in ["0", "12MB", "-1MiB", "MiB", "99999999999999999999GiB"] {
            assert!(
                Config::try_parse_from(["t", "--record-max-size", bad]).is_err(),
                "{bad}"
            );
        }
        assert!(Config::try_parse_from(["t", "--max-players", "257"]).is_err());
        assert!(Config::try_parse_from(["t", "--send-rate", "0"]).is_err());
        for bad in ["example.com", "ftp://x", "https://x/path", "https://"] {
            assert!(
                Config::try_parse_from(["t", "--cors-origin", bad]).is_err(),
                "{bad}"
            );
        }
        let c = Config::try_parse_from([
            "t",
            "--cors-origin",
            "https://Play.example.com/",
            "--cors-origin",
            "http://127.0.0.1:8080",
        ])
        .expect("valid origins");
        assert_eq!(
            c.cors_origins,
            ["https://play.example.com", "http://127.0.0.1:8080"]
        );
        assert!(Config::try_parse_from(["t", "--view-radius", "-3"]).is_err());
        assert!(Config::try_parse_from(["t", "--view-radius", "inf"]).is_err());
        let ok = Config::try_parse_from(["t", "--view-radius", "250", "--send-rate", "20"])
            .expect("valid");
        assert_eq!((ok.view_radius, ok.send_rate), (Some(250.0), Some(20)));
        assert!(Config::try_parse_from(["t", "--admin-token", "short"]).is_err());
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let c = Config::try_parse_from([
            "t",
            "--admin-token",
            "s3cret-token-0123",
            "--auth-secret",
            "jwt-s3cret-0123456789",
            "--redis-url",
            "redis://user:redis-s3cret@127.0.0.1:6379",
        ])
        .expect("valid");
        assert!(format!("{c:?}").contains("redis://<redacted>@127.0.0.1:6379"));
        assert!(!format!("{c:?}").contains("jwt-s3cret"));
        assert_eq!(
            c.admin_token.as_ref().map(AdminToken::expose),
            Some("s3cret-token-0123")
        );
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn cluster_flags_are_checked() {
        assert!(Config::try_parse_from(["t", "--redis-url", "http://x"]).is_err());
        assert!(Config::try_parse_from(["t", "--redis-url", "redis://a:1,http://b"]).is_err());
        assert!(Config::try_parse_from(["t", "--redis-url", " , "]).is_err());
        let seeds =
            Config::try_parse_from(["t", "--redis-url", "redis://a:7000, redis://u:pw@b:7001,"])
                .expect("valid");
        let url = seeds.redis_url.expect("set");
        assert_eq!(url.0, ["redis://a:7000", "redis://u:pw@b:7001"]);
        assert_eq!(url.redacted(), "redis://a:7000,redis://<redacted>@b:7001");
        assert!(Config::try_parse_from(["t", "--node-id", "a:b"]).is_err());
        let c = Config::try_parse_from(["t", "--node-id", "edge-1"]).expect("valid");
        assert_eq!(c.node_id.as_deref(), Some("edge-1"));
        assert!(c.redis_url.is_none(), "single node by default");
    }
}
