//! Each bot's update queue, read by long polling.

pub mod hub;
pub(crate) mod resync;
pub(crate) mod webhooks;

use std::time::Duration;

use roost_store::{ChatKey, Happened, Queries, StoreError, StoredUpdate, UpdateId, UserId};
use roost_types::limits::{GET_UPDATES_LIMIT_MAX, GET_UPDATES_LIMIT_MIN, GET_UPDATES_TIMEOUT_MAX};
use roost_types::requests::GetUpdates;
use roost_types::{
    ApiError, CallbackQuery, MessageReactionUpdated, ReactionType, UPDATE_TYPES, Update, UpdateKind,
};

use crate::messages::render::{self, Renderer};
use crate::{Core, Error, Result};

/// A queued update as read for delivery: `update` is `None` when what it refers to is gone (a
/// message deleted before the bot read it), and the update is then skipped.
#[derive(Debug, Clone)]
pub struct QueuedUpdate {
    pub update_id: i64,
    /// The internal id of its chat (0 for none): the unit of in-order webhook delivery.
    pub chat_key: ChatKey,
    pub update: Option<Update>,
}

/// Renders queued updates for `bot` from the rows they refer to, on the reading side (a reader
/// connection, never the writer): the queue holds what happened, and this is where it becomes
/// the objects the bot sees. A message is shown as it is when read.
pub(crate) fn render_queued(
    q: &impl Queries,
    bot: UserId,
    stored: Vec<StoredUpdate>,
) -> Result<Vec<QueuedUpdate>> {
    if roost_store::on_writer_thread() {
        return Err(
            StoreError::Database("updates are rendered by their readers, not by the writer".into()).into()
        );
    }
    let mut renderer = Renderer::default();
    stored
        .into_iter()
        // A newer version's kind: stop before it, leaving it and what follows queued for an
        // instance that knows it (it expires with the rest if none ever comes).
        .take_while(|s| match s.happened {
            Happened::Newer { kind, .. } => {
                tracing::warn!(
                    bot = bot.raw(),
                    kind,
                    update_id = s.update_id.raw(),
                    "an update of a newer version's kind waits in the queue"
                );
                false
            }
            _ => true,
        })
        .map(|s| {
            let (update_id, chat_key) = (s.update_id.raw(), s.chat_key());
            let kind = render_happened(q, &mut renderer, bot, s.created_at, s.happened)?;
            Ok(QueuedUpdate { update_id, chat_key, update: kind.map(|kind| Update { update_id, kind }) })
        })
        .collect()
}

fn render_happened(
    q: &impl Queries,
    renderer: &mut Renderer,
    bot: UserId,
    created_at: i64,
    happened: Happened,
) -> Result<Option<UpdateKind>> {
    Ok(match happened {
        Happened::Message { chat, message_id } | Happened::EditedMessage { chat, message_id } => {
            let edited = matches!(happened, Happened::EditedMessage { .. });
            let Some(row) = q.message(chat, message_id)? else { return Ok(None) };
            let message = renderer.message(q, &row, bot)?;
            Some(if edited { UpdateKind::EditedMessage(message) } else { UpdateKind::Message(message) })
        }
        Happened::CallbackQuery { query_id, .. } => {
            let Some(query) = q.callback_query(&query_id)? else { return Ok(None) };
            let from = render::user(renderer.user_row(q, query.user_id)?);
            let message = match q.message(query.chat_id, query.message_id)? {
                Some(row) => Some(renderer.message(q, &row, bot)?),
                None => None,
            };
            Some(UpdateKind::CallbackQuery(CallbackQuery {
                id: query.id,
                from,
                message,
                chat_instance: chat_instance(query.chat_id),
                data: query.data,
            }))
        }
        Happened::MessageReaction { chat, message_id, user, reactions } => {
            let Some((old_reaction, new_reaction)) =
                readable::<(Vec<ReactionType>, Vec<ReactionType>)>(&reactions)
            else {
                return Ok(None);
            };
            let user = render::user(renderer.user_row(q, user)?);
            Some(UpdateKind::MessageReaction(MessageReactionUpdated {
                chat: renderer.chat(q, chat, bot)?,
                message_id: message_id.raw(),
                user: Some(user),
                date: created_at,
                old_reaction,
                new_reaction,
            }))
        }
        Happened::Legacy { json, .. } => readable::<Update>(&json).map(|update| update.kind),
        Happened::Unreadable { kind, .. } => {
            tracing::warn!(bot = bot.raw(), kind, "an update that does not read is passed over");
            None
        }
        // Never reaches here: `render_queued` stops before it.
        Happened::Newer { .. } => None,
    })
}

