//! People, bots, sessions and tokens.

pub(crate) mod accounts;
pub(crate) mod keys;
pub mod secrets;

pub use accounts::{Registration, TokenCache};

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

use roost_store::{NewSession, NewUser, Queries, UserId, unix_now};
use roost_types::limits::{
    FIRST_NAME_MAX, LAST_NAME_MAX, PASSWORD_MAX, PASSWORD_MIN, USERNAME_MAX, USERNAME_MIN,
};
use roost_types::requests::{Login, Register, TerminateSession};
use roost_types::{ApiError, BotUser, Session, SessionInfo, User};

use crate::messages::render;
use crate::{Core, Error, Result};

/// Telegram's username rule: 5–32 of `a-z A-Z 0-9 _`, starting with a letter, no trailing `_`.
pub(crate) fn valid_username(name: &str) -> bool {
    (USERNAME_MIN..=USERNAME_MAX).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && name.as_bytes()[0].is_ascii_alphabetic()
        && !name.ends_with('_')
        && !name.contains("__")
}

pub(crate) fn is_bot_username(name: &str) -> bool {
    name.to_ascii_lowercase().ends_with("bot")
}

pub(crate) fn clean_name(name: Option<&str>, max: usize, error: ApiError) -> Result<Option<String>> {
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
    let last_name = clean_name(req.last_name.as_deref(), LAST_NAME_MAX, ApiError::LAST_NAME_INVALID)?;
    let language_code = match req.language_code.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(code) if code.len() <= 35 && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') => {
            Some(code.to_owned())
        }
        Some(_) => return Err(ApiError::LANG_CODE_INVALID.into()),
    };
    Ok(PersonSpec { username, password, first_name, last_name, language_code })
}

/// The bound on password hashing: Argon2id holds 19 MiB for each password it hashes or checks,
/// so a burst of sign-ins hashed all at once would take the server's memory with it. At most
/// `permits` run at once (one per core); the next ones wait their turn, up to a queue of
/// [`crate::HASHING_QUEUE_PER_HASHER`] per hasher, and beyond that are answered 429 at once.
///
/// Each run's working memory is mapped apart and given back whole ([`secrets::HashMemory`]).
pub(crate) struct Hashing {
    permits: std::sync::Arc<tokio::sync::Semaphore>,
    waiting: AtomicUsize,
    queue_max: usize,
}

impl Hashing {
    pub(crate) fn new(hashers: usize) -> Hashing {
        let hashers = hashers.max(1);
        Hashing {
            permits: std::sync::Arc::new(tokio::sync::Semaphore::new(hashers)),
            waiting: AtomicUsize::new(0),
            queue_max: hashers * crate::HASHING_QUEUE_PER_HASHER,
        }
    }

    /// Runs `work` (a hash or a check) on the blocking pool when a hasher is free.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut secrets::HashMemory) -> T + Send + 'static,
    ) -> Result<T> {
        /// Counts a sign-in as waiting until it is dropped: a request cancelled while it waits
        /// (a client that hung up, an HTTP/2 stream reset) leaves the count as it found it.
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::AcqRel);
            }
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.queue_max {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(ApiError::too_many_requests(1).into());
        }
        let waiting = Waiting(&self.waiting);
        let permit = std::sync::Arc::clone(&self.permits).acquire_owned().await;
        drop(waiting);
        let permit = permit.map_err(|_| roost_store::StoreError::Closed)?;
        // The permit goes with the work: a request cancelled while the hash runs does not free
        // its hasher before the hash is done.
        tokio::task::spawn_blocking(move || {
            let result = work(&mut secrets::HashMemory::default());
            drop(permit);
            result
        })
        .await
        .map_err(|e| roost_store::StoreError::Database(format!("hashing task failed: {e}")).into())
    }
}

/// Who is signing in: the client's address (for the per-address limits) and its `User-Agent`
/// (shown in the person's list of sessions).
#[derive(Debug, Clone, Default)]
pub struct SignIn {
    pub address: Option<IpAddr>,
    pub device: Option<String>,
}

/// What the per-address sign-in limits count: an IPv4 address, or an IPv6 address's /64 (one
/// subscriber usually holds a whole /64, and could otherwise sign in from as many addresses).
fn address_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

