//! Button presses: inline buttons with `callback_data` become `callback_query` updates and wait
//! for the bot's `answerCallbackQuery`; reply keyboard buttons send their text.

use std::time::Duration;

use rand::Rng;
use roost_store::{CallbackRow, Happened, MessageId, Queries, StoreError, UserId, unix_now};
use roost_types::keyboards::{InlineKeyboardButton, KeyboardButton, ReplyMarkup};
use roost_types::limits::{CALLBACK_ANSWER_TEXT_MAX, PRESS_BUTTON_WAIT_DEFAULT, PRESS_BUTTON_WAIT_MAX};
use roost_types::requests::{AnswerCallbackQuery, ClientSendMessage, PressButton};
use roost_types::{ApiError, ButtonPress, CallbackAnswer, ClientEventKind};

use crate::chats::{ChatRef, MessageAddress};
use crate::messages::{bot_accepts, push_event};

use crate::{Core, Error, Result};

/// What a press found on the message.
enum Pressed {
    Callback { query_id: String },
    Text(String),
}

/// Finds the pressed button: by `callback_data`, by `text`, or by position.
fn find_inline<'a>(
    rows: &'a [Vec<InlineKeyboardButton>],
    req: &PressButton,
) -> Option<&'a InlineKeyboardButton> {
    if let (Some(row), Some(column)) = (req.row, req.column) {
        return rows.get(usize::try_from(row).ok()?)?.get(usize::try_from(column).ok()?);
    }
    rows.iter().flatten().find(|b| match (&req.callback_data, &req.text) {
        (Some(data), _) => b.callback_data.as_deref() == Some(data.as_str()),
        (None, Some(text)) => &b.text == text,
        (None, None) => false,
    })
}

fn find_reply<'a>(rows: &'a [Vec<KeyboardButton>], req: &PressButton) -> Option<&'a KeyboardButton> {
    if let (Some(row), Some(column)) = (req.row, req.column) {
        return rows.get(usize::try_from(row).ok()?)?.get(usize::try_from(column).ok()?);
    }
    let text = req.text.as_deref()?;
    rows.iter().flatten().find(|b| b.text() == text)
}

/// A fresh query id: a random positive 64-bit number as text, like Telegram's.
fn new_query_id() -> String {
    rand::rng().random_range(1_000_000_000_000_000i64..i64::MAX).to_string()
}

