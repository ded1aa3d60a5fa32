//! Turning stored rows into the typed objects one participant sees.
//!
//! The same stored message looks different to each member of its chat: in a private chat the
//! `chat` is always the *other* party. Rendering happens wherever the rows are at hand (inside a
//! write job for fan-out, on a read connection for history), through the [`Queries`] trait.

use std::collections::HashMap;

use roost_store::{ChatRow, MessageRow, Queries, StoreError, UserRow};
use roost_types::{Chat, ChatType, Message, MessageEntity, User};

use crate::Result;

/// A user as the Bot API shows it. `language_code` is shown for people only (as Telegram does).
pub(crate) fn user(row: &UserRow) -> User {
    User {
        id: row.id,
        is_bot: row.is_bot,
        first_name: row.first_name.clone(),
        last_name: row.last_name.clone(),
        username: row.username.clone(),
        language_code: if row.is_bot { None } else { row.language_code.clone() },
    }
}

/// The private chat with `peer`, as the other party sees it.
pub(crate) fn private_chat(peer: &UserRow) -> Chat {
    Chat {
        id: peer.id,
        kind: ChatType::Private,
        title: None,
        username: peer.username.clone(),
        first_name: Some(peer.first_name.clone()),
        last_name: peer.last_name.clone(),
    }
}

/// Renders messages for one viewer, remembering the users it has looked up.
pub(crate) struct Renderer<'q, Q: Queries> {
    queries: &'q Q,
    viewer: i64,
    users: HashMap<i64, UserRow>,
    chats: HashMap<i64, Chat>,
}

/// Only inline keyboards belong to a message as bots see it (Telegram's Message.reply_markup);
/// people also see the reply keyboards, removals and forced replies sent to them.
fn visible_markup(value: serde_json::Value, viewer_is_bot: bool) -> Option<serde_json::Value> {
    (!viewer_is_bot || value.get("inline_keyboard").is_some()).then_some(value)
}

impl<'q, Q: Queries> Renderer<'q, Q> {
    pub(crate) fn new(queries: &'q Q, viewer: i64) -> Self {
        Renderer { queries, viewer, users: HashMap::new(), chats: HashMap::new() }
    }

    pub(crate) fn user_row(&mut self, id: i64) -> Result<&UserRow> {
        if !self.users.contains_key(&id) {
            let row = self
                .queries
                .user(id)?
                .ok_or_else(|| StoreError::Database(format!("user {id} is missing")))?;
            self.users.insert(id, row);
        }
        self.users.get(&id).ok_or_else(|| StoreError::Database(format!("user {id} is missing")).into())
    }

    /// The chat with internal id `chat_id` as the viewer sees it.
    pub(crate) fn chat(&mut self, chat_id: i64) -> Result<Chat> {
        if let Some(chat) = self.chats.get(&chat_id) {
            return Ok(chat.clone());
        }
        let row = self
            .queries
            .chat(chat_id)?
            .ok_or_else(|| StoreError::Database(format!("chat {chat_id} is missing")))?;
        let chat = self.chat_from_row(&row)?;
        self.chats.insert(chat_id, chat.clone());
        Ok(chat)
    }

    fn chat_from_row(&mut self, row: &ChatRow) -> Result<Chat> {
        match row.kind.as_str() {
            "private" => {
                let members = self.queries.chat_members(row.id)?;
                let peer =
                    members.iter().map(|&(id, _)| id).find(|&id| id != self.viewer).unwrap_or(self.viewer);
                Ok(private_chat(self.user_row(peer)?))
            }
            other => Err(StoreError::Database(format!("unknown chat type {other}")).into()),
        }
    }

    /// A stored message as the viewer sees it, with the message it replies to (one level deep).
    pub(crate) fn message(&mut self, row: &MessageRow) -> Result<Message> {
        let mut message = self.message_alone(row)?;
        if let Some(reply_id) = row.reply_to_message_id
            && let Some(reply) = self.queries.message(row.chat_id, reply_id)?
        {
            message.reply_to_message = Some(Box::new(self.message_alone(&reply)?));
        }
        Ok(message)
    }

    fn message_alone(&mut self, row: &MessageRow) -> Result<Message> {
        let from = user(self.user_row(row.from_id)?);
        let chat = self.chat(row.chat_id)?;
        let entities: Vec<MessageEntity> = match &row.entities {
            Some(json) => serde_json::from_str(json).map_err(StoreError::from)?,
            None => Vec::new(),
        };
        let viewer_is_bot = self.user_row(self.viewer)?.is_bot;
        let reply_markup = match &row.reply_markup {
            Some(json) => {
                visible_markup(serde_json::from_str(json).map_err(StoreError::from)?, viewer_is_bot)
            }
            None => None,
        };
        let forward_origin = match &row.forward_origin {
            Some(json) => Some(serde_json::from_str(json).map_err(StoreError::from)?),
            None => None,
        };
        Ok(Message {
            message_id: row.message_id,
            from: Some(from),
            date: row.date,
            chat,
            forward_origin,
            reply_to_message: None,
            edit_date: row.edit_date,
            has_protected_content: row.protect_content,
            text: row.text.clone(),
            entities,
            reply_markup,
        })
    }
}
