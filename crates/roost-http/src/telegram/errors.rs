//! The Telegram dialect's words for every error kind: the descriptions Telegram's Bot API
//! answers with, which bots and libraries match on. The match is exhaustive, so a new kind does
//! not compile until it has its words here.

use std::borrow::Cow;

use roost_types::{ApiError, ErrorKind};

/// `description` of an error, as Telegram words it.
pub fn describe(error: &ApiError) -> Cow<'static, str> {
    use ErrorKind as K;
    let detail = error.detail();
    let fixed: &'static str = match error.kind {
        K::Unauthorized => "Unauthorized",
        K::NotFound => "Not Found",
        K::MethodNotServed => {
            return format!(
                "Not Found: method {detail} is not served by Roost yet (docs/compatibility.md lists what is)"
            )
            .into();
        }
        K::MethodNotAllowed => "Method Not Allowed",
        K::RequestTimeout => "Request Timeout",
        K::PayloadTooLarge => "Request Entity Too Large",
        K::TooManyRequests => {
            return format!("Too Many Requests: retry after {}", error.retry_after.unwrap_or(1)).into();
        }
        K::Internal => "Internal Server Error",
        K::StorageFull => "Internal Server Error: the server is out of storage space, try again later",

        K::CantParseParameter => return format!("Bad Request: can't parse parameter {detail}").into(),
        K::ParameterNotUtf8 => return format!("Bad Request: parameter \"{detail}\" is not UTF-8").into(),
        K::BodyNotObject => "Bad Request: the request body must be a JSON object",
        K::CantParseJsonBody => return format!("Bad Request: can't parse JSON body: {detail}").into(),
        K::MultipartInvalid => return format!("Bad Request: invalid multipart body: {detail}").into(),
        K::IdMalformed => return format!("Bad Request: {detail} must be a UUID").into(),
        K::IdUnknown => return format!("Bad Request: {detail} not found").into(),

        K::ChatNotFound => "Bad Request: chat not found",
        K::UserNotFound => "Bad Request: user not found",
        K::ChatIdEmpty => "Bad Request: chat_id is empty",
        K::FromChatIdEmpty => "Bad Request: from_chat_id is empty",
        K::UserIdOrUsernameRequired => "Bad Request: user_id or username is required",
        K::BotCantInitiate => "Forbidden: bot can't initiate conversation with a user",
        K::BotCantMessageBots => "Forbidden: bot can't send messages to bots",
        K::UserDeactivated => "Forbidden: user is deactivated",
        K::BotBlocked => "Forbidden: bot was blocked by the user",

        K::MessageTextEmpty => "Bad Request: message text is empty",
        K::MessageTooLong => "Bad Request: message is too long",
        K::TextTooLong => "Bad Request: text is too long",
        K::CaptionTooLong => "Bad Request: message caption is too long",
        K::ReplyNotFound => "Bad Request: message to be replied not found",
        K::MessageNotFoundFor => return format!("Bad Request: message to {detail} not found").into(),
        K::MessageCantBe => return format!("Bad Request: message can't be {detail}").into(),
        K::MessageIdMissing => "Bad Request: message identifier is not specified",
        K::MessageIdsInvalid => "Bad Request: message_ids must contain 1-100 message identifiers",
        K::NoTextToEdit => "Bad Request: there is no text in the message to edit",
        K::NoCaptionToEdit => "Bad Request: there is no caption in the message to edit",
        K::MessageNotModified => {
            "Bad Request: message is not modified: specified new message content and reply markup are \
             exactly the same as a current content and reply markup of the message"
        }
        K::InlineKeyboardExpected => "Bad Request: inline keyboard expected",
        K::ChatActionInvalid => "Bad Request: wrong parameter action in request",
        K::ReactionsTooMany => "Bad Request: REACTIONS_TOO_MANY",
        K::ReactionInvalid => "Bad Request: REACTION_INVALID",

        K::ParseModeUnsupported => "Bad Request: unsupported parse_mode",
        K::CantParseEntities => return format!("Bad Request: can't parse entities: {detail}").into(),
        K::EntityOutOfText => "Bad Request: entity beginning or end is out of the text",
        K::ReplyMarkupInvalid => "Bad Request: can't parse reply keyboard markup JSON object",
        K::ReplyMarkupTooLong => "Bad Request: reply markup is too long",
        K::ButtonTextInvalid => "Bad Request: BUTTON_TEXT_INVALID",
        K::ButtonDataInvalid => "Bad Request: BUTTON_DATA_INVALID",
        K::ButtonUrlInvalid => "Bad Request: BUTTON_URL_INVALID",
        K::TextButtonsInInlineKeyboard => "Bad Request: text buttons are unallowed in the inline keyboard",
        K::InlineButtonActions => {
            "Bad Request: can't parse inline keyboard button: exactly one action must be set"
        }
        K::InlineButtonUrlInvalid => {
            return format!(
                "Bad Request: inline keyboard button URL '{detail}' is invalid: Unsupported URL protocol"
            )
            .into();
        }
        K::WebAppUrlInvalid => {
            return format!(
                "Bad Request: inline keyboard button Web App URL '{detail}' is invalid: Only HTTPS links are allowed"
            )
            .into();
        }

        K::QueryIdEmpty => "Bad Request: query_id is empty",
        K::QueryInvalid => {
            "Bad Request: query is too old and response timeout expired or query ID is invalid"
        }
        K::CallbackAnswerTooLong => "Bad Request: MESSAGE_TOO_LONG",

        K::ConflictOtherGetUpdates => {
            "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
        }
        K::ConflictWebhookActive => {
            "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the \
             webhook first"
        }
        K::BadWebhook => return format!("Bad Request: bad webhook: {detail}").into(),
        K::SecretTokenInvalid => "Bad Request: secret token contains unallowed characters",
        K::IpAddressInvalid => "Bad Request: invalid IP address specified",

        K::BotCommandScopeInvalid => "Bad Request: BOT_COMMAND_SCOPE_INVALID",
        K::LangCodeInvalid => "Bad Request: LANG_CODE_INVALID",
        K::BotCommandsTooMuch => "Bad Request: BOT_COMMANDS_TOO_MUCH",
        K::BotCommandInvalid => "Bad Request: BOT_COMMAND_INVALID",
        K::BotCommandDescriptionInvalid => "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID",
        K::CommandsEmpty => "Bad Request: commands is empty",
        K::BotNameInvalid => "Bad Request: BOT_NAME_INVALID",
        K::BotDescriptionInvalid => "Bad Request: BOT_DESCRIPTION_INVALID",
        K::BotShortDescriptionInvalid => "Bad Request: BOT_SHORT_DESCRIPTION_INVALID",
        K::MenuButtonInvalid => "Bad Request: can't parse menu button",
        K::BotUsernameInvalid => {
            "Bad Request: bot username must be 5-32 characters of a-z, 0-9 and _ and end in \"bot\""
        }

        // The client API is worded as Telegram's own client protocol words these, in upper case.
        K::ClientUnauthorized => "Unauthorized: session token is missing or invalid",
        K::LoginFailed => "Unauthorized: wrong username or password",
        K::UsernameInvalid => {
            "Bad Request: USERNAME_INVALID: 5-32 characters of a-z, 0-9 and _, starting with a letter \
             (a person's may not end in \"bot\")"
        }
        K::UsernameOccupied => "Bad Request: USERNAME_OCCUPIED",
        K::UsernameNotOccupied => "Bad Request: USERNAME_NOT_OCCUPIED",
        K::FirstNameInvalid => "Bad Request: FIRST_NAME_INVALID: 1-64 characters",
        K::LastNameInvalid => "Bad Request: LASTNAME_INVALID",
        K::PasswordInvalid => "Bad Request: PASSWORD_INVALID: 8-256 characters",
        K::PeerIdInvalid => "Bad Request: PEER_ID_INVALID",
        K::MessageIdInvalid => "Bad Request: MESSAGE_ID_INVALID",
        K::MessageAuthorRequired => "Bad Request: MESSAGE_AUTHOR_REQUIRED",
        K::ClientMessageNotModified => "Bad Request: MESSAGE_NOT_MODIFIED",
        K::ButtonNotFound => "Bad Request: BUTTON_NOT_FOUND",
        K::ButtonTypeInvalid => "Bad Request: BUTTON_TYPE_INVALID: the button has no callback_data",
        K::SessionIdRequired => "Bad Request: session_id is required",
        K::SessionNotFound => "Bad Request: session not found",
        K::AfterInvalid => "Bad Request: after must be a non-negative integer",

        K::BotsTooMuch => {
            "Bad Request: BOTS_TOO_MUCH: a person may create at most 20 bots, deleted ones included"
        }
        K::BotNotFound => "Bad Request: bot not found",
        K::BotIdRequired => "Bad Request: bot_id or username is required",
        K::InlinePlaceholderInvalid => "Bad Request: INLINE_PLACEHOLDER_INVALID: at most 64 characters",
        K::InlineFeedbackInvalid => "Bad Request: INLINE_FEEDBACK_INVALID: a percentage from 0 to 100",
        K::TokenNotKept => {
            "Bad Request: this bot's token was issued before Roost kept tokens; revoke it to get a new one"
        }
        K::SessionRequired => "Forbidden: this method needs a signed-in session, not an API key",
        K::ApiKeyNameInvalid => "Bad Request: API_KEY_NAME_INVALID: 1-64 characters",
        K::ApiKeyNotFound => "Bad Request: API key not found",
        K::ApiKeysTooMuch => "Bad Request: API_KEYS_TOO_MUCH: at most 20 API keys per person",
        K::RegistrationClosed => "Forbidden: registration is closed on this server",
        K::InviteRequired => "Forbidden: an invite code is required to register on this server",
        K::InviteInvalid => "Bad Request: INVITE_INVALID: the invite code is unknown or already used",
        K::InvitesNotAllowed => "Forbidden: only the operator makes invite codes on this server",
        K::InvitesTooMuch => "Bad Request: INVITES_TOO_MUCH: at most 20 unused invite codes per person",
    };
    Cow::Borrowed(fixed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every description starts with the reason phrase of its status, as Telegram's do.
    #[test]
    fn descriptions_start_with_their_status_reason() {
        for &kind in ErrorKind::ALL {
            let error = ApiError { retry_after: Some(3), ..ApiError::with(kind, "x") };
            let text = describe(&error);
            let prefix = match kind.status() {
                400 => "Bad Request",
                401 => "Unauthorized",
                403 => "Forbidden",
                404 => "Not Found",
                405 => "Method Not Allowed",
                408 => "Request Timeout",
                409 => "Conflict",
                413 => "Request Entity Too Large",
                429 => "Too Many Requests",
                500 => "Internal Server Error",
                other => panic!("{kind:?}: unexpected status {other}"),
            };
            assert!(text.starts_with(prefix), "{kind:?}: {text}");
        }
    }

    #[test]
    fn details_are_worded_in_place() {
        assert_eq!(describe(&ApiError::too_many_requests(7)), "Too Many Requests: retry after 7");
        assert_eq!(
            describe(&ApiError::cant_parse_entities("unclosed tag")),
            "Bad Request: can't parse entities: unclosed tag"
        );
        assert_eq!(
            describe(&ApiError::message_not_found_for("copy")),
            "Bad Request: message to copy not found"
        );
        assert_eq!(describe(&ApiError::CHAT_NOT_FOUND), "Bad Request: chat not found");
    }
}
