//! Reply markup: inline keyboards, reply keyboards, keyboard removal and forced replies.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Any `reply_markup`. The variants are told apart by their one required field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ReplyMarkup {
    Inline(InlineKeyboardMarkup),
    Keyboard(ReplyKeyboardMarkup),
    Remove(ReplyKeyboardRemove),
    ForceReply(ForceReply),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InlineKeyboardMarkup {
    pub inline_keyboard: Vec<Vec<InlineKeyboardButton>>,
}

/// A button of an inline keyboard: a text and exactly one action.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct InlineKeyboardButton {
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_app: Option<WebAppInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_url: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch_inline_query: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch_inline_query_current_chat: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch_inline_query_chosen_chat: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy_text: Option<CopyTextButton>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_game: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pay: Option<bool>,
}

impl InlineKeyboardButton {
    /// How many actions the button names (a valid button names exactly one).
    pub fn action_count(&self) -> usize {
        [
            self.url.is_some(),
            self.callback_data.is_some(),
            self.web_app.is_some(),
            self.login_url.is_some(),
            self.switch_inline_query.is_some(),
            self.switch_inline_query_current_chat.is_some(),
            self.switch_inline_query_chosen_chat.is_some(),
            self.copy_text.is_some(),
            self.callback_game.is_some(),
            self.pay == Some(true),
        ]
        .iter()
        .filter(|&&set| set)
        .count()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebAppInfo {
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CopyTextButton {
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplyKeyboardMarkup {
    pub keyboard: Vec<Vec<KeyboardButton>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_persistent: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resize_keyboard: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub one_time_keyboard: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_field_placeholder: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selective: Option<bool>,
}

/// A reply keyboard button: a plain string or an object with a text and an optional request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum KeyboardButton {
    Text(String),
    Button {
        text: String,
        #[serde(flatten)]
        options: serde_json::Map<String, Value>,
    },
}

impl KeyboardButton {
    pub fn text(&self) -> &str {
        match self {
            KeyboardButton::Text(text) => text,
            KeyboardButton::Button { text, .. } => text,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplyKeyboardRemove {
    pub remove_keyboard: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selective: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForceReply {
    pub force_reply: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_field_placeholder: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selective: Option<bool>,
}
