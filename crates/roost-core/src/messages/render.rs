//! Turning stored rows into the typed objects one participant sees.
//!
//! The same stored message looks different to each member of its chat: in a private chat the
//! `chat` is always the *other* party. Rendering happens wherever the rows are at hand (inside a
//! write job for fan-out, on a read connection for history), through the [`Queries`] trait; the
//! answer to a write is rendered after its job, from the rows the job gathered ([`Prepared`]).

use std::sync::Arc;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use roost_store::{ChatKey, MessageRow, Queries, StoreError, UserId, UserRow};
use roost_types::{Chat, ChatType, Message, MessageEntity, User};

use crate::Result;

/// A user as the Bot API shows it. `language_code` is shown for people only (as Telegram does).
pub(crate) fn user(row: &UserRow) -> User {
    User {
        id: row.id.raw(),
        is_bot: row.is_bot,
        first_name: row.first_name.to_string(),
        last_name: row.last_name.as_deref().map(str::to_owned),
        username: row.username.as_deref().map(str::to_owned),
        language_code: if row.is_bot { None } else { row.language_code.as_deref().map(str::to_owned) },
    }
}

/// The private chat with `peer`, as the other party sees it.
pub(crate) fn private_chat(peer: &UserRow) -> Chat {
    Chat {
        id: peer.id.raw(),
        kind: ChatType::Private,
        title: None,
        username: peer.username.as_deref().map(str::to_owned),
        first_name: Some(peer.first_name.to_string()),
        last_name: peer.last_name.as_deref().map(str::to_owned),
    }
}

/// Renders stored rows for viewers, remembering the users and chat members it has looked up (in
/// FxHash maps, keyed by ids the server hands out, as the writer's row cache is), so
/// that one write job rendering a message for every member queries each only once. It holds no
/// connection: each call takes the queries to use (a write job's own writer, or a reader).
#[derive(Default)]
pub(crate) struct Renderer {
    users: HashMap<UserId, UserRow>,
    /// Shared so that handing a chat's members out (for every message fanned out and rendered)
    /// copies nothing.
    members: HashMap<ChatKey, Arc<[UserId]>>,
    /// (chat, member) pairs known to have written in the chat (the flag never turns back).
    written: HashSet<(ChatKey, UserId)>,
}

/// Only inline keyboards belong to a message as bots see it (Telegram's Message.reply_markup);
/// people also see the reply keyboards, removals and forced replies sent to them.
fn visible_markup(value: serde_json::Value, viewer_is_bot: bool) -> Option<serde_json::Value> {
    (!viewer_is_bot || value.get("inline_keyboard").is_some()).then_some(value)
}

impl Renderer {
    /// Remembers a user row the caller already has.
    pub(crate) fn seed_user(&mut self, row: UserRow) {
        self.users.insert(row.id, row);
    }

    /// Remembers a chat's members the caller already has, with whether each has written there.
    pub(crate) fn seed_members(&mut self, chat: ChatKey, members: &[(UserId, bool)]) {
        self.members.insert(chat, members.iter().map(|&(id, _)| id).collect());
        self.written.extend(members.iter().filter(|&&(_, written)| written).map(|&(id, _)| (chat, id)));
    }

    /// Whether `member` is known to have written in `chat` already.
    pub(crate) fn has_written(&self, chat: ChatKey, member: UserId) -> bool {
        self.written.contains(&(chat, member))
    }

    /// Remembers that `member` has written in `chat`.
    pub(crate) fn mark_written(&mut self, chat: ChatKey, member: UserId) {
        self.written.insert((chat, member));
    }

    pub(crate) fn user_row(&mut self, q: &impl Queries, id: UserId) -> Result<&UserRow> {
        match self.users.entry(id) {
            std::collections::hash_map::Entry::Occupied(entry) => Ok(entry.into_mut()),
            std::collections::hash_map::Entry::Vacant(entry) => {
                let row = q.user(id)?.ok_or_else(|| StoreError::Database(format!("user {id} is missing")))?;
                Ok(entry.insert(row))
            }
        }
    }

    /// The members of a chat, in join order.
    pub(crate) fn members(&mut self, q: &impl Queries, chat: ChatKey) -> Result<Arc<[UserId]>> {
        if let Some(members) = self.members.get(&chat) {
            return Ok(Arc::clone(members));
        }
        let members: Arc<[UserId]> = q.chat_members(chat)?.into_iter().map(|(id, _)| id).collect();
        self.members.insert(chat, Arc::clone(&members));
        Ok(members)
    }

