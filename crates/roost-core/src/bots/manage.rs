//! Managing bots: making, listing, editing and deleting a person's bots and their tokens. The
//! owner API (client API methods), the system bot and the operator's CLI all call these.
//!
//! The rules, from the source documents: a person makes at most [`BOTS_PER_PERSON`] bots, deleted
//! ones included; a bot's username is 5–32 characters of `a-z 0-9 _` ending in `bot`, unique
//! without regard to case and reserved forever, also after the bot is deleted.

use roost_store::{BotRow, BotSettings, NewUser, Queries, UpdateId, UserId, UserRow, unix_now};
use roost_types::limits::{BOT_DESCRIPTION_MAX, BOT_NAME_MAX, BOT_SHORT_DESCRIPTION_MAX};
use roost_types::requests::{BotRef, CreateBot, EditBot, GetBotErrors};
use roost_types::{ApiError, BotError, BotProfile, BotWithToken, OwnedBot};

use super::check_commands;
use crate::people::{clean_name, is_bot_username, secrets, valid_username};
use crate::{Core, Error, Result};

/// How many bots one person may make, deleted ones included.
pub const BOTS_PER_PERSON: usize = 20;
/// Longest inline placeholder (Telegram's BotFather allows 64 characters).
const INLINE_PLACEHOLDER_MAX: usize = 64;
/// Most entries `getBotErrors` returns at once.
const BOT_ERRORS_MAX: i64 = 100;

/// Who manages a bot: its owner, or the operator (the CLI), who manages every bot and is not held
/// to the per-person limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Manager {
    Owner(UserId),
    Operator,
}

/// How a request names a bot.
fn bot_ref(bot_id: Option<i64>, username: Option<String>) -> Result<BotName> {
    match (bot_id.filter(|id| *id > 0), username.map(|u| u.trim().trim_start_matches('@').to_owned())) {
        (Some(id), _) => Ok(BotName::Id(UserId::from_raw(id))),
        (None, Some(name)) if !name.is_empty() => Ok(BotName::Username(name)),
        _ => Err(ApiError::BOT_ID_REQUIRED.into()),
    }
}

#[derive(Debug, Clone)]
pub(crate) enum BotName {
    Id(UserId),
    Username(String),
}

/// The bot `name` names, if `by` manages it. The system bot is nobody's to manage, and a bot
/// that is not the caller's reads as no bot at all.
pub(crate) fn find_bot(
    q: &impl Queries,
    by: Manager,
    name: &BotName,
    deleted_too: bool,
) -> Result<(UserRow, BotRow)> {
    let user = match name {
        BotName::Id(id) => q.user(*id)?,
        BotName::Username(name) => q.user_by_username(name)?,
    };
    let user = user.filter(|u| u.is_bot && (deleted_too || !u.deleted)).ok_or(ApiError::BOT_NOT_FOUND)?;
    let bot = q.bot(user.id)?.ok_or(ApiError::BOT_NOT_FOUND)?;
    let mine = match by {
        Manager::Owner(person) => bot.owner_id == person,
        Manager::Operator => true,
    };
    if bot.is_system || !mine {
        return Err(ApiError::BOT_NOT_FOUND.into());
    }
    Ok((user, bot))
}

/// A bot's profile as people see it.
pub(crate) fn profile(q: &impl Queries, user: &UserRow, bot: &BotRow) -> Result<BotProfile> {
    let text = |kind: &str| -> Result<String> { Ok(q.bot_text(user.id, kind, "")?.unwrap_or_default()) };
    let commands = crate::decode_stored(q.bot_commands(user.id, "default", "")?.as_deref())?;
    Ok(BotProfile {
        id: user.id.raw(),
        username: user.username.as_deref().map(str::to_owned),
        name: user.first_name.to_string(),
        description: text("description")?,
        short_description: text("short_description")?,
        commands,
        can_join_groups: bot.can_join_groups,
        can_read_all_group_messages: bot.can_read_all_group_messages,
        supports_inline_queries: bot.supports_inline_queries,
        inline_placeholder: bot.inline_placeholder.clone(),
        has_photo: false,
        is_system: bot.is_system,
    })
}

