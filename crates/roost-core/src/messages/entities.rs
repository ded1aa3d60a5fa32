//! Detection of the entities Telegram finds in plain text: bot commands, mentions, hashtags,
//! cashtags, URLs, e-mail addresses and phone numbers.
//!
//! The rules follow Telegram's own matcher (tdlib `MessageEntity.cpp`): the same characters may
//! start and end each kind, and the same neighbours rule a match out. URL detection accepts any
//! alphabetic top-level domain instead of tdlib's list of known ones. Offsets and lengths are in
//! UTF-16 code units, as in the Bot API.

use roost_types::{EntityKind, MessageEntity};

/// Finds the entities of `text`, sorted by offset, never overlapping.
pub fn detect(text: &str) -> Vec<MessageEntity> {
    if !may_hold_entities(text) {
        return Vec::new();
    }
    scan(text)
}

/// Whether `text` has a character that every kind needs: a URL's host has a dot (or its `tg://`
/// scheme a slash), an e-mail an '@', and each other kind starts with its own character. Many
/// texts have none; the full scan of a short one was 7% of an HTTP worker's instructions per
/// `sendMessage` (callgrind).
fn may_hold_entities(text: &str) -> bool {
    text.bytes().any(|b| matches!(b, b'.' | b'/' | b'@' | b'#' | b'$' | b'+'))
}

fn scan(text: &str) -> Vec<MessageEntity> {
    let chars: Vec<char> = text.chars().collect();
    let mut found = Found::default();
    // Order matters: earlier kinds win overlaps (a URL's path may contain a "/command").
    match_urls_and_emails(&chars, &mut found);
    match_simple(&chars, '/', bot_command_at, EntityKind::BotCommand, &mut found);
    match_simple(&chars, '@', mention_at, EntityKind::Mention, &mut found);
    match_simple(&chars, '#', hashtag_at, EntityKind::Hashtag, &mut found);
    match_simple(&chars, '$', cashtag_at, EntityKind::Cashtag, &mut found);
    match_simple(&chars, '+', phone_at, EntityKind::PhoneNumber, &mut found);
    if found.spans.is_empty() {
        return Vec::new();
    }

    // Char index → UTF-16 offset.
    let mut utf16 = Vec::with_capacity(chars.len() + 1);
    let mut position = 0;
    for c in &chars {
        utf16.push(position);
        position += c.len_utf16();
    }
    utf16.push(position);
    found
        .spans
        .into_iter()
        .map(|(start, (end, kind))| MessageEntity::new(kind, utf16[start], utf16[end] - utf16[start]))
        .collect()
}

/// The entities found so far, by start (char index) → (end, kind); they never overlap, so one
/// look at the last span starting before a new one's end tells whether the new one collides.
#[derive(Default)]
struct Found {
    spans: std::collections::BTreeMap<usize, (usize, EntityKind)>,
}

impl Found {
    fn overlaps(&self, start: usize, end: usize) -> bool {
        self.spans.range(..end).next_back().is_some_and(|(_, &(e, _))| e > start)
    }

    fn add(&mut self, start: usize, end: usize, kind: EntityKind) {
        self.spans.insert(start, (end, kind));
    }
}

/// Length of `text` in UTF-16 code units, the unit of Telegram's text limits and offsets.
pub fn utf16_len(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

type Matcher = fn(&[char], usize) -> Option<usize>;

/// Runs `matcher` at every occurrence of `trigger` and keeps the matches that overlap nothing found
/// before.
fn match_simple(chars: &[char], trigger: char, matcher: Matcher, kind: EntityKind, found: &mut Found) {
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == trigger
            && let Some(end) = matcher(chars, i)
        {
            if !found.overlaps(i, end) {
                found.add(i, end, kind);
            }
            i = end;
            continue;
        }
        i += 1;
    }
}

/// Letters, digits and `_` in any script (tdlib's `is_word_character`).
fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn is_ascii_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn prev(chars: &[char], i: usize) -> Option<char> {
    i.checked_sub(1).map(|p| chars[p])
}

fn run_while(chars: &[char], mut i: usize, pred: impl Fn(char) -> bool) -> usize {
    while i < chars.len() && pred(chars[i]) {
        i += 1;
    }
    i
}

