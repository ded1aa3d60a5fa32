//! Typed requests of the Bot API and the client API.
//!
//! Fields are as Telegram names them. Required parameters are `Option`s here so that a missing one
//! is answered with Telegram's own wording (`chat_id is empty`, `message text is empty`) by the core
//! rather than with a generic deserialisation error. Unknown parameters are ignored.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::objects::MessageEntity;

/// A chat addressed by id or by `@username`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(untagged)]
pub enum ChatId {
    Id(i64),
    /// A public username, without the leading `@`.
    Username(String),
}

impl ChatId {
    /// Reads a chat id as Telegram does: a number, a numeric string, or `@username`.
    pub fn parse(text: &str) -> Option<ChatId> {
        let text = text.trim();
        if let Some(name) = text.strip_prefix('@') {
            return (!name.is_empty()).then(|| ChatId::Username(name.to_owned()));
        }
        text.parse().ok().map(ChatId::Id)
    }
}

impl fmt::Display for ChatId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChatId::Id(id) => write!(f, "{id}"),
            ChatId::Username(name) => write!(f, "@{name}"),
        }
    }
}

impl<'de> Deserialize<'de> for ChatId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ChatIdVisitor;
        impl Visitor<'_> for ChatIdVisitor {
            type Value = ChatId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer chat id or an @username")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ChatId, E> {
                Ok(ChatId::Id(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ChatId, E> {
                i64::try_from(v).map(ChatId::Id).map_err(|_| E::custom("chat id is out of range"))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ChatId, E> {
                if v.fract() == 0.0 && v.abs() < 9.0e15 {
                    Ok(ChatId::Id(v as i64))
                } else {
                    Err(E::custom("chat id must be an integer"))
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ChatId, E> {
                ChatId::parse(v).ok_or_else(|| E::custom("chat id must be an integer or @username"))
            }
        }
        deserializer.deserialize_any(ChatIdVisitor)
    }
}

/// Telegram's `ReplyParameters`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplyParameters {
    pub message_id: i64,
    #[serde(default)]
    pub chat_id: Option<ChatId>,
    #[serde(default)]
    pub allow_sending_without_reply: bool,
}

/// Bot API `getUpdates`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct GetUpdates {
    #[serde(default)]
    pub offset: Option<i64>,
    #[serde(default)]
    pub limit: Option<i64>,
    #[serde(default)]
    pub timeout: Option<i64>,
    #[serde(default)]
    pub allowed_updates: Option<Vec<String>>,
}

/// Bot API `sendMessage`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct SendMessage {
    #[serde(default)]
    pub chat_id: Option<ChatId>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub parse_mode: Option<String>,
    #[serde(default)]
    pub entities: Option<Vec<MessageEntity>>,
    #[serde(default)]
    pub reply_to_message_id: Option<i64>,
    #[serde(default)]
    pub reply_parameters: Option<ReplyParameters>,
    #[serde(default)]
    pub allow_sending_without_reply: Option<bool>,
    #[serde(default)]
    pub disable_notification: Option<bool>,
    #[serde(default)]
    pub protect_content: Option<bool>,
    #[serde(default)]
    pub reply_markup: Option<Map<String, Value>>,
}

/// Bot API `setWebhook`. The `certificate` upload is read by the HTTP edge and passed as PEM text.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct SetWebhook {
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub ip_address: Option<String>,
    #[serde(default)]
    pub max_connections: Option<i64>,
    #[serde(default)]
    pub allowed_updates: Option<Vec<String>>,
    #[serde(default)]
    pub drop_pending_updates: Option<bool>,
    #[serde(default)]
    pub secret_token: Option<String>,
    /// PEM of the webhook's self-signed certificate (an uploaded file in the Bot API).
    #[serde(skip)]
    pub certificate: Option<String>,
}

/// Bot API `deleteWebhook`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct DeleteWebhook {
    #[serde(default)]
    pub drop_pending_updates: Option<bool>,
}

/// Client API `register`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Register {
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub language_code: Option<String>,
    /// An invite code, where the registration policy asks for one.
    #[serde(default)]
    pub invite: Option<String>,
}

/// Client API `login`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Login {
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
}

/// Client API `terminateSession`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct TerminateSession {
    #[serde(default)]
    pub session_id: Option<i64>,
}

/// Client API `resolveUsername`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ResolveUsername {
    #[serde(default)]
    pub username: Option<String>,
}

/// Client API `openPrivateChat`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct OpenPrivateChat {
    #[serde(default)]
    pub user_id: Option<i64>,
    #[serde(default)]
    pub username: Option<String>,
}

/// Client API `sendMessage`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ClientSendMessage {
    #[serde(default)]
    pub chat_id: Option<ChatId>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub reply_to_message_id: Option<i64>,
}

/// Client API `getHistory`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct GetHistory {
    #[serde(default)]
    pub chat_id: Option<ChatId>,
    #[serde(default)]
    pub limit: Option<i64>,
    #[serde(default)]
    pub before_message_id: Option<i64>,
}

