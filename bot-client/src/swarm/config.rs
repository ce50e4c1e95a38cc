//! The swarm's configuration: a clap derive struct shared by the `tickstorm-bots` binary and the
//! library API, so every flag, default and env var is documented once, in `--help`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use tickstorm_shared::parse_duration;

use crate::{ParserKind, TransportKind};

/// What the bots do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// Bots arrive at --ramp per second and play their --game, --input-rate inputs per second.
    Steady,
    /// Every bot connects and joins at the same moment (--ramp is ignored), then plays.
    JoinStorm,
    /// Like steady, but a --reconnect-fraction of the bots drop their connection every
    /// --reconnect-every (jittered) and take their seat back with room:rejoin.
    ReconnectStorm,
    /// Like steady, plus one chat message per bot per second.
    Chat,
    /// Bots only connect and stay connected, without joining a room (memory per connection).
    Idle,
}

/// Socket.IO parser, as a CLI value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ParserArg {
    /// Default Socket.IO parser (JSON + binary attachments).
    Common,
    /// socket.io-msgpack-parser (the server must run with --parser msgpack).
    Msgpack,
}

/// Engine.IO transport, as a CLI value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TransportArg {
    /// WebSocket from the start.
    Websocket,
    /// HTTP long-polling only.
    Polling,
}

/// How bots pick their endpoint (URL and local address) from `--url`/`--also-url` and
/// `--local-ip`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SpreadArg {
    /// Round robin by bot: consecutive bots, hence the players of one room, come through
    /// different endpoints (in a cluster: most players play through a node that does not run
    /// their room).
    Bot,
    /// Round robin by room group (`--room-size`): all players of a room come through the same
    /// endpoint, as behind a load balancer that keeps a client on one node and a lobby that
    /// matches players on their own node. `--cross-node-share` sends some through the next one.
    Room,
}

/// Whether the bots ask for delta snapshots, as a CLI value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeltaArg {
    /// Every bot tells the server its baseline in each input, so it gets deltas (version 3).
    On,
    /// No bot says a baseline: every snapshot is a keyframe, as for a stock client.
    Off,
    /// Even bots (0, 2, ...) use deltas, odd ones keyframes: both modes in the same rooms, side
    /// by side in the report.
    Split,
}

/// How one bot receives snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SnapshotMode {
    /// Says its baseline in every input: gets deltas.
    Deltas,
    /// Never says a baseline: gets keyframes.
    Keyframes,
}

impl SnapshotMode {
    /// Name in reports.
    pub fn name(self) -> &'static str {
        match self {
            SnapshotMode::Deltas => "deltas",
            SnapshotMode::Keyframes => "keyframes",
        }
    }
}

