//! Objects of the Bot API, shared by the client API.
//!
//! Field names and optionality follow the Telegram Bot API so that bot libraries parse them
//! unchanged. Optional fields are left out of the JSON when absent, as Telegram does.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A person or a bot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: i64,
    pub is_bot: bool,
    pub first_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language_code: Option<String>,
}

/// The answer of the Bot API's `getMe`: a [`User`] with the bot's capabilities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BotUser {
    #[serde(flatten)]
    pub user: User,
    pub can_join_groups: bool,
    pub can_read_all_group_messages: bool,
    pub supports_inline_queries: bool,
    pub can_connect_to_business: bool,
    pub has_main_web_app: bool,
}

/// The kind of a chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatType {
    Private,
    Group,
    Supergroup,
    Channel,
}

impl ChatType {
    pub fn as_str(self) -> &'static str {
        match self {
            ChatType::Private => "private",
            ChatType::Group => "group",
            ChatType::Supergroup => "supergroup",
            ChatType::Channel => "channel",
        }
    }
}

/// A chat as one participant sees it. A private chat's `id` is the *other* participant's user id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chat {
    pub id: i64,
    #[serde(rename = "type")]
    pub kind: ChatType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
}

/// The kind of a [`MessageEntity`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    Mention,
    Hashtag,
    Cashtag,
    BotCommand,
    Url,
    Email,
    PhoneNumber,
    Bold,
    Italic,
    Underline,
    Strikethrough,
    Spoiler,
    Blockquote,
    ExpandableBlockquote,
    Code,
    Pre,
    TextLink,
    TextMention,
    CustomEmoji,
}

/// A special part of a message text. Offsets and lengths count UTF-16 code units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageEntity {
    #[serde(rename = "type")]
    pub kind: EntityKind,
    pub offset: i64,
    pub length: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_emoji_id: Option<String>,
}

impl MessageEntity {
    /// An entity with no extra fields.
    pub fn new(kind: EntityKind, offset: usize, length: usize) -> Self {
        MessageEntity {
            kind,
            offset: offset as i64,
            length: length as i64,
            url: None,
            user: None,
            language: None,
            custom_emoji_id: None,
        }
    }
}

/// A message as one participant of its chat sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub message_id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<User>,
    pub date: i64,
    pub chat: Chat,
    /// Where a forwarded message came from (MessageOrigin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward_origin: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to_message: Option<Box<Message>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edit_date: Option<i64>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub has_protected_content: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entities: Vec<MessageEntity>,
    /// The keyboard attached to the message. Bots see inline keyboards only (as in Telegram); the
    /// people of the chat see reply keyboards, removals and forced replies too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_markup: Option<Value>,
}

/// What an [`Update`] carries. Serialised as one field named after the variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateKind {
    Message(Message),
    EditedMessage(Message),
    MessageReaction(MessageReactionUpdated),
    CallbackQuery(CallbackQuery),
}

impl UpdateKind {
    /// The name of the update type, as used in `allowed_updates`.
    pub fn type_name(&self) -> &'static str {
        match self {
            UpdateKind::Message(_) => "message",
            UpdateKind::EditedMessage(_) => "edited_message",
            UpdateKind::MessageReaction(_) => "message_reaction",
            UpdateKind::CallbackQuery(_) => "callback_query",
        }
    }
}

/// A press of an inline keyboard button with `callback_data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallbackQuery {
    pub id: String,
    pub from: User,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Message>,
    pub chat_instance: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

/// A reaction: `{"type":"emoji","emoji":"👍"}` or `{"type":"custom_emoji","custom_emoji_id":"…"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ReactionType {
    Emoji { emoji: String },
    CustomEmoji { custom_emoji_id: String },
    Paid,
}

/// A change of a person's reactions to a message (`message_reaction` update).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageReactionUpdated {
    pub chat: Chat,
    pub message_id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    pub date: i64,
    pub old_reaction: Vec<ReactionType>,
    pub new_reaction: Vec<ReactionType>,
}

