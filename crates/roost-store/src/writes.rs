//! Write statements: methods of [`Writer`], available only inside a write job. Reads live in
//! `queries.rs`; placeholders are numbered (`?N`) as there.
//!
//! Every counter (`message_id` per chat, `update_id` per bot, event `seq` per person) increases by
//! one per row. On PostgreSQL each is taken by `UPDATE … SET n = n + 1 … RETURNING n`, which locks
//! the row until the transaction ends, so concurrent writers on any number of instances get
//! strictly increasing ids, committed in id order. On SQLite the single writer keeps the
//! `message_id` counters in memory (`cache.rs`) and the stored column is a floor: whatever deletes
//! messages raises it first to the ids it deletes. SQLite's event `seq`s are instead positions in
//! one timeline that new messages take places in too (migration 0008), kept the same way with
//! `timeline.floor` as the floor: a person's stream is their event rows merged with their chats'
//! messages ([`Queries::events_after`]), and no event row is stored for a new message.

use crate::cache::{self, Key};
use crate::db::args;
use crate::queries::{
    BotErrorRow, CallbackRow, Happened, MessageRow, NewMessage, NewUser, Queries, WebhookSettings,
    message_columns, private_pair,
};
use crate::writer::Writer;
use crate::{ChatKey, MessageId, UpdateId, UserId};
use crate::{Result, StoreError};

/// First id handed to people and bots: Telegram-like ids are large, and libraries in languages
/// with 53-bit numbers (JavaScript) still represent them exactly. (PostgreSQL's `user_ids`
/// sequence starts here too.)
const FIRST_USER_ID: i64 = 1_000_000_000;

// The statements nearly every write job runs.
static INSERT_MESSAGE: &str = concat!(
    "INSERT INTO messages (",
    message_columns!(),
    ") VALUES (?1, ?2, ?3, ?4, NULL, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
);
static INSERT_UPDATE: &str = "INSERT INTO updates \
                              (bot_id, update_id, created_at, kind, chat_key, message_id, actor_id, payload) \
                              VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
static INSERT_EVENT: &str =
    "INSERT INTO user_events (user_id, seq, created_at, payload) VALUES (?1, ?2, ?3, ?4)";
static INSERT_MESSAGE_EVENT: &str = "INSERT INTO user_events \
                                     (user_id, seq, created_at, payload, chat_id, message_id) \
                                     VALUES (?1, ?2, ?3, '', ?4, ?5)";
pub(crate) static BEGIN: &str = "BEGIN IMMEDIATE";
pub(crate) static COMMIT: &str = "COMMIT";

/// How many entries of each bot's error log are kept.
pub const BOT_ERRORS_KEPT: i64 = 200;

/// A bot's settings that its owner changes (all of them, as they are to be stored).
#[derive(Debug, Clone)]
pub struct BotSettings<'a> {
    pub can_join_groups: bool,
    pub can_read_all_group_messages: bool,
    pub supports_inline_queries: bool,
    pub inline_placeholder: Option<&'a str>,
    pub inline_feedback: i64,
}

/// A session to open.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    pub token_hash: &'a [u8],
    pub user_id: UserId,
    pub id: i64,
    pub now: i64,
    pub device: Option<&'a str>,
    pub address: Option<&'a str>,
}

/// A rate-limit bucket pair: both must hold a token for a request to pass.
#[derive(Debug, Clone)]
pub struct RateBuckets<'a> {
    pub key: &'a str,
    /// Capacity and refill per second of the first bucket …
    pub capacity_a: f64,
    pub rate_a: f64,
    /// … and of the second (set the rate to 0 and the capacity high for a single bucket).
    pub capacity_b: f64,
    pub rate_b: f64,
}