/// tickstorm-bots: a headless bot swarm that plays on a Tickstorm server and measures latency
/// honestly (HDR histograms, no coordinated omission), then reports and checks an SLO.
#[derive(Debug, Clone, Parser, serde::Serialize)]
#[command(name = "tickstorm-bots", version, about, long_about = None)]
pub struct SwarmConfig {
    /// Server URL (loopback or your own test hosts only).
    #[arg(
        long,
        env = "TICKSTORM_BOTS_URL",
        default_value = "http://127.0.0.1:3000"
    )]
    pub url: String,

    /// More server URLs (repeatable): bot i connects to URL i mod n of `--url` and these, so the
    /// bots spread over several nodes of a cluster without a load balancer.
    #[arg(long = "also-url", value_name = "URL")]
    pub also_urls: Vec<String>,

    /// With `--room-size`: create each group's room through a short connection to this URL
    /// instead of through the first bot's own. With the bots on other nodes of a cluster, every
    /// player then plays through a node that does not run its room (to measure that cost).
    #[arg(long, value_name = "URL")]
    pub rooms_on: Option<String>,

    /// Local addresses to connect from, round robin (repeatable, e.g. `--local-ip 127.0.0.2`): a
    /// load balancer that hashes the client address then spreads loopback bots over its nodes.
    #[arg(long = "local-ip", value_name = "IP")]
    pub local_ips: Vec<std::net::IpAddr>,

    /// Number of bots.
    #[arg(long, default_value_t = 100)]
    pub bots: usize,

    /// Bots started per second (ignored by the join-storm scenario).
    #[arg(long, default_value_t = 200.0)]
    pub ramp: f64,

    /// How long the bots play once all have started (e.g. 30s, 2m).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    #[serde(serialize_with = "as_seconds")]
    pub duration: Duration,

    /// Inputs per second per bot, on a fixed schedule.
    #[arg(long, default_value_t = 10.0)]
    pub input_rate: f64,

    /// Socket.IO parser; must match the server's --parser.
    #[arg(long, value_enum, default_value_t = ParserArg::Common)]
    pub parser: ParserArg,

    /// Engine.IO transport.
    #[arg(long, value_enum, default_value_t = TransportArg::Websocket)]
    pub transport: TransportArg,

    /// How bots spread over the endpoints: by bot, or by room (see `--cross-node-share`).
    #[arg(long, value_enum, default_value_t = SpreadArg::Bot)]
    pub spread: SpreadArg,

    /// With `--spread room`: the share of bots (0 to 1) that connect through the endpoint after
    /// their room's, so that they play through a node that does not run their room. Every
    /// 1/share-th bot, never a group's first; one that happens to come first in its group creates
    /// the room through the group's endpoint all the same.
    #[arg(long, default_value_t = 0.0)]
    pub cross_node_share: f64,

    /// Bots per room: every N bots share a room created for them (max_players N). 0 = quick match
    /// (the server's default room size).
    #[arg(long, default_value_t = 8)]
    pub room_size: usize,

    /// What the bots do.
    #[arg(long, value_enum, default_value_t = Scenario::Steady)]
    pub scenario: Scenario,

    /// Game the bots play, with that game's bot brain: `orbs` or `blasters` (repeatable or a
    /// comma list). With several, the bots are split between them by room group (group g of
    /// `--room-size` bots plays game g mod n; with quick match, bot i plays game i mod n), so
    /// every room stays single-game and full; the report has a line per game. Without `--game`
    /// the bots play the server's default game (no `game` in `room:create`/`room:join`) with the
    /// orbs brain.
    #[arg(long = "game", value_name = "NAME", value_delimiter = ',')]
    pub games: Vec<String>,

    /// Create options for one game's rooms, `GAME=JSON` (repeatable), sent as `options` in the
    /// `room:create` of every room the swarm creates for that game (so with `--room-size` only),
    /// e.g. `blasters={"warmup_seconds":0}`.
    #[arg(long = "room-options", value_name = "GAME=JSON")]
    pub room_options: Vec<String>,

    /// Delta snapshots: `on` (every bot says its baseline in each input and gets deltas), `off`
    /// (no bot does: keyframes only, like a stock client) or `split` (even bots on, odd bots off,
    /// in the same rooms; the report shows both modes side by side).
    #[arg(long, value_enum, default_value_t = DeltaArg::On)]
    pub deltas: DeltaArg,

    /// reconnect-storm: share of bots that keep dropping and rejoining (0..=1).
    #[arg(long, default_value_t = 0.25)]
    pub reconnect_fraction: f64,

    /// reconnect-storm: average time between a flaky bot's drops.
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    #[serde(serialize_with = "as_seconds")]
    pub reconnect_every: Duration,

    /// Write the JSON report here; the per-second CSV and the SVG plot go next to it (same name,
    /// .csv and .svg).
    #[arg(long)]
    pub report: Option<PathBuf>,

    /// Service-level objective; exit code 1 when it does not hold. Example:
    /// `ack_p99<20ms,input_to_snapshot_p99<60ms,delivery>=99.9%`. Metrics: delivery, errors,
    /// snapshots (the count received), connected, and {kind}_{p50|p90|p99|p999|max|mean} for kinds ack, input_to_snapshot,
    /// snapshot_interarrival, connect, join, rejoin, chat_ack.
    #[arg(long)]
    pub slo: Option<String>,

    /// Seed of the bots' random choices (reconnect timing, the brains' wander and strafe choices).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// PID of the server, when it runs on this machine: its CPU and memory go into the report.
    #[arg(long)]
    pub server_pid: Option<u32>,

    /// How long to wait for each ack before counting an `ack_timeout` error.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    #[serde(serialize_with = "as_seconds")]
    pub ack_timeout: Duration,

    /// Before the first bot starts, wait up to this long for every server URL to answer HTTP
    /// (a script may start the server in the background just before the bots); 0s = no wait.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    #[serde(serialize_with = "as_seconds")]
    pub wait_for_server: Duration,

    /// No live progress line (a summary line every 5 s goes to stderr instead).
    #[arg(long)]
    pub quiet: bool,
}

