//! One bot: connects, takes a seat in a room of its game, then plays like a person would: its
//! game's [`Brain`] reads every snapshot's tables and builds the inputs, which the bot sends on a
//! fixed schedule with increasing `seq`. What is measured is the same for every game (ticks, the
//! envelope's `last_input_seq`, acks, bytes) and recorded in the swarm's
//! [`Recorder`](super::metrics::Recorder) of the bot's game and snapshot mode.
//!
//! Snapshots are applied to the seat's [`SnapshotFeed`] (keyframes and deltas alike) and the
//! brain and the measurements read the resulting state; in delta mode every input says the
//! feed's baseline, so the server sends deltas.
//!
//! Latencies are measured from the *intended* send time of the fixed schedule, not from when a
//! late sender got round to it, so a stalled bot or server shows up in the percentiles instead of
//! silently sending less (no coordinated omission).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rmpv::Value;
use serde_json::json;
use tickstorm_shared::delta::KindCoding;
use tickstorm_shared::protocol::{KindInfo, delta_layout, events};
use tokio::time::{Instant, MissedTickBehavior};

use super::SwarmShared;
use super::brain::{self, Brain};
use super::cadence::Cadence;
use super::config::{Scenario, SnapshotMode};
use super::feed::{self, Format, Received, SnapshotFeed};
use super::metrics::{Latency, Window};
use crate::{ClientConfig, ClientError, Event, Session, SessionEvent};

/// How long a stopping bot waits for the acks of inputs it already sent.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// How long a stopping bot waits for the snapshot of the last tick an ack proved: normally a
/// few milliseconds behind the ack, but an overloaded server can be seconds late. Only a bot
/// whose stream has really stopped waits all of it.
const SETTLE: Duration = Duration::from_secs(2);

/// What an awaited ack answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AckKind {
    Input,
    Chat,
}

/// An emit of the current connection whose ack has not come yet.
#[derive(Debug)]
struct PendingAck {
    /// The id [`Session::emit_with_ack`] gave it.
    id: u64,
    kind: AckKind,
    /// Where its latency counts from: the input's intended send time, the chat line's send time.
    since: Instant,
    /// No ack by then: counted as `ack_timeout`.
    expires: Instant,
}

/// What an input ack said: `Ok((stale, tick))` or `Err(code)`.
fn ack_outcome(value: &Value) -> Result<(bool, Option<u64>), String> {
    let field = |map: &Value, key: &str| -> Option<Value> {
        map.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v.clone())
    };
    match field(value, "ok") {
        Some(Value::Boolean(true)) => Ok((
            matches!(field(value, "stale"), Some(Value::Boolean(true))),
            field(value, "tick").and_then(|t| t.as_u64()),
        )),
        _ => Err(field(value, "error")
            .and_then(|e| field(&e, "code"))
            .and_then(|c| c.as_str().map(str::to_owned))
            .unwrap_or_else(|| "malformed_ack".into())),
    }
}

/// A bot's connection and seat.
struct Seat {
    session: Session,
    /// Events that came while the bot waited for the join's ack, handled first.
    early: Vec<Event>,
    player_id: u32,
    rejoin_token: String,
    /// The room's latest completed tick when the join (or rejoin) was answered: every later tick
    /// is owed to this connection.
    joined_tick: u64,
    /// Which ticks the room sends a snapshot for (every tick unless it has a lower send rate).
    cadence: Cadence,
    /// The states this seat's snapshots described, and the baseline to say. New with every
    /// join and rejoin: the server starts a new connection with a keyframe.
    feed: SnapshotFeed,
}

/// How a join or rejoin ack's `kinds` code the snapshot's tables; `None` when the ack has no
/// valid `kinds` list (the tables could not be read).
fn layout_of(ack: &serde_json::Value) -> Option<Vec<KindCoding>> {
    let kinds: Vec<KindInfo> = serde_json::from_value(ack.get("kinds")?.clone()).ok()?;
    Some(delta_layout(&kinds))
}

