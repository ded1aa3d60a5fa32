//! Composing a message body from a request: text with `parse_mode` or explicit entities plus the
//! entities Telegram detects by itself, and a validated `reply_markup`.

use roost_store::{Queries, StoreError, UserId};
use roost_types::keyboards::{InlineKeyboardButton, ReplyMarkup};
use roost_types::limits::{
    BUTTON_TEXT_MAX_BYTES, CALLBACK_DATA_MAX_BYTES, KEYBOARD_MAX_BUTTONS, KEYBOARD_MAX_ROW_BUTTONS,
    KEYBOARD_MAX_ROWS, MESSAGE_ENTITIES_MAX, REPLY_KEYBOARD_MAX_BUTTONS, REPLY_KEYBOARD_MAX_ROW_BUTTONS,
    TEXT_INPUT_MAX_BYTES,
};
use roost_types::{ApiError, EntityKind, MessageEntity};
use serde_json::{Map, Value};

use crate::messages::entities::{self, utf16_len};
use crate::messages::format::ParseMode;
use crate::messages::render;
use crate::{Error, Result};

/// Text and its entities, checked against `max` UTF-16 units.
pub(crate) struct Composed {
    pub text: String,
    pub entities: Vec<MessageEntity>,
}

/// Entities that nothing detected may overlap.
fn exclusive(kind: EntityKind) -> bool {
    !matches!(
        kind,
        EntityKind::Bold
            | EntityKind::Italic
            | EntityKind::Underline
            | EntityKind::Strikethrough
            | EntityKind::Spoiler
            | EntityKind::Blockquote
            | EntityKind::ExpandableBlockquote
    )
}

/// A message's text, with the limits and errors of a message's text (captions have their own).
pub(crate) async fn message_text(
    text: Option<String>,
    parse_mode: Option<&str>,
    entities: Option<Vec<MessageEntity>>,
) -> Result<Composed> {
    compose(
        text,
        parse_mode,
        entities,
        roost_types::limits::MESSAGE_TEXT_MAX,
        ApiError::MESSAGE_TEXT_EMPTY,
        ApiError::MESSAGE_TOO_LONG,
    )
    .await
}

/// Builds a text: `parse_mode` if given, else explicit `entities`, plus the detected entities
/// (links, mentions, commands, …) that do not collide with them. `empty` and `too_long` are the
/// errors to answer with (texts and captions word them differently).
///
/// Every step is linear in the text; a text longer than [`PARSE_IN_PLACE_MAX`] is composed on the
/// blocking pool, so that a request of megabytes of markup does not hold an async worker.
pub(crate) async fn compose(
    text: Option<String>,
    parse_mode: Option<&str>,
    entities: Option<Vec<MessageEntity>>,
    max: usize,
    empty: ApiError,
    too_long: ApiError,
) -> Result<Composed> {
    let text = text.unwrap_or_default();
    if text.len() > TEXT_INPUT_MAX_BYTES {
        return Err(ApiError::TEXT_TOO_LONG.into());
    }
    if parse_mode.is_none() && text.len() > max * 3 {
        // More than three UTF-8 bytes per UTF-16 unit: too long whatever it holds.
        return Err(too_long.into());
    }
    if text.len() <= PARSE_IN_PLACE_MAX {
        return compose_now(text, parse_mode, entities, max, empty, too_long);
    }
    let parse_mode = parse_mode.map(str::to_owned);
    tokio::task::spawn_blocking(move || {
        compose_now(text, parse_mode.as_deref(), entities, max, empty, too_long)
    })
    .await
    .map_err(|e| StoreError::Database(format!("composing task failed: {e}")))?
}

/// The longest text composed on the calling task (bytes).
pub(crate) const PARSE_IN_PLACE_MAX: usize = 16 * 1024;

