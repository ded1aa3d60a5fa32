//! Each bot's update queue, read by long polling.

use std::time::Duration;

use roost_store::{Queries, StoreError};
use roost_types::limits::{GET_UPDATES_LIMIT_MAX, GET_UPDATES_LIMIT_MIN, GET_UPDATES_TIMEOUT_MAX};
use roost_types::requests::GetUpdates;
use roost_types::{ApiError, UPDATE_TYPES, Update};

use crate::{Core, Error, Result};

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
    pub fn confirmed_floor(&self, bot: i64) -> i64 {
        self.inner.confirmed.lock().ok().and_then(|c| c.get(&bot).copied()).unwrap_or(0)
    }

    /// Bot API `getUpdates`, with long polling.
    ///
    /// `offset` confirms (deletes) every update below it; a negative offset keeps only the last
    /// `-offset` updates. With a `timeout`, the call waits until an update arrives or the timeout
    /// passes. The wait subscribes to the bot's wake-up signal *before* reading the queue, so an
    /// update committed at any moment of the call is seen.
    pub async fn get_updates(&self, bot: i64, req: GetUpdates) -> Result<Vec<Update>> {
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
                    tracing::warn!(bot, error = %e, "cannot tell other instances of a new getUpdates call");
                }
            });
        }
        let mut wake = self.hub().subscribe_bot(bot);
        let (state, first_pending) =
            self.store().lookup(move |r| Ok::<_, Error>((r.bot(bot)?, r.first_pending_update(bot)?))).await?;
        let state = state.ok_or(ApiError::UNAUTHORIZED)?;
        if !state.webhook_url.is_empty() {
            return Err(ApiError::CONFLICT_WEBHOOK_ACTIVE.into());
        }

        // Confirm what the offset says was received, and remember allowed_updates; one write,
        // and only when something changes.
        let confirm_below =
            if offset > 0 { first_pending.filter(|&first| first < offset).map(|_| offset) } else { None };
        let allowed_changed =
            allowed.as_ref().filter(|json| state.allowed_updates.as_ref() != Some(json)).cloned();
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
                if let Err(e) = store.write(move |w| w.confirm_updates(bot, below)).await {
                    tracing::error!(bot, error = %e, "cannot confirm updates");
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
                            from = keep_from;
                        }
                    } else if let Some(below) = confirm_below {
                        w.confirm_updates(bot, below)?;
                    }
                    Ok::<_, Error>(from)
                })
                .await?;
        }

        let from = from.max(self.confirmed_floor(bot));
        let deadline = tokio::time::Instant::now() + timeout;
        let mut closing = self.hub().closing();
        loop {
            let stored = self
                .store()
                .lookup(move |r| r.pending_updates(bot, from, limit).map_err(Error::from))
                .await?;
            if !stored.is_empty() {
                return stored
                    .iter()
                    .map(|u| Ok(serde_json::from_str(&u.payload).map_err(StoreError::from)?))
                    .collect();
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
