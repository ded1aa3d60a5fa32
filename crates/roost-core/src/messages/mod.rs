//! Chats and messages: opening chats, sending, reading history, and the fan-out of each new or
//! edited message to the bots' update queues and the people's event streams.

pub(crate) mod callbacks;
pub(crate) mod compose;
pub(crate) mod editing;
pub mod entities;
pub mod format;
pub(crate) mod render;

use roost_store::{
    ChatKey, Happened, MessageId, MessageRow, NewMessage, Queries, StoreError, StoredEvent, UserId, UserRow,
    Writer, unix_now,
};
use roost_types::limits::{HISTORY_LIMIT_DEFAULT, HISTORY_LIMIT_MAX};
use roost_types::requests::{
    ChatId, ClientSendMessage, GetHistory, OpenPrivateChat, ReplyParameters, SendMessage,
};
use roost_types::{
    ApiError, Chat, ChatListEntry, ClientEvent, ClientEventKind, Message, MessageEntity, OPT_IN_UPDATE_TYPES,
    Resolved,
};

use crate::chats::{ChatRef, bot_send_target, chat_id_for, resolve_chat, resolve_peer_for_person};
use crate::{Core, Error, Result};
use compose::entities_json;
use render::Renderer;

/// One read of a person's event stream ([`Core::events_after`]).
#[derive(Debug)]
pub struct EventPage {
    /// The events to send, oldest first.
    pub events: Vec<ClientEvent>,
    /// The `seq` of the last stored event read (events left out included): where the next read
    /// starts. The `after` asked for when nothing was read.
    pub through: i64,
    /// The read was cut at its limit: more events may follow at once.
    pub more: bool,
}

/// A validated message body.
pub(crate) struct Body {
    pub text: String,
    pub entities: Vec<MessageEntity>,
    pub reply_to: Option<MessageId>,
    pub allow_without_reply: bool,
    pub reply_markup: Option<String>,
    pub protect_content: bool,
    pub forward_origin: Option<String>,
}

/// Whether a bot receives updates of `kind` under its stored `allowed_updates`.
pub(crate) fn bot_accepts(allowed_updates: Option<&str>, kind: &str) -> bool {
    let list: Vec<String> =
        allowed_updates.and_then(|json| serde_json::from_str(json).ok()).unwrap_or_default();
    if list.is_empty() { !OPT_IN_UPDATE_TYPES.contains(&kind) } else { list.iter().any(|k| k == kind) }
}

fn missing(what: &str, id: UserId) -> Error {
    StoreError::Database(format!("{what} {id} is missing")).into()
}

/// Sends a new or edited message to every member but its author's bots: an update to each bot
/// that accepts the kind, an event to each person (the author too, for their other devices).
pub(crate) fn fan_out(
    w: &mut Writer<'_>,
    row: &MessageRow,
    edited: bool,
    renderer: &mut Renderer,
) -> Result<()> {
    let now = unix_now();
    let kind = if edited { "edited_message" } else { "message" };
    for &member in renderer.members(&*w, row.chat_id)?.iter() {
        if renderer.user_row(&*w, member)?.is_bot {
            if member == row.from_id {
                continue;
            }
            let bot = w.bot(member)?.ok_or_else(|| missing("bot", member))?;
            if !bot_accepts(bot.allowed_updates.as_deref(), kind) {
                continue;
            }
            // What happened, by reference: rendered in the dialect that reads the queue.
            let (chat, message_id) = (row.chat_id, row.message_id);
            let happened = if edited {
                Happened::EditedMessage { chat, message_id }
            } else {
                Happened::Message { chat, message_id }
            };
            w.push_update(member, now, &happened)?;
        } else if edited {
            let message = renderer.message(&*w, row, member)?;
            push_event(w, member, now, ClientEventKind::EditedMessage { message })?;
        } else {
            // Rendered for the person when their stream is read.
            w.push_message_event(member, now, row)?;
        }
    }
    Ok(())
}

/// Appends an event to a person's stream.
pub(crate) fn push_event(w: &mut Writer<'_>, person: UserId, now: i64, kind: ClientEventKind) -> Result<()> {
    w.push_event(person, now, |seq| Ok(serde_json::to_string(&ClientEvent { seq, kind })?))?;
    Ok(())
}

/// Sends an event to every person member of a chat; `event` gets the chat id as that person
/// addresses it.
pub(crate) fn notify_people(
    w: &mut Writer<'_>,
    chat: ChatKey,
    mut event: impl FnMut(i64) -> ClientEventKind,
) -> Result<()> {
    let now = unix_now();
    for (member, _) in w.chat_members(chat)? {
        if w.user(member)?.is_some_and(|u| !u.is_bot) {
            let chat_id = chat_id_for(&*w, chat, member)?;
            push_event(w, member, now, event(chat_id))?;
        }
    }
    Ok(())
}

