//! The PostgreSQL backend: many writers, many instances.
//!
//! Unlike SQLite there is no single writer: every write job runs in its own transaction on a
//! pooled connection, beside other jobs of this instance and of other instances. Correctness
//! comes from row locks (see `writes.rs`: counters are taken by `UPDATE … RETURNING`, which holds
//! the row until commit).
//!
//! A job's effects are announced to this instance's `on_commit` callback right after the commit,
//! and to every other instance with `pg_notify` on the same connection just after that, outside
//! the transaction: a NOTIFY inside it would hold PostgreSQL's cluster-wide notification lock
//! through the commit's WAL flush and serialise every writer of every instance. Each instance
//! listens on one connection and hands what others announced to the same callback (its own
//! announcements, recognised by the instance id at the head of the payload, are skipped). A
//! notification can be lost — the process dies between commit and NOTIFY, or the listening
//! connection drops — so the core also re-reads waited-on queues periodically, and the listener
//! announces [`Effect::Resync`] when its connection was lost.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgListener, PgPoolOptions};
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

use crate::db::{Db, PgLink};
use crate::queries::Reader;
use crate::writer::{Effect, OnCommit, Writer, run_caught};
use crate::{Result, StoreError, StoreOptions};
use crate::{UpdateId, UserId};

/// The notification channel of every instance.
const CHANNEL: &str = "roost";
/// PostgreSQL refuses notification payloads of 8000 bytes or more.
const PAYLOAD_MAX: usize = 7900;

pub(crate) struct PgStore {
    pool: sqlx::PgPool,
    on_commit: OnCommit,
    listener: JoinHandle<()>,
    /// This instance's name at the head of its notifications.
    instance: Arc<str>,
}

impl Drop for PgStore {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        // 53100: disk_full; 53200: out_of_memory is not ours to report as storage.
        if e.as_database_error().and_then(|d| d.code()).is_some_and(|code| code == "53100") {
            return StoreError::Full;
        }
        StoreError::Database(e.to_string())
    }
}

impl PgStore {
    pub(crate) async fn connect(url: &str, options: &StoreOptions, on_commit: OnCommit) -> Result<PgStore> {
        let pool = PgPoolOptions::new()
            .max_connections(options.postgres_connections.max(2))
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(|e| {
                StoreError::Database(format!("cannot connect to PostgreSQL: {}", redact(&e.to_string(), url)))
            })?;
        crate::migrate::run_postgres(&pool).await?;
        // Listen before serving: nothing committed after this point goes unheard.
        let mut listener = PgListener::connect_with(&pool).await?;
        listener.listen(CHANNEL).await?;
        let instance: Arc<str> = format!("{:016x}", rand_u64()).into();
        let listener = tokio::spawn(listen(listener, Arc::clone(&on_commit), Arc::clone(&instance)));
        Ok(PgStore { pool, on_commit, listener, instance })
    }

    pub(crate) async fn write<T, E, F>(&self, job: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut Writer<'_>) -> Result<T, E> + Send + 'static,
    {
        let conn = self.pool.acquire().await.map_err(|e| E::from(e.into()))?;
        let runtime = Handle::current();
        let on_commit = Arc::clone(&self.on_commit);
        let instance = Arc::clone(&self.instance);
        tokio::task::spawn_blocking(move || {
            let link = PgLink::new(conn, runtime);
            link.simple("BEGIN").map_err(E::from)?;
            let mut writer = Writer::new(Db::Postgres(&link));
            let result = run_caught(&mut writer, job);
            let effects = std::mem::take(&mut writer.effects);
            let finished = match &result {
                Ok(_) => link.simple("COMMIT"),
                Err(_) => link.simple("ROLLBACK"),
            };
            if let Err(e) = finished {
                // The transaction's fate is unknown or it is still open: this connection must
                // not serve anyone else.
                let _ = link.simple("ROLLBACK");
                link.conn.into_inner().close_on_drop();
                return Err(E::from(e));
            }
            if result.is_ok() && !effects.is_empty() {
                on_commit(&effects);
                // Committed: a failed NOTIFY only delays other instances until their re-check.
                if let Err(e) = notify(&link, &instance, &effects) {
                    tracing::warn!(error = %e, "cannot notify other instances");
                }
            }
            result
        })
        .await
        .map_err(|e| E::from(StoreError::Database(format!("write task failed: {e}"))))?
    }

    pub(crate) async fn read<T, E, F>(&self, query: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&Reader<'_>) -> Result<T, E> + Send + 'static,
    {
        let conn = self.pool.acquire().await.map_err(|e| E::from(e.into()))?;
        let runtime = Handle::current();
        tokio::task::spawn_blocking(move || {
            let link = PgLink::new(conn, runtime);
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                query(&Reader::new(Db::Postgres(&link)))
            }))
            .unwrap_or_else(|_| Err(E::from(StoreError::Database("a read query panicked".into()))))
        })
        .await
        .map_err(|e| E::from(StoreError::Database(format!("reader task failed: {e}"))))?
    }

    /// Sends effects to the other instances only (nothing was committed).
    pub(crate) async fn tell_others(&self, effects: Vec<Effect>) -> Result<()> {
        let conn = self.pool.acquire().await?;
        let runtime = Handle::current();
        let instance = Arc::clone(&self.instance);
        tokio::task::spawn_blocking(move || notify(&PgLink::new(conn, runtime), &instance, &effects))
            .await
            .map_err(|e| StoreError::Database(format!("notify task failed: {e}")))?
    }

    pub(crate) async fn close(&self) {
        self.listener.abort();
        self.pool.close().await;
    }
}

