//! The bot's command menu (with scopes and languages), its profile texts and its menu button;
//! managing bots (`manage.rs`), their error logs (`errors.rs`) and the system bot (`system.rs`).

pub mod errors;
pub mod manage;
pub mod system;

use roost_store::{Queries, StoreError, UserId};
use roost_types::limits::{
    BOT_DESCRIPTION_MAX, BOT_NAME_MAX, BOT_SHORT_DESCRIPTION_MAX, COMMAND_DESCRIPTION_MAX, COMMAND_NAME_MAX,
    COMMANDS_MAX,
};
use roost_types::requests::{ChatId, ChatMenuButton, GetBotCommands, MyCommands, MyText};
use roost_types::{ApiError, BotCommand};
use serde_json::{Map, Value, json};

use crate::chats::{ChatRef, resolve_chat};
use crate::{Core, Error, Result};

/// A `BotCommandScope` as the key it is stored under.
fn scope_key(scope: Option<&Map<String, Value>>) -> Result<String> {
    let Some(scope) = scope else { return Ok("default".into()) };
    let invalid = || Error::from(ApiError::BOT_COMMAND_SCOPE_INVALID);
    let kind = scope.get("type").and_then(Value::as_str).ok_or_else(invalid)?;
    let chat = || -> Result<String> {
        match scope.get("chat_id") {
            Some(Value::Number(n)) => n.as_i64().map(|n| n.to_string()).ok_or_else(invalid),
            Some(Value::String(s)) => ChatId::parse(s).map(|c| c.to_string()).ok_or_else(invalid),
            _ => Err(invalid()),
        }
    };
    Ok(match kind {
        "default" | "all_private_chats" | "all_group_chats" | "all_chat_administrators" => kind.to_owned(),
        "chat" | "chat_administrators" => format!("{kind}:{}", chat()?),
        "chat_member" => {
            let user = scope.get("user_id").and_then(Value::as_i64).ok_or_else(invalid)?;
            format!("chat_member:{}:{user}", chat()?)
        }
        _ => return Err(invalid()),
    })
}

/// The chat a scope names (`chat`, `chat_administrators`, `chat_member`), if any.
fn scope_chat(scope: Option<&Map<String, Value>>) -> Option<ChatId> {
    match scope?.get("chat_id")? {
        Value::Number(n) => n.as_i64().map(ChatId::Id),
        Value::String(s) => ChatId::parse(s),
        _ => None,
    }
}

/// A scope that names a chat must name one the bot is in, as in Telegram.
fn check_scope_chat(q: &impl Queries, bot: UserId, chat: Option<&ChatId>) -> Result<()> {
    match chat {
        None => Ok(()),
        Some(chat) => resolve_chat(q, bot, chat).map(|_| ()),
    }
}

fn language(code: Option<String>) -> Result<String> {
    let code = code.unwrap_or_default();
    if code.len() > 3 || !code.bytes().all(|b| b.is_ascii_lowercase()) {
        return Err(ApiError::LANG_CODE_INVALID.into());
    }
    Ok(code)
}

pub(crate) fn check_commands(commands: Vec<BotCommand>) -> Result<Vec<BotCommand>> {
    if commands.len() > COMMANDS_MAX {
        return Err(ApiError::BOT_COMMANDS_TOO_MUCH.into());
    }
    commands
        .into_iter()
        .map(|c| {
            let name = c.command.trim().trim_start_matches('/').to_ascii_lowercase();
            if name.is_empty()
                || name.len() > COMMAND_NAME_MAX
                || !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                return Err(ApiError::BOT_COMMAND_INVALID.into());
            }
            let description = c.description.trim().to_owned();
            if description.is_empty() || description.chars().count() > COMMAND_DESCRIPTION_MAX {
                return Err(ApiError::BOT_COMMAND_DESCRIPTION_INVALID.into());
            }
            Ok(BotCommand { command: name, description })
        })
        .collect()
}

fn decode_commands(json: Option<String>) -> Result<Vec<BotCommand>> {
    crate::decode_stored(json.as_deref())
}

/// The profile texts: (kind, request field, limit, error).
fn text_kind(kind: &str) -> (usize, ApiError) {
    match kind {
        "name" => (BOT_NAME_MAX, ApiError::BOT_NAME_INVALID),
        "description" => (BOT_DESCRIPTION_MAX, ApiError::BOT_DESCRIPTION_INVALID),
        _ => (BOT_SHORT_DESCRIPTION_MAX, ApiError::BOT_SHORT_DESCRIPTION_INVALID),
    }
}

