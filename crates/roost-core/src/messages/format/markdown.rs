//! `parse_mode=MarkdownV2` and the legacy `parse_mode=Markdown`.

use roost_types::EntityKind;

use super::{Builder, Formatted, link_user_id, mention_of, normalize_url};

/// Characters that must be escaped outside entities in MarkdownV2.
const RESERVED: &[u8] = b"_*[]()~`>#+-=|{}.!";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bold,
    Italic,
    Underline,
    Strikethrough,
    Spoiler,
    Code,
    Pre,
    TextUrl,
    CustomEmoji,
}

impl Kind {
    fn name(self, has_language: bool) -> &'static str {
        match self {
            Kind::Bold => "Bold",
            Kind::Italic => "Italic",
            Kind::Underline => "Underline",
            Kind::Strikethrough => "Strikethrough",
            Kind::Spoiler => "Spoiler",
            Kind::Code => "Code",
            Kind::Pre if has_language => "PreCode",
            Kind::Pre => "Pre",
            Kind::TextUrl => "TextUrl",
            Kind::CustomEmoji => "CustomEmoji",
        }
    }
}

struct Open {
    kind: Kind,
    /// Where the entity starts in the output: UTF-16 units, and bytes of `Builder::text`.
    start: usize,
    text_start: usize,
    byte: usize,
    language: String,
}

/// A blockquote being read: where it started and whether it is expandable.
struct Quote {
    start: usize,
    expandable: bool,
}

fn at(bytes: &[u8], i: usize) -> u8 {
    bytes.get(i).copied().unwrap_or(0)
}

