//! Every numeric limit of the Bot API and the client API, in one place.

/// Longest message text, in UTF-16 code units after entity parsing (Telegram: 4096 characters).
pub const MESSAGE_TEXT_MAX: usize = 4096;
/// Longest `text` or `caption` parameter before entity parsing, in bytes (Telegram's Bot API
/// server: 32 KiB, answered `Bad Request: text is too long`).
pub const TEXT_INPUT_MAX_BYTES: usize = 1 << 15;
/// Most formatting entities a message keeps (bold, links, mentions by id, …; not the detected
/// kinds nor custom emoji): Telegram keeps the first 100 and drops the rest.
pub const MESSAGE_ENTITIES_MAX: usize = 100;
/// Longest media caption (Telegram: 1024 characters).
pub const CAPTION_MAX: usize = 1024;
/// `getUpdates.limit` bounds and default.
pub const GET_UPDATES_LIMIT_MIN: i64 = 1;
pub const GET_UPDATES_LIMIT_MAX: i64 = 100;
/// Longest long-poll wait a bot may ask for, in seconds.
pub const GET_UPDATES_TIMEOUT_MAX: i64 = 60;
/// `setWebhook.max_connections` bounds and default.
pub const WEBHOOK_MAX_CONNECTIONS_MIN: i64 = 1;
pub const WEBHOOK_MAX_CONNECTIONS_MAX: i64 = 100;
pub const WEBHOOK_MAX_CONNECTIONS_DEFAULT: i64 = 40;
/// `setWebhook.secret_token` length bounds (characters of `A-Z a-z 0-9 _ -`).
pub const WEBHOOK_SECRET_MIN: usize = 1;
pub const WEBHOOK_SECRET_MAX: usize = 256;
/// Consecutive failed deliveries after which a webhook is switched off (WWChat's rule).
pub const WEBHOOK_MAX_FAILURES: i64 = 10;
/// How long unconfirmed updates are kept at least, in seconds (Telegram: 24 hours).
pub const UPDATE_RETENTION_SECS: i64 = 24 * 60 * 60;
/// `getHistory.limit` bounds and default for the client API.
pub const HISTORY_LIMIT_DEFAULT: i64 = 50;
pub const HISTORY_LIMIT_MAX: i64 = 100;
/// Usernames: 5–32 characters of `a-z A-Z 0-9 _`, starting with a letter (Telegram's rule).
pub const USERNAME_MIN: usize = 5;
pub const USERNAME_MAX: usize = 32;
/// A person's or bot's display name (first name), in characters.
pub const FIRST_NAME_MAX: usize = 64;
pub const LAST_NAME_MAX: usize = 64;
/// Passwords of people, in bytes.
pub const PASSWORD_MIN: usize = 8;
pub const PASSWORD_MAX: usize = 256;
/// Length of the random part of a bot token (Telegram's tokens carry 35).
pub const BOT_TOKEN_SECRET_LEN: usize = 35;
/// Inline keyboards (WWChat's limits): rows, buttons per row, buttons in all, button text bytes,
/// callback_data bytes.
pub const KEYBOARD_MAX_ROWS: usize = 25;
pub const KEYBOARD_MAX_ROW_BUTTONS: usize = 8;
pub const KEYBOARD_MAX_BUTTONS: usize = 100;
/// Reply keyboards (Telegram's): up to 12 buttons a row, 25 rows.
pub const REPLY_KEYBOARD_MAX_ROW_BUTTONS: usize = 12;
pub const REPLY_KEYBOARD_MAX_BUTTONS: usize = 300;
pub const BUTTON_TEXT_MAX_BYTES: usize = 256;
pub const CALLBACK_DATA_MAX_BYTES: usize = 64;
/// `answerCallbackQuery.text`, in characters.
pub const CALLBACK_ANSWER_TEXT_MAX: usize = 200;
/// How long a person's `pressButton` waits for the bot's answer by default and at most, seconds.
pub const PRESS_BUTTON_WAIT_DEFAULT: u64 = 10;
pub const PRESS_BUTTON_WAIT_MAX: u64 = 30;
/// Commands: at most 100, names of 1–32 of `a-z 0-9 _`, descriptions of 1–256 characters.
pub const COMMANDS_MAX: usize = 100;
pub const COMMAND_NAME_MAX: usize = 32;
pub const COMMAND_DESCRIPTION_MAX: usize = 256;
/// Bot profile texts, in characters.
pub const BOT_NAME_MAX: usize = 64;
pub const BOT_DESCRIPTION_MAX: usize = 512;
pub const BOT_SHORT_DESCRIPTION_MAX: usize = 120;
/// `deleteMessages`, `forwardMessages`, `copyMessages`: 1–100 ids.
pub const MESSAGE_IDS_MAX: usize = 100;
/// How long a chat action ("typing…") shows, seconds.
pub const CHAT_ACTION_SECS: i64 = 5;
/// Bots may delete messages younger than this, seconds (48 hours).
pub const DELETE_WINDOW_SECS: i64 = 48 * 60 * 60;
