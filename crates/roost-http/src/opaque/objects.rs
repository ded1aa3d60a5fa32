//! WWChat's objects: the core's objects with every user, chat and message id as its UUID, as one
//! bot sees them.
//!
//! The core renders a message, an update or a user once, in the shape all five dialects share
//! (Telegram's object model); this view replaces the ids in it by their UUIDs. Which number is a
//! user, a chat or a message is known from the field it is in, so the walk follows the objects'
//! structure: Update → Message / CallbackQuery / MessageReactionUpdated → User, Chat, Message,
//! entities, forward origin.

use roost_store::UserId;
use serde_json::{Map, Value};

use super::ids::Ids;

/// Objects as the bot `viewer` sees them.
pub struct View<'a> {
    pub ids: &'a Ids,
    pub viewer: UserId,
}

fn number(object: &Map<String, Value>, field: &str) -> Option<i64> {
    object.get(field).and_then(Value::as_i64)
}

impl View<'_> {
    /// A User (or a user inside getMe).
    pub fn user(&self, value: &mut Value) {
        if let Some(object) = value.as_object_mut()
            && let Some(id) = number(object, "id")
        {
            object.insert("id".into(), self.ids.user(id).into());
        }
    }

    /// A Chat. A private chat is named by the other party, so its UUID is that user's.
    pub fn chat(&self, value: &mut Value) {
        self.user(value);
    }

    /// A Message, with the message it replies to.
    pub fn message(&self, value: &mut Value) {
        let Some(object) = value.as_object_mut() else { return };
        self.message_id(object);
        if let Some(from) = object.get_mut("from") {
            self.user(from);
        }
        if let Some(chat) = object.get_mut("chat") {
            self.chat(chat);
        }
        if let Some(reply) = object.get_mut("reply_to_message") {
            self.message(reply);
        }
        if let Some(origin) = object.get_mut("forward_origin").and_then(Value::as_object_mut) {
            if let Some(user) = origin.get_mut("sender_user") {
                self.user(user);
            }
            if let Some(chat) = origin.get_mut("chat") {
                self.chat(chat);
            }
        }
        if let Some(Value::Array(entities)) = object.get_mut("entities") {
            for entity in entities {
                if let Some(user) = entity.get_mut("user") {
                    self.user(user);
                }
            }
        }
    }

    /// The `message_id` of an object that also has its `chat`: the message's UUID. The chat's
    /// number names the other member of the private chat, so it is read before the chat is
    /// turned into its UUID.
    fn message_id(&self, object: &mut Map<String, Value>) {
        let peer = object.get("chat").and_then(|c| c.get("id")).and_then(Value::as_i64);
        if let (Some(peer), Some(message_id)) = (peer, number(object, "message_id")) {
            object.insert(
                "message_id".into(),
                self.ids.private_message(self.viewer.raw(), peer, message_id).into(),
            );
        }
    }

    /// An Update: the thing it carries, by its field.
    pub fn update(&self, value: &mut Value) {
        let Some(object) = value.as_object_mut() else { return };
        for field in ["message", "edited_message", "channel_post", "edited_channel_post"] {
            if let Some(message) = object.get_mut(field) {
                self.message(message);
            }
        }
        if let Some(query) = object.get_mut("callback_query").and_then(Value::as_object_mut) {
            if let Some(from) = query.get_mut("from") {
                self.user(from);
            }
            if let Some(message) = query.get_mut("message") {
                self.message(message);
            }
            if let Some(instance) =
                query.get("chat_instance").and_then(Value::as_str).and_then(|s| s.parse().ok())
            {
                query.insert("chat_instance".into(), self.ids.chat_instance(instance).into());
            }
        }
        if let Some(reaction) = object.get_mut("message_reaction").and_then(Value::as_object_mut) {
            self.message_id(reaction);
            if let Some(chat) = reaction.get_mut("chat") {
                self.chat(chat);
            }
            if let Some(user) = reaction.get_mut("user") {
                self.user(user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::opaque::ids::{IdStyle, Named};
    use serde_json::json;

    #[test]
    fn a_message_update_carries_uuids_only() {
        let ids = Ids::new(&[3; 32], IdStyle::Uuid);
        let view = View { ids: &ids, viewer: roost_store::UserId::from_raw(1_000_000_002) };
        let mut update = json!({
            "update_id": 5,
            "message": {
                "message_id": 9,
                "from": {"id": 1_000_000_001, "is_bot": false, "first_name": "Ann", "username": "ann"},
                "chat": {"id": 1_000_000_001, "type": "private", "username": "ann"},
                "date": 1,
                "text": "hi",
                "reply_to_message": {
                    "message_id": 8,
                    "from": {"id": 1_000_000_002, "is_bot": true, "first_name": "Bot"},
                    "chat": {"id": 1_000_000_001, "type": "private"},
                    "date": 1,
                    "text": "hello"
                }
            }
        });
        view.update(&mut update);
        let message = &update["message"];
        assert_eq!(update["update_id"], 5, "update_id stays a number");
        let open = |v: &Value| ids.open(v.as_str().unwrap_or_default()).ok();
        assert_eq!(open(&message["from"]["id"]), Some(Named::User(1_000_000_001)));
        assert_eq!(open(&message["chat"]["id"]), Some(Named::User(1_000_000_001)));
        assert_eq!(
            open(&message["message_id"]),
            Some(Named::PrivateMessage { members: (1_000_000_001, 1_000_000_002), message_id: 9 })
        );
        assert_eq!(open(&message["reply_to_message"]["from"]["id"]), Some(Named::User(1_000_000_002)));
        assert_eq!(
            open(&message["reply_to_message"]["message_id"]),
            Some(Named::PrivateMessage { members: (1_000_000_001, 1_000_000_002), message_id: 8 })
        );
    }
}
