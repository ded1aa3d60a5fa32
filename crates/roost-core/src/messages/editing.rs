//! The message lifecycle after sending: editing, deleting, forwarding, copying, pinning,
//! reactions and chat actions, for bots (Bot API) and people (client API).

use roost_store::{
    ChatKey, Happened, MessageId, MessageRow, Queries, StoreError, UserId, UserRow, Writer, unix_now,
};
use roost_types::keyboards::ReplyMarkup;
use roost_types::limits::{CAPTION_MAX, CHAT_ACTION_SECS, DELETE_WINDOW_SECS};
use roost_types::requests::{
    ChatId, ClientEditMessage, CopyMessages, DeleteMessages, EditMessageCaption, EditMessageReplyMarkup,
    EditMessageText, ForwardMessages, PinChatMessage, SendChatAction, SetMessageReaction,
};
use roost_types::{ApiError, ClientEventKind, Message, ReactionType};
use serde_json::json;

use crate::chats::{ChatRef, MessageAddress, MessagesAddress, Transfer, bot_send_target, resolve_chat};
use crate::messages::compose::{self, entities_json};
use crate::messages::render::{self, Renderer};
use crate::messages::{Body, append_message, bot_accepts, fan_out, notify_people, reply_target, same_chat};
use crate::{Core, Result};

/// Actions of `sendChatAction`.
const CHAT_ACTIONS: &[&str] = &[
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
];

/// What an edit changes.
struct Edit {
    text: Option<(String, Vec<roost_types::MessageEntity>)>,
    /// `None`: remove the keyboard; `Some`: set it.
    reply_markup: Option<String>,
}

/// A bot's own message, for editing.
fn own_message(w: &Writer<'_>, bot: UserId, at: &MessageAddress) -> Result<(ChatKey, MessageRow)> {
    let (chat, row) = at.resolve(w, bot, ApiError::message_not_found_for("edit"))?;
    if row.from_id != bot {
        return Err(ApiError::message_cant_be("edited").into());
    }
    Ok((chat.key, row))
}

/// Applies an edit unless it changes nothing; fans the edited message out; returns the new row.
fn apply_edit(
    w: &mut Writer<'_>,
    chat: ChatKey,
    row: &MessageRow,
    edit: Edit,
    not_modified: ApiError,
) -> Result<MessageRow> {
    let (text, entities) = match edit.text {
        Some((text, entities)) => (Some(text), entities_json(&entities)?),
        None => (row.text.clone(), row.entities.clone()),
    };
    if text == row.text && entities == row.entities && edit.reply_markup == row.reply_markup {
        return Err(not_modified.into());
    }
    w.edit_message(
        chat,
        row.message_id,
        text.as_deref(),
        entities.as_deref(),
        edit.reply_markup.as_deref(),
        unix_now(),
    )?;
    let edited = w
        .message(chat, row.message_id)?
        .ok_or_else(|| StoreError::Database("edited message vanished".into()))?;
    fan_out(w, &edited, true, &mut Renderer::default())?;
    Ok(edited)
}

fn inline_markup(markup: Option<serde_json::Map<String, serde_json::Value>>) -> Result<Option<String>> {
    match compose::reply_markup(markup)? {
        None => Ok(None),
        Some((ReplyMarkup::Inline(_), json)) => Ok(Some(json)),
        Some(_) => Err(ApiError::INLINE_KEYBOARD_EXPECTED.into()),
    }
}

/// Whether a bot may delete `row` at `now`: in a private chat, any message younger than 48 hours.
fn deletable_by_bot(row: &MessageRow, now: i64) -> bool {
    now - row.date <= DELETE_WINDOW_SECS
}

/// Deletes messages of a chat and tells its people; returns the ids that existed.
fn delete_and_notify(w: &mut Writer<'_>, chat: ChatKey, ids: &[MessageId]) -> Result<Vec<MessageId>> {
    let mut deleted = Vec::new();
    for &id in ids {
        if w.delete_message(chat, id)? {
            deleted.push(id);
        }
    }
    if !deleted.is_empty() {
        notify_people(w, chat, |chat_id| ClientEventKind::DeletedMessages {
            chat_id,
            message_ids: deleted.iter().map(|id| id.raw()).collect(),
        })?;
    }
    Ok(deleted)
}

