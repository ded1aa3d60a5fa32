//! The ids the store hands out, each its own type so that one cannot stand for another: a chat's
//! internal key is not a user id (which also names private chats on the wire), nor the other way
//! round.

use std::fmt;

use sqlx::Postgres;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(i64);

        /// The bare number, as `Display` (logs of lists of ids read as before).
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        impl $name {
            /// The id of this number: one the store reads or hands out, or a request's (the wire
            /// carries the numbers).
            pub const fn from_raw(raw: i64) -> $name {
                $name(raw)
            }

            /// The number, for the wire and for what keys things by it without interpreting it.
            pub const fn raw(self) -> i64 {
                self.0
            }
        }

        /// The bare number (as in keys, notifications and logs).
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        impl From<$name> for crate::db::Value<'_> {
            fn from(id: $name) -> Self {
                crate::db::Value::Int(Some(id.0))
            }
        }

        impl From<Option<$name>> for crate::db::Value<'_> {
            fn from(id: Option<$name>) -> Self {
                crate::db::Value::Int(id.map(|id| id.0))
            }
        }

        impl rusqlite::types::FromSql for $name {
            fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
                i64::column_result(value).map($name)
            }
        }

        impl sqlx::Type<Postgres> for $name {
            fn type_info() -> sqlx::postgres::PgTypeInfo {
                <i64 as sqlx::Type<Postgres>>::type_info()
            }

            fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
                <i64 as sqlx::Type<Postgres>>::compatible(ty)
            }
        }

        impl<'r> sqlx::Decode<'r, Postgres> for $name {
            fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                <i64 as sqlx::Decode<'r, Postgres>>::decode(value).map($name)
            }
        }
    };
}

id_type!(
    /// The internal key of a chat (a row of `chats`). It never reaches the wire: a private chat is
    /// addressed by the other party's user id, and each dialect names chats its own way.
    ChatKey
);

id_type!(
    /// A user's id (a person or a bot): the same number on the wire, where it also names the
    /// private chat with that user.
    UserId
);

id_type!(
    /// An update's id in its bot's queue: the same number on the wire (`update_id`), increasing by
    /// one per bot.
    UpdateId
);

id_type!(
    /// A message's id within its chat: the same number on the wire (`message_id`), increasing by
    /// one per chat and shared by all its members. Only with its chat does it name a message.
    MessageId
);
