//! Quanta's bot API: REST under `/api/v1/bot/`, with the bot's `api_key` in `X-Bot-Token` and,
//! for the owner's endpoints, a JWT in `Authorization: Bearer` (client API `issueJwt`).
//!
//! Quanta does not follow Telegram's method names or envelope: answers are plain JSON objects,
//! errors `{"error": "…"}` with the status alone saying which kind (400, 401, 403, 404, and 429
//! for the rate limits). Its bots see UUIDs for users, chats, messages and updates (the same
//! sealed records as WWChat's, [`IdStyle::Uuid`]) and an update as `{id, type, payload,
//! created_at}`. An update `/updates` hands out is confirmed at once, since Quanta's bots send no
//! offset; `?ack=manual` leaves them queued until `POST /ack`. A webhook set here gets Quanta's
//! updates, each signed: `X-Quanta-Signature: sha256=<hex HMAC-SHA256 of the body under the
//! webhook's secret>`. Owner endpoints (`register`, `my-bots`, `delete`) are the owner API's
//! operations. docs/dialects.md maps each endpoint onto the core.

use std::time::{Duration, UNIX_EPOCH};

use axum::Router;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use roost_core::{ChatPace, Core, Manager};
use roost_store::UserId;
use roost_types::requests::{
    AnswerCallbackQuery, BotRef, ChatId, CreateBot, DeleteWebhook, EditBot, EditMessageText, GetUpdates,
    MyCommands, SendMessage,
};
use roost_types::{
    ApiError, BotCommand, ErrorKind, Message, MessageEntity, OwnedBot, Update, UpdateKind, User,
};
use serde_json::{Map, Value, json};

use crate::envelope::HttpError;
use crate::opaque::ids::{IdStyle, Ids, Named};
use crate::params::Params;

/// This dialect's name, as webhooks record it.
pub const DIALECT: &str = "quanta";

/// The header a webhook delivery's signature is in.
pub const SIGNATURE_HEADER: &str = "X-Quanta-Signature";

pub fn router() -> Router<Core> {
    let routes = Router::new()
        .route("/me", get(me))
        .route("/updates", get(updates).post(updates))
        .route("/ack", post(ack))
        .route("/send-message", post(send_message))
        .route("/set-commands", post(set_commands))
        .route("/answer-callback", post(answer_callback))
        .route("/webhook", put(set_webhook).delete(delete_webhook))
        .route("/register", post(register))
        .route("/my-bots", get(my_bots))
        .route("/delete/{bot_id}", axum::routing::delete(delete_bot))
        // Every answer under the prefix is Quanta's shape, unknown paths and methods included.
        .fallback(|| async { Refusal::Api(ApiError::NOT_FOUND) })
        .method_not_allowed_fallback(|| async { Refusal::Api(ApiError::METHOD_NOT_ALLOWED) });
    Router::new().nest("/api/v1/bot", routes)
}

/// A delivery's signature: `sha256=` and the hex HMAC-SHA256 of the body under the webhook's
/// secret.
pub fn signature(secret: &str, body: &[u8]) -> String {
    use hmac::Mac;
    match hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(body);
            format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
        }
        // HMAC takes a key of any length.
        Err(_) => String::new(),
    }
}

/// Why a Quanta call was refused.
enum Refusal {
    /// An error of the core's (its kind gives the status).
    Api(ApiError),
    /// A required parameter is missing, in Quanta's own words.
    Missing(&'static str),
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Self {
        Refusal::Api(error)
    }
}

impl From<roost_core::Error> for Refusal {
    fn from(error: roost_core::Error) -> Self {
        Refusal::Api(HttpError::from(error).0)
    }
}

impl From<HttpError> for Refusal {
    fn from(error: HttpError) -> Self {
        Refusal::Api(error.0)
    }
}

impl Refusal {
    /// The status Quanta's table gives the error.
    fn status(&self) -> u16 {
        use ErrorKind as K;
        match self {
            Refusal::Missing(_) => 400,
            Refusal::Api(e) => match e.kind {
                K::BotNotFound | K::ChatNotFound | K::UserNotFound | K::IdUnknown | K::QueryInvalid => 404,
                K::NotFound | K::MethodNotServed => 404,
                K::Unauthorized | K::ClientUnauthorized => 401,
                K::MethodNotAllowed => 405,
                K::TooManyRequests => 429,
                _ if e.status() == 403 => 403,
                _ if e.status() >= 500 => 500,
                _ => 400,
            },
        }
    }

