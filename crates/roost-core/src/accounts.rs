//! People, bots, sessions and tokens.

use roost_store::{NewUser, Queries, unix_now};
use roost_types::limits::{
    FIRST_NAME_MAX, LAST_NAME_MAX, PASSWORD_MAX, PASSWORD_MIN, USERNAME_MAX, USERNAME_MIN,
};
use roost_types::requests::{Login, Register};
use roost_types::{ApiError, BotUser, Session, User};

use crate::render;
use crate::secrets;
use crate::{Core, Error, Result};

/// A bot just created: its user and its token (shown once).
#[derive(Debug, Clone)]
pub struct NewBot {
    pub user: User,
    pub token: String,
}

/// Telegram's username rule: 5–32 of `a-z A-Z 0-9 _`, starting with a letter, no trailing `_`.
fn valid_username(name: &str) -> bool {
    (USERNAME_MIN..=USERNAME_MAX).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && name.as_bytes()[0].is_ascii_alphabetic()
        && !name.ends_with('_')
        && !name.contains("__")
}

fn is_bot_username(name: &str) -> bool {
    name.to_ascii_lowercase().ends_with("bot")
}

fn clean_name(name: Option<&str>, max: usize, error: ApiError) -> Result<Option<String>> {
    match name.map(str::trim) {
        None | Some("") => Ok(None),
        Some(name) if name.chars().count() > max || name.chars().any(char::is_control) => Err(error.into()),
        Some(name) => Ok(Some(name.to_owned())),
    }
}

/// A validated new person.
struct PersonSpec {
    username: String,
    password: String,
    first_name: String,
    last_name: Option<String>,
    language_code: Option<String>,
}

fn validate_person(req: Register) -> Result<PersonSpec> {
    let username = req.username.unwrap_or_default();
    let username = username.trim().trim_start_matches('@').to_owned();
    if !valid_username(&username) || is_bot_username(&username) {
        return Err(ApiError::USERNAME_INVALID.into());
    }
    let password = req.password.unwrap_or_default();
    if !(PASSWORD_MIN..=PASSWORD_MAX).contains(&password.len()) {
        return Err(ApiError::PASSWORD_INVALID.into());
    }
    let first_name = clean_name(req.first_name.as_deref(), FIRST_NAME_MAX, ApiError::FIRST_NAME_INVALID)?
        .ok_or(ApiError::FIRST_NAME_INVALID)?;
    let last_name =
        clean_name(req.last_name.as_deref(), LAST_NAME_MAX, ApiError::bad_request("LASTNAME_INVALID"))?;
    let language_code = match req.language_code.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(code) if code.len() <= 35 && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') => {
            Some(code.to_owned())
        }
        Some(_) => return Err(ApiError::bad_request("LANG_CODE_INVALID").into()),
    };
    Ok(PersonSpec { username, password, first_name, last_name, language_code })
}

async fn hash_password_blocking(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || secrets::hash_password(&password))
        .await
        .map_err(|e| roost_store::StoreError::Database(format!("hashing task failed: {e}")))?
        .map_err(|e| roost_store::StoreError::Database(format!("cannot hash a password: {e}")).into())
}

impl Core {
    /// Creates a person. With `with_session`, also opens a session and returns its token.
    async fn create_person(&self, req: Register, with_session: bool) -> Result<Session> {
        let spec = validate_person(req)?;
        let password_hash = hash_password_blocking(spec.password.clone()).await?;
        let token = with_session.then(secrets::new_session_token);
        let token_hash = token.as_deref().map(secrets::hash_secret);
        let user = self
            .store()
            .write(move |w| {
                w.serialize_on(&format!("username:{}", spec.username.to_lowercase()))?;
                if w.user_by_username(&spec.username)?.is_some() {
                    return Err(Error::from(ApiError::USERNAME_OCCUPIED));
                }
                let now = unix_now();
                let id = w.insert_user(&NewUser {
                    is_bot: false,
                    username: &spec.username,
                    first_name: &spec.first_name,
                    last_name: spec.last_name.as_deref(),
                    language_code: spec.language_code.as_deref(),
                    password_hash: Some(&password_hash),
                    created_at: now,
                })?;
                if let Some(hash) = &token_hash {
                    w.insert_session(hash, id, now)?;
                }
                let row = w.user(id)?.ok_or(ApiError::INTERNAL)?;
                Ok(render::user(&row))
            })
            .await?;
        Ok(Session { token: token.unwrap_or_default(), user })
    }

    /// Client API `register`: a new person and a session for them.
    pub async fn register(&self, req: Register) -> Result<Session> {
        self.create_person(req, true).await
    }

    /// `roost admin create-user`: a new person, no session.
    pub async fn create_user(&self, req: Register) -> Result<User> {
        Ok(self.create_person(req, false).await?.user)
    }

    /// Client API `login`: a new session for a person who knows their password.
    pub async fn login(&self, req: Login) -> Result<Session> {
        let username = req.username.unwrap_or_default();
        let username = username.trim().trim_start_matches('@').to_owned();
        let password = req.password.unwrap_or_default();
        let found = self.store().lookup(move |r| r.password_hash(&username).map_err(Error::from)).await?;
        let (user_id, phc) = match found {
            Some((id, phc)) => (Some(id), phc),
            None => (None, secrets::dummy_password_hash().to_owned()),
        };
        let ok = tokio::task::spawn_blocking(move || secrets::verify_password(&password, &phc))
            .await
            .unwrap_or(false);
        let user_id = match (ok, user_id) {
            (true, Some(id)) => id,
            _ => return Err(ApiError::LOGIN_FAILED.into()),
        };
        let token = secrets::new_session_token();
        let token_hash = secrets::hash_secret(&token);
        let user = self
            .store()
            .write(move |w| {
                w.insert_session(&token_hash, user_id, unix_now())?;
                let row = w.user(user_id)?.ok_or(ApiError::LOGIN_FAILED)?;
                Ok::<_, Error>(render::user(&row))
            })
            .await?;
        Ok(Session { token, user })
    }

