//! The system bot: the built-in bot people make and manage their bots with, reachable as
//! @BotMama, @BotGod and @BotKoto (the names of the source documents' system bots; configurable).
//!
//! It is an ordinary bot of this server: it reads its queue with [`Core::get_updates`] and
//! answers with [`Core::bot_send`], [`Core::edit_message_text`] and
//! [`Core::answer_callback_query`], the operations external bots reach over HTTP, and it manages
//! bots with the owner API's operations ([`Core::create_own_bot`], [`Core::edit_bot`], …) on
//! behalf of the person it talks to. Where each person's conversation stands is stored
//! (`dialogs`), so a restart or another instance carries it on. With a shared store one instance
//! at a time runs it, under a lease.

use std::time::Duration;

use roost_store::{Queries, UserId, unix_now};
use roost_types::requests::{
    AnswerCallbackQuery, BotRef, ChatId, ChatMenuButton, CreateBot, EditBot, EditMessageText, GetUpdates,
    SendMessage,
};
use roost_types::{ApiError, BotCommand, ErrorKind, Message, OwnedBot, UpdateKind, User};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::manage::{BOTS_PER_PERSON, Manager};
use crate::{Core, Error, Result};

/// The system bot's names by default: the first is its username, the others resolve to it.
pub const SYSTEM_BOT_NAMES: &[&str] = &["BotMama", "BotGod", "BotKoto"];
/// Its display name.
const DISPLAY_NAME: &str = "BotMama";
/// The lease one instance holds to run the system bot (shared stores).
const LEASE: &str = "system-bot";

/// A command that works on one of the person's bots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Act {
    Token,
    Revoke,
    SetName,
    SetDescription,
    SetAbout,
    SetUserpic,
    SetCommands,
    SetPrivacy,
    SetJoinGroups,
    SetInline,
    SetInlineFeedback,
    SetMenuButton,
    DeleteBot,
}

impl Act {
    const ALL: &[Act] = &[
        Act::Token,
        Act::Revoke,
        Act::SetName,
        Act::SetDescription,
        Act::SetAbout,
        Act::SetUserpic,
        Act::SetCommands,
        Act::SetPrivacy,
        Act::SetJoinGroups,
        Act::SetInline,
        Act::SetInlineFeedback,
        Act::SetMenuButton,
        Act::DeleteBot,
    ];

    fn command(self) -> &'static str {
        match self {
            Act::Token => "token",
            Act::Revoke => "revoke",
            Act::SetName => "setname",
            Act::SetDescription => "setdescription",
            Act::SetAbout => "setabouttext",
            Act::SetUserpic => "setuserpic",
            Act::SetCommands => "setcommands",
            Act::SetPrivacy => "setprivacy",
            Act::SetJoinGroups => "setjoingroups",
            Act::SetInline => "setinline",
            Act::SetInlineFeedback => "setinlinefeedback",
            Act::SetMenuButton => "setmenubutton",
            Act::DeleteBot => "deletebot",
        }
    }

    fn by_command(name: &str) -> Option<Act> {
        Act::ALL.iter().copied().find(|a| a.command() == name)
    }

    /// What the list of bots to pick from is for.
    fn purpose(self) -> &'static str {
        match self {
            Act::Token => "to get its token",
            Act::Revoke => "to generate a new token",
            Act::SetName => "to change its name",
            Act::SetDescription => "to change its description",
            Act::SetAbout => "to change its about text",
            Act::SetUserpic => "to change its profile photo",
            Act::SetCommands => "to change its list of commands",
            Act::SetPrivacy => "to change its group privacy settings",
            Act::SetJoinGroups => "to change whether it can be added to groups",
            Act::SetInline => "to change its inline settings",
            Act::SetInlineFeedback => "to change its inline feedback settings",
            Act::SetMenuButton => "to change its menu button",
            Act::DeleteBot => "to delete it",
        }
    }
}

/// Where a person's conversation with the system bot stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
enum Step {
    /// `/newbot`: waiting for the display name.
    NewBotName,
    /// `/newbot`: waiting for the username.
    NewBotUsername { name: String },
    /// Waiting for the bot `act` is to work on.
    PickBot { act: Act },
    /// Waiting for the new value for `bot`.
    Value { act: Act, bot: i64 },
    /// `/setmenubutton`: the URL is in; waiting for the button's text.
    MenuButtonText { bot: i64, url: String },
    /// `/deletebot`: waiting for the confirmation.
    ConfirmDelete { bot: i64 },
}

impl Step {
    /// The command the step belongs to, for `/cancel`'s answer.
    fn command(&self) -> &'static str {
        match self {
            Step::NewBotName | Step::NewBotUsername { .. } => "newbot",
            Step::PickBot { act } | Step::Value { act, .. } => act.command(),
            Step::MenuButtonText { .. } => "setmenubutton",
            Step::ConfirmDelete { .. } => "deletebot",
        }
    }
}

