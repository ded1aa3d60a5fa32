//! Roost's store.
//!
//! All state lives here: people, bots, sessions, chats, messages, each bot's update queue and each
//! person's event stream. The store offers *typed* operations (no SQL leaves this crate) and two ways
//! to run them:
//!
//! - [`Store::read`] runs a closure over a [`Reader`] on one of a small pool of read connections
//!   (WAL lets them run beside the writer).
//! - [`Store::write`] runs a closure over a [`Writer`] inside a transaction on the single writer
//!   thread. The writer commits whatever jobs are waiting as one transaction (group commit); each job
//!   runs in its own savepoint, so a job that fails leaves no trace while its neighbours commit. A
//!   job's result is handed back only after the commit, so an acknowledged change survives `kill -9`.
//!
//! Closures are synchronous on purpose: the SQLite work is CPU-bound and short, and keeping it off
//! the async runtime (one writer thread, readers on the blocking pool) means no request ever holds
//! a database connection across an `.await`.

mod cache;
pub mod db;
mod ids;
mod migrate;
mod now_and_then;
mod postgres;
mod queries;
#[cfg(test)]
mod testing;
mod writer;
mod writes;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::{Semaphore, oneshot};

pub use ids::{ChatKey, MessageId, UpdateId, UserId};
pub use now_and_then::NowAndThen;
pub use queries::{
    ApiKeyRow, BotErrorRow, BotRow, CallbackRow, ChatListRow, ChatRow, Happened, MessageRow, NewMessage,
    NewUser, Queries, Reader, SessionRow, StoredEvent, StoredUpdate, UserRow, WebhookRow, WebhookSettings,
};
pub use writer::{Effect, OnCommit, Writer};
pub use writes::{BOT_ERRORS_KEPT, BotSettings, NewSession, RateBuckets};

/// A failure of the store itself (as opposed to a rule of the messenger).
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(String),
    #[error("corrupt stored JSON: {0}")]
    Json(String),
    #[error("the store is closed")]
    Closed,
    /// The disk (or the configured database size) is full: nothing more can be written until
    /// space is freed. Reads still work.
    #[error("the database or its disk is full")]
    Full,
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DiskFull) => {
                // SQLite may roll the whole transaction back on a full disk: the writer then
                // fails the rest of the batch, and says why with this (see `writer.rs`).
                FULL_ON_THIS_THREAD.set(true);
                StoreError::Full
            }
            _ => StoreError::Database(e.to_string()),
        }
    }
}

/// Whether the calling thread is the SQLite writer's: work that must stay off the single writer
/// (rendering updates) checks it.
pub fn on_writer_thread() -> bool {
    std::thread::current().name() == Some(writer::THREAD_NAME)
}

thread_local! {
    /// Whether a statement on this thread failed on a full disk since the flag was last taken.
    pub(crate) static FULL_ON_THIS_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Json(e.to_string())
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Creates the database's directory with `dir_mode` if it is missing, and the database file with
/// `file_mode` before SQLite does (SQLite would create it world-readable, under the usual umask);
/// an existing database and log are brought to `file_mode`. A directory that exists already is
/// left as it is: it may be the operator's own (`--data .`).
pub fn protect_files(path: &Path, dir_mode: u32, file_mode: u32) -> Result<()> {
    let fail = |what: &Path, e: std::io::Error| {
        StoreError::Database(format!("cannot create {}: {e}", what.display()))
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, dir_mode);
        builder.create(dir).map_err(|e| fail(dir, e))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.create(true).truncate(false).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, file_mode);
    options.open(path).map_err(|e| fail(path, e))?;
    #[cfg(unix)]
    for suffix in ["", "-wal", "-shm"] {
        use std::os::unix::fs::PermissionsExt;
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(file_mode)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(StoreError::Database(format!(
                    "cannot set the permissions of {}: {e}",
                    Path::new(&file).display()
                )));
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (dir_mode, file_mode);
    Ok(())
}

/// How durable a commit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous=NORMAL` in WAL mode: a commit survives a crash of the process (`kill -9`), the
    /// last commits may be lost on power failure. The default, as in most SQLite-backed servers.
    #[default]
    Process,
    /// `synchronous=FULL`: every commit is fsynced and survives power failure too.
    Power,
}

