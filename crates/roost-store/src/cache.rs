//! Rows the single SQLite writer keeps between jobs.
//!
//! Every message looks up the same few small rows: the recipient's user row, the private chat
//! between the two parties, the chat's members. With SQLite only the writer thread changes them,
//! so the writer can keep them across jobs and batches instead of asking SQLite each time (three
//! to four statements of the eleven a `sendMessage` runs).
//!
//! It also keeps the counters: the newest `message_id` of each chat and the timeline's newest
//! position (every new message's, and every event `seq`: migration 0008). Counting in SQLite
//! (`UPDATE … SET n = n + 1 … RETURNING n`) was a fifth of the writer's time. The stored columns
//! (`chats.last_message_id`, `timeline.floor`) are then only a floor, raised when rows are
//! deleted; a counter is loaded as the larger of its floor and the newest row, so after a crash it
//! resumes above every id a committed row ever had:
//! - a counter is only advanced here, and only by the job that stores the row with the new id;
//! - every statement that deletes messages or events raises the floor to the ids it deletes
//!   (`writes.rs`), in the same transaction.
//!
//! What keeps it true:
//! - every statement that changes a cached table is a method of `Writer` in `writes.rs`, and each
//!   of those forgets the rows it changes ([`RowCache::forget`]);
//! - a job that fails forgets everything it filled in, since its reads may have seen its own
//!   rolled-back writes (a chat id that is handed out again, say); a batch whose commit fails
//!   forgets everything;
//! - only rows that exist are kept (an absent row may be created by the next job);
//! - with PostgreSQL, where other instances write too, there is no cache.

use rustc_hash::FxHashMap as HashMap;
use std::cell::RefCell;

use crate::Result;
use crate::db::Db;
use crate::queries::{self, UserRow};
use crate::{ChatKey, UserId};

/// The maps hash with FxHash rather than SipHash: their keys are ids this server hands out, and a
/// row is kept only when it exists, so nobody can fill a map with colliding keys. (With the
/// renderer's maps, FxHash took 9% off a `sendMessage` job's instructions under callgrind.)
///
/// Each map is emptied when it grows past this many rows: a bound on memory, not an eviction
/// policy (a miss costs one indexed lookup).
const MAX_ROWS: usize = 50_000;

/// One cached row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    User(UserId),
    /// By the lower and the higher user id.
    PrivateChat(UserId, UserId),
    Members(ChatKey),
    /// A chat's or a person's counter.
    Counter(Counter, i64),
}

/// The counters kept: the newest `message_id` of a chat, the timeline's newest position (one
/// counter, kept under id 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Counter {
    MessageId,
    Position,
}

#[derive(Default)]
pub(crate) struct RowCache {
    users: HashMap<UserId, UserRow>,
    private_chats: HashMap<(UserId, UserId), ChatKey>,
    members: HashMap<ChatKey, Vec<(UserId, bool)>>,
    message_ids: HashMap<i64, i64>,
    positions: HashMap<i64, i64>,
    /// Rows the running job filled in: forgotten if it fails.
    filled: Vec<Key>,
}

impl RowCache {
    /// A job begins: what earlier jobs filled in stays.
    pub(crate) fn begin_job(&mut self) {
        self.filled.clear();
    }

    /// The running job failed and its savepoint was rolled back.
    pub(crate) fn job_failed(&mut self) {
        for key in std::mem::take(&mut self.filled) {
            self.forget(key);
        }
    }

    /// The batch's transaction did not commit.
    pub(crate) fn clear(&mut self) {
        self.users.clear();
        self.private_chats.clear();
        self.members.clear();
        self.message_ids.clear();
        self.positions.clear();
        self.filled.clear();
    }

    /// A row changed (or may have).
    pub(crate) fn forget(&mut self, key: Key) {
        match key {
            Key::User(id) => {
                self.users.remove(&id);
            }
            Key::PrivateChat(low, high) => {
                self.private_chats.remove(&(low, high));
            }
            Key::Members(chat) => {
                self.members.remove(&chat);
            }
            Key::Counter(counter, id) => {
                self.counters(counter).remove(&id);
            }
        }
    }