pub(crate) fn compose_now(
    text: String,
    parse_mode: Option<&str>,
    entities: Option<Vec<MessageEntity>>,
    max: usize,
    empty: ApiError,
    too_long: ApiError,
) -> Result<Composed> {
    let parse_mode = parse_mode.map(str::trim).filter(|mode| !mode.is_empty());
    let (text, mut entities) = match parse_mode {
        Some(mode) => {
            let mode = ParseMode::from_name(mode).ok_or(ApiError::PARSE_MODE_UNSUPPORTED)?;
            let parsed = mode.parse(&text).map_err(ApiError::cant_parse_entities)?;
            (parsed.text, parsed.entities)
        }
        None => {
            let entities = entities.unwrap_or_default();
            let len = utf16_len(&text) as i64;
            for entity in &entities {
                if entity.offset < 0 || entity.length <= 0 || entity.length > len - entity.offset.min(len) {
                    return Err(ApiError::ENTITY_OUT_OF_TEXT.into());
                }
            }
            (text, entities)
        }
    };
    if text.trim().is_empty() {
        return Err(empty.into());
    }
    let len = utf16_len(&text);
    if len > max {
        return Err(too_long.into());
    }
    let detected = entities::detect(&text);
    if !entities.iter().any(|e| exclusive(e.kind)) {
        entities.extend(detected);
    } else if !detected.is_empty() {
        let covered = Coverage::of(entities.iter().filter(|e| exclusive(e.kind)), len);
        entities.extend(detected.into_iter().filter(|found| !covered.any(found.offset, found.length)));
    }
    entities.sort_by_key(|e| (e.offset, -e.length));
    keep_first_formatting(&mut entities);
    Ok(Composed { text, entities })
}

/// Keeps the first [`MESSAGE_ENTITIES_MAX`] formatting entities, as Telegram does; detected ones
/// (links, mentions, commands, …) and custom emoji do not count.
fn keep_first_formatting(entities: &mut Vec<MessageEntity>) {
    let mut formatting = 0;
    entities.retain(|e| {
        if matches!(
            e.kind,
            EntityKind::Mention
                | EntityKind::Hashtag
                | EntityKind::Cashtag
                | EntityKind::BotCommand
                | EntityKind::Url
                | EntityKind::Email
                | EntityKind::PhoneNumber
                | EntityKind::CustomEmoji
        ) {
            return true;
        }
        formatting += 1;
        formatting <= MESSAGE_ENTITIES_MAX
    });
}

/// Which UTF-16 units of a text some entity covers, as prefix sums: whether a span collides with
/// any of them is one subtraction, however many entities a request brings.
struct Coverage(Vec<u32>);

impl Coverage {
    fn of<'a>(entities: impl Iterator<Item = &'a MessageEntity>, len: usize) -> Coverage {
        let mut starts = vec![0i64; len + 1];
        for e in entities {
            let start = (e.offset.max(0) as usize).min(len);
            let end = ((e.offset + e.length).max(0) as usize).min(len);
            if start < end {
                starts[start] += 1;
                starts[end] -= 1;
            }
        }
        // covered[i]: how many of the first i units are covered.
        let mut covered = Vec::with_capacity(len + 1);
        let (mut depth, mut count) = (0i64, 0u32);
        covered.push(0);
        for delta in &starts[..len] {
            depth += delta;
            count += u32::from(depth > 0);
            covered.push(count);
        }
        Coverage(covered)
    }

    fn any(&self, offset: i64, length: i64) -> bool {
        let last = self.0.len() - 1;
        let start = (offset.max(0) as usize).min(last);
        let end = ((offset + length).max(0) as usize).min(last);
        self.0[end] > self.0[start]
    }
}

/// Fills in the users of `text_mention` entities by `author`; a mention of a user the author
/// has not met (see [`crate::chats::knows`]) or who does not exist is dropped, leaving plain
/// text, so that a bot cannot learn names by mentioning ids.
pub(crate) fn resolve_mentions(
    q: &impl Queries,
    author: UserId,
    entities: &mut Vec<MessageEntity>,
) -> Result<()> {
    let mut keep = Vec::with_capacity(entities.len());
    for mut entity in entities.drain(..) {
        if entity.kind == EntityKind::TextMention {
            let id = entity.user.as_ref().map(|u| u.id).unwrap_or(0);
            match q.user(UserId::from_raw(id))? {
                Some(row) if crate::chats::knows(q, author, &row)? => entity.user = Some(render::user(&row)),
                _ => continue,
            }
        }
        keep.push(entity);
    }
    *entities = keep;
    Ok(())
}

