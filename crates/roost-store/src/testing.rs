//! Test helpers shared by the SQLite and PostgreSQL tests of the store.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::{Effect, NewUser, OnCommit, Queries, Store, StoreError};

/// A person row with `name` as username and first name.
pub(crate) fn person(name: &str) -> NewUser<'_> {
    NewUser {
        is_bot: false,
        username: name,
        first_name: name,
        last_name: None,
        language_code: None,
        password_hash: None,
        created_at: 0,
    }
}

/// An `on_commit` callback that records every effect announced, and the record.
pub(crate) fn recorder() -> (Arc<Mutex<Vec<Effect>>>, OnCommit) {
    let announced: Arc<Mutex<Vec<Effect>>> = Arc::default();
    let sink = Arc::clone(&announced);
    (announced, Arc::new(move |fx: &[Effect]| sink.lock().map(|mut v| v.extend_from_slice(fx)).unwrap_or(())))
}

/// Thirty jobs at once (so that on SQLite they share transactions), each creating a person and an
/// event; every third fails after writing and one panics. Checks that exactly the others' writes
/// are stored and only their effects were announced, once each.
pub(crate) async fn failed_jobs_leave_no_trace(store: &Store, announced: &Mutex<Vec<Effect>>) {
    let mut jobs = tokio::task::JoinSet::new();
    for i in 0..30 {
        let store = store.clone();
        jobs.spawn(async move {
            store
                .write(move |w| {
                    let name = format!("user_{i:02}");
                    let id = w.insert_user(&person(&name))?;
                    w.push_event(id, 0, |seq| Ok(format!("{{\"seq\":{seq}}}")))?;
                    if i == 3 {
                        panic!("a job that panics");
                    }
                    if i % 3 == 0 {
                        return Err(StoreError::Database("refused".into()));
                    }
                    Ok(id)
                })
                .await
        });
    }
    let mut ok = 0;
    while let Some(joined) = jobs.join_next().await {
        ok += usize::from(matches!(joined, Ok(Ok(_))));
    }
    assert_eq!(ok, 20);
    let names = store
        .read(|r| {
            let mut found = Vec::new();
            for i in 0..30 {
                if r.user_by_username(&format!("user_{i:02}"))?.is_some() {
                    found.push(i);
                }
            }
            Ok::<_, StoreError>(found)
        })
        .await
        .unwrap_or_default();
    assert_eq!(names, (0..30).filter(|i| i % 3 != 0).collect::<Vec<_>>());
    // Other instances' notifications (PostgreSQL) would arrive by now; this store's own are
    // never announced twice.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(announced.lock().map(|v| v.len()).unwrap_or(0), 20);
}
