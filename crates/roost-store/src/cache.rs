//! Rows the single SQLite writer keeps between jobs.
//!
//! Every message looks up the same few small rows: the recipient's user row, the private chat
//! between the two parties, the chat's members. With SQLite only the writer thread changes them,
//! so the writer can keep them across jobs and batches instead of asking SQLite each time (three
//! to four statements of the eleven a `sendMessage` runs).
//!
//! What keeps it true:
//! - every statement that changes a cached table is a method of `Writer` in `writes.rs`, and each
//!   of those forgets the rows it changes ([`RowCache::forget`]);
//! - a job that fails forgets everything it filled in, since its reads may have seen its own
//!   rolled-back writes (a chat id that is handed out again, say); a batch whose commit fails
//!   forgets everything;
//! - only rows that exist are kept (an absent row may be created by the next job);
//! - with PostgreSQL, where other instances write too, there is no cache.

use std::cell::RefCell;
use std::collections::HashMap;

use crate::Result;
use crate::db::Db;
use crate::queries::{self, UserRow};

/// Each map is emptied when it grows past this many rows: a bound on memory, not an eviction
/// policy (a miss costs one indexed lookup).
const MAX_ROWS: usize = 50_000;

/// One cached row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    User(i64),
    /// By the lower and the higher user id.
    PrivateChat(i64, i64),
    Members(i64),
}

#[derive(Default)]
pub(crate) struct RowCache {
    users: HashMap<i64, UserRow>,
    private_chats: HashMap<(i64, i64), i64>,
    members: HashMap<i64, Vec<(i64, bool)>>,
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
pub(crate) fn user(cache: &RefCell<RowCache>, db: Db<'_>, id: i64) -> Result<Option<UserRow>> {
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

pub(crate) fn private_chat(cache: &RefCell<RowCache>, db: Db<'_>, a: i64, b: i64) -> Result<Option<i64>> {
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

pub(crate) fn members(cache: &RefCell<RowCache>, db: Db<'_>, chat: i64) -> Result<Vec<(i64, bool)>> {
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
