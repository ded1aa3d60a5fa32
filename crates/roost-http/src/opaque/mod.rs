//! What the dialects with opaque ids share: WWChat (UUIDs) and Koto (`KOTO-…`). Their bots call
//! Telegram-style methods over the same core; this module reads a call's opaque ids into the
//! core's numbers (checking that the ids of one request agree: a reply's or an edited message in
//! the chat named), runs the core's method, and shows the answer with the ids turned back
//! ([`objects`]). Each dialect ([`Profile`]) says which methods it serves, how it writes ids
//! ([`ids::IdStyle`]), whether its `parse_mode: Markdown` is CommonMark, its pace, and the shape
//! of its `getMe`; its module keeps its route, token and envelope.

pub mod ids;
pub mod objects;

use roost_store::UserId;

use roost_core::{ChatPace, Core};
use roost_types::requests::{ChatId, DeleteMessage, MyText};
use roost_types::{ApiError, BotUser, ErrorKind};
use serde_json::Value;

use crate::envelope::HttpError;
use crate::params::Params;
use ids::{IdStyle, Ids, Named, Refused};
use objects::View;

/// Texts longer than this are parsed on the blocking pool (as the core does for its parse modes).
const PARSE_INLINE_MAX: usize = 16 * 1024;

/// A dialect with opaque ids.
pub struct Profile {
    /// Its name, as webhooks record it.
    pub dialect: &'static str,
    pub style: IdStyle,
    pub pace: ChatPace,
    /// The methods served, as the dialect spells them.
    pub methods: &'static [&'static str],
    /// Methods its document names that Roost does not serve yet (answered `METHOD_NOT_SERVED`).
    pub not_yet: &'static [&'static str],
    /// Whether `parse_mode: Markdown` is CommonMark (WWChat's) rather than Telegram's.
    pub commonmark: bool,
    /// `getMe`'s answer from the bot's user, capabilities and description.
    pub get_me: fn(&Ids, &BotUser, String) -> Value,
    /// The headers a webhook set through this dialect gets its secret token in.
    pub secret_headers: &'static [&'static str],
}

/// Every dialect with opaque ids.
pub static PROFILES: &[&Profile] = &[&crate::wwchat::PROFILE, &crate::koto::PROFILE];

impl Profile {
    /// This dialect's codec.
    pub fn ids(&self, core: &Core) -> Ids {
        Ids::new(core.id_key(), self.style)
    }
}

/// A whole call of `profile`'s dialect: the token and the bot's rate limit first, then the body,
/// then the method; a refusal after the bot is known goes to its error log, in the words
/// `describe` gives it. The dialect's module reads the token from where it puts it and wraps the
/// answer in its envelope.
pub async fn serve(
    profile: &Profile,
    core: &Core,
    token: &str,
    method: &str,
    req: axum::extract::Request,
    describe: fn(&ApiError) -> std::borrow::Cow<'static, str>,
) -> Result<Value, ApiError> {
    use axum::extract::FromRequest;
    let api_error = |e: roost_core::Error| HttpError::from(e).0;
    let bot = Box::pin(core.authenticate_bot(token)).await.map_err(api_error)?;
    let answer = match core.check_bot_rate(bot).await.map_err(api_error) {
        Ok(()) => match Box::pin(Params::from_request(req, &())).await {
            Ok(params) => dispatch(profile, core, bot, method, params).await,
            Err(rejection) => Err(rejection.0),
        },
        Err(e) => Err(e),
    };
    if let Err(refused) = &answer {
        crate::telegram::note_refused(core, bot, method, refused, &describe(refused));
    }
    answer
}

/// Runs one method of `profile`'s dialect for an authenticated bot, at its pace; `method` in any
/// case.
pub async fn dispatch(
    profile: &Profile,
    core: &Core,
    bot: UserId,
    method: &str,
    params: Params,
) -> Result<Value, ApiError> {
    let core = &core.paced(profile.pace);
    let Some(name) = profile.methods.iter().find(|m| m.eq_ignore_ascii_case(method)) else {
        return Err(match profile.not_yet.iter().find(|m| m.eq_ignore_ascii_case(method)) {
            Some(name) => ApiError::with(ErrorKind::MethodNotServed, name),
            None => ApiError::NOT_FOUND,
        });
    };
    let ids = profile.ids(core);
    let mut call = Call { profile, core, bot, ids: &ids, params };
    call.run(name).await.map_err(|e| e.0)
}

/// A method's failure: [`HttpError`] turns a core error into its kind (logging a store failure).
type Failed = HttpError;