pub(super) struct Bot {
    shared: Arc<SwarmShared>,
    index: usize,
    /// The bot's game, an index into [`SwarmConfig::game_names`](super::SwarmConfig::game_names).
    game: usize,
    /// Whether the bot asks for deltas.
    mode: SnapshotMode,
    /// The recorder the bot records into: its game's and mode's (see [`SwarmShared::cohort`]).
    cohort: usize,
    /// Plays that game: reads the tables, builds the inputs.
    brain: Box<dyn Brain>,
    rng: ChaCha8Rng,
    /// The acks this connection still owes, oldest (and first to expire) first: ids only grow
    /// and every emit has the same timeout. Emptied, uncounted, when the connection is replaced:
    /// its loss was counted once, as `disconnected`.
    acks: VecDeque<PendingAck>,
    seq: u32,
    /// Inputs sent and not yet seen applied in a snapshot: `(seq, intended send time)`.
    unapplied: VecDeque<(u32, Instant)>,
    last_tick: Option<u64>,
    /// The newest tick the server proved it has completed, from this connection's input acks (an
    /// ack's `tick` is the tick its input applies at: the one before was complete when it left).
    /// A snapshot stream that stops while acks go on is missed up to here (see `settle`).
    proven_tick: u64,
    last_snapshot_at: Option<Instant>,
    bytes_seen: (u64, u64),
}

