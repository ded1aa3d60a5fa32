//! Formatted text: `parse_mode` HTML, MarkdownV2 and legacy Markdown turned into plain text plus
//! entities, the way Telegram does it (tdlib's `parse_html`, `parse_markdown_v2`,
//! `parse_markdown`); and the CommonMark-like Markdown of other dialects (`parse_commonmark`),
//! which their edges apply before the core sees the text.
//!
//! Parsers never panic on any input (fuzzed by proptest). A malformed text is an error whose
//! message is Telegram's (`Can't find end of Bold entity at byte offset 3`); the caller wraps it
//! in `Bad Request: can't parse entities: …`. Offsets and lengths are UTF-16 code units; byte
//! offsets in errors count UTF-8 bytes of the input.

mod commonmark;
mod html;
mod markdown;
#[cfg(test)]
mod tests;

use roost_types::{EntityKind, MessageEntity, User};

pub use commonmark::parse_commonmark;
pub use html::parse_html;
pub use markdown::{parse_markdown, parse_markdown_v2};

/// A parse mode, as named in `parse_mode` (case-insensitive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseMode {
    Html,
    MarkdownV2,
    Markdown,
}

impl ParseMode {
    /// Reads a `parse_mode` value; `None` for an unknown one.
    pub fn from_name(name: &str) -> Option<ParseMode> {
        match name.trim().to_ascii_lowercase().as_str() {
            "html" => Some(ParseMode::Html),
            "markdownv2" => Some(ParseMode::MarkdownV2),
            "markdown" => Some(ParseMode::Markdown),
            _ => None,
        }
    }

    /// Parses `text` in this mode.
    pub fn parse(self, text: &str) -> Result<Formatted, String> {
        match self {
            ParseMode::Html => parse_html(text),
            ParseMode::MarkdownV2 => parse_markdown_v2(text),
            ParseMode::Markdown => parse_markdown(text),
        }
    }
}

/// Plain text with its entities.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Formatted {
    pub text: String,
    pub entities: Vec<MessageEntity>,
}

/// Builds the plain text and counts UTF-16 units as it goes.
#[derive(Default)]
pub(crate) struct Builder {
    pub text: String,
    pub utf16: usize,
    pub entities: Vec<MessageEntity>,
}

impl Builder {
    pub fn push(&mut self, c: char) {
        self.text.push(c);
        self.utf16 += c.len_utf16();
    }

    /// Adds an entity from `start` to the current position, unless it is empty.
    pub fn entity(&mut self, kind: EntityKind, start: usize) -> Option<&mut MessageEntity> {
        if self.utf16 <= start {
            return None;
        }
        self.entities.push(MessageEntity::new(kind, start, self.utf16 - start));
        self.entities.last_mut()
    }

    pub fn finish(mut self) -> Formatted {
        // Telegram's order: by offset, the enclosing entity first.
        self.entities.sort_by(|a, b| a.offset.cmp(&b.offset).then(b.length.cmp(&a.length)));
        Formatted { text: self.text, entities: self.entities }
    }
}

/// The user of a `tg://user?id=N` link, if that is what `url` is.
pub(crate) fn link_user_id(url: &str) -> Option<i64> {
    let rest = url.strip_prefix("tg://user?id=").or_else(|| url.strip_prefix("tg:user?id="))?;
    rest.parse().ok().filter(|id: &i64| *id > 0)
}

/// Checks and normalises a link target: a scheme is added when missing (`http://`), and anything
/// that is not a plausible URL is refused (the entity is then dropped, as Telegram does).
pub(crate) fn normalize_url(url: &str) -> Option<String> {
    let url = url.trim();
    if url.is_empty() || url.chars().any(char::is_whitespace) {
        return None;
    }
    let lower = url.to_ascii_lowercase();
    let with_scheme = if lower.starts_with("http://")
        || lower.starts_with("https://")
        || lower.starts_with("tg://")
        || lower.starts_with("ton://")
        || lower.starts_with("mailto:")
        || lower.starts_with("ftp://")
    {
        url.to_owned()
    } else if lower.contains("://") {
        return None;
    } else {
        // A bare host must look like a domain.
        let host = url.split(['/', '?', '#']).next().unwrap_or("");
        if !host.contains('.') {
            return None;
        }
        format!("http://{url}")
    };
    // A URL of a host alone gets its trailing slash, as Telegram shows it.
    let after_scheme = with_scheme.split_once("://").map(|(_, rest)| rest).unwrap_or("");
    if !after_scheme.is_empty() && !after_scheme.contains('/') && !lower.starts_with("tg:") {
        return Some(match after_scheme.find(['?', '#']) {
            Some(i) => {
                let cut = with_scheme.len() - after_scheme.len() + i;
                format!("{}/{}", &with_scheme[..cut], &with_scheme[cut..])
            }
            None => format!("{with_scheme}/"),
        });
    }
    Some(with_scheme)
}

/// A text_mention entity's user before the core fills in the name.
pub(crate) fn mention_of(id: i64) -> User {
    User {
        id,
        is_bot: false,
        first_name: String::new(),
        last_name: None,
        username: None,
        language_code: None,
    }
}