/// Options for [`Store::open`].
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub durability: Durability,
    /// Number of read connections.
    pub readers: usize,
    /// Most jobs committed in one transaction.
    pub max_batch: usize,
    /// PostgreSQL: connections in this instance's pool (reads and writes together).
    pub postgres_connections: u32,
    /// SQLite: WAL pages after which the writer restarts the log ([`WAL_RESTART_PAGES`]).
    pub wal_restart_pages: i64,
    /// SQLite: the largest the database may grow, in pages of 4 KiB (`None`: as large as the disk
    /// allows). Past it writes fail as on a full disk.
    pub max_pages: Option<i64>,
    /// SQLite: permissions of the database's directory when the store creates it.
    pub dir_mode: u32,
    /// SQLite: permissions of the database and its `-wal` and `-shm` files (SQLite gives the
    /// last two the database file's own).
    pub file_mode: u32,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            durability: Durability::Process,
            readers: 4,
            max_batch: 512,
            postgres_connections: 16,
            wal_restart_pages: WAL_RESTART_PAGES,
            max_pages: None,
            dir_mode: 0o700,
            file_mode: 0o600,
        }
    }
}

/// A handle to the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

enum Inner {
    Sqlite(SqliteStore),
    Postgres(postgres::PgStore),
}

struct SqliteStore {
    writer: writer::WriterHandle,
    readers: ReaderPool,
    /// Cleared when the store closes or is dropped: the checkpoint thread ends.
    checkpointing: Arc<AtomicBool>,
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.checkpointing.store(false, Ordering::Relaxed);
    }
}

/// Whether a database URL names PostgreSQL.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Whether the database a URL names holds Roost's schema already (a SQLite file that exists; a
/// PostgreSQL database Roost has migrated). The operator's commands refuse to make a new empty
/// database by mistake.
pub async fn database_exists(url: &str) -> Result<bool> {
    if is_postgres_url(url) {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(url).await?;
        let exists: bool = sqlx::query_scalar("SELECT to_regclass('schema_migrations') IS NOT NULL")
            .fetch_one(&mut conn)
            .await?;
        let _ = conn.close().await;
        return Ok(exists);
    }
    Ok(sqlite_path(url)?.exists())
}

/// Where a SQLite database lives, from a `sqlite://path` URL or a plain path.
pub fn sqlite_path(url: &str) -> Result<PathBuf> {
    let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
    let path = path.split('?').next().unwrap_or(path);
    if path.is_empty() {
        return Err(StoreError::Database(format!("not a SQLite database URL: {url}")));
    }
    Ok(PathBuf::from(path))
}

impl Store {
    /// Opens the database a URL names: `postgres://…` (or `postgresql://…`) connects to PostgreSQL,
    /// anything else is a SQLite database (see [`sqlite_path`]). Either way the schema is migrated
    /// to this build's version first.
    pub async fn connect(url: &str, options: StoreOptions, on_commit: OnCommit) -> Result<Store> {
        if is_postgres_url(url) {
            let store = postgres::PgStore::connect(url, &options, on_commit).await?;
            return Ok(Store { inner: Arc::new(Inner::Postgres(store)) });
        }
        let path = sqlite_path(url)?;
        tokio::task::spawn_blocking(move || Store::open(&path, options, on_commit))
            .await
            .map_err(|e| StoreError::Database(format!("cannot open the store: {e}")))?
    }

    /// Whether other instances may share this store (PostgreSQL): then nothing that matters may
    /// be kept only in this process's memory.
    pub fn is_shared(&self) -> bool {
        matches!(*self.inner, Inner::Postgres(_))
    }

