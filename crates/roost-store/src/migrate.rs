//! Versioned schema migrations, embedded in the binary and applied at start.

use rusqlite::Connection;

use crate::{Result, unix_now};

/// SQLite migrations, in order. A file is never edited once released: add a new one.
const SQLITE: &[(i64, &str)] = &[
    (1, include_str!("../migrations/sqlite/0001_init.sql")),
    (2, include_str!("../migrations/sqlite/0002_webhooks.sql")),
    (3, include_str!("../migrations/sqlite/0003_rich_messaging.sql")),
    (4, include_str!("../migrations/sqlite/0004_scale_out.sql")),
    (5, include_str!("../migrations/sqlite/0005_counters.sql")),
    (6, include_str!("../migrations/sqlite/0006_expiry_in_insertion_order.sql")),
    (7, include_str!("../migrations/sqlite/0007_message_events_by_reference.sql")),
    (8, include_str!("../migrations/sqlite/0008_timeline.sql")),
    (9, include_str!("../migrations/sqlite/0009_sessions.sql")),
    (10, include_str!("../migrations/sqlite/0010_dialects.sql")),
    (11, include_str!("../migrations/sqlite/0011_bot_management.sql")),
];

/// PostgreSQL migrations: the same versions as [`SQLITE`], one file each.
const POSTGRES: &[(i64, &str)] = &[
    (1, include_str!("../migrations/postgres/0001_init.sql")),
    (2, include_str!("../migrations/postgres/0002_webhooks.sql")),
    (3, include_str!("../migrations/postgres/0003_rich_messaging.sql")),
    (4, include_str!("../migrations/postgres/0004_scale_out.sql")),
    (5, include_str!("../migrations/postgres/0005_counters.sql")),
    (6, include_str!("../migrations/postgres/0006_expiry_in_insertion_order.sql")),
    (7, include_str!("../migrations/postgres/0007_message_events_by_reference.sql")),
    (8, include_str!("../migrations/postgres/0008_timeline.sql")),
    (9, include_str!("../migrations/postgres/0009_sessions.sql")),
    (10, include_str!("../migrations/postgres/0010_dialects.sql")),
    (11, include_str!("../migrations/postgres/0011_bot_management.sql")),
];

/// Any number from this program, so that instances starting together migrate one at a time.
const MIGRATION_LOCK: i64 = 0x526f_6f73_744d_6967; // "RoostMig"

/// Applies every PostgreSQL migration newer than the database's version, each in its own
/// transaction, holding an advisory lock so that instances starting at once do not race.
pub(crate) async fn run_postgres(pool: &sqlx::PgPool) -> Result<()> {
    use sqlx::Acquire;
    let mut conn = pool.acquire().await?;
    sqlx::query("SELECT pg_advisory_lock($1)").bind(MIGRATION_LOCK).execute(&mut *conn).await?;
    let outcome = async {
        let exists: bool = sqlx::query_scalar("SELECT to_regclass('schema_migrations') IS NOT NULL")
            .fetch_one(&mut *conn)
            .await?;
        if !exists {
            sqlx::raw_sql(
                "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
            )
            .execute(&mut *conn)
            .await?;
        }
        for &(version, sql) in POSTGRES {
            let applied: bool =
                sqlx::query_scalar("SELECT COUNT(*) > 0 FROM schema_migrations WHERE version = $1")
                    .bind(version)
                    .fetch_one(&mut *conn)
                    .await?;
            if applied {
                continue;
            }
            let mut tx = conn.begin().await?;
            sqlx::raw_sql(sql).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
                .bind(version)
                .bind(unix_now())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            tracing::info!(version, "applied schema migration");
        }
        Ok::<_, crate::StoreError>(())
    }
    .await;
    sqlx::query("SELECT pg_advisory_unlock($1)").bind(MIGRATION_LOCK).execute(&mut *conn).await?;
    outcome
}

/// Applies every migration newer than the database's version, each in its own transaction.
pub(crate) fn run(conn: &mut Connection) -> Result<()> {
    run_through(conn, i64::MAX)
}

/// Applies the migrations up to `last` (tests build a database as an older release left it).
pub(crate) fn run_through(conn: &mut Connection, last: i64) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version    BIGINT PRIMARY KEY,
            applied_at BIGINT NOT NULL
        )",
    )?;
    for &(version, sql) in SQLITE.iter().take_while(|&&(version, _)| version <= last) {
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