/// A bot as its owner sees it.
fn owned(q: &impl Queries, user: &UserRow, bot: &BotRow) -> Result<OwnedBot> {
    let webhook = q.webhook(user.id)?;
    Ok(OwnedBot {
        profile: profile(q, user, bot)?,
        owner_id: bot.owner_id.raw(),
        created_at: bot.created_at,
        is_deleted: user.deleted,
        inline_feedback: bot.inline_feedback,
        token_kept: bot.token_sealed.is_some(),
        pending_update_count: q.pending_update_count(user.id, UpdateId::from_raw(0))?,
        webhook_url: bot.webhook_url.clone(),
        last_error_date: webhook.as_ref().and_then(|w| w.last_error_date),
        last_error_message: webhook.and_then(|w| w.last_error_message),
    })
}

/// A validated change of a bot's profile and settings (everything checked before anything is
/// written, so an edit applies whole or not at all).
struct Edit {
    name: Option<String>,
    description: Option<String>,
    short_description: Option<String>,
    commands: Option<Option<String>>,
    can_join_groups: Option<bool>,
    can_read_all_group_messages: Option<bool>,
    supports_inline_queries: Option<bool>,
    inline_placeholder: Option<String>,
    inline_feedback: Option<i64>,
}

fn check_text(value: Option<String>, max: usize, error: ApiError) -> Result<Option<String>> {
    match value {
        Some(v) if v.chars().count() > max || v.chars().any(|c| c.is_control() && c != '\n') => {
            Err(error.into())
        }
        Some(v) => Ok(Some(v.trim().to_owned())),
        None => Ok(None),
    }
}

fn validate_edit(req: EditBot) -> Result<Edit> {
    let name = match req.name {
        Some(name) => Some(
            clean_name(Some(&name), BOT_NAME_MAX, ApiError::BOT_NAME_INVALID)?
                .ok_or(ApiError::BOT_NAME_INVALID)?,
        ),
        None => None,
    };
    let commands = match req.commands {
        Some(commands) => {
            let commands = check_commands(commands)?;
            Some(
                (!commands.is_empty())
                    .then(|| serde_json::to_string(&commands))
                    .transpose()
                    .map_err(roost_store::StoreError::from)?,
            )
        }
        None => None,
    };
    if req.inline_feedback.is_some_and(|p| !(0..=100).contains(&p)) {
        return Err(ApiError::INLINE_FEEDBACK_INVALID.into());
    }
    Ok(Edit {
        name,
        description: check_text(req.description, BOT_DESCRIPTION_MAX, ApiError::BOT_DESCRIPTION_INVALID)?,
        short_description: check_text(
            req.short_description,
            BOT_SHORT_DESCRIPTION_MAX,
            ApiError::BOT_SHORT_DESCRIPTION_INVALID,
        )?,
        commands,
        can_join_groups: req.can_join_groups,
        can_read_all_group_messages: req.can_read_all_group_messages,
        supports_inline_queries: req.supports_inline_queries,
        inline_placeholder: check_text(
            req.inline_placeholder,
            INLINE_PLACEHOLDER_MAX,
            ApiError::INLINE_PLACEHOLDER_INVALID,
        )?,
        inline_feedback: req.inline_feedback,
    })
}

impl Core {
    /// Checks an edit without applying it (what `editBot` would refuse), for a caller that makes
    /// a bot and edits it in one request (Quanta's `register`).
    pub fn check_bot_edit(&self, req: &EditBot) -> Result<()> {
        validate_edit(req.clone()).map(|_| ())
    }

    /// The owner API's `createBot`: a new bot of the person's.
    pub async fn create_own_bot(&self, person: UserId, req: CreateBot) -> Result<BotWithToken> {
        self.make_bot(Manager::Owner(person), OwnerName::Id(person), req).await
    }

    /// `roost admin create-bot`: a new bot owned by the person with this username (the operator
    /// is not held to the per-person limit).
    pub async fn create_bot(
        &self,
        owner_username: &str,
        username: &str,
        name: Option<&str>,
    ) -> Result<BotWithToken> {
        let owner = OwnerName::Username(owner_username.trim().trim_start_matches('@').to_owned());
        let req = CreateBot { name: name.map(str::to_owned), username: Some(username.to_owned()) };
        self.make_bot(Manager::Operator, owner, req).await
    }

