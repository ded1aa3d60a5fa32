//! Chats as requests name them: the one resolution every method goes through.
//!
//! A request names a chat by a user id (a private chat is addressed by the other party, as in
//! Telegram) or by `@username`; a dialect's edge turns its own names (WWChat's UUIDs) into one of
//! these first. [`resolve_chat`] turns that into the chat's internal [`ChatKey`] for the one
//! making the request, and [`MessageAddress::resolve`] does the same for a message of a chat, so
//! that no method opens with its own "find the chat, load the message, check" steps. Groups and
//! channels, when they come, are resolved here too.

use roost_store::{ChatKey, MessageId, MessageRow, Queries, UserId, UserRow, Writer};
use roost_types::ApiError;
use roost_types::limits::MESSAGE_IDS_MAX;
use roost_types::requests::ChatId;

use crate::messages::render::Renderer;
use crate::{Core, Error, Result};

/// A chat as a request named it, resolved for whoever made the request.
pub(crate) struct ChatRef {
    /// The chat's internal key.
    pub key: ChatKey,
    /// The other party of the private chat.
    pub peer: UserRow,
}

/// The chat `chat_id` names, as `viewer` (a bot or a person) sees it: `chat not found` unless
/// `viewer` is in it.
pub(crate) fn resolve_chat(q: &impl Queries, viewer: UserId, chat_id: &ChatId) -> Result<ChatRef> {
    let peer = resolve_peer(q, chat_id)?;
    let key = q.private_chat(viewer, peer.id)?.ok_or(ApiError::CHAT_NOT_FOUND)?;
    Ok(ChatRef { key, peer })
}

/// A message as a request names it: its chat and its id there.
pub(crate) struct MessageAddress {
    pub chat_id: ChatId,
    pub message_id: MessageId,
}

impl MessageAddress {
    /// From a request's fields, each of which Telegram requires with its own words.
    pub(crate) fn required(chat_id: Option<ChatId>, message_id: Option<i64>) -> Result<MessageAddress> {
        let chat_id = chat_id.ok_or(ApiError::CHAT_ID_EMPTY)?;
        let message_id = message_id.ok_or(ApiError::MESSAGE_ID_MISSING)?;
        Ok(MessageAddress { chat_id, message_id: MessageId::from_raw(message_id) })
    }

    /// The chat and the message, for `viewer`; `missing` when the chat has no such message.
    pub(crate) fn resolve(
        &self,
        q: &impl Queries,
        viewer: UserId,
        missing: ApiError,
    ) -> Result<(ChatRef, MessageRow)> {
        let chat = resolve_chat(q, viewer, &self.chat_id)?;
        let row = q.message(chat.key, self.message_id)?.ok_or(missing)?;
        Ok((chat, row))
    }
}

/// Several messages of one chat as a request names them (`deleteMessages`).
pub(crate) struct MessagesAddress {
    pub chat_id: ChatId,
    /// 1 to 100 ids, sorted, without repeats.
    pub ids: Vec<MessageId>,
}

impl MessagesAddress {
    /// From a request's fields, each of which Telegram requires with its own words.
    pub(crate) fn required(chat_id: Option<ChatId>, ids: Option<Vec<i64>>) -> Result<MessagesAddress> {
        let chat_id = chat_id.ok_or(ApiError::CHAT_ID_EMPTY)?;
        Ok(MessagesAddress { chat_id, ids: message_ids_required(ids)? })
    }

    /// The chat, for `viewer`.
    pub(crate) fn resolve(&self, q: &impl Queries, viewer: UserId) -> Result<ChatKey> {
        Ok(resolve_chat(q, viewer, &self.chat_id)?.key)
    }
}

/// Messages of one chat to send into another (forward, copy) as a request names them.
pub(crate) struct Transfer {
    /// Where they go.
    pub chat_id: ChatId,
    /// Where they are.
    pub from_chat_id: ChatId,
    /// Their ids in `from_chat_id`: one (`message_id`), or up to 100 (`message_ids`, sorted, without
    /// repeats) when `many`.
    pub ids: Vec<MessageId>,
}

impl Transfer {
    /// From a request's fields, each of which Telegram requires with its own words.
    pub(crate) fn required(
        chat_id: Option<ChatId>,
        from_chat_id: Option<ChatId>,
        (message_id, message_ids): (Option<i64>, Option<Vec<i64>>),
        many: bool,
    ) -> Result<Transfer> {
        let chat_id = chat_id.ok_or(ApiError::CHAT_ID_EMPTY)?;
        let from_chat_id = from_chat_id.ok_or(ApiError::FROM_CHAT_ID_EMPTY)?;
        let ids = if many {
            message_ids_required(message_ids)?
        } else {
            vec![MessageId::from_raw(message_id.ok_or(ApiError::MESSAGE_ID_MISSING)?)]
        };
        Ok(Transfer { chat_id, from_chat_id, ids })
    }

