//! Roost's service layer: what happens when a person or a bot acts.
//!
//! [`Core`] is the one entry point. Each operation takes the acting identity and a typed request
//! from `roost-types`, applies the messenger's rules, changes the store in one transaction, and
//! returns typed objects or an [`Error`]. The core knows nothing of HTTP, status codes on the wire,
//! or any dialect's formatting.

mod addresses;
mod bots;
mod chats;
#[cfg(test)]
mod linear_tests;
mod messages;
mod people;
mod ratelimit;
mod updates;

pub use messages::{entities, format};
pub use people::secrets;
pub use updates::hub;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use roost_store::{Store, StoreError, StoreOptions};
use roost_types::ApiError;

use people::TokenCache;

pub use addresses::is_public_ip;
pub use bots::errors::ErrorSource;
pub use bots::manage::{BOTS_PER_PERSON, Manager};
pub use bots::system::SYSTEM_BOT_NAMES;
pub use hub::Hub;
pub use messages::EventPage;
pub use people::accounts::PersonSummary;
pub use people::keys::{IssuedJwt, is_api_key};
pub use people::{Registration, SignIn};
pub use ratelimit::{ChatPace, RateLimits};
pub use roost_store::{ChatKey, UserId};
pub use updates::QueuedUpdate;
pub use updates::webhooks::{INSECURE_HINT, check_webhook_url};

/// The dialect a webhook set before dialects were recorded, or removed, is in.
pub const DEFAULT_DIALECT: &str = "telegram";

/// What can go wrong in the core.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A rule of the messenger said no; the caller gets exactly this answer.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The store failed. The caller gets a generic 500; the detail goes to the log only.
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// At most this many updates and as many events are deleted by one expiry job (SQLite): a
/// backlog of millions goes in slices of a few milliseconds each, not in one commit that holds
/// every other write up.
const EXPIRE_SLICE: usize = 5_000;

/// Decodes a stored JSON column; an absent value is the type's default (an empty list).
pub(crate) fn decode_stored<T: serde::de::DeserializeOwned + Default>(json: Option<&str>) -> Result<T> {
    match json {
        Some(json) => Ok(serde_json::from_str(json).map_err(StoreError::from)?),
        None => Ok(T::default()),
    }
}

/// The time since the Unix epoch, finer than [`roost_store::unix_now`]'s seconds (rate buckets,
/// leases and poll start times need fractions).
pub(crate) fn since_epoch() -> Duration {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default()
}

/// Settings of the service layer.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// How long an unconfirmed update is kept (Telegram: 24 hours).
    pub update_retention: Duration,
    /// How long a person's events stay replayable after a reconnect.
    pub event_retention: Duration,
    /// Accept `http://` webhooks and webhooks on loopback and private addresses (local development
    /// and tests). Off by default: webhooks must be https on public addresses.
    pub allow_insecure_webhooks: bool,
    /// Per-bot and per-chat rate limits.
    pub rate_limits: RateLimits,
    /// With a shared store (PostgreSQL): how often waiters re-read their queue's position, in
    /// case another instance's notification was lost. Notifications wake them in milliseconds;
    /// this only bounds the delay when one goes missing.
    pub shared_recheck: Duration,
    /// A person's session ends after this long unused.
    pub session_idle: Duration,
    /// Passwords hashed or checked at once (each Argon2id run holds 19 MiB); more wait, up to
    /// [`HASHING_QUEUE_PER_HASHER`] each, and beyond that are answered 429.
    pub password_hashers: usize,
    /// Who may register through the client API.
    pub registration: Registration,
}

/// How many sign-ins may wait for each password hasher before more are turned away.
pub const HASHING_QUEUE_PER_HASHER: usize = 16;

impl Default for CoreConfig {
    fn default() -> Self {
        CoreConfig {
            update_retention: Duration::from_secs(roost_types::limits::UPDATE_RETENTION_SECS as u64),
            event_retention: Duration::from_secs(7 * 24 * 60 * 60),
            allow_insecure_webhooks: false,
            rate_limits: RateLimits::default(),
            shared_recheck: Duration::from_secs(5),
            session_idle: Duration::from_secs(90 * 24 * 60 * 60),
            password_hashers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            registration: Registration::Open,
        }
    }
}

/// The service layer; cheap to clone.
#[derive(Clone)]
pub struct Core {
    inner: Arc<Inner>,
    /// How this handle paces a bot's messages to one chat: the dialect serving the request
    /// chooses ([`Core::paced`]).
    pace: ChatPace,
}