/// `{"message_id": N}`, the answer of copyMessage and friends.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MessageId {
    pub message_id: i64,
}

/// A command of a bot's menu.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BotCommand {
    pub command: String,
    pub description: String,
}

/// The answer a bot gave to a button press.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CallbackAnswer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default)]
    pub show_alert: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default)]
    pub cache_time: i64,
}

/// What a person's `pressButton` returns: the query, and the bot's answer if it came in time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ButtonPress {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_query_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<CallbackAnswer>,
    /// For a reply keyboard button: the message its text was sent as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Message>,
}

/// An incoming update for a bot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Update {
    pub update_id: i64,
    #[serde(flatten)]
    pub kind: UpdateKind,
}

/// Every update type name of the Bot API, in the order of the Telegram documentation.
pub const UPDATE_TYPES: &[&str] = &[
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_connection",
    "business_message",
    "edited_business_message",
    "deleted_business_messages",
    "message_reaction",
    "message_reaction_count",
    "inline_query",
    "chosen_inline_result",
    "callback_query",
    "shipping_query",
    "pre_checkout_query",
    "purchased_paid_media",
    "poll",
    "poll_answer",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "chat_boost",
    "removed_chat_boost",
];

/// Update types a bot receives only when it names them in `allowed_updates` (Telegram's default).
pub const OPT_IN_UPDATE_TYPES: &[&str] = &["chat_member", "message_reaction", "message_reaction_count"];

/// The answer of `getWebhookInfo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookInfo {
    pub url: String,
    pub has_custom_certificate: bool,
    pub pending_update_count: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error_date: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_synchronization_error_date: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_updates: Option<Vec<String>>,
}

/// A chat in the client API's chat list: the chat as the person sees it and its last message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatListEntry {
    pub chat: Chat,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_message: Option<Message>,
}

/// The answer of the client API's `register` and `login`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// The bearer token for later client API calls. Shown once; only its hash is stored.
    pub token: String,
    pub user: User,
}

/// A bot as people see it (client API `getBotInfo`): its profile, its command menu and what it
/// can do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BotProfile {
    pub id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The display name.
    pub name: String,
    /// What people see in an empty chat with the bot (`setMyDescription`).
    pub description: String,
    /// The about text on its profile (`setMyShortDescription`).
    pub short_description: String,
    /// The default command menu.
    pub commands: Vec<BotCommand>,
    pub can_join_groups: bool,
    /// False while privacy mode is on (the default).
    pub can_read_all_group_messages: bool,
    pub supports_inline_queries: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inline_placeholder: Option<String>,
    /// Whether it has a profile photo (none can be set until media are served).
    pub has_photo: bool,
    /// The built-in system bot.
    pub is_system: bool,
}

/// A bot as its owner sees it (the owner API): the profile and how the bot is doing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OwnedBot {
    #[serde(flatten)]
    pub profile: BotProfile,
    pub owner_id: i64,
    /// Unix time it was made.
    pub created_at: i64,
    /// Deleted bots stay listed (they count against the limit, and their usernames stay taken).
    pub is_deleted: bool,
    /// Percent of chosen inline results reported to the bot.
    pub inline_feedback: i64,
    /// Whether `getBotToken` can show its token (tokens issued before tokens were kept cannot be).
    pub token_kept: bool,
    pub pending_update_count: i64,
    /// The webhook's URL, empty when it uses getUpdates.
    pub webhook_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error_date: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error_message: Option<String>,
}

/// A bot just made, or given a new token: the token is in the answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BotWithToken {
    pub bot: OwnedBot,
    pub token: String,
}

/// An entry of a bot's error log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BotError {
    /// Unix time.
    pub date: i64,
    /// `webhook` (a delivery the receiver refused or did not answer) or `call` (a Bot API call
    /// Roost refused).
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The HTTP status: the receiver's (0 when it gave none), or the one the call was answered with.
    pub status: i64,
    /// The receiver's answer or what went wrong reaching it; or the call's error description.
    pub description: String,
}

