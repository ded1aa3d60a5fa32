//! Accounts as a whole: who may register, invite codes, deleting accounts and resetting
//! passwords, and the cache of bot token hashes that deletions and new tokens invalidate.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use roost_store::{Effect, Queries, UserId, unix_now};
use roost_types::limits::{PASSWORD_MAX, PASSWORD_MIN};
use roost_types::{ApiError, User};

use super::secrets;
use crate::bots::manage::Manager;
use crate::messages::render;
use crate::{Core, Error, Result};

/// Most unused invite codes a person holds at once.
const INVITES_UNUSED_MAX: i64 = 20;

/// Who may create an account through the client API's `register`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Registration {
    /// Anyone.
    #[default]
    Open,
    /// Whoever has an unused invite code: made by the operator (`roost admin create-invite`), and
    /// by people too (client API `createInvite`) when `people_invite`.
    Invite { people_invite: bool },
    /// Nobody: only the operator creates accounts (`roost admin create-user`).
    Closed,
}

/// Bot id → SHA-256 of its token secret, so that authenticating a bot request costs no read.
///
/// An entry goes when its bot's token changes or the bot is deleted: here at once, and on other
/// instances when the commit's [`Effect::BotTokenChanged`] reaches them (everything goes when
/// notifications may have been lost, [`Effect::Resync`]). A lookup that raced with such a change
/// does not put its (possibly stale) row back: every change bumps `generation`, and a row read
/// before the bump is not cached.
#[derive(Default)]
pub struct TokenCache {
    /// std RwLock: held only for a map operation.
    map: RwLock<HashMap<UserId, Vec<u8>>>,
    generation: AtomicU64,
}

impl TokenCache {
    pub(crate) fn get(&self, bot: UserId) -> Option<Vec<u8>> {
        self.map.read().ok().and_then(|map| map.get(&bot).cloned())
    }

    /// Taken before reading a row that [`TokenCache::insert_unless_changed`] may cache.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub(crate) fn insert_unless_changed(&self, bot: UserId, hash: &[u8], generation: u64) {
        if let Ok(mut map) = self.map.write()
            && self.generation.load(Ordering::Acquire) == generation
        {
            map.insert(bot, hash.to_vec());
        }
    }

    pub(crate) fn forget(&self, bot: UserId) {
        if let Ok(mut map) = self.map.write() {
            self.generation.fetch_add(1, Ordering::AcqRel);
            map.remove(&bot);
        }
    }

    fn clear(&self) {
        if let Ok(mut map) = self.map.write() {
            self.generation.fetch_add(1, Ordering::AcqRel);
            map.clear();
        }
    }

    /// Called with every commit's effects, this instance's and (PostgreSQL) the others'.
    pub fn observe(&self, effects: &[Effect]) {
        for effect in effects {
            match *effect {
                Effect::BotTokenChanged { bot_id } => self.forget(bot_id),
                Effect::Resync => self.clear(),
                _ => {}
            }
        }
    }
}

/// A person as the operator's list shows them.
#[derive(Debug, Clone)]
pub struct PersonSummary {
    pub user: User,
    pub created_at: i64,
    pub deleted: bool,
}

impl Core {
    /// The operator's list of people.
    pub async fn people(&self) -> Result<Vec<PersonSummary>> {
        let rows = self.store().read(|r| r.people().map_err(Error::from)).await?;
        Ok(rows
            .into_iter()
            .map(|(row, created_at)| PersonSummary {
                user: render::user(&row),
                created_at,
                deleted: row.deleted,
            })
            .collect())
    }

    /// A person by username (the operator's commands).
    pub async fn person_by_username(&self, username: &str) -> Result<UserId> {
        let name = username.trim().trim_start_matches('@').to_owned();
        let user = self.store().lookup(move |r| r.user_by_username(&name).map_err(Error::from)).await?;
        Ok(user.filter(|u| !u.is_bot && !u.deleted).ok_or(ApiError::USER_NOT_FOUND)?.id)
    }

    /// `roost admin delete-user`: deletes a person's account and every bot they own; returns the
    /// usernames of the bots deleted.
    pub async fn delete_person(&self, person: UserId) -> Result<Vec<String>> {
        let bots = self
            .store()
            .write(move |w| {
                let user =
                    w.user(person)?.filter(|u| !u.is_bot && !u.deleted).ok_or(ApiError::USER_NOT_FOUND)?;
                let now = unix_now();
                let mut deleted = Vec::new();
                for bot in w.bots_of(user.id)? {
                    if let Some(bot_user) = w.user(bot.user_id)?.filter(|u| !u.deleted) {
                        w.delete_bot(bot.user_id, now)?;
                        deleted
                            .push((bot.user_id, bot_user.username.as_deref().unwrap_or_default().to_owned()));
                    }
                }
                w.delete_person(user.id, now)?;
                Ok::<_, Error>(deleted)
            })
            .await?;
        for (bot, _) in &bots {
            self.inner.bot_tokens.forget(*bot);
        }
        self.hub().nudge_user(person);
        Ok(bots.into_iter().map(|(_, name)| name).collect())
    }

    /// `roost admin reset-password`: a new password; every session and API key of the person
    /// ends.
    pub async fn reset_password(&self, person: UserId, password: String) -> Result<()> {
        if !(PASSWORD_MIN..=PASSWORD_MAX).contains(&password.len()) {
            return Err(ApiError::PASSWORD_INVALID.into());
        }
        let phc = self.hash_password(password).await?;
        self.store()
            .write(move |w| {
                w.user(person)?.filter(|u| !u.is_bot && !u.deleted).ok_or(ApiError::USER_NOT_FOUND)?;
                w.set_password_hash(person, &phc).map_err(Error::from)
            })
            .await?;
        self.hub().nudge_user(person);
        Ok(())
    }

    /// A new invite code: the operator's (`by` is `Operator`), or a person's where people may
    /// invite. Shown once; only its hash is stored.
    pub async fn create_invite(&self, by: Manager) -> Result<String> {
        let creator = match (by, self.inner.config.registration) {
            (Manager::Operator, _) => None,
            (Manager::Owner(person), Registration::Invite { people_invite: true }) => Some(person),
            (Manager::Owner(_), _) => return Err(ApiError::INVITES_NOT_ALLOWED.into()),
        };
        let code = secrets::new_invite_code();
        let hash = secrets::hash_secret(&code);
        self.store()
            .write(move |w| {
                if let Some(person) = creator {
                    w.serialize_on(&format!("invites-of:{person}"))?;
                    if w.unused_invites_of(person)? >= INVITES_UNUSED_MAX {
                        return Err(Error::from(ApiError::INVITES_TOO_MUCH));
                    }
                }
                w.insert_invite(&hash, creator, unix_now()).map_err(Error::from)
            })
            .await?;
        Ok(code)
    }
}