/// Sends committed effects to the other instances: `<instance>;<effect>,<effect>,…`, in as many
/// notifications as the payload limit needs, all in one round trip and one transaction committed
/// without waiting for the disk (a notifying commit holds PostgreSQL's cluster-wide notification
/// lock until it is flushed; a notification lost in a crash only delays, see the module docs).
/// Payloads are made of `[0-9a-z:;,-]` only, so they are written into the statement as literals.
fn notify(link: &PgLink, instance: &str, effects: &[Effect]) -> Result<()> {
    let head = format!("{instance};");
    let mut payloads = Vec::new();
    let mut payload = head.clone();
    for effect in effects {
        let item = encode(effect);
        if payload.len() > head.len() && payload.len() + 1 + item.len() > PAYLOAD_MAX {
            payloads.push(std::mem::replace(&mut payload, head.clone()));
        }
        if payload.len() > head.len() {
            payload.push(',');
        }
        payload.push_str(&item);
    }
    payloads.push(payload);
    let mut script = String::from("BEGIN; SET LOCAL synchronous_commit = off;");
    for payload in &payloads {
        if !payload.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b":;,-".contains(&b)) {
            return Err(StoreError::Database(format!("unexpected notification payload {payload:?}")));
        }
        script.push_str(&format!(" SELECT pg_notify('{CHANNEL}', '{payload}');"));
    }
    script.push_str(" COMMIT;");
    link.simple(&script).inspect_err(|_| {
        // Leave no failed transaction behind on a pooled connection.
        let _ = link.simple("ROLLBACK");
    })
}

/// A random instance name: new at every start.
fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0),
    );
    hasher.write_u32(std::process::id());
    hasher.finish()
}

fn encode(effect: &Effect) -> String {
    match *effect {
        Effect::BotUpdate { bot_id, update_id } => format!("b{bot_id}:{update_id}"),
        Effect::UserEvent { user_id, seq } => format!("u{user_id}:{seq}"),
        Effect::WebhookChanged { bot_id } => format!("w{bot_id}"),
        Effect::BotTokenChanged { bot_id } => format!("t{bot_id}"),
        Effect::SessionsEnded { user_id } => format!("s{user_id}"),
        Effect::Resync => "r".to_owned(),
        Effect::PollStarted { bot_id, started_ms } => format!("p{bot_id}:{started_ms}"),
    }
}

/// The sender and effects of one notification payload; unknown items are skipped.
pub(crate) fn decode_notification(payload: &str) -> (&str, Vec<Effect>) {
    match payload.split_once(';') {
        Some((instance, items)) => (instance, decode(items)),
        None => ("", decode(payload)),
    }
}

/// The effects of a list of encoded items; unknown items are skipped.
pub(crate) fn decode(payload: &str) -> Vec<Effect> {
    let pair = |rest: &str| {
        let (a, b) = rest.split_once(':')?;
        Some((a.parse::<i64>().ok()?, b.parse::<i64>().ok()?))
    };
    payload
        .split(',')
        .filter_map(|item| {
            let (kind, rest) = item.split_at_checked(1)?;
            match kind {
                "b" => pair(rest).map(|(bot, update)| Effect::BotUpdate {
                    bot_id: UserId::from_raw(bot),
                    update_id: UpdateId::from_raw(update),
                }),
                "u" => {
                    pair(rest).map(|(user, seq)| Effect::UserEvent { user_id: UserId::from_raw(user), seq })
                }
                "w" => rest.parse().ok().map(|bot| Effect::WebhookChanged { bot_id: UserId::from_raw(bot) }),
                "t" => rest.parse().ok().map(|bot| Effect::BotTokenChanged { bot_id: UserId::from_raw(bot) }),
                "s" => {
                    rest.parse().ok().map(|user| Effect::SessionsEnded { user_id: UserId::from_raw(user) })
                }
                "r" => Some(Effect::Resync),
                "p" => pair(rest).map(|(bot, started_ms)| Effect::PollStarted {
                    bot_id: UserId::from_raw(bot),
                    started_ms,
                }),
                _ => None,
            }
        })
        .collect()
}

async fn listen(mut listener: PgListener, on_commit: OnCommit, instance: Arc<str>) {
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => {
                let (sender, effects) = decode_notification(notification.payload());
                // This instance announced its own commits already.
                if sender != &*instance && !effects.is_empty() {
                    on_commit(&effects);
                }
            }
            // The connection was lost and is re-established on the next call: whatever was
            // notified meanwhile is gone, so everyone looks again.
            Ok(None) => {
                tracing::warn!("lost the PostgreSQL notification connection; reconnecting");
                on_commit(&[Effect::Resync]);
            }
            Err(e) => {
                tracing::warn!(error = %e, "PostgreSQL notifications failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                on_commit(&[Effect::Resync]);
            }
        }
    }
}

