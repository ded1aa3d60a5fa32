//! The Markdown of CommonMark and GitHub that WWChat documents for `parse_mode: Markdown`:
//! `**bold**`, `*italic*`, `~~strikethrough~~`, `` `code` ``, ```` ```code blocks``` ```` (with
//! an optional language) and `[text](url)`; a backslash escapes the next ASCII punctuation.
//!
//! Like CommonMark and unlike Telegram's Markdown dialects, it never fails: a marker without its
//! closing partner is text. A style does not nest inside itself, and code is not parsed further.
//! The parse is linear: the text is cut into tokens once, the next token of each kind after every
//! position is tabulated in one backward pass, and each token is then looked at once.

use roost_types::EntityKind;

use super::{Builder, Formatted, link_user_id, mention_of, normalize_url};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    /// Text to copy as it is (a run of ordinary characters, or an escaped one).
    Text,
    Fence,
    Tick,
    Star2,
    Star1,
    Tilde2,
    Open,
    /// `](`
    Mid,
    Close,
}

/// The kinds a closing partner is looked up for, and their slots in [`Next`].
const PARTNERED: [Tok; 7] =
    [Tok::Fence, Tok::Tick, Tok::Star2, Tok::Star1, Tok::Tilde2, Tok::Mid, Tok::Close];

fn slot(kind: Tok) -> Option<usize> {
    PARTNERED.iter().position(|&k| k == kind)
}

struct Token {
    kind: Tok,
    /// Byte range in the input; for an escaped character, the character alone.
    start: usize,
    end: usize,
}

fn tokenize(input: &str) -> Vec<Token> {
    let bytes = input.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    let mut text_start = 0;
    let flush = |tokens: &mut Vec<Token>, start: usize, end: usize| {
        if start < end {
            tokens.push(Token { kind: Tok::Text, start, end });
        }
    };
    while i < bytes.len() {
        let rest = &bytes[i..];
        let (kind, len) = match rest {
            [b'\\', c, ..] if c.is_ascii_punctuation() => {
                flush(&mut tokens, text_start, i);
                tokens.push(Token { kind: Tok::Text, start: i + 1, end: i + 2 });
                i += 2;
                text_start = i;
                continue;
            }
            [b'`', b'`', b'`', ..] => (Tok::Fence, 3),
            [b'`', ..] => (Tok::Tick, 1),
            [b'*', b'*', ..] => (Tok::Star2, 2),
            [b'*', ..] => (Tok::Star1, 1),
            [b'~', b'~', ..] => (Tok::Tilde2, 2),
            [b'[', ..] => (Tok::Open, 1),
            [b']', b'(', ..] => (Tok::Mid, 2),
            [b')', ..] => (Tok::Close, 1),
            _ => {
                i += 1;
                continue;
            }
        };
        flush(&mut tokens, text_start, i);
        tokens.push(Token { kind, start: i, end: i + len });
        i += len;
        text_start = i;
    }
    flush(&mut tokens, text_start, bytes.len());
    tokens
}

/// For every token index, the index of the next token of each partnered kind at or after it
/// (`tokens.len()` for none).
struct Next(Vec<[usize; PARTNERED.len()]>);

impl Next {
    fn new(tokens: &[Token]) -> Self {
        let mut next = vec![[tokens.len(); PARTNERED.len()]; tokens.len() + 1];
        for i in (0..tokens.len()).rev() {
            next[i] = next[i + 1];
            if let Some(s) = slot(tokens[i].kind) {
                next[i][s] = i;
            }
        }
        Next(next)
    }

    /// The next token of `kind` at or after `from`, if it comes before `end`.
    fn find(&self, kind: Tok, from: usize, end: usize) -> Option<usize> {
        let s = slot(kind)?;
        let found = self.0.get(from)?[s];
        (found < end).then_some(found)
    }
}

struct Parser<'a> {
    input: &'a str,
    tokens: Vec<Token>,
    next: Next,
    out: Builder,
}

/// Parses `input`; never fails (the `Result` matches the other parse modes).
pub fn parse_commonmark(input: &str) -> Result<Formatted, String> {
    let tokens = tokenize(input);
    let next = Next::new(&tokens);
    let mut parser = Parser { input, tokens, next, out: Builder::default() };
    let end = parser.tokens.len();
    parser.run(0, end, &mut Vec::new());
    Ok(parser.out.finish())
}

