//! `parse_mode=HTML`.

use roost_types::EntityKind;

use super::{Builder, Formatted, link_user_id, mention_of, normalize_url};

/// An open tag.
struct Open {
    tag: String,
    /// Where the entity starts in the output (UTF-16).
    start: usize,
    /// For `a`: the link; for `pre`/`code`: the language; for `tg-emoji`: the emoji id.
    argument: String,
    expandable: bool,
}

/// Parses Telegram's HTML subset.
pub fn parse_html(input: &str) -> Result<Formatted, String> {
    let bytes = input.as_bytes();
    let mut out = Builder::default();
    let mut open: Vec<Open> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'&' => {
                let (decoded, used) = decode_entity(&input[i..]);
                match decoded {
                    Some(c) => out.push(c),
                    None => out.push('&'),
                }
                i += used;
            }
            b'<' => {
                let tag_start = i;
                let close = input[i..]
                    .find('>')
                    .map(|p| i + p)
                    .ok_or_else(|| format!("Unclosed start tag at byte offset {tag_start}"))?;
                let inner = &input[i + 1..close];
                i = close + 1;
                if let Some(name) = inner.strip_prefix('/') {
                    let name = name.trim().to_ascii_lowercase();
                    let Some(last) = open.pop() else {
                        return Err(format!("Unexpected end tag at byte offset {tag_start}"));
                    };
                    if name != last.tag {
                        return Err(format!(
                            "Unmatched end tag at byte offset {tag_start}, expected \"</{}>\", found \"</{name}>\"",
                            last.tag
                        ));
                    }
                    close_tag(&mut out, &mut open, last);
                } else {
                    open.push(open_tag(inner, tag_start, out.utf16, &open)?);
                }
            }
            _ => {
                let c = input[i..].chars().next().unwrap_or('\u{fffd}');
                out.push(c);
                i += c.len_utf8().max(1);
            }
        }
    }
    if let Some(last) = open.last() {
        return Err(format!("Can't find end tag corresponding to start tag \"{}\"", last.tag));
    }
    Ok(out.finish())
}

fn open_tag(inner: &str, offset: usize, start: usize, open: &[Open]) -> Result<Open, String> {
    let name_end = inner.find(|c: char| c.is_whitespace()).unwrap_or(inner.len());
    let tag = inner[..name_end].to_ascii_lowercase();
    let attributes = parse_attributes(&inner[name_end..])
        .ok_or_else(|| format!("Unclosed start tag at byte offset {offset}"))?;
    let attribute = |name: &str| attributes.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let mut entry = Open { tag: tag.clone(), start, argument: String::new(), expandable: false };
    match tag.as_str() {
        "b" | "strong" | "i" | "em" | "s" | "strike" | "del" | "u" | "ins" | "tg-spoiler" => {}
        "span" => {
            if attribute("class").as_deref() != Some("tg-spoiler") {
                return Err(format!("Tag \"span\" must have class \"tg-spoiler\" at byte offset {offset}"));
            }
        }
        "a" => entry.argument = attribute("href").unwrap_or_default(),
        "tg-emoji" => {
            entry.argument = attribute("emoji-id").unwrap_or_default();
            if entry.argument.is_empty() || !entry.argument.bytes().all(|b| b.is_ascii_digit()) {
                return Err("Invalid custom emoji identifier specified".into());
            }
        }
        "pre" => {}
        "code" => {
            // <pre><code class="language-x"> gives the pre block its language.
            if let Some(class) = attribute("class")
                && let Some(language) = class.strip_prefix("language-")
                && open.last().is_some_and(|o| o.tag == "pre")
            {
                entry.argument = language.to_owned();
            }
        }
        "blockquote" => entry.expandable = attributes.iter().any(|(k, _)| k == "expandable"),
        _ => return Err(format!("Unsupported start tag \"{tag}\" at byte offset {offset}")),
    }
    Ok(entry)
}