/// A session's `last_active_at` is written again once it is older than this: a session is
/// touched at most once a day, not on every request.
const SESSION_TOUCH_EVERY: i64 = 24 * 60 * 60;

impl Core {
    async fn hash_password(&self, password: String) -> Result<String> {
        self.inner
            .hashing
            .run(move |memory| secrets::hash_password_in(&password, memory))
            .await?
            .map_err(|e| roost_store::StoreError::Database(format!("cannot hash a password: {e}")).into())
    }

    /// Checks the sign-in limit named `key` (see [`crate::RateLimits`]).
    async fn check_sign_in(&self, key: String, burst: f64, per_second: f64) -> Result<()> {
        let limits = &self.inner.config.rate_limits;
        self.inner.rate_limiter.check_key(self.store(), limits, key, burst, per_second).await
    }

    /// Creates a person. With `with_session`, also opens a session and returns its token.
    async fn create_person(&self, req: Register, with_session: Option<SignIn>) -> Result<Session> {
        // The registration policy holds for people signing themselves up, not for the operator.
        let invite = match (&with_session, self.inner.config.registration) {
            (None, _) | (Some(_), Registration::Open) => None,
            (Some(_), Registration::Closed) => return Err(ApiError::REGISTRATION_CLOSED.into()),
            (Some(_), Registration::Invite { .. }) => {
                let code = req.invite.as_deref().map(str::trim).filter(|c| !c.is_empty());
                let hash = secrets::hash_secret(code.ok_or(ApiError::INVITE_REQUIRED)?);
                Some(hash)
            }
        };
        let spec = validate_person(req)?;
        if let Some(hash) = &invite {
            // Before the password is hashed: a wrong code costs no Argon2 run.
            let hash = hash.clone();
            let unused = self
                .store()
                .lookup(move |r| Ok::<_, Error>(matches!(r.invite(&hash)?, Some((_, None)))))
                .await?;
            if !unused {
                return Err(ApiError::INVITE_INVALID.into());
            }
        }
        if let Some(address) = with_session.as_ref().and_then(|s| s.address) {
            let per_hour = self.inner.config.rate_limits.registrations_per_hour_per_address;
            self.check_sign_in(format!("ra:{}", address_key(address)), per_hour, per_hour / 3600.0).await?;
        }
        let password_hash = self.hash_password(spec.password.clone()).await?;
        let token = with_session.as_ref().map(|_| secrets::new_session_token());
        let token_hash = token.as_deref().map(secrets::hash_secret);
        let user = self
            .store()
            .write(move |w| {
                w.serialize_on(&format!("username:{}", spec.username.to_lowercase()))?;
                if w.username_in_use(&spec.username)? {
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
                if let Some(hash) = &invite
                    && !w.use_invite(hash, id, now)?
                {
                    // Used by someone else meanwhile: the savepoint takes the new person back.
                    return Err(ApiError::INVITE_INVALID.into());
                }
                if let (Some(hash), Some(sign_in)) = (&token_hash, &with_session) {
                    open_session(w, hash, id, now, sign_in)?;
                }
                let row = w.user(id)?.ok_or(ApiError::INTERNAL)?;
                Ok(render::user(&row))
            })
            .await?;
        Ok(Session { token: token.unwrap_or_default(), user })
    }

    /// Client API `register`: a new person and a session for them.
    pub async fn register(&self, req: Register, sign_in: SignIn) -> Result<Session> {
        self.create_person(req, Some(sign_in)).await
    }

    /// `roost admin create-user`: a new person, no session.
    pub async fn create_user(&self, req: Register) -> Result<User> {
        Ok(self.create_person(req, None).await?.user)
    }

    /// Client API `login`: a new session for a person who knows their password.
    pub async fn login(&self, req: Login, sign_in: SignIn) -> Result<Session> {
        let username = req.username.unwrap_or_default();
        let username = username.trim().trim_start_matches('@').to_owned();
        let password = req.password.unwrap_or_default();
        let limits = &self.inner.config.rate_limits;
        let (per_address, per_account) =
            (limits.logins_per_minute_per_address, limits.logins_per_minute_per_account);
        if let Some(address) = sign_in.address {
            self.check_sign_in(format!("la:{}", address_key(address)), per_address, per_address / 60.0)
                .await?;
        }
        if !valid_username(&username) {
            // No such account can exist: nothing to count it under, nothing to check.
            return Err(ApiError::LOGIN_FAILED.into());
        }
        self.check_sign_in(format!("lu:{}", username.to_lowercase()), per_account, per_account / 60.0)
            .await?;
        let found = self.store().lookup(move |r| r.password_hash(&username).map_err(Error::from)).await?;
        let (user_id, phc) = match found {
            Some((id, phc)) => (Some(id), phc),
            None => (None, secrets::dummy_password_hash().to_owned()),
        };
        let ok = self
            .inner
            .hashing
            .run(move |memory| secrets::verify_password_in(&password, &phc, memory))
            .await?;
        let user_id = match (ok, user_id) {
            (true, Some(id)) => id,
            _ => return Err(ApiError::LOGIN_FAILED.into()),
        };
        let token = secrets::new_session_token();
        let token_hash = secrets::hash_secret(&token);
        let user = self
            .store()
            .write(move |w| {
                open_session(w, &token_hash, user_id, unix_now(), &sign_in)?;
                let row = w.user(user_id)?.ok_or(ApiError::LOGIN_FAILED)?;
                Ok::<_, Error>(render::user(&row))
            })
            .await?;
        Ok(Session { token, user })
    }

    /// Client API `logout`: ends the session the token belongs to (and its event streams).
    pub async fn logout(&self, session_token: &str) -> Result<bool> {
        let person = self.session(session_token).await?.user_id;
        let hash = secrets::hash_secret(session_token);
        let ended = self.store().write(move |w| w.delete_session(&hash).map_err(Error::from)).await?;
        self.hub().nudge_user(person);
        Ok(ended)
    }

    /// The person a session token belongs to. A session unused for longer than
    /// [`crate::CoreConfig::session_idle`] has ended; one last used more than a day ago is
    /// marked used now (in the background: the request does not wait for that write).
    pub async fn authenticate_session(&self, session_token: &str) -> Result<UserId> {
        Ok(self.session(session_token).await?.user_id)
    }

    async fn session(&self, session_token: &str) -> Result<roost_store::SessionRow> {
        if session_token.is_empty() || session_token.len() > 128 {
            return Err(ApiError::CLIENT_UNAUTHORIZED.into());
        }
        let hash = secrets::hash_secret(session_token);
        let session = self
            .store()
            .lookup(move |r| r.session(&hash).map_err(Error::from))
            .await?
            .ok_or(ApiError::CLIENT_UNAUTHORIZED)?;
        let now = unix_now();
        let idle = now - session.last_active_at;
        if idle > self.inner.config.session_idle.as_secs() as i64 {
            return Err(ApiError::CLIENT_UNAUTHORIZED.into());
        }
        if idle > SESSION_TOUCH_EVERY.min(self.inner.config.session_idle.as_secs() as i64 / 2) {
            let (store, id) = (self.store().clone(), session.id);
            tokio::spawn(async move {
                if let Err(e) = store.write(move |w| w.touch_session(id, now)).await {
                    tracing::debug!(error = %e, "cannot record a session's use");
                }
            });
        }
        Ok(session)
    }

    /// Client API `getSessions`: the person's sessions, the most recently used first.
    pub async fn sessions(&self, session_token: &str) -> Result<Vec<SessionInfo>> {
        let current = self.session(session_token).await?;
        let idle = self.inner.config.session_idle.as_secs() as i64;
        let now = unix_now();
        let rows = self.store().read(move |r| r.sessions_of(current.user_id).map_err(Error::from)).await?;
        Ok(rows
            .into_iter()
            .filter(|row| now - row.last_active_at <= idle)
            .map(|row| SessionInfo {
                current: row.id == current.id,
                id: row.id,
                created_at: row.created_at,
                last_active_at: row.last_active_at,
                device: row.device,
                address: row.address,
            })
            .collect())
    }

    /// Client API `terminateSession`: ends one of the person's sessions (the current one too).
    pub async fn terminate_session(&self, session_token: &str, req: TerminateSession) -> Result<bool> {
        let current = self.session(session_token).await?;
        let id = req.session_id.ok_or(ApiError::SESSION_ID_REQUIRED)?;
        let person = current.user_id;
        let ended =
            self.store().write(move |w| w.delete_session_by_id(person, id).map_err(Error::from)).await?;
        if !ended {
            return Err(ApiError::SESSION_NOT_FOUND.into());
        }
        self.hub().nudge_user(person);
        Ok(true)
    }

    /// Client API `terminateOtherSessions`: ends every session of the person but this one;
    /// answers how many.
    pub async fn terminate_other_sessions(&self, session_token: &str) -> Result<usize> {
        let current = self.session(session_token).await?;
        let ended = self
            .store()
            .write(move |w| w.delete_other_sessions(current.user_id, current.id).map_err(Error::from))
            .await?;
        self.hub().nudge_user(current.user_id);
        Ok(ended)
    }

    /// The bot a Bot API token belongs to, checked in constant time.
    pub async fn authenticate_bot(&self, token: &str) -> Result<UserId> {
        let (bot_id, secret) = secrets::split_bot_token(token).ok_or(ApiError::UNAUTHORIZED)?;
        let bot_id = UserId::from_raw(bot_id);
        let cache = &self.inner.bot_tokens;
        let stored = match cache.get(bot_id) {
            Some(hash) => hash,
            None => {
                let generation = cache.generation();
                let row = self
                    .store()
                    .lookup(move |r| r.bot(bot_id).map_err(Error::from))
                    .await?
                    .ok_or(ApiError::UNAUTHORIZED)?;
                cache.insert_unless_changed(bot_id, &row.token_hash, generation);
                row.token_hash
            }
        };
        if secrets::secret_matches(secret, &stored) { Ok(bot_id) } else { Err(ApiError::UNAUTHORIZED.into()) }
    }

    /// The person's own user.
    pub async fn me(&self, user_id: UserId) -> Result<User> {
        let row = self
            .store()
            .lookup(move |r| r.user(user_id).map_err(Error::from))
            .await?
            .ok_or(ApiError::CLIENT_UNAUTHORIZED)?;
        Ok(render::user(&row))
    }

    /// Bot API `getMe`.
    pub async fn bot_me(&self, bot_id: UserId) -> Result<BotUser> {
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

/// Opens a session under a fresh random id (ids are public: they name sessions to end).
fn open_session(
    w: &mut roost_store::Writer,
    token_hash: &[u8],
    user_id: UserId,
    now: i64,
    sign_in: &SignIn,
) -> Result<()> {
    let address = sign_in.address.map(|a| a.to_string());
    let device: Option<String> = sign_in.device.as_deref().map(|d| d.chars().take(256).collect());
    let session = NewSession {
        token_hash,
        user_id,
        id: secrets::new_public_id(),
        now,
        device: device.as_deref(),
        address: address.as_deref(),
    };
    w.insert_session(&session)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_counted_by_subscriber() {
        let key = |text: &str| address_key(text.parse().unwrap_or(IpAddr::from([0, 0, 0, 0])));
        assert_eq!(key("203.0.113.7"), "203.0.113.7");
        assert_eq!(key("::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(key("2001:db8:1:2:aaaa::1"), key("2001:db8:1:2:bbbb::2"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
    }

    /// A sign-in cancelled while it waits for a hasher, or while its hash runs, leaves the queue
    /// as it found it and keeps its hasher until the hash is done.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cancelled_sign_ins_give_their_place_back() {
        let hashing = std::sync::Arc::new(Hashing::new(1));
        let slow = |_: &mut secrets::HashMemory| std::thread::sleep(std::time::Duration::from_millis(300));
        let running = tokio::spawn({
            let hashing = std::sync::Arc::clone(&hashing);
            async move { hashing.run(slow).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let waiting = tokio::spawn({
            let hashing = std::sync::Arc::clone(&hashing);
            async move { hashing.run(|_| ()).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(hashing.waiting.load(Ordering::Acquire), 1);
        waiting.abort();
        running.abort();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(hashing.waiting.load(Ordering::Acquire), 0, "the cancelled wait left the queue");
        assert_eq!(hashing.permits.available_permits(), 0, "the running hash keeps its hasher");
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        assert_eq!(hashing.permits.available_permits(), 1);
    }

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