    /// Opens (creating if needed) and migrates the SQLite database at `path`, and starts the writer.
    ///
    /// `on_commit` is called on the writer thread after each commit with the effects of the jobs in
    /// it (which bots have new updates, which people have new events); it must not block.
    pub fn open(path: &Path, options: StoreOptions, on_commit: OnCommit) -> Result<Store> {
        protect_files(path, options.dir_mode, options.file_mode)?;
        let mut conn = open_connection(path, options.durability, false)?;
        migrate::run(&mut conn)?;
        // Checkpoints copy the WAL into the database and fsync it: tens of milliseconds on an
        // ordinary disk. Run inside a commit they stall every waiting request, so the writer
        // never checkpoints; a thread of its own does, passively, beside it.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        // When a reset WAL is truncated back to this size, so one burst does not keep a huge file.
        conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
        if let Some(pages) = options.max_pages {
            conn.pragma_update(None, "max_page_count", pages)?;
        }
        let checkpointing = Arc::new(AtomicBool::new(true));
        let restart_wal = Arc::new(AtomicBool::new(false));
        let writer = writer::spawn(conn, options.max_batch, on_commit, Arc::clone(&restart_wal))?;
        let looks = writer.sender.clone();
        spawn_checkpointer(
            path,
            options.durability,
            options.wal_restart_pages,
            Arc::clone(&checkpointing),
            restart_wal,
            move || {
                let _ = looks.send(writer::Command::Look);
            },
        )?;
        let mut pool = Vec::with_capacity(options.readers);
        for _ in 0..options.readers.max(1) {
            pool.push(open_connection(path, options.durability, true)?);
        }
        Ok(Store {
            inner: Arc::new(Inner::Sqlite(SqliteStore {
                checkpointing,
                writer,
                readers: ReaderPool { permits: Semaphore::new(pool.len()), connections: Mutex::new(pool) },
            })),
        })
    }

