//! The single writer: one thread that owns the only write connection and commits in groups.
//!
//! SQLite allows one writer at a time. Instead of making requests queue for the write lock one
//! transaction each, every write is a job sent to this thread; the thread takes every job that is
//! waiting (up to `max_batch`), runs each inside its own savepoint of one transaction, commits once,
//! and only then hands each job its result. Throughput grows with load (one fsync serves many
//! requests) while each request still sees its own all-or-nothing change.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::cache::{self, Key, RowCache};
use crate::db::Db;
use crate::queries::{Queries, UserRow};
use crate::writes::{BEGIN, COMMIT};
use crate::{ChatKey, UpdateId, UserId};
use crate::{Result, StoreError};

/// The name of the SQLite writer's thread (see [`crate::on_writer_thread`]).
pub(crate) const THREAD_NAME: &str = "roost-writer";

/// Something other parts of the server must hear about once a transaction has committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// The bot's update queue now ends at `update_id`.
    BotUpdate { bot_id: UserId, update_id: UpdateId },
    /// The person's event stream now ends at `seq`.
    UserEvent { user_id: UserId, seq: i64 },
    /// The bot's webhook was set, changed or removed.
    WebhookChanged { bot_id: UserId },
    /// The bot's token was replaced, or the bot deleted: a cached token hash is stale.
    BotTokenChanged { bot_id: UserId },
    /// Sessions of the person ended (logout, ended elsewhere, a password reset, a deleted
    /// account): their event streams look at their session again.
    SessionsEnded { user_id: UserId },
    /// Notifications from other instances may have been lost (the listening connection dropped):
    /// every waiter should look at the store again.
    Resync,
    /// Another instance began a getUpdates call for this bot at `started_ms` (Unix ms): a call
    /// waiting here that began earlier is superseded. (Sent with
    /// [`Store::tell_others`](crate::Store::tell_others), never by a commit.)
    PollStarted { bot_id: UserId, started_ms: i64 },
}

/// Called on the writer thread after each commit with the effects of the jobs in it.
pub type OnCommit = Arc<dyn Fn(&[Effect]) + Send + Sync>;

/// The write side of the store, valid inside one job. It can also read (see [`Queries`]), and the
/// reads see the job's own writes.
pub struct Writer<'c> {
    db: Db<'c>,
    pub(crate) effects: Vec<Effect>,
    /// The SQLite writer's rows kept across jobs (see `cache.rs`); `None` on PostgreSQL.
    cache: Option<&'c RefCell<RowCache>>,
    /// A job's savepoint could not be closed, so its writes may still be in the transaction: the
    /// batch must not commit.
    poisoned: bool,
}

impl<'c> Writer<'c> {
    /// A writer that asks the database for every row (PostgreSQL, where others write too).
    pub(crate) fn new(db: Db<'c>) -> Self {
        Writer { db, effects: Vec::new(), cache: None, poisoned: false }
    }

    /// The single SQLite writer's: lookups go through `cache`.
    fn cached(db: Db<'c>, cache: &'c RefCell<RowCache>) -> Self {
        Writer { db, effects: Vec::new(), cache: Some(cache), poisoned: false }
    }

    /// The SQLite writer's kept rows and counters; `None` on PostgreSQL.
    pub(crate) fn cache(&self) -> Option<&'c RefCell<RowCache>> {
        self.cache
    }

    /// A write statement changed (or may have changed) this cached row.
    pub(crate) fn forget(&self, key: Key) {
        if let Some(cache) = self.cache {
            cache.borrow_mut().forget(key);
        }
    }

    fn begin_job(&self) {
        if let Some(cache) = self.cache {
            cache.borrow_mut().begin_job();
        }
    }

    fn job_failed(&self) {
        if let Some(cache) = self.cache {
            cache.borrow_mut().job_failed();
        }
    }

    /// Records an effect to announce after the commit. Dropped if the job fails.
    pub fn effect(&mut self, effect: Effect) {
        self.effects.push(effect);
    }
}

