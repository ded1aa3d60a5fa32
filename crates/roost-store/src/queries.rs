//! Typed read queries and the rows they return. Every SQL statement of Roost lives in this file
//! and in `writes.rs`.
//!
//! Read queries are default methods of [`Queries`], so they run on a read connection ([`Reader`])
//! and inside a write job ([`Writer`](crate::Writer), where they see the job's own writes). Write
//! statements are methods of `Writer` only (`writes.rs`). Placeholders are numbered (`?N`), never
//! named, so a value binds by its number wherever it appears; PostgreSQL's `$N` is the same text with another
//! prefix. (SQLite reads `$1` as a *name* and numbers names by first appearance, so `$2 … $1`
//! would silently swap values.)

use std::sync::Arc;

use crate::db::{Db, Row, args};
use crate::{ChatKey, MessageId, Result, UpdateId, UserId};

/// A person or a bot, as stored. The names are shared strings: the writer hands out copies of the
/// rows it keeps (`cache.rs`) several times per message, and a copy then costs no allocation.
#[derive(Debug, Clone, PartialEq)]
pub struct UserRow {
    pub id: UserId,
    pub is_bot: bool,
    pub username: Option<Arc<str>>,
    pub first_name: Arc<str>,
    pub last_name: Option<Arc<str>>,
    pub language_code: Option<Arc<str>>,
    /// The account was deleted: it can no longer sign in, be addressed or be written to.
    pub deleted: bool,
}

const USER_COLUMNS: &str =
    "id, is_bot, username, first_name, last_name, language_code, deleted_at IS NOT NULL";

fn user_row(row: &Row<'_, '_>) -> Result<UserRow> {
    Ok(UserRow {
        id: row.get(0)?,
        is_bot: row.get(1)?,
        username: row.get::<Option<String>>(2)?.map(Arc::from),
        first_name: Arc::from(row.get::<String>(3)?),
        last_name: row.get::<Option<String>>(4)?.map(Arc::from),
        language_code: row.get::<Option<String>>(5)?.map(Arc::from),
        deleted: row.get(6)?,
    })
}

/// A new person or bot.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    pub is_bot: bool,
    pub username: &'a str,
    pub first_name: &'a str,
    pub last_name: Option<&'a str>,
    pub language_code: Option<&'a str>,
    pub password_hash: Option<&'a str>,
    pub created_at: i64,
}

/// A person's session (never its token).
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRow {
    pub id: i64,
    pub user_id: UserId,
    pub created_at: i64,
    pub last_active_at: i64,
    pub device: Option<String>,
    pub address: Option<String>,
}

fn session_row(r: &Row<'_, '_>) -> Result<SessionRow> {
    Ok(SessionRow {
        id: r.get(0)?,
        user_id: r.get(1)?,
        created_at: r.get(2)?,
        last_active_at: r.get(3)?,
        device: r.get(4)?,
        address: r.get(5)?,
    })
}

/// A bot's own settings and queue position.
#[derive(Debug, Clone, PartialEq)]
pub struct BotRow {
    pub user_id: UserId,
    pub owner_id: UserId,
    pub token_hash: Vec<u8>,
    pub last_update_id: i64,
    /// The JSON list of the last `allowed_updates`, if one was given.
    pub allowed_updates: Option<String>,
    pub webhook_url: String,
    pub can_join_groups: bool,
    pub can_read_all_group_messages: bool,
    pub supports_inline_queries: bool,
    /// The token sealed under the installation's `tokens` key (`None` for bots made before
    /// tokens were kept, and for the system bot).
    pub token_sealed: Option<Vec<u8>>,
    pub inline_placeholder: Option<String>,
    /// Percent of chosen inline results reported to the bot.
    pub inline_feedback: i64,
    pub is_system: bool,
    pub created_at: i64,
}

/// `SELECT` of the columns [`bot_row`] reads, in its order, then `rest`: one static statement
/// each (`bot` runs on every getUpdates and every message to a bot).
macro_rules! select_bots {
    ($rest:literal) => {
        concat!(
            "SELECT user_id, owner_id, token_hash, last_update_id, allowed_updates, webhook_url, \
             can_join_groups, can_read_all_group_messages, supports_inline_queries, \
             token_sealed, inline_placeholder, inline_feedback, is_system, created_at FROM bots ",
            $rest
        )
    };
}

fn bot_row(r: &Row<'_, '_>) -> Result<BotRow> {
    Ok(BotRow {
        user_id: r.get(0)?,
        owner_id: r.get(1)?,
        token_hash: r.get(2)?,
        last_update_id: r.get(3)?,
        allowed_updates: r.get(4)?,
        webhook_url: r.get(5)?,
        can_join_groups: r.get(6)?,
        can_read_all_group_messages: r.get(7)?,
        supports_inline_queries: r.get(8)?,
        token_sealed: r.get(9)?,
        inline_placeholder: r.get(10)?,
        inline_feedback: r.get(11)?,
        is_system: r.get(12)?,
        created_at: r.get(13)?,
    })
}