impl Default for SwarmConfig {
    fn default() -> Self {
        SwarmConfig::parse_from(["tickstorm-bots"])
    }
}

impl SwarmConfig {
    /// The server URL and local address bot `index` uses (round robin over each list, by bot or
    /// by room group: `--spread`).
    pub fn endpoint_for(&self, index: usize) -> (&str, Option<std::net::IpAddr>) {
        let index = match (self.spread, self.room_size) {
            (SpreadArg::Bot, _) | (SpreadArg::Room, 0) => index,
            (SpreadArg::Room, size) => {
                let group = index / size;
                group + usize::from(self.crosses_nodes(index))
            }
        };
        let url = match index % (1 + self.also_urls.len()) {
            0 => self.url.as_str(),
            i => self.also_urls[i - 1].as_str(),
        };
        let ip = (!self.local_ips.is_empty()).then(|| self.local_ips[index % self.local_ips.len()]);
        (url, ip)
    }

    /// The games played, in `--game` order; `["orbs"]` without `--game`.
    pub fn game_names(&self) -> Vec<&str> {
        if self.games.is_empty() {
            vec!["orbs"]
        } else {
            self.games.iter().map(String::as_str).collect()
        }
    }

    /// Which of [`game_names`](Self::game_names) bot `index` plays: by room group, so that the
    /// bots of one room play one game.
    pub fn game_of(&self, index: usize) -> usize {
        let games = self.games.len().max(1);
        match self.room_size {
            0 => index % games,
            size => (index / size) % games,
        }
    }