impl Bot {
    pub(super) fn new(shared: Arc<SwarmShared>, index: usize) -> Self {
        let rng = ChaCha8Rng::seed_from_u64(
            shared.config.seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        let game = shared.config.game_of(index);
        let name = shared.config.game_names()[game];
        let brain = brain::brain_for(name).expect("SwarmConfig::validate checked the game names");
        let mode_index = shared.config.snapshot_mode_of(index);
        let mode = shared.config.snapshot_modes()[mode_index];
        let cohort = shared.cohort(game, mode_index);
        Self {
            shared,
            index,
            game,
            mode,
            cohort,
            brain,
            rng,
            acks: VecDeque::new(),
            seq: 0,
            unapplied: VecDeque::new(),
            last_tick: None,
            proven_tick: 0,
            last_snapshot_at: None,
            bytes_seen: (0, 0),
        }
    }

    fn record<R>(&self, f: impl FnOnce(&mut Window) -> R) -> R {
        self.shared.recorders[self.cohort].with(self.index, f)
    }

    /// Plays until the swarm stops.
    pub(super) async fn run(mut self) {
        if self.shared.config.scenario == Scenario::Idle {
            return self.idle().await;
        }
        let Some(mut seat) = self.take_seat().await else {
            return;
        };
        let config = &self.shared.config;
        let flaky = config.scenario == Scenario::ReconnectStorm
            && self.rng.random::<f64>() < config.reconnect_fraction;
        let period = Duration::from_secs_f64(1.0 / config.input_rate);
        let schedule_start = Instant::now() + period.mul_f64(self.rng.random());
        let mut inputs = tokio::time::interval_at(schedule_start, period);
        inputs.set_missed_tick_behavior(MissedTickBehavior::Burst);
        let mut chat = tokio::time::interval_at(
            schedule_start + Duration::from_millis(500),
            Duration::from_secs(1),
        );
        // A person chats at most once a second, and so does the server's chat limit (a burst of
        // 3): a bot that fell behind must not make up for lost lines all at once, as the input
        // schedule above does (on purpose, for its latencies), or it is answered `rate_limited`.
        chat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut reconnect_at = self.next_reconnect(flaky);
        // False once a reconnect failed: no seat (and no connection) left to finish.
        let mut seated = true;
        let stop = self.shared.stop.clone();
        // One waiter for the whole game: a new one per turn of the loop would register with
        // (and leave) the token's waiter list at every message.
        let stopped = stop.cancelled();
        tokio::pin!(stopped);
        loop {
            // What came before the seat was taken (new after every reconnect).
            for event in std::mem::take(&mut seat.early) {
                self.on_event(&mut seat, event);
            }
            tokio::select! {
                // In this order, not a random one per turn: no branch can starve another here
                // (the session yields between messages), and picking costs a random number.
                biased;
                () = &mut stopped => break,
                _ = inputs.tick() => {
                    let intended = schedule_start + period.mul_f64(f64::from(self.seq));
                    // Acks expire on the input schedule's clock: a tenth of a second is fine
                    // resolution for a timeout of seconds, and costs no timer of its own.
                    self.expire_acks();
                    self.send_input(&mut seat, intended);
                }
                _ = chat.tick(), if self.shared.config.scenario == Scenario::Chat => {
                    self.send_chat(&mut seat);
                }
                event = seat.session.next() => match event {
                    SessionEvent::Event(event) => self.on_event(&mut seat, event),
                    SessionEvent::Ack { id, args } => self.on_ack(id, args),
                    SessionEvent::Closed(_) => {
                        self.record(|w| w.error("disconnected"));
                        match self.reconnect(&seat).await {
                            Some(new_seat) => seat = new_seat,
                            None => {
                                seated = false;
                                break;
                            }
                        }
                    }
                },
                _ = tokio::time::sleep_until(reconnect_at), if flaky => {
                    seat.session.close().await;
                    match self.reconnect(&seat).await {
                        Some(new_seat) => seat = new_seat,
                        None => {
                            seated = false;
                            break;
                        }
                    }
                    reconnect_at = self.next_reconnect(flaky);
                }
            }
        }
        if seated {
            self.finish(&mut seat).await;
        }
        let play = self.brain.play();
        self.record(|w| {
            for (name, n) in play {
                *w.play.entry(name).or_default() += n;
            }
        });
    }

    /// The end of a game on a seat still held: the last answers, then leave. (A failed
    /// reconnect has already counted its connection's bytes and its end.)
    async fn finish(&mut self, seat: &mut Seat) {
        // The acks of what was already sent are still on their way: wait for them (bounded), so
        // the report counts every answer rather than calling a slow one lost.
        // Snapshots keep being read meanwhile: an ack can overtake the snapshot of the tick it
        // proves.
        let grace = tokio::time::sleep(STOP_GRACE);
        tokio::pin!(grace);
        while !self.acks.is_empty() {
            tokio::select! {
                event = seat.session.next() => match event {
                    SessionEvent::Event(event) => self.on_event(seat, event),
                    SessionEvent::Ack { id, args } => self.on_ack(id, args),
                    SessionEvent::Closed(_) => break,
                },
                _ = &mut grace => break,
            }
        }
        self.expire_acks();
        self.settle(seat).await;
        self.count_bytes(&seat.session);
        seat.session.close().await;
        self.shared.connected.fetch_sub(1, Ordering::Relaxed);
    }

    /// Counts the ticks the server proved it reached but whose snapshots never came as missed:
    /// without this, a stream that stops while acks go on would look fully delivered, since
    /// gaps are otherwise only seen between two snapshots that did arrive. Waits (bounded) for
    /// the snapshot of the proven tick first, which may still be on its way.
    async fn settle(&mut self, seat: &mut Seat) {
        let owed_up_to = self.proven_tick;
        let _ = tokio::time::timeout(SETTLE, async {
            while seat
                .cadence
                .sends_between(self.last_tick.unwrap_or(seat.joined_tick), owed_up_to)
                > 0
            {
                match seat.session.next().await {
                    SessionEvent::Event(event) => self.on_event(seat, event),
                    SessionEvent::Ack { id, args } => self.on_ack(id, args),
                    SessionEvent::Closed(_) => break,
                }
            }
        })
        .await;
        let received_up_to = self.last_tick.unwrap_or(seat.joined_tick);
        let missed = seat.cadence.sends_between(received_up_to, owed_up_to);
        if missed > 0 {
            self.record(|w| w.snapshots_expected += missed);
        }
    }

    /// Connects and holds the connection until the swarm stops, answering pings only.
    async fn idle(mut self) {
        let Some(mut session) = self.connect().await else {
            return;
        };
        self.shared.connected.fetch_add(1, Ordering::Relaxed);
        let stop = self.shared.stop.clone();
        tokio::select! {
            _ = stop.cancelled() => {}
            _ = async { while !matches!(session.next().await, SessionEvent::Closed(_)) {} } => {
                self.record(|w| w.error("disconnected"));
            }
        }
        self.count_bytes(&session);
        session.close().await;
        self.shared.connected.fetch_sub(1, Ordering::Relaxed);
    }

    fn next_reconnect(&mut self, flaky: bool) -> Instant {
        let every = self.shared.config.reconnect_every;
        let jitter = if flaky {
            self.rng.random_range(0.5..1.5)
        } else {
            1.0
        };
        Instant::now() + every.mul_f64(jitter)
    }

    async fn connect(&self) -> Option<Session> {
        let config = &self.shared.config;
        let (url, local_ip) = config.endpoint_for(self.index);
        let client_config = ClientConfig::new(url, "/game")
            .with_local_ip(local_ip)
            .with_auth(json!({ "name": format!("bot{}", self.index) }))
            .with_parser(config.client_parser())
            .with_transport(config.client_transport());
        let started = Instant::now();
        match Session::connect(client_config).await {
            Ok(session) => {
                self.record(|w| w.record(Latency::Connect, started.elapsed()));
                Some(session)
            }
            Err(e) => {
                tracing::debug!(bot = self.index, error = %e, "connect failed");
                self.record(|w| w.error("connect_failed"));
                None
            }
        }
    }

    async fn take_seat(&mut self) -> Option<Seat> {
        let mut session = self.connect().await?;
        self.shared.connected.fetch_add(1, Ordering::Relaxed);
        let mut early = Vec::new();
        let started = Instant::now();
        let config = &self.shared.config;
        let game = config.game_request(self.game);
        let ack = match config.room_size {
            0 => {
                let join = match game {
                    Some(game) => json!({ "game": game }),
                    None => json!({}),
                };
                self.ask(&mut session, &mut early, events::ROOM_JOIN, join)
                    .await
            }
            size => {
                let group = &self.shared.rooms[self.index / size];
                let room_id = group
                    .get_or_try_init(|| async {
                        let mut create = json!({ "max_players": size });
                        if let Some(game) = game {
                            create["game"] = json!(game);
                            // Checked by SwarmConfig::validate.
                            if let Ok(Some(options)) = config.room_options_for(game) {
                                create["options"] = options;
                            }
                        }
                        let created = match &self.shared.config.rooms_on {
                            // A bot of the --cross-node-share that comes first creates the room
                            // through its group's endpoint, so the room runs where the rest of
                            // the group plays.
                            None if config.crosses_nodes(self.index) => {
                                let (url, local_ip) = config.endpoint_for(self.index / size * size);
                                self.create_on(url, local_ip, create).await?
                            }
                            None => {
                                self.ask(&mut session, &mut early, events::ROOM_CREATE, create)
                                    .await?
                            }
                            Some(url) => self.create_on(url, None, create).await?,
                        };
                        created["room"]["id"]
                            .as_str()
                            .map(str::to_owned)
                            .ok_or_else(|| "malformed_ack".to_owned())
                    })
                    .await;
                match room_id {
                    Ok(room_id) => {
                        let join = json!({ "room_id": room_id });
                        self.ask(&mut session, &mut early, events::ROOM_JOIN, join)
                            .await
                    }
                    Err(code) => Err(code.clone()),
                }
            }
        };
        match ack {
            Ok(ack) => {
                self.record(|w| w.record(Latency::Join, started.elapsed()));
                let player_id = ack["player_id"]
                    .as_u64()
                    .and_then(|id| u32::try_from(id).ok());
                let rejoin_token = ack["rejoin_token"].as_str().map(str::to_owned);
                let joined_tick = ack["tick"].as_u64().unwrap_or_default();
                match (player_id, rejoin_token, layout_of(&ack)) {
                    (Some(player_id), Some(rejoin_token), Some(layout)) => Some(Seat {
                        joined_tick,
                        session,
                        early,
                        player_id,
                        rejoin_token,
                        cadence: Cadence::of_room(&ack["room"]),
                        feed: SnapshotFeed::new(self.mode, layout),
                    }),
                    _ => {
                        self.record(|w| w.error("malformed_ack"));
                        session.close().await;
                        self.shared.connected.fetch_sub(1, Ordering::Relaxed);
                        None
                    }
                }
            }
            Err(code) => {
                self.record(|w| w.error(&code));
                session.close().await;
                self.shared.connected.fetch_sub(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// Emits with an ack and returns the ack as JSON, or the error code. Events that come
    /// meanwhile are kept in `early`, in order.
    async fn ask(
        &self,
        session: &mut Session,
        early: &mut Vec<Event>,
        event: &str,
        payload: serde_json::Value,
    ) -> Result<serde_json::Value, String> {
        let asked = session
            .emit_with_ack(event, &payload)
            .map_err(|_| "disconnected".to_owned())?;
        let answer = tokio::time::timeout(self.shared.config.ack_timeout, async {
            loop {
                match session.next().await {
                    SessionEvent::Ack { id, args } if id == asked => return Ok(args),
                    SessionEvent::Ack { .. } => {}
                    SessionEvent::Event(event) => early.push(event),
                    SessionEvent::Closed(_) => return Err("disconnected".to_owned()),
                }
            }
        })
        .await
        .map_err(|_| "ack_timeout".to_owned())??;
        let value = answer.into_iter().next().unwrap_or(Value::Nil);
        let ack: serde_json::Value =
            crate::decode_value(value).map_err(|_| "malformed_ack".to_owned())?;
        if ack["ok"] == true {
            Ok(ack)
        } else {
            Err(ack["error"]["code"]
                .as_str()
                .unwrap_or("malformed_ack")
                .to_owned())
        }
    }

    /// Creates a room through a connection of its own to `url` (`--rooms-on`), closed after.
    async fn create_on(
        &self,
        url: &str,
        local_ip: Option<std::net::IpAddr>,
        create: serde_json::Value,
    ) -> Result<serde_json::Value, String> {
        let config = ClientConfig::new(url, "/game")
            .with_auth(json!({ "name": format!("roommaker{}", self.index) }))
            .with_parser(self.shared.config.client_parser())
            .with_local_ip(local_ip);
        let mut session = Session::connect(config).await.map_err(|e| {
            tracing::debug!(bot = self.index, error = %e, "rooms-on connect failed");
            "connect_failed".to_owned()
        })?;
        let created = self
            .ask(&mut session, &mut Vec::new(), events::ROOM_CREATE, create)
            .await;
        session.close().await;
        created
    }

    /// Drops the connection state, reconnects and takes the seat back with `room:rejoin`.
    async fn reconnect(&mut self, old: &Seat) -> Option<Seat> {
        self.shared.connected.fetch_sub(1, Ordering::Relaxed);
        self.count_bytes(&old.session);
        self.acks.clear();
        self.unapplied.clear();
        self.last_tick = None;
        // Only the ticks of one connection are owed to it: a deliberate reconnect ends a stream
        // on purpose, and the new one is owed ticks from its rejoin on.
        self.proven_tick = 0;
        self.last_snapshot_at = None;
        self.bytes_seen = (0, 0);
        if self.shared.stop.is_cancelled() {
            return None;
        }
        let mut session = self.connect().await?;
        self.shared.connected.fetch_add(1, Ordering::Relaxed);
        let mut early = Vec::new();
        let started = Instant::now();
        let rejoin = json!({ "token": old.rejoin_token });
        match self
            .ask(&mut session, &mut early, events::ROOM_REJOIN, rejoin)
            .await
        {
            Ok(ack) => {
                self.record(|w| {
                    w.record(Latency::Rejoin, started.elapsed());
                    w.rejoins += 1;
                });
                let Some(layout) = layout_of(&ack) else {
                    self.record(|w| w.error("rejoin_malformed_ack"));
                    session.close().await;
                    self.shared.connected.fetch_sub(1, Ordering::Relaxed);
                    return None;
                };
                let token = ack["rejoin_token"].as_str().unwrap_or_default().to_owned();
                Some(Seat {
                    session,
                    early,
                    player_id: old.player_id,
                    rejoin_token: token,
                    joined_tick: ack["tick"].as_u64().unwrap_or_default(),
                    cadence: Cadence::of_room(&ack["room"]),
                    feed: SnapshotFeed::new(self.mode, layout),
                })
            }
            Err(code) => {
                self.record(|w| w.error(&format!("rejoin_{code}")));
                session.close().await;
                self.shared.connected.fetch_sub(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// Queues an emit that wants an ack and notes it in the ack table.
    fn ask_later<T: serde::Serialize + ?Sized>(
        &mut self,
        seat: &mut Seat,
        event: &str,
        payload: &T,
        kind: AckKind,
        since: Instant,
    ) {
        match seat.session.emit_with_ack(event, payload) {
            Ok(id) => self.acks.push_back(PendingAck {
                id,
                kind,
                since,
                expires: Instant::now() + self.shared.config.ack_timeout,
            }),
            // Closed: the session says so at its next poll, which counts the disconnect once.
            Err(ClientError::Closed) => {}
            Err(e) => {
                tracing::debug!(bot = self.index, error = %e, "emit failed");
                self.record(|w| w.error("emit_failed"));
            }
        }
    }

    fn send_input(&mut self, seat: &mut Seat, intended: Instant) {
        self.seq += 1;
        let seq = self.seq;
        let mut input = self.brain.input(seq, &mut self.rng);
        // In delta mode: the server then sends deltas against that tick (keyframes after a 0).
        input.baseline = seat.feed.baseline();
        self.unapplied.push_back((seq, intended));
        self.record(|w| w.inputs += 1);
        self.ask_later(seat, events::INPUT, &input, AckKind::Input, intended);
    }

    fn send_chat(&mut self, seat: &mut Seat) {
        let text = format!("gg from bot{} ({})", self.index, self.rng.next_u32() % 1000);
        self.record(|w| w.chat_sent += 1);
        let line = json!({ "text": text });
        self.ask_later(seat, events::CHAT, &line, AckKind::Chat, Instant::now());
    }

    /// Counts the acks whose time ran out, oldest first.
    fn expire_acks(&mut self) {
        let now = Instant::now();
        while self.acks.front().is_some_and(|ack| ack.expires <= now) {
            self.acks.pop_front();
            self.record(|w| w.error("ack_timeout"));
        }
    }

    fn on_ack(&mut self, id: u64, args: Vec<Value>) {
        // Usually the oldest; an ack for an id not in the table came after its timeout.
        let Some(at) = self.acks.iter().position(|ack| ack.id == id) else {
            return;
        };
        let Some(PendingAck { kind, since, .. }) = self.acks.remove(at) else {
            return;
        };
        let elapsed = since.elapsed();
        let latency = match kind {
            AckKind::Input => Latency::Ack,
            AckKind::Chat => Latency::ChatAck,
        };
        match ack_outcome(args.first().unwrap_or(&Value::Nil)) {
            Ok((stale, tick)) => {
                let input = kind == AckKind::Input;
                if input && let Some(tick) = tick {
                    self.proven_tick = self.proven_tick.max(tick.saturating_sub(1));
                }
                self.record(|w| {
                    w.record(latency, elapsed);
                    if input {
                        w.acks += 1;
                        w.stale += u64::from(stale);
                    }
                });
            }
            Err(code) => self.record(|w| w.error(&code)),
        }
    }

    fn on_event(&mut self, seat: &mut Seat, event: Event) {
        match event.name.as_str() {
            events::SNAPSHOT => match event.args.first() {
                Some(Value::Binary(bytes)) => self.on_snapshot(seat, bytes),
                _ => self.record(|w| w.error("malformed_snapshot")),
            },
            events::CHAT => self.record(|w| w.chat_received += 1),
            events::ROOM_CLOSED => self.record(|w| w.error("room_closed")),
            _ => {}
        }
    }

    fn on_snapshot(&mut self, seat: &mut Seat, bytes: &[u8]) {
        let now = Instant::now();
        let (state, format) = match seat.feed.apply(bytes) {
            Ok(Received::Applied { state, format }) => (state, format),
            // Repeated or reordered: not a new tick, and nothing new to play on.
            Ok(Received::Old) => return,
            Err(e) => {
                // Not delivered: the tick shows up as missed at the next snapshot that applies.
                tracing::debug!(bot = self.index, error = %e, "snapshot rejected");
                self.record(|w| w.error(&feed::rejection_code(&e)));
                return;
            }
        };
        // A tick the join already covered, heard before the seat existed: a connection through
        // another node is in the room's broadcast before the owner seats it (so no
        // `player:joined` falls in between), and hears whatever the room broadcast meanwhile,
        // but not the ticks that went only to seated members as their own deltas. Not owed to
        // this seat, so not counted and not where its count starts (the join's tick is); still
        // applied, since the server sent that state and may encode against it.
        if state.tick <= seat.joined_tick {
            return;
        }
        let brain::Envelope { tick, applied } =
            brain::read_state(state, seat.player_id, self.brain.as_mut());
        let (expected, interarrival) = match (self.last_tick, self.last_snapshot_at) {
            // At least this one, even if the room's send rate would not have sent it.
            (Some(last), Some(at)) if tick > last => (
                seat.cadence.sends_between(last, tick).max(1),
                Some(now - at),
            ),
            (Some(_), _) => (0, None), // duplicate or reordered: not a new tick
            // Every tick after the join is owed, the first one included.
            (None, _) => (
                seat.cadence.sends_between(seat.joined_tick, tick).max(1),
                None,
            ),
        };
        if expected == 0 {
            return;
        }
        self.last_tick = Some(tick);
        self.last_snapshot_at = Some(now);
        let applied = applied.unwrap_or_default();
        // Usually zero or one input per snapshot; the deque's front is what this snapshot covers.
        let covered = self
            .unapplied
            .iter()
            .take_while(|(seq, _)| *seq <= applied)
            .count();
        let unapplied = &mut self.unapplied;
        let unrequested_delta = format == Format::Delta && self.mode == SnapshotMode::Keyframes;
        self.shared.recorders[self.cohort].with(self.index, |w| {
            w.snapshots += 1;
            match format {
                Format::Keyframe => w.keyframes += 1,
                Format::Delta => w.deltas += 1,
            }
            if unrequested_delta {
                // This bot never said a baseline: a delta breaks the contract for stock clients.
                w.error("unrequested_delta");
            }
            w.snapshots_expected += expected;
            if let Some(gap) = interarrival {
                w.record(Latency::SnapshotInterarrival, gap);
            }
            for (_, intended) in unapplied.drain(..covered) {
                w.record(Latency::InputToSnapshot, now - intended);
            }
        });
        if tick % 32 == 0 {
            self.count_bytes(&seat.session);
        }
    }

    /// Adds the connection's byte counters since the last call to the recorder.
    fn count_bytes(&mut self, session: &Session) {
        let (sent, received) = (session.bytes_sent(), session.bytes_received());
        let (out, inn) = (
            sent.saturating_sub(self.bytes_seen.0),
            received.saturating_sub(self.bytes_seen.1),
        );
        self.bytes_seen = (sent, received);
        self.record(|w| {
            w.bytes_out += out;
            w.bytes_in += inn;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ack_outcomes() {
        let ok = Value::Map(vec![
            (Value::from("ok"), Value::from(true)),
            (Value::from("seq"), Value::from(3)),
            (Value::from("tick"), Value::from(41)),
        ]);
        assert_eq!(ack_outcome(&ok), Ok((false, Some(41))));
        let stale = Value::Map(vec![
            (Value::from("ok"), Value::from(true)),
            (Value::from("stale"), Value::from(true)),
        ]);
        assert_eq!(ack_outcome(&stale), Ok((true, None)));
        let err = Value::Map(vec![
            (Value::from("ok"), Value::from(false)),
            (
                Value::from("error"),
                Value::Map(vec![(Value::from("code"), Value::from("rate_limited"))]),
            ),
        ]);
        assert_eq!(ack_outcome(&err), Err("rate_limited".into()));
        assert_eq!(ack_outcome(&Value::Nil), Err("malformed_ack".into()));
    }
}
