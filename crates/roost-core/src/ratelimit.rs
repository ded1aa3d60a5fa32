//! Rate limits: per bot, requests per second; per chat, messages per second and per minute.
//!
//! Token buckets kept in memory: a bucket holds up to `burst` tokens and refills at the limit's
//! rate, so a bot may send a short burst and then keeps to the rate. A request that finds a
//! bucket empty is answered `429 Too Many Requests: retry after N` with N the whole seconds until
//! a token is back.
//!
//! One instance keeps its buckets in memory. Instances sharing a PostgreSQL store keep them in the
//! store instead (`rate_buckets`, one row per bot or per bot and chat, updated by one atomic
//! statement), so a bot spreading its requests over several instances meets the same limit.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use roost_store::{RateBuckets, Store, UserId};
use roost_types::ApiError;

use crate::{Error, Result};

/// Buckets untouched this long have refilled and are forgotten.
pub(crate) const IDLE: Duration = Duration::from_secs(120);

/// How long after its last use every bucket of these limits is full again (at least [`IDLE`]):
/// forgetting a bucket earlier would hand out tokens it did not have.
pub(crate) fn refilled_after(limits: &RateLimits) -> Duration {
    let slowest = [
        1.0,
        limits.chat_burst.max(1.0) / limits.chat_messages_per_second,
        60.0,
        // Sign-in buckets hold a minute's or an hour's allowance.
        60.0,
        3600.0,
    ]
    .into_iter()
    .filter(|s| s.is_finite())
    .fold(0.0_f64, f64::max);
    IDLE.max(Duration::from_secs_f64(slowest.min(86_400.0)))
}

/// The limiter: in memory, or in the shared store.
pub(crate) struct RateLimiter {
    local: LocalLimiter,
    shared: bool,
}

impl RateLimiter {
    pub(crate) fn new(shared: bool) -> Self {
        RateLimiter { local: LocalLimiter::default(), shared }
    }

    pub(crate) async fn check_bot(&self, store: &Store, limits: &RateLimits, bot: UserId) -> Result<()> {
        if !limits.enabled {
            return Ok(());
        }
        if !self.shared {
            return Ok(self.local.check_bot(limits, bot)?);
        }
        let rate = limits.bot_requests_per_second;
        // One bucket: the second never runs dry.
        take_shared(store, format!("b{bot}"), (rate, rate), (f64::MAX, 0.0)).await
    }

    /// Counts a message of `bot` to `chat`: about one a second, with bursts and the per-minute
    /// limit as `pace` says for this chat (`private`: whether it is a private chat). Each pace has
    /// buckets of its own.
    pub(crate) async fn check_chat(
        &self,
        store: &Store,
        limits: &RateLimits,
        (bot, chat): (i64, i64),
        pace: ChatPace,
        private: bool,
    ) -> Result<()> {
        if !limits.enabled {
            return Ok(());
        }
        let (burst, per_minute) = pace.rules(limits, private);
        if !self.shared {
            return Ok(self.local.check_chat(limits, (bot, chat, pace), burst, per_minute)?);
        }
        let short = (burst, limits.chat_messages_per_second);
        let long = if !per_minute {
            (f64::MAX, 0.0)
        } else {
            (limits.chat_messages_per_minute, limits.chat_messages_per_minute / 60.0)
        };
        // Each pace counts in buckets of its own: a pace whose minute bucket never drains must not
        // meet one that drains it.
        let key = match pace {
            ChatPace::Bursts => format!("c{bot}:{chat}"),
            ChatPace::Strict => format!("cs{bot}:{chat}"),
        };
        take_shared(store, key, short, long).await
    }

    /// Takes a token from the bucket named `key`, which holds `burst` tokens and refills at
    /// `per_second`: the sign-in limits (per address, per account).
    pub(crate) async fn check_key(
        &self,
        store: &Store,
        limits: &RateLimits,
        key: String,
        burst: f64,
        per_second: f64,
    ) -> Result<()> {
        if !limits.enabled {
            return Ok(());
        }
        if !self.shared {
            return Ok(self.local.check_key(key, burst, per_second)?);
        }
        take_shared(store, key, (burst, per_second), (f64::MAX, 0.0)).await
    }

    pub(crate) fn prune(&self, limits: &RateLimits) {
        self.local.prune(limits);
    }
}

