//! Chats and messages: opening chats, sending, reading history, and the fan-out of each new
//! message to the bots' update queues and the people's event streams.

use roost_store::{MessageRow, NewMessage, Queries, StoreError, UserRow, Writer, unix_now};
use roost_types::limits::{HISTORY_LIMIT_DEFAULT, HISTORY_LIMIT_MAX, MESSAGE_TEXT_MAX};
use roost_types::requests::{ChatId, ClientSendMessage, GetHistory, OpenPrivateChat, SendMessage};
use roost_types::{
    ApiError, Chat, ChatListEntry, ClientEvent, ClientEventKind, Message, MessageEntity, OPT_IN_UPDATE_TYPES,
    Resolved, Update, UpdateKind,
};

use crate::entities::{self, utf16_len};
use crate::render::{self, Renderer};
use crate::{Core, Error, Result};

/// A validated message body.
struct Body {
    text: String,
    entities: Vec<MessageEntity>,
    reply_to: Option<i64>,
    allow_without_reply: bool,
    reply_markup: Option<String>,
    protect_content: bool,
}

fn validate_text(text: Option<String>) -> Result<String> {
    let text = text.unwrap_or_default();
    if text.trim().is_empty() {
        return Err(ApiError::MESSAGE_TEXT_EMPTY.into());
    }
    if utf16_len(&text) > MESSAGE_TEXT_MAX {
        return Err(ApiError::MESSAGE_TOO_LONG.into());
    }
    Ok(text)
}

/// Checks explicit entities against the text they annotate.
fn validate_entities(text: &str, entities: Vec<MessageEntity>) -> Result<Vec<MessageEntity>> {
    let len = utf16_len(text) as i64;
    for entity in &entities {
        if entity.offset < 0 || entity.length <= 0 || entity.length > len - entity.offset.min(len) {
            return Err(ApiError::bad_request("entity beginning or end is out of the text").into());
        }
    }
    let mut entities = entities;
    entities.sort_by_key(|e| (e.offset, -e.length));
    Ok(entities)
}

/// Deepest JSON nesting accepted in `reply_markup` (a keyboard is four levels deep). Stored payloads
/// wrap the markup in a few more levels, and must stay well inside what a JSON reader accepts.
const REPLY_MARKUP_MAX_DEPTH: usize = 8;