/// Write statements, only inside a write job.
impl Writer<'_> {
    /// Inserts a person or bot and returns its new id. Fails on a taken username.
    pub fn insert_user(&mut self, user: &NewUser<'_>) -> Result<UserId> {
        let next: i64 = if self.db().is_postgres() {
            // Several writers: a sequence, never MAX() + 1.
            self.db().one("SELECT nextval('user_ids')", &[])?
        } else {
            let max: Option<i64> =
                self.db().value::<Option<i64>>("SELECT MAX(id) FROM users", &[])?.flatten();
            max.map_or(FIRST_USER_ID, |max| max + 1)
        };
        let sql = "INSERT INTO users (id, is_bot, username, username_key, first_name, last_name, \
                   language_code, password_hash, created_at) \
                   VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
        self.db().execute(
            sql,
            args![
                next,
                user.is_bot,
                user.username,
                user.username.to_lowercase().as_str(),
                user.first_name,
                user.last_name,
                user.language_code,
                user.password_hash,
                user.created_at,
            ],
        )?;
        let id = UserId::from_raw(next);
        self.forget(Key::User(id));
        Ok(id)
    }

    pub fn insert_bot(
        &mut self,
        user_id: UserId,
        owner_id: UserId,
        token_hash: &[u8],
        token_sealed: Option<&[u8]>,
        now: i64,
    ) -> Result<()> {
        let sql = "INSERT INTO bots (user_id, owner_id, token_hash, token_sealed, created_at) \
                   VALUES (?1, ?2, ?3, ?4, ?5)";
        self.db().execute(sql, args![user_id, owner_id, token_hash, token_sealed, now])?;
        Ok(())
    }

    /// Replaces a bot's token: the old one stops working at once, on every instance (the
    /// effect reaches their token caches).
    pub fn set_bot_token(
        &mut self,
        bot_id: UserId,
        token_hash: &[u8],
        token_sealed: Option<&[u8]>,
    ) -> Result<()> {
        let sql = "UPDATE bots SET token_hash = ?2, token_sealed = ?3 WHERE user_id = ?1";
        self.db().execute(sql, args![bot_id, token_hash, token_sealed])?;
        self.effect(crate::Effect::BotTokenChanged { bot_id });
        Ok(())
    }

    /// A bot's settings that its owner changes.
    pub fn set_bot_settings(&mut self, bot_id: UserId, settings: &BotSettings<'_>) -> Result<()> {
        let sql = "UPDATE bots SET can_join_groups = ?2, can_read_all_group_messages = ?3, \
                   supports_inline_queries = ?4, inline_placeholder = ?5, inline_feedback = ?6 \
                   WHERE user_id = ?1";
        let s = settings;
        self.db().execute(
            sql,
            args![
                bot_id,
                s.can_join_groups,
                s.can_read_all_group_messages,
                s.supports_inline_queries,
                s.inline_placeholder,
                s.inline_feedback
            ],
        )?;
        Ok(())
    }

    /// Marks a bot as the system bot.
    pub fn mark_system_bot(&mut self, bot_id: UserId) -> Result<()> {
        let sql = if self.db().is_postgres() {
            "UPDATE bots SET is_system = TRUE WHERE user_id = ?1"
        } else {
            "UPDATE bots SET is_system = 1 WHERE user_id = ?1"
        };
        self.db().execute(sql, args![bot_id])?;
        Ok(())
    }

    /// Holds `username` for `user_id` apart from its own username: `alias` (resolves to it) or
    /// `reserved` (never handed out again). False if the name is already held this way.
    pub fn hold_username(&mut self, username: &str, user_id: UserId, kind: &str, now: i64) -> Result<bool> {
        let sql = "INSERT INTO usernames (username_key, user_id, kind, created_at) VALUES (?1, ?2, ?3, ?4) \
                   ON CONFLICT (username_key) DO NOTHING";
        Ok(self.db().execute(sql, args![username.to_lowercase().as_str(), user_id, kind, now])? > 0)
    }

    /// Deletes a bot: its username is reserved forever, its token, webhook, queue, commands and
    /// profile texts go; its row stays (messages it sent keep their author, and it still counts
    /// against its owner's limit).
    pub fn delete_bot(&mut self, bot_id: UserId, now: i64) -> Result<()> {
        if let Some(username) = self.user(bot_id)?.and_then(|u| u.username) {
            self.hold_username(&username, bot_id, "reserved", now)?;
        }
        self.db().execute(
            "UPDATE users SET username = NULL, username_key = NULL, deleted_at = ?2 WHERE id = ?1",
            args![bot_id, now],
        )?;
        self.db().execute(
            "UPDATE bots SET token_hash = ?2, token_sealed = NULL, webhook_url = '', webhook_secret = NULL \
             WHERE user_id = ?1",
            args![bot_id, &[] as &[u8]],
        )?;
        for sql in [
            "DELETE FROM updates WHERE bot_id = ?1",
            "DELETE FROM bot_commands WHERE bot_id = ?1",
            "DELETE FROM bot_texts WHERE bot_id = ?1",
            "DELETE FROM bot_menu_buttons WHERE bot_id = ?1",
            "DELETE FROM webhook_leases WHERE bot_id = ?1",
            "DELETE FROM dialogs WHERE bot_id = ?1",
        ] {
            self.db().execute(sql, args![bot_id])?;
        }
        self.forget(Key::User(bot_id));
        self.effect(crate::Effect::BotTokenChanged { bot_id });
        self.effect(crate::Effect::WebhookChanged { bot_id });
        Ok(())
    }

    /// Deletes a person's account: they can no longer sign in (sessions and API keys end), their
    /// username is free again, and they are shown as a deleted account. Their bots are deleted by
    /// the caller first.
    pub fn delete_person(&mut self, user_id: UserId, now: i64) -> Result<()> {
        self.db().execute(
            "UPDATE users SET username = NULL, username_key = NULL, first_name = 'Deleted Account', \
             last_name = NULL, password_hash = NULL, deleted_at = ?2 WHERE id = ?1",
            args![user_id, now],
        )?;
        for sql in [
            "DELETE FROM sessions WHERE user_id = ?1",
            "DELETE FROM api_keys WHERE owner_id = ?1",
            "DELETE FROM dialogs WHERE user_id = ?1",
            "DELETE FROM invites WHERE created_by = ?1 AND used_by IS NULL",
        ] {
            self.db().execute(sql, args![user_id])?;
        }
        self.forget(Key::User(user_id));
        self.effect(crate::Effect::SessionsEnded { user_id });
        Ok(())
    }

    /// Sets a person's password hash and ends all their sessions and API keys (whoever had the
    /// account before the reset keeps nothing of it).
    pub fn set_password_hash(&mut self, user_id: UserId, phc: &str) -> Result<()> {
        self.db().execute("UPDATE users SET password_hash = ?2 WHERE id = ?1", args![user_id, phc])?;
        self.db().execute("DELETE FROM sessions WHERE user_id = ?1", args![user_id])?;
        self.db().execute("DELETE FROM api_keys WHERE owner_id = ?1", args![user_id])?;
        self.effect(crate::Effect::SessionsEnded { user_id });
        Ok(())
    }

    /// How many of a person's invite codes are unused.
    pub fn unused_invites_of(&mut self, user_id: UserId) -> Result<i64> {
        self.db()
            .one("SELECT COUNT(*) FROM invites WHERE created_by = ?1 AND used_by IS NULL", args![user_id])
    }

    pub fn insert_api_key(
        &mut self,
        id: i64,
        owner: UserId,
        name: &str,
        key_hash: &[u8],
        now: i64,
    ) -> Result<()> {
        let sql =
            "INSERT INTO api_keys (id, owner_id, name, key_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)";
        self.db().execute(sql, args![id, owner, name, key_hash, now])?;
        Ok(())
    }

    /// Revokes one of a person's API keys; false if they have none with this id.
    pub fn delete_api_key(&mut self, owner: UserId, id: i64) -> Result<bool> {
        Ok(self.db().execute("DELETE FROM api_keys WHERE owner_id = ?1 AND id = ?2", args![owner, id])? > 0)
    }

    pub fn touch_api_key(&mut self, id: i64, now: i64) -> Result<()> {
        self.db().execute("UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1", args![id, now])?;
        Ok(())
    }

    /// Appends entries to bots' error logs and keeps the newest [`BOT_ERRORS_KEPT`] of each.
    pub fn log_bot_errors(&mut self, entries: &[(UserId, BotErrorRow)]) -> Result<()> {
        let insert = "INSERT INTO bot_errors (bot_id, at, source, method, status, description) \
                      VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
        for (bot, e) in entries {
            self.db().execute(
                insert,
                args![*bot, e.at, e.source.as_str(), e.method.as_deref(), e.status, e.description.as_str()],
            )?;
        }
        let mut bots: Vec<UserId> = entries.iter().map(|(bot, _)| *bot).collect();
        bots.sort_unstable();
        bots.dedup();
        let trim = "DELETE FROM bot_errors WHERE bot_id = ?1 AND at < \
                    (SELECT at FROM bot_errors WHERE bot_id = ?1 ORDER BY at DESC LIMIT 1 OFFSET ?2)";
        for bot in bots {
            self.db().execute(trim, args![bot, BOT_ERRORS_KEPT - 1])?;
        }
        Ok(())
    }

    /// Sets (or with `None` ends) where a person's conversation with a bot stands.
    pub fn set_dialog(
        &mut self,
        user_id: UserId,
        bot_id: UserId,
        state: Option<&str>,
        now: i64,
    ) -> Result<()> {
        match state {
            Some(state) => self.db().execute(
                "INSERT INTO dialogs (user_id, bot_id, state, updated_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (user_id, bot_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
                args![user_id, bot_id, state, now],
            )?,
            None => self.db().execute("DELETE FROM dialogs WHERE user_id = ?1 AND bot_id = ?2", args![user_id, bot_id])?,
        };
        Ok(())
    }

    pub fn insert_invite(&mut self, code_hash: &[u8], created_by: Option<UserId>, now: i64) -> Result<()> {
        self.db().execute(
            "INSERT INTO invites (code_hash, created_by, created_at) VALUES (?1, ?2, ?3)",
            args![code_hash, created_by, now],
        )?;
        Ok(())
    }

    /// Uses an invite code up for `user_id`; false if it is unknown or already used.
    pub fn use_invite(&mut self, code_hash: &[u8], user_id: UserId, now: i64) -> Result<bool> {
        let sql = "UPDATE invites SET used_by = ?2, used_at = ?3 WHERE code_hash = ?1 AND used_by IS NULL";
        Ok(self.db().execute(sql, args![code_hash, user_id, now])? > 0)
    }

    /// Takes or renews the lease `name` for `owner` if it is free, expired or already `owner`'s
    /// (Unix milliseconds); true if `owner` holds it now.
    pub fn take_lease(&mut self, name: &str, owner: &str, now_ms: i64, ttl_ms: i64) -> Result<bool> {
        let sql = "INSERT INTO leases (name, owner, expires_at) VALUES (?1, ?2, ?3 + ?4) \
                   ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at \
                   WHERE leases.owner = excluded.owner OR leases.expires_at < ?3";
        Ok(self.db().execute(sql, args![name, owner, now_ms, ttl_ms])? > 0)
    }

    /// Gives the lease `name` up if `owner` holds it.
    pub fn release_lease(&mut self, name: &str, owner: &str) -> Result<()> {
        self.db().execute("DELETE FROM leases WHERE name = ?1 AND owner = ?2", args![name, owner])?;
        Ok(())
    }

    /// Opens a session; `id` is its public, random id (the caller draws another if this one is
    /// taken: the insert fails on the unique index).
    pub fn insert_session(&mut self, session: &NewSession<'_>) -> Result<()> {
        let sql = "INSERT INTO sessions (token_hash, user_id, created_at, id, last_active_at, device, address) \
                   VALUES (?1, ?2, ?3, ?4, ?3, ?5, ?6)";
        let s = session;
        self.db().execute(sql, args![s.token_hash, s.user_id, s.now, s.id, s.device, s.address])?;
        Ok(())
    }

    pub fn delete_session(&mut self, token_hash: &[u8]) -> Result<bool> {
        let sql = "DELETE FROM sessions WHERE token_hash = ?1 RETURNING user_id";
        let ended: Vec<UserId> = self.db().all(sql, args![token_hash], |r| r.get(0))?;
        for &user_id in &ended {
            self.effect(crate::Effect::SessionsEnded { user_id });
        }
        Ok(!ended.is_empty())
    }

    /// Ends one of a person's sessions by its public id.
    pub fn delete_session_by_id(&mut self, user_id: UserId, id: i64) -> Result<bool> {
        let sql = "DELETE FROM sessions WHERE user_id = ?1 AND id = ?2";
        let ended = self.db().execute(sql, args![user_id, id])? > 0;
        if ended {
            self.effect(crate::Effect::SessionsEnded { user_id });
        }
        Ok(ended)
    }

    /// Ends every session of a person but one; returns how many.
    pub fn delete_other_sessions(&mut self, user_id: UserId, keep_id: i64) -> Result<usize> {
        let sql = "DELETE FROM sessions WHERE user_id = ?1 AND id <> ?2";
        let ended = self.db().execute(sql, args![user_id, keep_id])?;
        if ended > 0 {
            self.effect(crate::Effect::SessionsEnded { user_id });
        }
        Ok(ended)
    }

    /// Records that a session was used at `now`.
    pub fn touch_session(&mut self, id: i64, now: i64) -> Result<()> {
        self.db().execute("UPDATE sessions SET last_active_at = ?2 WHERE id = ?1", args![id, now])?;
        Ok(())
    }

    /// Ends the sessions last used before `before`; returns how many.
    pub fn expire_sessions(&mut self, before: i64) -> Result<usize> {
        self.db().execute("DELETE FROM sessions WHERE last_active_at < ?1", args![before])
    }

    /// Creates the private chat between two users, with both as members, and returns its id.
    pub fn create_private_chat(&mut self, a: UserId, b: UserId, now: i64) -> Result<ChatKey> {
        let chat_id: ChatKey = self
            .db()
            .one("INSERT INTO chats (type, created_at) VALUES ('private', ?1) RETURNING id", args![now])?;
        let (low, high) = private_pair(a, b);
        self.db().execute(
            "INSERT INTO private_chats (user_low, user_high, chat_id) VALUES (?1, ?2, ?3)",
            args![low, high, chat_id],
        )?;
        let member = "INSERT INTO chat_members (chat_id, user_id, joined_at) VALUES (?1, ?2, ?3)";
        self.db().execute(member, args![chat_id, a, now])?;
        if b != a {
            self.db().execute(member, args![chat_id, b, now])?;
        }
        self.forget(Key::PrivateChat(low, high));
        self.forget(Key::Members(chat_id));
        Ok(chat_id)
    }

    /// Makes this job wait for, and then exclude, every other job serialised on the same `key`
    /// until it commits. SQLite's single writer runs one job at a time anyway; on PostgreSQL this
    /// takes a transaction-scoped advisory lock, so a check-then-insert (a free username, a
    /// private chat not yet created) stays atomic with several writers and answers as on SQLite.
    pub fn serialize_on(&mut self, key: &str) -> Result<()> {
        if self.db().is_postgres() {
            self.db().execute("SELECT pg_advisory_xact_lock(hashtext(?1))", args![key])?;
        }
        Ok(())
    }

    /// The private chat between two users, created (with both as members) if it does not exist.
    pub fn private_chat_or_create(&mut self, a: UserId, b: UserId, now: i64) -> Result<ChatKey> {
        let (low, high) = private_pair(a, b);
        self.serialize_on(&format!("private:{low}:{high}"))?;
        match self.private_chat(a, b)? {
            Some(chat) => Ok(chat),
            None => self.create_private_chat(a, b, now),
        }
    }

    /// Skips waiting for this transaction's commit to reach the disk (PostgreSQL
    /// `synchronous_commit = off`; nothing on SQLite). Only for bookkeeping whose loss in a crash
    /// is harmless, such as rate-limit buckets: a crash cannot corrupt anything, it only forgets
    /// the last fraction of a second.
    pub fn relax_durability(&mut self) -> Result<()> {
        if self.db().is_postgres() {
            self.db().execute("SET LOCAL synchronous_commit = off", &[])?;
        }
        Ok(())
    }

    /// Records that a member has written in a chat.
    pub fn mark_has_written(&mut self, chat_id: ChatKey, user_id: UserId) -> Result<()> {
        let sql = "UPDATE chat_members SET has_written = TRUE \
                   WHERE chat_id = ?1 AND user_id = ?2 AND has_written = FALSE";
        self.db().execute(sql, args![chat_id, user_id])?;
        self.forget(Key::Members(chat_id));
        Ok(())
    }

    /// Stores a message under the chat's next `message_id` (and on SQLite the timeline's next
    /// position) and returns the stored row.
    pub fn insert_message(&mut self, message: NewMessage) -> Result<MessageRow> {
        let message_id = match self.cache() {
            Some(cache) => cache::next_message_id(cache, self.db(), message.chat_id)?,
            None => self.db().value(
                "UPDATE chats SET last_message_id = last_message_id + 1 WHERE id = ?1 \
                 RETURNING last_message_id",
                args![message.chat_id],
            )?,
        }
        .ok_or_else(|| StoreError::Database(format!("no chat {}", message.chat_id)))?;
        let position = if self.db().is_postgres() { None } else { Some(self.next_position()?) };
        self.db().execute(
            INSERT_MESSAGE,
            args![
                message.chat_id,
                message_id,
                message.from_id,
                message.date,
                &message.text,
                &message.entities,
                message.reply_to_message_id,
                &message.reply_markup,
                message.protect_content,
                &message.forward_origin,
                position,
            ],
        )?;
        Ok(MessageRow {
            chat_id: message.chat_id,
            message_id: MessageId::from_raw(message_id),
            from_id: message.from_id,
            date: message.date,
            edit_date: None,
            text: message.text,
            entities: message.entities,
            reply_to_message_id: message.reply_to_message_id,
            reply_markup: message.reply_markup,
            protect_content: message.protect_content,
            forward_origin: message.forward_origin,
            position,
        })
    }

    /// The installation's secret called `name`, made from `fresh` the first time it is asked for
    /// (by any instance: the first to commit wins, the others read its value).
    pub fn instance_secret(&mut self, name: &str, fresh: &[u8]) -> Result<Vec<u8>> {
        self.db().execute(
            "INSERT INTO instance_secrets (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
            args![name, fresh],
        )?;
        self.db().one("SELECT value FROM instance_secrets WHERE name = ?1", args![name])
    }

    /// Appends what happened to a bot's queue under its next `update_id`, announced after the
    /// commit. It is rendered when read, in the reader's dialect.
    pub fn push_update(&mut self, bot_id: UserId, now: i64, happened: &Happened) -> Result<UpdateId> {
        let update_id: UpdateId = self
            .db()
            .value(
                "UPDATE bots SET last_update_id = last_update_id + 1 WHERE user_id = ?1 \
                 RETURNING last_update_id",
                args![bot_id],
            )?
            .ok_or_else(|| StoreError::Database(format!("no bot {bot_id}")))?;
        let (kind, chat_key, message_id, actor, payload) = happened.columns();
        self.db().execute(
            INSERT_UPDATE,
            args![bot_id, update_id, now, kind, chat_key, message_id, actor, payload],
        )?;
        self.effect(crate::Effect::BotUpdate { bot_id, update_id });
        Ok(update_id)
    }

    /// Replaces a message's text, entities and markup, and sets its edit date.
    pub fn edit_message(
        &mut self,
        chat_id: ChatKey,
        message_id: MessageId,
        text: Option<&str>,
        entities: Option<&str>,
        reply_markup: Option<&str>,
        edit_date: i64,
    ) -> Result<()> {
        let sql = "UPDATE messages SET text = ?3, entities = ?4, reply_markup = ?5, edit_date = ?6 \
                   WHERE chat_id = ?1 AND message_id = ?2";
        self.db().execute(sql, args![chat_id, message_id, text, entities, reply_markup, edit_date])?;
        Ok(())
    }

    /// Deletes a message (and its pin and reactions); false if there was none.
    pub fn delete_message(&mut self, chat_id: ChatKey, message_id: MessageId) -> Result<bool> {
        let key = args![chat_id, message_id];
        let deleted: Option<Option<i64>> = self.db().opt(
            "DELETE FROM messages WHERE chat_id = ?1 AND message_id = ?2 RETURNING position",
            key,
            |r| r.get(0),
        )?;
        if let Some(position) = deleted {
            // The counters' floors (see the top of this file): neither the id nor the position is
            // ever handed out again.
            self.db().execute(
                "UPDATE chats SET last_message_id = ?2 WHERE id = ?1 AND last_message_id < ?2",
                key,
            )?;
            if let Some(position) = position {
                self.raise_timeline_floor(position)?;
            }
        }
        self.db().execute("DELETE FROM pinned_messages WHERE chat_id = ?1 AND message_id = ?2", key)?;
        self.db().execute("DELETE FROM message_reactions WHERE chat_id = ?1 AND message_id = ?2", key)?;
        Ok(deleted.is_some())
    }

    pub fn insert_callback_query(&mut self, row: &CallbackRow) -> Result<()> {
        let sql = "INSERT INTO callback_queries (id, bot_id, user_id, chat_id, message_id, data, created_at) \
                   VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
        self.db().execute(
            sql,
            args![&row.id, row.bot_id, row.user_id, row.chat_id, row.message_id, &row.data, row.created_at],
        )?;
        Ok(())
    }

    /// Stores the answer of a callback query that has none yet; false if it had one.
    pub fn answer_callback_query(&mut self, id: &str, answer: &str, now: i64) -> Result<bool> {
        let sql =
            "UPDATE callback_queries SET answer = ?2, answered_at = ?3 WHERE id = ?1 AND answer IS NULL";
        Ok(self.db().execute(sql, args![id, answer, now])? > 0)
    }

    pub fn pin_message(&mut self, chat_id: ChatKey, message_id: MessageId, now: i64) -> Result<()> {
        let sql = "INSERT INTO pinned_messages (chat_id, message_id, pinned_at) VALUES (?1, ?2, ?3) \
                   ON CONFLICT (chat_id, message_id) DO UPDATE SET pinned_at = excluded.pinned_at";
        self.db().execute(sql, args![chat_id, message_id, now])?;
        Ok(())
    }

    /// Unpins one message, or all of a chat's with `None`; returns how many.
    pub fn unpin_messages(&mut self, chat_id: ChatKey, message_id: Option<MessageId>) -> Result<usize> {
        match message_id {
            Some(id) => self.db().execute(
                "DELETE FROM pinned_messages WHERE chat_id = ?1 AND message_id = ?2",
                args![chat_id, id],
            ),
            None => self.db().execute("DELETE FROM pinned_messages WHERE chat_id = ?1", args![chat_id]),
        }
    }

    /// Sets (or with `None` clears) a member's reactions to a message.
    pub fn set_reaction(
        &mut self,
        chat_id: ChatKey,
        message_id: MessageId,
        user_id: UserId,
        reaction: Option<&str>,
    ) -> Result<()> {
        match reaction {
            Some(json) => self.db().execute(
                "INSERT INTO message_reactions (chat_id, message_id, user_id, reaction) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (chat_id, message_id, user_id) DO UPDATE SET reaction = excluded.reaction",
                args![chat_id, message_id, user_id, json],
            )?,
            None => self.db().execute(
                "DELETE FROM message_reactions WHERE chat_id = ?1 AND message_id = ?2 AND user_id = ?3",
                args![chat_id, message_id, user_id],
            )?,
        };
        Ok(())
    }

    /// The member's current reactions to a message (JSON), if any.
    pub fn reaction(
        &mut self,
        chat_id: ChatKey,
        message_id: MessageId,
        user_id: UserId,
    ) -> Result<Option<String>> {
        let sql =
            "SELECT reaction FROM message_reactions WHERE chat_id = ?1 AND message_id = ?2 AND user_id = ?3";
        self.db().value(sql, args![chat_id, message_id, user_id])
    }

    /// Stores (or with `None` deletes) the commands of one scope and language.
    pub fn set_bot_commands(
        &mut self,
        bot_id: UserId,
        scope: &str,
        language_code: &str,
        commands: Option<&str>,
    ) -> Result<()> {
        match commands {
            Some(json) => self.db().execute(
                "INSERT INTO bot_commands (bot_id, scope, language_code, commands) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (bot_id, scope, language_code) DO UPDATE SET commands = excluded.commands",
                args![bot_id, scope, language_code, json],
            )?,
            None => self.db().execute(
                "DELETE FROM bot_commands WHERE bot_id = ?1 AND scope = ?2 AND language_code = ?3",
                args![bot_id, scope, language_code],
            )?,
        };
        Ok(())
    }

    /// Stores (or with `None` deletes) a profile text.
    pub fn set_bot_text(
        &mut self,
        bot_id: UserId,
        kind: &str,
        language_code: &str,
        value: Option<&str>,
    ) -> Result<()> {
        match value {
            Some(value) => self.db().execute(
                "INSERT INTO bot_texts (bot_id, kind, language_code, value) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (bot_id, kind, language_code) DO UPDATE SET value = excluded.value",
                args![bot_id, kind, language_code, value],
            )?,
            None => self.db().execute(
                "DELETE FROM bot_texts WHERE bot_id = ?1 AND kind = ?2 AND language_code = ?3",
                args![bot_id, kind, language_code],
            )?,
        };
        Ok(())
    }

    /// Sets a bot's display name (its user's first name).
    pub fn set_first_name(&mut self, user_id: UserId, first_name: &str) -> Result<()> {
        self.db().execute("UPDATE users SET first_name = ?2 WHERE id = ?1", args![user_id, first_name])?;
        self.forget(Key::User(user_id));
        Ok(())
    }

    /// Stores (or with `None` deletes) a menu button.
    pub fn set_menu_button(&mut self, bot_id: UserId, chat_id: i64, button: Option<&str>) -> Result<()> {
        match button {
            Some(json) => self.db().execute(
                "INSERT INTO bot_menu_buttons (bot_id, chat_id, button) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (bot_id, chat_id) DO UPDATE SET button = excluded.button",
                args![bot_id, chat_id, json],
            )?,
            None => self.db().execute(
                "DELETE FROM bot_menu_buttons WHERE bot_id = ?1 AND chat_id = ?2",
                args![bot_id, chat_id],
            )?,
        };
        Ok(())
    }

    /// Deletes a bot's queued updates with `update_id < below`; returns how many.
    pub fn confirm_updates(&mut self, bot_id: UserId, below: UpdateId) -> Result<usize> {
        self.db().execute("DELETE FROM updates WHERE bot_id = ?1 AND update_id < ?2", args![bot_id, below])
    }

    /// Deletes a bot's queued updates up to `through` and returns the ids it deleted: of two
    /// callers claiming the same updates at once, each gets only the ones it deleted (the second
    /// waits for the first's row locks on PostgreSQL; the single writer orders them on SQLite).
    pub fn claim_updates(&mut self, bot_id: UserId, through: UpdateId) -> Result<Vec<UpdateId>> {
        let sql = "DELETE FROM updates WHERE bot_id = ?1 AND update_id <= ?2 RETURNING update_id";
        self.db().all(sql, args![bot_id, through], |r| r.get(0))
    }

    /// Deletes every queued update of a bot.
    pub fn drop_updates(&mut self, bot_id: UserId) -> Result<usize> {
        self.db().execute("DELETE FROM updates WHERE bot_id = ?1", args![bot_id])
    }

    pub fn set_allowed_updates(&mut self, bot_id: UserId, allowed: Option<&str>) -> Result<()> {
        self.db()
            .execute("UPDATE bots SET allowed_updates = ?2 WHERE user_id = ?1", args![bot_id, allowed])?;
        Ok(())
    }

    /// Sets (or, with an empty URL, removes) a bot's webhook and resets its failure count;
    /// announces the change after the commit.
    pub fn set_webhook(&mut self, bot_id: UserId, settings: &WebhookSettings) -> Result<()> {
        let sql = "UPDATE bots SET webhook_url = ?2, webhook_secret = ?3, webhook_max_connections = ?4, \
                   webhook_ip_address = ?5, webhook_certificate = ?6, webhook_failures = 0, \
                   webhook_dialect = ?7 WHERE user_id = ?1";
        self.db().execute(
            sql,
            args![
                bot_id,
                &settings.url,
                &settings.secret,
                settings.max_connections,
                &settings.ip_address,
                &settings.certificate,
                &settings.dialect,
            ],
        )?;
        self.effect(crate::Effect::WebhookChanged { bot_id });
        Ok(())
    }

    /// Deletes one delivered update.
    pub fn ack_update(&mut self, bot_id: UserId, update_id: UpdateId) -> Result<()> {
        self.db()
            .execute("DELETE FROM updates WHERE bot_id = ?1 AND update_id = ?2", args![bot_id, update_id])?;
        Ok(())
    }

    /// Records a failed delivery attempt; returns the number of consecutive failures.
    pub fn webhook_failed(&mut self, bot_id: UserId, now: i64, message: &str) -> Result<i64> {
        let sql = "UPDATE bots SET webhook_failures = webhook_failures + 1, webhook_last_error_date = ?2, \
                   webhook_last_error_message = ?3 WHERE user_id = ?1 RETURNING webhook_failures";
        Ok(self.db().value(sql, args![bot_id, now, message])?.unwrap_or(0))
    }

    /// Records a successful delivery (ends a run of failures).
    pub fn webhook_succeeded(&mut self, bot_id: UserId) -> Result<()> {
        let sql = "UPDATE bots SET webhook_failures = 0 WHERE user_id = ?1 AND webhook_failures <> 0";
        self.db().execute(sql, args![bot_id])?;
        Ok(())
    }

    /// Switches a failing webhook off, saying why in its last error.
    pub fn disable_webhook(&mut self, bot_id: UserId, now: i64, message: &str) -> Result<()> {
        let sql = "UPDATE bots SET webhook_url = '', webhook_last_error_date = ?2, \
                   webhook_last_error_message = ?3, webhook_failures = 0 WHERE user_id = ?1";
        self.db().execute(sql, args![bot_id, now, message])?;
        self.effect(crate::Effect::WebhookChanged { bot_id });
        Ok(())
    }

    /// Takes or renews, for `owner`, the delivery lease of every bot with a webhook whose lease is
    /// free, expired or already `owner`'s; returns the bots `owner` holds now. Times are Unix
    /// milliseconds. Instances share the database's idea of expiry, so their clocks must agree to
    /// well within the lease's length.
    pub fn take_webhook_leases(&mut self, owner: &str, now_ms: i64, ttl_ms: i64) -> Result<Vec<UserId>> {
        let sql = "INSERT INTO webhook_leases (bot_id, owner, expires_at) \
                   SELECT user_id, ?1, ?2 + ?3 FROM bots WHERE webhook_url <> '' \
                   ON CONFLICT (bot_id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at \
                   WHERE webhook_leases.owner = excluded.owner OR webhook_leases.expires_at < ?2 \
                   RETURNING bot_id";
        let mut bots = self.db().all(sql, args![owner, now_ms, ttl_ms], |r| r.get(0))?;
        bots.sort_unstable();
        Ok(bots)
    }

    /// Gives up every lease `owner` holds (a clean shutdown): other instances take them at their
    /// next renewal.
    pub fn release_webhook_leases(&mut self, owner: &str) -> Result<usize> {
        self.db().execute("DELETE FROM webhook_leases WHERE owner = ?1", args![owner])
    }

    /// Takes one token from both buckets of `buckets` if both have one (refilled up to `now`,
    /// Unix seconds); otherwise takes nothing and returns the seconds until both have one.
    /// One statement on one row, so it holds across instances sharing the database.
    pub fn take_rate_token(&mut self, buckets: &RateBuckets<'_>, now: f64) -> Result<f64> {
        // The refilled level of each bucket, capped at its capacity (CASE: both backends have it).
        // Time never runs backwards for a bucket (instances' clocks differ slightly).
        const ELAPSED: &str =
            "(CASE WHEN ?2 > rate_buckets.updated_at THEN ?2 - rate_buckets.updated_at ELSE 0 END)";
        let a = format!(
            "CASE WHEN rate_buckets.tokens_a + {ELAPSED} * ?4 > ?3 THEN ?3 ELSE rate_buckets.tokens_a + {ELAPSED} * ?4 END"
        );
        let b = format!(
            "CASE WHEN rate_buckets.tokens_b + {ELAPSED} * ?6 > ?5 THEN ?5 ELSE rate_buckets.tokens_b + {ELAPSED} * ?6 END"
        );
        let sql = format!(
            "INSERT INTO rate_buckets (key, tokens_a, tokens_b, updated_at) VALUES (?1, ?3 - 1, ?5 - 1, ?2) \
             ON CONFLICT (key) DO UPDATE SET tokens_a = {a} - 1, tokens_b = {b} - 1, \
             updated_at = CASE WHEN ?2 > rate_buckets.updated_at THEN ?2 ELSE rate_buckets.updated_at END \
             WHERE {a} >= 1 AND {b} >= 1 RETURNING key"
        );
        let params =
            args![buckets.key, now, buckets.capacity_a, buckets.rate_a, buckets.capacity_b, buckets.rate_b];
        if self.db().opt(&sql, params, |_| Ok(()))?.is_some() {
            return Ok(0.0);
        }
        let sql = "SELECT tokens_a, tokens_b, updated_at FROM rate_buckets WHERE key = ?1";
        let Some((a, b, at)) = self
            .db()
            .opt(sql, args![buckets.key], |r| Ok((r.get::<f64>(0)?, r.get::<f64>(1)?, r.get::<f64>(2)?)))?
        else {
            return Ok(0.0);
        };
        let elapsed = (now - at).max(0.0);
        let wait = |tokens: f64, capacity: f64, rate: f64| {
            let level = (tokens + elapsed * rate).min(capacity);
            if level >= 1.0 || rate <= 0.0 { 0.0 } else { (1.0 - level) / rate }
        };
        Ok(wait(a, buckets.capacity_a, buckets.rate_a)
            .max(wait(b, buckets.capacity_b, buckets.rate_b))
            .max(0.001))
    }

    /// Forgets rate buckets untouched since `before` (Unix seconds): they have refilled.
    pub fn prune_rate_buckets(&mut self, before: f64) -> Result<usize> {
        self.db().execute("DELETE FROM rate_buckets WHERE updated_at < ?1", args![before])
    }

    /// Appends an event to a person's stream under the next `seq` (on SQLite, the timeline's next
    /// position), announced after the commit.
    pub fn push_event(
        &mut self,
        user_id: UserId,
        now: i64,
        payload: impl FnOnce(i64) -> Result<String>,
    ) -> Result<i64> {
        let seq = self.next_event_seq(user_id)?;
        let payload = payload(seq)?;
        self.db().execute(INSERT_EVENT, args![user_id, seq, now, &payload])?;
        self.effect(crate::Effect::UserEvent { user_id, seq });
        Ok(seq)
    }

    /// Puts a new message of one of the person's chats into their stream.
    ///
    /// A message with a position (SQLite) is in the stream already, through its chat's timeline:
    /// this only wakes the person's streams after the commit. Storing an event row per person for
    /// every message was the largest cost left on the single writer after the message itself
    /// (docs/performance.md). Otherwise (PostgreSQL) it stores an event that refers to the
    /// message (see [`StoredEvent::Message`](crate::StoredEvent::Message)), rendered when read.
    pub fn push_message_event(&mut self, user_id: UserId, now: i64, message: &MessageRow) -> Result<i64> {
        if let Some(seq) = message.position {
            self.effect(crate::Effect::UserEvent { user_id, seq });
            return Ok(seq);
        }
        let seq = self.next_event_seq(user_id)?;
        self.db()
            .execute(INSERT_MESSAGE_EVENT, args![user_id, seq, now, message.chat_id, message.message_id])?;
        self.effect(crate::Effect::UserEvent { user_id, seq });
        Ok(seq)
    }

    /// Takes the person's next event `seq`: on SQLite the timeline's next position.
    fn next_event_seq(&mut self, user_id: UserId) -> Result<i64> {
        if !self.db().is_postgres() {
            return self.next_position();
        }
        self.db()
            .value(
                "UPDATE users SET event_seq = event_seq + 1 WHERE id = ?1 RETURNING event_seq",
                args![user_id],
            )?
            .ok_or_else(|| StoreError::Database(format!("no user {user_id}")))
    }

    /// SQLite: the timeline's next position, kept by the writer (`cache.rs`); without the cache
    /// (never the server's writer), read from the store.
    fn next_position(&mut self) -> Result<i64> {
        match self.cache() {
            Some(cache) => cache::next_position(cache, self.db()),
            None => Ok(crate::queries::newest_position(self.db())? + 1),
        }
    }

    /// SQLite: raises the timeline's floor to a position a deletion removes (see the top of this
    /// file).
    fn raise_timeline_floor(&mut self, position: i64) -> Result<()> {
        self.db().execute("UPDATE timeline SET floor = ?1 WHERE floor < ?1", args![position])?;
        Ok(())
    }

    /// Deletes updates and events created before the cutoffs (retention), on SQLite at most
    /// `limit` of each, oldest first; returns how many of each. Call again while either count
    /// reaches `limit`: each call is one write job, so a large backlog does not hold every other
    /// write up while it goes.
    pub fn expire(
        &mut self,
        updates_before: i64,
        events_before: i64,
        limit: usize,
    ) -> Result<(usize, usize)> {
        let (updates, events) = if self.db().is_postgres() {
            // Several instances write here, each with its own clock: no insertion order to rely on.
            let updates =
                self.db().execute("DELETE FROM updates WHERE created_at < ?1", args![updates_before])?;
            // Each person's counter floor first, to the newest event deleted (see the top of this
            // file).
            self.db().execute(
                "UPDATE users SET event_seq = gone.seq \
                 FROM (SELECT user_id, MAX(seq) AS seq FROM user_events WHERE created_at < ?1 \
                       GROUP BY user_id) AS gone \
                 WHERE users.id = gone.user_id AND users.event_seq < gone.seq",
                args![events_before],
            )?;
            let events =
                self.db().execute("DELETE FROM user_events WHERE created_at < ?1", args![events_before])?;
            (updates, events)
        } else {
            (
                self.expire_updates_prefix(updates_before, limit)?,
                self.expire_events_prefix(events_before, limit)?,
            )
        };
        // Button presses are answerable for minutes; keep them as long as events.
        self.db().execute("DELETE FROM callback_queries WHERE created_at < ?1", args![events_before])?;
        Ok((updates, events))
    }

    /// SQLite: the single writer appends updates with its own clock's `created_at`, so in rowid
    /// order the expired ones come first, and no index on `created_at` is needed to find them (one
    /// B-tree insert less for every update). A clock stepping back only keeps a few rows longer.
    fn expire_updates_prefix(&mut self, before: i64, limit: usize) -> Result<usize> {
        let oldest: Vec<(i64, i64)> = self.db().all(
            "SELECT rowid, created_at FROM updates ORDER BY rowid LIMIT ?1",
            args![limit as i64],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        match expired_prefix(&oldest, before, |&(rowid, created_at)| (rowid, created_at)) {
            Some((_, end)) => self.db().execute("DELETE FROM updates WHERE rowid < ?1", args![end]),
            None => Ok(0),
        }
    }

    /// SQLite: as [`Self::expire_updates_prefix`], for events; the timeline's floor is raised
    /// first to the newest `seq` deleted (see the top of this file).
    fn expire_events_prefix(&mut self, before: i64, limit: usize) -> Result<usize> {
        let oldest: Vec<(i64, i64, i64)> = self.db().all(
            "SELECT rowid, created_at, seq FROM user_events ORDER BY rowid LIMIT ?1",
            args![limit as i64],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )?;
        let Some((expired, end)) =
            expired_prefix(&oldest, before, |&(rowid, created_at, ..)| (rowid, created_at))
        else {
            return Ok(0);
        };
        // Every `seq` is a timeline position (migration 0008).
        if let Some(newest_gone) = oldest[..expired].iter().map(|&(.., seq)| seq).max() {
            self.raise_timeline_floor(newest_gone)?;
        }
        self.db().execute("DELETE FROM user_events WHERE rowid < ?1", args![end])
    }
}

/// The expired prefix of `oldest` (rows in rowid order; `key` gives a row's `(rowid,
/// created_at)`): how many rows it holds, and the rowid it ends before (the first row kept, or one
/// past the last row when all expired). `None` when nothing expired.
fn expired_prefix<T>(oldest: &[T], before: i64, key: impl Fn(&T) -> (i64, i64)) -> Option<(usize, i64)> {
    let expired = oldest.iter().take_while(|row| key(row).1 < before).count();
    let end = match oldest.get(expired) {
        Some(kept) => key(kept).0,
        None => key(oldest.last()?).0 + 1,
    };
    (expired > 0).then_some((expired, end))
}