/// Takes a token from a shared bucket pair, each given as (capacity, refill per second).
async fn take_shared(store: &Store, key: String, a: (f64, f64), b: (f64, f64)) -> Result<()> {
    let wait = store
        .write(move |w| {
            let buckets =
                RateBuckets { key: &key, capacity_a: a.0, rate_a: a.1, capacity_b: b.0, rate_b: b.1 };
            w.relax_durability()?;
            w.take_rate_token(&buckets, crate::since_epoch().as_secs_f64()).map_err(Error::from)
        })
        .await?;
    if wait > 0.0 { Err(too_many(wait).into()) } else { Ok(()) }
}

/// How a dialect paces a bot's messages to one chat. A [`crate::Core`] handle carries one
/// ([`crate::Core::paced`]); the edge of each dialect picks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ChatPace {
    /// Telegram's documented pace: about one message a second with short bursts
    /// ([`RateLimits::chat_burst`]), and the per-minute limit in groups only.
    #[default]
    Bursts,
    /// One message a second without bursts, and the per-minute limit in every chat.
    Strict,
}

impl ChatPace {
    /// The burst and whether the per-minute limit applies, in a chat that is `private` or not.
    fn rules(self, limits: &RateLimits, private: bool) -> (f64, bool) {
        match self {
            ChatPace::Bursts => (limits.chat_burst.max(1.0), !private),
            ChatPace::Strict => (1.0, true),
        }
    }
}

/// The limits, as configured.
#[derive(Debug, Clone)]
pub struct RateLimits {
    pub enabled: bool,
    /// Bot API requests per second per bot (WWChat: 30).
    pub bot_requests_per_second: f64,
    /// Messages per second per chat and bot (WWChat: 1) …
    pub chat_messages_per_second: f64,
    /// … with bursts of up to this many: a lively private conversation (a person sending two
    /// messages within a second, a bot answering each) stays inside it.
    pub chat_burst: f64,
    /// Messages per minute per group and bot (Telegram: 20; not in private chats).
    pub chat_messages_per_minute: f64,
    /// Sign-in attempts (`login`) per minute from one address, after a burst of as many.
    pub logins_per_minute_per_address: f64,
    /// Sign-in attempts per minute for one account, after a burst of as many.
    pub logins_per_minute_per_account: f64,
    /// Accounts made (`register`) per hour from one address, after a burst of as many.
    pub registrations_per_hour_per_address: f64,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            enabled: true,
            bot_requests_per_second: 30.0,
            chat_messages_per_second: 1.0,
            chat_burst: 10.0,
            chat_messages_per_minute: 20.0,
            logins_per_minute_per_address: 20.0,
            logins_per_minute_per_account: 10.0,
            registrations_per_hour_per_address: 10.0,
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

    /// Whether the bucket would be full at `now` (and can be forgotten).
    fn is_full(&self, capacity: f64, per_second: f64, now: Instant) -> bool {
        self.tokens + now.saturating_duration_since(self.updated).as_secs_f64() * per_second >= capacity
    }

    /// Refills the bucket to `now` and takes a token, or says how long until one is back.
    fn take(&mut self, capacity: f64, per_second: f64, now: Instant) -> Result<(), ApiError> {
        self.refill(capacity, per_second, now);
        match self.wait(per_second) {
            0.0 => {
                self.tokens -= 1.0;
                Ok(())
            }
            wait => Err(too_many(wait)),
        }
    }
}

fn too_many(wait: f64) -> ApiError {
    ApiError::too_many_requests(wait.ceil().max(1.0) as u32)
}

/// A bot's buckets for one chat under one pace.
type ChatBuckets = (i64, i64, ChatPace);

/// Buckets in this process's memory.
#[derive(Default)]
pub(crate) struct LocalLimiter {
    /// std Mutex: held for a map lookup and a few float operations.
    bots: Mutex<HashMap<i64, Bucket>>,
    /// By bot, chat and pace: a short and a per-minute bucket.
    chats: Mutex<HashMap<ChatBuckets, (Bucket, Bucket)>>,
    /// Named buckets with their capacity and rate.
    keys: Mutex<HashMap<String, (Bucket, f64, f64)>>,
}