impl Queries for Writer<'_> {
    fn db(&self) -> Db<'_> {
        self.db
    }

    fn user(&self, id: UserId) -> Result<Option<UserRow>> {
        match self.cache {
            Some(cache) => cache::user(cache, self.db, id),
            None => crate::queries::user_by_id(self.db, id),
        }
    }

    fn private_chat(&self, a: UserId, b: UserId) -> Result<Option<ChatKey>> {
        match self.cache {
            Some(cache) => cache::private_chat(cache, self.db, a, b),
            None => crate::queries::private_chat_between(self.db, a, b),
        }
    }

    fn chat_members(&self, chat_id: ChatKey) -> Result<Vec<(UserId, bool)>> {
        match self.cache {
            Some(cache) => cache::members(cache, self.db, chat_id),
            None => crate::queries::members_of(self.db, chat_id),
        }
    }
}

/// Called after the commit with the commit's outcome; sends the job's result to its caller.
type Completion = Box<dyn FnOnce(Result<()>) + Send>;
type Job = Box<dyn FnOnce(&Connection, &mut Writer<'_>) -> Completion + Send>;

pub(crate) enum Command {
    Job(Job),
    Shutdown(oneshot::Sender<()>),
    /// Look whether another process (`roost admin`) changed the database; sent once a second.
    Look,
}

pub(crate) struct WriterHandle {
    pub(crate) sender: mpsc::UnboundedSender<Command>,
    /// Whether the last batch failed on a full disk: what a job dropped unrun from it answers.
    full: Arc<AtomicBool>,
}

/// How a job's writes are undone if it fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Guard {
    /// Its own savepoint, rolled back alone.
    Savepoint,
    /// None: the job makes every check that can fail before its first write. If it fails after
    /// writing anyway, the whole batch is rolled back and every job in it fails.
    ChecksFirst,
}

impl WriterHandle {
    pub(crate) async fn submit<T, E, F>(&self, guard: Guard, job: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut Writer<'_>) -> Result<T, E> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel::<Result<T, E>>();
        let job: Job = Box::new(move |conn: &Connection, writer: &mut Writer<'_>| -> Completion {
            let result = match guard {
                Guard::Savepoint => run_in_savepoint(conn, writer, job),
                Guard::ChecksFirst => run_checks_first(conn, writer, job),
            };
            match result {
                Ok(value) => Box::new(move |commit: Result<()>| {
                    let _ = reply.send(commit.map(|()| value).map_err(E::from));
                }),
                Err(error) => Box::new(move |_commit: Result<()>| {
                    let _ = reply.send(Err(error));
                }),
            }
        });
        self.sender.send(Command::Job(job)).map_err(|_| E::from(StoreError::Closed))?;
        answer.await.map_err(|_| {
            E::from(if self.sender.is_closed() {
                StoreError::Closed
            } else if self.full.load(Ordering::Acquire) {
                StoreError::Full
            } else {
                // The writer goes on but dropped the job unrun: its batch was being rolled back.
                StoreError::Database("the write was rolled back with its batch".into())
            })
        })?
    }

    /// Asks the writer to stop after the jobs already queued; false if it has stopped already.
    pub(crate) fn shutdown(&self, done: oneshot::Sender<()>) -> bool {
        self.sender.send(Command::Shutdown(done)).is_ok()
    }
}

/// Runs a savepoint or transaction statement through the statement cache: they run for every job
/// or batch, and parsing them each time showed up in profiles of the writer.
fn run_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}

