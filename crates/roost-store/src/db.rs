//! One way to run a statement on either backend.
//!
//! Every query of `queries.rs` and `writes.rs` is written once: SQL text with numbered `?N`
//! placeholders, a slice of [`Value`]s, and a closure that reads a [`Row`]. [`Db`] runs it on
//! SQLite (rusqlite, statements cached per connection) or on PostgreSQL (sqlx, `?N` rewritten to
//! `$N`, statements prepared once per connection by sqlx). The PostgreSQL side is async; store
//! closures are synchronous and run on blocking threads, so each statement is driven to completion
//! with the runtime's `Handle::block_on` (allowed there: those threads are not async contexts).

use std::borrow::Cow;
use std::cell::RefCell;

use sqlx::postgres::{PgArguments, PgConnection, PgRow};
use sqlx::{Postgres, Row as _};
use tokio::runtime::Handle;

use crate::{Result, StoreError};

/// A statement parameter.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    Int(Option<i64>),
    Float(f64),
    Bool(bool),
    Text(Option<&'a str>),
    Bytes(Option<&'a [u8]>),
}

impl From<i64> for Value<'_> {
    fn from(v: i64) -> Self {
        Value::Int(Some(v))
    }
}
impl From<Option<i64>> for Value<'_> {
    fn from(v: Option<i64>) -> Self {
        Value::Int(v)
    }
}
impl From<f64> for Value<'_> {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}
impl From<bool> for Value<'_> {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl<'a> From<&'a str> for Value<'a> {
    fn from(v: &'a str) -> Self {
        Value::Text(Some(v))
    }
}
impl<'a> From<&'a String> for Value<'a> {
    fn from(v: &'a String) -> Self {
        Value::Text(Some(v))
    }
}
impl<'a> From<Option<&'a str>> for Value<'a> {
    fn from(v: Option<&'a str>) -> Self {
        Value::Text(v)
    }
}
impl<'a> From<&'a Option<String>> for Value<'a> {
    fn from(v: &'a Option<String>) -> Self {
        Value::Text(v.as_deref())
    }
}
impl<'a> From<&'a [u8]> for Value<'a> {
    fn from(v: &'a [u8]) -> Self {
        Value::Bytes(Some(v))
    }
}
impl<'a> From<Option<&'a [u8]>> for Value<'a> {
    fn from(v: Option<&'a [u8]>) -> Self {
        Value::Bytes(v)
    }
}
impl<'a> From<&'a Vec<u8>> for Value<'a> {
    fn from(v: &'a Vec<u8>) -> Self {
        Value::Bytes(Some(v))
    }
}

/// `args![a, b, …]`: a statement's parameters, each converted to a [`Value`].
macro_rules! args {
    ($($value:expr),* $(,)?) => {
        &[$($crate::db::Value::from($value)),*]
    };
}
pub(crate) use args;

impl rusqlite::ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value as V, ValueRef};
        Ok(match *self {
            Value::Int(Some(v)) => ToSqlOutput::Owned(V::Integer(v)),
            Value::Int(None) | Value::Text(None) | Value::Bytes(None) => ToSqlOutput::Owned(V::Null),
            Value::Float(v) => ToSqlOutput::Owned(V::Real(v)),
            Value::Bool(v) => ToSqlOutput::Owned(V::Integer(i64::from(v))),
            Value::Text(Some(v)) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
            Value::Bytes(Some(v)) => ToSqlOutput::Borrowed(ValueRef::Blob(v)),
        })
    }
}

/// A column type both backends decode.
pub trait Column:
    rusqlite::types::FromSql + for<'r> sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>
{
}
impl<T> Column for T where
    T: rusqlite::types::FromSql + for<'r> sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>
{
}