impl LocalLimiter {
    pub(crate) fn check_bot(&self, limits: &RateLimits, bot: UserId) -> Result<(), ApiError> {
        if !limits.enabled {
            return Ok(());
        }
        let now = Instant::now();
        let rate = limits.bot_requests_per_second;
        let Ok(mut bots) = self.bots.lock() else { return Ok(()) };
        bots.entry(bot.raw()).or_insert_with(|| Bucket::full(rate, now)).take(rate, rate, now)
    }

    pub(crate) fn check_chat(
        &self,
        limits: &RateLimits,
        key: ChatBuckets,
        burst: f64,
        per_minute: bool,
    ) -> Result<(), ApiError> {
        if !limits.enabled {
            return Ok(());
        }
        let private = !per_minute;
        let now = Instant::now();
        let second_rate = limits.chat_messages_per_second;
        let (minute_rate, minute_cap) =
            (limits.chat_messages_per_minute / 60.0, limits.chat_messages_per_minute);
        let Ok(mut chats) = self.chats.lock() else { return Ok(()) };
        let (short, long) =
            chats.entry(key).or_insert_with(|| (Bucket::full(burst, now), Bucket::full(minute_cap, now)));
        short.refill(burst, second_rate, now);
        long.refill(minute_cap, minute_rate, now);
        let wait = if private {
            short.wait(second_rate)
        } else {
            short.wait(second_rate).max(long.wait(minute_rate))
        };
        if wait > 0.0 {
            return Err(too_many(wait));
        }
        short.tokens -= 1.0;
        if !private {
            long.tokens -= 1.0;
        }
        Ok(())
    }

    pub(crate) fn check_key(&self, key: String, burst: f64, per_second: f64) -> Result<(), ApiError> {
        let now = Instant::now();
        let Ok(mut keys) = self.keys.lock() else { return Ok(()) };
        let (bucket, _, _) = keys.entry(key).or_insert_with(|| (Bucket::full(burst, now), burst, per_second));
        bucket.take(burst, per_second, now)
    }