/// [`run_while`], but looking at no more than `max + 1` characters: the end of a run of at most
/// `max`, or a position past `i + max` for a longer one. The URL matcher runs at the start of
/// every word, and two words may share the rest of a run: unbounded, a text of many short
/// words before one long run would be walked to its end once per word.
fn run_at_most(chars: &[char], i: usize, max: usize, pred: impl Fn(char) -> bool) -> usize {
    let limit = chars.len().min(i + max + 1);
    let mut end = i;
    while end < limit && pred(chars[end]) {
        end += 1;
    }
    end
}

/// The longest scheme the URL matcher knows (`tonsite`), the longest user part of an e-mail
/// address (RFC 5321), and the longest host name and label (RFC 1035).
const SCHEME_MAX: usize = 7;
const USER_MAX: usize = 64;
const HOST_MAX: usize = 253;
const LABEL_MAX: usize = 63;

/// `/command` or `/command@botname`.
fn bot_command_at(chars: &[char], start: usize) -> Option<usize> {
    let blocks = |c: char| is_word(c) || c == '/' || c == '<' || c == '>';
    if prev(chars, start).is_some_and(blocks) {
        return None;
    }
    let name_end = run_while(chars, start + 1, is_ascii_word);
    let size = name_end - start - 1;
    if !(1..=64).contains(&size) {
        return None;
    }
    let mut end = name_end;
    if chars.get(end) == Some(&'@') {
        let bot_end = run_while(chars, end + 1, is_ascii_word);
        if !(3..=32).contains(&(bot_end - end - 1)) {
            return None;
        }
        end = bot_end;
    }
    if chars.get(end).copied().is_some_and(blocks) {
        return None;
    }
    Some(end)
}

/// `@username`.
fn mention_at(chars: &[char], start: usize) -> Option<usize> {
    if prev(chars, start).is_some_and(is_word) {
        return None;
    }
    let end = run_while(chars, start + 1, is_ascii_word);
    if !(2..=32).contains(&(end - start - 1)) || chars.get(end).copied().is_some_and(is_word) {
        return None;
    }
    Some(end)
}

fn is_hashtag_letter(c: char) -> bool {
    c == '_'
        || c == '\u{200c}'
        || c == '\u{b7}'
        || ('\u{d80}'..='\u{dff}').contains(&c)
        || c.is_alphanumeric()
}

/// `#hashtag`: up to 256 hashtag letters, at least one of them a letter, not followed by `#`.
fn hashtag_at(chars: &[char], start: usize) -> Option<usize> {
    if prev(chars, start).is_some_and(is_hashtag_letter) {
        return None;
    }
    let run_end = run_while(chars, start + 1, is_hashtag_letter);
    if run_end == start + 1 || chars.get(run_end) == Some(&'#') {
        return None;
    }
    let end = run_end.min(start + 1 + 256);
    if !chars[start + 1..end].iter().any(|c| c.is_alphabetic()) {
        return None;
    }
    Some(end)
}

/// `$USD`: one to eight capital Latin letters (or `$1INCH`).
fn cashtag_at(chars: &[char], start: usize) -> Option<usize> {
    let blocks = |c: char| is_hashtag_letter(c) || c == '$';
    if prev(chars, start).is_some_and(blocks) {
        return None;
    }
    let is_1inch = chars[start + 1..].iter().take(5).copied().eq("1INCH".chars());
    let end = if is_1inch { start + 6 } else { run_while(chars, start + 1, |c| c.is_ascii_uppercase()) };
    if !(1..=8).contains(&(end - start - 1)) || chars.get(end).copied().is_some_and(blocks) {
        return None;
    }
    Some(end)
}

/// `+1 (555) 123-45-67`: a plus, then 7 to 15 digits with spaces, hyphens or one pair of
/// parentheses between groups.
fn phone_at(chars: &[char], start: usize) -> Option<usize> {
    if prev(chars, start).is_some_and(|c| is_word(c) || c == '+') {
        return None;
    }
    let mut i = start + 1;
    let mut digits = 0;
    let mut last_digit_end = None;
    let mut open_paren = false;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() {
            digits += 1;
            last_digit_end = Some(i + 1);
        } else if c == '(' && !open_paren && last_digit_end.is_some() {
            open_paren = true;
        } else if c == ')' && open_paren {
            open_paren = false;
        } else if (c == ' ' || c == '-') && chars.get(i + 1).is_some_and(|n| n.is_ascii_digit() || *n == '(')
        {
        } else {
            break;
        }
        i += 1;
    }
    let end = last_digit_end?;
    if open_paren || !(7..=15).contains(&digits) || chars[start + 1] == ' ' {
        return None;
    }
    if chars.get(end).copied().is_some_and(|c| is_word(c) || c == ')') {
        return None;
    }
    Some(end)
}

