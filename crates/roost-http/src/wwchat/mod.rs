//! The Bot API in WWChat's dialect: `/bot/v1/<token>/<method>`.
//!
//! WWChat's bots call Telegram-style methods with the same token as `/bot<token>/`, over the same
//! core. What differs is at this edge:
//! - users, chats and messages are named by UUIDs ([`ids`]), in what a bot sends and in what it
//!   receives ([`objects`]); `update_id` stays a number. A request's UUIDs are turned back into
//!   the core's ids here, and must agree with each other (a reply's message in the chat sent to);
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

pub mod ids;
pub mod objects;

use roost_store::UserId;
use std::borrow::Cow;

use axum::Router;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{Method as HttpMethod, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use roost_core::{ChatPace, Core};
use roost_types::requests::{ChatId, MyText};
use roost_types::{ApiError, ErrorKind};
use serde_json::{Value, json};

use crate::envelope::{HttpError, error_response, ok};
use crate::params::Params;
use ids::{Ids, Named, Refused};
use objects::View;

/// This dialect's name, as webhooks record it.
pub const DIALECT: &str = "wwchat";

/// The methods served, as WWChat spells them.
pub const METHODS: &[&str] = &[
    "getMe",
    "sendMessage",
    "getUpdates",
    "editMessageText",
    "answerCallbackQuery",
    "setWebhook",
    "deleteWebhook",
    "getWebhookInfo",
];

/// Texts longer than this are parsed on the blocking pool (as the core does for its parse modes).
const PARSE_INLINE_MAX: usize = 16 * 1024;

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
    let answer = match Box::pin(authenticate(&core, &token)).await {
        Ok(bot) => match Box::pin(Params::from_request(req, &())).await {
            Ok(params) => dispatch(&core, bot, &method, params).await.map_err(|e| (bot, e)),
            Err(rejection) => Err((bot, rejection.0)),
        },
        Err((None, e)) => return respond(Err(e)),
        Err((Some(bot), e)) => Err((bot, e)),
    };
    if let Err((bot, refused)) = &answer {
        crate::telegram::note_refused(&core, *bot, &method, refused, &describe(refused));
    }
    respond(answer.map_err(|(_, e)| e))
}

/// The bot a call is from, within its rate limit; a refusal names the bot once it is known.
async fn authenticate(core: &Core, token: &str) -> Result<UserId, (Option<UserId>, ApiError)> {
    let bot = core.authenticate_bot(token).await.map_err(|e| (None, api_error(e)))?;
    core.check_bot_rate(bot).await.map_err(|e| (Some(bot), api_error(e)))?;
    Ok(bot)
}

/// A core error as this edge reports it (a store failure is logged once, in the envelope).
fn api_error(error: roost_core::Error) -> ApiError {
    HttpError::from(error).0
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

/// Runs one WWChat method for an authenticated bot, at WWChat's pace; `method` in any case.
pub async fn dispatch(core: &Core, bot: UserId, method: &str, params: Params) -> Result<Value, ApiError> {
    let core = &core.paced(ChatPace::Strict);
    let ids = Ids::new(core.id_key());
    let mut call = Call { core, bot, ids: &ids, params };
    let name = METHODS.iter().find(|m| m.eq_ignore_ascii_case(method)).ok_or(ApiError::NOT_FOUND)?;
    call.run(name).await.map_err(|e| e.0)
}

/// A method's failure: [`HttpError`] turns a core error into its kind (logging a store failure).
type Failed = HttpError;

struct Call<'a> {
    core: &'a Core,
    bot: UserId,
    ids: &'a Ids,
    params: Params,
}

/// Whether a parameter was given: `null` and `""` are absent, as in the Telegram dialect's
/// reading.
fn given(value: &Value) -> bool {
    !matches!(value, Value::Null) && value.as_str().is_none_or(|text| !text.is_empty())
}

fn to_value<T: serde::Serialize>(value: &T) -> Result<Value, Failed> {
    serde_json::to_value(value).map_err(|_| HttpError(ApiError::INTERNAL))
}

