//! The Bot API in Koto's dialect: `{GATEWAY}/{method}`, where the gateway is `<roost>/koto` (the
//! prefix is `koto_prefix` in the configuration), with the token in `Authorization: Bearer …`.
//!
//! Koto's bots call Telegram-style methods over the same core, with the `{ok, result}` envelope
//! and Telegram's words for errors. What differs is at this edge:
//! - the token comes in a header, in either of a bot's forms: Koto's `kbot_<id>_<secret>` (what
//!   @BotKoto shows) or `<id>:<secret>`;
//! - users and chats are named `KOTO-…` and messages by string ids ([`IdStyle::Koto`]: the same
//!   sealed records as WWChat's UUIDs), in what a bot sends and what it receives;
//! - a webhook set here gets its updates in this dialect, with `X-Koto-Bot-Api-Secret-Token`.
//!
//! The methods are those Koto's document names or lists as capabilities, as far as the core
//! serves them: `getMe`, `sendMessage`, `getUpdates`, `setWebhook`, `deleteWebhook`,
//! `getWebhookInfo`, `setMyCommands`, `getMyCommands`, `deleteMyCommands`, `editMessageText`,
//! `deleteMessage`, `forwardMessage`, `pinChatMessage`, `unpinChatMessage`, `setMessageReaction`
//! and `answerCallbackQuery`; `sendPhoto` answers that it is not served yet. The end-to-end
//! encryption side of Koto's gateway is not part of this dialect. docs/dialects.md maps each
//! method onto the core.

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{Method as HttpMethod, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use roost_core::{ChatPace, Core};
use roost_types::{ApiError, BotUser, ErrorKind};
use serde_json::{Value, json};
use std::borrow::Cow;

use crate::envelope::{error_response, ok};
use crate::opaque::Profile;
use crate::opaque::ids::{IdStyle, Ids};

/// This dialect's name, as webhooks record it.
pub const DIALECT: &str = "koto";

/// The gateway's path when the configuration names none.
pub const DEFAULT_PREFIX: &str = "/koto";

/// Koto's dialect.
pub static PROFILE: Profile = Profile {
    dialect: DIALECT,
    style: IdStyle::Koto,
    pace: ChatPace::Bursts,
    methods: &[
        "getMe",
        "sendMessage",
        "getUpdates",
        "setWebhook",
        "deleteWebhook",
        "getWebhookInfo",
        "setMyCommands",
        "getMyCommands",
        "deleteMyCommands",
        "editMessageText",
        "deleteMessage",
        "forwardMessage",
        "pinChatMessage",
        "unpinChatMessage",
        "setMessageReaction",
        "answerCallbackQuery",
    ],
    not_yet: &["sendPhoto", "sendDocument", "sendPoll"],
    commonmark: false,
    get_me,
    secret_headers: &["X-Koto-Bot-Api-Secret-Token"],
};

/// Koto's `getMe`: Telegram's `User` of the bot, with its `KOTO-…` id.
fn get_me(ids: &Ids, me: &BotUser, _description: String) -> Value {
    json!({
        "id": ids.user(me.user.id),
        "is_bot": true,
        "first_name": me.user.first_name,
        "username": me.user.username,
        "can_join_groups": me.can_join_groups,
        "can_read_all_group_messages": me.can_read_all_group_messages,
        "supports_inline_queries": me.supports_inline_queries,
    })
}

/// The gateway's routes under `prefix` (`/koto` unless configured).
pub fn router(prefix: &str) -> Router<Core> {
    let prefix = prefix.trim_end_matches('/');
    Router::new().route(&format!("{prefix}/{{method}}"), any(call))
}

/// `ANY {GATEWAY}/<method>`: the HTTP method, the token and the bot's rate limit, then the body,
/// as in the other dialects.
async fn call(State(core): State<Core>, Path(method): Path<String>, req: Request) -> Response {
    if req.method() != HttpMethod::GET && req.method() != HttpMethod::POST {
        return StatusCode::NOT_IMPLEMENTED.into_response();
    }
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(|v| v.trim().to_owned())
        .unwrap_or_default();
    respond(crate::opaque::serve(&PROFILE, &core, &token, &method, req, describe).await)
}

/// The `{ok, result}` envelope, with errors in Koto's words.
fn respond(result: Result<Value, ApiError>) -> Response {
    match result {
        Ok(value) => ok(&value),
        Err(error) => error_response(&error, &describe(&error), error.retry_after),
    }
}

/// Koto's words for an error: Telegram's, which Koto's document follows, but for its ids.
pub fn describe(error: &ApiError) -> Cow<'static, str> {
    match error.kind {
        ErrorKind::IdMalformed => format!("Bad Request: {} must be a Koto id", error.detail()).into(),
        _ => crate::telegram::errors::describe(error),
    }
}
