//! Roost's service layer: what happens when a person or a bot acts.
//!
//! [`Core`] is the one entry point. Each operation takes the acting identity and a typed request
//! from `roost-types`, applies the messenger's rules, changes the store in one transaction, and
//! returns typed objects or an [`Error`]. The core knows nothing of HTTP, status codes on the wire,
//! or any dialect's formatting.

pub mod entities;
pub mod format;
pub mod hub;
pub mod secrets;

mod accounts;
mod callbacks;
mod commands;
mod compose;
mod editing;
mod messaging;
mod ratelimit;
mod render;
mod updates;
mod webhooks;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use roost_store::{Store, StoreError, StoreOptions};
use roost_types::ApiError;

pub use accounts::NewBot;
pub use hub::Hub;
pub use ratelimit::RateLimits;
pub use webhooks::{check_webhook_url, is_public_ip};

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

/// Decodes a stored JSON column; an absent value is the type's default (an empty list).
pub(crate) fn decode_stored<T: serde::de::DeserializeOwned + Default>(json: Option<&str>) -> Result<T> {
    match json {
        Some(json) => Ok(serde_json::from_str(json).map_err(StoreError::from)?),
        None => Ok(T::default()),
    }
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
}

impl Default for CoreConfig {
    fn default() -> Self {
        CoreConfig {
            update_retention: Duration::from_secs(roost_types::limits::UPDATE_RETENTION_SECS as u64),
            event_retention: Duration::from_secs(7 * 24 * 60 * 60),
            allow_insecure_webhooks: false,
            rate_limits: RateLimits::default(),
        }
    }
}

/// The service layer; cheap to clone.
#[derive(Clone)]
pub struct Core {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    hub: Arc<Hub>,
    config: CoreConfig,
    /// Bot id → SHA-256 of its token secret, so that authenticating a bot request costs no read.
    /// std RwLock: held only for a map operation.
    bot_tokens: RwLock<HashMap<i64, Vec<u8>>>,
    rate_limiter: ratelimit::RateLimiter,
    /// Per bot, the offset its last getUpdates confirmed. The deletion is committed in the
    /// background; reads start at this floor meanwhile, so a confirmed update is never returned
    /// again by this process. std Mutex: held for a map operation only.
    confirmed: std::sync::Mutex<HashMap<i64, i64>>,
}

impl Core {
    /// Opens the store at `database` (a `sqlite://` URL or a path) and wires its commits to the
    /// wake-up hub.
    pub fn open(database: &str, store_options: StoreOptions, config: CoreConfig) -> Result<Core> {
        let path = roost_store::sqlite_path(database)?;
        Self::open_path(&path, store_options, config)
    }

    fn open_path(path: &Path, store_options: StoreOptions, config: CoreConfig) -> Result<Core> {
        let hub = Arc::new(Hub::default());
        let announce = Arc::clone(&hub);
        let store = Store::open(path, store_options, Arc::new(move |fx| announce.announce(fx)))?;
        Ok(Core {
            inner: Arc::new(Inner {
                store,
                hub,
                config,
                bot_tokens: RwLock::new(HashMap::new()),
                rate_limiter: ratelimit::RateLimiter::default(),
                confirmed: std::sync::Mutex::default(),
            }),
        })
    }

    pub fn config(&self) -> &CoreConfig {
        &self.inner.config
    }

    pub fn hub(&self) -> &Hub {
        &self.inner.hub
    }

    fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Counts one Bot API request of a bot against its limit.
    pub fn check_bot_rate(&self, bot: i64) -> Result<()> {
        Ok(self.inner.rate_limiter.check_bot(&self.inner.config.rate_limits, bot)?)
    }

    /// Counts one message of a bot to a chat against the chat limits.
    pub(crate) fn check_chat_rate(&self, bot: i64, chat: &roost_types::requests::ChatId) -> Result<()> {
        Ok(self.inner.rate_limiter.check_chat(&self.inner.config.rate_limits, bot, chat.to_string())?)
    }

    /// Forgets idle rate-limit buckets and wake-up registrations.
    pub fn prune(&self) {
        self.hub().prune();
        self.inner.rate_limiter.prune(&self.inner.config.rate_limits);
    }

    /// Deletes updates and events past their retention; returns how many of each.
    pub async fn expire(&self) -> Result<(usize, usize)> {
        let now = roost_store::unix_now();
        let updates_before = now - self.inner.config.update_retention.as_secs() as i64;
        let events_before = now - self.inner.config.event_retention.as_secs() as i64;
        self.store().write(move |w| w.expire(updates_before, events_before).map_err(Error::from)).await
    }

    /// Commits everything already submitted and stops the store's writer.
    pub async fn close(&self) {
        self.inner.store.close().await;
    }
}