pub(crate) fn entities_json(entities: &[MessageEntity]) -> Result<Option<String>> {
    if entities.is_empty() {
        return Ok(None);
    }
    Ok(Some(serde_json::to_string(entities).map_err(StoreError::from)?))
}

/// Checks a `reply_markup` against Telegram's rules and the keyboard limits; returns it typed and
/// as the JSON to store.
pub(crate) fn reply_markup(markup: Option<Map<String, Value>>) -> Result<Option<(ReplyMarkup, String)>> {
    let Some(markup) = markup else { return Ok(None) };
    let invalid = || Error::from(ApiError::REPLY_MARKUP_INVALID);
    let markup: ReplyMarkup = serde_json::from_value(Value::Object(markup)).map_err(|_| invalid())?;
    match &markup {
        ReplyMarkup::Inline(inline) => {
            check_grid(
                inline.inline_keyboard.iter().map(Vec::len),
                KEYBOARD_MAX_ROW_BUTTONS,
                KEYBOARD_MAX_BUTTONS,
            )?;
            for button in inline.inline_keyboard.iter().flatten() {
                check_inline_button(button)?;
            }
        }
        ReplyMarkup::Keyboard(keyboard) => {
            check_grid(
                keyboard.keyboard.iter().map(Vec::len),
                REPLY_KEYBOARD_MAX_ROW_BUTTONS,
                REPLY_KEYBOARD_MAX_BUTTONS,
            )?;
            for button in keyboard.keyboard.iter().flatten() {
                check_button_text(button.text())?;
            }
        }
        ReplyMarkup::Remove(_) | ReplyMarkup::ForceReply(_) => {}
    }
    let json = serde_json::to_string(&markup).map_err(StoreError::from)?;
    Ok(Some((markup, json)))
}

/// Checks a keyboard's shape: at most [`KEYBOARD_MAX_ROWS`] rows of `per_row` buttons, `total`
/// in all (inline keyboards 8 a row and 100, reply keyboards 12 a row and 300, as Telegram).
fn check_grid(rows: impl ExactSizeIterator<Item = usize>, per_row: usize, total_max: usize) -> Result<()> {
    let too_long = || Error::from(ApiError::REPLY_MARKUP_TOO_LONG);
    if rows.len() > KEYBOARD_MAX_ROWS {
        return Err(too_long());
    }
    let mut total = 0;
    for row in rows {
        if row > per_row {
            return Err(too_long());
        }
        total += row;
    }
    if total > total_max {
        return Err(too_long());
    }
    Ok(())
}

fn check_button_text(text: &str) -> Result<()> {
    if text.trim().is_empty() || text.len() > BUTTON_TEXT_MAX_BYTES {
        return Err(ApiError::BUTTON_TEXT_INVALID.into());
    }
    Ok(())
}