    async fn make_bot(&self, by: Manager, owner: OwnerName, req: CreateBot) -> Result<BotWithToken> {
        let username = req.username.unwrap_or_default().trim().trim_start_matches('@').to_owned();
        if !valid_username(&username) || !is_bot_username(&username) {
            return Err(ApiError::BOT_USERNAME_INVALID.into());
        }
        let name = clean_name(req.name.as_deref(), BOT_NAME_MAX, ApiError::BOT_NAME_INVALID)?
            .unwrap_or_else(|| username.clone());
        let secret = secrets::new_bot_secret();
        let token_hash = secrets::hash_secret(&secret);
        let key = self.inner.token_key;
        self.store()
            .write(move |w| {
                let owner = match &owner {
                    OwnerName::Id(id) => w.user(*id)?,
                    OwnerName::Username(name) => w.user_by_username(name)?,
                }
                .filter(|u| !u.is_bot && !u.deleted)
                .ok_or(ApiError::USER_NOT_FOUND)?;
                w.serialize_on(&format!("bots-of:{}", owner.id))?;
                w.serialize_on(&format!("username:{}", username.to_lowercase()))?;
                if by != Manager::Operator && w.bots_of(owner.id)?.len() >= BOTS_PER_PERSON {
                    return Err(Error::from(ApiError::BOTS_TOO_MUCH));
                }
                if w.username_in_use(&username)? {
                    return Err(ApiError::USERNAME_OCCUPIED.into());
                }
                let now = unix_now();
                let id = w.insert_user(&NewUser {
                    is_bot: true,
                    username: &username,
                    first_name: &name,
                    last_name: None,
                    language_code: None,
                    password_hash: None,
                    created_at: now,
                })?;
                let token = format!("{id}:{secret}");
                w.insert_bot(id, owner.id, &token_hash, Some(&secrets::seal_token(&key, &token)), now)?;
                let user = w.user(id)?.ok_or(ApiError::INTERNAL)?;
                let bot = w.bot(id)?.ok_or(ApiError::INTERNAL)?;
                Ok(BotWithToken { bot: owned(&*w, &user, &bot)?, token })
            })
            .await
    }

    /// The owner API's `getMyBots`: the person's bots, deleted ones too, oldest first.
    pub async fn my_bots(&self, person: UserId) -> Result<Vec<OwnedBot>> {
        self.store()
            .read(move |r| {
                let mut out = Vec::new();
                for bot in r.bots_of(person)? {
                    if let Some(user) = r.user(bot.user_id)? {
                        out.push(owned(r, &user, &bot)?);
                    }
                }
                Ok::<_, Error>(out)
            })
            .await
    }

    /// The operator's list of every bot.
    pub async fn all_bots(&self) -> Result<Vec<OwnedBot>> {
        self.store()
            .read(move |r| {
                let mut out = Vec::new();
                for bot in r.all_bots()? {
                    if let Some(user) = r.user(bot.user_id)? {
                        out.push(owned(r, &user, &bot)?);
                    }
                }
                Ok::<_, Error>(out)
            })
            .await
    }

    /// The owner API's `getBot`.
    pub async fn managed_bot(&self, by: Manager, req: BotRef) -> Result<OwnedBot> {
        let name = bot_ref(req.bot_id, req.username)?;
        self.store()
            .read(move |r| {
                let (user, bot) = find_bot(r, by, &name, true)?;
                owned(r, &user, &bot)
            })
            .await
    }

    /// Client API `getBotInfo`: any bot's profile, as people see it.
    pub async fn bot_info(&self, req: BotRef) -> Result<BotProfile> {
        let name = bot_ref(req.bot_id, req.username)?;
        self.store()
            .lookup(move |r| {
                let user = match &name {
                    BotName::Id(id) => r.user(*id)?,
                    BotName::Username(name) => r.user_by_username(name)?,
                };
                let user = user.filter(|u| u.is_bot && !u.deleted).ok_or(ApiError::BOT_NOT_FOUND)?;
                let bot = r.bot(user.id)?.ok_or(ApiError::BOT_NOT_FOUND)?;
                profile(r, &user, &bot)
            })
            .await
    }