    /// Forgets buckets that have refilled completely (idle bots and chats).
    pub(crate) fn prune(&self, limits: &RateLimits) {
        let now = Instant::now();
        if let Ok(mut keys) = self.keys.lock() {
            keys.retain(|_, (bucket, capacity, rate)| !bucket.is_full(*capacity, *rate, now));
        }
        let idle = IDLE;
        if let Ok(mut bots) = self.bots.lock() {
            bots.retain(|_, b| now.saturating_duration_since(b.updated) < idle);
        }
        if let Ok(mut chats) = self.chats.lock() {
            // Kept until both buckets are full again (a private chat's minute bucket never drains).
            let minute = limits.chat_messages_per_minute;
            chats.retain(|&(_, _, pace), (short, long)| {
                let (burst, _) = pace.rules(limits, true);
                !short.is_full(burst, limits.chat_messages_per_second, now)
                    || !long.is_full(minute, minute / 60.0, now)
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_limits_allow_a_burst_then_the_rate() {
        let limiter = LocalLimiter::default();
        let limits = RateLimits::default();
        for _ in 0..3 {
            assert!(limiter.check_chat(&limits, (1, 7, ChatPace::Bursts), 3.0, true).is_ok());
        }
        let refused = limiter.check_chat(&limits, (1, 7, ChatPace::Bursts), 3.0, true).err();
        assert_eq!(refused.as_ref().map(|e| e.status()), Some(429));
        assert_eq!(refused.and_then(|e| e.retry_after), Some(1));
        // Another chat of the same bot is not affected.
        assert!(limiter.check_chat(&limits, (1, 8, ChatPace::Bursts), 3.0, true).is_ok());
        let off = RateLimits { enabled: false, ..RateLimits::default() };
        assert!(limiter.check_chat(&off, (1, 7, ChatPace::Bursts), 3.0, true).is_ok());
    }

    /// A private chat has no per-minute limit: a lively conversation (a message a second) goes
    /// on past twenty a minute, where a group's stops.
    #[test]
    fn private_chats_have_no_minute_limit() {
        let limiter = LocalLimiter::default();
        let limits = RateLimits { chat_burst: 30.0, chat_messages_per_second: 30.0, ..RateLimits::default() };
        let (private, _) = ChatPace::Bursts.rules(&limits, true);
        let (group, minute) = ChatPace::Bursts.rules(&limits, false);
        let private = (0..25)
            .filter(|_| limiter.check_chat(&limits, (1, 7, ChatPace::Bursts), private, false).is_ok())
            .count();
        let group = (0..25)
            .filter(|_| limiter.check_chat(&limits, (1, -8, ChatPace::Bursts), group, minute).is_ok())
            .count();
        assert_eq!((private, group), (25, 20));
    }

    /// A private chat's bucket is kept until its burst has refilled, though its minute bucket
    /// never drains: forgetting it earlier would hand out a burst it did not have.
    #[test]
    fn a_drained_private_chat_is_not_forgotten() {
        let limiter = LocalLimiter::default();
        let limits = RateLimits::default();
        for _ in 0..3 {
            assert!(limiter.check_chat(&limits, (1, 7, ChatPace::Bursts), 3.0, false).is_ok());
        }
        limiter.prune(&limits);
        assert!(
            limiter.check_chat(&limits, (1, 7, ChatPace::Bursts), 3.0, false).is_err(),
            "the drained bucket was forgotten"
        );
    }

    /// The strict pace: one a second without bursts, and twenty a minute in a private chat too.
    #[test]
    fn the_strict_pace_has_no_bursts_and_a_minute_limit_everywhere() {
        let limiter = LocalLimiter::default();
        let limits = RateLimits::default();
        let (burst, minute) = ChatPace::Strict.rules(&limits, true);
        assert_eq!((burst, minute), (1.0, true));
        assert!(limiter.check_chat(&limits, (1, 7, ChatPace::Strict), burst, minute).is_ok());
        assert!(limiter.check_chat(&limits, (1, 7, ChatPace::Strict), burst, minute).is_err());
        // The minute bucket counts in a private chat: a fast second rate still stops at twenty.
        let fast = RateLimits { chat_messages_per_second: 1e9, ..RateLimits::default() };
        let allowed = (0..25)
            .filter(|_| limiter.check_chat(&fast, (1, 9, ChatPace::Strict), burst, minute).is_ok())
            .count();
        assert_eq!(allowed, 20);
    }

    #[test]
    fn bot_limit_is_thirty_a_second() {
        let limiter = LocalLimiter::default();
        let limits = RateLimits::default();
        let allowed = (0..40).filter(|_| limiter.check_bot(&limits, UserId::from_raw(5)).is_ok()).count();
        assert_eq!(allowed, 30);
    }

    /// The shared buckets' statement, run on SQLite here (PostgreSQL runs the same statement in
    /// the PostgreSQL test pass): the same burst-then-rate behaviour as the memory buckets.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn shared_buckets_allow_a_burst_then_the_rate() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store =
            Store::connect(&url, roost_store::StoreOptions::default(), std::sync::Arc::new(|_: &[_]| {}))
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        let limiter = RateLimiter::new(true);
        let limits = RateLimits { chat_burst: 3.0, ..RateLimits::default() };
        let mut outcomes = Vec::new();
        for _ in 0..4 {
            outcomes.push(limiter.check_chat(&store, &limits, (1, 7), ChatPace::Bursts, false).await.is_ok());
        }
        assert_eq!(outcomes, [true, true, true, false]);
        match limiter.check_chat(&store, &limits, (1, 7), ChatPace::Bursts, false).await {
            Err(Error::Api(e)) => assert_eq!((e.status(), e.retry_after), (429, Some(1))),
            other => panic!("expected 429, got {other:?}"),
        }
        assert!(limiter.check_chat(&store, &limits, (1, 8), ChatPace::Bursts, false).await.is_ok());
        // With the clock held still: 30 tokens, then none; half a second later, 15 more.
        let allowed = store
            .write(|w| {
                let bucket = RateBuckets {
                    key: "b5",
                    capacity_a: 30.0,
                    rate_a: 30.0,
                    capacity_b: f64::MAX,
                    rate_b: 0.0,
                };
                let mut allowed = Vec::new();
                for now in [1000.0, 1000.5] {
                    let mut n = 0;
                    for _ in 0..40 {
                        n += usize::from(w.take_rate_token(&bucket, now)? == 0.0);
                    }
                    allowed.push(n);
                }
                Ok::<_, Error>(allowed)
            })
            .await
            .ok();
        assert_eq!(allowed, Some(vec![30, 15]));
        store.close().await;
    }
}
