//! The error table: every error Roost answers with, as Telegram words it.
//!
//! An [`ApiError`] is a value (code + description), not an exception: the core decides which one
//! applies, and the HTTP edge turns it into `{"ok":false,"error_code":…,"description":…}` in exactly
//! one place. Fixed errors are associated constants so tests and dialects can refer to them; errors
//! that carry detail are built by the constructors below, which keep Telegram's prefixes.

use std::borrow::Cow;
use std::fmt;

/// An error as the API reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status code and `error_code` field.
    pub code: u16,
    /// The `description` field, with Telegram's wording (`"Bad Request: chat not found"`).
    pub description: Cow<'static, str>,
    /// For 429 answers: seconds to wait (`parameters.retry_after` and the `Retry-After` header).
    pub retry_after: Option<u32>,
}

macro_rules! error_table {
    ($($(#[$doc:meta])* $name:ident = $code:literal, $text:literal;)*) => {
        impl ApiError {
            $(
                $(#[$doc])*
                pub const $name: ApiError = ApiError::fixed($code, $text);
            )*
        }

        /// Every fixed entry of the table, for documentation and tests.
        pub const FIXED_ERRORS: &[(&str, u16, &str)] = &[$((stringify!($name), $code, $text)),*];
    };
}

error_table! {
    /// A bot token or session token that is missing, malformed or unknown.
    UNAUTHORIZED = 401, "Unauthorized";
    /// An unknown method (Telegram answers exactly this).
    NOT_FOUND = 404, "Not Found";
    CHAT_NOT_FOUND = 400, "Bad Request: chat not found";
    USER_NOT_FOUND = 400, "Bad Request: user not found";
    CHAT_ID_EMPTY = 400, "Bad Request: chat_id is empty";
    MESSAGE_TEXT_EMPTY = 400, "Bad Request: message text is empty";
    MESSAGE_TOO_LONG = 400, "Bad Request: message is too long";
    /// A `text` or `caption` longer than Telegram reads before parsing it (32 KiB).
    TEXT_TOO_LONG = 400, "Bad Request: text is too long";
    REPLY_NOT_FOUND = 400, "Bad Request: message to be replied not found";
    BOT_CANT_INITIATE = 403, "Forbidden: bot can't initiate conversation with a user";
    BOT_CANT_MESSAGE_BOTS = 403, "Forbidden: bot can't send messages to bots";
    BOT_BLOCKED = 403, "Forbidden: bot was blocked by the user";
    CONFLICT_OTHER_GET_UPDATES = 409,
        "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running";
    CONFLICT_WEBHOOK_ACTIVE = 409,
        "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first";
    METHOD_NOT_ALLOWED = 405, "Method Not Allowed";
    PAYLOAD_TOO_LARGE = 413, "Request Entity Too Large";
    /// A body that did not arrive in time (signing in, where nobody is known yet).
    REQUEST_TIMEOUT = 408, "Request Timeout";
    INTERNAL = 500, "Internal Server Error";
    /// The server's disk (or its configured database size) is full: a write cannot be stored.
    STORAGE_FULL = 500, "Internal Server Error: the server is out of storage space, try again later";
    // Client API (people). Telegram's own client protocol words these in upper case; we keep its names.
    CLIENT_UNAUTHORIZED = 401, "Unauthorized: session token is missing or invalid";
    LOGIN_FAILED = 401, "Unauthorized: wrong username or password";
    USERNAME_INVALID = 400, "Bad Request: USERNAME_INVALID";
    USERNAME_OCCUPIED = 400, "Bad Request: USERNAME_OCCUPIED";
    USERNAME_NOT_OCCUPIED = 400, "Bad Request: USERNAME_NOT_OCCUPIED";
    FIRST_NAME_INVALID = 400, "Bad Request: FIRST_NAME_INVALID";
    PASSWORD_INVALID = 400, "Bad Request: PASSWORD_INVALID";
    PEER_ID_INVALID = 400, "Bad Request: PEER_ID_INVALID";
}

impl ApiError {
    /// An entry of the table.
    pub const fn fixed(code: u16, description: &'static str) -> Self {
        ApiError { code, description: Cow::Borrowed(description), retry_after: None }
    }

    /// `400 Bad Request: <detail>`.
    pub fn bad_request(detail: impl fmt::Display) -> Self {
        ApiError { code: 400, description: Cow::Owned(format!("Bad Request: {detail}")), retry_after: None }
    }

    /// `400 Bad Request: can't parse entities: <detail>`.
    pub fn cant_parse_entities(detail: impl fmt::Display) -> Self {
        Self::bad_request(format_args!("can't parse entities: {detail}"))
    }

    /// `429 Too Many Requests: retry after N`.
    pub fn too_many_requests(retry_after: u32) -> Self {
        ApiError {
            code: 429,
            description: Cow::Owned(format!("Too Many Requests: retry after {retry_after}")),
            retry_after: Some(retry_after),
        }
    }

    /// Whether this is a server-side failure rather than the caller's mistake.
    pub fn is_internal(&self) -> bool {
        self.code >= 500
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code, self.description)
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_entries_have_telegram_prefixes() {
        for (name, code, text) in FIXED_ERRORS {
            let prefix = match code {
                400 => "Bad Request",
                401 => "Unauthorized",
                403 => "Forbidden",
                404 => "Not Found",
                405 => "Method Not Allowed",
                408 => "Request Timeout",
                409 => "Conflict",
                413 => "Request Entity Too Large",
                500 => "Internal Server Error",
                other => panic!("{name}: unexpected code {other}"),
            };
            assert!(text.starts_with(prefix), "{name}: {text}");
        }
    }

    #[test]
    fn constructed_errors_keep_wording() {
        assert_eq!(ApiError::too_many_requests(7).description, "Too Many Requests: retry after 7");
        assert_eq!(
            ApiError::cant_parse_entities("unclosed tag").description,
            "Bad Request: can't parse entities: unclosed tag"
        );
    }
}