/// A personal API key, as listed (never the key).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyRow {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// One entry of a bot's error log.
#[derive(Debug, Clone, PartialEq)]
pub struct BotErrorRow {
    pub at: i64,
    /// `webhook` or `call`.
    pub source: String,
    /// The Bot API method of a rejected call.
    pub method: Option<String>,
    /// The HTTP status: the receiver's for a webhook (0 if it gave none), Roost's for a call.
    pub status: i64,
    pub description: String,
}

/// A chat, as stored (its id is internal).
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRow {
    pub id: ChatKey,
    pub kind: String,
    pub title: Option<String>,
}

/// A message, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageRow {
    pub chat_id: ChatKey,
    pub message_id: MessageId,
    pub from_id: UserId,
    pub date: i64,
    pub edit_date: Option<i64>,
    pub text: Option<String>,
    pub entities: Option<String>,
    pub reply_to_message_id: Option<MessageId>,
    pub reply_markup: Option<String>,
    pub protect_content: bool,
    /// MessageOrigin JSON of a forwarded message.
    pub forward_origin: Option<String>,
    /// The message's place in the timeline that the people's event streams read (SQLite; see
    /// [`Queries::events_after`]). `None` on PostgreSQL, and for messages stored before the
    /// timeline: those reach each person as an event row.
    pub position: Option<i64>,
}

/// The columns of a message row, in [`message_row_at`]'s order; a macro so that statements on hot
/// paths are string literals (`concat!`), not formatted again on every call.
macro_rules! message_columns {
    () => {
        "chat_id, message_id, from_id, date, edit_date, text, entities, \
         reply_to_message_id, reply_markup, protect_content, forward_origin, position"
    };
}
pub(crate) use message_columns;

pub(crate) const MESSAGE_COLUMNS: &str = message_columns!();

fn message_row(row: &Row<'_, '_>) -> Result<MessageRow> {
    message_row_at(row, 0)
}

/// A message whose [`MESSAGE_COLUMNS`] start at column `at` of a wider row.
fn message_row_at(row: &Row<'_, '_>, at: usize) -> Result<MessageRow> {
    Ok(MessageRow {
        chat_id: row.get(at)?,
        message_id: row.get(at + 1)?,
        from_id: row.get(at + 2)?,
        date: row.get(at + 3)?,
        edit_date: row.get(at + 4)?,
        text: row.get(at + 5)?,
        entities: row.get(at + 6)?,
        reply_to_message_id: row.get(at + 7)?,
        reply_markup: row.get(at + 8)?,
        protect_content: row.get(at + 9)?,
        forward_origin: row.get(at + 10)?,
        position: row.get(at + 11)?,
    })
}

/// A message to store; the writer assigns its `message_id`.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub chat_id: ChatKey,
    pub from_id: UserId,
    pub date: i64,
    pub text: Option<String>,
    pub entities: Option<String>,
    pub reply_to_message_id: Option<MessageId>,
    pub reply_markup: Option<String>,
    pub protect_content: bool,
    pub forward_origin: Option<String>,
}

/// One entry of a person's chat list.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatListRow {
    pub chat: ChatRow,
    /// For a private chat, the other party.
    pub peer_id: Option<UserId>,
    pub last_message: Option<MessageRow>,
}

/// A callback query, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct CallbackRow {
    pub id: String,
    pub bot_id: UserId,
    pub user_id: UserId,
    pub chat_id: ChatKey,
    pub message_id: MessageId,
    pub data: Option<String>,
    pub created_at: i64,
    /// The answer (JSON), once the bot gave one.
    pub answer: Option<String>,
}

/// An update waiting in a bot's queue.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredUpdate {
    pub update_id: UpdateId,
    /// When it was queued (Unix seconds).
    pub created_at: i64,
    pub happened: Happened,
}

impl StoredUpdate {
    /// The internal id of the update's chat (0 for none): the unit of in-order webhook delivery.
    pub fn chat_key(&self) -> ChatKey {
        self.happened.chat_key()
    }
}

/// What a queued update records: what happened, by reference to the rows it concerns, for the
/// reading dialect to render (migration 0010). No dialect's wording is stored.
#[derive(Debug, Clone, PartialEq)]
pub enum Happened {
    /// A new message.
    Message { chat: ChatKey, message_id: MessageId },
    /// A message was edited; it is shown as it is when read.
    EditedMessage { chat: ChatKey, message_id: MessageId },
    /// A button press: the callback query row's id.
    CallbackQuery { chat: ChatKey, query_id: String },
    /// `user` changed their reaction; `reactions` is the JSON pair `[old, new]` of the lists (a
    /// snapshot: the reactions table holds only the newest).
    MessageReaction { chat: ChatKey, message_id: MessageId, user: UserId, reactions: String },
    /// An update queued before updates were stored neutrally: its Telegram JSON, served as is.
    Legacy { chat: ChatKey, json: String },
    /// A row of a known kind that does not read (its columns missing): passed over by readers
    /// rather than failing the whole queue.
    Unreadable { chat: ChatKey, kind: i64 },
    /// A row of a kind this version does not know, written by a newer one (instances of two
    /// versions may share a store during an upgrade): readers stop before it and leave it, and
    /// everything after it, in the queue for an instance that knows it.
    Newer { chat: ChatKey, kind: i64 },
}