/// Stores a message from `sender` in `chat` and fans it out. Returns the stored row; `renderer`
/// keeps what it looked up for the caller's own answer.
pub(crate) fn append_message(
    w: &mut Writer<'_>,
    chat: ChatKey,
    sender: UserId,
    body: Body,
    renderer: &mut Renderer,
) -> Result<MessageRow> {
    let reply_to = match body.reply_to {
        Some(id) if w.message(chat, id)?.is_some() => Some(id),
        Some(_) if body.allow_without_reply => None,
        Some(_) => return Err(ApiError::REPLY_NOT_FOUND.into()),
        None => None,
    };
    let row = w.insert_message(NewMessage {
        chat_id: chat,
        from_id: sender,
        date: unix_now(),
        text: Some(body.text),
        entities: entities_json(&body.entities)?,
        reply_to_message_id: reply_to,
        reply_markup: body.reply_markup,
        protect_content: body.protect_content,
        forward_origin: body.forward_origin,
    })?;
    // Once set the flag never changes back: skip the update when the members were read already.
    if !renderer.has_written(chat, sender) {
        w.mark_has_written(chat, sender)?;
        renderer.mark_written(chat, sender);
    }
    fan_out(w, &row, false, renderer)?;
    Ok(row)
}

/// What a message replies to, from `reply_parameters` or else the older `reply_to_message_id`:
/// the message, the chat it is in when named, and whether to send without it if it is gone
/// (`allow_without_reply` when only `reply_to_message_id` was given).
pub(crate) fn reply_target(
    parameters: Option<ReplyParameters>,
    reply_to_message_id: Option<i64>,
    allow_without_reply: bool,
) -> (Option<MessageId>, Option<ChatId>, bool) {
    match parameters {
        Some(p) => (Some(MessageId::from_raw(p.message_id)), p.chat_id, p.allow_sending_without_reply),
        None => (reply_to_message_id.map(MessageId::from_raw), None, allow_without_reply),
    }
}

