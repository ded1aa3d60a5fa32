//! Versioned schema migrations, embedded in the binary and applied at start.

use rusqlite::Connection;

use crate::{Result, unix_now};

/// SQLite migrations, in order. A file is never edited once released: add a new one.
const SQLITE: &[(i64, &str)] = &[
    (1, include_str!("../migrations/sqlite/0001_init.sql")),
    (2, include_str!("../migrations/sqlite/0002_webhooks.sql")),
    (3, include_str!("../migrations/sqlite/0003_rich_messaging.sql")),
];

/// Applies every migration newer than the database's version, each in its own transaction.
pub(crate) fn run(conn: &mut Connection) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version    BIGINT PRIMARY KEY,
            applied_at BIGINT NOT NULL
        )",
    )?;
    for &(version, sql) in SQLITE {
        // Checked inside the write lock: another process (a `roost admin` command beside the
        // server) may have applied it since we looked.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let applied: bool = tx.query_row(
            "SELECT COUNT(*) > 0 FROM schema_migrations WHERE version = ?1",
            [version],
            |row| row.get(0),
        )?;
        if applied {
            continue;
        }
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
            (version, unix_now()),
        )?;
        tx.commit()?;
        tracing::info!(version, "applied schema migration");
    }
    Ok(())
}