fn json_depth(value: &serde_json::Value) -> usize {
    match value {
        serde_json::Value::Array(items) => 1 + items.iter().map(json_depth).max().unwrap_or(0),
        serde_json::Value::Object(map) => 1 + map.values().map(json_depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn entities_json(entities: &[MessageEntity]) -> Result<Option<String>> {
    if entities.is_empty() {
        return Ok(None);
    }
    Ok(Some(serde_json::to_string(entities).map_err(StoreError::from)?))
}

/// Whether a bot receives updates of `kind` under its stored `allowed_updates`.
fn bot_accepts(allowed_updates: Option<&str>, kind: &str) -> bool {
    let list: Vec<String> =
        allowed_updates.and_then(|json| serde_json::from_str(json).ok()).unwrap_or_default();
    if list.is_empty() { !OPT_IN_UPDATE_TYPES.contains(&kind) } else { list.iter().any(|k| k == kind) }
}

/// Finds the user a chat id names, for a sender. `chat not found` if there is none.
fn resolve_peer(q: &impl Queries, chat_id: &ChatId) -> Result<UserRow> {
    let user = match chat_id {
        ChatId::Id(id) if *id > 0 => q.user(*id)?,
        ChatId::Id(_) => None,
        ChatId::Username(name) => q.user_by_username(name)?,
    };
    user.ok_or_else(|| ApiError::CHAT_NOT_FOUND.into())
}

/// Stores a message from `sender` in `chat_id` and fans it out: one update per bot member (other
/// than the sender) that accepts messages, one event per person member (the sender included, for
/// their other devices). Returns the stored row.
fn append_message(w: &mut Writer<'_>, chat_id: i64, sender: i64, body: Body) -> Result<MessageRow> {
    let reply_to = match body.reply_to {
        Some(id) if w.message(chat_id, id)?.is_some() => Some(id),
        Some(_) if body.allow_without_reply => None,
        Some(_) => return Err(ApiError::REPLY_NOT_FOUND.into()),
        None => None,
    };
    let now = unix_now();
    let row = w.insert_message(NewMessage {
        chat_id,
        from_id: sender,
        date: now,
        text: Some(body.text),
        entities: entities_json(&body.entities)?,
        reply_to_message_id: reply_to,
        reply_markup: body.reply_markup,
        protect_content: body.protect_content,
    })?;
    w.mark_has_written(chat_id, sender)?;
    for (member, _) in w.chat_members(chat_id)? {
        let member_row =
            w.user(member)?.ok_or_else(|| StoreError::Database(format!("user {member} is missing")))?;
        if member_row.is_bot {
            if member == sender {
                continue;
            }
            let bot =
                w.bot(member)?.ok_or_else(|| StoreError::Database(format!("bot {member} is missing")))?;
            if !bot_accepts(bot.allowed_updates.as_deref(), "message") {
                continue;
            }
            let message = Renderer::new(&*w, member).message(&row)?;
            w.push_update(member, chat_id, now, |update_id| {
                Ok(serde_json::to_string(&Update { update_id, kind: UpdateKind::Message(message) })?)
            })?;
        } else {
            let message = Renderer::new(&*w, member).message(&row)?;
            w.push_event(member, now, |seq| {
                Ok(serde_json::to_string(&ClientEvent { seq, kind: ClientEventKind::Message { message } })?)
            })?;
        }
    }
    Ok(row)
}

impl Core {
    /// Client API `resolveUsername`.
    pub async fn resolve_username(&self, username: Option<String>) -> Result<Resolved> {
        let username = username.unwrap_or_default();
        let username = username.trim().trim_start_matches('@').to_owned();
        if username.is_empty() {
            return Err(ApiError::USERNAME_INVALID.into());
        }
        let row = self
            .store()
            .read(move |r| r.user_by_username(&username).map_err(Error::from))
            .await?
            .ok_or(ApiError::USERNAME_NOT_OCCUPIED)?;
        Ok(Resolved::User(render::user(&row)))
    }

    /// Client API `openPrivateChat`: the private chat with a user, created if needed.
    pub async fn open_private_chat(&self, person: i64, req: OpenPrivateChat) -> Result<Chat> {
        let target = match (req.user_id, req.username) {
            (Some(id), _) => ChatId::Id(id),
            (None, Some(name)) => ChatId::Username(name.trim().trim_start_matches('@').to_owned()),
            (None, None) => return Err(ApiError::bad_request("user_id or username is required").into()),
        };
        self.store()
            .write(move |w| {
                let peer = resolve_peer(&*w, &target).map_err(|_| Error::from(ApiError::PEER_ID_INVALID))?;
                if w.private_chat(person, peer.id)?.is_none() {
                    w.create_private_chat(person, peer.id, unix_now())?;
                }
                Ok(render::private_chat(&peer))
            })
            .await
    }

    /// Client API `sendMessage`: a person writes in one of their chats (a private chat is created
    /// on first use, as when writing to a user found by username).
    pub async fn person_send(&self, person: i64, req: ClientSendMessage) -> Result<Message> {
        let chat_id = req.chat_id.ok_or(ApiError::CHAT_ID_EMPTY)?;
        let text = validate_text(req.text)?;
        let body = Body {
            entities: entities::detect(&text),
            text,
            reply_to: req.reply_to_message_id,
            allow_without_reply: false,
            reply_markup: None,
            protect_content: false,
        };
        self.store()
            .write(move |w| {
                let peer = resolve_peer(&*w, &chat_id)?;
                let chat = match w.private_chat(person, peer.id)? {
                    Some(chat) => chat,
                    None => w.create_private_chat(person, peer.id, unix_now())?,
                };
                let row = append_message(w, chat, person, body)?;
                Renderer::new(&*w, person).message(&row)
            })
            .await
    }

    /// Bot API `sendMessage`.
    pub async fn bot_send(&self, bot: i64, req: SendMessage) -> Result<Message> {
        let chat_id = req.chat_id.ok_or(ApiError::CHAT_ID_EMPTY)?;
        let text = validate_text(req.text)?;
        let parse_mode = req.parse_mode.as_deref().map(|mode| mode.trim().to_ascii_lowercase());
        let entities = match (parse_mode.as_deref(), req.entities) {
            (None | Some(""), Some(entities)) => validate_entities(&text, entities)?,
            // Plain text: the entities Telegram detects by itself (links, mentions, commands, …).
            (None | Some(""), None) => entities::detect(&text),
            (Some("html" | "markdown" | "markdownv2"), _) => {
                return Err(ApiError::cant_parse_entities(
                    "formatting with parse_mode is not available on this server yet",
                )
                .into());
            }
            (Some(_), _) => return Err(ApiError::bad_request("unsupported parse_mode").into()),
        };
        let (reply_to, reply_chat, allow_without_reply) = match req.reply_parameters {
            Some(params) => (Some(params.message_id), params.chat_id, params.allow_sending_without_reply),
            None => (req.reply_to_message_id, None, req.allow_sending_without_reply.unwrap_or(false)),
        };
        if let Some(markup) = &req.reply_markup {
            let depth = markup.values().map(json_depth).max().unwrap_or(0) + 1;
            if depth > REPLY_MARKUP_MAX_DEPTH {
                return Err(ApiError::bad_request("can't parse reply keyboard markup JSON object").into());
            }
        }
        let reply_markup = req
            .reply_markup
            .map(|markup| serde_json::to_string(&markup))
            .transpose()
            .map_err(StoreError::from)?;
        let body = Body {
            text,
            entities,
            reply_to,
            allow_without_reply,
            reply_markup,
            protect_content: req.protect_content.unwrap_or(false),
        };
        self.store()
            .write(move |w| {
                let mut body = body;
                let peer = resolve_peer(&*w, &chat_id)?;
                if peer.is_bot {
                    return Err(Error::from(if peer.id == bot {
                        ApiError::CHAT_NOT_FOUND
                    } else {
                        ApiError::BOT_CANT_MESSAGE_BOTS
                    }));
                }
                let chat = w.private_chat(bot, peer.id)?.ok_or(ApiError::CHAT_NOT_FOUND)?;
                // A reply to a message of another chat is a reply to nothing here.
                let other_chat = match &reply_chat {
                    Some(ChatId::Id(id)) => *id != peer.id,
                    Some(ChatId::Username(name)) => {
                        !peer.username.as_deref().is_some_and(|u| u.eq_ignore_ascii_case(name))
                    }
                    None => false,
                };
                if other_chat {
                    if !body.allow_without_reply {
                        return Err(ApiError::REPLY_NOT_FOUND.into());
                    }
                    body.reply_to = None;
                }
                let peer_has_written =
                    w.chat_members(chat)?.iter().any(|&(id, has_written)| id == peer.id && has_written);
                if !peer_has_written {
                    return Err(ApiError::BOT_CANT_INITIATE.into());
                }
                let row = append_message(w, chat, bot, body)?;
                Renderer::new(&*w, bot).message(&row)
            })
            .await
    }

    /// Client API `getHistory`: messages of one chat, newest last.
    pub async fn history(&self, person: i64, req: GetHistory) -> Result<Vec<Message>> {
        let chat_id = req.chat_id.ok_or(ApiError::CHAT_ID_EMPTY)?;
        let limit = req.limit.unwrap_or(HISTORY_LIMIT_DEFAULT).clamp(1, HISTORY_LIMIT_MAX);
        let before = req.before_message_id;
        self.store()
            .read(move |r| {
                let peer = resolve_peer(r, &chat_id)?;
                let chat = r.private_chat(person, peer.id)?.ok_or(ApiError::CHAT_NOT_FOUND)?;
                let mut renderer = Renderer::new(r, person);
                r.history(chat, before, limit)?.iter().map(|row| renderer.message(row)).collect()
            })
            .await
    }

    /// Client API `getChats`: the person's chats, most recently active first.
    pub async fn chat_list(&self, person: i64) -> Result<Vec<ChatListEntry>> {
        self.store()
            .read(move |r| {
                let mut renderer = Renderer::new(r, person);
                r.chat_list(person, 500)?
                    .iter()
                    .map(|entry| {
                        let chat = match entry.peer_id {
                            Some(peer) => render::private_chat(renderer.user_row(peer)?),
                            None => renderer.chat(entry.chat.id)?,
                        };
                        let last_message =
                            entry.last_message.as_ref().map(|m| renderer.message(m)).transpose()?;
                        Ok(ChatListEntry { chat, last_message })
                    })
                    .collect()
            })
            .await
    }

    /// Events of a person's stream after `after`, oldest first.
    pub async fn events_after(&self, person: i64, after: i64, limit: i64) -> Result<Vec<ClientEvent>> {
        self.store()
            .read(move |r| {
                r.events_after(person, after, limit)?
                    .iter()
                    .map(|event| Ok(serde_json::from_str(&event.payload).map_err(StoreError::from)?))
                    .collect()
            })
            .await
    }

    /// The sequence number of a person's newest event.
    pub async fn last_event_seq(&self, person: i64) -> Result<i64> {
        self.store().read(move |r| r.last_event_seq(person).map_err(Error::from)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_updates_default_excludes_opt_in_types() {
        assert!(bot_accepts(None, "message"));
        assert!(!bot_accepts(None, "chat_member"));
        assert!(bot_accepts(Some("[]"), "message"));
        assert!(!bot_accepts(Some("[\"callback_query\"]"), "message"));
        assert!(bot_accepts(Some("[\"chat_member\"]"), "chat_member"));
    }

    #[test]
    fn text_rules() {
        assert!(matches!(validate_text(None), Err(Error::Api(e)) if e == ApiError::MESSAGE_TEXT_EMPTY));
        assert!(
            matches!(validate_text(Some(" \n".into())), Err(Error::Api(e)) if e == ApiError::MESSAGE_TEXT_EMPTY)
        );
        assert!(validate_text(Some("x".repeat(4096))).is_ok());
        assert!(
            matches!(validate_text(Some("x".repeat(4097))), Err(Error::Api(e)) if e == ApiError::MESSAGE_TOO_LONG)
        );
        // Emoji count two UTF-16 units each, as in Telegram.
        assert!(
            matches!(validate_text(Some("😀".repeat(2049))), Err(Error::Api(e)) if e == ApiError::MESSAGE_TOO_LONG)
        );
    }
}