/// Runs one job inside a savepoint: released on success, rolled back (with its effects) on failure.
fn run_in_savepoint<T, E, F>(conn: &Connection, writer: &mut Writer<'_>, job: F) -> Result<T, E>
where
    E: From<StoreError>,
    F: FnOnce(&mut Writer<'_>) -> Result<T, E>,
{
    let effects_before = writer.effects.len();
    run_cached(conn, "SAVEPOINT job").map_err(|e| E::from(e.into()))?;
    writer.begin_job();
    let result = run_caught(writer, job);
    let end = match result {
        Ok(_) => run_cached(conn, "RELEASE job"),
        Err(_) => run_cached(conn, "ROLLBACK TO job").and_then(|()| run_cached(conn, "RELEASE job")),
    };
    if result.is_err() || end.is_err() {
        writer.effects.truncate(effects_before);
        writer.job_failed();
    }
    match end {
        Ok(()) => result,
        // The savepoint could not be closed: the job's writes may still be in the transaction,
        // so the whole batch is rolled back (every job in it fails) rather than committed.
        Err(e) => {
            writer.poisoned = true;
            Err(E::from(e.into()))
        }
    }
}

/// Runs a job that checks before it writes, without a savepoint (copying every page it changes
/// into the savepoint journal was a tenth of the writer's time per message). A failure before
/// the first write leaves nothing to undo; a failure after it poisons the batch.
fn run_checks_first<T, E, F>(conn: &Connection, writer: &mut Writer<'_>, job: F) -> Result<T, E>
where
    E: From<StoreError>,
    F: FnOnce(&mut Writer<'_>) -> Result<T, E>,
{
    let effects_before = writer.effects.len();
    let changes_before = conn.total_changes();
    writer.begin_job();
    let result = run_caught(writer, job);
    if result.is_err() {
        writer.effects.truncate(effects_before);
        writer.job_failed();
        if conn.total_changes() != changes_before {
            tracing::error!("a write job failed after writing, without a savepoint; rolling back the batch");
            writer.poisoned = true;
        }
    }
    result
}

/// Runs a job, turning a panic into an error: a panicking job must not take the writer (and every
/// later write) down with it.
pub(crate) fn run_caught<T, E, F>(writer: &mut Writer<'_>, job: F) -> Result<T, E>
where
    E: From<StoreError>,
    F: FnOnce(&mut Writer<'_>) -> Result<T, E>,
{
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(writer))).unwrap_or_else(|_| {
        tracing::error!("a write job panicked; its changes are rolled back");
        Err(E::from(StoreError::Database("a write job panicked".into())))
    })
}

pub(crate) fn spawn(
    conn: Connection,
    max_batch: usize,
    on_commit: OnCommit,
    restart_wal: Arc<AtomicBool>,
) -> Result<WriterHandle> {
    let (sender, receiver) = mpsc::unbounded_channel();
    let full = Arc::new(AtomicBool::new(false));
    let said_full = Arc::clone(&full);
    thread::Builder::new()
        .name(THREAD_NAME.into())
        .spawn(move || writer_loop(conn, receiver, max_batch.max(1), on_commit, restart_wal, said_full))
        .map_err(|e| StoreError::Database(format!("cannot start the writer thread: {e}")))?;
    Ok(WriterHandle { sender, full })
}

/// SQLite's count of commits by *other* connections to this database, as this connection sees it.
fn data_version(conn: &Connection) -> Option<i64> {
    conn.query_row("PRAGMA data_version", [], |r| r.get(0)).ok()
}

/// When another process (`roost admin` deleting a bot, revoking a token, resetting a password)
/// committed since the last look, the rows kept across jobs may be stale: they are dropped, and
/// everything listening hears [`Effect::Resync`] (token caches empty, webhook workers look
/// again). Never between a batch's BEGIN and COMMIT.
fn look_outside(conn: &Connection, seen: &mut Option<i64>, cache: &RefCell<RowCache>, on_commit: &OnCommit) {
    let now = data_version(conn);
    if now.is_some() && seen.is_some() && now != *seen {
        tracing::info!("another process changed the database; cached rows are read again");
        cache.borrow_mut().clear();
        on_commit(&[Effect::Resync]);
    }
    if now.is_some() {
        *seen = now;
    }
}

fn writer_loop(
    conn: Connection,
    mut receiver: mpsc::UnboundedReceiver<Command>,
    max_batch: usize,
    on_commit: OnCommit,
    restart_wal: Arc<AtomicBool>,
    full: Arc<AtomicBool>,
) {
    let mut batch: Vec<Job> = Vec::with_capacity(max_batch);
    // Jobs left unrun because their batch was failing: dropped (which answers their callers)
    // only once `full` says why.
    let mut unrun: Vec<Job> = Vec::new();
    let mut completions: Vec<Completion> = Vec::with_capacity(max_batch);
    let mut shutdown: Option<oneshot::Sender<()>> = None;
    let cache = RefCell::new(RowCache::default());
    let mut version = data_version(&conn);
    while shutdown.is_none() {
        match receiver.blocking_recv() {
            Some(Command::Job(job)) => batch.push(job),
            Some(Command::Shutdown(done)) => shutdown = Some(done),
            Some(Command::Look) => look_outside(&conn, &mut version, &cache, &on_commit),
            None => break,
        }
        while batch.len() < max_batch && shutdown.is_none() {
            match receiver.try_recv() {
                Ok(Command::Job(job)) => batch.push(job),
                Ok(Command::Shutdown(done)) => shutdown = Some(done),
                Ok(Command::Look) => look_outside(&conn, &mut version, &cache, &on_commit),
                Err(_) => break,
            }
        }
        if batch.is_empty() {
            continue;
        }
        let mut writer = Writer::cached(Db::SqliteBatch(&conn), &cache);
        crate::FULL_ON_THIS_THREAD.set(false);
        let outcome = match run_cached(&conn, BEGIN).map_err(StoreError::from) {
            Ok(()) => {
                for job in batch.drain(..) {
                    if conn.is_autocommit() || writer.poisoned {
                        // SQLite dropped the transaction (disk full, I/O error), or it will be
                        // rolled back: running more jobs would commit each on its own, or waste
                        // the work. Fail them unrun; their callers get an error.
                        unrun.push(job);
                        continue;
                    }
                    completions.push(job(&conn, &mut writer));
                }
                if conn.is_autocommit() {
                    if crate::FULL_ON_THIS_THREAD.take() {
                        Err(StoreError::Full)
                    } else {
                        Err(StoreError::Database("the write transaction was rolled back by SQLite".into()))
                    }
                } else if writer.poisoned {
                    tracing::error!("a job's savepoint could not be closed; rolling back the batch");
                    let _ = conn.execute_batch("ROLLBACK");
                    Err(StoreError::Database("the write transaction was rolled back".into()))
                } else {
                    run_cached(&conn, COMMIT).map_err(|e| {
                        let e = StoreError::from(e);
                        // Every job of the batch answers this error, and the edge logs it.
                        tracing::debug!(error = %e, "commit failed; rolling back the batch");
                        let _ = conn.execute_batch("ROLLBACK");
                        e
                    })
                }
            }
            Err(e) => {
                // Dropping the jobs unrun drops their reply channels: each caller gets an error.
                tracing::error!(error = %e, "cannot begin a write transaction");
                batch.clear();
                Err(e)
            }
        };
        if outcome.is_err() {
            cache.borrow_mut().clear();
        }
        full.store(matches!(outcome, Err(StoreError::Full)), Ordering::Release);
        unrun.clear();
        if outcome.is_ok() && !writer.effects.is_empty() {
            on_commit(&writer.effects);
        }
        for completion in completions.drain(..) {
            completion(outcome.clone());
        }
        // Between batches, when the checkpointer saw the log outgrow what it can copy beside
        // the writer: copy everything and start the log over (waits for readers briefly).
        if restart_wal.swap(false, Ordering::Relaxed)
            && let Err(e) = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()))
        {
            tracing::warn!(error = %e, "WAL restart failed");
        }
    }
    drop(conn);
    if let Some(done) = shutdown {
        let _ = done.send(());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{failed_jobs_leave_no_trace, person, recorder};
    use crate::{NewUser, Store, StoreOptions, StoredEvent};

    /// A store in `dir` whose commits announce to nobody.
    fn quiet_store(dir: &std::path::Path) -> Store {
        Store::open(&dir.join("t.db"), StoreOptions::default(), Arc::new(|_: &[Effect]| {}))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_job_leaves_no_trace_and_spares_its_batch() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (announced, on_commit) = recorder();
        let store = Store::open(&dir.path().join("t.db"), StoreOptions::default(), on_commit)
            .unwrap_or_else(|e| panic!("{e}"));
        failed_jobs_leave_no_trace(&store, &announced).await;
        store.close().await;
        // After close, writes fail cleanly instead of hanging.
        let late = store.write(|w| w.insert_user(&person("too_late"))).await;
        assert!(matches!(late, Err(StoreError::Closed)));
    }

    /// Thirty jobs at once, each storing a person; job 7 breaks as `sabotage` does, job 11 fails
    /// before writing. Exactly the jobs answered with success have their rows stored, and the
    /// writer goes on.
    async fn answers_match_what_is_stored(
        store: &Store,
        guard: Guard,
        sabotage: fn(&mut Writer<'_>) -> Result<()>,
    ) -> Vec<(usize, bool)> {
        let mut jobs = tokio::task::JoinSet::new();
        for i in 0..30 {
            let store = store.clone();
            jobs.spawn(async move {
                let name = format!("user_{i:02}");
                let answer = store
                    .write_guarded(guard, move |w| {
                        if i == 11 {
                            return Err(StoreError::Database("refused before writing".into()));
                        }
                        w.insert_user(&person(&name))?;
                        if i == 7 {
                            sabotage(w)?;
                        }
                        Ok::<_, StoreError>(())
                    })
                    .await;
                // The store stays open: a job dropped unrun with a rolled-back batch must not
                // read as a closed store.
                assert!(!matches!(answer, Err(StoreError::Closed)), "job {i}: {answer:?}");
                (i, answer.is_ok())
            });
        }
        let mut answers = Vec::new();
        while let Some(joined) = jobs.join_next().await {
            answers.push(joined.unwrap_or_else(|e| panic!("{e}")));
        }
        let stored = store
            .read(|r| {
                (0..30).map(|i| r.user_by_username(&format!("user_{i:02}")).map(|u| u.is_some())).collect()
            })
            .await;
        let stored: Vec<bool> = stored.unwrap_or_else(|e: StoreError| panic!("{e}"));
        for &(i, ok) in &answers {
            assert_eq!(stored[i], ok, "job {i}: answered ok = {ok}, stored = {}", stored[i]);
            if i == 11 {
                assert!(!ok, "job {i} must fail");
            }
        }
        let later = store.write_guarded(guard, |w| w.insert_user(&person("later"))).await;
        assert!(later.is_ok());
        answers
    }

    /// A job whose savepoint cannot be closed (here: the job released it itself) may have left
    /// its writes in the transaction: the batch is rolled back.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_savepoint_that_cannot_be_closed_rolls_the_batch_back() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = quiet_store(dir.path());
        let answers = answers_match_what_is_stored(&store, Guard::Savepoint, |w| {
            w.db().execute("RELEASE job", &[]).map(|_| ())
        })
        .await;
        assert!(answers.contains(&(7, false)));
        store.close().await;
    }

    /// A job without a savepoint that fails after writing takes its batch down with it; one that
    /// fails before writing spares the batch.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_checks_first_job_that_fails_after_writing_rolls_the_batch_back() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = quiet_store(dir.path());
        let answers = answers_match_what_is_stored(&store, Guard::ChecksFirst, |_| {
            Err(StoreError::Database("refused after writing".into()))
        })
        .await;
        assert!(answers.contains(&(7, false)));
        store.close().await;
        // Job 11 alone fails (before writing): every other job succeeds.
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = quiet_store(dir.path());
        let answers = answers_match_what_is_stored(&store, Guard::ChecksFirst, |_| Ok(())).await;
        assert!(answers.iter().all(|&(i, ok)| ok == (i != 11)), "{answers:?}");
        store.close().await;
    }

    /// Once SQLite has dropped the batch's transaction, a job that swallows the error and goes
    /// on writing writes nothing: its statements are refused instead of committing one by one.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_statement_runs_once_sqlite_has_dropped_the_transaction() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = quiet_store(dir.path());
        for guard in [Guard::ChecksFirst, Guard::Savepoint] {
            let answer = store
                .write_guarded(guard, |w| {
                    // What SQLite does on a full disk or an I/O error, done by hand.
                    w.db().execute("ROLLBACK", &[])?;
                    let refused = w.insert_user(&person("after_rollback")).is_err();
                    Ok::<_, StoreError>(refused)
                })
                .await;
            assert!(answer.is_err(), "{guard:?}: the batch cannot commit: {answer:?}");
            let kept =
                store.read(|r| r.user_by_username("after_rollback")).await.unwrap_or_else(|e| panic!("{e}"));
            assert!(kept.is_none(), "{guard:?}: a write after the rollback was committed on its own");
        }
        // The writer goes on with the next batch.
        let id = store.write(|w| w.insert_user(&person("later"))).await;
        assert!(id.is_ok(), "{id:?}");
        store.close().await;
    }

    /// The writer's row cache (cache.rs) never answers with a row a failed job made, nor with a
    /// row as it was before a write.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_writers_row_cache_follows_writes_and_rollbacks() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = quiet_store(dir.path());
        let ids = store
            .write(|w| {
                let ids = ["ann", "bob", "cat", "dan"].map(|name| w.insert_user(&person(name)));
                let [a, b, c, d] = ids;
                Ok::<_, StoreError>([a?, b?, c?, d?])
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let [ann, bob, cat, dan] = ids;
        // A job creates a chat, looks at it (filling the cache), then fails: its chat id is
        // handed out again to the next chat, which must not inherit the first one's rows.
        let failed = store
            .write(move |w| {
                let chat = w.create_private_chat(ann, bob, 0)?;
                assert_eq!(w.private_chat(ann, bob)?, Some(chat));
                assert_eq!(w.chat_members(chat)?.len(), 2);
                assert!(w.user(ann)?.is_some());
                Err::<i64, _>(StoreError::Database("refused".into()))
            })
            .await;
        assert!(failed.is_err());
        let (first, second) = store
            .write(move |w| {
                let none = w.private_chat(ann, bob)?;
                let chat = w.create_private_chat(cat, dan, 0)?;
                Ok::<_, StoreError>((none, chat))
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(first, None, "a rolled-back chat is not remembered");
        let members = store
            .write(move |w| {
                let members = w.chat_members(second)?;
                // Writes are seen by the next lookup, in the same job and in later ones.
                w.mark_has_written(second, cat)?;
                let after_mark = w.chat_members(second)?;
                w.set_first_name(cat, "Catherine")?;
                let renamed = w.user(cat)?.map(|u| u.first_name);
                Ok::<_, StoreError>((members, after_mark, renamed))
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(members.0, vec![(cat, false), (dan, false)]);
        assert_eq!(members.1, vec![(cat, true), (dan, false)]);
        assert_eq!(members.2.as_deref(), Some("Catherine"));
        let later = store
            .write(move |w| {
                Ok::<_, StoreError>((w.chat_members(second)?, w.user(cat)?.map(|u| u.first_name)))
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(later.0, vec![(cat, true), (dan, false)]);
        assert_eq!(later.1.as_deref(), Some("Catherine"));
        // A failed job's writes are undone, and so is what the cache learnt from them.
        let failed = store
            .write(move |w| {
                w.set_first_name(dan, "Daniel")?;
                assert_eq!(w.user(dan)?.map(|u| u.first_name).as_deref(), Some("Daniel"));
                Err::<(), _>(StoreError::Database("refused".into()))
            })
            .await;
        assert!(failed.is_err());
        let name = store
            .write(move |w| Ok::<_, StoreError>(w.user(dan)?.map(|u| u.first_name)))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(name.as_deref(), Some("dan"));
        store.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn kept_counters_survive_deletes_expiry_failures_and_restarts() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().to_owned();
        crate::testing::counters_never_repeat(|| {
            let path = path.clone();
            async move { quiet_store(&path) }
        })
        .await;
    }

    /// A database of the release before the timeline (migration 0008), with a person's stream
    /// of event rows, upgraded: a client resuming after any `seq` it saw gets the old rows it has
    /// not seen and then the new messages, each once, in order, with `seq`s above the old ones.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_timeline_continues_a_stream_stored_before_it() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (ann, bob) = (crate::UserId::from_raw(1_000_000_000), crate::UserId::from_raw(1_000_000_001));
        {
            let mut conn =
                rusqlite::Connection::open(dir.path().join("t.db")).unwrap_or_else(|e| panic!("{e}"));
            crate::migrate::run_through(&mut conn, 7).unwrap_or_else(|e| panic!("{e}"));
            // As the seventh release stored it: two messages, each an event row of Ann's, then an
            // edit's event with its JSON.
            let (a, b) = (ann.raw(), bob.raw());
            conn.execute_batch(&format!(
                "INSERT INTO users (id, is_bot, username, username_key, first_name, created_at) \
                     VALUES ({a}, 0, 'ann', 'ann', 'Ann', 0), ({b}, 0, 'bob', 'bob', 'Bob', 0);
                 INSERT INTO chats (id, type, created_at) VALUES (1, 'private', 0);
                 INSERT INTO private_chats (user_low, user_high, chat_id) VALUES ({a}, {b}, 1);
                 INSERT INTO chat_members (chat_id, user_id, joined_at) VALUES (1, {a}, 0), (1, {b}, 0);
                 INSERT INTO messages (chat_id, message_id, from_id, date, text) \
                     VALUES (1, 1, {b}, 0, 'old one'), (1, 2, {b}, 0, 'old two');
                 INSERT INTO user_events (user_id, seq, created_at, payload, chat_id, message_id) \
                     VALUES ({a}, 1, 0, '', 1, 1), ({a}, 2, 0, '', 1, 2);
                 INSERT INTO user_events (user_id, seq, created_at, payload) \
                     VALUES ({a}, 3, 0, '{{\"type\":\"edited\"}}');"
            ))
            .unwrap_or_else(|e| panic!("{e}"));
        }
        let store = quiet_store(dir.path());
        let newest_before = store.read(move |r| r.last_event_seq(ann)).await.unwrap_or_default();
        assert_eq!(newest_before, 3, "the timeline starts above every seq handed out");
        let (message, json) = store
            .write(move |w| {
                let mut note = crate::testing::note(crate::ChatKey::from_raw(1), bob, 0);
                note.text = Some("new".into());
                let row = w.insert_message(note)?;
                w.push_message_event(ann, 0, &row)?;
                let json = w.push_event(ann, 0, |seq| Ok(format!("{{\"seq\":{seq}}}")))?;
                Ok::<_, StoreError>((row, json))
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((message.message_id.raw(), message.position, json), (3, Some(4), 5));
        let replays = store
            .read(move |r| {
                let mut replays = Vec::new();
                for after in 0..=5 {
                    let (events, _) = r.events_after(ann, after, 0, 10)?;
                    replays.push(events);
                }
                Ok::<_, StoreError>(replays)
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let all = [
            StoredEvent::Message {
                seq: 1,
                chat_id: crate::ChatKey::from_raw(1),
                message_id: crate::MessageId::from_raw(1),
            },
            StoredEvent::Message {
                seq: 2,
                chat_id: crate::ChatKey::from_raw(1),
                message_id: crate::MessageId::from_raw(2),
            },
            StoredEvent::Json { seq: 3, payload: "{\"type\":\"edited\"}".into() },
            StoredEvent::Message {
                seq: 4,
                chat_id: crate::ChatKey::from_raw(1),
                message_id: crate::MessageId::from_raw(3),
            },
            StoredEvent::Json { seq: 5, payload: "{\"seq\":5}".into() },
        ];
        for (after, replay) in replays.iter().enumerate() {
            assert_eq!(replay[..], all[after..], "after {after}");
        }
        store.close().await;
    }

    /// A person's stream read in pages of any size, from any point, is exactly their events and
    /// their chats' messages above that point, in order: through backlogs longer than the walk
    /// down a chat (so its start is bisected), deleted messages, and two chats interleaved.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_timeline_reads_any_page_from_any_point() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = quiet_store(dir.path());
        let (ann, expected) = store
            .write(|w| {
                let ann = w.insert_user(&person("ann_two"))?;
                let bob = w.insert_user(&person("bob_two"))?;
                let cat = w.insert_user(&person("cat_two"))?;
                let chats = [w.create_private_chat(ann, bob, 0)?, w.create_private_chat(ann, cat, 0)?];
                let mut expected = Vec::new();
                for i in 0..400_i64 {
                    // Runs of each chat of different lengths, and now and then an event of Ann's.
                    let chat = chats[usize::from((i / 3 + i / 17) % 2 == 1)];
                    let row = w.insert_message(crate::testing::note(chat, bob, 100))?;
                    let position = row.position.unwrap_or_default();
                    if i % 7 == 0 {
                        w.delete_message(chat, row.message_id)?;
                    } else {
                        expected.push(StoredEvent::Message {
                            seq: position,
                            chat_id: chat,
                            message_id: row.message_id,
                        });
                    }
                    if i % 50 == 0 {
                        let seq = w.push_event(ann, 100, |seq| Ok(format!("{{\"seq\":{seq}}}")))?;
                        expected.push(StoredEvent::Json { seq, payload: format!("{{\"seq\":{seq}}}") });
                    }
                }
                Ok::<_, StoreError>((ann, expected))
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let wanted = expected.clone();
        let failures = store
            .read(move |r| {
                let mut failures = Vec::new();
                let newest = wanted.last().map_or(0, StoredEvent::seq);
                for after in (0..=newest + 1).step_by(23).chain([newest - 1, newest]) {
                    for limit in [1_usize, 5, 64, 200, 1000] {
                        let (page, more) = r.events_after(ann, after, 0, limit as i64)?;
                        let rest: Vec<_> = wanted.iter().filter(|e| e.seq() > after).cloned().collect();
                        let right = rest.iter().take(limit).cloned().collect::<Vec<_>>();
                        if page != right || (rest.len() > limit && !more) {
                            failures.push((after, limit, page.len(), right.len(), more));
                        }
                    }
                }
                // The whole stream, page after page.
                let (mut after, mut read) = (0, Vec::new());
                loop {
                    let (page, more) = r.events_after(ann, after, 0, 7)?;
                    after = page.last().map_or(after, StoredEvent::seq);
                    read.extend(page);
                    if !more {
                        break;
                    }
                }
                if read != wanted {
                    failures.push((-1, 7, read.len(), wanted.len(), false));
                }
                Ok::<_, StoreError>(failures)
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(expected.len() > 300);
        assert_eq!(failures, []);
        store.close().await;
    }

    /// A bot owned by `owner`.
    fn bot_of(w: &mut Writer<'_>, owner: crate::UserId) -> Result<crate::UserId> {
        let bot = w.insert_user(&NewUser { is_bot: true, ..person("some_bot") })?;
        w.insert_bot(bot, owner, b"hash", None, 0)?;
        Ok(bot)
    }

    /// One update for `bot` and one event for `person`, both created at `created_at`.
    fn queue_update_and_event(
        w: &mut Writer<'_>,
        bot: UserId,
        person: UserId,
        created_at: i64,
    ) -> Result<()> {
        w.push_update(
            bot,
            created_at,
            &crate::Happened::Message {
                chat: crate::ChatKey::from_raw(0),
                message_id: crate::MessageId::from_raw(1),
            },
        )?;
        w.push_event(person, created_at, |seq| Ok(format!("{{\"seq\":{seq}}}")))?;
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn expiry_deletes_only_what_is_older_than_the_cutoff() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = quiet_store(dir.path());
        let counts = store
            .write(|w| {
                let owner = w.insert_user(&person("owner_one"))?;
                let bot = bot_of(w, owner)?;
                for created_at in [100, 200, 300] {
                    queue_update_and_event(w, bot, owner, created_at)?;
                }
                let expired = w.expire(250, 150, 1000)?;
                Ok::<_, StoreError>((
                    expired,
                    w.pending_update_count(bot, UpdateId::from_raw(0))?,
                    w.events_after(owner, 0, 0, 10)?.0.len(),
                ))
            })
            .await;
        assert_eq!(counts.ok(), Some(((2, 1), 1, 2)));
        store.close().await;
    }

    /// On SQLite expiry walks rows in insertion order and stops at the first one kept, `limit` at
    /// a time: a row written after a clock step back waits for the rows before it, and the
    /// timeline's floor rises to the newest event deleted.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn expiry_goes_oldest_first_in_slices() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = quiet_store(dir.path());
        let ids = store
            .write(|w| {
                let ann = w.insert_user(&person("ann_one"))?;
                let bob = w.insert_user(&person("bob_one"))?;
                let bot = bot_of(w, ann)?;
                // The clock steps back before the last row.
                for (i, created_at) in [100, 110, 120, 300, 130].into_iter().enumerate() {
                    queue_update_and_event(w, bot, if i % 2 == 0 { ann } else { bob }, created_at)?;
                }
                Ok::<_, StoreError>((ann, bob, bot))
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let (ann, bob, bot) = ids;
        let mut slices = Vec::new();
        for _ in 0..3 {
            slices.push(store.write(|w| w.expire(200, 200, 2)).await.unwrap_or_else(|e| panic!("{e}")));
        }
        assert_eq!(slices, [(2, 2), (1, 1), (0, 0)]);
        let left = store
            .read(move |r| {
                let updates: Vec<i64> = r
                    .pending_updates(bot, UpdateId::from_raw(0), 10)?
                    .iter()
                    .map(|u| u.update_id.raw())
                    .collect();
                let ann_events: Vec<i64> = r.events_after(ann, 0, 0, 10)?.0.iter().map(|e| e.seq()).collect();
                let bob_events: Vec<i64> = r.events_after(bob, 0, 0, 10)?.0.iter().map(|e| e.seq()).collect();
                Ok::<_, StoreError>((updates, ann_events, bob_events))
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        // Updates 4 and 5 (300, then 130 after the step back); Ann's third event (130), Bob's
        // second (300): seqs are places in one timeline, taken in turn.
        assert_eq!(left, (vec![4, 5], vec![5], vec![4]));
        store.close().await;
        // Every event gone, the floor keeps the counter: Bob's next seq is 6, not 1.
        let store = quiet_store(dir.path());
        let expired = store.write(|w| w.expire(200, 1000, 10)).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(expired, (0, 2));
        store.close().await;
        let store = quiet_store(dir.path());
        let next = store
            .write(move |w| w.push_event(bob, 400, |seq| Ok(format!("{{\"seq\":{seq}}}"))))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(next, 6);
        store.close().await;
    }
}