/// The highest update kind this version writes and reads.
const NEWEST_KIND: i64 = 4;

impl Happened {
    /// The internal key of the chat it concerns.
    pub fn chat_key(&self) -> ChatKey {
        match self {
            Happened::Message { chat, .. }
            | Happened::EditedMessage { chat, .. }
            | Happened::CallbackQuery { chat, .. }
            | Happened::MessageReaction { chat, .. }
            | Happened::Legacy { chat, .. }
            | Happened::Unreadable { chat, .. }
            | Happened::Newer { chat, .. } => *chat,
        }
    }

    /// Its columns: (kind, chat_key, message_id, actor_id, payload).
    pub(crate) fn columns(&self) -> (i64, ChatKey, Option<MessageId>, Option<UserId>, &str) {
        match self {
            Happened::Legacy { chat, json } => (0, *chat, None, None, json),
            Happened::Message { chat, message_id } => (1, *chat, Some(*message_id), None, ""),
            Happened::EditedMessage { chat, message_id } => (2, *chat, Some(*message_id), None, ""),
            Happened::CallbackQuery { chat, query_id } => (3, *chat, None, None, query_id),
            Happened::MessageReaction { chat, message_id, user, reactions } => {
                (4, *chat, Some(*message_id), Some(*user), reactions)
            }
            Happened::Unreadable { chat, kind } | Happened::Newer { chat, kind } => {
                (*kind, *chat, None, None, "")
            }
        }
    }

    /// From its columns: a kind above this version's is [`Happened::Newer`], a known kind without
    /// its columns [`Happened::Unreadable`].
    pub(crate) fn from_columns(
        kind: i64,
        chat: ChatKey,
        message_id: Option<MessageId>,
        actor: Option<UserId>,
        payload: String,
    ) -> Self {
        match (kind, message_id, actor) {
            (0, _, _) => Happened::Legacy { chat, json: payload },
            (1, Some(message_id), _) => Happened::Message { chat, message_id },
            (2, Some(message_id), _) => Happened::EditedMessage { chat, message_id },
            (3, _, _) => Happened::CallbackQuery { chat, query_id: payload },
            (4, Some(message_id), Some(user)) => {
                Happened::MessageReaction { chat, message_id, user, reactions: payload }
            }
            (kind, _, _) if kind > NEWEST_KIND => Happened::Newer { chat, kind },
            _ => Happened::Unreadable { chat, kind },
        }
    }
}

/// A bot's webhook settings and delivery health.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookRow {
    pub bot_id: UserId,
    /// Empty when no webhook is set.
    pub url: String,
    /// The dialect it was set through (see [`WebhookSettings::dialect`]).
    pub dialect: String,
    pub secret: Option<String>,
    pub max_connections: i64,
    pub ip_address: Option<String>,
    pub certificate: Option<String>,
    pub allowed_updates: Option<String>,
    pub last_error_date: Option<i64>,
    pub last_error_message: Option<String>,
    pub last_sync_error_date: Option<i64>,
    pub failures: i64,
}

/// What `setWebhook` stores.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    pub url: String,
    /// The dialect it was set through (`telegram`, `wwchat`): its updates are rendered in it.
    pub dialect: String,
    pub secret: Option<String>,
    pub max_connections: i64,
    pub ip_address: Option<String>,
    pub certificate: Option<String>,
}

/// An event of a person's event stream.
#[derive(Debug, Clone, PartialEq)]
pub enum StoredEvent {
    /// The event's JSON, as stored.
    Json { seq: i64, payload: String },
    /// A new message in one of the person's chats, stored as a reference and rendered when read.
    Message { seq: i64, chat_id: ChatKey, message_id: MessageId },
}

impl StoredEvent {
    pub fn seq(&self) -> i64 {
        match self {
            StoredEvent::Json { seq, .. } | StoredEvent::Message { seq, .. } => *seq,
        }
    }
}

// The three lookups every message makes, as functions so the writer's cache (`cache.rs`) can
// run them on a miss.

pub(crate) fn user_by_id(db: Db<'_>, id: UserId) -> Result<Option<UserRow>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1");
    db.opt(&sql, args![id], user_row)
}

/// The two parties of a private chat as stored: lower user id first.
pub(crate) fn private_pair(a: UserId, b: UserId) -> (UserId, UserId) {
    if a <= b { (a, b) } else { (b, a) }
}

pub(crate) fn private_chat_between(db: Db<'_>, a: UserId, b: UserId) -> Result<Option<ChatKey>> {
    let (low, high) = private_pair(a, b);
    let sql = "SELECT chat_id FROM private_chats WHERE user_low = ?1 AND user_high = ?2";
    db.value(sql, args![low, high])
}

pub(crate) fn members_of(db: Db<'_>, chat_id: ChatKey) -> Result<Vec<(UserId, bool)>> {
    let sql = "SELECT user_id, has_written FROM chat_members WHERE chat_id = ?1 \
               ORDER BY joined_at, user_id";
    db.all(sql, args![chat_id], |r| Ok((r.get(0)?, r.get(1)?)))
}