    /// Runs `job` in the next group-commit transaction and returns its result once that
    /// transaction has committed. If `job` fails, everything it wrote is rolled back and its error
    /// returned; other jobs of the same transaction are unaffected.
    pub async fn write<T, E, F>(&self, job: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut Writer<'_>) -> Result<T, E> + Send + 'static,
    {
        self.write_guarded(writer::Guard::Savepoint, job).await
    }

    /// As [`Store::write`], for a job that makes every check that can fail before its first
    /// write: on SQLite it runs without a savepoint of its own. Should it fail after writing
    /// anyway (an I/O error, a bug), nothing of it is kept either: its whole batch is rolled back
    /// and every job in the batch fails.
    pub async fn write_checks_first<T, E, F>(&self, job: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut Writer<'_>) -> Result<T, E> + Send + 'static,
    {
        self.write_guarded(writer::Guard::ChecksFirst, job).await
    }

    pub(crate) async fn write_guarded<T, E, F>(&self, guard: writer::Guard, job: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut Writer<'_>) -> Result<T, E> + Send + 'static,
    {
        match &*self.inner {
            Inner::Sqlite(sqlite) => sqlite.writer.submit(guard, job).await,
            Inner::Postgres(pg) => pg.write(job).await,
        }
    }

    /// Runs `query` on a read connection, on tokio's blocking pool. For anything that may read
    /// many rows; a lookup of a few rows by key is cheaper with [`Store::lookup`].
    pub async fn read<T, E, F>(&self, query: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&Reader<'_>) -> Result<T, E> + Send + 'static,
    {
        let sqlite = match &*self.inner {
            Inner::Sqlite(sqlite) => sqlite,
            Inner::Postgres(pg) => return pg.read(query).await,
        };
        let _permit = sqlite.readers.permits.acquire().await.map_err(|_| StoreError::Closed)?;
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || match &*inner {
            Inner::Sqlite(sqlite) => sqlite.readers.run(query),
            Inner::Postgres(_) => Err(E::from(StoreError::Closed)),
        })
        .await
        .map_err(|e| StoreError::Database(format!("reader task failed: {e}")))?
    }

    /// Runs a short read (a few rows found by key, or a bounded handful) at once, on the calling
    /// task's thread, when a read connection is free; otherwise, and on PostgreSQL, as
    /// [`Store::read`].
    ///
    /// Handing a query to the blocking pool costs two thread switches, more than a lookup by key
    /// itself: answered that way, a getMe cost the server about twice the CPU of a sendMessage.
    /// Readers of a WAL database do not wait for the writer, so this holds the thread for the
    /// query alone. Whatever may read many rows goes through `read`.
    pub async fn lookup<T, E, F>(&self, query: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&Reader<'_>) -> Result<T, E> + Send + 'static,
    {
        if let Inner::Sqlite(sqlite) = &*self.inner
            && let Ok(_permit) = sqlite.readers.permits.try_acquire()
        {
            return sqlite.readers.run(query);
        }
        self.read(query).await
    }

    /// Announces effects to the other instances sharing this store (nothing to do alone): for
    /// what is decided in memory but concerns every instance, such as a getUpdates call beginning.
    pub async fn tell_others(&self, effects: Vec<Effect>) -> Result<()> {
        match &*self.inner {
            Inner::Sqlite(_) => Ok(()),
            Inner::Postgres(pg) => pg.tell_others(effects).await,
        }
    }

    /// Finishes the jobs already submitted, commits them and stops the writer thread.
    pub async fn close(&self) {
        match &*self.inner {
            Inner::Sqlite(sqlite) => {
                sqlite.checkpointing.store(false, Ordering::Relaxed);
                let (done, wait) = oneshot::channel();
                if sqlite.writer.shutdown(done) {
                    let _ = wait.await;
                }
            }
            Inner::Postgres(pg) => pg.close().await,
        }
    }
}

struct ReaderPool {
    /// Bounds concurrent readers to the number of connections, so `take` never comes back empty.
    permits: Semaphore,
    /// std Mutex, not tokio's: it is held only to push or pop a connection, never across `.await`.
    connections: Mutex<Vec<Connection>>,
}

impl ReaderPool {
    fn take(&self) -> Option<Connection> {
        self.connections.lock().ok()?.pop()
    }

    fn give_back(&self, conn: Connection) {
        if let Ok(mut pool) = self.connections.lock() {
            pool.push(conn);
        }
    }

    /// Runs `query` on a connection of the pool (the caller holds a permit). A panicking query
    /// is an error, and its connection goes back to the pool either way, out of any transaction
    /// the query left open ([`db::Db::snapshot`]): one that kept its snapshot would stop every
    /// checkpoint from getting past it.
    fn run<T, E: From<StoreError>>(&self, query: impl FnOnce(&Reader<'_>) -> Result<T, E>) -> Result<T, E> {
        let conn = self.take().ok_or(StoreError::Closed)?;
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            query(&Reader::new(db::Db::Sqlite(&conn)))
        }));
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        self.give_back(conn);
        result.unwrap_or_else(|_| Err(E::from(StoreError::Database("a read query panicked".into()))))
    }
}

/// How often the background checkpointer runs. Often, so that each passive checkpoint has little
/// to copy and often catches up with the writer completely: the next write transaction then starts
/// the log over by itself, with no work in the writer.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);
/// Every this many checkpoint ticks (a second) the writer looks whether another process
/// changed the database (see `writer::look_outside`).
const LOOK_EVERY_TICKS: u32 = 10;

/// WAL pages after which the writer restarts the log itself (about 64 MB): under sustained writes
/// a passive checkpoint never catches up with the writer, and the log would grow for good.
///
/// Each restart stops every write for a moment (see [`CATCH_UP_PASSES`]), so restarts should be
/// rare; but not too rare. The log is rewritten from its start after each restart, and a frame
/// (page plus a 24-byte header) never lines up with the file system's blocks, so rewriting a block
/// the kernel has dropped from its cache means reading it back first, in the writer, on the path
/// of every waiting request: the log should stay in the page cache. At 4,000 pages `send`
/// restarted the log eight times a second, ~6% of its time; at 40,000 pages `deliver`'s p99.9 rose
/// from ~2 to ~25 ms; at 16,000 it stayed at ~2–3 ms (docs/performance.md). The log also stays
/// below `journal_size_limit` ([`WAL_SIZE_LIMIT`]), so a restart never truncates the file
/// (freeing blocks, which on a disk mounted with `discard` waits for the device).
const WAL_RESTART_PAGES: i64 = 16_000;

/// What a reset log is cut back to (`journal_size_limit`): well above what the default
/// [`WAL_RESTART_PAGES`] and one checkpoint interval of writes let the log reach, so normally it
/// never is; it bounds the file after a burst the checkpointer could not keep up with.
const WAL_SIZE_LIMIT: i64 = 256 * 1024 * 1024;

/// Passive checkpoints run back to back, at most, before the writer is asked to restart the log.
///
/// The writer's `wal_checkpoint(RESTART)` stops every write until it has copied what is left of
/// the log into the database and flushed both files. Each pass here copies what came in during
/// the one before, so the writer finds little left to copy (its restart under `send`: median 7.1
/// → 5.4 ms). Flushing the database file is left to it: only a pass that copies everything
/// flushes it, and under sustained writes none does; flushing it from here through a file of our
/// own would be faster still, but closing any descriptor of the database file drops every POSIX
/// lock this process holds on it, SQLite's included.
const CATCH_UP_PASSES: usize = 3;

/// Starts the thread that checkpoints the WAL, until the store closes. When the log has grown past
/// `restart_at` pages it catches up with the writer and then asks it (`restart_wal`) to
/// checkpoint and restart the log between two batches.
fn spawn_checkpointer(
    path: &Path,
    durability: Durability,
    restart_at: i64,
    running: Arc<AtomicBool>,
    restart_wal: Arc<AtomicBool>,
    look: impl Fn() + Send + 'static,
) -> Result<()> {
    let conn = open_connection(path, durability, false)?;
    // PASSIVE: copy what can be copied without waiting for the writer or readers. The row is
    // (busy, pages in the log, pages checkpointed).
    let passive = move || -> rusqlite::Result<(i64, i64)> {
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| Ok((r.get(1)?, r.get(2)?)))
    };
    // A full disk fails every checkpoint: say so once a minute, not ten times a second.
    let failed = NowAndThen::new(Duration::from_secs(60));
    let warn = move |e: rusqlite::Error| {
        if let Some(held_back) = failed.check() {
            tracing::warn!(error = %e, failed_since_last_line = held_back, "WAL checkpoint failed");
        }
    };
    std::thread::Builder::new()
        .name("roost-checkpoint".into())
        .spawn(move || {
            let mut ticks = 0_u32;
            while running.load(Ordering::Relaxed) {
                std::thread::sleep(CHECKPOINT_EVERY);
                ticks = ticks.wrapping_add(1);
                if ticks.is_multiple_of(LOOK_EVERY_TICKS) {
                    look();
                }
                match passive() {
                    Ok((log_pages, _)) if log_pages > restart_at => {
                        for _ in 0..CATCH_UP_PASSES {
                            match passive() {
                                Ok((log_pages, copied)) if copied < log_pages => {}
                                Ok(_) => break,
                                Err(e) => {
                                    warn(e);
                                    break;
                                }
                            }
                        }
                        restart_wal.store(true, Ordering::Relaxed)
                    }
                    Ok(_) => {}
                    Err(e) => warn(e),
                }
            }
        })
        .map_err(|e| StoreError::Database(format!("cannot start the checkpoint thread: {e}")))?;
    Ok(())
}

fn open_connection(path: &Path, durability: Durability, read_only: bool) -> Result<Connection> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    if !read_only {
        conn.pragma_update(None, "journal_mode", "WAL")?;
    }
    let synchronous = match durability {
        Durability::Process => "NORMAL",
        Durability::Power => "FULL",
    };
    conn.pragma_update(None, "synchronous", synchronous)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // The bundled SQLite is built with STAT4, which lets the planner re-plan a statement whenever a
    // bound value might change its estimate: a cached statement was then parsed and planned again
    // on every run (the chat-members lookup of every sendMessage, about a fifth of the writer's
    // time). Plans here do not depend on values; keep each statement's first plan.
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    conn.set_prepared_statement_cache_capacity(256);
    Ok(conn)
}