struct Call<'a> {
    profile: &'a Profile,
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
                Ok((self.profile.get_me)(self.ids, &me, description))
            }
            "sendMessage" => {
                let chat = self.chat("chat_id")?;
                // Not in these documents, and its ids would be the core's numbers: an unknown
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
                self.addressed("edit").await?;
                let params = self.formatted().await?;
                let edited = core.edit_message_text(bot, params.parse()?).await?;
                self.message(&edited)
            }
            "deleteMessage" => {
                self.addressed("delete").await?;
                let req: DeleteMessage = std::mem::take(&mut self.params).parse()?;
                to_value(&core.bot_delete_message(bot, req.chat_id, req.message_id).await?)
            }
            "pinChatMessage" => {
                self.addressed("pin").await?;
                to_value(&core.pin_message(bot, std::mem::take(&mut self.params).parse()?).await?)
            }
            "unpinChatMessage" => {
                self.addressed("unpin").await?;
                to_value(&core.unpin_messages(bot, std::mem::take(&mut self.params).parse()?, false).await?)
            }
            "setMessageReaction" => {
                self.addressed("react to").await?;
                to_value(&core.bot_set_reaction(bot, std::mem::take(&mut self.params).parse()?).await?)
            }
            "forwardMessage" => {
                self.chat("chat_id")?;
                let from = self.chat("from_chat_id")?;
                if let Some((message_peer, message_id)) = self.message_param("message_id")? {
                    match from {
                        Some(from) => {
                            if self.peer(from).await? != message_peer {
                                return Err(ApiError::message_not_found_for("forward").into());
                            }
                        }
                        None => self.params.insert("from_chat_id", message_peer.into()),
                    }
                    self.params.insert("message_id", message_id.into());
                }
                let sent =
                    core.forward_messages(bot, std::mem::take(&mut self.params).parse()?, false).await?;
                self.message(&sent.into_iter().next().ok_or(ApiError::INTERNAL)?)
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
                to_value(&crate::webhook::set_webhook(core, bot, params, self.profile.dialect).await?)
            }
            "deleteWebhook" => {
                let params = std::mem::take(&mut self.params);
                to_value(&core.delete_webhook(bot, params.parse()?).await?)
            }
            "getWebhookInfo" => to_value(&core.webhook_info(bot).await?),
            "setMyCommands" => {
                to_value(&core.set_my_commands(bot, std::mem::take(&mut self.params).parse()?).await?)
            }
            "getMyCommands" => {
                to_value(&core.get_my_commands(bot, std::mem::take(&mut self.params).parse()?).await?)
            }
            "deleteMyCommands" => {
                to_value(&core.delete_my_commands(bot, std::mem::take(&mut self.params).parse()?).await?)
            }
            _ => Err(ApiError::NOT_FOUND.into()),
        }
    }

    /// Reads the `chat_id` and `message_id` of a method on one message and puts back the core's
    /// forms. The message's id names its chat: a `chat_id` that names another chat is refused
    /// (the message is not there), and without one the message's chat is taken.
    async fn addressed(&mut self, verb: &'static str) -> Result<(), Failed> {
        let chat = self.chat("chat_id")?;
        if let Some((message_peer, message_id)) = self.message_param("message_id")? {
            match chat {
                Some(chat) => {
                    if self.peer(chat).await? != message_peer {
                        return Err(ApiError::message_not_found_for(verb).into());
                    }
                }
                None => self.params.insert("chat_id", message_peer.into()),
            }
            self.params.insert("message_id", message_id.into());
        }
        Ok(())
    }

    /// Reads a chat parameter (an opaque id or `@username`) and puts back the core's form of it, which
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

    /// The number the bot addresses `chat` by, to compare with a message id's chat: looked up
    /// only for a `@username`, and only when a message id comes with it.
    async fn peer(&self, chat: ChatId) -> Result<i64, Failed> {
        Ok(self.core.chat_wire_id(chat).await?)
    }

    /// A message as the dialect shows it to this bot.
    fn message(&self, message: &roost_types::Message) -> Result<Value, Failed> {
        let mut value = to_value(message)?;
        self.view().message(&mut value);
        Ok(value)
    }

    /// Reads a message id parameter: the chat it is in (as the bot names it) and its id there.
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

    /// The parameters, with a dialect's own `parse_mode: Markdown` (WWChat's CommonMark) parsed
    /// here: the core gets the text and its entities.
    async fn formatted(&mut self) -> Result<Params, Failed> {
        if self.profile.commonmark {
            self.markdown().await?;
        }
        Ok(std::mem::take(&mut self.params))
    }

    /// `parse_mode: Markdown` as CommonMark: parsed here, the core gets text and entities.
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