    /// The chat with internal id `chat_id` as `viewer` sees it. Every chat is private for now: it
    /// is shown as the other member.
    pub(crate) fn chat(&mut self, q: &impl Queries, chat_id: ChatKey, viewer: UserId) -> Result<Chat> {
        let peer = self.peer(q, chat_id, viewer)?;
        Ok(private_chat(self.user_row(q, peer)?))
    }

    /// The member `viewer` sees a private chat as: the other one (themself in a chat alone).
    fn peer(&mut self, q: &impl Queries, chat_id: ChatKey, viewer: UserId) -> Result<UserId> {
        let members = self.members(q, chat_id)?;
        known_peer(&members, chat_id, viewer)
    }

    /// A stored message as `viewer` sees it, with the message it replies to (one level deep).
    pub(crate) fn message(&mut self, q: &impl Queries, row: &MessageRow, viewer: UserId) -> Result<Message> {
        let reply = self.gather(q, row, viewer)?;
        self.render(row, reply.as_ref(), viewer)
    }

    /// Gathers, inside a write job, everything rendering `row` for `viewer` reads, so that the
    /// request's own task renders it once the job has committed ([`Prepared::render`]): the JSON
    /// work of the answer stays off the single writer's path.
    pub(crate) fn prepare(mut self, q: &impl Queries, row: MessageRow, viewer: UserId) -> Result<Prepared> {
        let reply = self.gather(q, &row, viewer)?;
        Ok(Prepared { renderer: self, row, reply, viewer })
    }

    /// Looks up (once) every row that rendering `row` for `viewer` reads; returns the message it
    /// replies to, if that still exists.
    fn gather(&mut self, q: &impl Queries, row: &MessageRow, viewer: UserId) -> Result<Option<MessageRow>> {
        self.gather_alone(q, row, viewer)?;
        let reply = match row.reply_to_message_id {
            Some(reply_id) => q.message(row.chat_id, reply_id)?,
            None => None,
        };
        if let Some(reply) = &reply {
            self.gather_alone(q, reply, viewer)?;
        }
        Ok(reply)
    }

    fn gather_alone(&mut self, q: &impl Queries, row: &MessageRow, viewer: UserId) -> Result<()> {
        self.user_row(q, row.from_id)?;
        self.user_row(q, viewer)?;
        let peer = self.peer(q, row.chat_id, viewer)?;
        self.user_row(q, peer)?;
        Ok(())
    }

    /// Renders from the rows [`Self::gather`] looked up; it queries nothing.
    fn render(&self, row: &MessageRow, reply: Option<&MessageRow>, viewer: UserId) -> Result<Message> {
        let mut message = self.render_alone(row, viewer)?;
        if let Some(reply) = reply {
            message.reply_to_message = Some(Box::new(self.render_alone(reply, viewer)?));
        }
        Ok(message)
    }

    fn render_alone(&self, row: &MessageRow, viewer: UserId) -> Result<Message> {
        let from = user(self.known_user(row.from_id)?);
        let members = self.members.get(&row.chat_id).ok_or_else(|| not_gathered("chat", row.chat_id))?;
        let chat = private_chat(self.known_user(known_peer(members, row.chat_id, viewer)?)?);
        let entities: Vec<MessageEntity> = crate::decode_stored(row.entities.as_deref())?;
        let viewer_is_bot = self.known_user(viewer)?.is_bot;
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
            message_id: row.message_id.raw(),
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

    fn known_user(&self, id: UserId) -> Result<&UserRow> {
        self.users.get(&id).ok_or_else(|| not_gathered("user", id))
    }
}

/// The other member of a private chat with these members (`viewer` in a chat alone).
fn known_peer(members: &[UserId], chat_id: ChatKey, viewer: UserId) -> Result<UserId> {
    if members.is_empty() {
        return Err(StoreError::Database(format!("chat {chat_id} has no members")).into());
    }
    Ok(members.iter().copied().find(|&id| id != viewer).unwrap_or(viewer))
}

/// A row [`Renderer::render`] needed that [`Renderer::gather`] did not look up: a bug.
fn not_gathered(what: &str, id: impl std::fmt::Display) -> crate::Error {
    StoreError::Database(format!("{what} {id} was not looked up for rendering")).into()
}

/// A message stored by a write job, with every row its rendering reads, to be rendered after the
/// job (see [`Renderer::prepare`]).
pub(crate) struct Prepared {
    renderer: Renderer,
    row: MessageRow,
    reply: Option<MessageRow>,
    viewer: UserId,
}

impl Prepared {
    /// The message as the viewer it was prepared for sees it.
    pub(crate) fn render(&self) -> Result<Message> {
        self.renderer.render(&self.row, self.reply.as_ref(), self.viewer)
    }
}
