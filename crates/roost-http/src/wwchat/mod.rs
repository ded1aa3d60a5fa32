//! The Bot API in WWChat's dialect: `/bot/v1/<token>/<method>`.
//!
//! WWChat's bots call Telegram-style methods with the same token as `/bot<token>/`, over the same
//! core. What differs is at this edge:
//! - users, chats and messages are named by UUIDs ([`IdStyle::Uuid`]), in what a bot sends and in
//!   what it receives; `update_id` stays a number. A request's UUIDs are turned back into the
//!   core's ids (by [`crate::opaque`], which Koto's dialect shares), and must agree with each
//!   other (a reply's message in the chat sent to);
//! - `parse_mode: Markdown` is WWChat's (CommonMark's `**bold**`, `*italic*`, `~~strike~~`, …),
//!   parsed here into entities; HTML is Telegram's;
//! - the rate table is WWChat's: one message a second in every chat with no bursts, twenty a
//!   minute in every chat ([`ChatPace::Strict`]), and a 429 says `Retry-After: 1`;
//! - errors keep Telegram's words, plus WWChat's for ids that are not UUIDs or name nothing;
//! - a webhook set here gets its updates in this dialect, with `X-WWChat-Bot-Api-Secret-Token`.
//!
//! The methods are those of WWChat's document the core serves today: `getMe`, `sendMessage`,
//! `getUpdates`, `editMessageText`, `answerCallbackQuery`, `setWebhook`, `deleteWebhook` and
//! `getWebhookInfo`. docs/dialects.md maps each onto the core.

use std::borrow::Cow;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{Method as HttpMethod, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use roost_core::{ChatPace, Core};
use roost_types::{ApiError, BotUser};
use serde_json::{Value, json};

use crate::envelope::{error_response, ok};
use crate::opaque::Profile;
use crate::opaque::ids::{IdStyle, Ids};

/// This dialect's name, as webhooks record it.
pub const DIALECT: &str = "wwchat";

/// WWChat's dialect.
pub static PROFILE: Profile = Profile {
    dialect: DIALECT,
    style: IdStyle::Uuid,
    pace: ChatPace::Strict,
    methods: &[
        "getMe",
        "sendMessage",
        "getUpdates",
        "editMessageText",
        "answerCallbackQuery",
        "setWebhook",
        "deleteWebhook",
        "getWebhookInfo",
    ],
    not_yet: &[],
    commonmark: true,
    get_me,
    secret_headers: &["X-WWChat-Bot-Api-Secret-Token"],
};

/// WWChat's `getMe`: its own field names, and the description.
fn get_me(ids: &Ids, me: &BotUser, description: String) -> Value {
    json!({
        "id": ids.user(me.user.id),
        "is_bot": true,
        "first_name": me.user.first_name,
        "username": me.user.username,
        "description": description,
        "can_join_groups": me.can_join_groups,
        "can_read_group_messages": me.can_read_all_group_messages,
        "can_join_channels": false,
    })
}

pub fn router() -> Router<Core> {
    Router::new().route("/bot/v1/{token}/{method}", any(call))
}

/// `ANY /bot/v1/<token>/<method>`: the HTTP method, the token and the bot's rate limit, then the
/// body, as in the Telegram dialect.
async fn call(
    State(core): State<Core>,
    Path((token, method)): Path<(String, String)>,
    req: Request,
) -> Response {
    if req.method() != HttpMethod::GET && req.method() != HttpMethod::POST {
        return StatusCode::NOT_IMPLEMENTED.into_response();
    }
    respond(crate::opaque::serve(&PROFILE, &core, &token, &method, req, describe).await)
}

/// The envelope, with errors in WWChat's words.
fn respond(result: Result<Value, ApiError>) -> Response {
    match result {
        Ok(value) => ok(&value),
        Err(error) => {
            // WWChat documents `Retry-After: 1` for every rate limit.
            let retry_after = error.retry_after.map(|_| 1);
            let error = ApiError { retry_after, ..error };
            error_response(&error, &describe(&error), retry_after)
        }
    }
}

/// WWChat's words for an error: Telegram's, which WWChat's document follows.
pub fn describe(error: &ApiError) -> Cow<'static, str> {
    crate::telegram::errors::describe(error)
}
