//! Per-connection rate limits: token buckets for inputs, chat and every other request, and an
//! abuse meter that turns sustained flooding into a disconnect.
//!
//! A request over its limit is answered `rate_limited` and dropped: it never reaches a room, so
//! a flooding client cannot slow anyone else's game. Each refusal also costs a strike; strikes
//! drain at a steady rate, so a client that bursts now and then is only slowed, while one that
//! keeps flooding empties the meter and is disconnected (with a `connection:closing` event
//! saying why).

use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

/// The limits, from the configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimitConfig {
    /// Inputs per second allowed per tick of the player's room per second (2.0 = twice the
    /// tick rate, with one second of burst).
    pub inputs_per_tick: f64,
    /// Chat messages per second.
    pub chat_per_sec: f64,
    /// Chat burst.
    pub chat_burst: f64,
    /// Other requests (lobby, rooms, time) per second.
    pub requests_per_sec: f64,
    /// Burst of other requests.
    pub requests_burst: f64,
    /// Refusals tolerated in a burst before a disconnect; they drain at a tenth of this per second.
    pub strikes: f64,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            inputs_per_tick: 2.0,
            chat_per_sec: 1.0,
            chat_burst: 3.0,
            requests_per_sec: 10.0,
            requests_burst: 20.0,
            strikes: 100.0,
        }
    }
}

/// What a limited request turned into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Go ahead.
    Allowed,
    /// Answer `rate_limited`.
    Limited,
    /// Answer `rate_limited` and close the connection: the client keeps flooding.
    Disconnect,
}

/// A classic token bucket. Rate and capacity are passed on each call, so one bucket can follow
/// a limit that depends on the room (inputs scale with the tick rate).
#[derive(Debug, Clone, Copy)]
pub(crate) struct TokenBucket {
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub(crate) fn full(capacity: f64, now: Instant) -> Self {
        Self {
            tokens: capacity,
            last: now,
        }
    }

    fn refill(&mut self, rate: f64, capacity: f64, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(capacity);
        self.last = now;
    }

    pub(crate) fn try_take(&mut self, rate: f64, capacity: f64, now: Instant) -> bool {
        self.refill(rate, capacity, now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[derive(Debug)]
struct Buckets {
    inputs: TokenBucket,
    chat: TokenBucket,
    requests: TokenBucket,
    /// Inverted: starts full and each refusal takes a token; empty means "disconnect".
    patience: TokenBucket,
}

/// One connection's limits.
#[derive(Debug)]
pub struct RateLimiter {
    config: RateLimitConfig,
    buckets: Mutex<Buckets>,
}

/// Which bucket a request draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `input`, in a room of this tick rate.
    Input {
        /// The room's tick rate.
        tick_rate: u32,
    },
    /// `chat`.
    Chat,
    /// Everything else.
    Request,
}

impl RateLimiter {
    /// Fresh limits: every bucket full.
    pub fn new(config: RateLimitConfig) -> Self {
        Self::starting_at(config, Instant::now())
    }

    fn starting_at(config: RateLimitConfig, now: Instant) -> Self {
        Self {
            config,
            buckets: Mutex::new(Buckets {
                // Inputs start with a second's worth at the default tick rate; the capacity
                // follows the room on each call.
                inputs: TokenBucket::full(config.inputs_per_tick * 30.0, now),
                chat: TokenBucket::full(config.chat_burst, now),
                requests: TokenBucket::full(config.requests_burst, now),
                patience: TokenBucket::full(config.strikes, now),
            }),
        }
    }

    /// Charges one request of `kind`.
    pub fn check(&self, kind: Kind) -> Verdict {
        self.check_at(kind, Instant::now())
    }

    fn check_at(&self, kind: Kind, now: Instant) -> Verdict {
        let c = self.config;
        let mut b = self.lock();
        let allowed = match kind {
            Kind::Input { tick_rate } => {
                let rate = c.inputs_per_tick * f64::from(tick_rate.max(1));
                b.inputs.try_take(rate, rate, now)
            }
            Kind::Chat => b.chat.try_take(c.chat_per_sec, c.chat_burst, now),
            Kind::Request => b
                .requests
                .try_take(c.requests_per_sec, c.requests_burst, now),
        };
        if allowed {
            return Verdict::Allowed;
        }
        if b.patience.try_take(c.strikes / 10.0, c.strikes, now) {
            Verdict::Limited
        } else {
            Verdict::Disconnect
        }
    }

    fn lock(&self) -> MutexGuard<'_, Buckets> {
        // Plain numbers: a poisoned lock still holds usable buckets.
        self.buckets.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn inputs_follow_twice_the_room_tick_rate() {
        let t0 = Instant::now();
        let limiter = RateLimiter::starting_at(RateLimitConfig::default(), t0);
        let kind = Kind::Input { tick_rate: 30 };
        // One second of burst (60), then one more per 1/60 s.
        let burst = (0..100)
            .take_while(|_| limiter.check_at(kind, t0) == Verdict::Allowed)
            .count();
        assert_eq!(burst, 60);
        assert_eq!(limiter.check_at(kind, t0), Verdict::Limited);
        let later = t0 + Duration::from_millis(500);
        let refilled = (0..100)
            .take_while(|_| limiter.check_at(kind, later) == Verdict::Allowed)
            .count();
        assert_eq!(refilled, 30, "half a second at 60/s");
        // A player sending one input per tick never hits the limit.
        let steady = RateLimiter::starting_at(RateLimitConfig::default(), t0);
        for tick in 0..3000u64 {
            let now = t0 + Duration::from_micros(tick * 33_334);
            assert_eq!(steady.check_at(kind, now), Verdict::Allowed, "tick {tick}");
        }
    }

    #[test]
    fn chat_allows_a_small_burst_then_one_a_second() {
        let t0 = Instant::now();
        let limiter = RateLimiter::starting_at(RateLimitConfig::default(), t0);
        let verdicts: Vec<Verdict> = (0..4).map(|_| limiter.check_at(Kind::Chat, t0)).collect();
        assert_eq!(verdicts[..3], [Verdict::Allowed; 3]);
        assert_eq!(verdicts[3], Verdict::Limited);
        assert_eq!(
            limiter.check_at(Kind::Chat, t0 + Duration::from_millis(1000)),
            Verdict::Allowed
        );
    }

    #[test]
    fn sustained_flooding_ends_in_a_disconnect_and_occasional_bursts_do_not() {
        let t0 = Instant::now();
        let config = RateLimitConfig::default();
        let limiter = RateLimiter::starting_at(config, t0);
        let refusals_before_disconnect = (0..1000)
            .map(|_| limiter.check_at(Kind::Chat, t0))
            .take_while(|v| *v != Verdict::Disconnect)
            .filter(|v| *v == Verdict::Limited)
            .count();
        assert_eq!(refusals_before_disconnect, config.strikes as usize);

        // Eleven chats every second for a minute: one passes, ten are refused, and the strikes
        // drain as fast as they come.
        let bursty = RateLimiter::starting_at(config, t0);
        for second in 0..60u64 {
            let now = t0 + Duration::from_secs(second);
            for _ in 0..11 {
                assert_ne!(
                    bursty.check_at(Kind::Chat, now),
                    Verdict::Disconnect,
                    "second {second}"
                );
            }
        }
    }
}
