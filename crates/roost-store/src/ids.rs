//! The ids the store hands out that must not be mistaken for others.

use std::fmt;

use sqlx::Postgres;

/// The internal key of a chat (a row of `chats`). It never reaches the wire: a private chat is
/// addressed by the other party's user id, and each dialect names chats its own way. A distinct
/// type, so that a chat key cannot be passed where a user id (which also names private chats on
/// the wire) is meant, nor the other way round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChatKey(i64);

impl ChatKey {
    /// A key read from somewhere other than the store (a dialect's opaque id, a test).
    pub const fn from_raw(raw: i64) -> ChatKey {
        ChatKey(raw)
    }

    /// The number, for what keys things by chat without interpreting it (wake-ups, in-order
    /// delivery, opaque ids).
    pub const fn raw(self) -> i64 {
        self.0
    }
}

impl fmt::Display for ChatKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "chat {}", self.0)
    }
}

impl From<ChatKey> for crate::db::Value<'_> {
    fn from(key: ChatKey) -> Self {
        crate::db::Value::Int(Some(key.0))
    }
}

impl rusqlite::types::FromSql for ChatKey {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        i64::column_result(value).map(ChatKey)
    }
}

impl sqlx::Type<Postgres> for ChatKey {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <i64 as sqlx::Type<Postgres>>::type_info()
    }

    fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
        <i64 as sqlx::Type<Postgres>>::compatible(ty)
    }
}

impl<'r> sqlx::Decode<'r, Postgres> for ChatKey {
    fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        <i64 as sqlx::Decode<'r, Postgres>>::decode(value).map(ChatKey)
    }
}
