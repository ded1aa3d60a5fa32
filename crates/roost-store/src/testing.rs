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

/// A message from `from` in `chat`, sent at `date`.
pub(crate) fn note(chat: crate::ChatKey, from: crate::UserId, date: i64) -> crate::NewMessage {
    crate::NewMessage {
        chat_id: chat,
        from_id: from,
        date,
        text: Some("hi".into()),
        entities: None,
        reply_to_message_id: None,
        reply_markup: None,
        protect_content: false,
        forward_origin: None,
    }
}

/// Message ids and event seqs never repeat an id a committed row had: not after the newest
/// message is deleted, not after events expire, not after a restart (`open` opens the same store
/// again, which on SQLite empties the writer's kept counters); a failed job's ids are free again.
/// On SQLite every message takes a place in the timeline that event seqs share (migration 0008),
/// so the `k`th step's event has seq `2k`; on PostgreSQL a person's seqs count their events.
pub(crate) async fn counters_never_repeat<F, Fut>(open: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Store>,
{
    async fn step(store: &Store, chat: crate::ChatKey, ann: crate::UserId) -> (i64, i64) {
        store
            .write(move |w| {
                let message = w.insert_message(note(chat, ann, 100))?.message_id.raw();
                let seq = w.push_event(ann, 100, |seq| Ok(format!("{{\"seq\":{seq}}}")))?;
                Ok::<_, StoreError>((message, seq))
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }
    let store = open().await;
    let postgres = store.read(|r| Ok::<_, StoreError>(r.db().is_postgres())).await.unwrap_or_default();
    let seq = |step: i64| if postgres { step } else { 2 * step };
    let (ann, chat) = store
        .write(|w| {
            let ann = w.insert_user(&person("ann"))?;
            let bob = w.insert_user(&person("bob"))?;
            Ok::<_, StoreError>((ann, w.create_private_chat(ann, bob, 0)?))
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    for n in 1..=3 {
        assert_eq!(step(&store, chat, ann).await, (n, seq(n)));
    }
    let failed = store
        .write(move |w| {
            assert_eq!(w.insert_message(note(chat, ann, 100))?.message_id.raw(), 4);
            w.push_event(ann, 100, |seq| Ok(format!("{{\"seq\":{seq}}}")))?;
            Err::<(), _>(StoreError::Database("refused".into()))
        })
        .await;
    assert!(failed.is_err());
    assert_eq!(step(&store, chat, ann).await, (4, seq(4)), "a failed job's ids were never seen");
    let (deleted, missing, left) = store
        .write(move |w| {
            let deleted = (
                w.delete_message(chat, crate::MessageId::from_raw(4))?,
                w.delete_message(chat, crate::MessageId::from_raw(99))?,
            );
            w.expire(0, 200, 1000)?;
            // Nothing left to replay from before the cutoff: messages are replayed as long as
            // events are kept.
            Ok::<_, StoreError>((deleted.0, deleted.1, w.events_after(ann, 0, 200, 10)?.0.len()))
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(deleted && !missing);
    assert_eq!(left, 0);
    let newest = store.read(move |r| r.last_event_seq(ann)).await;
    assert_eq!(newest.ok(), Some(seq(4)), "the newest seq is known with no event left");
    assert_eq!(step(&store, chat, ann).await, (5, seq(5)));
    store.close().await;
    // A new writer (as after a crash) starts from what is stored: the deleted message 5 and the
    // expired event 5 must not come back as new ids.
    let store = open().await;
    store
        .write(move |w| {
            assert!(w.delete_message(chat, crate::MessageId::from_raw(5))?);
            w.expire(0, 200, 1000).map(|_| ())
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    store.close().await;
    let store = open().await;
    assert_eq!(step(&store, chat, ann).await, (6, seq(6)));
    // A newer chat (higher id) whose newest message is older comes second in the chat list; the
    // safety re-check's queue positions read the counters too.
    let (later_chat, bot) = store
        .write(move |w| {
            let cat = w.insert_user(&person("cat"))?;
            let later_chat = w.create_private_chat(ann, cat, 0)?;
            w.insert_message(note(later_chat, cat, 50))?;
            let bot = w.insert_user(&crate::NewUser { is_bot: true, ..person("counting_bot") })?;
            w.insert_bot(bot, ann, b"hash", None, 0)?;
            for _ in 0..2 {
                w.push_update(
                    bot,
                    100,
                    &crate::Happened::Message {
                        chat: crate::ChatKey::from_raw(0),
                        message_id: crate::MessageId::from_raw(1),
                    },
                )?;
            }
            Ok::<_, StoreError>((later_chat, bot))
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (chats, seqs, update_ids) = store
        .read(move |r| {
            Ok::<_, StoreError>((
                r.chat_list(ann, 10)?,
                r.last_event_seqs(&[ann])?,
                r.last_update_ids(&[bot])?,
            ))
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let order: Vec<(crate::ChatKey, Option<i64>)> =
        chats.iter().map(|c| (c.chat.id, c.last_message.as_ref().map(|m| m.message_id.raw()))).collect();
    assert_eq!(order, [(chat, Some(6)), (later_chat, Some(1))]);
    // On SQLite the later chat's message took the newest place since.
    assert_eq!(seqs, [(ann, if postgres { 6 } else { seq(6) + 1 })]);
    assert_eq!(update_ids, [(bot, 2)]);
    store.close().await;
}