const HELP: &str = "I can help you create and manage bots on this server.\n\n\
You can control me by sending these commands:\n\n\
/newbot - create a new bot\n\
/mybots - edit your bots\n\n\
<b>Edit Bots</b>\n\
/setname - change a bot's name\n\
/setdescription - change bot description\n\
/setabouttext - change bot about info\n\
/setuserpic - change bot profile photo\n\
/setcommands - change the list of commands\n\
/setmenubutton - change the menu button\n\
/deletebot - delete a bot\n\n\
<b>Bot Settings</b>\n\
/token - get the API token\n\
/revoke - revoke the bot access token\n\
/setinline - toggle inline mode\n\
/setinlinefeedback - change inline feedback settings\n\
/setjoingroups - can your bot be added to groups?\n\
/setprivacy - toggle privacy mode in groups\n\n\
/cancel - cancel the current operation";

/// The words to confirm a deletion with.
const DELETE_CONFIRMATION: &str = "Yes, I am totally sure.";

/// What the system bot says next: a text (HTML) and an optional keyboard.
struct Reply {
    text: String,
    markup: Option<Value>,
}

impl Reply {
    /// Whether the reply carries a keyboard of choices to type (or takes one away), which only
    /// a new message can.
    fn asks_to_type(&self) -> bool {
        self.markup.as_ref().is_some_and(|m| m.get("inline_keyboard").is_none())
    }
}

fn say(text: impl Into<String>) -> Reply {
    Reply { text: text.into(), markup: None }
}

fn with_keyboard(text: impl Into<String>, markup: Value) -> Reply {
    Reply { text: text.into(), markup: Some(markup) }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn handle(bot: &OwnedBot) -> String {
    match &bot.profile.username {
        Some(name) => format!("@{name}"),
        None => escape(&bot.profile.name),
    }
}

/// A reply keyboard of a few choices, gone once one is pressed.
fn choices(options: &[&str]) -> Value {
    let row: Vec<Value> = options.iter().map(|o| json!({"text": o})).collect();
    json!({"keyboard": [row], "one_time_keyboard": true, "resize_keyboard": true})
}

fn remove_keyboard() -> Value {
    json!({"remove_keyboard": true})
}

/// A token as the system bot shows it: the Bot API's form, and Koto's form of the same token.
fn token_lines(token: &str) -> String {
    let koto = crate::secrets::koto_token(token).unwrap_or_default();
    format!(
        "<code>{}</code>\n(Koto's API takes the same token as <code>{}</code>.)",
        escape(token),
        escape(&koto)
    )
}

/// The token message.
fn token_text(bot: &OwnedBot, token: &str, fresh: bool) -> String {
    let head = if fresh {
        format!(
            "Your token was replaced with a new one. The old one stops working at once. Use this token to access the HTTP API of {}:",
            handle(bot)
        )
    } else {
        format!("You can use this token to access the HTTP API of {}:", handle(bot))
    };
    format!(
        "{head}\n{}\n\nKeep your token secure and store it safely, it can be used by anyone to control your bot.",
        token_lines(token)
    )
}

/// The words for a refusal of the core, for the person.
fn refusal(error: &ApiError) -> String {
    match error.kind {
        ErrorKind::BotUsernameInvalid => {
            "Sorry, this username is invalid. It must be 5-32 characters of a-z, 0-9 and _, start with a letter and end in \"bot\".".into()
        }
        ErrorKind::UsernameOccupied => "Sorry, this username is already taken. Please try something different.".into(),
        ErrorKind::BotsTooMuch => format!(
            "That I cannot do. You have made {BOTS_PER_PERSON} bots already (deleted ones count too)."
        ),
        ErrorKind::BotNameInvalid => "Sorry, this name is invalid: 1-64 characters, please.".into(),
        ErrorKind::BotDescriptionInvalid => "Sorry, the description is too long: 512 characters at most.".into(),
        ErrorKind::BotShortDescriptionInvalid => "Sorry, the about text is too long: 120 characters at most.".into(),
        ErrorKind::BotCommandInvalid | ErrorKind::BotCommandDescriptionInvalid | ErrorKind::BotCommandsTooMuch => {
            "Sorry, the list of commands is invalid. Use the format \"command - Description\", one per line: a command is 1-32 characters of a-z, 0-9 and _, a description 1-256 characters, 100 commands at most.".into()
        }
        ErrorKind::InlinePlaceholderInvalid => "Sorry, the placeholder is too long: 64 characters at most.".into(),
        ErrorKind::ButtonUrlInvalid | ErrorKind::MenuButtonInvalid => {
            "Sorry, that is not a web app URL. It must start with https://.".into()
        }
        ErrorKind::BotNotFound => "Invalid bot selected.".into(),
        ErrorKind::TokenNotKept => {
            "This bot's token was issued before this server kept tokens, so I cannot show it. Use /revoke to get a new one.".into()
        }
        _ => "Sorry, something went wrong. Please try again.".into(),
    }
}

/// A list of commands in BotFather's format: `command - Description`, one per line.
fn parse_commands(text: &str) -> Option<Vec<BotCommand>> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (command, description) = line.split_once(" - ").or_else(|| line.split_once('-'))?;
            Some(BotCommand {
                command: command.trim().trim_start_matches('/').to_owned(),
                description: description.trim().to_owned(),
            })
        })
        .collect()
}