/// A result row of either backend.
pub enum Row<'r, 's> {
    Sqlite(&'r rusqlite::Row<'s>),
    Postgres(&'r PgRow),
}

impl Row<'_, '_> {
    /// Column `index` (from 0) as `T`.
    pub fn get<T: Column>(&self, index: usize) -> Result<T> {
        match self {
            Row::Sqlite(row) => Ok(row.get(index)?),
            Row::Postgres(row) => row.try_get(index).map_err(StoreError::from),
        }
    }
}

/// A PostgreSQL connection used from a blocking thread (opaque outside the store).
pub struct PgLink {
    pub(crate) conn: RefCell<sqlx::pool::PoolConnection<Postgres>>,
    pub(crate) runtime: Handle,
}

impl PgLink {
    pub(crate) fn new(conn: sqlx::pool::PoolConnection<Postgres>, runtime: Handle) -> Self {
        PgLink { conn: RefCell::new(conn), runtime }
    }

    /// Runs a statement without parameters or results (BEGIN, COMMIT, …), unprepared.
    pub(crate) fn simple(&self, sql: &str) -> Result<()> {
        let mut conn = self.conn.try_borrow_mut().map_err(|_| busy())?;
        let conn: &mut PgConnection = &mut conn;
        self.runtime.block_on(sqlx::raw_sql(sql).execute(conn))?;
        Ok(())
    }