    /// The words: Telegram's description without its reason phrase, or Quanta's own.
    fn words(&self) -> String {
        match self {
            Refusal::Missing(words) => (*words).to_owned(),
            Refusal::Api(e) if e.kind == ErrorKind::IdMalformed => format!("{} must be a UUID", e.detail()),
            Refusal::Api(e) => {
                let text = crate::telegram::errors::describe(e);
                match text.split_once(": ") {
                    Some((_, rest)) => rest.to_owned(),
                    None => text.into_owned(),
                }
            }
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status()).unwrap_or(StatusCode::BAD_REQUEST);
        let mut response = (status, axum::Json(json!({"error": self.words()}))).into_response();
        if let Refusal::Api(ApiError { retry_after: Some(seconds), .. }) = self {
            response.headers_mut().insert(header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

type Answer = Result<Response, Refusal>;

fn answer(value: Value) -> Answer {
    Ok(axum::Json(value).into_response())
}

/// The bot whose `api_key` is in `X-Bot-Token` (any form of its token), within its rate limit.
async fn bot_of(core: &Core, headers: &HeaderMap) -> Result<UserId, Refusal> {
    let token = headers.get("x-bot-token").and_then(|v| v.to_str().ok()).map(str::trim).unwrap_or_default();
    if token.is_empty() {
        return Err(ApiError::UNAUTHORIZED.into());
    }
    let bot = core.authenticate_bot(token).await?;
    core.check_bot_rate(bot).await.inspect_err(|e| {
        if let roost_core::Error::Api(error) = e {
            note(core, bot, "rate", error);
        }
    })?;
    Ok(bot)
}

/// The person a JWT (or a personal API key) in `Authorization: Bearer` acts for.
async fn owner_of(core: &Core, headers: &HeaderMap) -> Result<UserId, Refusal> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .ok_or(ApiError::CLIENT_UNAUTHORIZED)?;
    if roost_core::is_api_key(bearer) {
        return Ok(core.authenticate_api_key(bearer).await?);
    }
    Ok(core.authenticate_jwt(bearer).await?)
}

/// Adds a refused call to the bot's error log.
fn note(core: &Core, bot: UserId, endpoint: &str, error: &ApiError) {
    let refusal = Refusal::Api(error.clone());
    crate::telegram::note_refused(core, bot, endpoint, error, &refusal.words());
}

/// Runs a bot endpoint: the bot, then the body, then `body`; a refusal goes to the bot's log.
async fn bot_call<F>(core: Core, endpoint: &'static str, req: Request, body: F) -> Response
where
    F: AsyncFnOnce(&Core, UserId, Params) -> Answer,
{
    let bot = match bot_of(&core, req.headers()).await {
        Ok(bot) => bot,
        Err(refusal) => return refusal.into_response(),
    };
    let core = core.paced(ChatPace::Bursts);
    let result = match Params::from_request(req, &()).await {
        Ok(params) => body(&core, bot, params).await,
        Err(rejection) => Err(rejection.into()),
    };
    match result {
        Ok(response) => response,
        Err(refusal) => {
            if let Refusal::Api(error) = &refusal {
                note(&core, bot, endpoint, error);
            }
            refusal.into_response()
        }
    }
}

fn ids(core: &Core) -> Ids {
    Ids::new(core.id_key(), IdStyle::Uuid)
}

/// An ISO 8601 time (UTC) from a Unix time.
fn iso(unix: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_secs(u64::try_from(unix).unwrap_or(0));
    humantime::format_rfc3339_seconds(at).to_string()
}

/// The user a UUID parameter names.
fn user_param(ids: &Ids, params: &Params, name: &'static str, missing: &'static str) -> Result<i64, Refusal> {
    let text = params.text(name).filter(|t| !t.trim().is_empty()).ok_or(Refusal::Missing(missing))?;
    match ids.open(&text) {
        Ok(Named::User(id)) => Ok(id),
        Ok(_) | Err(crate::opaque::ids::Refused::Unknown) => {
            Err(ApiError::with(ErrorKind::IdUnknown, name).into())
        }
        Err(crate::opaque::ids::Refused::Malformed) => {
            Err(ApiError::with(ErrorKind::IdMalformed, name).into())
        }
    }
}

/// The command a message starts with (`start` for `/start@my_bot arg`), if it starts with one.
fn command_of(text: &str, entities: &[MessageEntity]) -> Option<String> {
    let starts = entities
        .iter()
        .any(|e| e.offset == 0 && serde_json::to_value(e.kind).ok().is_some_and(|k| k == "bot_command"));
    if !starts {
        return None;
    }
    let word = text.split_whitespace().next()?.trim_start_matches('/');
    Some(word.split('@').next().unwrap_or(word).to_owned())
}

/// A message as Quanta's payload: its id, chat, sender and text.
fn message_payload(ids: &Ids, bot: UserId, message: &Message) -> Map<String, Value> {
    let content = message.text.clone().unwrap_or_default();
    let command = command_of(&content, &message.entities);
    let mut payload = Map::new();
    payload.insert(
        "message_id".into(),
        ids.private_message(bot.raw(), message.chat.id, message.message_id).into(),
    );
    payload.insert("chat_id".into(), ids.user(message.chat.id).into());
    if let Some(from) = &message.from {
        sender(ids, from, &mut payload);
    }
    payload.insert("content".into(), content.into());
    payload.insert("is_command".into(), command.is_some().into());
    if let Some(command) = command {
        payload.insert("command".into(), command.into());
    }
    if let Some(Value::Object(markup)) = &message.reply_markup
        && let Some(rows) = markup.get("inline_keyboard")
    {
        payload.insert("buttons".into(), rows.clone());
    }
    payload
}

fn sender(ids: &Ids, user: &User, payload: &mut Map<String, Value>) {
    payload.insert("user_id".into(), ids.user(user.id).into());
    payload.insert("username".into(), user.username.clone().into());
    payload.insert("first_name".into(), user.first_name.clone().into());
}

/// An update as Quanta shows it: `{id, type, payload, created_at}`; `None` for a kind Quanta's
/// bots do not get.
pub fn render_update(ids: &Ids, bot: UserId, update: &Update) -> Option<Value> {
    let (kind, payload, at) = match &update.kind {
        UpdateKind::Message(m) => ("message", message_payload(ids, bot, m), m.date),
        UpdateKind::EditedMessage(m) => {
            ("edited_message", message_payload(ids, bot, m), m.edit_date.unwrap_or(m.date))
        }
        UpdateKind::CallbackQuery(q) => {
            let mut payload = Map::new();
            payload.insert("callback_id".into(), q.id.clone().into());
            payload.insert("data".into(), q.data.clone().into());
            sender(ids, &q.from, &mut payload);
            let mut at = roost_store::unix_now();
            if let Some(message) = &q.message {
                payload.insert("chat_id".into(), ids.user(message.chat.id).into());
                payload.insert(
                    "message_id".into(),
                    ids.private_message(bot.raw(), message.chat.id, message.message_id).into(),
                );
                payload.insert("message_content".into(), message.text.clone().into());
                at = at.max(message.date);
            }
            ("callback_query", payload, at)
        }
        UpdateKind::MessageReaction(_) => return None,
    };
    Some(json!({
        "id": ids.update(bot.raw(), update.update_id),
        "type": kind,
        "payload": payload,
        "created_at": iso(at),
    }))
}

/// A bot as Quanta shows it.
fn bot_object(ids: &Ids, bot: &OwnedBot) -> Value {
    json!({
        "id": ids.user(bot.profile.id),
        "name": bot.profile.name,
        "username": bot.profile.username,
        "description": bot.profile.description,
        "is_active": !bot.is_deleted,
        "commands": bot.profile.commands,
        "created_at": iso(bot.created_at),
    })
}

/// `GET /me`.
async fn me(State(core): State<Core>, req: Request) -> Response {
    bot_call(core, "me", req, async |core: &Core, bot: UserId, _| {
        let owned =
            core.managed_bot(Manager::Operator, BotRef { bot_id: Some(bot.raw()), username: None }).await?;
        answer(bot_object(&ids(core), &owned))
    })
    .await
}

/// `GET /updates?timeout&limit[&ack=manual]`.
async fn updates(State(core): State<Core>, req: Request) -> Response {
    bot_call(core, "updates", req, async |core: &Core, bot: UserId, params: Params| {
        let number = |name: &str, default: i64| {
            params.text(name).and_then(|t| t.trim().parse().ok()).unwrap_or(default)
        };
        let manual = params.text("ack").is_some_and(|a| a.eq_ignore_ascii_case("manual"));
        let req = GetUpdates {
            offset: None,
            limit: Some(number("limit", 100)),
            timeout: Some(number("timeout", 30)),
            allowed_updates: None,
        };
        let mut got = core.get_updates(bot, req).await?;
        let Some(last) = got.last().map(|u| u.update_id) else { return answer(json!({"updates": []})) };
        if !manual {
            // Handed out once: Quanta's bots send no offset. Of two calls that read the same
            // updates, each answers only those it took out of the queue.
            let claimed = core.claim_updates(bot, last).await?;
            got.retain(|u| claimed.contains(&u.update_id));
        }
        let ids = ids(core);
        let rendered: Vec<Value> = got.iter().filter_map(|u| render_update(&ids, bot, u)).collect();
        if manual && rendered.is_empty() {
            // Only kinds Quanta's bots do not get (reactions): nothing to acknowledge them by.
            core.confirm_updates(bot, last + 1).await?;
        }
        answer(json!({"updates": rendered}))
    })
    .await
}

/// `POST /ack {id}`: confirms the update `id` and every one before it (with `?ack=manual`).
async fn ack(State(core): State<Core>, req: Request) -> Response {
    bot_call(core, "ack", req, async |core: &Core, bot: UserId, params: Params| {
        let text = params.text("id").ok_or(Refusal::Missing("id is required"))?;
        match ids(core).open(&text) {
            Ok(Named::Update { bot: owner, update_id }) if owner == bot.raw() => {
                core.confirm_updates(bot, update_id + 1).await?;
                answer(json!({"ok": true}))
            }
            Ok(_) | Err(crate::opaque::ids::Refused::Unknown) => {
                Err(ApiError::with(ErrorKind::IdUnknown, "id").into())
            }
            Err(_) => Err(ApiError::with(ErrorKind::IdMalformed, "id").into()),
        }
    })
    .await
}

/// Quanta's `payload.buttons` as an inline keyboard.
fn keyboard(params: &mut Params) -> Result<Option<Map<String, Value>>, Refusal> {
    let Some(payload) = params.take("payload") else { return Ok(None) };
    let payload = match payload {
        Value::String(text) => {
            serde_json::from_str::<Value>(&text).map_err(|_| ApiError::REPLY_MARKUP_INVALID)?
        }
        other => other,
    };
    match payload.get("buttons") {
        None | Some(Value::Null) => Ok(None),
        Some(rows @ Value::Array(_)) => {
            let mut markup = Map::new();
            markup.insert("inline_keyboard".into(), rows.clone());
            Ok(Some(markup))
        }
        Some(_) => Err(ApiError::REPLY_MARKUP_INVALID.into()),
    }
}

/// `POST /send-message {chat_id, content, payload?}`.
async fn send_message(State(core): State<Core>, req: Request) -> Response {
    bot_call(core, "send-message", req, async |core: &Core, bot: UserId, mut params: Params| {
        let ids = ids(core);
        let content = params.text("content").filter(|c| !c.is_empty());
        if params.text("chat_id").is_none() || content.is_none() {
            return Err(Refusal::Missing("chat_id and content are required"));
        }
        let chat = user_param(&ids, &params, "chat_id", "chat_id and content are required")?;
        let req = SendMessage {
            chat_id: Some(ChatId::Id(chat)),
            text: content,
            reply_markup: keyboard(&mut params)?,
            ..SendMessage::default()
        };
        let sent = core.bot_send(bot, req).await?;
        let mut message = message_payload(&ids, bot, &sent);
        message.insert("created_at".into(), iso(sent.date).into());
        answer(json!({"message": message}))
    })
    .await
}

/// `POST /set-commands {commands}`: replaces the command menu.
async fn set_commands(State(core): State<Core>, req: Request) -> Response {
    bot_call(core, "set-commands", req, async |core: &Core, bot: UserId, mut params: Params| {
        let commands: Vec<BotCommand> = match params.take("commands") {
            Some(value @ Value::Array(_)) => {
                serde_json::from_value(value).map_err(|_| ApiError::BOT_COMMAND_INVALID)?
            }
            Some(Value::String(text)) => {
                serde_json::from_str(&text).map_err(|_| ApiError::BOT_COMMAND_INVALID)?
            }
            _ => return Err(Refusal::Missing("commands is required")),
        };
        let req = MyCommands { commands: Some(commands.clone()), ..MyCommands::default() };
        core.set_my_commands(bot, req).await?;
        let stored = core.get_my_commands(bot, MyCommands::default()).await?;
        answer(json!({"ok": true, "commands": stored}))
    })
    .await
}

/// `POST /answer-callback {callback_id, text?, chat_id?, message_content?}`.
async fn answer_callback(State(core): State<Core>, req: Request) -> Response {
    bot_call(core, "answer-callback", req, async |core: &Core, bot: UserId, params: Params| {
        let id = params
            .text("callback_id")
            .filter(|c| !c.is_empty())
            .ok_or(Refusal::Missing("callback_id is required"))?;
        let (chat, message_id) = core.callback_message(bot, id.clone()).await?;
        if params.text("chat_id").is_some_and(|c| !c.is_empty()) {
            let named = user_param(&ids(core), &params, "chat_id", "callback_id is required")?;
            if named != chat {
                return Err(ApiError::with(ErrorKind::IdUnknown, "chat_id").into());
            }
        }
        // The edit first: if it fails, the query is still there to answer.
        if let Some(content) = params.text("message_content").filter(|c| !c.is_empty()) {
            let edit = EditMessageText {
                chat_id: Some(ChatId::Id(chat)),
                message_id: Some(message_id),
                text: Some(content),
                ..EditMessageText::default()
            };
            match core.edit_message_text(bot, edit).await {
                Err(roost_core::Error::Api(e)) if e.kind == ErrorKind::MessageNotModified => {}
                other => {
                    other?;
                }
            }
        }
        let text = params.text("text").filter(|t| !t.is_empty());
        core.answer_callback_query(
            bot,
            AnswerCallbackQuery { callback_query_id: Some(id), text, ..Default::default() },
        )
        .await?;
        answer(json!({"ok": true}))
    })
    .await
}

/// `PUT /webhook {url, secret?}`: the secret is made when not given, and returned.
async fn set_webhook(State(core): State<Core>, req: Request) -> Response {
    bot_call(core, "webhook", req, async |core: &Core, bot: UserId, params: Params| {
        let url =
            params.text("url").filter(|u| !u.trim().is_empty()).ok_or(Refusal::Missing("url is required"))?;
        let secret = match params.text("secret").filter(|s| !s.is_empty()) {
            Some(secret) => secret,
            None => hex::encode(rand::random::<[u8; 24]>()),
        };
        let mut webhook = Params::default();
        webhook.insert("url", url.clone().into());
        webhook.insert("secret_token", secret.clone().into());
        crate::webhook::set_webhook(core, bot, webhook, DIALECT).await?;
        answer(json!({"ok": true, "url": url, "secret": secret}))
    })
    .await
}

/// `DELETE /webhook`.
async fn delete_webhook(State(core): State<Core>, req: Request) -> Response {
    bot_call(core, "webhook", req, async |core: &Core, bot: UserId, _| {
        core.delete_webhook(bot, DeleteWebhook::default()).await?;
        answer(json!({"ok": true}))
    })
    .await
}

/// A bot username from a display name: its letters and digits, ending in `bot`, 5–32 long;
/// `attempt` > 0 adds a number (the name was taken).
fn username_for(name: &str, attempt: u32) -> String {
    let mut base: String = name
        .chars()
        .filter_map(|c| match c {
            'a'..='z' | '0'..='9' => Some(c),
            'A'..='Z' => Some(c.to_ascii_lowercase()),
            ' ' | '_' | '-' => Some('_'),
            _ => None,
        })
        .collect();
    while base.contains("__") {
        base = base.replace("__", "_");
    }
    let mut base = base.trim_matches('_').to_owned();
    if !base.starts_with(|c: char| c.is_ascii_lowercase()) {
        base.insert_str(0, "my_");
    }
    if base.ends_with("bot") {
        base.truncate(base.len() - 3);
        base = base.trim_end_matches('_').to_owned();
    }
    let suffix = if attempt == 0 { String::new() } else { format!("{attempt}") };
    let room = 32 - 4 - suffix.len();
    base.truncate(room);
    let base = base.trim_end_matches('_');
    let joiner = if base.is_empty() { "" } else { "_" };
    let name = format!("{base}{suffix}{joiner}bot");
    if name.len() < 5 { format!("my_{name}") } else { name }
}

/// `POST /register {name, description?, avatar?, commands?, permissions?}` (owner, JWT).
async fn register(State(core): State<Core>, req: Request) -> Answer {
    let person = owner_of(&core, req.headers()).await?;
    let mut params = Params::from_request(req, &()).await?;
    let name =
        params.text("name").filter(|n| !n.trim().is_empty()).ok_or(Refusal::Missing("name is required"))?;
    let commands: Option<Vec<BotCommand>> = match params.take("commands") {
        Some(value @ Value::Array(_)) => {
            Some(serde_json::from_value(value).map_err(|_| ApiError::BOT_COMMAND_INVALID)?)
        }
        _ => None,
    };
    let permissions: Vec<String> = match params.take("permissions") {
        Some(value @ Value::Array(_)) => serde_json::from_value(value).unwrap_or_default(),
        _ => Vec::new(),
    };
    let check =
        EditBot { description: params.text("description"), commands: commands.clone(), ..EditBot::default() };
    // Everything checked before the bot is made: a refused register makes nothing.
    core.check_bot_edit(&check)?;
    let mut made = None;
    for attempt in 0..10 {
        let req = CreateBot { name: Some(name.clone()), username: Some(username_for(&name, attempt)) };
        match core.create_own_bot(person, req).await {
            Ok(bot) => {
                made = Some(bot);
                break;
            }
            Err(roost_core::Error::Api(e)) if e.kind == ErrorKind::UsernameOccupied => {}
            Err(e) => return Err(e.into()),
        }
    }
    let made = made.ok_or(ApiError::USERNAME_OCCUPIED)?;
    let edit = EditBot {
        bot_id: Some(made.bot.profile.id),
        description: params.text("description"),
        commands,
        // Reading a group's messages is what privacy mode off gives.
        can_read_all_group_messages: Some(permissions.iter().any(|p| p == "read_messages")),
        ..EditBot::default()
    };
    let bot = core.edit_bot(Manager::Owner(person), edit).await?;
    let api_key = roost_core::secrets::quanta_token(&made.token).unwrap_or_default();
    answer(json!({"bot": bot_object(&ids(&core), &bot), "api_key": api_key}))
}

/// `GET /my-bots` (owner, JWT).
async fn my_bots(State(core): State<Core>, headers: HeaderMap) -> Answer {
    let person = owner_of(&core, &headers).await?;
    let ids = ids(&core);
    let bots: Vec<Value> = core.my_bots(person).await?.iter().map(|b| bot_object(&ids, b)).collect();
    answer(json!({"bots": bots}))
}

/// `DELETE /delete/<bot_id>` (owner, JWT).
async fn delete_bot(State(core): State<Core>, Path(bot_id): Path<String>, headers: HeaderMap) -> Answer {
    let person = owner_of(&core, &headers).await?;
    let bot = match ids(&core).open(&bot_id) {
        Ok(Named::User(id)) => id,
        Ok(_) | Err(crate::opaque::ids::Refused::Unknown) => return Err(ApiError::BOT_NOT_FOUND.into()),
        Err(_) => return Err(ApiError::with(ErrorKind::IdMalformed, "bot_id").into()),
    };
    core.delete_bot(Manager::Owner(person), BotRef { bot_id: Some(bot), username: None }).await?;
    answer(json!({"ok": true}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_from_names() {
        assert_eq!(username_for("MyBot", 0), "my_bot");
        assert_eq!(username_for("Weather Helper", 0), "weather_helper_bot");
        assert_eq!(username_for("Weather Helper", 2), "weather_helper2_bot");
        assert_eq!(username_for("42", 0), "my_42_bot");
        assert_eq!(username_for("Жук", 0), "my_bot");
        assert!(username_for(&"x".repeat(50), 12).len() <= 32);
    }
}