/// `Enable`/`Disable` (and the like) as a switch.
fn switch(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "enable" | "enabled" | "on" | "yes" => Some(true),
        "disable" | "disabled" | "off" | "no" => Some(false),
        _ => None,
    }
}

/// The inline feedback choices: `Disabled` or a percentage.
fn feedback(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Some(on) = switch(text) {
        return Some(if on { 100 } else { 0 });
    }
    text.trim_end_matches('%').trim().parse::<i64>().ok().filter(|p| (0..=100).contains(p))
}

impl Core {
    /// Makes the system bot if there is none yet, and lets its other names resolve to it;
    /// returns its id. A name someone already holds is skipped, with a warning.
    pub async fn ensure_system_bot(&self, names: &[String]) -> Result<UserId> {
        let names = names.to_vec();
        let (bot, skipped) = self
            .store()
            .write(move |w| {
                w.serialize_on("system-bot")?;
                let now = unix_now();
                let mut skipped = Vec::new();
                let bot = match w.system_bot()? {
                    Some(bot) => bot,
                    None => {
                        // Its own username: the first configured name that is free.
                        let own = names.iter().find(|n| !w.username_in_use(n).unwrap_or(true)).cloned();
                        let id = w.insert_user(&roost_store::NewUser {
                            is_bot: true,
                            username: own.as_deref().unwrap_or_default(),
                            first_name: DISPLAY_NAME,
                            last_name: None,
                            language_code: None,
                            password_hash: None,
                            created_at: now,
                        })?;
                        // Nobody holds a token for it: it runs inside the server.
                        let unusable = crate::secrets::hash_secret(&crate::secrets::new_session_token());
                        w.insert_bot(id, id, &unusable, None, now)?;
                        w.mark_system_bot(id)?;
                        id
                    }
                };
                let own = w.user(bot)?.and_then(|u| u.username).map(|u| u.to_lowercase());
                for name in &names {
                    if own.as_deref() == Some(name.to_lowercase().as_str()) {
                        continue;
                    }
                    match w.user_by_username(name)? {
                        Some(holder) if holder.id == bot => {}
                        Some(_) => skipped.push(name.clone()),
                        None if w.username_in_use(name)? => skipped.push(name.clone()),
                        None => {
                            w.hold_username(name, bot, "alias", now)?;
                        }
                    }
                }
                Ok::<_, Error>((bot, skipped))
            })
            .await?;
        for name in skipped {
            tracing::warn!(%name, "the system bot cannot take this name: someone else holds it");
        }
        Ok(bot)
    }

