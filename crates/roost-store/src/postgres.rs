//! The PostgreSQL backend: many writers, many instances.
//!
//! Unlike SQLite there is no single writer: every write job runs in its own transaction on a
//! pooled connection, beside other jobs of this instance and of other instances. Correctness
//! comes from row locks (see `writes.rs`: counters are taken by `UPDATE … RETURNING`, which holds
//! the row until commit). PostgreSQL shares WAL flushes between concurrent commits by itself.
//!
//! A job's effects are sent with `pg_notify` inside its transaction, so every instance (this one
//! included) hears of them exactly when the commit becomes visible. Each instance listens on one
//! connection and hands what it hears to the same `on_commit` callback as its own commits; the
//! callback treats ids as "at least this", so hearing an effect twice is harmless. When the
//! listening connection drops, notifications may have been lost: the listener reconnects and
//! announces [`Effect::Resync`], and the core re-reads what its waiters wait for.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgListener, PgPoolOptions};
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

use crate::db::{Db, PgLink};
use crate::queries::Reader;
use crate::writer::{Effect, OnCommit, Writer, run_caught};
use crate::{Result, StoreError, StoreOptions};

/// The notification channel of every instance.
const CHANNEL: &str = "roost";
/// PostgreSQL refuses notification payloads of 8000 bytes or more.
const PAYLOAD_MAX: usize = 7900;

pub(crate) struct PgStore {
    pool: sqlx::PgPool,
    on_commit: OnCommit,
    listener: JoinHandle<()>,
}

impl Drop for PgStore {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
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
        let listener = tokio::spawn(listen(listener, Arc::clone(&on_commit)));
        Ok(PgStore { pool, on_commit, listener })
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
        tokio::task::spawn_blocking(move || {
            let link = PgLink::new(conn, runtime);
            link.simple("BEGIN").map_err(E::from)?;
            let mut writer = Writer::new(Db::Postgres(&link));
            let result = run_caught(&mut writer, job);
            let effects = std::mem::take(&mut writer.effects);
            let finished = match &result {
                Ok(_) => notify(&link, &effects).and_then(|()| link.simple("COMMIT")),
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

    pub(crate) async fn close(&self) {
        self.listener.abort();
        self.pool.close().await;
    }
}

/// Sends a transaction's effects to every instance; delivered on commit, dropped on rollback.
fn notify(link: &PgLink, effects: &[Effect]) -> Result<()> {
    if effects.is_empty() {
        return Ok(());
    }
    let db = Db::Postgres(link);
    let mut payload = String::new();
    for effect in effects {
        let item = encode(effect);
        if !payload.is_empty() && payload.len() + 1 + item.len() > PAYLOAD_MAX {
            db.execute("SELECT pg_notify('roost', ?1)", crate::db::args![payload.as_str()])?;
            payload.clear();
        }
        if !payload.is_empty() {
            payload.push(',');
        }
        payload.push_str(&item);
    }
    db.execute("SELECT pg_notify('roost', ?1)", crate::db::args![payload.as_str()])?;
    Ok(())
}

fn encode(effect: &Effect) -> String {
    match *effect {
        Effect::BotUpdate { bot_id, update_id } => format!("b{bot_id}:{update_id}"),
        Effect::UserEvent { user_id, seq } => format!("u{user_id}:{seq}"),
        Effect::WebhookChanged { bot_id } => format!("w{bot_id}"),
        Effect::Resync => "r".to_owned(),
    }
}

/// The effects of one notification payload; unknown items are skipped.
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
                "b" => pair(rest).map(|(bot_id, update_id)| Effect::BotUpdate { bot_id, update_id }),
                "u" => pair(rest).map(|(user_id, seq)| Effect::UserEvent { user_id, seq }),
                "w" => rest.parse().ok().map(|bot_id| Effect::WebhookChanged { bot_id }),
                "r" => Some(Effect::Resync),
                _ => None,
            }
        })
        .collect()
}

async fn listen(mut listener: PgListener, on_commit: OnCommit) {
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => {
                let effects = decode(notification.payload());
                if !effects.is_empty() {
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
            Effect::BotUpdate { bot_id: 1_000_000_001, update_id: 42 },
            Effect::UserEvent { user_id: 1_000_000_000, seq: 7 },
            Effect::WebhookChanged { bot_id: 5 },
            Effect::Resync,
        ];
        let payload = effects.iter().map(encode).collect::<Vec<_>>().join(",");
        assert_eq!(decode(&payload), effects);
        assert_eq!(decode("x1,b2,u3:x,,b4:5"), [Effect::BotUpdate { bot_id: 4, update_id: 5 }]);
    }
}