/// Parses MarkdownV2.
pub fn parse_markdown_v2(input: &str) -> Result<Formatted, String> {
    let bytes = input.as_bytes();
    let mut out = Builder::default();
    let mut open: Vec<Open> = Vec::new();
    // How many of `open` are spoilers: asked at every "||" before a line break, and the stack
    // may be as deep as the text is long.
    let mut open_spoilers = 0usize;
    let mut quote: Option<Quote> = None;
    let mut i = 0;
    while i < bytes.len() {
        let in_code = open.last().is_some_and(|o| matches!(o.kind, Kind::Code | Kind::Pre));
        // Blockquotes: a line that starts with '>' (or "**>" for an expandable one).
        let line_start = i == 0 || matches!(bytes[i - 1], b'\n' | b'\r');
        if line_start && !in_code {
            let expandable_mark = bytes[i..].starts_with(b"**>");
            if bytes[i] == b'>' || expandable_mark {
                // "**>" starts a new, expandable quotation even right after another one.
                if expandable_mark && let Some(q) = quote.take() {
                    end_quote(&mut out, q);
                }
                if quote.is_none() {
                    quote = Some(Quote { start: out.utf16, expandable: expandable_mark });
                }
                i += if expandable_mark { 3 } else { 1 };
                continue;
            } else if let Some(q) = quote.take() {
                end_quote(&mut out, q);
            }
        }
        let c = bytes[i];
        if c == b'\\' && (1..=126).contains(&at(bytes, i + 1)) {
            out.push(char::from(bytes[i + 1]));
            i += 2;
            continue;
        }
        let reserved = if in_code { c == b'`' } else { RESERVED.contains(&c) };
        if !reserved {
            let ch = input[i..].chars().next().unwrap_or('\u{fffd}');
            out.push(ch);
            i += ch.len_utf8().max(1);
            continue;
        }
        // The "||" that ends the last line of a quote marks it expandable.
        if c == b'|'
            && at(bytes, i + 1) == b'|'
            && matches!(at(bytes, i + 2), b'\n' | 0)
            && open_spoilers == 0
            && let Some(q) = quote.as_mut()
        {
            q.expandable = true;
            i += 2;
            continue;
        }
        let closes = open.last().is_some_and(|o| match o.kind {
            Kind::Bold => c == b'*',
            Kind::Italic => c == b'_' && at(bytes, i + 1) != b'_',
            Kind::Underline => c == b'_' && at(bytes, i + 1) == b'_',
            Kind::Strikethrough => c == b'~',
            Kind::Spoiler => c == b'|' && at(bytes, i + 1) == b'|',
            Kind::Code => c == b'`',
            Kind::Pre => c == b'`' && at(bytes, i + 1) == b'`' && at(bytes, i + 2) == b'`',
            Kind::TextUrl | Kind::CustomEmoji => c == b']',
        });
        if !closes {
            let byte = i;
            let reserved_error = || {
                format!(
                    "Character '{}' is reserved and must be escaped with the preceding '\\'",
                    char::from(c)
                )
            };
            let mut language = String::new();
            let kind = match c {
                b'_' if at(bytes, i + 1) == b'_' => {
                    i += 1;
                    Kind::Underline
                }
                b'_' => Kind::Italic,
                b'*' => Kind::Bold,
                b'~' => Kind::Strikethrough,
                b'|' if at(bytes, i + 1) == b'|' => {
                    i += 1;
                    Kind::Spoiler
                }
                b'[' => Kind::TextUrl,
                b'!' if at(bytes, i + 1) == b'[' => {
                    i += 1;
                    Kind::CustomEmoji
                }
                b'`' if at(bytes, i + 1) == b'`' && at(bytes, i + 2) == b'`' => {
                    (language, i) = pre_language(input, i + 3);
                    let text_start = out.text.len();
                    open.push(Open { kind: Kind::Pre, start: out.utf16, text_start, byte, language });
                    continue;
                }
                b'`' => Kind::Code,
                _ => return Err(reserved_error()),
            };
            open_spoilers += usize::from(kind == Kind::Spoiler);
            open.push(Open { kind, start: out.utf16, text_start: out.text.len(), byte, language });
            i += 1;
            continue;
        }
        // The end of the innermost entity.
        let Some(entity) = open.pop() else { break };
        open_spoilers -= usize::from(entity.kind == Kind::Spoiler);
        match entity.kind {
            Kind::Underline | Kind::Spoiler => i += 2,
            Kind::Pre => i += 3,
            Kind::TextUrl | Kind::CustomEmoji => {
                i += 1;
                let mut url = String::new();
                if at(bytes, i) == b'(' {
                    let url_start = i + 1;
                    i += 1;
                    loop {
                        match at(bytes, i) {
                            0 if i >= bytes.len() => {
                                return Err(format!("Can't find end of a URL at byte offset {url_start}"));
                            }
                            b')' => break,
                            b'\\' if (1..=126).contains(&at(bytes, i + 1)) => {
                                url.push(char::from(bytes[i + 1]));
                                i += 2;
                            }
                            _ => {
                                let ch = input[i..].chars().next().unwrap_or('\u{fffd}');
                                url.push(ch);
                                i += ch.len_utf8().max(1);
                            }
                        }
                    }
                    i += 1;
                } else if entity.kind == Kind::TextUrl {
                    url = out.text[entity.text_start..].to_owned();
                }
                if entity.kind == Kind::CustomEmoji {
                    let id = custom_emoji_id(&url)?;
                    if let Some(e) = out.entity(EntityKind::CustomEmoji, entity.start) {
                        e.custom_emoji_id = Some(id);
                    }
                } else if let Some(user) = link_user_id(&url) {
                    if let Some(e) = out.entity(EntityKind::TextMention, entity.start) {
                        e.user = Some(mention_of(user));
                    }
                } else if let Some(url) = normalize_url(&url)
                    && let Some(e) = out.entity(EntityKind::TextLink, entity.start)
                {
                    e.url = Some(url);
                }
                continue;
            }
            _ => i += 1,
        }
        let kind = match entity.kind {
            Kind::Bold => EntityKind::Bold,
            Kind::Italic => EntityKind::Italic,
            Kind::Underline => EntityKind::Underline,
            Kind::Strikethrough => EntityKind::Strikethrough,
            Kind::Spoiler => EntityKind::Spoiler,
            Kind::Code => EntityKind::Code,
            _ => EntityKind::Pre,
        };
        if let Some(e) = out.entity(kind, entity.start)
            && !entity.language.is_empty()
        {
            e.language = Some(entity.language);
        }
    }
    if let Some(entity) = open.last() {
        if entity.kind == Kind::CustomEmoji && at(bytes, bytes.len().saturating_sub(1)) == b']' {
            return Err("Custom emoji entity must contain a tg://emoji URL".into());
        }
        return Err(format!(
            "Can't find end of {} entity at byte offset {}",
            entity.kind.name(!entity.language.is_empty()),
            entity.byte
        ));
    }
    if let Some(q) = quote.take() {
        end_quote(&mut out, q);
    }
    Ok(out.finish())
}

fn end_quote(out: &mut Builder, quote: Quote) {
    let kind = if quote.expandable { EntityKind::ExpandableBlockquote } else { EntityKind::Blockquote };
    out.entity(kind, quote.start);
}