/// A personal API key as `listApiKeys` shows it (never the key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyInfo {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<i64>,
}

/// A personal API key just made: the key is shown this once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewApiKey {
    #[serde(flatten)]
    pub info: ApiKeyInfo,
    pub key: String,
}

/// One of a person's sessions, as `getSessions` lists them (never the token).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// Names the session for `terminateSession`.
    pub id: i64,
    /// Unix time it was opened.
    pub created_at: i64,
    /// Unix time it was last used (to within a day).
    pub last_active_at: i64,
    /// The client's `User-Agent` when it was opened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// The address it was opened from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Whether it is the session of the request that listed them.
    pub current: bool,
}

/// What `resolveUsername` found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Resolved {
    User(User),
    Chat(Chat),
}

/// One entry of a person's event stream. `seq` increases by one per event of that person, so a
/// client that reconnects with `after=<last seq>` misses nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientEvent {
    pub seq: i64,
    #[serde(flatten)]
    pub kind: ClientEventKind,
}

/// The payload of a [`ClientEvent`], tagged by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientEventKind {
    /// A new message in one of the person's chats (including the person's own, from any device).
    Message { message: Message },
    /// A message in one of the person's chats was edited.
    EditedMessage { message: Message },
    /// Messages of a chat were deleted.
    DeletedMessages { chat_id: i64, message_ids: Vec<i64> },
    /// A bot answered the person's button press.
    CallbackAnswer {
        callback_query_id: String,
        #[serde(flatten)]
        answer: CallbackAnswer,
    },
    /// The other party is typing (or uploading, …) until `expires_at` (Unix time).
    ChatAction { chat_id: i64, user_id: i64, action: String, expires_at: i64 },
    /// A message of the chat was pinned.
    MessagePinned { chat_id: i64, message_id: i64 },
    /// Messages of the chat were unpinned (all of them when `message_ids` is empty).
    MessagesUnpinned { chat_id: i64, message_ids: Vec<i64> },
    /// A member's reactions to a message changed.
    MessageReaction { chat_id: i64, message_id: i64, user_id: i64, reaction: Vec<ReactionType> },
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample_message() -> Message {
        Message {
            message_id: 3,
            from: Some(User {
                id: 7,
                is_bot: false,
                first_name: "Ann".into(),
                last_name: None,
                username: Some("ann".into()),
                language_code: None,
            }),
            date: 1_700_000_000,
            chat: Chat {
                id: 7,
                kind: ChatType::Private,
                title: None,
                username: Some("ann".into()),
                first_name: Some("Ann".into()),
                last_name: None,
            },
            forward_origin: None,
            reply_to_message: None,
            edit_date: None,
            has_protected_content: false,
            text: Some("/start".into()),
            entities: vec![MessageEntity::new(EntityKind::BotCommand, 0, 6)],
            reply_markup: None,
        }
    }

    #[test]
    fn update_serialises_like_telegram() {
        let update = Update { update_id: 10, kind: UpdateKind::Message(sample_message()) };
        let value = serde_json::to_value(&update).unwrap_or_default();
        assert_eq!(
            value,
            json!({
                "update_id": 10,
                "message": {
                    "message_id": 3,
                    "from": {"id": 7, "is_bot": false, "first_name": "Ann", "username": "ann"},
                    "date": 1_700_000_000,
                    "chat": {"id": 7, "type": "private", "username": "ann", "first_name": "Ann"},
                    "text": "/start",
                    "entities": [{"type": "bot_command", "offset": 0, "length": 6}]
                }
            })
        );
        let back: Update = serde_json::from_value(value).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, update);
    }

    #[test]
    fn client_event_is_tagged_by_type() {
        let event = ClientEvent { seq: 4, kind: ClientEventKind::Message { message: sample_message() } };
        let value = serde_json::to_value(&event).unwrap_or_default();
        assert_eq!(value["type"], "message");
        assert_eq!(value["seq"], 4);
        assert_eq!(value["message"]["message_id"], 3);
    }
}