impl Core {
    /// Bot API `setMyCommands` (an empty list deletes, as `deleteMyCommands`).
    pub async fn set_my_commands(&self, bot: UserId, req: MyCommands) -> Result<bool> {
        let scope = scope_key(req.scope.as_ref())?;
        let language = language(req.language_code)?;
        let commands = check_commands(req.commands.ok_or(ApiError::COMMANDS_EMPTY)?)?;
        let json = (!commands.is_empty())
            .then(|| serde_json::to_string(&commands))
            .transpose()
            .map_err(StoreError::from)?;
        let chat = scope_chat(req.scope.as_ref());
        self.store()
            .write(move |w| {
                check_scope_chat(&*w, bot, chat.as_ref())?;
                w.set_bot_commands(bot, &scope, &language, json.as_deref())?;
                Ok::<_, Error>(true)
            })
            .await
    }

    /// Bot API `getMyCommands`: exactly the list stored for that scope and language.
    pub async fn get_my_commands(&self, bot: UserId, req: MyCommands) -> Result<Vec<BotCommand>> {
        let scope = scope_key(req.scope.as_ref())?;
        let language = language(req.language_code)?;
        let chat = scope_chat(req.scope.as_ref());
        let json = self
            .store()
            .lookup(move |r| {
                check_scope_chat(r, bot, chat.as_ref())?;
                r.bot_commands(bot, &scope, &language).map_err(Error::from)
            })
            .await?;
        decode_commands(json)
    }

    /// Bot API `deleteMyCommands`.
    pub async fn delete_my_commands(&self, bot: UserId, req: MyCommands) -> Result<bool> {
        let scope = scope_key(req.scope.as_ref())?;
        let language = language(req.language_code)?;
        let chat = scope_chat(req.scope.as_ref());
        self.store()
            .write(move |w| {
                check_scope_chat(&*w, bot, chat.as_ref())?;
                w.set_bot_commands(bot, &scope, &language, None)?;
                Ok::<_, Error>(true)
            })
            .await
    }

    /// Client API `getBotCommands`: the menu a person sees in their chat with a bot, resolved as
    /// Telegram does for private chats: the chat's own scope, then all private chats, then the
    /// default; at each step the person's language first, then any language.
    pub async fn person_bot_commands(&self, person: UserId, req: GetBotCommands) -> Result<Vec<BotCommand>> {
        let chat_id = req.chat_id.ok_or(ApiError::CHAT_ID_EMPTY)?;
        let json = self
            .store()
            .lookup(move |r| {
                let ChatRef { peer, .. } = resolve_chat(r, person, &chat_id)?;
                if !peer.is_bot {
                    return Ok(None);
                }
                let me = r.user(person)?.ok_or(ApiError::CLIENT_UNAUTHORIZED)?;
                let language = me.language_code.unwrap_or_default().to_ascii_lowercase();
                let language = language.split('-').next().unwrap_or("").to_owned();
                let languages: &[&str] = if language.is_empty() { &[""] } else { &[language.as_str(), ""] };
                for scope in [format!("chat:{person}"), "all_private_chats".into(), "default".into()] {
                    for lang in languages {
                        if let Some(json) = r.bot_commands(peer.id, &scope, lang)? {
                            return Ok(Some(json));
                        }
                    }
                }
                Ok::<_, Error>(None)
            })
            .await?;
        decode_commands(json)
    }

    /// Bot API `setMyName`, `setMyDescription`, `setMyShortDescription` (`kind` is `name`,
    /// `description` or `short_description`). An empty value removes the text of that language;
    /// the name without a language is the bot's display name.
    pub async fn set_my_text(&self, bot: UserId, kind: &'static str, req: MyText) -> Result<bool> {
        let language = language(req.language_code)?;
        let value = match kind {
            "name" => req.name,
            "description" => req.description,
            _ => req.short_description,
        }
        .unwrap_or_default();
        let (max, error) = text_kind(kind);
        if value.chars().count() > max {
            return Err(error.into());
        }
        self.store()
            .write(move |w| {
                let value = value.trim();
                w.set_bot_text(bot, kind, &language, (!value.is_empty()).then_some(value))?;
                if kind == "name" && language.is_empty() && !value.is_empty() {
                    w.set_first_name(bot, value)?;
                }
                Ok::<_, Error>(true)
            })
            .await
    }

