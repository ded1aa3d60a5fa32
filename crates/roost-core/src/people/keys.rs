//! Personal API keys: how a person's scripts use the owner API without a password or a session.
//! A key acts for its person on the owner API's methods only (bots and their tokens); it cannot
//! send messages as them or make more keys.

use roost_store::{Queries, UserId, unix_now};
use roost_types::requests::{CreateApiKey, RevokeApiKey};
use roost_types::{ApiError, ApiKeyInfo, NewApiKey};

use super::secrets;
use crate::{Core, Error, Result};

/// Most API keys one person holds at once.
const API_KEYS_PER_PERSON: usize = 20;
const API_KEY_NAME_MAX: usize = 64;
/// A key's `last_used_at` is written again once it is older than this.
const KEY_TOUCH_EVERY: i64 = 60 * 60;

/// Whether a bearer token is shaped like an API key (rather than a session token).
pub fn is_api_key(token: &str) -> bool {
    token.starts_with("roost_")
}

impl Core {
    /// Client API `createApiKey`.
    pub async fn create_api_key(&self, person: UserId, req: CreateApiKey) -> Result<NewApiKey> {
        let name = req.name.unwrap_or_default().trim().to_owned();
        if name.is_empty() || name.chars().count() > API_KEY_NAME_MAX || name.chars().any(char::is_control) {
            return Err(ApiError::API_KEY_NAME_INVALID.into());
        }
        let key = secrets::new_api_key();
        let hash = secrets::hash_secret(&key);
        let info = self
            .store()
            .write(move |w| {
                w.serialize_on(&format!("api-keys-of:{person}"))?;
                if w.api_keys_of(person)?.len() >= API_KEYS_PER_PERSON {
                    return Err(Error::from(ApiError::API_KEYS_TOO_MUCH));
                }
                let (id, now) = (secrets::new_public_id(), unix_now());
                w.insert_api_key(id, person, &name, &hash, now)?;
                Ok(ApiKeyInfo { id, name, created_at: now, last_used_at: None })
            })
            .await?;
        Ok(NewApiKey { info, key })
    }

    /// Client API `listApiKeys`: the person's keys, newest first (never the keys themselves).
    pub async fn api_keys(&self, person: UserId) -> Result<Vec<ApiKeyInfo>> {
        let rows = self.store().read(move |r| r.api_keys_of(person).map_err(Error::from)).await?;
        Ok(rows
            .into_iter()
            .map(|k| ApiKeyInfo {
                id: k.id,
                name: k.name,
                created_at: k.created_at,
                last_used_at: k.last_used_at,
            })
            .collect())
    }

    /// Client API `revokeApiKey`: the key stops working at once.
    pub async fn revoke_api_key(&self, person: UserId, req: RevokeApiKey) -> Result<bool> {
        let id = req.id.ok_or(ApiError::API_KEY_NOT_FOUND)?;
        let revoked = self.store().write(move |w| w.delete_api_key(person, id).map_err(Error::from)).await?;
        if !revoked {
            return Err(ApiError::API_KEY_NOT_FOUND.into());
        }
        Ok(true)
    }

    /// The person an API key acts for.
    pub async fn authenticate_api_key(&self, key: &str) -> Result<UserId> {
        if key.len() > 128 {
            return Err(ApiError::CLIENT_UNAUTHORIZED.into());
        }
        let hash = secrets::hash_secret(key);
        let (id, owner, last_used) = self
            .store()
            .lookup(move |r| r.api_key(&hash).map_err(Error::from))
            .await?
            .ok_or(ApiError::CLIENT_UNAUTHORIZED)?;
        let now = unix_now();
        if last_used.is_none_or(|at| now - at > KEY_TOUCH_EVERY) {
            let store = self.store().clone();
            tokio::spawn(async move {
                if let Err(e) = store.write(move |w| w.touch_api_key(id, now)).await {
                    tracing::debug!(error = %e, "cannot record an API key's use");
                }
            });
        }
        Ok(owner)
    }
}