/// Stored JSON of a queued update, or `None` (logged) if it does not read: one bad row is passed
/// over, it does not stop the bot's whole queue.
fn readable<T: serde::de::DeserializeOwned>(json: &str) -> Option<T> {
    match serde_json::from_str(json) {
        Ok(value) => Some(value),
        Err(e) => {
            tracing::warn!(error = %e, "a queued update does not read and is passed over");
            None
        }
    }
}

/// A callback query's `chat_instance`: the same for every press in one chat, and telling nothing
/// of the chat's internal id.
pub(crate) fn chat_instance(chat: ChatKey) -> String {
    chat.raw().wrapping_mul(0x9E37_79B9_7F4A_7C15u64 as i64).unsigned_abs().to_string()
}

/// Normalises an `allowed_updates` list to the JSON stored with the bot. Names this server does
/// not know are dropped, as Telegram does: libraries send their whole list of types, which may be
/// newer than the server.
pub(crate) fn allowed_updates_json(list: &[String]) -> Result<String> {
    let mut list: Vec<&str> =
        list.iter().map(String::as_str).filter(|kind| UPDATE_TYPES.contains(kind)).collect();
    list.sort_unstable();
    list.dedup();
    Ok(serde_json::to_string(&list).map_err(StoreError::from)?)
}

impl Core {
    /// The offset the bot's last getUpdates confirmed in this process: updates below it are
    /// deleted or being deleted, and are never handed out again.
    pub fn confirmed_floor(&self, bot: UserId) -> i64 {
        self.inner.confirmed.lock().ok().and_then(|c| c.get(&bot).copied()).unwrap_or(0)
    }

    /// Confirms a bot's updates below `offset`, and answers once that is committed (`getUpdates`
    /// with an offset commits it in the background): for the system bot, whose answers must not
    /// repeat after a restart, and Quanta's manual `/ack`.
    pub async fn confirm_updates(&self, bot: UserId, offset: i64) -> Result<()> {
        self.store()
            .write(move |w| w.confirm_updates(bot, UpdateId::from_raw(offset)).map_err(Error::from))
            .await?;
        self.raise_floor(bot, offset);
        Ok(())
    }

    /// Takes a bot's updates up to `through` out of its queue and answers the ids this call took:
    /// of two calls that read the same updates at once, each hands out only its own (Quanta's
    /// `/updates`, which hands an update out once).
    pub async fn claim_updates(&self, bot: UserId, through: i64) -> Result<Vec<i64>> {
        let claimed = self
            .store()
            .write(move |w| w.claim_updates(bot, UpdateId::from_raw(through)).map_err(Error::from))
            .await?;
        self.raise_floor(bot, through + 1);
        Ok(claimed.into_iter().map(UpdateId::raw).collect())
    }

    fn raise_floor(&self, bot: UserId, offset: i64) {
        if let Ok(mut confirmed) = self.inner.confirmed.lock() {
            let floor = confirmed.entry(bot).or_insert(0);
            *floor = (*floor).max(offset);
        }
    }