    /// Bot API `getMyName`, `getMyDescription`, `getMyShortDescription`: the text of `kind` in
    /// the language asked for, else the default one.
    pub async fn get_my_text(&self, bot: UserId, kind: &'static str, req: MyText) -> Result<String> {
        let language = language(req.language_code)?;
        self.store()
            .lookup(move |r| {
                let stored = r.bot_text(bot, kind, &language)?;
                let stored = match stored {
                    Some(v) => Some(v),
                    None if !language.is_empty() => r.bot_text(bot, kind, "")?,
                    None => None,
                };
                let value = match (stored, kind) {
                    (Some(v), _) => v,
                    (None, "name") => r.user(bot)?.map(|u| u.first_name.to_string()).unwrap_or_default(),
                    (None, _) => String::new(),
                };
                Ok::<_, Error>(value)
            })
            .await
    }

    /// Bot API `setChatMenuButton`: for one chat, or the default without `chat_id`.
    pub async fn set_menu_button(&self, bot: UserId, req: ChatMenuButton) -> Result<bool> {
        let chat = req.chat_id.unwrap_or(0);
        let button = match req.menu_button {
            None => None,
            Some(button) => {
                let invalid = || Error::from(ApiError::MENU_BUTTON_INVALID);
                match button.get("type").and_then(Value::as_str) {
                    Some("default") => None,
                    Some("commands") => Some(json!({"type": "commands"})),
                    Some("web_app") => {
                        let text = button
                            .get("text")
                            .and_then(Value::as_str)
                            .filter(|t| !t.trim().is_empty())
                            .ok_or_else(invalid)?;
                        let url = button
                            .get("web_app")
                            .and_then(|w| w.get("url"))
                            .and_then(Value::as_str)
                            .filter(|u| u.to_ascii_lowercase().starts_with("https://"))
                            .ok_or_else(|| Error::from(ApiError::BUTTON_URL_INVALID))?;
                        Some(json!({"type": "web_app", "text": text, "web_app": {"url": url}}))
                    }
                    _ => return Err(invalid()),
                }
            }
        };
        let json = button.map(|b| b.to_string());
        self.store()
            .write(move |w| {
                if chat != 0 {
                    resolve_chat(&*w, bot, &ChatId::Id(chat))?;
                }
                w.set_menu_button(bot, chat, json.as_deref())?;
                Ok::<_, Error>(true)
            })
            .await
    }

    /// Bot API `getChatMenuButton`: the chat's button, else the bot's default, else `default`.
    pub async fn get_menu_button(&self, bot: UserId, req: ChatMenuButton) -> Result<Value> {
        let chat = req.chat_id.unwrap_or(0);
        let json = self
            .store()
            .lookup(move |r| {
                if chat != 0 {
                    // Telegram's words here: the chat is named as its user.
                    resolve_chat(r, bot, &ChatId::Id(chat)).map_err(|e| match e {
                        Error::Api(api) if api == ApiError::CHAT_NOT_FOUND => ApiError::USER_NOT_FOUND.into(),
                        other => other,
                    })?;
                }
                let own = if chat != 0 { r.menu_button(bot, chat)? } else { None };
                Ok::<_, Error>(match own {
                    Some(json) => Some(json),
                    None => r.menu_button(bot, 0)?,
                })
            })
            .await?;
        Ok(match json {
            Some(json) => serde_json::from_str(&json).map_err(StoreError::from)?,
            None => json!({"type": "default"}),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_become_keys() {
        let scope = |v: Value| match v {
            Value::Object(map) => scope_key(Some(&map)).ok(),
            _ => None,
        };
        assert_eq!(scope_key(None).ok().as_deref(), Some("default"));
        assert_eq!(scope(json!({"type": "all_private_chats"})).as_deref(), Some("all_private_chats"));
        assert_eq!(scope(json!({"type": "chat", "chat_id": 42})).as_deref(), Some("chat:42"));
        assert_eq!(scope(json!({"type": "chat", "chat_id": "@group"})).as_deref(), Some("chat:@group"));
        assert_eq!(
            scope(json!({"type": "chat_member", "chat_id": -5, "user_id": 7})).as_deref(),
            Some("chat_member:-5:7")
        );
        assert_eq!(scope(json!({"type": "nonsense"})), None);
        assert_eq!(scope(json!({"type": "chat"})), None);
    }

    #[test]
    fn commands_are_checked() {
        let ok = check_commands(vec![BotCommand { command: "/Start".into(), description: "Begin".into() }]);
        assert_eq!(ok.ok().map(|c| c[0].command.clone()).as_deref(), Some("start"));
        assert!(
            check_commands(vec![BotCommand { command: "bad-name".into(), description: "x".into() }]).is_err()
        );
        assert!(check_commands(vec![BotCommand { command: "ok".into(), description: " ".into() }]).is_err());
    }
}