impl Parser<'_> {
    fn text(&mut self, start: usize, end: usize) {
        for c in self.input[start..end].chars() {
            self.out.push(c);
        }
    }

    fn literal(&mut self, i: usize) {
        let (start, end) = (self.tokens[i].start, self.tokens[i].end);
        self.text(start, end);
    }

    /// Parses tokens `lo..hi`, inside the styles of `open`.
    fn run(&mut self, lo: usize, hi: usize, open: &mut Vec<Tok>) {
        let mut i = lo;
        while i < hi {
            let kind = self.tokens[i].kind;
            i = match kind {
                Tok::Fence | Tok::Tick => match self.next.find(kind, i + 1, hi) {
                    Some(j) => {
                        self.code(i, j);
                        j + 1
                    }
                    None => {
                        self.literal(i);
                        i + 1
                    }
                },
                Tok::Star2 | Tok::Star1 | Tok::Tilde2 if !open.contains(&kind) => {
                    match self.next.find(kind, i + 1, hi).filter(|&j| j > i + 1) {
                        Some(j) => {
                            let start = self.out.utf16;
                            open.push(kind);
                            self.run(i + 1, j, open);
                            open.pop();
                            let entity = match kind {
                                Tok::Star2 => EntityKind::Bold,
                                Tok::Star1 => EntityKind::Italic,
                                _ => EntityKind::Strikethrough,
                            };
                            self.out.entity(entity, start);
                            j + 1
                        }
                        None => {
                            self.literal(i);
                            i + 1
                        }
                    }
                }
                Tok::Open if !open.contains(&Tok::Open) => {
                    let mid = self.next.find(Tok::Mid, i + 1, hi);
                    match mid.and_then(|m| Some((m, self.next.find(Tok::Close, m + 1, hi)?))) {
                        Some((m, c)) => {
                            self.link(i, m, c, open);
                            c + 1
                        }
                        None => {
                            self.literal(i);
                            i + 1
                        }
                    }
                }
                _ => {
                    self.literal(i);
                    i + 1
                }
            };
        }
    }

    /// Code from the fence or tick at `i` to its partner at `j`: the raw text between them.
    fn code(&mut self, i: usize, j: usize) {
        let (mut from, to) = (self.tokens[i].end, self.tokens[j].start);
        let start = self.out.utf16;
        let mut language = None;
        if self.tokens[i].kind == Tok::Fence {
            // A word right after the fence, ending its line, names the language.
            let body = &self.input[from..to];
            if let Some((first, _)) = body.split_once('\n') {
                let word = first.trim_end_matches('\r');
                if !word.is_empty() && !word.contains(char::is_whitespace) {
                    language = Some(word.to_owned());
                }
                from += first.len() + 1;
            }
        }
        self.text(from, to);
        let kind = if self.tokens[i].kind == Tok::Fence { EntityKind::Pre } else { EntityKind::Code };
        if let Some(e) = self.out.entity(kind, start) {
            e.language = language;
        }
    }

    /// `[text](url)`: `[` at `i`, `](` at `m`, `)` at `c`.
    fn link(&mut self, i: usize, m: usize, c: usize, open: &mut Vec<Tok>) {
        let start = self.out.utf16;
        open.push(Tok::Open);
        self.run(i + 1, m, open);
        open.pop();
        let url = &self.input[self.tokens[m].end..self.tokens[c].start];
        if let Some(user) = link_user_id(url) {
            if let Some(e) = self.out.entity(EntityKind::TextMention, start) {
                e.user = Some(mention_of(user));
            }
        } else if let Some(url) = normalize_url(url)
            && let Some(e) = self.out.entity(EntityKind::TextLink, start)
        {
            e.url = Some(url);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roost_types::MessageEntity;

    fn parse(input: &str) -> (String, Vec<(EntityKind, i64, i64)>) {
        let f = parse_commonmark(input).unwrap_or_default();
        (f.text, f.entities.iter().map(|e: &MessageEntity| (e.kind, e.offset, e.length)).collect())
    }

    #[test]
    fn the_documented_example() {
        let (text, entities) =
            parse("**bold**, *italic*, `code`, ~~strikethrough~~, [link](https://example.com)");
        assert_eq!(text, "bold, italic, code, strikethrough, link");
        assert_eq!(
            entities,
            vec![
                (EntityKind::Bold, 0, 4),
                (EntityKind::Italic, 6, 6),
                (EntityKind::Code, 14, 4),
                (EntityKind::Strikethrough, 20, 13),
                (EntityKind::TextLink, 35, 4),
            ]
        );
        let f = parse_commonmark("[link](https://example.com)").unwrap_or_default();
        assert_eq!(f.entities[0].url.as_deref(), Some("https://example.com/"));
    }

    #[test]
    fn styles_nest_and_unpartnered_markers_are_text() {
        assert_eq!(
            parse("**bold *both* bold**"),
            ("bold both bold".into(), vec![(EntityKind::Bold, 0, 14), (EntityKind::Italic, 5, 4)])
        );
        assert_eq!(parse("2 * 3 = 6 and a ** b"), ("2 * 3 = 6 and a ** b".into(), vec![]));
        assert_eq!(parse("**"), ("**".into(), vec![]));
        assert_eq!(parse(r"\*not italic\*"), ("*not italic*".into(), vec![]));
        assert_eq!(parse("`*not italic*`"), ("*not italic*".into(), vec![(EntityKind::Code, 0, 12)]));
        assert_eq!(parse("[no link]"), ("[no link]".into(), vec![]));
    }

    #[test]
    fn code_blocks_keep_their_language() {
        let f = parse_commonmark("```rust\nfn main() {}\n```").unwrap_or_default();
        assert_eq!(f.text, "fn main() {}\n");
        assert_eq!(f.entities[0].kind, EntityKind::Pre);
        assert_eq!(f.entities[0].language.as_deref(), Some("rust"));
    }

    #[test]
    fn offsets_count_utf16() {
        assert_eq!(parse("😀 **b**"), ("😀 b".into(), vec![(EntityKind::Bold, 3, 1)]));
    }
}