// The counters. On SQLite the writer keeps them (`cache.rs`) and the stored column is a floor,
// raised only when rows are deleted: the newest id is the larger of the floor and the newest row.
// (On PostgreSQL the column is always the newest id, and the same reading is right.)

/// The newest `message_id` of a chat; `None` if there is no such chat.
pub(crate) fn last_message_id(db: Db<'_>, chat_id: ChatKey) -> Result<Option<i64>> {
    let sql = "SELECT c.last_message_id, \
                      COALESCE((SELECT MAX(message_id) FROM messages WHERE chat_id = ?1), 0) \
               FROM chats c WHERE c.id = ?1";
    db.opt(sql, args![chat_id], |r| newest(r, 0))
}

/// The newest event `seq` of a person; `None` if there is no such user. On SQLite, where every
/// `seq` is a position in the one timeline, the newest position (see [`newest_position`]).
pub(crate) fn last_event_seq_of(db: Db<'_>, user_id: UserId) -> Result<Option<i64>> {
    if !db.is_postgres() {
        let exists = db.value::<i64>("SELECT 1 FROM users WHERE id = ?1", args![user_id])?.is_some();
        return if exists { newest_position(db).map(Some) } else { Ok(None) };
    }
    let sql = "SELECT u.event_seq, COALESCE((SELECT MAX(seq) FROM user_events WHERE user_id = ?1), 0) \
               FROM users u WHERE u.id = ?1";
    db.opt(sql, args![user_id], |r| newest(r, 0))
}

/// SQLite: the newest position of the timeline, the larger of its floor and the newest message
/// and event row. The single writer appends both tables in position order, so each one's newest
/// row is its last by rowid (one step down its B-tree, no index on the positions needed); rows
/// from before the timeline lie below the floor (migration 0008), and deleted rows raised it.
pub(crate) fn newest_position(db: Db<'_>) -> Result<i64> {
    let sql = "SELECT MAX(floor, \
                          COALESCE((SELECT position FROM messages ORDER BY rowid DESC LIMIT 1), 0), \
                          COALESCE((SELECT seq FROM user_events ORDER BY rowid DESC LIMIT 1), 0)) \
               FROM timeline";
    db.one(sql, &[])
}