fn custom_emoji_id(url: &str) -> Result<String, String> {
    let lower = url.to_ascii_lowercase();
    let Some(rest) = lower.strip_prefix("tg://").or_else(|| lower.strip_prefix("tg:")) else {
        return Err("Custom emoji URL must have scheme tg".into());
    };
    let (host, query) = rest.split_once('?').unwrap_or((rest, ""));
    if host.trim_end_matches('/') != "emoji" {
        return Err("Custom emoji URL must have host \"emoji\"".into());
    }
    let query = query.split('#').next().unwrap_or("");
    let id = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("id="))
        .ok_or_else(|| "Custom emoji URL must have an emoji identifier".to_owned())?;
    if id.is_empty() || id.starts_with('0') || !id.bytes().all(|b| b.is_ascii_digit()) || id.len() > 19 {
        return Err("Invalid custom emoji identifier specified".into());
    }
    Ok(id.to_owned())
}

/// After an opening "```" at `i`: the block's language (a word directly after the fence, followed
/// by whitespace) and where its text begins (one line break is skipped), as tdlib reads it.
fn pre_language(input: &str, mut i: usize) -> (String, usize) {
    let bytes = input.as_bytes();
    let mut language = String::new();
    let mut end = i;
    while end < bytes.len() && !bytes[end].is_ascii_whitespace() && bytes[end] != b'`' {
        end += 1;
    }
    if end != i && end < bytes.len() && bytes[end] != b'`' {
        language = input[i..end].to_owned();
        i = end;
    }
    (language, skip_one_newline(bytes, i))
}

/// Skips one line break (`\n`, `\r`, `\r\n` or `\n\r`) at `i`.
fn skip_one_newline(bytes: &[u8], i: usize) -> usize {
    match at(bytes, i) {
        b'\n' | b'\r' => {
            let next = at(bytes, i + 1);
            if (next == b'\n' || next == b'\r') && next != bytes[i] { i + 2 } else { i + 1 }
        }
        _ => i,
    }
}

/// Parses the legacy Markdown: `*bold*`, `_italic_`, `[text](url)`, `` `code` ``, ```` ```pre``` ````,
/// no nesting; `\` escapes `_ * ` [`.
pub fn parse_markdown(input: &str) -> Result<Formatted, String> {
    let bytes = input.as_bytes();
    let mut out = Builder::default();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'\\' && matches!(at(bytes, i + 1), b'_' | b'*' | b'`' | b'[') {
            out.push(char::from(bytes[i + 1]));
            i += 2;
            continue;
        }
        if !matches!(c, b'_' | b'*' | b'`' | b'[') {
            let ch = input[i..].chars().next().unwrap_or('\u{fffd}');
            out.push(ch);
            i += ch.len_utf8().max(1);
            continue;
        }
        let begin = i;
        let end_char = if c == b'[' { b']' } else { c };
        i += 1;
        let mut is_pre = false;
        let mut language = String::new();
        if c == b'`' && at(bytes, i) == b'`' && at(bytes, i + 1) == b'`' {
            is_pre = true;
            (language, i) = pre_language(input, i + 2);
        }
        let start = out.utf16;
        let text_start = i;
        while i < bytes.len()
            && (bytes[i] != end_char || (is_pre && !(at(bytes, i + 1) == b'`' && at(bytes, i + 2) == b'`')))
        {
            let ch = input[i..].chars().next().unwrap_or('\u{fffd}');
            out.push(ch);
            i += ch.len_utf8().max(1);
        }
        if i >= bytes.len() {
            return Err(format!("Can't find end of the entity starting at byte offset {begin}"));
        }
        let visible = input[text_start..i].to_owned();
        match c {
            b'_' => {
                out.entity(EntityKind::Italic, start);
            }
            b'*' => {
                out.entity(EntityKind::Bold, start);
            }
            b'[' => {
                let mut url = visible;
                if at(bytes, i + 1) == b'(' {
                    i += 2;
                    url.clear();
                    while i < bytes.len() && bytes[i] != b')' {
                        let ch = input[i..].chars().next().unwrap_or('\u{fffd}');
                        url.push(ch);
                        i += ch.len_utf8().max(1);
                    }
                }
                if let Some(user) = link_user_id(&url) {
                    if let Some(e) = out.entity(EntityKind::TextMention, start) {
                        e.user = Some(mention_of(user));
                    }
                } else if let Some(url) = normalize_url(&url)
                    && let Some(e) = out.entity(EntityKind::TextLink, start)
                {
                    e.url = Some(url);
                }
            }
            _ if is_pre => {
                if let Some(e) = out.entity(EntityKind::Pre, start)
                    && !language.is_empty()
                {
                    e.language = Some(language);
                }
                i += 2;
            }
            _ => {
                out.entity(EntityKind::Code, start);
            }
        }
        i += 1;
    }
    Ok(out.finish())
}
