//! The error table: every kind of error Roost answers with, by a stable name and its HTTP status.
//!
//! An [`ApiError`] is a value — a [`ErrorKind`], the data that kind carries (`detail`) and, for
//! rate limits, the seconds to wait — not an exception and not a sentence. The core decides which
//! kind applies; each dialect at the HTTP edge words it (the Telegram dialect's words, which bots
//! and libraries match on, are in `roost-http`'s `telegram::errors`). Every kind is also an
//! associated constant of [`ApiError`] (`ApiError::CHAT_NOT_FOUND`), so that code and tests name
//! errors rather than spell them.

use std::borrow::Cow;
use std::fmt;

/// An error as the core reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub kind: ErrorKind,
    /// What the kind's wording needs beyond its name: the part of a request that is wrong (a
    /// parser's message, a URL, the verb of "message to … not found"). `None` for most kinds.
    pub detail: Option<Cow<'static, str>>,
    /// For [`ErrorKind::TooManyRequests`]: seconds to wait.
    pub retry_after: Option<u32>,
}

macro_rules! error_kinds {
    ($($(#[$doc:meta])* $variant:ident $name:ident = $status:literal;)*) => {
        /// Every kind of error, with a stable name ([`ErrorKind::name`]) and an HTTP status
        /// ([`ErrorKind::status`]).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorKind {
            $($(#[$doc])* $variant,)*
        }

        impl ErrorKind {
            /// Every kind, in the table's order.
            pub const ALL: &[ErrorKind] = &[$(ErrorKind::$variant),*];

            /// The HTTP status (and the Bot API's `error_code`).
            pub const fn status(self) -> u16 {
                match self { $(ErrorKind::$variant => $status,)* }
            }

            /// The stable name, as the constant is spelled (`CHAT_NOT_FOUND`).
            pub const fn name(self) -> &'static str {
                match self { $(ErrorKind::$variant => stringify!($name),)* }
            }
        }

        impl ApiError {
            $(
                $(#[$doc])*
                pub const $name: ApiError = ApiError::of(ErrorKind::$variant);
            )*
        }
    };
}

error_kinds! {
    /// A bot token or session token that is missing, malformed or unknown.
    Unauthorized UNAUTHORIZED = 401;
    /// An unknown method or path.
    NotFound NOT_FOUND = 404;
    /// A method of the dialect's API that Roost does not serve yet; detail: its name.
    MethodNotServed METHOD_NOT_SERVED = 404;
    MethodNotAllowed METHOD_NOT_ALLOWED = 405;
    /// A body that did not arrive in time (signing in, where nobody is known yet).
    RequestTimeout REQUEST_TIMEOUT = 408;
    PayloadTooLarge PAYLOAD_TOO_LARGE = 413;
    /// Rate limited; `retry_after` says for how long.
    TooManyRequests TOO_MANY_REQUESTS = 429;
    Internal INTERNAL = 500;
    /// The server's disk (or its configured database size) is full: a write cannot be stored.
    StorageFull STORAGE_FULL = 500;

    // Reading a request.
    /// A parameter of the wrong type; detail: `"name": what was wrong`.
    CantParseParameter CANT_PARSE_PARAMETER = 400;
    /// A parameter whose bytes are not UTF-8; detail: its name.
    ParameterNotUtf8 PARAMETER_NOT_UTF8 = 400;
    BodyNotObject BODY_NOT_OBJECT = 400;
    /// detail: the JSON parser's message.
    CantParseJsonBody CANT_PARSE_JSON_BODY = 400;
    /// detail: the multipart parser's message.
    MultipartInvalid MULTIPART_INVALID = 400;
    /// A parameter that must be one of a dialect's opaque ids (WWChat's UUIDs) and is not one;
    /// detail: the parameter's name.
    IdMalformed ID_MALFORMED = 400;
    /// An opaque id of the right form that names nothing the caller can see; detail: the
    /// parameter's name.
    IdUnknown ID_UNKNOWN = 400;

    // Chats and users.
    ChatNotFound CHAT_NOT_FOUND = 400;
    UserNotFound USER_NOT_FOUND = 400;
    ChatIdEmpty CHAT_ID_EMPTY = 400;
    FromChatIdEmpty FROM_CHAT_ID_EMPTY = 400;
    UserIdOrUsernameRequired USER_ID_OR_USERNAME_REQUIRED = 400;
    BotCantInitiate BOT_CANT_INITIATE = 403;
    BotCantMessageBots BOT_CANT_MESSAGE_BOTS = 403;
    BotBlocked BOT_BLOCKED = 403;
    /// The person or bot written to has deleted their account.
    UserDeactivated USER_DEACTIVATED = 403;

    // Messages.
    MessageTextEmpty MESSAGE_TEXT_EMPTY = 400;
    MessageTooLong MESSAGE_TOO_LONG = 400;
    /// A `text` or `caption` longer than is read before parsing it (32 KiB).
    TextTooLong TEXT_TOO_LONG = 400;
    CaptionTooLong CAPTION_TOO_LONG = 400;
    ReplyNotFound REPLY_NOT_FOUND = 400;
    /// detail: what was to be done with it (`edit`, `delete`, `forward`, …).
    MessageNotFoundFor MESSAGE_NOT_FOUND_FOR = 400;
    /// detail: what cannot be done (`edited`, `deleted`, `forwarded`, …).
    MessageCantBe MESSAGE_CANT_BE = 400;
    MessageIdMissing MESSAGE_ID_MISSING = 400;
    MessageIdsInvalid MESSAGE_IDS_INVALID = 400;
    NoTextToEdit NO_TEXT_TO_EDIT = 400;
    NoCaptionToEdit NO_CAPTION_TO_EDIT = 400;
    MessageNotModified MESSAGE_NOT_MODIFIED = 400;
    InlineKeyboardExpected INLINE_KEYBOARD_EXPECTED = 400;
    ChatActionInvalid CHAT_ACTION_INVALID = 400;
    ReactionsTooMany REACTIONS_TOO_MANY = 400;
    ReactionInvalid REACTION_INVALID = 400;

    // Formatting and keyboards.
    ParseModeUnsupported PARSE_MODE_UNSUPPORTED = 400;
    /// detail: the parser's message, with its position.
    CantParseEntities CANT_PARSE_ENTITIES = 400;
    EntityOutOfText ENTITY_OUT_OF_TEXT = 400;
    ReplyMarkupInvalid REPLY_MARKUP_INVALID = 400;
    ReplyMarkupTooLong REPLY_MARKUP_TOO_LONG = 400;
    ButtonTextInvalid BUTTON_TEXT_INVALID = 400;
    ButtonDataInvalid BUTTON_DATA_INVALID = 400;
    ButtonUrlInvalid BUTTON_URL_INVALID = 400;
    TextButtonsInInlineKeyboard TEXT_BUTTONS_IN_INLINE_KEYBOARD = 400;
    InlineButtonActions INLINE_BUTTON_ACTIONS = 400;
    /// detail: the URL.
    InlineButtonUrlInvalid INLINE_BUTTON_URL_INVALID = 400;
    /// detail: the URL.
    WebAppUrlInvalid WEB_APP_URL_INVALID = 400;

    // Callback queries.
    QueryIdEmpty QUERY_ID_EMPTY = 400;
    QueryInvalid QUERY_INVALID = 400;
    CallbackAnswerTooLong CALLBACK_ANSWER_TOO_LONG = 400;

    // Updates and webhooks.
    ConflictOtherGetUpdates CONFLICT_OTHER_GET_UPDATES = 409;
    ConflictWebhookActive CONFLICT_WEBHOOK_ACTIVE = 409;
    /// detail: what is wrong with the webhook.
    BadWebhook BAD_WEBHOOK = 400;
    SecretTokenInvalid SECRET_TOKEN_INVALID = 400;
    IpAddressInvalid IP_ADDRESS_INVALID = 400;

    // Commands and the bot's profile.
    BotCommandScopeInvalid BOT_COMMAND_SCOPE_INVALID = 400;
    LangCodeInvalid LANG_CODE_INVALID = 400;
    BotCommandsTooMuch BOT_COMMANDS_TOO_MUCH = 400;
    BotCommandInvalid BOT_COMMAND_INVALID = 400;
    BotCommandDescriptionInvalid BOT_COMMAND_DESCRIPTION_INVALID = 400;
    CommandsEmpty COMMANDS_EMPTY = 400;
    BotNameInvalid BOT_NAME_INVALID = 400;
    BotDescriptionInvalid BOT_DESCRIPTION_INVALID = 400;
    BotShortDescriptionInvalid BOT_SHORT_DESCRIPTION_INVALID = 400;
    MenuButtonInvalid MENU_BUTTON_INVALID = 400;
    BotUsernameInvalid BOT_USERNAME_INVALID = 400;

    // The client API (people).
    ClientUnauthorized CLIENT_UNAUTHORIZED = 401;
    LoginFailed LOGIN_FAILED = 401;
    UsernameInvalid USERNAME_INVALID = 400;
    UsernameOccupied USERNAME_OCCUPIED = 400;
    UsernameNotOccupied USERNAME_NOT_OCCUPIED = 400;
    FirstNameInvalid FIRST_NAME_INVALID = 400;
    LastNameInvalid LAST_NAME_INVALID = 400;
    PasswordInvalid PASSWORD_INVALID = 400;
    PeerIdInvalid PEER_ID_INVALID = 400;
    MessageIdInvalid MESSAGE_ID_INVALID = 400;
    MessageAuthorRequired MESSAGE_AUTHOR_REQUIRED = 400;
    /// A person's edit that changes nothing.
    ClientMessageNotModified CLIENT_MESSAGE_NOT_MODIFIED = 400;
    ButtonNotFound BUTTON_NOT_FOUND = 400;
    ButtonTypeInvalid BUTTON_TYPE_INVALID = 400;
    SessionIdRequired SESSION_ID_REQUIRED = 400;
    SessionNotFound SESSION_NOT_FOUND = 400;
    AfterInvalid AFTER_INVALID = 400;

    // Managing bots, API keys and accounts.
    /// A person has made as many bots as they may (deleted ones count).
    BotsTooMuch BOTS_TOO_MUCH = 400;
    /// No bot of the person's by that id or username.
    BotNotFound BOT_NOT_FOUND = 400;
    BotIdRequired BOT_ID_REQUIRED = 400;
    InlinePlaceholderInvalid INLINE_PLACEHOLDER_INVALID = 400;
    InlineFeedbackInvalid INLINE_FEEDBACK_INVALID = 400;
    /// The bot's token was issued before tokens were kept, so it cannot be shown again.
    TokenNotKept TOKEN_NOT_KEPT = 400;
    /// A method an API key may not call (making keys, showing tokens to a session only).
    SessionRequired SESSION_REQUIRED = 403;
    ApiKeyNameInvalid API_KEY_NAME_INVALID = 400;
    ApiKeyNotFound API_KEY_NOT_FOUND = 400;
    ApiKeysTooMuch API_KEYS_TOO_MUCH = 400;
    /// Registration policy `closed`: only the operator creates accounts.
    RegistrationClosed REGISTRATION_CLOSED = 403;
    /// Registration policy `invite`, and no invite code given.
    InviteRequired INVITE_REQUIRED = 403;
    InviteInvalid INVITE_INVALID = 400;
    /// People may not make invite codes on this server.
    InvitesNotAllowed INVITES_NOT_ALLOWED = 403;
    InvitesTooMuch INVITES_TOO_MUCH = 400;
}

impl ApiError {
    /// An error of `kind` with no detail.
    pub const fn of(kind: ErrorKind) -> Self {
        ApiError { kind, detail: None, retry_after: None }
    }

    /// An error of `kind` with its detail.
    pub fn with(kind: ErrorKind, detail: impl fmt::Display) -> Self {
        ApiError { kind, detail: Some(Cow::Owned(detail.to_string())), retry_after: None }
    }

    /// [`ErrorKind::CantParseEntities`] with the parser's message.
    pub fn cant_parse_entities(detail: impl fmt::Display) -> Self {
        Self::with(ErrorKind::CantParseEntities, detail)
    }

    /// [`ErrorKind::BadWebhook`] with what is wrong.
    pub fn bad_webhook(detail: impl fmt::Display) -> Self {
        Self::with(ErrorKind::BadWebhook, detail)
    }

    /// [`ErrorKind::MessageNotFoundFor`]: the message to `verb` (edit, delete, …) is not there.
    pub fn message_not_found_for(verb: &'static str) -> Self {
        ApiError { kind: ErrorKind::MessageNotFoundFor, detail: Some(Cow::Borrowed(verb)), retry_after: None }
    }

    /// [`ErrorKind::MessageCantBe`]: the message can't be `done` (edited, deleted, …).
    pub fn message_cant_be(done: &'static str) -> Self {
        ApiError { kind: ErrorKind::MessageCantBe, detail: Some(Cow::Borrowed(done)), retry_after: None }
    }

    /// [`ErrorKind::TooManyRequests`]: retry after `retry_after` seconds.
    pub fn too_many_requests(retry_after: u32) -> Self {
        ApiError { kind: ErrorKind::TooManyRequests, detail: None, retry_after: Some(retry_after) }
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.kind.status()
    }

    /// The detail, or `""`.
    pub fn detail(&self) -> &str {
        self.detail.as_deref().unwrap_or("")
    }

    /// Whether this is a server-side failure rather than the caller's mistake.
    pub fn is_internal(&self) -> bool {
        self.status() >= 500
    }
}

/// For logs and tests: the kind's name and its detail, in no dialect's words.
impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status(), self.kind.name())?;
        match (&self.detail, self.retry_after) {
            (Some(detail), _) => write!(f, ": {detail}"),
            (None, Some(seconds)) => write!(f, ": {seconds}"),
            (None, None) => Ok(()),
        }
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_have_unique_names_and_known_statuses() {
        let mut names: Vec<&str> = ErrorKind::ALL.iter().map(|k| k.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ErrorKind::ALL.len());
        for kind in ErrorKind::ALL {
            assert!(
                matches!(kind.status(), 400 | 401 | 403 | 404 | 405 | 408 | 409 | 413 | 429 | 500),
                "{kind:?}"
            );
        }
    }

    #[test]
    fn errors_carry_their_data() {
        assert_eq!(ApiError::too_many_requests(7).retry_after, Some(7));
        assert_eq!(ApiError::too_many_requests(7).to_string(), "429 TOO_MANY_REQUESTS: 7");
        assert_eq!(ApiError::cant_parse_entities("unclosed tag").detail(), "unclosed tag");
        assert_eq!(ApiError::CHAT_NOT_FOUND.to_string(), "400 CHAT_NOT_FOUND");
    }
}