    /// The source chat (one `bot` is in) and the target (one it may send to).
    pub(crate) fn resolve(
        &self,
        w: &Writer<'_>,
        bot: UserId,
        renderer: &mut Renderer,
    ) -> Result<(ChatKey, ChatRef)> {
        let source = resolve_chat(w, bot, &self.from_chat_id)?;
        let target = bot_send_target(w, bot, &self.chat_id, renderer)?;
        Ok((source.key, target))
    }
}

/// A request's `message_ids`: 1 to 100, returned sorted and without repeats.
pub(crate) fn message_ids_required(ids: Option<Vec<i64>>) -> Result<Vec<MessageId>> {
    let mut ids = ids.unwrap_or_default();
    if ids.is_empty() || ids.len() > MESSAGE_IDS_MAX {
        return Err(ApiError::MESSAGE_IDS_INVALID.into());
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids.into_iter().map(MessageId::from_raw).collect())
}

/// The user a chat id names. `chat not found` if there is none.
pub(crate) fn resolve_peer(q: &impl Queries, chat_id: &ChatId) -> Result<UserRow> {
    let user = match chat_id {
        ChatId::Id(id) if *id > 0 => q.user(UserId::from_raw(*id))?,
        ChatId::Id(_) => None,
        ChatId::Username(name) => q.user_by_username(name)?,
    };
    user.ok_or_else(|| ApiError::CHAT_NOT_FOUND.into())
}

/// [`resolve_peer`] for a person: by username anyone, by id only a bot (bots are public), the
/// person themself, or someone they already share a chat with. So ids, which are sequential,
/// cannot be walked to list the people of a server.
pub(crate) fn resolve_peer_for_person(q: &impl Queries, person: UserId, chat_id: &ChatId) -> Result<UserRow> {
    let peer = resolve_peer(q, chat_id)?;
    if matches!(chat_id, ChatId::Id(_)) && !knows(q, person, &peer)? {
        return Err(ApiError::CHAT_NOT_FOUND.into());
    }
    Ok(peer)
}

/// Whether `viewer` has met `user`: themself, or a chat in common. What a bot or person may learn
/// of a user by id alone (a name in a text mention, a chat opened by id) depends on it.
pub(crate) fn knows(q: &impl Queries, viewer: UserId, user: &UserRow) -> Result<bool> {
    Ok(user.is_bot || user.id == viewer || q.private_chat(viewer, user.id)?.is_some())
}

/// How `viewer` addresses a chat: a private chat by the other party's id.
pub(crate) fn chat_id_for(q: &impl Queries, chat: ChatKey, viewer: UserId) -> Result<i64> {
    Ok(q.chat_members(chat)?.iter().map(|&(id, _)| id).find(|&id| id != viewer).unwrap_or(viewer).raw())
}

/// The chat a bot may send to: a person, who has written to the bot. The chat's members and the
/// person are remembered in `renderer`.
pub(crate) fn bot_send_target(
    w: &Writer<'_>,
    bot: UserId,
    chat_id: &ChatId,
    renderer: &mut Renderer,
) -> Result<ChatRef> {
    let peer = resolve_peer(w, chat_id)?;
    if peer.deleted {
        return Err(ApiError::USER_DEACTIVATED.into());
    }
    if peer.is_bot {
        return Err(Error::from(if peer.id == bot {
            ApiError::CHAT_NOT_FOUND
        } else {
            ApiError::BOT_CANT_MESSAGE_BOTS
        }));
    }
    let key = w.private_chat(bot, peer.id)?.ok_or(ApiError::CHAT_NOT_FOUND)?;
    let members = w.chat_members(key)?;
    if !members.iter().any(|&(id, has_written)| id == peer.id && has_written) {
        return Err(ApiError::BOT_CANT_INITIATE.into());
    }
    renderer.seed_members(key, &members);
    renderer.seed_user(peer.clone());
    Ok(ChatRef { key, peer })
}

impl Core {
    /// The id by which a bot addresses the chat `chat_id` names (for `@username`, that user's id;
    /// a number as it is). A dialect's edge uses it to check that the ids of one request agree.
    pub async fn chat_wire_id(&self, chat_id: ChatId) -> Result<i64> {
        match chat_id {
            ChatId::Id(id) => Ok(id),
            ChatId::Username(_) => {
                self.store().lookup(move |r| Ok::<_, Error>(resolve_peer(r, &chat_id)?.id.raw())).await
            }
        }
    }
}