/// Whether a reply target given with a chat id points into the chat with `peer`.
pub(crate) fn same_chat(reply_chat: Option<&ChatId>, peer: &UserRow) -> bool {
    match reply_chat {
        Some(ChatId::Id(id)) => *id == peer.id.raw(),
        Some(ChatId::Username(name)) => {
            peer.username.as_deref().is_some_and(|u| u.eq_ignore_ascii_case(name))
        }
        None => true,
    }
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
            .lookup(move |r| r.user_by_username(&username).map_err(Error::from))
            .await?
            .ok_or(ApiError::USERNAME_NOT_OCCUPIED)?;
        Ok(Resolved::User(render::user(&row)))
    }

    /// Client API `openPrivateChat`: the private chat with a user, created if needed.
    pub async fn open_private_chat(&self, person: UserId, req: OpenPrivateChat) -> Result<Chat> {
        let target = match (req.user_id, req.username) {
            (Some(id), _) => ChatId::Id(id),
            (None, Some(name)) => ChatId::Username(name.trim().trim_start_matches('@').to_owned()),
            (None, None) => return Err(ApiError::USER_ID_OR_USERNAME_REQUIRED.into()),
        };
        self.store()
            .write(move |w| {
                let peer = resolve_peer_for_person(&*w, person, &target)
                    .ok()
                    .filter(|peer| !peer.deleted)
                    .ok_or(ApiError::PEER_ID_INVALID)?;
                w.private_chat_or_create(person, peer.id, unix_now())?;
                Ok(render::private_chat(&peer))
            })
            .await
    }

    /// Client API `sendMessage`: a person writes in one of their chats (a private chat is created
    /// on first use, as when writing to a user found by username).
    pub async fn person_send(&self, person: UserId, req: ClientSendMessage) -> Result<Message> {
        let chat_id = req.chat_id.ok_or(ApiError::CHAT_ID_EMPTY)?;
        let composed = compose::message_text(req.text, None, None).await?;
        let body = Body {
            text: composed.text,
            entities: composed.entities,
            reply_to: req.reply_to_message_id.map(MessageId::from_raw),
            allow_without_reply: false,
            reply_markup: None,
            protect_content: false,
            forward_origin: None,
        };
        // Every check that can fail comes before the first write (a chat created here has no
        // message to reply to): the job needs no savepoint of its own.
        self.store()
            .write_checks_first(move |w| {
                let peer = resolve_peer_for_person(&*w, person, &chat_id)?;
                if peer.deleted {
                    return Err(ApiError::USER_DEACTIVATED.into());
                }
                if body.reply_to.is_some() && w.private_chat(person, peer.id)?.is_none() {
                    return Err(ApiError::REPLY_NOT_FOUND.into());
                }
                let chat = w.private_chat_or_create(person, peer.id, unix_now())?;
                let mut renderer = Renderer::default();
                renderer.seed_user(peer);
                let row = append_message(w, chat, person, body, &mut renderer)?;
                renderer.prepare(&*w, row, person)
            })
            .await?
            .render()
    }

    /// Bot API `sendMessage`.
    pub async fn bot_send(&self, bot: UserId, req: SendMessage) -> Result<Message> {
        let chat_id = req.chat_id.ok_or(ApiError::CHAT_ID_EMPTY)?;
        let composed = compose::message_text(req.text, req.parse_mode.as_deref(), req.entities).await?;
        let (reply_to, reply_chat, allow_without_reply) = reply_target(
            req.reply_parameters,
            req.reply_to_message_id,
            req.allow_sending_without_reply.unwrap_or(false),
        );
        let reply_markup = compose::reply_markup(req.reply_markup)?.map(|(_, json)| json);
        let mut body = Body {
            text: composed.text,
            entities: composed.entities,
            reply_to,
            allow_without_reply,
            reply_markup,
            protect_content: req.protect_content.unwrap_or(false),
            forward_origin: None,
        };
        self.check_chat_rate(bot, &chat_id).await?;
        // Every check that can fail (the target, the reply, the mentions) comes before the first
        // write: the job needs no savepoint of its own.
        self.store()
            .write_checks_first(move |w| {
                let mut renderer = Renderer::default();
                let ChatRef { key: chat, peer } = bot_send_target(w, bot, &chat_id, &mut renderer)?;
                // A reply to a message of another chat is a reply to nothing here.
                if !same_chat(reply_chat.as_ref(), &peer) {
                    if !body.allow_without_reply {
                        return Err(ApiError::REPLY_NOT_FOUND.into());
                    }
                    body.reply_to = None;
                }
                compose::resolve_mentions(&*w, bot, &mut body.entities)?;
                let row = append_message(w, chat, bot, body, &mut renderer)?;
                renderer.prepare(&*w, row, bot)
            })
            .await?
            .render()
    }

    /// Client API `getHistory`: messages of one chat, newest last.
    pub async fn history(&self, person: UserId, req: GetHistory) -> Result<Vec<Message>> {
        let chat_id = req.chat_id.ok_or(ApiError::CHAT_ID_EMPTY)?;
        let limit = req.limit.unwrap_or(HISTORY_LIMIT_DEFAULT).clamp(1, HISTORY_LIMIT_MAX);
        let before = req.before_message_id.map(MessageId::from_raw);
        self.store()
            .read(move |r| {
                let ChatRef { key: chat, .. } = resolve_chat(r, person, &chat_id)?;
                let mut renderer = Renderer::default();
                r.history(chat, before, limit)?.iter().map(|row| renderer.message(r, row, person)).collect()
            })
            .await
    }

    /// Client API `getChats`: the person's chats, most recently active first.
    pub async fn chat_list(&self, person: UserId) -> Result<Vec<ChatListEntry>> {
        self.store()
            .read(move |r| {
                let mut renderer = Renderer::default();
                r.chat_list(person, 500)?
                    .iter()
                    .map(|entry| {
                        let chat = match entry.peer_id {
                            Some(peer) => render::private_chat(renderer.user_row(r, peer)?),
                            None => renderer.chat(r, entry.chat.id, person)?,
                        };
                        let last_message = entry
                            .last_message
                            .as_ref()
                            .map(|m| renderer.message(r, m, person))
                            .transpose()?;
                        Ok(ChatListEntry { chat, last_message })
                    })
                    .collect()
            })
            .await
    }

    /// Up to `limit` stored events of a person's stream after `after`, oldest first. A new
    /// message is rendered from the message as it is now; one deleted since is left out (its
    /// deletion follows it in the stream), so a page may hold fewer events than it read, and
    /// their `seq`s may have gaps: go on from [`EventPage::through`] while [`EventPage::more`].
    pub async fn events_after(&self, person: UserId, after: i64, limit: i64) -> Result<EventPage> {
        // A replay reaches back as far as events are kept (`Core::expire`).
        let oldest = unix_now() - self.config().event_retention.as_secs() as i64;
        self.store()
            .read(move |r| {
                let (stored, more) = r.events_after(person, after, oldest, limit)?;
                let mut page = EventPage {
                    events: Vec::with_capacity(stored.len()),
                    through: stored.last().map_or(after, StoredEvent::seq),
                    more,
                };
                let mut renderer = Renderer::default();
                for event in stored {
                    match event {
                        StoredEvent::Json { payload, .. } => {
                            page.events.push(serde_json::from_str(&payload).map_err(StoreError::from)?)
                        }
                        StoredEvent::Message { seq, chat_id, message_id } => {
                            if let Some(row) = r.message(chat_id, message_id)? {
                                let message = renderer.message(r, &row, person)?;
                                page.events
                                    .push(ClientEvent { seq, kind: ClientEventKind::Message { message } });
                            }
                        }
                    }
                }
                Ok(page)
            })
            .await
    }

    /// The sequence number of a person's newest event.
    pub async fn last_event_seq(&self, person: UserId) -> Result<i64> {
        self.store().lookup(move |r| r.last_event_seq(person).map_err(Error::from)).await
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
}