impl Call<'_> {
    fn view(&self) -> View<'_> {
        View { ids: self.ids, viewer: self.bot }
    }

    async fn run(&mut self, method: &str) -> Result<Value, Failed> {
        let core = self.core;
        let bot = self.bot;
        match method {
            "getMe" => {
                let me = core.bot_me(bot).await?;
                let description = core.get_my_text(bot, "description", MyText::default()).await?;
                Ok(json!({
                    "id": self.ids.user(me.user.id),
                    "is_bot": true,
                    "first_name": me.user.first_name,
                    "username": me.user.username,
                    "description": description,
                    "can_join_groups": me.can_join_groups,
                    "can_read_group_messages": me.can_read_all_group_messages,
                    "can_join_channels": false,
                }))
            }
            "sendMessage" => {
                let chat = self.chat("chat_id")?;
                // Not in WWChat's document, and its ids would be the core's numbers: an unknown
                // parameter here, ignored as Telegram ignores unknown parameters.
                self.params.take("reply_parameters");
                if let Some((reply_peer, message_id)) = self.message_param("reply_to_message_id")? {
                    if let Some(chat) = chat
                        && self.peer(chat).await? != reply_peer
                    {
                        return Err(ApiError::REPLY_NOT_FOUND.into());
                    }
                    self.params.insert("reply_to_message_id", message_id.into());
                }
                let params = self.formatted().await?;
                let sent = core.bot_send(bot, params.parse()?).await?;
                self.message(&sent)
            }
            "editMessageText" => {
                let chat = self.chat("chat_id")?;
                if let Some((message_peer, message_id)) = self.message_param("message_id")? {
                    match chat {
                        Some(chat) => {
                            if self.peer(chat).await? != message_peer {
                                return Err(ApiError::message_not_found_for("edit").into());
                            }
                        }
                        // The message's UUID names its chat.
                        None => self.params.insert("chat_id", message_peer.into()),
                    }
                    self.params.insert("message_id", message_id.into());
                }
                let params = self.formatted().await?;
                let edited = core.edit_message_text(bot, params.parse()?).await?;
                self.message(&edited)
            }
            "getUpdates" => {
                let params = std::mem::take(&mut self.params);
                let updates = core.get_updates(bot, params.parse()?).await?;
                let view = self.view();
                let mut rendered = Vec::with_capacity(updates.len());
                for update in &updates {
                    let mut value = to_value(update)?;
                    view.update(&mut value);
                    rendered.push(value);
                }
                Ok(Value::Array(rendered))
            }
            "answerCallbackQuery" => {
                let params = std::mem::take(&mut self.params);
                to_value(&core.answer_callback_query(bot, params.parse()?).await?)
            }
            "setWebhook" => {
                let params = std::mem::take(&mut self.params);
                to_value(&crate::webhook::set_webhook(core, bot, params, DIALECT).await?)
            }
            "deleteWebhook" => {
                let params = std::mem::take(&mut self.params);
                to_value(&core.delete_webhook(bot, params.parse()?).await?)
            }
            "getWebhookInfo" => to_value(&core.webhook_info(bot).await?),
            _ => Err(ApiError::NOT_FOUND.into()),
        }
    }

    /// Reads a chat parameter (a UUID or `@username`) and puts back the core's form of it, which
    /// it also returns.
    fn chat(&mut self, name: &'static str) -> Result<Option<ChatId>, Failed> {
        let Some(value) = self.params.take(name).filter(given) else { return Ok(None) };
        let text = match &value {
            Value::String(text) => text.trim(),
            _ => return Err(ApiError::with(ErrorKind::IdMalformed, name).into()),
        };
        if text.starts_with('@') {
            let chat = ChatId::parse(text).ok_or(ApiError::CHAT_NOT_FOUND)?;
            self.params.insert(name, text.into());
            return Ok(Some(chat));
        }
        match self.ids.open(text) {
            Ok(Named::User(user)) => {
                self.params.insert(name, user.into());
                Ok(Some(ChatId::Id(user)))
            }
            Ok(_) | Err(Refused::Unknown) => Err(ApiError::with(ErrorKind::IdUnknown, name).into()),
            Err(Refused::Malformed) => Err(ApiError::with(ErrorKind::IdMalformed, name).into()),
        }
    }

    /// The number the bot addresses `chat` by, to compare with a message UUID's chat: looked up
    /// only for a `@username`, and only when a message UUID comes with it.
    async fn peer(&self, chat: ChatId) -> Result<i64, Failed> {
        Ok(self.core.chat_wire_id(chat).await?)
    }

    /// A message as WWChat shows it to this bot.
    fn message(&self, message: &roost_types::Message) -> Result<Value, Failed> {
        let mut value = to_value(message)?;
        self.view().message(&mut value);
        Ok(value)
    }

    /// Reads a message UUID parameter: the chat it is in (as the bot names it) and its id there.
    fn message_param(&mut self, name: &'static str) -> Result<Option<(i64, i64)>, Failed> {
        let Some(value) = self.params.take(name).filter(given) else { return Ok(None) };
        let Value::String(text) = value else {
            return Err(ApiError::with(ErrorKind::IdMalformed, name).into());
        };
        match self.ids.open(&text) {
            Ok(Named::PrivateMessage { members: (a, b), message_id })
                if a == self.bot.raw() || b == self.bot.raw() =>
            {
                Ok(Some((if a == self.bot.raw() { b } else { a }, message_id)))
            }
            Ok(_) | Err(Refused::Unknown) => Err(ApiError::with(ErrorKind::IdUnknown, name).into()),
            Err(Refused::Malformed) => Err(ApiError::with(ErrorKind::IdMalformed, name).into()),
        }
    }

    /// The parameters, with WWChat's `parse_mode: Markdown` parsed here: the core gets the text
    /// and its entities.
    async fn formatted(&mut self) -> Result<Params, Failed> {
        self.markdown().await?;
        Ok(std::mem::take(&mut self.params))
    }

    /// `parse_mode: Markdown` is WWChat's Markdown: parsed here, the core gets text and entities.
    async fn markdown(&mut self) -> Result<(), Failed> {
        let markdown =
            self.params.text("parse_mode").is_some_and(|mode| mode.trim().eq_ignore_ascii_case("markdown"));
        if !markdown {
            return Ok(());
        }
        self.params.take("parse_mode");
        let Some(text) = self.params.text("text") else { return Ok(()) };
        if text.len() > roost_types::limits::TEXT_INPUT_MAX_BYTES {
            return Err(ApiError::TEXT_TOO_LONG.into());
        }
        let parsed = if text.len() > PARSE_INLINE_MAX {
            tokio::task::spawn_blocking(move || roost_core::format::parse_commonmark(&text))
                .await
                .map_err(|_| ApiError::INTERNAL)?
        } else {
            roost_core::format::parse_commonmark(&text)
        };
        let parsed = parsed.map_err(ApiError::cant_parse_entities)?;
        self.params.insert("text", parsed.text.into());
        self.params.insert("entities", to_value(&parsed.entities)?);
        Ok(())
    }
}