    /// The snapshot modes of this run, in report order: one, or both with `--deltas split`.
    pub fn snapshot_modes(&self) -> &'static [SnapshotMode] {
        match self.deltas {
            DeltaArg::On => &[SnapshotMode::Deltas],
            DeltaArg::Off => &[SnapshotMode::Keyframes],
            DeltaArg::Split => &[SnapshotMode::Deltas, SnapshotMode::Keyframes],
        }
    }

    /// Which of [`snapshot_modes`](Self::snapshot_modes) bot `index` uses: alternating by bot
    /// with `split`, so each room holds both modes and they see the same game.
    pub fn snapshot_mode_of(&self, index: usize) -> usize {
        index % self.snapshot_modes().len()
    }

    /// The `game` member of `room:create`/`room:join` for game `game` (an index into
    /// [`game_names`](Self::game_names)): none without `--game`, so the server picks its default.
    pub fn game_request(&self, game: usize) -> Option<&str> {
        self.games.get(game).map(String::as_str)
    }

    /// The `--room-options` given for `game`, parsed.
    pub fn room_options_for(&self, game: &str) -> Result<Option<serde_json::Value>, String> {
        for spec in &self.room_options {
            let (name, json) = spec.split_once('=').ok_or_else(|| {
                format!("--room-options {spec:?}: expected GAME=JSON, e.g. blasters={{\"warmup_seconds\":0}}")
            })?;
            if name != game {
                continue;
            }
            let options: serde_json::Value = serde_json::from_str(json)
                .map_err(|e| format!("--room-options {spec:?}: not JSON: {e}"))?;
            if !options.is_object() {
                return Err(format!(
                    "--room-options {spec:?}: the options must be a JSON object"
                ));
            }
            return Ok(Some(options));
        }
        Ok(None)
    }

    /// The client library's parser.
    pub fn client_parser(&self) -> ParserKind {
        match self.parser {
            ParserArg::Common => ParserKind::Common,
            ParserArg::Msgpack => ParserKind::MsgPack,
        }
    }

    /// The client library's transport.
    pub fn client_transport(&self) -> TransportKind {
        match self.transport {
            TransportArg::Websocket => TransportKind::WebSocket,
            TransportArg::Polling => TransportKind::Polling,
        }
    }

    /// Whether bot `index` is one of the `--cross-node-share` that connect through the endpoint
    /// after their room's: every round(1/share)-th bot, never a room's first (its creator).
    pub(crate) fn crosses_nodes(&self, index: usize) -> bool {
        if self.cross_node_share <= 0.0
            || self.room_size == 0
            || index.is_multiple_of(self.room_size)
        {
            return false;
        }
        let every = (1.0 / self.cross_node_share).round().max(1.0) as usize;
        index % every == every - 1
    }

    /// Checks values clap cannot.
    pub fn validate(&self) -> Result<(), String> {
        if self.bots == 0 {
            return Err("--bots must be at least 1".into());
        }
        if !(self.ramp.is_finite() && self.ramp > 0.0) {
            return Err("--ramp must be a positive number of bots per second".into());
        }
        if !(self.input_rate.is_finite() && self.input_rate > 0.0 && self.input_rate <= 1000.0) {
            return Err("--input-rate must be in (0, 1000] inputs per second".into());
        }
        if !(0.0..=1.0).contains(&self.cross_node_share) {
            return Err("--cross-node-share must be between 0 and 1".into());
        }
        if self.cross_node_share > 0.0 && (self.spread != SpreadArg::Room || self.room_size == 0) {
            return Err("--cross-node-share needs --spread room and a --room-size".into());
        }
        if self.spread == SpreadArg::Room && self.room_size == 0 {
            return Err("--spread room needs a --room-size (rooms created per group)".into());
        }
        if self.spread == SpreadArg::Room && self.rooms_on.is_some() {
            return Err("--spread room and --rooms-on both decide where rooms run; use one".into());
        }
        if !(0.0..=1.0).contains(&self.reconnect_fraction) {
            return Err("--reconnect-fraction must be between 0 and 1".into());
        }
        if self.reconnect_every.is_zero() {
            return Err("--reconnect-every must be positive".into());
        }
        if let Some(slo) = &self.slo {
            super::slo::parse(slo)?;
        }
        let games = self.game_names();
        for (i, game) in games.iter().enumerate() {
            super::brain::check_game(game)?;
            if games[..i].contains(game) {
                return Err(format!("--game {game:?} is given twice"));
            }
            self.room_options_for(game)?;
        }
        if !self.room_options.is_empty() && self.games.is_empty() {
            return Err("--room-options needs --game (rooms of the server's default game are created without a game name)".into());
        }
        for spec in &self.room_options {
            let name = spec.split_once('=').map_or(spec.as_str(), |(name, _)| name);
            if !games.contains(&name) {
                return Err(format!(
                    "--room-options {spec:?}: {name:?} is not a game of this run (--game {})",
                    games.join(",")
                ));
            }
            self.room_options_for(name)?;
        }
        Ok(())
    }
}

