//! Rate limits: per bot, requests per second; per chat, messages per second and per minute.
//!
//! Token buckets kept in memory: a bucket holds up to `burst` tokens and refills at the limit's
//! rate, so a bot may send a short burst and then keeps to the rate. A request that finds a
//! bucket empty is answered `429 Too Many Requests: retry after N` with N the whole seconds until
//! a token is back. (Several instances behind one balancer each keep their own buckets; a shared
//! limit is a later issue's work.)

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use roost_types::ApiError;

/// The limits, as configured.
#[derive(Debug, Clone)]
pub struct RateLimits {
    pub enabled: bool,
    /// Bot API requests per second per bot (WWChat: 30).
    pub bot_requests_per_second: f64,
    /// Messages per second per chat and bot (WWChat: 1) …
    pub chat_messages_per_second: f64,
    /// … with bursts of up to this many.
    pub chat_burst: f64,
    /// Messages per minute per chat and bot (WWChat: 20).
    pub chat_messages_per_minute: f64,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            enabled: true,
            bot_requests_per_second: 30.0,
            chat_messages_per_second: 1.0,
            chat_burst: 3.0,
            chat_messages_per_minute: 20.0,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl Bucket {
    fn full(capacity: f64, now: Instant) -> Self {
        Bucket { tokens: capacity, updated: now }
    }

    fn refill(&mut self, capacity: f64, per_second: f64, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * per_second).min(capacity);
        self.updated = now;
    }

    /// Seconds until a token is available (0 if one is).
    fn wait(&self, per_second: f64) -> f64 {
        if self.tokens >= 1.0 { 0.0 } else { (1.0 - self.tokens) / per_second }
    }
}

fn too_many(wait: f64) -> ApiError {
    ApiError::too_many_requests(wait.ceil().max(1.0) as u32)
}

#[derive(Default)]
pub(crate) struct RateLimiter {
    /// std Mutex: held for a map lookup and a few float operations.
    bots: Mutex<HashMap<i64, Bucket>>,
    chats: Mutex<HashMap<(i64, String), (Bucket, Bucket)>>,
}

impl RateLimiter {
    pub(crate) fn check_bot(&self, limits: &RateLimits, bot: i64) -> Result<(), ApiError> {
        if !limits.enabled {
            return Ok(());
        }
        let now = Instant::now();
        let rate = limits.bot_requests_per_second;
        let Ok(mut bots) = self.bots.lock() else { return Ok(()) };
        let bucket = bots.entry(bot).or_insert_with(|| Bucket::full(rate, now));
        bucket.refill(rate, rate, now);
        match bucket.wait(rate) {
            0.0 => {
                bucket.tokens -= 1.0;
                Ok(())
            }
            wait => Err(too_many(wait)),
        }
    }

    pub(crate) fn check_chat(&self, limits: &RateLimits, bot: i64, chat: String) -> Result<(), ApiError> {
        if !limits.enabled {
            return Ok(());
        }
        let now = Instant::now();
        let (second_rate, burst) = (limits.chat_messages_per_second, limits.chat_burst.max(1.0));
        let (minute_rate, minute_cap) =
            (limits.chat_messages_per_minute / 60.0, limits.chat_messages_per_minute);
        let Ok(mut chats) = self.chats.lock() else { return Ok(()) };
        let (short, long) = chats
            .entry((bot, chat))
            .or_insert_with(|| (Bucket::full(burst, now), Bucket::full(minute_cap, now)));
        short.refill(burst, second_rate, now);
        long.refill(minute_cap, minute_rate, now);
        let wait = short.wait(second_rate).max(long.wait(minute_rate));
        if wait > 0.0 {
            return Err(too_many(wait));
        }
        short.tokens -= 1.0;
        long.tokens -= 1.0;
        Ok(())
    }

    /// Forgets buckets that have refilled completely (idle bots and chats).
    pub(crate) fn prune(&self, limits: &RateLimits) {
        let now = Instant::now();
        let idle = Duration::from_secs(120);
        if let Ok(mut bots) = self.bots.lock() {
            bots.retain(|_, b| now.saturating_duration_since(b.updated) < idle);
        }
        if let Ok(mut chats) = self.chats.lock() {
            chats.retain(|_, (_, long)| {
                now.saturating_duration_since(long.updated).as_secs_f64() * limits.chat_messages_per_minute
                    / 60.0
                    + long.tokens
                    < limits.chat_messages_per_minute
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_limits_allow_a_burst_then_the_rate() {
        let limiter = RateLimiter::default();
        let limits = RateLimits::default();
        for _ in 0..3 {
            assert!(limiter.check_chat(&limits, 1, "7".into()).is_ok());
        }
        let refused = limiter.check_chat(&limits, 1, "7".into()).err();
        assert_eq!(refused.as_ref().map(|e| e.code), Some(429));
        assert_eq!(refused.and_then(|e| e.retry_after), Some(1));
        // Another chat of the same bot is not affected.
        assert!(limiter.check_chat(&limits, 1, "8".into()).is_ok());
        let off = RateLimits { enabled: false, ..RateLimits::default() };
        assert!(limiter.check_chat(&off, 1, "7".into()).is_ok());
    }

    #[test]
    fn bot_limit_is_thirty_a_second() {
        let limiter = RateLimiter::default();
        let limits = RateLimits::default();
        let allowed = (0..40).filter(|_| limiter.check_bot(&limits, 5).is_ok()).count();
        assert_eq!(allowed, 30);
    }
}