struct Inner {
    store: Store,
    hub: Arc<Hub>,
    config: CoreConfig,
    /// Bot id → SHA-256 of its token secret, so that authenticating a bot request costs no read.
    bot_tokens: Arc<TokenCache>,
    /// Bots' error logs, buffered until the next flush.
    error_log: bots::errors::ErrorLog,
    rate_limiter: ratelimit::RateLimiter,
    /// Per bot, the offset its last getUpdates confirmed. The deletion is committed in the
    /// background; reads start at this floor meanwhile, so a confirmed update is never returned
    /// again by this process. std Mutex: held for a map operation only.
    confirmed: std::sync::Mutex<HashMap<UserId, i64>>,
    /// The bound on password hashing (see [`CoreConfig::password_hashers`]).
    hashing: people::Hashing,
    /// This installation's 32-byte secret for the dialects' opaque ids (the same on every
    /// instance and across restarts: stored once, in `instance_secrets`).
    id_key: [u8; 32],
    /// The installation's 32-byte key bots' tokens are sealed under (see `people::secrets`).
    token_key: [u8; 32],
    /// The installation's 32-byte key its JWTs are signed with (`people::keys`).
    jwt_key: [u8; 32],
}

impl Core {
    /// Opens the store at `database` (`postgres://…`, a `sqlite://` URL or a path) and wires its
    /// commits (and, with PostgreSQL, every other instance's) to the wake-up hub.
    pub async fn open(database: &str, store_options: StoreOptions, config: CoreConfig) -> Result<Core> {
        let hub = Arc::new(Hub::default());
        let bot_tokens = Arc::new(TokenCache::default());
        let (announce, tokens) = (Arc::clone(&hub), Arc::clone(&bot_tokens));
        let on_commit = Arc::new(move |fx: &[roost_store::Effect]| {
            tokens.observe(fx);
            announce.announce(fx);
        });
        let store = Store::connect(database, store_options, on_commit).await?;
        let secret = async |name: &'static str| -> Result<[u8; 32]> {
            let fresh: [u8; 32] = rand::random();
            let stored = store.write(move |w| w.instance_secret(name, &fresh).map_err(Error::from)).await?;
            Ok(stored
                .try_into()
                .map_err(|_| StoreError::Database(format!("the stored {name} key is not 32 bytes")))?)
        };
        let id_key = secret("ids").await?;
        let token_key = secret("tokens").await?;
        let jwt_key = secret("jwt").await?;
        let core = Core {
            inner: Arc::new(Inner {
                rate_limiter: ratelimit::RateLimiter::new(store.is_shared()),
                store,
                hub,
                bot_tokens,
                error_log: bots::errors::ErrorLog::default(),
                token_key,
                jwt_key,
                confirmed: std::sync::Mutex::default(),
                hashing: people::Hashing::new(config.password_hashers),
                id_key,
                config,
            }),
            pace: ChatPace::default(),
        };
        if core.store().is_shared() {
            tokio::spawn(updates::resync::run(core.clone()));
        }
        Ok(core)
    }

    /// This handle with another pace for messages to one chat (a dialect's rate table).
    pub fn paced(&self, pace: ChatPace) -> Core {
        Core { inner: Arc::clone(&self.inner), pace }
    }

    /// Whether other instances share this one's store.
    pub fn is_shared(&self) -> bool {
        self.store().is_shared()
    }

    pub fn config(&self) -> &CoreConfig {
        &self.inner.config
    }

    /// The installation's secret key for dialects' opaque ids (see `roost-http`'s WWChat UUIDs):
    /// the same on every instance sharing the store, and across restarts.
    pub fn id_key(&self) -> &[u8; 32] {
        &self.inner.id_key
    }

    pub fn hub(&self) -> &Hub {
        &self.inner.hub
    }

    fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Counts one Bot API request of a bot against its limit.
    pub async fn check_bot_rate(&self, bot: UserId) -> Result<()> {
        self.inner.rate_limiter.check_bot(self.store(), &self.inner.config.rate_limits, bot).await
    }

    /// Counts one message of a bot to a chat against the chat limits, keyed by the chat however
    /// the request named it (`@alice` and her id are one bucket). A chat that does not resolve is
    /// not counted: the send fails on it anyway.
    pub(crate) async fn check_chat_rate(
        &self,
        bot: UserId,
        chat: &roost_types::requests::ChatId,
    ) -> Result<()> {
        use roost_types::requests::ChatId;
        let limits = &self.inner.config.rate_limits;
        if !limits.enabled {
            return Ok(());
        }
        let chat = match chat {
            ChatId::Id(id) => *id,
            ChatId::Username(name) => {
                let name = name.clone();
                match self
                    .store()
                    .lookup(move |r| roost_store::Queries::user_by_username(r, &name).map_err(Error::from))
                    .await?
                {
                    Some(user) => user.id.raw(),
                    None => return Ok(()),
                }
            }
        };
        // Every chat is private for now (groups are an open issue).
        self.inner.rate_limiter.check_chat(self.store(), limits, (bot.raw(), chat), self.pace, true).await
    }

    /// Forgets idle rate-limit buckets and wake-up registrations.
    pub fn prune(&self) {
        self.hub().prune();
        self.inner.rate_limiter.prune(&self.inner.config.rate_limits);
    }

    /// Deletes updates and events past their retention, and shared rate buckets that have
    /// refilled; returns how many updates and events.
    pub async fn expire(&self) -> Result<(usize, usize)> {
        let now = roost_store::unix_now();
        let updates_before = now - self.inner.config.update_retention.as_secs() as i64;
        let events_before = now - self.inner.config.event_retention.as_secs() as i64;
        if self.is_shared() {
            let refilled = ratelimit::refilled_after(&self.inner.config.rate_limits).as_secs_f64();
            self.store()
                .write(move |w| {
                    w.prune_rate_buckets(since_epoch().as_secs_f64() - refilled).map_err(Error::from)
                })
                .await?;
        }
        let sessions_before = now - self.inner.config.session_idle.as_secs() as i64;
        self.store().write(move |w| w.expire_sessions(sessions_before).map_err(Error::from)).await?;
        // In slices, each its own write job: other writes go on between them.
        let mut total = (0, 0);
        loop {
            let (updates, events) = self
                .store()
                .write(move |w| w.expire(updates_before, events_before, EXPIRE_SLICE).map_err(Error::from))
                .await?;
            total = (total.0 + updates, total.1 + events);
            if updates < EXPIRE_SLICE && events < EXPIRE_SLICE {
                return Ok(total);
            }
        }
    }

    /// Commits everything already submitted and stops the store's writer.
    pub async fn close(&self) {
        if let Err(e) = self.flush_bot_errors().await {
            tracing::warn!(error = %e, "cannot write the bots' error logs");
        }
        self.inner.store.close().await;
    }
}