    /// One update for the system bot: a message or a button press of a person.
    async fn system_bot_update(&self, bot: UserId, kind: UpdateKind) -> Result<()> {
        match kind {
            UpdateKind::Message(message) => {
                // Bots are managed in private: a group it was added to hears nothing from it.
                if message.chat.kind != roost_types::ChatType::Private {
                    return Ok(());
                }
                let Some(from) = message.from.clone().filter(|f| !f.is_bot) else { return Ok(()) };
                let text = message.text.clone().unwrap_or_default();
                let reply = self.system_bot_message(bot, &from, &text).await?;
                self.system_bot_say(bot, &from, reply).await
            }
            UpdateKind::CallbackQuery(query) => {
                let data = query.data.clone().unwrap_or_default();
                let person = UserId::from_raw(query.from.id);
                let answer =
                    AnswerCallbackQuery { callback_query_id: Some(query.id.clone()), ..Default::default() };
                let reply = self.system_bot_button(bot, person, &data).await;
                let _ = self.answer_callback_query(bot, answer).await;
                match (reply?, query.message) {
                    // A message keeps an inline keyboard or none: a reply keyboard (choices to
                    // type) comes with a new message.
                    (Some(reply), Some(message)) if !reply.asks_to_type() => {
                        self.system_bot_edit(bot, &message, reply).await
                    }
                    (Some(reply), _) => self.system_bot_say(bot, &query.from, reply).await,
                    (None, _) => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }

    async fn system_bot_say(&self, bot: UserId, to: &User, reply: Reply) -> Result<()> {
        let req = SendMessage {
            chat_id: Some(ChatId::Id(to.id)),
            text: Some(reply.text),
            parse_mode: Some("HTML".into()),
            reply_markup: reply.markup.and_then(|m| m.as_object().cloned()),
            ..SendMessage::default()
        };
        self.bot_send(bot, req).await.map(|_| ())
    }

    async fn system_bot_edit(&self, bot: UserId, message: &Message, reply: Reply) -> Result<()> {
        let req = EditMessageText {
            chat_id: Some(ChatId::Id(message.chat.id)),
            message_id: Some(message.message_id),
            text: Some(reply.text),
            parse_mode: Some("HTML".into()),
            reply_markup: reply.markup.and_then(|m| m.as_object().cloned()),
            ..EditMessageText::default()
        };
        match self.edit_message_text(bot, req).await {
            Err(Error::Api(e)) if e.kind == ErrorKind::MessageNotModified => Ok(()),
            other => other.map(|_| ()),
        }
    }

    async fn dialog(&self, bot: UserId, person: UserId) -> Result<Option<Step>> {
        let state = self.store().lookup(move |r| r.dialog(person, bot).map_err(Error::from)).await?;
        // A step this version does not know (written by a newer one) starts over.
        Ok(state.and_then(|s| serde_json::from_str(&s).ok()))
    }

    async fn set_dialog(&self, bot: UserId, person: UserId, step: Option<Step>) -> Result<()> {
        let state =
            step.map(|s| serde_json::to_string(&s)).transpose().map_err(roost_store::StoreError::from)?;
        self.store()
            .write(move |w| w.set_dialog(person, bot, state.as_deref(), unix_now()).map_err(Error::from))
            .await
    }

    /// What a person's message says to the system bot.
    async fn system_bot_message(&self, bot: UserId, from: &User, text: &str) -> Result<Reply> {
        let person = UserId::from_raw(from.id);
        let text = text.trim();
        let step = self.dialog(bot, person).await?;
        // A list of commands may be pasted with their slashes: `/start - Begin` is a value.
        let value_expected =
            matches!(step, Some(Step::Value { act: Act::SetCommands, .. })) && text.contains(" - ");
        if let Some(command) = text.strip_prefix('/').filter(|_| !value_expected) {
            let (name, argument) = match command.split_once(char::is_whitespace) {
                Some((name, rest)) => (name, rest.trim()),
                None => (command, ""),
            };
            let name = name.split('@').next().unwrap_or(name).to_ascii_lowercase();
            if name != "empty" {
                return self.system_bot_command(bot, person, &name, argument).await;
            }
        }
        match step {
            None => Ok(say("Unrecognized command. Say what? Send /help for the list of commands.")),
            Some(step) => self.system_bot_step(bot, person, step, text).await,
        }
    }

    async fn system_bot_command(
        &self,
        bot: UserId,
        person: UserId,
        name: &str,
        argument: &str,
    ) -> Result<Reply> {
        let current = self.dialog(bot, person).await?;
        match name {
            "start" | "help" => {
                self.set_dialog(bot, person, None).await?;
                Ok(say(HELP))
            }
            "cancel" => {
                self.set_dialog(bot, person, None).await?;
                Ok(match current {
                    Some(step) => with_keyboard(
                        format!(
                            "The command /{} has been cancelled. Anything else I can do for you?\n\nSend /help for a list of commands.",
                            step.command()
                        ),
                        remove_keyboard(),
                    ),
                    None => say("No active command to cancel. I wasn't doing anything anyway. Zzzzz..."),
                })
            }
            "newbot" => {
                let count = self.store().read(move |r| r.bots_of(person).map_err(Error::from)).await?.len();
                if count >= BOTS_PER_PERSON {
                    self.set_dialog(bot, person, None).await?;
                    return Ok(say(refusal(&ApiError::BOTS_TOO_MUCH)));
                }
                self.set_dialog(bot, person, Some(Step::NewBotName)).await?;
                Ok(say("Alright, a new bot. How are we going to call it? Please choose a name for your bot."))
            }
            "mybots" => {
                self.set_dialog(bot, person, None).await?;
                self.bot_list(person).await
            }
            other => match Act::by_command(other) {
                Some(act) if !argument.is_empty() => {
                    self.set_dialog(bot, person, Some(Step::PickBot { act })).await?;
                    self.system_bot_step(bot, person, Step::PickBot { act }, argument).await
                }
                Some(act) => {
                    let bots = self.live_bots(person).await?;
                    if bots.is_empty() {
                        self.set_dialog(bot, person, None).await?;
                        return Ok(say(
                            "You have currently no bots. Use the /newbot command to create a new bot first.",
                        ));
                    }
                    self.set_dialog(bot, person, Some(Step::PickBot { act })).await?;
                    let rows: Vec<Value> = bots
                        .iter()
                        .map(|b| json!([{"text": handle(b), "callback_data": format!("k:{}:{}", act.command(), b.profile.id)}]))
                        .collect();
                    Ok(with_keyboard(
                        format!("Choose a bot {}, or send its @username.", act.purpose()),
                        json!({"inline_keyboard": rows}),
                    ))
                }
                None => Ok(say("Unrecognized command. Say what? Send /help for the list of commands.")),
            },
        }
    }

    /// The person's bots that are not deleted.
    async fn live_bots(&self, person: UserId) -> Result<Vec<OwnedBot>> {
        Ok(self.my_bots(person).await?.into_iter().filter(|b| !b.is_deleted).collect())
    }

    async fn bot_list(&self, person: UserId) -> Result<Reply> {
        let bots = self.live_bots(person).await?;
        if bots.is_empty() {
            return Ok(say("You have currently no bots. Use the /newbot command to create a new bot first."));
        }
        let rows: Vec<Value> = bots
            .iter()
            .map(|b| json!([{"text": handle(b), "callback_data": format!("b:{}", b.profile.id)}]))
            .collect();
        Ok(with_keyboard("Choose a bot from the list below:", json!({"inline_keyboard": rows})))
    }

    /// The actions of one bot, as `/mybots` shows them.
    async fn bot_menu(&self, person: UserId, id: i64) -> Result<Reply> {
        let bot =
            self.managed_bot(Manager::Owner(person), BotRef { bot_id: Some(id), username: None }).await?;
        let on_off = |on: bool| if on { "on" } else { "off" };
        let button = |text: String, data: String| json!({"text": text, "callback_data": data});
        let keyboard = json!({"inline_keyboard": [
            [button("API Token".into(), format!("a:token:{id}")), button("Revoke Token".into(), format!("a:revoke:{id}"))],
            [button("Edit Name".into(), format!("a:setname:{id}")), button("Edit Description".into(), format!("a:setdescription:{id}")), button("Edit About".into(), format!("a:setabouttext:{id}"))],
            [button("Edit Commands".into(), format!("a:setcommands:{id}")), button("Edit Menu Button".into(), format!("a:setmenubutton:{id}"))],
            [button(format!("Privacy mode: {}", on_off(!bot.profile.can_read_all_group_messages)), format!("p:{id}")),
             button(format!("Groups: {}", on_off(bot.profile.can_join_groups)), format!("g:{id}"))],
            [button(format!("Inline mode: {}", on_off(bot.profile.supports_inline_queries)), format!("a:setinline:{id}")), button("Inline Feedback".into(), format!("a:setinlinefeedback:{id}"))],
            [button("Delete Bot".into(), format!("a:deletebot:{id}"))],
            [button("« Back to Bots List".into(), "l".into())],
        ]});
        Ok(with_keyboard(
            format!(
                "Here it is: {} {}.\nWhat do you want to do with the bot?",
                escape(&bot.profile.name),
                handle(&bot)
            ),
            keyboard,
        ))
    }

    /// A button press; `None` when the message stays as it is.
    async fn system_bot_button(&self, bot: UserId, person: UserId, data: &str) -> Result<Option<Reply>> {
        let mut parts = data.split(':');
        let kind = parts.next().unwrap_or_default();
        let rest: Vec<&str> = parts.collect();
        let id = |i: usize| rest.get(i).and_then(|v| v.parse::<i64>().ok());
        let answer = match (kind, rest.as_slice()) {
            ("l", _) => self.bot_list(person).await,
            ("b", _) => match id(0) {
                Some(id) => self.bot_menu(person, id).await,
                None => return Ok(None),
            },
            ("p" | "g", _) => {
                let Some(id) = id(0) else { return Ok(None) };
                let current = self
                    .managed_bot(Manager::Owner(person), BotRef { bot_id: Some(id), username: None })
                    .await;
                let current = match current {
                    Ok(bot) => bot,
                    Err(Error::Api(e)) => return Ok(Some(say(refusal(&e)))),
                    Err(e) => return Err(e),
                };
                let mut edit = EditBot { bot_id: Some(id), ..EditBot::default() };
                if kind == "p" {
                    edit.can_read_all_group_messages = Some(!current.profile.can_read_all_group_messages);
                } else {
                    edit.can_join_groups = Some(!current.profile.can_join_groups);
                }
                match self.edit_bot(Manager::Owner(person), edit).await {
                    Ok(_) => self.bot_menu(person, id).await,
                    Err(Error::Api(e)) => Ok(say(refusal(&e))),
                    Err(e) => Err(e),
                }
            }
            // An action picked from a list (`k`) or from a bot's menu (`a`).
            ("k" | "a", [command, _]) => {
                let (Some(act), Some(id)) = (Act::by_command(command), id(1)) else { return Ok(None) };
                self.set_dialog(bot, person, Some(Step::PickBot { act })).await?;
                self.begin(bot, person, act, id).await
            }
            _ => return Ok(None),
        };
        match answer {
            Ok(reply) => Ok(Some(reply)),
            Err(Error::Api(e)) => Ok(Some(say(refusal(&e)))),
            Err(e) => Err(e),
        }
    }

    /// The next step of a conversation, given what the person sent.
    async fn system_bot_step(&self, bot: UserId, person: UserId, step: Step, text: &str) -> Result<Reply> {
        let empty = text.eq_ignore_ascii_case("/empty");
        // These steps end the command when they succeed; the others store their next step, or
        // end the command themselves.
        let finishing = matches!(step, Step::MenuButtonText { .. } | Step::ConfirmDelete { .. });
        let result = match step {
            Step::NewBotName => {
                let limit = roost_types::limits::BOT_NAME_MAX;
                let name = match crate::people::clean_name(Some(text), limit, ApiError::BOT_NAME_INVALID) {
                    Ok(Some(name)) if !empty => name,
                    _ => return Ok(say(refusal(&ApiError::BOT_NAME_INVALID))),
                };
                self.set_dialog(bot, person, Some(Step::NewBotUsername { name })).await?;
                return Ok(say(
                    "Good. Now let's choose a username for your bot. It must end in <code>bot</code>. Like this, for example: TetrisBot or tetris_bot.",
                ));
            }
            Step::NewBotUsername { name } => {
                let req =
                    CreateBot { name: Some(name), username: Some(text.trim_start_matches('@').to_owned()) };
                match self.create_own_bot(person, req).await {
                    Ok(made) => {
                        self.set_dialog(bot, person, None).await?;
                        let username = made.bot.profile.username.clone().unwrap_or_default();
                        return Ok(say(format!(
                            "Done! Congratulations on your new bot. You will find it at @{username}. You can now add a description, about section and profile picture for your bot, see /help for a list of commands.\n\nUse this token to access the HTTP API:\n{}\nKeep your token secure and store it safely, it can be used by anyone to control your bot.",
                            token_lines(&made.token)
                        )));
                    }
                    Err(Error::Api(e)) if e.kind == ErrorKind::BotsTooMuch => {
                        self.set_dialog(bot, person, None).await?;
                        Err(Error::Api(e))
                    }
                    Err(e) => Err(e),
                }
            }
            Step::PickBot { act } => {
                let username = text.trim().trim_start_matches('@').to_owned();
                let found = self
                    .managed_bot(Manager::Owner(person), BotRef { bot_id: None, username: Some(username) })
                    .await;
                match found {
                    Ok(found) if !found.is_deleted => self.begin(bot, person, act, found.profile.id).await,
                    Ok(_) | Err(Error::Api(_)) => Ok(say("Invalid bot selected.")),
                    Err(e) => Err(e),
                }
            }
            Step::Value { act, bot: id } => self.apply(bot, person, act, id, text, empty).await,
            Step::MenuButtonText { bot: id, url } => {
                let text = text.trim();
                if text.is_empty() || empty {
                    return Ok(say("Please send the text of the button."));
                }
                let button = json!({"type": "web_app", "text": text, "web_app": {"url": url}});
                let target = BotRef { bot_id: Some(id), username: None };
                match self.managed_bot(Manager::Owner(person), target).await {
                    Ok(_) => {
                        let menu_button = button.as_object().cloned();
                        self.set_menu_button(
                            UserId::from_raw(id),
                            ChatMenuButton { chat_id: None, menu_button },
                        )
                        .await
                    }
                    Err(e) => Err(e),
                }
                .map(|_| say("Success! The menu button is updated. /help"))
            }
            Step::ConfirmDelete { .. } if text.starts_with("Nope") => {
                self.set_dialog(bot, person, None).await?;
                Ok(with_keyboard(
                    "OK, the bot stays. Anything else I can do for you? /help",
                    remove_keyboard(),
                ))
            }
            Step::ConfirmDelete { bot: id } => {
                if text != DELETE_CONFIRMATION {
                    return Ok(say(format!(
                        "Please enter the confirmation text exactly like this:\n<code>{DELETE_CONFIRMATION}</code>\n\nType /cancel to cancel the operation."
                    )));
                }
                self.delete_bot(Manager::Owner(person), BotRef { bot_id: Some(id), username: None })
                    .await
                    .map(|_| with_keyboard("Done! The bot is gone. /help", remove_keyboard()))
            }
        };
        match result {
            Ok(reply) => {
                if finishing {
                    self.set_dialog(bot, person, None).await?;
                }
                Ok(reply)
            }
            Err(Error::Api(e)) => {
                // A bot deleted meanwhile (elsewhere) ends the command.
                if e.kind == ErrorKind::BotNotFound {
                    self.set_dialog(bot, person, None).await?;
                }
                Ok(say(refusal(&e)))
            }
            Err(e) => Err(e),
        }
    }

    /// The bot to work on is known: act at once, or ask for the value.
    async fn begin(&self, bot: UserId, person: UserId, act: Act, id: i64) -> Result<Reply> {
        let by = Manager::Owner(person);
        let target = BotRef { bot_id: Some(id), username: None };
        let owned = self.managed_bot(by, target.clone()).await?;
        if owned.is_deleted {
            return Err(ApiError::BOT_NOT_FOUND.into());
        }
        let ask = |step: Step, reply: Reply| async move {
            self.set_dialog(bot, person, Some(step)).await?;
            Ok::<_, Error>(reply)
        };
        let value = Step::Value { act, bot: id };
        let name = handle(&owned);
        match act {
            Act::Token => {
                self.set_dialog(bot, person, None).await?;
                let token = self.bot_token(by, target).await?;
                Ok(with_keyboard(token_text(&owned, &token, false), json!({"inline_keyboard": [[{"text": "« Back to Bot", "callback_data": format!("b:{id}")}]]})))
            }
            Act::Revoke => {
                self.set_dialog(bot, person, None).await?;
                let fresh = self.revoke_bot_token(by, target).await?;
                Ok(with_keyboard(token_text(&fresh.bot, &fresh.token, true), json!({"inline_keyboard": [[{"text": "« Back to Bot", "callback_data": format!("b:{id}")}]]})))
            }
            Act::SetName => ask(value, say(format!("OK. Send me the new name for {name}."))).await,
            Act::SetDescription => ask(value, say(format!("OK. Send me the new description for {name}. People will see it in an empty chat with the bot, under \"What can this bot do?\".\n\nSend /empty to remove it."))).await,
            Act::SetAbout => ask(value, say(format!("OK. Send me the new 'About' text for {name}. People will see it on the bot's profile page. 120 characters at most.\n\nSend /empty to remove it."))).await,
            Act::SetUserpic => {
                self.set_dialog(bot, person, None).await?;
                Ok(say(format!("{name} keeps its picture: this server does not accept photos yet.")))
            }
            Act::SetCommands => ask(value, say(format!("OK. Send me a list of commands for {name}. Please use this format:\n\ncommand1 - Description\ncommand2 - Another description\n\nSend /empty to keep the list empty."))).await,
            Act::SetPrivacy => {
                let state = if owned.profile.can_read_all_group_messages { "DISABLED" } else { "ENABLED" };
                ask(value, with_keyboard(format!("'Enable' - your bot will only receive messages that either start with the '/' symbol or mention the bot by username.\n'Disable' - your bot will receive all messages that people send to groups.\nCurrent status is: {state}"), choices(&["Enable", "Disable"]))).await
            }
            Act::SetJoinGroups => {
                let state = if owned.profile.can_join_groups { "ENABLED" } else { "DISABLED" };
                ask(value, with_keyboard(format!("'Enable' - bot can be added to groups.\n'Disable' - block group invitations, the bot can't be added to groups.\nCurrent status is: {state}"), choices(&["Enable", "Disable"]))).await
            }
            Act::SetInline => ask(value, say(format!("This will enable inline queries for {name}. Send me the placeholder message for queries to your bot. People will see this placeholder whenever they type @{} in the message field.\n\nSend /empty to switch inline mode off.", owned.profile.username.clone().unwrap_or_default()))).await,
            Act::SetInlineFeedback => ask(value, with_keyboard(format!("Inline feedback reports which inline result a person chose. Choose how often {name} gets it: a percentage, or Disabled.\nCurrent setting: {}%", owned.inline_feedback), choices(&["Disabled", "10%", "50%", "100%"]))).await,
            Act::SetMenuButton => ask(value, say(format!("Send me the URL of the web app the menu button of {name} opens (https://…).\n\nSend /empty to restore the default button, which opens the command list."))).await,
            Act::DeleteBot => ask(Step::ConfirmDelete { bot: id }, with_keyboard(format!("OK, you selected {name}. Are you sure?\n\nSend '{DELETE_CONFIRMATION}' to confirm you really want to delete this bot."), choices(&[DELETE_CONFIRMATION, "Nope, nevermind"]))).await,
        }
    }

    /// A value for `act` on bot `id` arrived.
    async fn apply(
        &self,
        bot: UserId,
        person: UserId,
        act: Act,
        id: i64,
        text: &str,
        empty: bool,
    ) -> Result<Reply> {
        let by = Manager::Owner(person);
        let mut edit = EditBot { bot_id: Some(id), ..EditBot::default() };
        let value = if empty { String::new() } else { text.trim().to_owned() };
        match act {
            Act::SetName => {
                if empty {
                    return Err(ApiError::BOT_NAME_INVALID.into());
                }
                edit.name = Some(value);
            }
            Act::SetDescription => edit.description = Some(value),
            Act::SetAbout => edit.short_description = Some(value),
            Act::SetCommands => {
                edit.commands = Some(if empty {
                    Vec::new()
                } else {
                    parse_commands(text).ok_or(ApiError::BOT_COMMAND_INVALID)?
                })
            }
            Act::SetPrivacy => match switch(text) {
                Some(on) => edit.can_read_all_group_messages = Some(!on),
                None => {
                    return Ok(with_keyboard(
                        "Please choose Enable or Disable.",
                        choices(&["Enable", "Disable"]),
                    ));
                }
            },
            Act::SetJoinGroups => match switch(text) {
                Some(on) => edit.can_join_groups = Some(on),
                None => {
                    return Ok(with_keyboard(
                        "Please choose Enable or Disable.",
                        choices(&["Enable", "Disable"]),
                    ));
                }
            },
            Act::SetInline => {
                edit.supports_inline_queries = Some(!empty);
                edit.inline_placeholder = Some(value);
            }
            Act::SetInlineFeedback => match feedback(text) {
                Some(percent) => edit.inline_feedback = Some(percent),
                None => {
                    return Ok(with_keyboard(
                        "Please choose Disabled or a percentage.",
                        choices(&["Disabled", "10%", "50%", "100%"]),
                    ));
                }
            },
            Act::SetMenuButton => {
                if empty {
                    let default = json!({"type": "default"});
                    self.set_menu_button(
                        UserId::from_raw(id),
                        ChatMenuButton { chat_id: None, menu_button: default.as_object().cloned() },
                    )
                    .await?;
                    self.set_dialog(bot, person, None).await?;
                    return Ok(say("Success! The menu button opens the command list again."));
                }
                if !value.to_ascii_lowercase().starts_with("https://") || url::Url::parse(&value).is_err() {
                    return Err(ApiError::BUTTON_URL_INVALID.into());
                }
                // The bot must be the person's: checked before the URL is kept.
                self.managed_bot(by, BotRef { bot_id: Some(id), username: None }).await?;
                self.set_dialog(bot, person, Some(Step::MenuButtonText { bot: id, url: value })).await?;
                return Ok(say("Good. Now send me the text of the button."));
            }
            Act::Token | Act::Revoke | Act::SetUserpic | Act::DeleteBot => return Ok(say(HELP)),
        }
        self.edit_bot(by, edit).await?;
        self.set_dialog(bot, person, None).await?;
        let done = match act {
            Act::SetCommands => "Success! Command list updated. /help",
            Act::SetPrivacy | Act::SetJoinGroups | Act::SetInline | Act::SetInlineFeedback => {
                "Success! The new status is set. /help"
            }
            _ => "Success! The bot is updated. /help",
        };
        Ok(with_keyboard(done, remove_keyboard()))
    }

    /// Runs the system bot until the server closes: polls its queue, answers each update, and
    /// confirms a batch once it is answered, before polling again (so an instance that dies
    /// mid-batch leaves only that batch to the next, and a restart repeats nothing answered).
    pub async fn run_system_bot(self, bot: UserId, instance: String, lease: Duration) {
        let mut closing = self.hub().closing();
        let shared = self.is_shared();
        // Long polls end before the lease needs renewing.
        let timeout = if shared { (lease.as_secs() / 3).max(1) as i64 } else { 25 };
        let mut held = false;
        loop {
            if *closing.borrow_and_update() {
                break;
            }
            if shared {
                let owner = instance.clone();
                let ttl = lease.as_millis() as i64;
                let taken = self
                    .store()
                    .write(move |w| {
                        let now = crate::since_epoch().as_millis() as i64;
                        w.take_lease(LEASE, &owner, now, ttl).map_err(Error::from)
                    })
                    .await;
                held = matches!(taken, Ok(true));
                if !held {
                    tokio::select! {
                        _ = tokio::time::sleep(lease / 3) => continue,
                        _ = closing.changed() => break,
                    }
                }
            }
            // Confirmed updates are gone from the queue: each poll starts at its head.
            let req =
                GetUpdates { offset: None, timeout: Some(timeout), limit: Some(100), allowed_updates: None };
            let updates = tokio::select! {
                got = self.get_updates(bot, req) => got,
                _ = closing.changed() => break,
            };
            match updates {
                Ok(updates) => {
                    let Some(last) = updates.last().map(|u| u.update_id) else { continue };
                    for update in updates {
                        if let Err(e) = self.system_bot_update(bot, update.kind).await {
                            tracing::warn!(error = %e, "the system bot could not answer");
                        }
                    }
                    if let Err(e) = self.confirm_updates(bot, last + 1).await {
                        tracing::warn!(error = %e, "the system bot cannot confirm its updates");
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the system bot cannot read its updates");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        // Let another instance take over at once.
        if held {
            let _ = self.store().write(move |w| w.release_lease(LEASE, &instance).map_err(Error::from)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_in_botfathers_format() {
        let parsed = parse_commands("start - Begin\n/help - Show help\n\n").unwrap_or_default();
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[1].command, "help");
        assert_eq!(parsed[1].description, "Show help");
        assert!(parse_commands("no separator").is_none());
    }

    #[test]
    fn steps_are_stored_as_tagged_json() {
        let step = Step::Value { act: Act::SetName, bot: 7 };
        let json = serde_json::to_string(&step).unwrap_or_default();
        assert_eq!(json, r#"{"step":"value","act":"set_name","bot":7}"#);
        assert_eq!(serde_json::from_str::<Step>(&json).ok(), Some(step));
        assert_eq!(feedback("50%"), Some(50));
        assert_eq!(feedback("Disabled"), Some(0));
        assert_eq!(feedback("150"), None);
        for act in Act::ALL {
            assert_eq!(Act::by_command(act.command()), Some(*act));
        }
    }
}