    /// Bot API `getUpdates`, with long polling.
    ///
    /// `offset` confirms (deletes) every update below it; a negative offset keeps only the last
    /// `-offset` updates. With a `timeout`, the call waits until an update arrives or the timeout
    /// passes. The wait subscribes to the bot's wake-up signal *before* reading the queue, so an
    /// update committed at any moment of the call is seen.
    pub async fn get_updates(&self, bot: UserId, req: GetUpdates) -> Result<Vec<Update>> {
        let limit =
            req.limit.unwrap_or(GET_UPDATES_LIMIT_MAX).clamp(GET_UPDATES_LIMIT_MIN, GET_UPDATES_LIMIT_MAX);
        let timeout = Duration::from_secs(req.timeout.unwrap_or(0).clamp(0, GET_UPDATES_TIMEOUT_MAX) as u64);
        let allowed = req.allowed_updates.as_deref().map(allowed_updates_json).transpose()?;
        let offset = req.offset.unwrap_or(0);

        let started_ms = crate::since_epoch().as_millis() as i64;
        let (this_poll, mut newer_poll) = self.hub().begin_poll(bot, started_ms);
        if self.is_shared() {
            // A call of this bot waiting on another instance (begun earlier) is superseded too.
            let store = self.store().clone();
            let started = roost_store::Effect::PollStarted { bot_id: bot, started_ms };
            tokio::spawn(async move {
                if let Err(e) = store.tell_others(vec![started]).await {
                    tracing::warn!(bot = bot.raw(), error = %e, "cannot tell other instances of a new getUpdates call");
                }
            });
        }
        let mut wake = self.hub().subscribe_bot(bot);
        // Only what the call needs of the bot's row: a waiting poll keeps its locals for as long
        // as it waits, and tens of thousands of polls wait at once.
        let (webhook_set, stored_allowed, first_pending) = self
            .store()
            .lookup(move |r| {
                let state = r.bot(bot)?.ok_or(ApiError::UNAUTHORIZED)?;
                Ok::<_, Error>((
                    !state.webhook_url.is_empty(),
                    state.allowed_updates,
                    r.first_pending_update(bot)?,
                ))
            })
            .await?;
        if webhook_set {
            return Err(ApiError::CONFLICT_WEBHOOK_ACTIVE.into());
        }

        // Confirm what the offset says was received, and remember allowed_updates; one write,
        // and only when something changes.
        let confirm_below = if offset > 0 {
            first_pending.filter(|&first| first.raw() < offset).map(|_| offset)
        } else {
            None
        };
        let allowed_changed = allowed.as_ref().filter(|json| stored_allowed.as_ref() != Some(json)).cloned();
        drop(stored_allowed);
        let mut from = offset.max(0);
        // With a shared store the bot's next call may reach another instance, which knows nothing
        // of this one's floor: there the confirmation is committed before the call goes on.
        let in_background = !self.is_shared();
        if let (Some(below), None, true, true) = (confirm_below, &allowed_changed, offset > 0, in_background)
        {
            // A plain confirmation needs no answer before this call can go on: the read below
            // starts at `offset` anyway. Submitting it without waiting keeps the writer's latency
            // out of every long poll (a bot confirms on each call).
            if let Ok(mut confirmed) = self.inner.confirmed.lock() {
                let floor = confirmed.entry(bot).or_insert(0);
                *floor = (*floor).max(below);
            }
            let store = self.store().clone();
            tokio::spawn(async move {
                if let Err(e) = store.write(move |w| w.confirm_updates(bot, UpdateId::from_raw(below))).await
                {
                    tracing::error!(bot = bot.raw(), error = %e, "cannot confirm updates");
                }
            });
        } else if offset < 0 || confirm_below.is_some() || allowed_changed.is_some() {
            from = self
                .store()
                .write(move |w| {
                    if let Some(json) = &allowed_changed {
                        w.set_allowed_updates(bot, Some(json))?;
                    }
                    let mut from = offset.max(0);
                    if offset < 0 {
                        if let Some(keep_from) = w.nth_newest_update(bot, offset.saturating_neg())? {
                            w.confirm_updates(bot, keep_from)?;
                            from = keep_from.raw();
                        }
                    } else if let Some(below) = confirm_below {
                        w.confirm_updates(bot, UpdateId::from_raw(below))?;
                    }
                    Ok::<_, Error>(from)
                })
                .await?;
        }

        let mut from = from.max(self.confirmed_floor(bot));
        let deadline = tokio::time::Instant::now() + timeout;
        let mut closing = self.hub().closing();
        loop {
            let queued = self
                .store()
                .lookup(move |r| {
                    render_queued(r, bot, r.pending_updates(bot, UpdateId::from_raw(from), limit)?)
                })
                .await?;
            if let Some(last) = queued.last() {
                // Updates whose message is gone are passed over; the next offset confirms them.
                from = last.update_id + 1;
                let updates: Vec<Update> = queued.into_iter().filter_map(|q| q.update).collect();
                if !updates.is_empty() {
                    return Ok(updates);
                }
                continue;
            }
            if *closing.borrow_and_update() {
                return Ok(Vec::new());
            }
            // Nothing yet: wait for the next commit for this bot, the deadline, or shutdown.
            tokio::select! {
                woke = tokio::time::timeout_at(deadline, wake.changed()) => match woke {
                    Ok(Ok(())) => continue,
                    Ok(Err(_)) | Err(_) => return Ok(Vec::new()),
                },
                _ = closing.changed() => return Ok(Vec::new()),
                _ = newer_poll.changed() => if *newer_poll.borrow_and_update() != this_poll {
                    return Err(ApiError::CONFLICT_OTHER_GET_UPDATES.into());
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CoreConfig;
    use roost_store::{NewMessage, StoreOptions};

    /// A bot with a private chat holding one message from a person, on a new SQLite store.
    async fn a_bot_and_a_message() -> (tempfile::TempDir, Core, UserId, UserId, ChatKey) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let core = Core::open(&url, StoreOptions::default(), CoreConfig::default())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let (person, bot, chat) = core
            .store()
            .write(|w| {
                let now = roost_store::unix_now();
                let (person, bot) = crate::testing::person_and_bot(w, now)?;
                let chat = w.create_private_chat(person, bot, now)?;
                Ok::<_, Error>((person, bot, chat))
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        (dir, core, person, bot, chat)
    }

    fn message(chat: ChatKey, from: UserId, text: &str) -> NewMessage {
        NewMessage {
            chat_id: chat,
            from_id: from,
            date: roost_store::unix_now(),
            text: Some(text.into()),
            entities: None,
            reply_to_message_id: None,
            reply_markup: None,
            protect_content: false,
            forward_origin: None,
        }
    }

    /// The queue holds what happened; getUpdates renders it. An update stored as Telegram JSON by
    /// an older version is served as it was stored; one whose message is gone, or that does not
    /// read, is passed over.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queued_updates_are_rendered_when_read() {
        let (_dir, core, person, bot, chat) = a_bot_and_a_message().await;
        core.store()
            .write(move |w| {
                let kept = w.insert_message(message(chat, person, "kept"))?;
                let gone = w.insert_message(message(chat, person, "gone"))?;
                let now = roost_store::unix_now();
                w.push_update(bot, now, &Happened::Message { chat, message_id: kept.message_id })?;
                w.push_update(bot, now, &Happened::Message { chat, message_id: gone.message_id })?;
                let legacy = r#"{"update_id":3,"message":{"message_id":7,"date":1,"chat":{"id":5,"type":"private"},"text":"old"}}"#;
                w.push_update(bot, now, &Happened::Legacy { chat, json: legacy.into() })?;
                // Rows that do not read (a known kind without its columns, broken JSON) are passed
                // over; at a newer version's kind the read stops, and it and what follows stay.
                w.push_update(bot, now, &Happened::Unreadable { chat, kind: 1 })?;
                w.push_update(bot, now, &Happened::Legacy { chat, json: "{not json".into() })?;
                w.push_update(bot, now, &Happened::Newer { chat, kind: 99 })?;
                w.push_update(bot, now, &Happened::Message { chat, message_id: kept.message_id })?;
                w.delete_message(chat, gone.message_id)?;
                Ok::<_, Error>(())
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let updates = core.get_updates(bot, GetUpdates::default()).await.unwrap_or_else(|e| panic!("{e}"));
        let texts: Vec<(i64, Option<String>)> = updates
            .iter()
            .map(|u| match &u.kind {
                UpdateKind::Message(m) => (u.update_id, m.text.clone()),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(texts, vec![(1, Some("kept".into())), (3, Some("old".into()))]);
        let waiting = core.queued_updates_from(bot, 4, 100).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            waiting.iter().map(|q| q.update_id).collect::<Vec<_>>(),
            [4, 5],
            "stops before the newer kind"
        );
        let left = core
            .store()
            .read(move |r| Ok::<_, Error>(r.pending_update_count(bot, UpdateId::from_raw(6))?))
            .await;
        assert_eq!(left.ok(), Some(2), "the newer kind and what follows it stay queued");
        let UpdateKind::Message(first) = &updates[0].kind else { unreachable!() };
        assert_eq!((first.chat.id, first.from.as_ref().map(|u| u.id)), (person.raw(), Some(person.raw())));
        core.close().await;
    }

    /// Rendering an update on the SQLite writer's thread is refused: the writer stores what
    /// happened and nothing else.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn updates_are_not_rendered_on_the_writer_thread() {
        let (_dir, core, person, bot, chat) = a_bot_and_a_message().await;
        let on_writer = core
            .store()
            .write(move |w| {
                let row = w.insert_message(message(chat, person, "hi"))?;
                w.push_update(bot, 1, &Happened::Message { chat, message_id: row.message_id })?;
                let stored = w.pending_updates(bot, UpdateId::from_raw(0), 10)?;
                Ok::<_, Error>(render_queued(&*w, bot, stored).is_err())
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(on_writer, "an update was rendered on the writer thread");
        let read = core.queued_updates_from(bot, 0, 10).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read.len(), 1);
        assert!(read[0].update.is_some());
        core.close().await;
    }

    /// Only this file builds updates: every other file of the core queues what happened.
    #[test]
    fn only_the_reading_side_builds_updates() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
        let mut offenders = Vec::new();
        for entry in walk(std::path::Path::new(dir)) {
            let text = std::fs::read_to_string(&entry).unwrap_or_else(|e| panic!("{e}"));
            if entry.ends_with("updates/mod.rs") {
                continue;
            }
            let builds = text.contains(" Update {") || text.contains("(Update {");
            // The system bot reads updates as any bot does: it matches on their kinds, and
            // builds none.
            let names_kinds = text.contains("UpdateKind::") && !entry.ends_with("bots/system.rs");
            if builds || names_kinds {
                offenders.push(entry.display().to_string());
            }
        }
        assert!(offenders.is_empty(), "updates built outside updates/mod.rs: {offenders:?}");
    }

    fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{e}")).flatten() {
            let path = entry.path();
            if path.is_dir() {
                files.extend(walk(&path));
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
        files
    }

    #[test]
    fn allowed_updates_are_checked_and_normalised() {
        let json = allowed_updates_json(&["message".into(), "callback_query".into(), "message".into()]);
        assert_eq!(json.ok().as_deref(), Some(r#"["callback_query","message"]"#));
        assert_eq!(
            allowed_updates_json(&["messages".into(), "poll".into()]).ok().as_deref(),
            Some(r#"["poll"]"#)
        );
        assert_eq!(allowed_updates_json(&[]).ok().as_deref(), Some("[]"));
    }
}