    fn rows(&self, sql: &str, params: &[Value<'_>]) -> Result<Vec<PgRow>> {
        let sql = postgres_sql(sql);
        let mut conn = self.conn.try_borrow_mut().map_err(|_| busy())?;
        let conn: &mut PgConnection = &mut conn;
        let query = bind_all(sqlx::query(&sql), params);
        Ok(self.runtime.block_on(query.fetch_all(conn))?)
    }

    fn execute(&self, sql: &str, params: &[Value<'_>]) -> Result<u64> {
        let sql = postgres_sql(sql);
        let mut conn = self.conn.try_borrow_mut().map_err(|_| busy())?;
        let conn: &mut PgConnection = &mut conn;
        let query = bind_all(sqlx::query(&sql), params);
        Ok(self.runtime.block_on(query.execute(conn))?.rows_affected())
    }
}

fn busy() -> StoreError {
    StoreError::Database("a statement ran inside another statement's row callback".into())
}

fn bind_all<'q>(
    mut query: sqlx::query::Query<'q, Postgres, PgArguments>,
    params: &[Value<'q>],
) -> sqlx::query::Query<'q, Postgres, PgArguments> {
    for value in params {
        query = match *value {
            Value::Int(v) => query.bind(v),
            Value::Float(v) => query.bind(v),
            Value::Bool(v) => query.bind(v),
            // PostgreSQL's text cannot hold U+0000 (SQLite's can): the character becomes U+FFFD
            // rather than failing the whole statement.
            Value::Text(Some(v)) if v.contains('\0') => query.bind(v.replace('\0', "\u{FFFD}")),
            Value::Text(v) => query.bind(v),
            Value::Bytes(v) => query.bind(v),
        };
    }
    query
}

/// `?N` → `$N`. Roost's SQL has no `?` anywhere else (no string literals containing one).
pub(crate) fn postgres_sql(sql: &str) -> Cow<'_, str> {
    if !sql.contains('?') {
        return Cow::Borrowed(sql);
    }
    Cow::Owned(sql.replace('?', "$"))
}

/// A connection of either backend, for one read or one write job.
#[derive(Clone, Copy)]
pub enum Db<'c> {
    /// A read connection.
    Sqlite(&'c rusqlite::Connection),
    /// The writer's connection, inside a batch's transaction. Once SQLite has dropped that
    /// transaction (it may, on a full disk or an I/O error) every statement is refused: run
    /// anyway, it would commit on its own, and a job that went on past the error would leave a
    /// half-applied change while the rest of its batch is rolled back.
    SqliteBatch(&'c rusqlite::Connection),
    Postgres(&'c PgLink),
}

/// The connection a statement runs on.
enum Target<'c> {
    Sqlite(&'c rusqlite::Connection),
    Postgres(&'c PgLink),
}

impl<'c> Db<'c> {
    pub fn is_postgres(&self) -> bool {
        matches!(self, Db::Postgres(_))
    }

    fn target(&self) -> Result<Target<'c>> {
        match *self {
            Db::Sqlite(conn) => Ok(Target::Sqlite(conn)),
            Db::SqliteBatch(conn) if conn.is_autocommit() => {
                Err(StoreError::Database("the write transaction was rolled back by SQLite".into()))
            }
            Db::SqliteBatch(conn) => Ok(Target::Sqlite(conn)),
            Db::Postgres(link) => Ok(Target::Postgres(link)),
        }
    }

    /// Runs `reads` in one snapshot of the database. A SQLite read connection otherwise takes a
    /// new snapshot for every statement; inside a write job, and on PostgreSQL (whose reads here
    /// are single statements), `reads` just runs.
    pub fn snapshot<T>(&self, reads: impl FnOnce() -> Result<T>) -> Result<T> {
        let Db::Sqlite(conn) = *self else { return reads() };
        if !conn.is_autocommit() {
            return reads();
        }
        conn.execute_batch("BEGIN")?;
        let out = reads();
        // Ended whatever happened: a pooled connection left inside a transaction would hold its
        // snapshot, and the log could never be checkpointed past it.
        let end = conn.execute_batch(if out.is_ok() { "COMMIT" } else { "ROLLBACK" });
        let out = out?;
        end?;
        Ok(out)
    }

    /// Every row the statement returns, each read by `read`.
    pub fn all<T>(
        &self,
        sql: &str,
        params: &[Value<'_>],
        mut read: impl FnMut(&Row<'_, '_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        match self.target()? {
            Target::Sqlite(conn) => {
                let mut stmt = conn.prepare_cached(sql)?;
                let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
                let mut out = Vec::new();
                while let Some(row) = rows.next()? {
                    out.push(read(&Row::Sqlite(row))?);
                }
                Ok(out)
            }
            Target::Postgres(link) => {
                link.rows(sql, params)?.iter().map(|row| read(&Row::Postgres(row))).collect()
            }
        }
    }

    /// The first row the statement returns, if any.
    pub fn opt<T>(
        &self,
        sql: &str,
        params: &[Value<'_>],
        read: impl FnOnce(&Row<'_, '_>) -> Result<T>,
    ) -> Result<Option<T>> {
        match self.target()? {
            Target::Sqlite(conn) => {
                let mut stmt = conn.prepare_cached(sql)?;
                let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
                match rows.next()? {
                    Some(row) => Ok(Some(read(&Row::Sqlite(row))?)),
                    None => Ok(None),
                }
            }
            Target::Postgres(link) => match link.rows(sql, params)?.first() {
                Some(row) => Ok(Some(read(&Row::Postgres(row))?)),
                None => Ok(None),
            },
        }
    }

    /// The first row's first column, if there is a row.
    pub fn value<T: Column>(&self, sql: &str, params: &[Value<'_>]) -> Result<Option<T>> {
        self.opt(sql, params, |row| row.get(0))
    }

    /// The first row's first column; a missing row is an error.
    pub fn one<T: Column>(&self, sql: &str, params: &[Value<'_>]) -> Result<T> {
        self.value(sql, params)?.ok_or_else(|| StoreError::Database(format!("no row for: {sql}")))
    }

    /// Runs a statement; returns how many rows it changed.
    pub fn execute(&self, sql: &str, params: &[Value<'_>]) -> Result<usize> {
        match self.target()? {
            Target::Sqlite(conn) => {
                Ok(conn.prepare_cached(sql)?.execute(rusqlite::params_from_iter(params))?)
            }
            Target::Postgres(link) => Ok(link.execute(sql, params)? as usize),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn placeholders_become_dollars() {
        assert_eq!(postgres_sql("SELECT 1"), "SELECT 1");
        assert_eq!(
            postgres_sql("UPDATE t SET a = ?2 WHERE b = ?1 AND c = ?12"),
            "UPDATE t SET a = $2 WHERE b = $1 AND c = $12"
        );
    }
}