/// The current Unix time in seconds.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cached statement runs again without being parsed and planned again, whatever its values.
    #[test]
    fn cached_statements_are_not_prepared_again() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("t.db");
        let mut conn = open_connection(&path, Durability::Process, false).unwrap_or_else(|e| panic!("{e}"));
        migrate::run(&mut conn).unwrap_or_else(|e| panic!("{e}"));
        let sql =
            "SELECT user_id, has_written FROM chat_members WHERE chat_id = ?1 ORDER BY joined_at, user_id";
        for chat in 1..=5_i64 {
            let mut stmt = conn.prepare_cached(sql).unwrap_or_else(|e| panic!("{e}"));
            let mut rows = stmt.query([chat]).unwrap_or_else(|e| panic!("{e}"));
            while let Ok(Some(_)) = rows.next() {}
            drop(rows);
            assert_eq!(stmt.get_status(rusqlite::StatementStatus::RePrepare), 0, "run {chat}");
        }
    }

    /// A store with a single read connection.
    fn one_reader_store(dir: &std::path::Path) -> Store {
        let options = StoreOptions { readers: 1, ..StoreOptions::default() };
        Store::open(&dir.join("t.db"), options, Arc::new(|_: &[Effect]| {})).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A read that panics inside a snapshot gives its connection back out of the transaction: the
    /// next read on it sees what was committed since.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_read_that_panics_in_a_snapshot_leaves_no_transaction_open() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = one_reader_store(dir.path());
        store.write(|w| w.insert_user(&testing::person("ann"))).await.unwrap_or_else(|e| panic!("{e}"));
        let panicked = store
            .read(|r| {
                r.db().snapshot(|| {
                    r.user_by_username("ann")?;
                    panic!("a read that panics");
                })
            })
            .await;
        assert!(matches!(panicked, Err::<(), _>(StoreError::Database(_))));
        store.write(|w| w.insert_user(&testing::person("bob"))).await.unwrap_or_else(|e| panic!("{e}"));
        let bob = store.read(|r| r.user_by_username("bob")).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(bob.is_some(), "the only read connection still holds its old snapshot");
        store.close().await;
    }

    /// A lookup runs on the caller's thread while a reader is free, waits its turn like a read
    /// when none is, and a panicking query gives its connection back.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lookups_run_in_place_and_queue_when_readers_are_busy() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = one_reader_store(dir.path());
        let id =
            store.write(|w| w.insert_user(&testing::person("ann"))).await.unwrap_or_else(|e| panic!("{e}"));
        let caller = std::thread::current().id();
        let (found, thread) = store
            .lookup(move |r| Ok::<_, StoreError>((r.user(id)?.map(|u| u.id), std::thread::current().id())))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((found, thread), (Some(id), caller));

        // A read holds the only connection until told to go.
        let (go, wait) = std::sync::mpsc::channel::<()>();
        let (held, holding) = oneshot::channel();
        let reading = {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .read(move |_| {
                        let _ = held.send(());
                        wait.recv().map_err(|e| StoreError::Database(e.to_string()))
                    })
                    .await
            })
        };
        holding.await.unwrap_or_else(|e| panic!("{e}"));
        let looking = {
            let store = store.clone();
            tokio::spawn(async move { store.lookup(move |r| r.user(id).map(|u| u.map(|u| u.id))).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!looking.is_finished(), "the lookup waits for a free connection");
        go.send(()).unwrap_or_else(|e| panic!("{e}"));
        assert!(reading.await.unwrap_or_else(|e| panic!("{e}")).is_ok());
        assert_eq!(looking.await.unwrap_or_else(|e| panic!("{e}")).ok(), Some(Some(id)));

        let panicked = store.lookup(|_| -> Result<()> { panic!("a broken query") }).await;
        assert!(panicked.is_err());
        assert_eq!(store.lookup(move |r| r.user(id).map(|u| u.is_some())).await.ok(), Some(true));
        store.close().await;
    }

    /// A new database at `path` with pages of `page_size` bytes and one table `t`, opened as the
    /// store opens its writer (WAL), with automatic checkpoints off so the log keeps every commit.
    fn wal_table(path: &Path, page_size: i64) -> Connection {
        // The page size holds only if set before the file has any content, so the table is created
        // by this first connection, before the store's settings switch to WAL.
        let conn = Connection::open(path).unwrap_or_else(|e| panic!("{e}"));
        conn.pragma_update(None, "page_size", page_size).unwrap_or_else(|e| panic!("{e}"));
        conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, data BLOB NOT NULL)")
            .unwrap_or_else(|e| panic!("{e}"));
        drop(conn);
        let conn = open_connection(path, Durability::Process, false).unwrap_or_else(|e| panic!("{e}"));
        conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap_or_else(|e| panic!("{e}"));
        let actual: i64 =
            conn.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(actual, page_size);
        conn
    }

    /// Commits `rows` rows of `size` bytes each in one transaction.
    fn commit_rows(conn: &Connection, first: i64, rows: i64, size: usize) {
        let tx = conn.unchecked_transaction().unwrap_or_else(|e| panic!("{e}"));
        for id in first..first + rows {
            let blob = vec![(id % 251) as u8; size];
            tx.execute("INSERT INTO t (id, data) VALUES (?1, ?2)", rusqlite::params![id, blob])
                .unwrap_or_else(|e| panic!("{e}"));
        }
        tx.commit().unwrap_or_else(|e| panic!("{e}"));
    }

    /// Rows, bytes and the integrity check of the database at `path`, read by a new connection.
    fn contents(path: &Path) -> (i64, i64, String) {
        let conn = open_connection(path, Durability::Process, false).unwrap_or_else(|e| panic!("{e}"));
        let (rows, bytes) = conn
            .query_row("SELECT COUNT(*), COALESCE(SUM(length(data)), 0) FROM t", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap_or_else(|e| panic!("{e}"));
        let check: String =
            conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap_or_else(|e| panic!("{e}"));
        (rows, bytes, check)
    }

    /// What a crash leaves is enough: a second connection reads every commit, and a copy of the
    /// files taken before any checkpoint recovers every row from the log alone. Commits of one
    /// frame, of a few hundred KiB, of many, and with 1 KiB to 64 KiB pages.
    #[test]
    fn the_wal_keeps_every_commit() {
        for (page_size, rows, size) in [
            (4096, 1, 100),
            (4096, 25, 3000),
            (4096, 31, 3000),
            (4096, 400, 3000),
            (1024, 300, 900),
            (65536, 40, 60_000),
        ] {
            let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
            let path = dir.path().join("t.db");
            let conn = wal_table(&path, page_size);
            let reader = open_connection(&path, Durability::Process, true).unwrap_or_else(|e| panic!("{e}"));
            for round in 0..3 {
                commit_rows(&conn, round * rows, rows, size);
                let seen: i64 = reader
                    .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
                    .unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(seen, (round + 1) * rows, "page size {page_size}, {rows} rows, round {round}");
            }
            // What a crash leaves: the database file and the log, never checkpointed.
            let crashed = dir.path().join("crashed");
            std::fs::create_dir(&crashed).unwrap_or_else(|e| panic!("{e}"));
            for name in ["t.db", "t.db-wal"] {
                std::fs::copy(dir.path().join(name), crashed.join(name)).unwrap_or_else(|e| panic!("{e}"));
            }
            let expected = (3 * rows, 3 * rows * size as i64, "ok".to_owned());
            assert_eq!(contents(&crashed.join("t.db")), expected, "page size {page_size}, {rows} rows");
            drop((conn, reader));
            assert_eq!(contents(&path), expected, "page size {page_size}, {rows} rows, reopened");
        }
    }

    /// Under sustained writes the log must not grow with everything ever written: a passive
    /// checkpoint that catches up lets SQLite start the log over at the next commit, and when none
    /// does the writer restarts it past `wal_restart_pages` (here 100 pages, 400 KB; which of the
    /// two happens depends on timing). Four tasks write 3 KB rows for two seconds; the log must
    /// stay below the data written all along (each row takes at least a 4 KB page of log, so
    /// without checkpoints it outgrows the data at once: 29 MB for 7 MB, tried).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sustained_writes_keep_the_log_small() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("t.db");
        let options = StoreOptions { wal_restart_pages: 100, ..StoreOptions::default() };
        let store =
            Store::open(&path, options, Arc::new(|_: &[Effect]| {})).unwrap_or_else(|e| panic!("{e}"));
        let wal = dir.path().join("t.db-wal");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        let mut writers = tokio::task::JoinSet::new();
        for task in 0..4 {
            let store = store.clone();
            writers.spawn(async move {
                let mut rows = 0_u64;
                while tokio::time::Instant::now() < deadline {
                    let username = format!("user_{task}_{rows}");
                    store
                        .write(move |w| {
                            let name = "n".repeat(3000);
                            w.insert_user(&NewUser { first_name: &name, ..crate::testing::person(&username) })
                        })
                        .await
                        .unwrap_or_else(|e: StoreError| panic!("{e}"));
                    rows += 1;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                rows
            });
        }
        let (mut largest, mut rows) = (0, 0);
        while !writers.is_empty() {
            if let Ok(meta) = std::fs::metadata(&wal) {
                largest = largest.max(meta.len());
            }
            tokio::select! {
                joined = writers.join_next() => {
                    rows += joined.map_or(0, |r| r.unwrap_or_else(|e| panic!("{e}")));
                }
                () = tokio::time::sleep(Duration::from_millis(5)) => {}
            }
        }
        let written = rows * 3000;
        assert!(largest > 64 * 1024, "the log stayed nearly empty: {largest} bytes");
        assert!(largest < written, "the log reached {largest} bytes for {written} bytes written");
        store.close().await;
    }
}