fn check_inline_button(button: &InlineKeyboardButton) -> Result<()> {
    check_button_text(&button.text)?;
    match button.action_count() {
        0 => return Err(ApiError::TEXT_BUTTONS_IN_INLINE_KEYBOARD.into()),
        1 => {}
        _ => {
            return Err(ApiError::INLINE_BUTTON_ACTIONS.into());
        }
    }
    if let Some(data) = &button.callback_data
        && (data.is_empty() || data.len() > CALLBACK_DATA_MAX_BYTES)
    {
        return Err(ApiError::BUTTON_DATA_INVALID.into());
    }
    if let Some(url) = &button.url {
        let lower = url.to_ascii_lowercase();
        let allowed =
            ["http://", "https://", "tg://", "ton://"].iter().any(|scheme| lower.starts_with(scheme));
        if !allowed || url::Url::parse(url).is_err() {
            return Err(ApiError::with(roost_types::ErrorKind::InlineButtonUrlInvalid, url).into());
        }
    }
    if let Some(web_app) = &button.web_app
        && !web_app.url.to_ascii_lowercase().starts_with("https://")
    {
        return Err(ApiError::with(roost_types::ErrorKind::WebAppUrlInvalid, &web_app.url).into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn markup(value: Value) -> std::result::Result<Option<String>, String> {
        let Value::Object(map) = value else { return Err("not an object".into()) };
        reply_markup(Some(map)).map(|m| m.map(|(_, json)| json)).map_err(|e| match e {
            Error::Api(api) => api.to_string(),
            other => other.to_string(),
        })
    }

    #[test]
    fn keyboards_are_checked_against_the_limits() {
        let button = json!({"text": "A", "callback_data": "a"});
        assert!(markup(json!({"inline_keyboard": [[button.clone()]]})).is_ok());
        let wide = json!({"inline_keyboard": [vec![button.clone(); 9]]});
        assert_eq!(markup(wide).err().as_deref(), Some("400 REPLY_MARKUP_TOO_LONG"));
        let tall = json!({"inline_keyboard": vec![vec![button.clone()]; 26]});
        assert_eq!(markup(tall).err().as_deref(), Some("400 REPLY_MARKUP_TOO_LONG"));
        let many = json!({"inline_keyboard": vec![vec![button.clone(); 8]; 13]});
        assert_eq!(markup(many).err().as_deref(), Some("400 REPLY_MARKUP_TOO_LONG"));
        let long_data = json!({"inline_keyboard": [[{"text": "A", "callback_data": "x".repeat(65)}]]});
        assert_eq!(markup(long_data).err().as_deref(), Some("400 BUTTON_DATA_INVALID"));
        let long_text = json!({"inline_keyboard": [[{"text": "x".repeat(257), "callback_data": "a"}]]});
        assert_eq!(markup(long_text).err().as_deref(), Some("400 BUTTON_TEXT_INVALID"));
        let no_action = json!({"inline_keyboard": [[{"text": "A"}]]});
        assert_eq!(markup(no_action).err().as_deref(), Some("400 TEXT_BUTTONS_IN_INLINE_KEYBOARD"));
        let bad_url = json!({"inline_keyboard": [[{"text": "A", "url": "javascript:alert(1)"}]]});
        assert!(
            markup(bad_url)
                .err()
                .unwrap_or_default()
                .contains("INLINE_BUTTON_URL_INVALID: javascript:alert(1)")
        );
        assert!(markup(json!({"keyboard": [["Yes", {"text": "No"}]], "resize_keyboard": true})).is_ok());
        assert!(markup(json!({"keyboard": [vec!["k"; 12]]})).is_ok(), "reply rows hold 12");
        let wide_reply = json!({"keyboard": [vec!["k"; 13]]});
        assert_eq!(markup(wide_reply).err().as_deref(), Some("400 REPLY_MARKUP_TOO_LONG"));
        assert!(markup(json!({"remove_keyboard": true})).is_ok());
        assert!(markup(json!({"force_reply": true})).is_ok());
        assert_eq!(markup(json!({"nonsense": 1})).err().as_deref(), Some("400 REPLY_MARKUP_INVALID"));
    }

    #[test]
    fn composed_texts_merge_detected_entities() {
        let composed = compose_now(
            "<b>see</b> https://roost.dev <code>/x</code>".into(),
            Some("HTML"),
            None,
            4096,
            ApiError::MESSAGE_TEXT_EMPTY,
            ApiError::MESSAGE_TOO_LONG,
        );
        let kinds: Vec<(EntityKind, i64, i64)> = composed
            .map(|c| c.entities.iter().map(|e| (e.kind, e.offset, e.length)).collect())
            .unwrap_or_default();
        assert_eq!(kinds, [(EntityKind::Bold, 0, 3), (EntityKind::Url, 4, 17), (EntityKind::Code, 22, 2)]);
        let err = compose_now(
            "<b>x".into(),
            Some("html"),
            None,
            4096,
            ApiError::MESSAGE_TEXT_EMPTY,
            ApiError::MESSAGE_TOO_LONG,
        );
        assert!(
            matches!(err, Err(Error::Api(e)) if e.kind == roost_types::ErrorKind::CantParseEntities && e.detail() == "Can't find end tag corresponding to start tag \"b\"")
        );
        let empty = compose_now(
            "<b> </b>".into(),
            Some("HTML"),
            None,
            4096,
            ApiError::MESSAGE_TEXT_EMPTY,
            ApiError::MESSAGE_TOO_LONG,
        );
        assert!(matches!(empty, Err(Error::Api(e)) if e == ApiError::MESSAGE_TEXT_EMPTY));
    }
}