fn close_tag(out: &mut Builder, open: &mut [Open], tag: Open) {
    let kind = match tag.tag.as_str() {
        "b" | "strong" => EntityKind::Bold,
        "i" | "em" => EntityKind::Italic,
        "s" | "strike" | "del" => EntityKind::Strikethrough,
        "u" | "ins" => EntityKind::Underline,
        "tg-spoiler" | "span" => EntityKind::Spoiler,
        "tg-emoji" => EntityKind::CustomEmoji,
        "blockquote" if tag.expandable => EntityKind::ExpandableBlockquote,
        "blockquote" => EntityKind::Blockquote,
        "code" => {
            if let Some(pre) = open.last_mut().filter(|o| o.tag == "pre") {
                // The code block's language moves to the enclosing pre; no separate code entity.
                if !tag.argument.is_empty() {
                    pre.argument = tag.argument;
                }
                return;
            }
            EntityKind::Code
        }
        "pre" => EntityKind::Pre,
        "a" => {
            if let Some(user) = link_user_id(&tag.argument) {
                if let Some(entity) = out.entity(EntityKind::TextMention, tag.start) {
                    entity.user = Some(mention_of(user));
                }
                return;
            }
            let Some(url) = normalize_url(&tag.argument) else { return };
            if let Some(entity) = out.entity(EntityKind::TextLink, tag.start) {
                entity.url = Some(url);
            }
            return;
        }
        _ => return,
    };
    if let Some(entity) = out.entity(kind, tag.start) {
        match kind {
            EntityKind::Pre if !tag.argument.is_empty() => entity.language = Some(tag.argument),
            EntityKind::CustomEmoji => entity.custom_emoji_id = Some(tag.argument),
            _ => {}
        }
    }
}

/// `name="value" name='value' name=value name` → pairs; `None` if a quote is unclosed.
fn parse_attributes(mut text: &str) -> Option<Vec<(String, String)>> {
    let mut attributes = Vec::new();
    loop {
        text = text.trim_start();
        if text.is_empty() || text == "/" {
            return Some(attributes);
        }
        let name_end = text.find(|c: char| c == '=' || c.is_whitespace()).unwrap_or(text.len());
        let name = text[..name_end].to_ascii_lowercase();
        text = text[name_end..].trim_start();
        let value = if let Some(rest) = text.strip_prefix('=') {
            let rest = rest.trim_start();
            if let Some(quote) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') {
                let body = &rest[1..];
                let end = body.find(quote)?;
                text = &body[end + 1..];
                decode_all(&body[..end])
            } else {
                let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
                text = &rest[end..];
                decode_all(&rest[..end])
            }
        } else {
            String::new()
        };
        attributes.push((name, value));
    }
}

fn decode_all(text: &str) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < text.len() {
        if text.as_bytes()[i] == b'&' {
            let (decoded, used) = decode_entity(&text[i..]);
            out.push(decoded.unwrap_or('&'));
            i += used;
        } else {
            let c = text[i..].chars().next().unwrap_or('\u{fffd}');
            out.push(c);
            i += c.len_utf8().max(1);
        }
    }
    out
}

/// Decodes the HTML entity at the start of `text` (which starts with `&`). Returns the character
/// (or `None` for an unknown entity, kept as a literal `&`) and the bytes used.
fn decode_entity(text: &str) -> (Option<char>, usize) {
    // An entity name is at most 10 bytes (`#x10FFFF` and `#1114111` included): look no further,
    // or a text of many `&` would be searched to its end once for each.
    let window = &text.as_bytes()[1..text.len().min(13)];
    let Some(end) = window.iter().position(|&b| b == b';').map(|p| p + 1) else { return (None, 1) };
    let name = &text[1..end];
    let decoded = match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "quot" => Some('"'),
        _ => {
            let number = if let Some(hex) = name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                u32::from_str_radix(hex, 16).ok()
            } else {
                name.strip_prefix('#').and_then(|dec| dec.parse::<u32>().ok())
            };
            number.and_then(char::from_u32).filter(|c| *c != '\0')
        }
    };
    match decoded {
        Some(c) => (Some(c), end + 1),
        None => (None, 1),
    }
}