/// SQLite: appends to `out` the oldest `limit` messages of `chat` with a position above `after`
/// and dated `oldest` or later; true if there were more.
///
/// No index on the positions: within a chat they rise with `message_id` (and dates nearly do), so
/// the messages wanted are the chat's newest ones down to the first that is not, found on the
/// `(chat_id, message_id)` key. A live stream mostly finds one or none: a walk down from the
/// newest message, in chunks that grow from one row, costs what it finds plus one step. A replay
/// of a long backlog would walk all of it for every page; past [`WALK`] rows the start is found
/// by bisecting the message ids instead (one seek per step), and the page read forwards from it.
fn timeline_after(
    db: Db<'_>,
    chat: ChatKey,
    after: i64,
    oldest: i64,
    limit: usize,
    out: &mut Vec<StoredEvent>,
) -> Result<bool> {
    /// How far the walk down goes before bisecting.
    const WALK: i64 = 64;
    type Found = (i64, Option<i64>, i64);
    let wanted = |&(_, position, date): &Found| position.is_some_and(|p| p > after) && date >= oldest;
    let read = |sql: &str, from: i64, count: i64| -> Result<Vec<Found>> {
        db.all(sql, args![chat, from, count], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
    };
    let down = "SELECT message_id, position, date FROM messages \
                WHERE chat_id = ?1 AND message_id < ?2 ORDER BY message_id DESC LIMIT ?3";
    let up = "SELECT message_id, position, date FROM messages \
              WHERE chat_id = ?1 AND message_id >= ?2 ORDER BY message_id LIMIT ?3";
    // The walk: newest first.
    let mut found: Vec<Found> = Vec::new();
    let (mut below, mut chunk) = (i64::MAX, 1_i64);
    let first_wanted = loop {
        let rows = read(down, below, chunk)?;
        let full = rows.len() as i64 == chunk;
        for row in rows {
            if !wanted(&row) {
                found.reverse();
                return Ok(keep_oldest(chat, found, limit, out));
            }
            below = row.0;
            found.push(row);
        }
        if !full {
            found.reverse();
            return Ok(keep_oldest(chat, found, limit, out));
        }
        if found.len() as i64 >= WALK {
            break below;
        }
        chunk = (chunk * 8).min(WALK);
    };
    // Bisecting `[low, high)` for the first wanted message; `first` is wanted, and no message
    // between `high` and `first` exists or is wanted.
    let (mut low, mut high, mut first) = (0_i64, first_wanted, first_wanted);
    while low < high {
        let middle = low + (high - low) / 2;
        match read(up, middle, 1)?.pop() {
            Some(row) if row.0 < high => {
                if wanted(&row) {
                    first = row.0;
                    high = middle;
                } else {
                    low = row.0 + 1;
                }
            }
            _ => high = middle,
        }
    }
    let page = read(up, first, limit as i64 + 1)?;
    Ok(keep_oldest(chat, page, limit, out))
}

/// Appends the first `limit` of `rows` (a chat's messages, oldest first) to `out` as events; true
/// if there were more.
fn keep_oldest(
    chat: ChatKey,
    rows: Vec<(i64, Option<i64>, i64)>,
    limit: usize,
    out: &mut Vec<StoredEvent>,
) -> bool {
    let more = rows.len() > limit;
    out.extend(rows.into_iter().take(limit).filter_map(|(message_id, position, _)| {
        position.map(|seq| StoredEvent::Message {
            seq,
            chat_id: chat,
            message_id: MessageId::from_raw(message_id),
        })
    }));
    more
}

/// The larger of a counter's floor (column `at`) and its newest row (column `at + 1`).
fn newest(row: &Row<'_, '_>, at: usize) -> Result<i64> {
    let floor: i64 = row.get(at)?;
    let rows: i64 = row.get(at + 1)?;
    Ok(floor.max(rows))
}

/// Read queries, available on read connections and inside write jobs.
pub trait Queries {
    /// The connection the queries run on.
    fn db(&self) -> Db<'_>;

    fn user(&self, id: UserId) -> Result<Option<UserRow>> {
        user_by_id(self.db(), id)
    }

    /// Looks a username up without regard to case.
    /// The system bot's other names (aliases) resolve to it too.
    fn user_by_username(&self, username: &str) -> Result<Option<UserRow>> {
        let key = username.to_lowercase();
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE username_key = ?1");
        if let Some(user) = self.db().opt(&sql, args![key.as_str()], user_row)? {
            return Ok(Some(user));
        }
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users WHERE id = \
             (SELECT user_id FROM usernames WHERE username_key = ?1 AND kind = 'alias')"
        );
        self.db().opt(&sql, args![key.as_str()], user_row)
    }

    /// The user id and Argon2 hash for a login.
    fn password_hash(&self, username: &str) -> Result<Option<(UserId, String)>> {
        let sql = "SELECT id, password_hash FROM users \
                   WHERE username_key = ?1 AND password_hash IS NOT NULL";
        self.db().opt(sql, args![username.to_lowercase().as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
    }

    fn bot(&self, user_id: UserId) -> Result<Option<BotRow>> {
        self.db().opt(select_bots!("WHERE user_id = ?1"), args![user_id], bot_row)
    }

    /// The bots a person owns, deleted ones too, oldest first.
    fn bots_of(&self, owner: UserId) -> Result<Vec<BotRow>> {
        let sql = select_bots!("WHERE owner_id = ?1 AND NOT is_system ORDER BY created_at, user_id");
        self.db().all(sql, args![owner], bot_row)
    }

    /// Every bot but the system bot, with its owner, oldest first (the operator's list).
    fn all_bots(&self) -> Result<Vec<BotRow>> {
        self.db().all(select_bots!("WHERE NOT is_system ORDER BY created_at, user_id"), &[], bot_row)
    }

    /// The system bot, once made.
    fn system_bot(&self) -> Result<Option<UserId>> {
        self.db().opt("SELECT user_id FROM bots WHERE is_system ORDER BY user_id LIMIT 1", &[], |r| r.get(0))
    }

    /// People (not bots), oldest first, with whether each was deleted (the operator's list).
    fn people(&self) -> Result<Vec<(UserRow, i64)>> {
        let sql = format!("SELECT {USER_COLUMNS}, created_at FROM users WHERE NOT is_bot ORDER BY id");
        self.db().all(&sql, &[], |r| Ok((user_row(r)?, r.get(7)?)))
    }

    /// Whether a username is taken: by a user, as an alias, or reserved by a deleted bot.
    fn username_in_use(&self, username: &str) -> Result<bool> {
        let key = username.to_lowercase();
        let sql = "SELECT (SELECT COUNT(*) FROM users WHERE username_key = ?1) \
                   + (SELECT COUNT(*) FROM usernames WHERE username_key = ?1)";
        Ok(self.db().one::<i64>(sql, args![key.as_str()])? > 0)
    }

    /// A personal API key by its hash: (key id, owner).
    fn api_key(&self, key_hash: &[u8]) -> Result<Option<(i64, UserId, Option<i64>)>> {
        let sql = "SELECT k.id, k.owner_id, k.last_used_at FROM api_keys k \
                   JOIN users u ON u.id = k.owner_id \
                   WHERE k.key_hash = ?1 AND u.deleted_at IS NULL";
        self.db().opt(sql, args![key_hash], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
    }

    /// A person's API keys, newest first.
    fn api_keys_of(&self, owner: UserId) -> Result<Vec<ApiKeyRow>> {
        let sql = "SELECT id, name, created_at, last_used_at FROM api_keys WHERE owner_id = ?1 \
                   ORDER BY created_at DESC, id";
        self.db().all(sql, args![owner], |r| {
            Ok(ApiKeyRow { id: r.get(0)?, name: r.get(1)?, created_at: r.get(2)?, last_used_at: r.get(3)? })
        })
    }

    /// A bot's recent errors, newest first: (at, source, method, status, description).
    fn bot_errors(&self, bot_id: UserId, limit: usize) -> Result<Vec<BotErrorRow>> {
        let sql = "SELECT at, source, method, status, description FROM bot_errors WHERE bot_id = ?1 \
                   ORDER BY at DESC LIMIT ?2";
        self.db().all(sql, args![bot_id, limit as i64], |r| {
            Ok(BotErrorRow {
                at: r.get(0)?,
                source: r.get(1)?,
                method: r.get(2)?,
                status: r.get(3)?,
                description: r.get(4)?,
            })
        })
    }

    /// Where a person's conversation with a bot stands (the system bot's dialogs).
    fn dialog(&self, user_id: UserId, bot_id: UserId) -> Result<Option<String>> {
        self.db().opt(
            "SELECT state FROM dialogs WHERE user_id = ?1 AND bot_id = ?2",
            args![user_id, bot_id],
            |r| r.get(0),
        )
    }

    /// An invite code by its hash: (created_by, used_by).
    fn invite(&self, code_hash: &[u8]) -> Result<Option<(Option<UserId>, Option<UserId>)>> {
        self.db().opt("SELECT created_by, used_by FROM invites WHERE code_hash = ?1", args![code_hash], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
    }

    /// The session a token hash belongs to.
    fn session(&self, token_hash: &[u8]) -> Result<Option<SessionRow>> {
        let sql = "SELECT id, user_id, created_at, last_active_at, device, address FROM sessions WHERE token_hash = ?1";
        self.db().opt(sql, args![token_hash], session_row)
    }

    /// A person's sessions, the most recently used first.
    fn sessions_of(&self, user_id: UserId) -> Result<Vec<SessionRow>> {
        let sql = "SELECT id, user_id, created_at, last_active_at, device, address FROM sessions \
                   WHERE user_id = ?1 ORDER BY last_active_at DESC, id";
        self.db().all(sql, args![user_id], session_row)
    }

    fn chat(&self, chat_id: ChatKey) -> Result<Option<ChatRow>> {
        let sql = "SELECT id, type, title FROM chats WHERE id = ?1";
        self.db().opt(sql, args![chat_id], chat_row)
    }

    /// The private chat between two users, if it exists.
    fn private_chat(&self, a: UserId, b: UserId) -> Result<Option<ChatKey>> {
        private_chat_between(self.db(), a, b)
    }

    /// Members of a chat with whether each has written there, in join order.
    fn chat_members(&self, chat_id: ChatKey) -> Result<Vec<(UserId, bool)>> {
        members_of(self.db(), chat_id)
    }

    fn message(&self, chat_id: ChatKey, message_id: MessageId) -> Result<Option<MessageRow>> {
        let sql =
            concat!("SELECT ", message_columns!(), " FROM messages WHERE chat_id = ?1 AND message_id = ?2");
        self.db().opt(sql, args![chat_id, message_id], message_row)
    }

    /// Up to `limit` messages older than `before` (all if `None`), oldest first.
    fn history(&self, chat_id: ChatKey, before: Option<MessageId>, limit: i64) -> Result<Vec<MessageRow>> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE chat_id = ?1 AND message_id < ?2 \
             ORDER BY message_id DESC LIMIT ?3"
        );
        let mut messages = self.db().all(
            &sql,
            args![chat_id, before.map_or(i64::MAX, MessageId::raw), limit],
            message_row,
        )?;
        messages.reverse();
        Ok(messages)
    }

    /// A person's chats, most recently active first (by their newest message; chats without one
    /// last), with each chat's newest message.
    fn chat_list(&self, user_id: UserId, limit: i64) -> Result<Vec<ChatListRow>> {
        let sql = format!(
            "SELECT c.id, c.type, c.title, \
                    CASE WHEN p.user_low = ?1 THEN p.user_high ELSE p.user_low END, \
                    {cols} \
             FROM chat_members m \
             JOIN chats c ON c.id = m.chat_id \
             LEFT JOIN private_chats p ON p.chat_id = c.id \
             LEFT JOIN messages msg ON msg.chat_id = c.id \
                  AND msg.message_id = (SELECT MAX(message_id) FROM messages WHERE chat_id = c.id) \
             WHERE m.user_id = ?1 \
             ORDER BY COALESCE(msg.date, 0) DESC, c.id DESC LIMIT ?2",
            cols = MESSAGE_COLUMNS
                .split(", ")
                .map(|c| format!("msg.{}", c.trim()))
                .collect::<Vec<_>>()
                .join(", ")
        );
        self.db().all(&sql, args![user_id, limit], |r| {
            let chat = chat_row(r)?;
            let peer_id: Option<UserId> = r.get(3)?;
            let has_message: Option<i64> = r.get(4)?;
            let last_message = match has_message {
                Some(_) => Some(message_row_at(r, 4)?),
                None => None,
            };
            Ok(ChatListRow { chat, peer_id, last_message })
        })
    }

    /// Up to `limit` queued updates of a bot with `update_id >= from`, oldest first.
    fn pending_updates(&self, bot_id: UserId, from: UpdateId, limit: i64) -> Result<Vec<StoredUpdate>> {
        let sql = "SELECT update_id, created_at, kind, chat_key, message_id, actor_id, payload FROM updates \
                   WHERE bot_id = ?1 AND update_id >= ?2 ORDER BY update_id LIMIT ?3";
        let rows = self.db().all(sql, args![bot_id, from, limit], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
        })?;
        rows.into_iter()
            .map(|(update_id, created_at, kind, chat, message_id, actor, payload)| {
                let happened = Happened::from_columns(kind, chat, message_id, actor, payload);
                Ok(StoredUpdate { update_id, created_at, happened })
            })
            .collect()
    }

    /// The smallest queued `update_id` of a bot.
    fn first_pending_update(&self, bot_id: UserId) -> Result<Option<UpdateId>> {
        let sql = "SELECT MIN(update_id) FROM updates WHERE bot_id = ?1";
        Ok(self.db().value::<Option<UpdateId>>(sql, args![bot_id])?.flatten())
    }

    /// The `update_id` of the `n`th newest queued update (1 = newest).
    fn nth_newest_update(&self, bot_id: UserId, n: i64) -> Result<Option<UpdateId>> {
        let sql = "SELECT update_id FROM updates WHERE bot_id = ?1 \
                   ORDER BY update_id DESC LIMIT 1 OFFSET ?2";
        self.db().value(sql, args![bot_id, n - 1])
    }

    /// How many queued updates from `from` on (the floor a background confirmation has set but
    /// perhaps not yet committed; 0 for all).
    fn pending_update_count(&self, bot_id: UserId, from: UpdateId) -> Result<i64> {
        let sql = "SELECT COUNT(*) FROM updates WHERE bot_id = ?1 AND update_id >= ?2";
        self.db().one(sql, args![bot_id, from])
    }

    /// A bot's webhook settings and delivery health.
    fn webhook(&self, bot_id: UserId) -> Result<Option<WebhookRow>> {
        let sql = "SELECT user_id, webhook_url, webhook_secret, webhook_max_connections, webhook_ip_address, \
                   webhook_certificate, allowed_updates, webhook_last_error_date, \
                   webhook_last_error_message, webhook_last_sync_error_date, webhook_failures, \
                   webhook_dialect FROM bots WHERE user_id = ?1";
        self.db().opt(sql, args![bot_id], |r| {
            Ok(WebhookRow {
                bot_id: r.get(0)?,
                url: r.get(1)?,
                secret: r.get(2)?,
                max_connections: r.get(3)?,
                ip_address: r.get(4)?,
                certificate: r.get(5)?,
                allowed_updates: r.get(6)?,
                last_error_date: r.get(7)?,
                last_error_message: r.get(8)?,
                last_sync_error_date: r.get(9)?,
                failures: r.get(10)?,
                dialect: r.get(11)?,
            })
        })
    }

    /// Every bot with a webhook set.
    fn webhook_bots(&self) -> Result<Vec<UserId>> {
        let sql = "SELECT user_id FROM bots WHERE webhook_url <> '' ORDER BY user_id";
        self.db().all(sql, &[], |r| r.get(0))
    }

    /// A callback query: (bot, user, chat, message, answer JSON if answered).
    fn callback_query(&self, id: &str) -> Result<Option<CallbackRow>> {
        let sql = "SELECT id, bot_id, user_id, chat_id, message_id, data, created_at, answer \
                   FROM callback_queries WHERE id = ?1";
        self.db().opt(sql, args![id], |r| {
            Ok(CallbackRow {
                id: r.get(0)?,
                bot_id: r.get(1)?,
                user_id: r.get(2)?,
                chat_id: r.get(3)?,
                message_id: r.get(4)?,
                data: r.get(5)?,
                created_at: r.get(6)?,
                answer: r.get(7)?,
            })
        })
    }

    /// Pinned messages of a chat, most recently pinned first.
    fn pinned_messages(&self, chat_id: ChatKey) -> Result<Vec<MessageId>> {
        let sql = "SELECT message_id FROM pinned_messages WHERE chat_id = ?1 ORDER BY pinned_at DESC, message_id DESC";
        self.db().all(sql, args![chat_id], |r| r.get(0))
    }

    /// The stored commands of one scope and language.
    fn bot_commands(&self, bot_id: UserId, scope: &str, language_code: &str) -> Result<Option<String>> {
        let sql = "SELECT commands FROM bot_commands WHERE bot_id = ?1 AND scope = ?2 AND language_code = ?3";
        self.db().value(sql, args![bot_id, scope, language_code])
    }

    /// A profile text (`name`, `description`, `short_description`) in one language.
    fn bot_text(&self, bot_id: UserId, kind: &str, language_code: &str) -> Result<Option<String>> {
        let sql = "SELECT value FROM bot_texts WHERE bot_id = ?1 AND kind = ?2 AND language_code = ?3";
        self.db().value(sql, args![bot_id, kind, language_code])
    }

    /// The menu button JSON set for a chat (0 = the bot's default).
    fn menu_button(&self, bot_id: UserId, chat_id: i64) -> Result<Option<String>> {
        let sql = "SELECT button FROM bot_menu_buttons WHERE bot_id = ?1 AND chat_id = ?2";
        self.db().value(sql, args![bot_id, chat_id])
    }

    /// Up to `limit` events of a person with `seq > after`, oldest first, and whether there may
    /// be more (the read was cut at `limit`).
    ///
    /// The person's own event rows, and on SQLite the new messages of each of their chats,
    /// merged by position: the timeline (migration 0008). A message is replayed only if it is
    /// dated `oldest` or later, as event rows are kept only as long (`expire`).
    fn events_after(
        &self,
        user_id: UserId,
        after: i64,
        oldest: i64,
        limit: i64,
    ) -> Result<(Vec<StoredEvent>, bool)> {
        let db = self.db();
        let limit = limit.max(1);
        let rows = |db: Db<'_>| {
            let sql = "SELECT seq, payload, chat_id, message_id FROM user_events \
                       WHERE user_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3";
            db.all(sql, args![user_id, after, limit], |r| {
                let seq = r.get(0)?;
                Ok(match (r.get::<Option<ChatKey>>(2)?, r.get::<Option<MessageId>>(3)?) {
                    (Some(chat_id), Some(message_id)) => StoredEvent::Message { seq, chat_id, message_id },
                    _ => StoredEvent::Json { seq, payload: r.get(1)? },
                })
            })
        };
        if db.is_postgres() {
            let events = rows(db)?;
            let more = events.len() as i64 >= limit;
            return Ok((events, more));
        }
        // Every read below in one snapshot: read apart, a commit in between could put an event
        // row under a message read later, and the stream would go on past it.
        db.snapshot(|| {
            let mut events = rows(db)?;
            let mut more = events.len() as i64 >= limit;
            // The chats with a message above `after`: one step to each chat's newest message,
            // inside SQLite, so that a person in many quiet chats costs little.
            let sql = "SELECT chat_id FROM chat_members m WHERE user_id = ?1 \
                       AND (SELECT position FROM messages WHERE chat_id = m.chat_id \
                            ORDER BY message_id DESC LIMIT 1) > ?2";
            let chats: Vec<ChatKey> = db.all(sql, args![user_id, after], |r| r.get(0))?;
            for chat in chats {
                more |= timeline_after(db, chat, after, oldest, limit as usize, &mut events)?;
            }
            events.sort_unstable_by_key(StoredEvent::seq);
            if events.len() as i64 > limit {
                events.truncate(limit as usize);
                more = true;
            }
            Ok((events, more))
        })
    }

    /// The sequence number of a person's newest event.
    fn last_event_seq(&self, user_id: UserId) -> Result<i64> {
        Ok(last_event_seq_of(self.db(), user_id)?.unwrap_or(0))
    }

    /// The newest `update_id` of each of these bots (missing bots are left out): the safety
    /// re-check of wake-ups when another instance's notification may have been lost.
    fn last_update_ids(&self, bots: &[UserId]) -> Result<Vec<(UserId, i64)>> {
        // `last_update_id` is exact on both backends: it is its own floor.
        let select = "SELECT user_id, last_update_id, last_update_id FROM bots WHERE user_id IN";
        counters(self.db(), select, bots)
    }

    /// The newest event `seq` of each of these people, as [`Queries::last_update_ids`].
    fn last_event_seqs(&self, users: &[UserId]) -> Result<Vec<(UserId, i64)>> {
        if !self.db().is_postgres() {
            // One timeline: each person's stream reaches as far as it does (see
            // `last_event_seq_of`).
            let select = "SELECT id, 0, 0 FROM users WHERE id IN";
            let newest = newest_position(self.db())?;
            let found = counters(self.db(), select, users)?;
            return Ok(found.into_iter().map(|(id, _)| (id, newest)).collect());
        }
        let select = "SELECT u.id, u.event_seq, \
                             COALESCE((SELECT MAX(seq) FROM user_events e WHERE e.user_id = u.id), 0) \
                      FROM users u WHERE u.id IN";
        counters(self.db(), select, users)
    }
}