/// An error message without the URL's password.
fn redact(message: &str, url: &str) -> String {
    match url::Url::parse(url) {
        Ok(parsed) => match parsed.password() {
            Some(password) if !password.is_empty() => message.replace(password, "***"),
            _ => message.to_owned(),
        },
        Err(_) => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effects_survive_the_round_trip_through_a_payload() {
        let effects = [
            Effect::BotUpdate { bot_id: UserId::from_raw(1_000_000_001), update_id: UpdateId::from_raw(42) },
            Effect::UserEvent { user_id: UserId::from_raw(1_000_000_000), seq: 7 },
            Effect::WebhookChanged { bot_id: UserId::from_raw(5) },
            Effect::BotTokenChanged { bot_id: UserId::from_raw(6) },
            Effect::SessionsEnded { user_id: UserId::from_raw(7) },
            Effect::Resync,
            Effect::PollStarted { bot_id: UserId::from_raw(9), started_ms: 1_790_000_000_000 },
        ];
        let payload = effects.iter().map(encode).collect::<Vec<_>>().join(",");
        assert_eq!(decode(&payload), effects);
        assert_eq!(
            decode("x1,b2,u3:x,,b4:5"),
            [Effect::BotUpdate { bot_id: UserId::from_raw(4), update_id: UpdateId::from_raw(5) }]
        );
        let tagged = format!("abc;{payload}");
        let (sender, decoded) = decode_notification(&tagged);
        assert_eq!((sender, decoded.as_slice()), ("abc", &effects[..]));
    }

    /// The write path on a real PostgreSQL (`ROOST_TEST_POSTGRES=postgres://user@host:port/`; the
    /// test script's PostgreSQL pass runs it): failed and panicking jobs leave no trace and
    /// announce nothing, the pool survives them, concurrent check-then-insert jobs and counters
    /// stay correct, text with U+0000 is stored, and counters never repeat an id (as on SQLite).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_on_postgres_are_all_or_nothing() {
        use sqlx::Connection;

        use crate::{Queries, Store};

        let Some(server) = std::env::var("ROOST_TEST_POSTGRES").ok().filter(|s| !s.is_empty()) else {
            eprintln!("writes_on_postgres_are_all_or_nothing: ROOST_TEST_POSTGRES is not set");
            return;
        };
        let base = server.trim_end_matches('/');
        let name = format!("roost_store_{:016x}", rand_u64());
        let mut admin =
            sqlx::PgConnection::connect(&format!("{base}/postgres")).await.unwrap_or_else(|e| panic!("{e}"));
        sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let (announced, on_commit) = crate::testing::recorder();
        let store = Store::connect(&format!("{base}/{name}"), StoreOptions::default(), on_commit)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        crate::testing::failed_jobs_leave_no_trace(&store, &announced).await;

        // Concurrent first contacts make one private chat; counters never repeat.
        let (a, b) = store
            .write(|w| {
                Ok::<_, StoreError>((
                    w.insert_user(&crate::testing::person("alpha_one"))?,
                    w.insert_user(&crate::testing::person("beta_two"))?,
                ))
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let mut jobs = tokio::task::JoinSet::new();
        for i in 0..8 {
            let store = store.clone();
            jobs.spawn(async move {
                store
                    .write(move |w| {
                        let chat = w.private_chat_or_create(
                            if i % 2 == 0 { a } else { b },
                            if i % 2 == 0 { b } else { a },
                            0,
                        )?;
                        let seq = w.push_event(a, 0, |seq| Ok(format!("{{\"seq\":{seq}}}")))?;
                        Ok::<_, StoreError>((chat, seq))
                    })
                    .await
            });
        }
        let mut chats = std::collections::BTreeSet::new();
        let mut seqs = Vec::new();
        while let Some(joined) = jobs.join_next().await {
            let (chat, seq) = joined.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|e| panic!("{e}"));
            chats.insert(chat);
            seqs.push(seq);
        }
        seqs.sort_unstable();
        assert_eq!(chats.len(), 1, "one private chat: {chats:?}");
        assert_eq!(seqs, (1..=8).collect::<Vec<i64>>());

        // U+0000 does not fail a statement.
        let stored = store
            .write(move |w| {
                w.set_first_name(a, "nul\0here")?;
                Ok::<_, StoreError>(w.user(a)?.map(|u| u.first_name))
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(stored.as_deref(), Some("nul\u{FFFD}here"));
        store.close().await;

        let url = format!("{base}/{name}");
        crate::testing::counters_never_repeat(|| {
            let url = url.clone();
            async move {
                let quiet: OnCommit = std::sync::Arc::new(|_: &[Effect]| {});
                Store::connect(&url, StoreOptions::default(), quiet).await.unwrap_or_else(|e| panic!("{e}"))
            }
        })
        .await;
        let _ = sqlx::raw_sql(&format!("DROP DATABASE {name} WITH (FORCE)")).execute(&mut admin).await;
    }
}