    fn counters(&mut self, counter: Counter) -> &mut HashMap<i64, i64> {
        match counter {
            Counter::MessageId => &mut self.message_ids,
            Counter::Position => &mut self.positions,
        }
    }

    fn filled(&mut self, key: Key) {
        self.filled.push(key);
    }
}

/// Keeps a row, emptying the map first when it is full.
fn remember<K: std::hash::Hash + Eq, V>(map: &mut HashMap<K, V>, key: K, value: V) {
    if map.len() >= MAX_ROWS {
        map.clear();
    }
    map.insert(key, value);
}

/// The cached lookups, falling back to the store's queries on a miss.
pub(crate) fn user(cache: &RefCell<RowCache>, db: Db<'_>, id: UserId) -> Result<Option<UserRow>> {
    if let Some(row) = cache.borrow().users.get(&id) {
        return Ok(Some(row.clone()));
    }
    let row = queries::user_by_id(db, id)?;
    if let Some(row) = &row {
        let mut cache = cache.borrow_mut();
        remember(&mut cache.users, id, row.clone());
        cache.filled(Key::User(id));
    }
    Ok(row)
}

pub(crate) fn private_chat(
    cache: &RefCell<RowCache>,
    db: Db<'_>,
    a: UserId,
    b: UserId,
) -> Result<Option<ChatKey>> {
    let key = queries::private_pair(a, b);
    if let Some(&chat) = cache.borrow().private_chats.get(&key) {
        return Ok(Some(chat));
    }
    let chat = queries::private_chat_between(db, a, b)?;
    if let Some(chat) = chat {
        let mut cache = cache.borrow_mut();
        remember(&mut cache.private_chats, key, chat);
        cache.filled(Key::PrivateChat(key.0, key.1));
    }
    Ok(chat)
}

pub(crate) fn members(cache: &RefCell<RowCache>, db: Db<'_>, chat: ChatKey) -> Result<Vec<(UserId, bool)>> {
    if let Some(members) = cache.borrow().members.get(&chat) {
        return Ok(members.clone());
    }
    let members = queries::members_of(db, chat)?;
    if !members.is_empty() {
        let mut cache = cache.borrow_mut();
        remember(&mut cache.members, chat, members.clone());
        cache.filled(Key::Members(chat));
    }
    Ok(members)
}

/// The chat's next `message_id`: one above the newest handed out. `None` if there is no such chat.
pub(crate) fn next_message_id(cache: &RefCell<RowCache>, db: Db<'_>, chat: ChatKey) -> Result<Option<i64>> {
    advance(cache, Counter::MessageId, chat.raw(), || queries::last_message_id(db, chat))
}

/// The timeline's next position, as [`next_message_id`].
pub(crate) fn next_position(cache: &RefCell<RowCache>, db: Db<'_>) -> Result<i64> {
    let next = advance(cache, Counter::Position, 0, || queries::newest_position(db).map(Some))?;
    next.ok_or_else(|| crate::StoreError::Database("no timeline".into()))
}

/// Advances a counter, reading it from the store (`load`) when it is not kept.
fn advance(
    cache: &RefCell<RowCache>,
    counter: Counter,
    id: i64,
    load: impl FnOnce() -> Result<Option<i64>>,
) -> Result<Option<i64>> {
    let kept = cache.borrow_mut().counters(counter).get(&id).copied();
    let last = match kept {
        Some(last) => last,
        None => match load()? {
            Some(last) => last,
            None => return Ok(None),
        },
    };
    let mut cache = cache.borrow_mut();
    remember(cache.counters(counter), id, last + 1);
    // Filled in or advanced: if the job fails, its row is gone and the counter is read again.
    cache.filled(Key::Counter(counter, id));
    Ok(Some(last + 1))
}