impl Core {
    /// Client API `pressButton`. An inline button with `callback_data` sends the bot a
    /// `callback_query` and waits (up to `timeout` seconds, default 10) for its answer; a reply
    /// keyboard button sends its text as a message.
    pub async fn press_button(&self, person: UserId, req: PressButton) -> Result<ButtonPress> {
        let chat_id = req.chat_id.clone().ok_or(ApiError::CHAT_ID_EMPTY)?;
        let at = MessageAddress {
            chat_id: chat_id.clone(),
            message_id: MessageId::from_raw(req.message_id.ok_or(ApiError::MESSAGE_ID_INVALID)?),
        };
        let wait = Duration::from_secs(
            req.timeout
                .map_or(PRESS_BUTTON_WAIT_DEFAULT, |t| t.clamp(0, PRESS_BUTTON_WAIT_MAX as i64) as u64),
        );
        // Subscribe before the query exists, so an answer can never slip past.
        let mut wake = self.hub().subscribe_user(person);
        let text_chat = chat_id.clone();
        let pressed = self
            .store()
            .write(move |w| {
                let (ChatRef { key: chat, peer }, row) =
                    at.resolve(&*w, person, ApiError::MESSAGE_ID_INVALID)?;
                let message_id = row.message_id;
                let markup: Option<ReplyMarkup> = match &row.reply_markup {
                    Some(json) => Some(serde_json::from_str(json).map_err(StoreError::from)?),
                    None => None,
                };
                let not_found = || Error::from(ApiError::BUTTON_NOT_FOUND);
                match markup {
                    Some(ReplyMarkup::Inline(inline)) => {
                        let button = find_inline(&inline.inline_keyboard, &req).ok_or_else(not_found)?;
                        let Some(data) = button.callback_data.clone() else {
                            return Err(ApiError::BUTTON_TYPE_INVALID.into());
                        };
                        if !peer.is_bot || row.from_id != peer.id {
                            return Err(not_found());
                        }
                        if peer.deleted {
                            return Err(ApiError::USER_DEACTIVATED.into());
                        }
                        let query_id = new_query_id();
                        let now = unix_now();
                        w.insert_callback_query(&CallbackRow {
                            id: query_id.clone(),
                            bot_id: peer.id,
                            user_id: person,
                            chat_id: chat,
                            message_id,
                            data: Some(data.clone()),
                            created_at: now,
                            answer: None,
                        })?;
                        let bot =
                            w.bot(peer.id)?.ok_or_else(|| StoreError::Database("bot missing".into()))?;
                        if bot_accepts(bot.allowed_updates.as_deref(), "callback_query") {
                            let happened = Happened::CallbackQuery { chat, query_id: query_id.clone() };
                            w.push_update(peer.id, now, &happened)?;
                        }
                        Ok(Pressed::Callback { query_id })
                    }
                    Some(ReplyMarkup::Keyboard(keyboard)) => {
                        let button = find_reply(&keyboard.keyboard, &req).ok_or_else(not_found)?;
                        Ok(Pressed::Text(button.text().to_owned()))
                    }
                    _ => Err(not_found()),
                }
            })
            .await?;
        match pressed {
            Pressed::Text(text) => {
                let request = ClientSendMessage {
                    chat_id: Some(text_chat),
                    text: Some(text),
                    reply_to_message_id: None,
                };
                let message = self.person_send(person, request).await?;
                Ok(ButtonPress { callback_query_id: None, answer: None, message: Some(message) })
            }
            Pressed::Callback { query_id } => {
                let deadline = tokio::time::Instant::now() + wait;
                let mut closing = self.hub().closing();
                loop {
                    let id = query_id.clone();
                    let row =
                        self.store().lookup(move |r| r.callback_query(&id).map_err(Error::from)).await?;
                    if let Some(answer) = row.and_then(|r| r.answer) {
                        let answer: CallbackAnswer =
                            serde_json::from_str(&answer).map_err(StoreError::from)?;
                        return Ok(ButtonPress {
                            callback_query_id: Some(query_id),
                            answer: Some(answer),
                            message: None,
                        });
                    }
                    tokio::select! {
                        changed = tokio::time::timeout_at(deadline, wake.changed()) => match changed {
                            Ok(Ok(())) => continue,
                            _ => break,
                        },
                        _ = closing.changed() => break,
                    }
                }
                Ok(ButtonPress { callback_query_id: Some(query_id), answer: None, message: None })
            }
        }
    }

    /// The message a bot's callback query came from, as the bot addresses it: (the chat's id,
    /// the message's id). Quanta's `answer-callback` edits it.
    pub async fn callback_message(&self, bot: UserId, query_id: String) -> Result<(i64, i64)> {
        let row = self
            .store()
            .lookup(move |r| r.callback_query(&query_id).map_err(Error::from))
            .await?
            .filter(|row| row.bot_id == bot)
            .ok_or(ApiError::QUERY_INVALID)?;
        // Private chats for now: the bot addresses the chat by the person who pressed.
        Ok((row.user_id.raw(), row.message_id.raw()))
    }

    /// Bot API `answerCallbackQuery`: the answer reaches the person (their waiting `pressButton`
    /// and their event stream). Each query is answered once.
    pub async fn answer_callback_query(&self, bot: UserId, req: AnswerCallbackQuery) -> Result<bool> {
        let id = req.callback_query_id.unwrap_or_default();
        if id.is_empty() {
            return Err(ApiError::QUERY_ID_EMPTY.into());
        }
        let text = req.text.filter(|t| !t.is_empty());
        if text.as_ref().is_some_and(|t| t.chars().count() > CALLBACK_ANSWER_TEXT_MAX) {
            return Err(ApiError::CALLBACK_ANSWER_TOO_LONG.into());
        }
        let answer = CallbackAnswer {
            text,
            show_alert: req.show_alert.unwrap_or(false),
            url: req.url.filter(|u| !u.is_empty()),
            cache_time: req.cache_time.unwrap_or(0).max(0),
        };
        let json = serde_json::to_string(&answer).map_err(StoreError::from)?;
        self.store()
            .write(move |w| {
                let row =
                    w.callback_query(&id)?.filter(|r| r.bot_id == bot).ok_or(ApiError::QUERY_INVALID)?;
                let now = unix_now();
                if now - row.created_at > 15 * 60 || !w.answer_callback_query(&id, &json, now)? {
                    return Err(ApiError::QUERY_INVALID.into());
                }
                push_event(
                    w,
                    row.user_id,
                    now,
                    ClientEventKind::CallbackAnswer { callback_query_id: id, answer },
                )?;
                Ok(true)
            })
            .await
    }
}