macro_rules! request {
    ($(#[$doc:meta])* $name:ident { $($field:ident : $ty:ty),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Deserialize)]
        pub struct $name {
            $(#[serde(default)] pub $field: Option<$ty>,)*
        }
    };
}

request! {
    /// Bot API `editMessageText`.
    EditMessageText { chat_id: ChatId, message_id: i64, inline_message_id: String, text: String,
        parse_mode: String, entities: Vec<MessageEntity>, reply_markup: Map<String, Value> }
}
request! {
    /// Bot API `editMessageCaption`.
    EditMessageCaption { chat_id: ChatId, message_id: i64, inline_message_id: String, caption: String,
        parse_mode: String, caption_entities: Vec<MessageEntity>, reply_markup: Map<String, Value> }
}
request! {
    /// Bot API `editMessageReplyMarkup`.
    EditMessageReplyMarkup { chat_id: ChatId, message_id: i64, inline_message_id: String,
        reply_markup: Map<String, Value> }
}
request! {
    /// Bot API `deleteMessage`.
    DeleteMessage { chat_id: ChatId, message_id: i64 }
}
request! {
    /// Bot API `deleteMessages`; also the client API's `deleteMessages`.
    DeleteMessages { chat_id: ChatId, message_ids: Vec<i64> }
}
request! {
    /// Bot API `forwardMessage` and `forwardMessages` (`message_ids`).
    ForwardMessages { chat_id: ChatId, from_chat_id: ChatId, message_id: i64, message_ids: Vec<i64>,
        disable_notification: bool, protect_content: bool }
}
request! {
    /// Bot API `copyMessage` and `copyMessages` (`message_ids`).
    CopyMessages { chat_id: ChatId, from_chat_id: ChatId, message_id: i64, message_ids: Vec<i64>,
        caption: String, parse_mode: String, caption_entities: Vec<MessageEntity>,
        reply_to_message_id: i64, reply_parameters: ReplyParameters, reply_markup: Map<String, Value>,
        disable_notification: bool, protect_content: bool, remove_caption: bool }
}
request! {
    /// Bot API `pinChatMessage`, `unpinChatMessage` and `unpinAllChatMessages`.
    PinChatMessage { chat_id: ChatId, message_id: i64, disable_notification: bool }
}
request! {
    /// Bot API `setMessageReaction`; also the client API's `setReaction`.
    SetMessageReaction { chat_id: ChatId, message_id: i64, reaction: Vec<crate::ReactionType>, is_big: bool }
}
request! {
    /// Bot API `sendChatAction`.
    SendChatAction { chat_id: ChatId, action: String, message_thread_id: i64 }
}
request! {
    /// Bot API `answerCallbackQuery`.
    AnswerCallbackQuery { callback_query_id: String, text: String, show_alert: bool, url: String, cache_time: i64 }
}
request! {
    /// Bot API `setMyCommands`, `getMyCommands`, `deleteMyCommands`.
    MyCommands { commands: Vec<crate::BotCommand>, scope: Map<String, Value>, language_code: String }
}
request! {
    /// Bot API `setMyName`/`getMyName`, `setMyDescription`/`getMyDescription`,
    /// `setMyShortDescription`/`getMyShortDescription`.
    MyText { name: String, description: String, short_description: String, language_code: String }
}
request! {
    /// Bot API `setChatMenuButton` and `getChatMenuButton`.
    ChatMenuButton { chat_id: i64, menu_button: Map<String, Value> }
}
request! {
    /// Client API `pressButton`: a button of a message, by `callback_data`, by `text`, or by
    /// position (`row`, `column`, from 0).
    PressButton { chat_id: ChatId, message_id: i64, callback_data: String, text: String, row: i64,
        column: i64, timeout: i64 }
}
request! {
    /// Client API `editMessage`.
    ClientEditMessage { chat_id: ChatId, message_id: i64, text: String }
}
request! {
    /// Client API `getBotCommands`: the command menu the person sees in a chat with a bot.
    GetBotCommands { chat_id: ChatId }
}
request! {
    /// Client API `createBot` (the owner API): a new bot of the person's.
    CreateBot { name: String, username: String }
}
request! {
    /// A bot of the person's, by id or `@username` (`getBot`, `deleteBot`, `revokeBotToken`,
    /// `getBotToken`; `getBotInfo` for any bot).
    BotRef { bot_id: i64, username: String }
}
request! {
    /// Client API `editBot`: what is given changes, the rest stays. Texts are the bot's
    /// default-language ones; `commands` the default scope's; an empty text removes it.
    EditBot { bot_id: i64, username: String, name: String, description: String,
        short_description: String, commands: Vec<crate::BotCommand>, can_join_groups: bool,
        can_read_all_group_messages: bool, supports_inline_queries: bool, inline_placeholder: String,
        inline_feedback: i64 }
}
request! {
    /// Client API `getBotErrors`: a bot's recent errors, newest first.
    GetBotErrors { bot_id: i64, username: String, limit: i64 }
}
request! {
    /// Client API `createApiKey`.
    CreateApiKey { name: String }
}
request! {
    /// Client API `revokeApiKey`.
    RevokeApiKey { id: i64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_id_forms() {
        assert_eq!(ChatId::parse("42"), Some(ChatId::Id(42)));
        assert_eq!(ChatId::parse("-100123"), Some(ChatId::Id(-100123)));
        assert_eq!(ChatId::parse("@roost_bot"), Some(ChatId::Username("roost_bot".into())));
        assert_eq!(ChatId::parse("@"), None);
        assert_eq!(ChatId::parse("abc"), None);
        let from_json: ChatId = serde_json::from_str("12").unwrap_or(ChatId::Id(0));
        assert_eq!(from_json, ChatId::Id(12));
        let from_str: ChatId = serde_json::from_str("\"12\"").unwrap_or(ChatId::Id(0));
        assert_eq!(from_str, ChatId::Id(12));
    }
}
