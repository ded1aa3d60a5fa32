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

/// How long a JWT Roost issues lasts.
const JWT_LIFETIME: i64 = 60 * 60;
/// Who issues Roost's JWTs (`iss`).
const JWT_ISSUER: &str = "roost";

/// A JWT's claims: the person (`sub`), the session that asked for it (`sid`: the JWT ends with
/// it), and its times.
#[derive(serde::Serialize, serde::Deserialize)]
struct Claims {
    sub: String,
    sid: i64,
    iss: String,
    iat: i64,
    exp: i64,
}

/// A JWT just issued.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IssuedJwt {
    pub token: String,
    /// Unix time it stops working.
    pub expires_at: i64,
}

impl Core {
    /// Client API `issueJwt`: a signed JWT (HS256, under the installation's `jwt` key) for
    /// owner endpoints that take one (Quanta's); it lasts an hour, and ends with the session that
    /// asked for it.
    pub async fn issue_jwt(&self, session_token: &str) -> Result<IssuedJwt> {
        let session = self.session(session_token).await?;
        let now = unix_now();
        let claims = Claims {
            sub: session.user_id.raw().to_string(),
            sid: session.id,
            iss: JWT_ISSUER.into(),
            iat: now,
            exp: now + JWT_LIFETIME,
        };
        let key = jsonwebtoken::EncodingKey::from_secret(&self.inner.jwt_key);
        let token = jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key)
            .map_err(|e| roost_store::StoreError::Database(format!("cannot sign a JWT: {e}")))?;
        Ok(IssuedJwt { token, expires_at: claims.exp })
    }

    /// The person a JWT Roost issued acts for: signed with this installation's key, not
    /// expired, and its session still open.
    pub async fn authenticate_jwt(&self, token: &str) -> Result<UserId> {
        let key = jsonwebtoken::DecodingKey::from_secret(&self.inner.jwt_key);
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.set_issuer(&[JWT_ISSUER]);
        validation.leeway = 0;
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|_| ApiError::CLIENT_UNAUTHORIZED)?
            .claims;
        let person = UserId::from_raw(claims.sub.parse().map_err(|_| ApiError::CLIENT_UNAUTHORIZED)?);
        let sessions = self.store().lookup(move |r| r.sessions_of(person).map_err(Error::from)).await?;
        let idle = self.inner.config.session_idle.as_secs() as i64;
        let now = unix_now();
        if !sessions.iter().any(|s| s.id == claims.sid && now - s.last_active_at <= idle) {
            return Err(ApiError::CLIENT_UNAUTHORIZED.into());
        }
        Ok(person)
    }

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