/// `(id, counter)` pairs for a list of ids, in chunks of a fixed statement shape (so the statement
/// is prepared once): unused slots repeat the chunk's first id. `select` gives the id, the
/// counter's floor and its newest row (see [`last_message_id`]).
fn counters(db: Db<'_>, select: &str, ids: &[UserId]) -> Result<Vec<(UserId, i64)>> {
    const CHUNK: usize = 64;
    let placeholders: Vec<String> = (1..=CHUNK).map(|n| format!("?{n}")).collect();
    let sql = format!("{select} ({})", placeholders.join(", "));
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        let params: Vec<crate::db::Value<'_>> =
            (0..CHUNK).map(|i| crate::db::Value::from(chunk.get(i).copied().unwrap_or(chunk[0]))).collect();
        out.extend(db.all(&sql, &params, |r| Ok((r.get(0)?, newest(r, 1)?)))?);
    }
    Ok(out)
}

fn chat_row(row: &Row<'_, '_>) -> Result<ChatRow> {
    Ok(ChatRow { id: row.get(0)?, kind: row.get(1)?, title: row.get(2)? })
}

/// A read connection, valid inside one [`Store::read`](crate::Store::read) call.
pub struct Reader<'c> {
    db: Db<'c>,
}

impl<'c> Reader<'c> {
    pub(crate) fn new(db: Db<'c>) -> Self {
        Reader { db }
    }
}

impl Queries for Reader<'_> {
    fn db(&self) -> Db<'_> {
        self.db
    }
}