    /// The owner API's `editBot` (and the system bot's `/set…` commands): what the request gives
    /// changes, in one write; a bad field changes nothing.
    pub async fn edit_bot(&self, by: Manager, req: EditBot) -> Result<OwnedBot> {
        let name = bot_ref(req.bot_id, req.username.clone())?;
        let edit = validate_edit(req)?;
        self.store()
            .write(move |w| {
                let (_, bot) = find_bot(&*w, by, &name, false)?;
                let id = bot.user_id;
                if let Some(name) = &edit.name {
                    w.set_bot_text(id, "name", "", Some(name))?;
                    w.set_first_name(id, name)?;
                }
                for (kind, value) in
                    [("description", &edit.description), ("short_description", &edit.short_description)]
                {
                    if let Some(value) = value {
                        w.set_bot_text(id, kind, "", (!value.is_empty()).then_some(value.as_str()))?;
                    }
                }
                if let Some(commands) = &edit.commands {
                    w.set_bot_commands(id, "default", "", commands.as_deref())?;
                }
                let placeholder = match &edit.inline_placeholder {
                    Some(text) if text.is_empty() => None,
                    Some(text) => Some(text.as_str()),
                    None => bot.inline_placeholder.as_deref(),
                };
                w.set_bot_settings(
                    id,
                    &BotSettings {
                        can_join_groups: edit.can_join_groups.unwrap_or(bot.can_join_groups),
                        can_read_all_group_messages: edit
                            .can_read_all_group_messages
                            .unwrap_or(bot.can_read_all_group_messages),
                        supports_inline_queries: edit
                            .supports_inline_queries
                            .unwrap_or(bot.supports_inline_queries),
                        inline_placeholder: placeholder,
                        inline_feedback: edit.inline_feedback.unwrap_or(bot.inline_feedback),
                    },
                )?;
                let user = w.user(id)?.ok_or(ApiError::INTERNAL)?;
                let bot = w.bot(id)?.ok_or(ApiError::INTERNAL)?;
                owned(&*w, &user, &bot)
            })
            .await
    }

    /// The owner API's `deleteBot`: the bot stops at once (its token answers 401 on every
    /// instance), its username stays reserved, and it still counts against its owner's limit.
    pub async fn delete_bot(&self, by: Manager, req: BotRef) -> Result<bool> {
        let name = bot_ref(req.bot_id, req.username)?;
        let bot = self
            .store()
            .write(move |w| {
                let (user, _) = find_bot(&*w, by, &name, false)?;
                w.delete_bot(user.id, unix_now())?;
                Ok::<_, Error>(user.id)
            })
            .await?;
        self.inner.bot_tokens.forget(bot);
        Ok(true)
    }

    /// The owner API's `revokeBotToken`: a new token; the old one answers 401 at once, here and
    /// on every other instance (as soon as the commit's notification reaches it).
    pub async fn revoke_bot_token(&self, by: Manager, req: BotRef) -> Result<BotWithToken> {
        let name = bot_ref(req.bot_id, req.username)?;
        let secret = secrets::new_bot_secret();
        let token_hash = secrets::hash_secret(&secret);
        let key = self.inner.token_key;
        let answer = self
            .store()
            .write(move |w| {
                let (user, _) = find_bot(&*w, by, &name, false)?;
                let token = format!("{}:{secret}", user.id);
                w.set_bot_token(user.id, &token_hash, Some(&secrets::seal_token(&key, &token)))?;
                let bot = w.bot(user.id)?.ok_or(ApiError::INTERNAL)?;
                Ok::<_, Error>(BotWithToken { bot: owned(&*w, &user, &bot)?, token })
            })
            .await?;
        self.inner.bot_tokens.forget(UserId::from_raw(answer.bot.profile.id));
        Ok(answer)
    }

    /// The owner API's `getBotToken`: the bot's current token.
    pub async fn bot_token(&self, by: Manager, req: BotRef) -> Result<String> {
        let name = bot_ref(req.bot_id, req.username)?;
        let sealed = self
            .store()
            .lookup(move |r| Ok::<_, Error>(find_bot(r, by, &name, false)?.1.token_sealed))
            .await?
            .ok_or(ApiError::TOKEN_NOT_KEPT)?;
        secrets::open_token(&self.inner.token_key, &sealed).ok_or_else(|| ApiError::TOKEN_NOT_KEPT.into())
    }

    /// The owner API's `getBotErrors`: the bot's recent failed webhook deliveries and refused
    /// calls, newest first.
    pub async fn bot_errors(&self, by: Manager, req: GetBotErrors) -> Result<Vec<BotError>> {
        let name = bot_ref(req.bot_id, req.username)?;
        let limit = req.limit.unwrap_or(BOT_ERRORS_MAX).clamp(1, BOT_ERRORS_MAX) as usize;
        // What is still buffered is written first, so the log is complete up to this call.
        self.flush_bot_errors().await?;
        let rows = self
            .store()
            .read(move |r| {
                let (user, _) = find_bot(r, by, &name, true)?;
                r.bot_errors(user.id, limit).map_err(Error::from)
            })
            .await?;
        Ok(rows
            .into_iter()
            .map(|e| BotError {
                date: e.at,
                source: e.source,
                method: e.method,
                status: e.status,
                description: e.description,
            })
            .collect())
    }
}

/// The person a new bot is for.
enum OwnerName {
    Id(UserId),
    Username(String),
}
