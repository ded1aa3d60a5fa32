//! A bot's error log, for its owner: failed webhook deliveries with the receiver's answer, and
//! Bot API calls Roost refused, with their error.
//!
//! Entries are buffered in memory and written in one job at most once a second
//! ([`Core::flush_bot_errors`], called by the server's upkeep, at shutdown and before the log is
//! read): a bot that keeps making a bad call must not add a write per call to the store. The
//! buffer is bounded; past it, and past [`PER_BOT_PER_FLUSH`] entries of one bot between two
//! flushes, entries are dropped (a log of the same error a thousand times says no more than a
//! hundred). Kept per bot: the newest [`roost_store::BOT_ERRORS_KEPT`].

use std::collections::HashMap;
use std::sync::Mutex;

use roost_store::{BotErrorRow, UserId, unix_now};

use crate::{Core, Error, Result};

/// Entries held between two flushes, all bots together.
const BUFFERED_MAX: usize = 10_000;
/// Entries of one bot kept between two flushes.
const PER_BOT_PER_FLUSH: usize = 50;
/// The longest description kept (a receiver's answer is cut here).
const DESCRIPTION_MAX: usize = 512;

/// Where an error happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorSource {
    /// A webhook delivery the receiver refused or did not answer.
    Webhook,
    /// A Bot API call Roost refused.
    Call,
}

#[derive(Default)]
pub(crate) struct ErrorLog {
    pending: Mutex<Buffer>,
}

#[derive(Default)]
struct Buffer {
    entries: Vec<(UserId, BotErrorRow)>,
    per_bot: HashMap<UserId, usize>,
}

impl ErrorLog {
    fn push(&self, bot: UserId, row: BotErrorRow) {
        let Ok(mut buffer) = self.pending.lock() else { return };
        if buffer.entries.len() >= BUFFERED_MAX {
            return;
        }
        let count = buffer.per_bot.entry(bot).or_default();
        if *count >= PER_BOT_PER_FLUSH {
            return;
        }
        *count += 1;
        buffer.entries.push((bot, row));
    }

    fn take(&self) -> Vec<(UserId, BotErrorRow)> {
        match self.pending.lock() {
            Ok(mut buffer) => {
                buffer.per_bot.clear();
                std::mem::take(&mut buffer.entries)
            }
            Err(_) => Vec::new(),
        }
    }
}

/// `text` cut to at most [`DESCRIPTION_MAX`] bytes, at a character boundary.
fn cut(text: &str) -> String {
    let mut end = text.len().min(DESCRIPTION_MAX);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

impl Core {
    /// Adds an entry to a bot's error log (written within a second).
    pub fn log_bot_error(
        &self,
        bot: UserId,
        source: ErrorSource,
        method: Option<&str>,
        status: u16,
        description: &str,
    ) {
        let row = BotErrorRow {
            at: unix_now(),
            source: match source {
                ErrorSource::Webhook => "webhook",
                ErrorSource::Call => "call",
            }
            .to_owned(),
            method: method.map(cut),
            status: i64::from(status),
            description: cut(description),
        };
        self.inner.error_log.push(bot, row);
    }

    /// Writes the buffered error log entries; returns how many.
    pub async fn flush_bot_errors(&self) -> Result<usize> {
        let entries = self.inner.error_log.take();
        if entries.is_empty() {
            return Ok(0);
        }
        let count = entries.len();
        self.store().write(move |w| w.log_bot_errors(&entries).map_err(Error::from)).await?;
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_buffer_is_bounded_per_bot() {
        let log = ErrorLog::default();
        let row = || BotErrorRow {
            at: 0,
            source: "call".into(),
            method: None,
            status: 400,
            description: "x".into(),
        };
        for _ in 0..PER_BOT_PER_FLUSH + 10 {
            log.push(UserId::from_raw(1), row());
        }
        log.push(UserId::from_raw(2), row());
        let taken = log.take();
        assert_eq!(taken.len(), PER_BOT_PER_FLUSH + 1);
        log.push(UserId::from_raw(1), row());
        assert_eq!(log.take().len(), 1, "the count starts again after a flush");
        assert_eq!(cut(&"é".repeat(400)).len(), 512);
    }
}
