//! Every numeric limit of the Bot API and the client API, in one place.

/// Longest message text, in UTF-16 code units after entity parsing (Telegram: 4096 characters).
pub const MESSAGE_TEXT_MAX: usize = 4096;
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