/// Helpers of the core's tests.
#[cfg(test)]
pub(crate) mod testing {
    use roost_store::{NewUser, UserId, Writer};

    /// A person named `someone` and a bot `some_bot` they own.
    pub(crate) fn person_and_bot(w: &mut Writer<'_>, now: i64) -> roost_store::Result<(UserId, UserId)> {
        let user = |username, is_bot| NewUser {
            is_bot,
            username,
            first_name: "Someone",
            last_name: None,
            language_code: None,
            password_hash: None,
            created_at: now,
        };
        let person = w.insert_user(&user("someone", false))?;
        let bot = w.insert_user(&user("some_bot", true))?;
        w.insert_bot(bot, person, b"hash", None, now)?;
        Ok((person, bot))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roost_store::Queries;

    /// A backlog larger than one slice goes in several write jobs, all of it, and nothing newer.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn expiry_takes_a_large_backlog_in_slices() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let config = CoreConfig {
            update_retention: Duration::from_secs(60),
            event_retention: Duration::from_secs(60),
            ..CoreConfig::default()
        };
        let core = Core::open(&url, StoreOptions::default(), config).await.unwrap_or_else(|e| panic!("{e}"));
        let backlog = 2 * EXPIRE_SLICE + 7;
        let now = roost_store::unix_now();
        let (person, bot) = core
            .store()
            .write(move |w| {
                let (person, bot) = testing::person_and_bot(w, now)?;
                for i in 0..backlog + 3 {
                    // The last three are recent.
                    let at = if i < backlog { now - 3600 } else { now };
                    w.push_update(
                        bot,
                        at,
                        &roost_store::Happened::Message {
                            chat: roost_store::ChatKey::from_raw(0),
                            message_id: roost_store::MessageId::from_raw(1),
                        },
                    )?;
                    w.push_event(person, at, |seq| Ok(format!("{{\"seq\":{seq}}}")))?;
                }
                Ok::<_, Error>((person, bot))
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let expired = core.expire().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(expired, (backlog, backlog));
        let left = core
            .store()
            .read(move |r| {
                Ok::<_, Error>((
                    r.pending_update_count(bot, roost_store::UpdateId::from_raw(0))?,
                    r.events_after(person, 0, 0, 100)?.0.len(),
                ))
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(left, (3, 3));
        assert_eq!(core.expire().await.ok(), Some((0, 0)));
        core.close().await;
    }
}