fn is_domain_char(c: char) -> bool {
    c.is_alphanumeric() || c == '-' || c == '_' || c == '~' || (!c.is_ascii() && !c.is_whitespace())
}

fn is_path_char(c: char) -> bool {
    // General Punctuation ends a URL, except zero-width (non-)joiners and dashes.
    let breaking_punctuation = ('\u{2000}'..='\u{206f}').contains(&c)
        && !matches!(c, '\u{200c}' | '\u{200d}' | '\u{2010}'..='\u{2015}');
    !(c.is_whitespace() || matches!(c, '<' | '>' | '"' | '«' | '»') || breaking_punctuation)
}

fn is_user_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(c, '.' | '_' | '-' | '+' | '%' | '!' | '#' | '&' | '*' | '=' | '^' | '|' | '~')
}

/// Finds URLs (`example.com/path`, `https://…`, `tg://…`) and e-mail addresses.
fn match_urls_and_emails(chars: &[char], found: &mut Found) {
    let mut i = 0;
    while i < chars.len() {
        if !is_domain_char(chars[i]) || (i > 0 && (is_domain_char(chars[i - 1]) || chars[i - 1] == '.')) {
            i += 1;
            continue;
        }
        match url_or_email_at(chars, i) {
            Some((start, end, kind)) => {
                found.add(start, end, kind);
                i = end;
            }
            None => i += 1,
        }
    }
}

/// Whether a URL's host may end in `tld`, as Telegram's clients decide (tdlib's `find_urls`):
/// after an explicit scheme any label without `_` or `-` will do; without one, only a top-level
/// domain that exists (IANA's list, the `tld` crate), so that `notes.txt` or `v1.final` stay plain
/// text while `example.com` and `README.md` become links. A label capitalised like the first word
/// of a sentence (`Com`) is not taken for a domain; `COM` is. Punycode (`xn--…`) and non-Latin
/// top-level domains (`рф`) count as their ASCII form.
fn url_tld_ok(tld: &[char], has_scheme: bool) -> bool {
    if tld.len() <= 1 {
        return false;
    }
    let text: String = tld.iter().collect();
    if let Some(rest) = text.strip_prefix("xn--") {
        return rest.len() >= 2 && rest.chars().all(|c| c.is_ascii_alphanumeric());
    }
    if text.contains(['_', '-']) {
        return false;
    }
    if has_scheme {
        return true;
    }
    let lower = text.to_lowercase();
    if lower != text && lower.chars().skip(1).eq(text.chars().skip(1)) {
        return false;
    }
    if lower.is_ascii() {
        return tld::exist(&lower);
    }
    match url::Host::parse(&lower) {
        Ok(url::Host::Domain(ascii)) => tld::exist(&ascii),
        _ => false,
    }
}

/// A dotted IPv4 address as Telegram takes one: four numbers up to 255, none with a leading zero.
fn is_ipv4(host: &[char]) -> bool {
    let text: String = host.iter().collect();
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() == 4
        && parts.iter().all(|part| {
            !part.is_empty()
                && part.len() <= 3
                && !(part.len() > 1 && part.starts_with('0'))
                && part.parse::<u16>().is_ok_and(|n| n <= 255)
        })
}