fn as_seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_by_room_keeps_a_room_on_one_endpoint_but_the_cross_node_share() {
        let urls = |extra: &[&str]| {
            let mut args = vec![
                "tickstorm-bots",
                "--url",
                "http://a",
                "--also-url",
                "http://b",
                "--also-url",
                "http://c",
                "--room-size",
                "4",
            ];
            args.extend_from_slice(extra);
            let c = SwarmConfig::parse_from(args);
            c.validate().expect("valid");
            (0..12)
                .map(|i| c.endpoint_for(i).0.trim_start_matches("http://").to_owned())
                .collect::<String>()
        };
        assert_eq!(urls(&[]), "abcabcabcabc");
        assert_eq!(urls(&["--spread", "room"]), "aaaabbbbcccc");
        // Every 4th bot (3, 7, 11) through the next node; never a room's creator (0, 4, 8).
        assert_eq!(
            urls(&["--spread", "room", "--cross-node-share", "0.25"]),
            "aaabbbbcccca"
        );
        let bad = SwarmConfig::parse_from(["tickstorm-bots", "--cross-node-share", "0.1"]);
        let error = bad.validate().expect_err("a share without --spread room");
        assert!(error.contains("--spread room"), "{error}");
    }

    #[test]
    fn defaults_are_sane_and_checked() {
        let c = SwarmConfig::default();
        assert_eq!(
            (c.bots, c.room_size, c.duration),
            (100, 8, Duration::from_secs(30))
        );
        assert!(c.validate().is_ok());
        let bad = SwarmConfig::parse_from(["t", "--bots", "0"]);
        assert!(bad.validate().is_err());
        let bad_slo = SwarmConfig::parse_from(["t", "--slo", "ack_p99<<"]);
        assert!(bad_slo.validate().is_err());
    }

    #[test]
    fn games_split_the_bots_by_room_group() {
        let default = SwarmConfig::default();
        assert_eq!(default.game_names(), ["orbs"]);
        assert_eq!((default.game_of(17), default.game_request(0)), (0, None));

        let both = SwarmConfig::parse_from(["t", "--game", "orbs,blasters", "--room-size", "4"]);
        assert!(both.validate().is_ok());
        assert_eq!(both.game_names(), ["orbs", "blasters"]);
        let games: Vec<usize> = (0..16).map(|i| both.game_of(i)).collect();
        assert_eq!(games, [0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1]);
        assert_eq!(both.game_request(1), Some("blasters"));
        let repeated = SwarmConfig::parse_from(["t", "--game", "blasters", "--game", "orbs"]);
        assert_eq!(repeated.game_names(), ["blasters", "orbs"]);
        let quick = SwarmConfig::parse_from(["t", "--game", "orbs,blasters", "--room-size", "0"]);
        assert_eq!((quick.game_of(4), quick.game_of(5)), (0, 1));
    }

    #[test]
    fn deltas_are_on_by_default_and_split_alternates_the_bots() {
        let default = SwarmConfig::default();
        assert_eq!(default.snapshot_modes(), [SnapshotMode::Deltas]);
        assert_eq!(default.snapshot_mode_of(7), 0);
        let off = SwarmConfig::parse_from(["t", "--deltas", "off"]);
        assert_eq!(off.snapshot_modes(), [SnapshotMode::Keyframes]);
        let split = SwarmConfig::parse_from(["t", "--deltas", "split"]);
        let modes: Vec<SnapshotMode> = (0..4)
            .map(|i| split.snapshot_modes()[split.snapshot_mode_of(i)])
            .collect();
        use SnapshotMode::{Deltas, Keyframes};
        assert_eq!(modes, [Deltas, Keyframes, Deltas, Keyframes]);
        assert!(SwarmConfig::try_parse_from(["t", "--deltas", "sometimes"]).is_err());
    }

    #[test]
    fn unknown_games_and_bad_room_options_are_refused_with_a_reason() {
        let validate = |args: &[&str]| {
            let mut argv = vec!["t"];
            argv.extend_from_slice(args);
            SwarmConfig::parse_from(argv).validate()
        };
        let unknown = validate(&["--game", "chess"]).expect_err("no chess brain");
        assert!(unknown.contains("known: orbs, blasters"), "{unknown}");
        assert!(validate(&["--game", "orbs,orbs"]).is_err());
        let options = [
            "--game",
            "blasters",
            "--room-options",
            r#"blasters={"warmup_seconds":0}"#,
        ];
        assert!(validate(&options).is_ok());
        let config = SwarmConfig::parse_from(["t"].iter().chain(&options));
        assert_eq!(
            config.room_options_for("blasters"),
            Ok(Some(serde_json::json!({ "warmup_seconds": 0 })))
        );
        assert_eq!(config.room_options_for("orbs"), Ok(None));
        assert!(
            validate(&["--room-options", "orbs={}"]).is_err(),
            "needs --game"
        );
        for bad in [r#"orbs={}"#, "blasters=[1]", "blasters={", "blasters"] {
            let err = validate(&["--game", "blasters", "--room-options", bad]);
            assert!(err.is_err(), "{bad} is refused");
        }
    }
}