    /// Client API `logout`: ends the session the token belongs to.
    pub async fn logout(&self, session_token: &str) -> Result<bool> {
        let hash = secrets::hash_secret(session_token);
        self.store().write(move |w| w.delete_session(&hash).map_err(Error::from)).await
    }

    /// The person a session token belongs to.
    pub async fn authenticate_session(&self, session_token: &str) -> Result<i64> {
        if session_token.is_empty() || session_token.len() > 128 {
            return Err(ApiError::CLIENT_UNAUTHORIZED.into());
        }
        let hash = secrets::hash_secret(session_token);
        self.store()
            .lookup(move |r| r.session_user(&hash).map_err(Error::from))
            .await?
            .ok_or_else(|| ApiError::CLIENT_UNAUTHORIZED.into())
    }

    /// The bot a Bot API token belongs to, checked in constant time.
    pub async fn authenticate_bot(&self, token: &str) -> Result<i64> {
        let (bot_id, secret) = secrets::split_bot_token(token).ok_or(ApiError::UNAUTHORIZED)?;
        let cached = self.inner.bot_tokens.read().ok().and_then(|cache| cache.get(&bot_id).cloned());
        let stored = match cached {
            Some(hash) => hash,
            None => {
                let row = self
                    .store()
                    .lookup(move |r| r.bot(bot_id).map_err(Error::from))
                    .await?
                    .ok_or(ApiError::UNAUTHORIZED)?;
                if let Ok(mut cache) = self.inner.bot_tokens.write() {
                    cache.insert(bot_id, row.token_hash.clone());
                }
                row.token_hash
            }
        };
        if secrets::secret_matches(secret, &stored) { Ok(bot_id) } else { Err(ApiError::UNAUTHORIZED.into()) }
    }

    /// `roost admin create-bot` (and later the system bot): a new bot owned by a person.
    pub async fn create_bot(
        &self,
        owner_username: &str,
        username: &str,
        name: Option<&str>,
    ) -> Result<NewBot> {
        let owner_username = owner_username.trim().trim_start_matches('@').to_owned();
        let username = username.trim().trim_start_matches('@').to_owned();
        if !valid_username(&username) || !is_bot_username(&username) {
            return Err(ApiError::bad_request(
                "bot username must be 5-32 characters of a-z, 0-9 and _ and end in \"bot\"",
            )
            .into());
        }
        let name = clean_name(name, FIRST_NAME_MAX, ApiError::FIRST_NAME_INVALID)?
            .unwrap_or_else(|| username.clone());
        let secret = secrets::new_bot_secret();
        let token_hash = secrets::hash_secret(&secret);
        let user = self
            .store()
            .write(move |w| {
                let owner = w
                    .user_by_username(&owner_username)?
                    .filter(|u| !u.is_bot)
                    .ok_or(ApiError::USER_NOT_FOUND)?;
                w.serialize_on(&format!("username:{}", username.to_lowercase()))?;
                if w.user_by_username(&username)?.is_some() {
                    return Err(Error::from(ApiError::USERNAME_OCCUPIED));
                }
                let now = unix_now();
                let id = w.insert_user(&NewUser {
                    is_bot: true,
                    username: &username,
                    first_name: &name,
                    last_name: None,
                    language_code: None,
                    password_hash: None,
                    created_at: now,
                })?;
                w.insert_bot(id, owner.id, &token_hash, now)?;
                let row = w.user(id)?.ok_or(ApiError::INTERNAL)?;
                Ok(render::user(&row))
            })
            .await?;
        let token = format!("{}:{secret}", user.id);
        Ok(NewBot { user, token })
    }

    /// The person's own user.
    pub async fn me(&self, user_id: i64) -> Result<User> {
        let row = self
            .store()
            .lookup(move |r| r.user(user_id).map_err(Error::from))
            .await?
            .ok_or(ApiError::CLIENT_UNAUTHORIZED)?;
        Ok(render::user(&row))
    }

    /// Bot API `getMe`.
    pub async fn bot_me(&self, bot_id: i64) -> Result<BotUser> {
        let (user, bot) =
            self.store().lookup(move |r| Ok::<_, Error>((r.user(bot_id)?, r.bot(bot_id)?))).await?;
        let (user, bot) = user.zip(bot).ok_or(ApiError::UNAUTHORIZED)?;
        Ok(BotUser {
            user: render::user(&user),
            can_join_groups: bot.can_join_groups,
            can_read_all_group_messages: bot.can_read_all_group_messages,
            supports_inline_queries: bot.supports_inline_queries,
            can_connect_to_business: false,
            has_main_web_app: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert!(valid_username("alice"));
        assert!(valid_username("echo_bot"));
        assert!(!valid_username("ab"));
        assert!(!valid_username("1alice"));
        assert!(!valid_username("alice_"));
        assert!(!valid_username("al__ice"));
        assert!(!valid_username("alice!"));
        assert!(is_bot_username("EchoBot"));
        assert!(!is_bot_username("alice"));
    }
}