/// A new body with a stored message's text and entities (the rest filled by the caller).
fn copy_of(row: &MessageRow) -> Result<Body> {
    Ok(Body {
        text: row.text.clone().unwrap_or_default(),
        entities: crate::decode_stored(row.entities.as_deref())?,
        reply_to: None,
        allow_without_reply: false,
        reply_markup: None,
        protect_content: false,
        forward_origin: None,
    })
}

/// Sends again, from the bot into `target`, the messages `ids` of `source` (forwardMessage(s) and
/// copyMessage(s); `verb` names the operation in errors: ("forward", "forwarded")). With `many`, missing messages are
/// skipped; otherwise a missing one is an error. Protected messages are refused.
#[allow(clippy::too_many_arguments)]
fn resend(
    w: &mut Writer<'_>,
    source: ChatKey,
    target: ChatKey,
    bot: UserId,
    ids: &[MessageId],
    many: bool,
    (verb, done): (&'static str, &'static str),
    renderer: &mut Renderer,
    body: impl Fn(&Writer<'_>, &MessageRow) -> Result<Body>,
) -> Result<Vec<MessageRow>> {
    let mut sent = Vec::new();
    for &id in ids {
        let Some(row) = w.message(source, id)? else {
            if many {
                continue;
            }
            return Err(ApiError::message_not_found_for(verb).into());
        };
        if row.protect_content {
            return Err(ApiError::message_cant_be(done).into());
        }
        let body = body(&*w, &row)?;
        sent.push(append_message(w, target, bot, body, renderer)?);
    }
    Ok(sent)
}

/// Checks a reaction list: emoji or custom emoji, at most `max` of them.
fn check_reaction(reaction: Option<Vec<ReactionType>>, max: usize) -> Result<Vec<ReactionType>> {
    let reaction = reaction.unwrap_or_default();
    if reaction.len() > max {
        return Err(ApiError::REACTIONS_TOO_MANY.into());
    }
    for r in &reaction {
        let valid = match r {
            ReactionType::Emoji { emoji } => !emoji.trim().is_empty() && emoji.len() <= 32,
            ReactionType::CustomEmoji { custom_emoji_id } => {
                !custom_emoji_id.is_empty() && custom_emoji_id.bytes().all(|b| b.is_ascii_digit())
            }
            ReactionType::Paid => false,
        };
        if !valid {
            return Err(ApiError::REACTION_INVALID.into());
        }
    }
    Ok(reaction)
}

/// Stores a member's reactions, tells the chat's people, and sends `message_reaction` to bots of
/// the chat that asked for it (other than the one reacting).
fn react(
    w: &mut Writer<'_>,
    chat: ChatKey,
    message_id: MessageId,
    user: &UserRow,
    reaction: Vec<ReactionType>,
) -> Result<()> {
    let old = w.reaction(chat, message_id, user.id)?;
    let json = (!reaction.is_empty())
        .then(|| serde_json::to_string(&reaction))
        .transpose()
        .map_err(StoreError::from)?;
    w.set_reaction(chat, message_id, user.id, json.as_deref())?;
    // The pair [old, new] as the reactions table stores each list: a snapshot, since the table
    // keeps only the newest.
    let reactions = format!("[{},{}]", old.as_deref().unwrap_or("[]"), json.as_deref().unwrap_or("[]"));
    let now = unix_now();
    for (member, _) in w.chat_members(chat)? {
        if member == user.id {
            continue;
        }
        let Some(bot) = w.bot(member)? else { continue };
        if !bot_accepts(bot.allowed_updates.as_deref(), "message_reaction") {
            continue;
        }
        let happened =
            Happened::MessageReaction { chat, message_id, user: user.id, reactions: reactions.clone() };
        w.push_update(member, now, &happened)?;
    }
    let user_id = user.id.raw();
    notify_people(w, chat, |chat_id| ClientEventKind::MessageReaction {
        chat_id,
        message_id: message_id.raw(),
        user_id,
        reaction: reaction.clone(),
    })
}

impl Core {
    /// Bot API `editMessageText`. Without `reply_markup` the inline keyboard is removed, as in
    /// Telegram.
    pub async fn edit_message_text(&self, bot: UserId, req: EditMessageText) -> Result<Message> {
        if req.inline_message_id.is_some() {
            return Err(ApiError::message_not_found_for("edit").into());
        }
        let at = MessageAddress::required(req.chat_id, req.message_id)?;
        let composed = compose::message_text(req.text, req.parse_mode.as_deref(), req.entities).await?;
        let reply_markup = inline_markup(req.reply_markup)?;
        self.store()
            .write(move |w| {
                let (chat, row) = own_message(w, bot, &at)?;
                if row.text.is_none() {
                    return Err(ApiError::NO_TEXT_TO_EDIT.into());
                }
                let mut entities = composed.entities;
                compose::resolve_mentions(&*w, bot, &mut entities)?;
                let edit = Edit { text: Some((composed.text, entities)), reply_markup };
                let edited = apply_edit(w, chat, &row, edit, ApiError::MESSAGE_NOT_MODIFIED)?;
                Renderer::default().message(&*w, &edited, bot)
            })
            .await
    }

    /// Bot API `editMessageCaption`. Messages without media have no caption to edit.
    pub async fn edit_message_caption(&self, bot: UserId, req: EditMessageCaption) -> Result<Message> {
        if req.inline_message_id.is_some() {
            return Err(ApiError::message_not_found_for("edit").into());
        }
        let at = MessageAddress::required(req.chat_id, req.message_id)?;
        if let Some(caption) = &req.caption
            && crate::messages::entities::utf16_len(caption) > CAPTION_MAX
        {
            return Err(ApiError::CAPTION_TOO_LONG.into());
        }
        self.store()
            .write(move |w| {
                own_message(w, bot, &at)?;
                // Every message is a text message until media land: none has a caption.
                Err::<Message, _>(ApiError::NO_CAPTION_TO_EDIT.into())
            })
            .await
    }

    /// Bot API `editMessageReplyMarkup`.
    pub async fn edit_message_reply_markup(
        &self,
        bot: UserId,
        req: EditMessageReplyMarkup,
    ) -> Result<Message> {
        if req.inline_message_id.is_some() {
            return Err(ApiError::message_not_found_for("edit").into());
        }
        let at = MessageAddress::required(req.chat_id, req.message_id)?;
        let reply_markup = inline_markup(req.reply_markup)?;
        self.store()
            .write(move |w| {
                let (chat, row) = own_message(w, bot, &at)?;
                let edited = apply_edit(
                    w,
                    chat,
                    &row,
                    Edit { text: None, reply_markup },
                    ApiError::MESSAGE_NOT_MODIFIED,
                )?;
                Renderer::default().message(&*w, &edited, bot)
            })
            .await
    }

    /// Bot API `deleteMessage`: in a private chat a bot may delete any message younger than 48
    /// hours.
    pub async fn bot_delete_message(
        &self,
        bot: UserId,
        chat_id: Option<ChatId>,
        message_id: Option<i64>,
    ) -> Result<bool> {
        let at = MessageAddress::required(chat_id, message_id)?;
        self.store()
            .write(move |w| {
                let (chat, row) = at.resolve(&*w, bot, ApiError::message_not_found_for("delete"))?;
                if !deletable_by_bot(&row, unix_now()) {
                    return Err(ApiError::message_cant_be("deleted").into());
                }
                delete_and_notify(w, chat.key, &[row.message_id])?;
                Ok(true)
            })
            .await
    }

    /// Bot API `deleteMessages`: missing messages are skipped.
    pub async fn bot_delete_messages(&self, bot: UserId, req: DeleteMessages) -> Result<bool> {
        let at = MessagesAddress::required(req.chat_id, req.message_ids)?;
        self.store()
            .write(move |w| {
                let chat = at.resolve(&*w, bot)?;
                let now = unix_now();
                let mut deletable = Vec::new();
                for &id in &at.ids {
                    if w.message(chat, id)?.is_some_and(|row| deletable_by_bot(&row, now)) {
                        deletable.push(id);
                    }
                }
                delete_and_notify(w, chat, &deletable)?;
                Ok(true)
            })
            .await
    }

    /// Bot API `forwardMessage` (`message_id`) and `forwardMessages` (`message_ids`).
    pub async fn forward_messages(
        &self,
        bot: UserId,
        req: ForwardMessages,
        many: bool,
    ) -> Result<Vec<Message>> {
        let transfer =
            Transfer::required(req.chat_id, req.from_chat_id, (req.message_id, req.message_ids), many)?;
        let protect = req.protect_content.unwrap_or(false);
        self.check_chat_rate(bot, &transfer.chat_id).await?;
        self.store()
            .write(move |w| {
                let mut renderer = Renderer::default();
                let (source, target) = transfer.resolve(w, bot, &mut renderer)?;
                let rows = resend(w, source, target.key, bot, &transfer.ids, many, ("forward", "forwarded"), &mut renderer, |w, row| {
                    let origin = match &row.forward_origin {
                        Some(origin) => origin.clone(),
                        None => {
                            let author = w.user(row.from_id)?.ok_or_else(|| StoreError::Database("author missing".into()))?;
                            json!({"type": "user", "date": row.date, "sender_user": render::user(&author)}).to_string()
                        }
                    };
                    Ok(Body {
                        reply_to: None,
                        allow_without_reply: true,
                        reply_markup: None,
                        protect_content: protect,
                        forward_origin: Some(origin),
                        ..copy_of(row)?
                    })
                })?;
                let sent: Vec<Message> = rows.iter().map(|row| renderer.message(&*w, row, bot)).collect::<Result<_>>()?;
                Ok(sent)
            })
            .await
    }

    /// Bot API `copyMessage` (`message_id`) and `copyMessages` (`message_ids`).
    pub async fn copy_messages(
        &self,
        bot: UserId,
        req: CopyMessages,
        many: bool,
    ) -> Result<Vec<roost_types::MessageId>> {
        let transfer =
            Transfer::required(req.chat_id, req.from_chat_id, (req.message_id, req.message_ids), many)?;
        let reply_markup =
            if many { None } else { compose::reply_markup(req.reply_markup)?.map(|(_, json)| json) };
        let (reply_to, reply_chat, allow_without_reply) =
            reply_target(req.reply_parameters, req.reply_to_message_id, false);
        let protect = req.protect_content.unwrap_or(false);
        self.check_chat_rate(bot, &transfer.chat_id).await?;
        self.store()
            .write(move |w| {
                let mut renderer = Renderer::default();
                let (source, target) = transfer.resolve(w, bot, &mut renderer)?;
                let reply_to = if same_chat(reply_chat.as_ref(), &target.peer) { reply_to } else { None };
                let rows = resend(
                    w,
                    source,
                    target.key,
                    bot,
                    &transfer.ids,
                    many,
                    ("copy", "copied"),
                    &mut renderer,
                    |_, row| {
                        Ok(Body {
                            reply_to,
                            allow_without_reply: allow_without_reply || many,
                            reply_markup: reply_markup.clone(),
                            protect_content: protect,
                            forward_origin: None,
                            ..copy_of(row)?
                        })
                    },
                )?;
                let sent: Vec<roost_types::MessageId> = rows
                    .iter()
                    .map(|row| roost_types::MessageId { message_id: row.message_id.raw() })
                    .collect();
                Ok(sent)
            })
            .await
    }

    /// Bot API `pinChatMessage`.
    pub async fn pin_message(&self, bot: UserId, req: PinChatMessage) -> Result<bool> {
        let at = MessageAddress::required(req.chat_id, req.message_id)?;
        self.store()
            .write(move |w| {
                let (chat, row) = at.resolve(&*w, bot, ApiError::message_not_found_for("pin"))?;
                let (chat, message_id) = (chat.key, row.message_id);
                w.pin_message(chat, message_id, unix_now())?;
                notify_people(w, chat, |chat_id| ClientEventKind::MessagePinned {
                    chat_id,
                    message_id: message_id.raw(),
                })?;
                Ok(true)
            })
            .await
    }

    /// Bot API `unpinChatMessage` (one message, or the most recently pinned) and
    /// `unpinAllChatMessages` (`all`).
    pub async fn unpin_messages(&self, bot: UserId, req: PinChatMessage, all: bool) -> Result<bool> {
        let chat_id = req.chat_id.ok_or(ApiError::CHAT_ID_EMPTY)?;
        self.store()
            .write(move |w| {
                let ChatRef { key: chat, .. } = resolve_chat(&*w, bot, &chat_id)?;
                let target = if all {
                    None
                } else {
                    req.message_id.map(MessageId::from_raw).or(w.pinned_messages(chat)?.first().copied())
                };
                if !all && target.is_none() {
                    return Ok(true);
                }
                if w.unpin_messages(chat, target)? > 0 {
                    let ids: Vec<i64> = target.into_iter().map(MessageId::raw).collect();
                    notify_people(w, chat, |chat_id| ClientEventKind::MessagesUnpinned {
                        chat_id,
                        message_ids: ids.clone(),
                    })?;
                }
                Ok(true)
            })
            .await
    }

    /// Bot API `setMessageReaction` (a bot sets at most one reaction).
    pub async fn bot_set_reaction(&self, bot: UserId, req: SetMessageReaction) -> Result<bool> {
        self.set_reaction(bot, req, 1, ApiError::message_not_found_for("react")).await
    }

    /// Sets `actor`'s reactions (at most `max`) to a message of one of their private chats.
    async fn set_reaction(
        &self,
        actor: UserId,
        req: SetMessageReaction,
        max: usize,
        not_found: ApiError,
    ) -> Result<bool> {
        let at = MessageAddress::required(req.chat_id, req.message_id)?;
        let reaction = check_reaction(req.reaction, max)?;
        self.store()
            .write(move |w| {
                let (chat, row) = at.resolve(&*w, actor, not_found)?;
                let me = w.user(actor)?.ok_or(ApiError::UNAUTHORIZED)?;
                react(w, chat.key, row.message_id, &me, reaction)?;
                Ok(true)
            })
            .await
    }

    /// Bot API `sendChatAction`: the person sees the action for five seconds.
    pub async fn send_chat_action(&self, bot: UserId, req: SendChatAction) -> Result<bool> {
        let chat_id = req.chat_id.ok_or(ApiError::CHAT_ID_EMPTY)?;
        let action = req.action.unwrap_or_default();
        if !CHAT_ACTIONS.contains(&action.as_str()) {
            return Err(ApiError::CHAT_ACTION_INVALID.into());
        }
        self.store()
            .write(move |w| {
                let ChatRef { key: chat, .. } = bot_send_target(w, bot, &chat_id, &mut Renderer::default())?;
                let expires_at = unix_now() + CHAT_ACTION_SECS;
                notify_people(w, chat, |chat_id| ClientEventKind::ChatAction {
                    chat_id,
                    user_id: bot.raw(),
                    action: action.clone(),
                    expires_at,
                })?;
                Ok(true)
            })
            .await
    }

    /// Client API `editMessage`: a person edits the text of one of their own messages.
    pub async fn person_edit(&self, person: UserId, req: ClientEditMessage) -> Result<Message> {
        let at = MessageAddress::required(req.chat_id, req.message_id)?;
        let composed = compose::message_text(req.text, None, None).await?;
        self.store()
            .write(move |w| {
                let (chat, row) = at.resolve(&*w, person, ApiError::MESSAGE_ID_INVALID)?;
                let chat = chat.key;
                if row.from_id != person {
                    return Err(ApiError::MESSAGE_AUTHOR_REQUIRED.into());
                }
                let edit = Edit {
                    text: Some((composed.text, composed.entities)),
                    reply_markup: row.reply_markup.clone(),
                };
                let edited = apply_edit(w, chat, &row, edit, ApiError::CLIENT_MESSAGE_NOT_MODIFIED)?;
                Renderer::default().message(&*w, &edited, person)
            })
            .await
    }

    /// Client API `deleteMessages`: in a private chat a person may delete any message, for both.
    pub async fn person_delete(&self, person: UserId, req: DeleteMessages) -> Result<bool> {
        let at = MessagesAddress::required(req.chat_id, req.message_ids)?;
        self.store()
            .write(move |w| {
                let chat = at.resolve(&*w, person)?;
                delete_and_notify(w, chat, &at.ids)?;
                Ok(true)
            })
            .await
    }

    /// Client API `setReaction`: a person reacts (up to three reactions).
    pub async fn person_react(&self, person: UserId, req: SetMessageReaction) -> Result<bool> {
        self.set_reaction(person, req, 3, ApiError::MESSAGE_ID_INVALID).await
    }
}