/// Tries a URL or e-mail starting at the word that begins at `start`.
fn url_or_email_at(chars: &[char], start: usize) -> Option<(usize, usize, EntityKind)> {
    // A scheme: letters followed by "://".
    let scheme_end =
        run_at_most(chars, start, SCHEME_MAX, |c| c.is_ascii_alphanumeric() || c == '+' || c == '-');
    let mut host_start = start;
    let mut scheme: Option<String> = None;
    if scheme_end - start <= SCHEME_MAX
        && chars.get(scheme_end) == Some(&':')
        && chars.get(scheme_end + 1) == Some(&'/')
        && chars.get(scheme_end + 2) == Some(&'/')
    {
        let name: String = chars[start..scheme_end].iter().collect::<String>().to_lowercase();
        if !matches!(name.as_str(), "http" | "https" | "ftp" | "tg" | "ton" | "tonsite" | "sftp") {
            return None;
        }
        host_start = scheme_end + 3;
        scheme = Some(name);
    }

    // Optional user data before '@' (an e-mail address when there is no scheme).
    let user_end = run_at_most(chars, host_start, USER_MAX, is_user_char);
    let mut email = false;
    if chars.get(user_end) == Some(&'@') && user_end > host_start {
        if scheme.is_none() {
            email = true;
        }
        host_start = user_end + 1;
    }

    // The host: labels separated by dots.
    let mut host_end = host_start;
    let mut labels = 0;
    let mut last_label = (host_start, host_start);
    loop {
        let label_end = run_at_most(chars, host_end, LABEL_MAX, is_domain_char);
        if label_end == host_end {
            break;
        }
        if label_end - host_end > LABEL_MAX || label_end - host_start > HOST_MAX {
            return None;
        }
        labels += 1;
        last_label = (host_end, label_end);
        host_end = label_end;
        if chars.get(host_end) == Some(&'.') && chars.get(host_end + 1).is_some_and(|&c| is_domain_char(c)) {
            host_end += 1;
        } else {
            break;
        }
    }
    let is_tg = matches!(scheme.as_deref(), Some("tg" | "ton" | "tonsite"));
    if !is_tg {
        // Checked on the slice: this runs at the start of every word of a text with a dot.
        if labels < 2 {
            return None;
        }
        let tld = &chars[last_label.0..last_label.1];
        let host = &chars[host_start..host_end];
        let host_ok = if host.iter().all(|c| c.is_ascii_digit() || *c == '.') {
            is_ipv4(host)
        } else if email {
            tld.len() >= 2 && tld.iter().all(|c| c.is_alphabetic())
        } else {
            url_tld_ok(tld, scheme.is_some())
        };
        if !host_ok {
            return None;
        }
    } else if labels == 0 {
        return None;
    }
    if email {
        if chars.get(host_end).copied().is_some_and(|c| is_word(c) || c == '@') {
            return None;
        }
        return Some((start, host_end, EntityKind::Email));
    }

    let mut end = host_end;
    // Port.
    if chars.get(end) == Some(&':') {
        let port_end = run_while(chars, end + 1, |c| c.is_ascii_digit());
        let port: String = chars[end + 1..port_end].iter().collect();
        if port_end > end + 1 && port.len() <= 5 && port.parse::<u32>().is_ok_and(|p| p <= 65535) {
            end = port_end;
        }
    }
    // Path, query, fragment; trailing punctuation is not part of the URL.
    if matches!(chars.get(end), Some('/' | '?' | '#')) {
        let mut path_end = run_while(chars, end + 1, is_path_char);
        while path_end > end + 1 && ".:;,('?!`".contains(chars[path_end - 1]) {
            path_end -= 1;
        }
        // A ')' closes the URL only if the URL opened one.
        let opened = chars[start..path_end].iter().filter(|&&c| c == '(').count();
        let mut closed = chars[start..path_end].iter().filter(|&&c| c == ')').count();
        while path_end > end + 1 && chars[path_end - 1] == ')' && closed > opened {
            path_end -= 1;
            closed -= 1;
        }
        if chars[end] == '/' || path_end > end + 1 {
            end = path_end;
        }
    }
    if chars.get(end).copied().is_some_and(|c| c == '@' || (is_word(c) && end == host_end)) {
        return None;
    }
    Some((start, end, EntityKind::Url))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        /// The shortcut never hides an entity the full scan would find: a new kind that needs none
        /// of the shortcut's characters fails here.
        #[test]
        fn the_shortcut_agrees_with_the_full_scan(
            text in "[a-zA-Z0-9 _:;,!?()'\\-.@#$+/]{0,40}|\\PC{0,30}|(https?://)?[a-z]{1,8}(\\.[a-z]{1,4}){0,3}( [a-z0-9@#$+./]{0,12}){0,3}"
        ) {
            prop_assert_eq!(detect(&text), scan(&text));
            if !may_hold_entities(&text) {
                prop_assert!(scan(&text).is_empty());
            }
        }
    }

    fn spans(text: &str) -> Vec<(EntityKind, String)> {
        let units: Vec<u16> = text.encode_utf16().collect();
        detect(text)
            .into_iter()
            .map(|e| {
                let slice = &units[e.offset as usize..(e.offset + e.length) as usize];
                (e.kind, String::from_utf16_lossy(slice))
            })
            .collect()
    }

    use EntityKind::*;

    #[test]
    fn bot_commands() {
        assert_eq!(spans("/start"), vec![(BotCommand, "/start".into())]);
        assert_eq!(spans("/start@roost_bot hi"), vec![(BotCommand, "/start@roost_bot".into())]);
        assert_eq!(spans("hi /help."), vec![(BotCommand, "/help".into())]);
        assert_eq!(spans("a/b"), vec![]);
        assert_eq!(spans("/"), vec![]);
        assert_eq!(spans("//x"), vec![]);
        assert_eq!(spans("/cmd@ab"), vec![]);
        assert_eq!(spans("/start /stop"), vec![(BotCommand, "/start".into()), (BotCommand, "/stop".into())]);
    }

    #[test]
    fn mentions_hashtags_cashtags() {
        assert_eq!(spans("hi @ann_bot!"), vec![(Mention, "@ann_bot".into())]);
        assert_eq!(spans("mail@x"), vec![]);
        assert_eq!(spans("#rust and #1"), vec![(Hashtag, "#rust".into())]);
        assert_eq!(spans("#a#b"), vec![]);
        assert_eq!(spans("$USD $usd $TOOLONGXX"), vec![(Cashtag, "$USD".into())]);
        assert_eq!(spans("#привет"), vec![(Hashtag, "#привет".into())]);
    }

    #[test]
    fn urls_and_emails() {
        assert_eq!(spans("see example.com"), vec![(Url, "example.com".into())]);
        assert_eq!(
            spans("go to https://roost.dev/docs?x=1."),
            vec![(Url, "https://roost.dev/docs?x=1".into())]
        );
        assert_eq!(spans("write ann@mail.org."), vec![(Email, "ann@mail.org".into())]);
        assert_eq!(spans("version 1.2"), vec![]);
        assert_eq!(spans("1.2.3"), vec![]);
        assert_eq!(
            spans("(see en.wikipedia.org/wiki/Rust_(language))"),
            vec![(Url, "en.wikipedia.org/wiki/Rust_(language)".into())]
        );
        assert_eq!(spans("tg://resolve?domain=roost"), vec![(Url, "tg://resolve?domain=roost".into())]);
        assert_eq!(spans("http://127.0.0.1:8080/x"), vec![(Url, "http://127.0.0.1:8080/x".into())]);
    }

    /// Without a scheme only real top-level domains make a link (as in Telegram's clients).
    #[test]
    fn urls_need_a_real_top_level_domain_without_a_scheme() {
        assert_eq!(spans("open notes.txt or config.yaml"), vec![]);
        assert_eq!(spans("see README.md"), vec![(Url, "README.md".into())]);
        assert_eq!(spans("main.py"), vec![(Url, "main.py".into())]);
        assert_eq!(spans("http://printer.local/status"), vec![(Url, "http://printer.local/status".into())]);
        assert_eq!(spans("printer.local"), vec![]);
        assert_eq!(spans("End.Then"), vec![]);
        assert_eq!(spans("shop.COM"), vec![(Url, "shop.COM".into())]);
        assert_eq!(spans("shop.Com"), vec![]);
        assert_eq!(spans("пример.рф"), vec![(Url, "пример.рф".into())]);
        assert_eq!(spans("example.xn--p1ai"), vec![(Url, "example.xn--p1ai".into())]);
        assert_eq!(spans("a.my-tld"), vec![]);
        assert_eq!(spans("1.2.3.4"), vec![(Url, "1.2.3.4".into())]);
        assert_eq!(spans("256.1.1.1 and 01.2.3.4"), vec![]);
        assert_eq!(spans("http://1.2.3"), vec![]);
    }

    #[test]
    fn phone_numbers() {
        assert_eq!(spans("call +1 (555) 123-4567 now"), vec![(PhoneNumber, "+1 (555) 123-4567".into())]);
        assert_eq!(spans("+123"), vec![]);
        assert_eq!(spans("+79991234567"), vec![(PhoneNumber, "+79991234567".into())]);
    }

    #[test]
    fn offsets_are_utf16() {
        let entities = detect("😀 /start");
        assert_eq!(entities.len(), 1);
        assert_eq!(entities[0].offset, 3);
        assert_eq!(entities[0].length, 6);
        assert_eq!(utf16_len("😀a"), 3);
    }

    #[test]
    fn never_panics_on_odd_input() {
        for text in
            ["@", "#", "$", "+", "/", "a.", ".a", "@@@", "x@y.", "http://", "+(", "+1(", "::", "a.b:99999999"]
        {
            let _ = detect(text);
        }
    }
}
