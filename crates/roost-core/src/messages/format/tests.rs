//! Golden tests: the examples of the Telegram Bot API documentation ("Formatting options") and
//! cases from tdlib's own test suite, plus property tests that no input makes a parser panic.

use proptest::prelude::*;
use roost_types::EntityKind::{self, *};
use roost_types::MessageEntity;

use super::*;

/// Entities as comparable tuples, in a canonical order.
fn spans(entities: &[MessageEntity]) -> Vec<(EntityKind, i64, i64, String)> {
    let mut spans: Vec<_> = entities
        .iter()
        .map(|e| {
            let extra = e
                .url
                .clone()
                .or_else(|| e.language.clone())
                .or_else(|| e.custom_emoji_id.clone())
                .or_else(|| e.user.as_ref().map(|u| u.id.to_string()))
                .unwrap_or_default();
            (e.kind, e.offset, e.length, extra)
        })
        .collect();
    spans.sort_by(|a, b| (a.1, -a.2, format!("{:?}", a.0)).cmp(&(b.1, -b.2, format!("{:?}", b.0))));
    spans
}

fn expect(mode: ParseMode, input: &str, text: &str, entities: &[(EntityKind, i64, i64, &str)]) {
    let parsed = mode.parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
    assert_eq!(parsed.text, text, "{input:?}");
    let mut want: Vec<_> = entities.iter().map(|(k, o, l, x)| (*k, *o, *l, x.to_string())).collect();
    want.sort_by(|a, b| (a.1, -a.2, format!("{:?}", a.0)).cmp(&(b.1, -b.2, format!("{:?}", b.0))));
    assert_eq!(spans(&parsed.entities), want, "{input:?}");
}

fn expect_error(mode: ParseMode, input: &str, error: &str) {
    assert_eq!(mode.parse(input).err().as_deref(), Some(error), "{input:?}");
}

const NESTED_TEXT: &str =
    "bold italic bold italic bold strikethrough italic bold strikethrough spoiler underline italic bold bold";
const NESTED: &[(EntityKind, i64, i64, &str)] = &[
    (Bold, 0, 103, ""),
    (Italic, 5, 93, ""),
    (Strikethrough, 17, 59, ""),
    (Spoiler, 43, 33, ""),
    (Underline, 77, 21, ""),
];

#[test]
fn markdown_v2_documentation_examples() {
    let v2 = ParseMode::MarkdownV2;
    expect(v2, r"*bold \*text*", "bold *text", &[(Bold, 0, 10, "")]);
    expect(v2, r"_italic \*text_", "italic *text", &[(Italic, 0, 12, "")]);
    expect(v2, "__underline__", "underline", &[(Underline, 0, 9, "")]);
    expect(v2, "~strikethrough~", "strikethrough", &[(Strikethrough, 0, 13, "")]);
    expect(v2, "||spoiler||", "spoiler", &[(Spoiler, 0, 7, "")]);
    expect(
        v2,
        "*bold _italic bold ~italic bold strikethrough ||italic bold strikethrough spoiler||~ __underline italic bold___ bold*",
        NESTED_TEXT,
        NESTED,
    );
    expect(
        v2,
        "[inline URL](http://www.example.com/)",
        "inline URL",
        &[(TextLink, 0, 10, "http://www.example.com/")],
    );
    expect(
        v2,
        "[inline mention of a user](tg://user?id=123456789)",
        "inline mention of a user",
        &[(TextMention, 0, 24, "123456789")],
    );
    expect(
        v2,
        "![👍](tg://emoji?id=5368324170671202286)",
        "👍",
        &[(CustomEmoji, 0, 2, "5368324170671202286")],
    );
    expect(v2, "`inline fixed-width code`", "inline fixed-width code", &[(Code, 0, 23, "")]);
    expect(
        v2,
        "```\npre-formatted fixed-width code block\n```",
        "pre-formatted fixed-width code block\n",
        &[(Pre, 0, 37, "")],
    );
    expect(
        v2,
        "```python\npre-formatted fixed-width code block written in the Python programming language\n```",
        "pre-formatted fixed-width code block written in the Python programming language\n",
        &[(Pre, 0, 80, "python")],
    );
    expect(
        v2,
        ">Block quotation started\n>Block quotation continued\n>The last line of the block quotation\n**>The expandable block quotation started\n>Expandable block quotation continued\n>The last line of the expandable block quotation with the expandability mark||",
        "Block quotation started\nBlock quotation continued\nThe last line of the block quotation\nThe expandable block quotation started\nExpandable block quotation continued\nThe last line of the expandable block quotation with the expandability mark",
        &[(Blockquote, 0, 87, ""), (ExpandableBlockquote, 87, 151, "")],
    );
}

#[test]
fn markdown_v2_cases_from_tdlib() {
    let v2 = ParseMode::MarkdownV2;
    // (tdlib skips the characters that can begin an entity, '>' among them, in this loop.)
    for c in "]()#+-=|{}.!".chars() {
        expect_error(
            v2,
            &c.to_string(),
            &format!("Character '{c}' is reserved and must be escaped with the preceding '\\'"),
        );
        expect(v2, &format!("\\{c}"), &c.to_string(), &[]);
    }
    expect_error(v2, "🏟 🏟_abacaba", "Can't find end of Italic entity at byte offset 9");
    expect_error(v2, "🏟 🏟_abac * asd ", "Can't find end of Bold entity at byte offset 15");
    expect_error(v2, "🏟 🏟`", "Can't find end of Code entity at byte offset 9");
    expect_error(v2, "🏟 🏟```", "Can't find end of Pre entity at byte offset 9");
    expect_error(v2, "🏟 🏟```a ", "Can't find end of PreCode entity at byte offset 9");
    expect_error(v2, "🏟 🏟__", "Can't find end of Underline entity at byte offset 9");
    expect_error(v2, "🏟 🏟||test\\|", "Can't find end of Spoiler entity at byte offset 9");
    expect_error(v2, "[telegram\\.org](asd\\)", "Can't find end of a URL at byte offset 16");
    expect_error(v2, "🏟 🏟![👍](t://emoji?id=1234)", "Custom emoji URL must have scheme tg");
    expect(v2, "", "", &[]);
    expect(v2, "\\\\", "\\", &[]);
    expect(v2, "🏟 🏟_abac \\* asd _", "🏟 🏟abac * asd ", &[(Italic, 5, 11, "")]);
    expect(v2, "➡️ ➡️_➡️ ➡️_*➡️ ➡️*", "➡️ ➡️➡️ ➡️➡️ ➡️", &[(Italic, 5, 5, ""), (Bold, 10, 5, "")]);
    expect(v2, "🏟 🏟_🏟 __🏟___", "🏟 🏟🏟 🏟", &[(Italic, 5, 5, ""), (Underline, 8, 2, "")]);
    expect(v2, "🏟 🏟```🏟\n🏟```", "🏟 🏟🏟", &[(Pre, 5, 2, "🏟")]);
    expect(v2, "||test||", "test", &[(Spoiler, 0, 4, "")]);
    expect(v2, "🏟 🏟``", "🏟 🏟", &[]);
    expect(v2, "[ ](telegram.org)", " ", &[(TextLink, 0, 1, "http://telegram.org/")]);
    expect(v2, "[ ](as)", " ", &[]);
    expect(v2, "[telegram\\.org]", "telegram.org", &[(TextLink, 0, 12, "http://telegram.org/")]);
    expect(
        v2,
        "[telegram\\.org](https://telegram.dog?)",
        "telegram.org",
        &[(TextLink, 0, 12, "https://telegram.dog/?")],
    );
    expect(v2, "[telegram\\.org](tg:user?id=123456)", "telegram.org", &[(TextMention, 0, 12, "123456")]);
    expect(v2, ">a", "a", &[(Blockquote, 0, 1, "")]);
    expect(
        v2,
        "abc\n>def\n>def\n\r>ghi2\njkl",
        "abc\ndef\ndef\n\rghi2\njkl",
        &[(Blockquote, 4, 8, ""), (Blockquote, 13, 5, "")],
    );
    expect(
        v2,
        ">*bold _italic bold ~italic bold strikethrough ||italic bold strikethrough spoiler||~ __underline italic bold___ bold*",
        NESTED_TEXT,
        &[
            (Blockquote, 0, 103, ""),
            (Bold, 0, 103, ""),
            (Italic, 5, 93, ""),
            (Strikethrough, 17, 59, ""),
            (Spoiler, 43, 33, ""),
            (Underline, 77, 21, ""),
        ],
    );
    expect(v2, ">asd\n>q||ew||\nasdad", "asd\nqew\nasdad", &[(Blockquote, 0, 8, ""), (Spoiler, 5, 2, "")]);
}

#[test]
fn html_documentation_examples() {
    let html = ParseMode::Html;
    expect(html, "<b>bold</b>, <strong>bold</strong>", "bold, bold", &[(Bold, 0, 4, ""), (Bold, 6, 4, "")]);
    expect(
        html,
        "<i>italic</i>, <em>italic</em>",
        "italic, italic",
        &[(Italic, 0, 6, ""), (Italic, 8, 6, "")],
    );
    expect(
        html,
        "<u>underline</u>, <ins>underline</ins>",
        "underline, underline",
        &[(Underline, 0, 9, ""), (Underline, 11, 9, "")],
    );
    expect(
        html,
        "<s>strikethrough</s>, <strike>strikethrough</strike>, <del>strikethrough</del>",
        "strikethrough, strikethrough, strikethrough",
        &[(Strikethrough, 0, 13, ""), (Strikethrough, 15, 13, ""), (Strikethrough, 30, 13, "")],
    );
    expect(
        html,
        "<span class=\"tg-spoiler\">spoiler</span>, <tg-spoiler>spoiler</tg-spoiler>",
        "spoiler, spoiler",
        &[(Spoiler, 0, 7, ""), (Spoiler, 9, 7, "")],
    );
    expect(
        html,
        "<b>bold <i>italic bold <s>italic bold strikethrough <span class=\"tg-spoiler\">italic bold strikethrough spoiler</span></s> <u>underline italic bold</u></i> bold</b>",
        NESTED_TEXT,
        NESTED,
    );
    expect(
        html,
        "<a href=\"http://www.example.com/\">inline URL</a>",
        "inline URL",
        &[(TextLink, 0, 10, "http://www.example.com/")],
    );
    expect(
        html,
        "<a href=\"tg://user?id=123456789\">inline mention of a user</a>",
        "inline mention of a user",
        &[(TextMention, 0, 24, "123456789")],
    );
    expect(
        html,
        "<tg-emoji emoji-id=\"5368324170671202286\">👍</tg-emoji>",
        "👍",
        &[(CustomEmoji, 0, 2, "5368324170671202286")],
    );
    expect(html, "<code>inline fixed-width code</code>", "inline fixed-width code", &[(Code, 0, 23, "")]);
    expect(
        html,
        "<pre>pre-formatted fixed-width code block</pre>",
        "pre-formatted fixed-width code block",
        &[(Pre, 0, 36, "")],
    );
    expect(
        html,
        "<pre><code class=\"language-python\">pre-formatted fixed-width code block written in the Python programming language</code></pre>",
        "pre-formatted fixed-width code block written in the Python programming language",
        &[(Pre, 0, 79, "python")],
    );
    expect(
        html,
        "<blockquote>Block quotation started\nThe last line</blockquote>",
        "Block quotation started\nThe last line",
        &[(Blockquote, 0, 37, "")],
    );
    expect(
        html,
        "<blockquote expandable>Hidden\nlines</blockquote>",
        "Hidden\nlines",
        &[(ExpandableBlockquote, 0, 12, "")],
    );
    expect(
        html,
        "1 &lt; 2 &amp;&amp; 3 &gt; 2 &quot;ok&quot; &#x1F600; &#65; &nbsp;",
        "1 < 2 && 3 > 2 \"ok\" 😀 A &nbsp;",
        &[],
    );
}

#[test]
fn html_errors() {
    let html = ParseMode::Html;
    expect_error(html, "<b>bold", "Can't find end tag corresponding to start tag \"b\"");
    expect_error(html, "<blink>x</blink>", "Unsupported start tag \"blink\" at byte offset 0");
    expect_error(html, "a</b>", "Unexpected end tag at byte offset 1");
    expect_error(
        html,
        "<b><i>x</b></i>",
        "Unmatched end tag at byte offset 7, expected \"</i>\", found \"</b>\"",
    );
    expect_error(html, "x <b", "Unclosed start tag at byte offset 2");
    expect_error(html, "<span>x</span>", "Tag \"span\" must have class \"tg-spoiler\" at byte offset 0");
}

#[test]
fn legacy_markdown_documentation_examples() {
    let md = ParseMode::Markdown;
    expect(md, "*bold text*", "bold text", &[(Bold, 0, 9, "")]);
    expect(md, "_italic text_", "italic text", &[(Italic, 0, 11, "")]);
    expect(
        md,
        "[inline URL](http://www.example.com/)",
        "inline URL",
        &[(TextLink, 0, 10, "http://www.example.com/")],
    );
    expect(
        md,
        "[inline mention of a user](tg://user?id=123456789)",
        "inline mention of a user",
        &[(TextMention, 0, 24, "123456789")],
    );
    expect(md, "`inline fixed-width code`", "inline fixed-width code", &[(Code, 0, 23, "")]);
    expect(
        md,
        "```\npre-formatted fixed-width code block\n```",
        "pre-formatted fixed-width code block\n",
        &[(Pre, 0, 37, "")],
    );
    expect(
        md,
        "```python\npre-formatted fixed-width code block written in the Python programming language\n```",
        "pre-formatted fixed-width code block written in the Python programming language\n",
        &[(Pre, 0, 80, "python")],
    );
    expect(md, "snake\\_case and 1.5 (ok)!", "snake_case and 1.5 (ok)!", &[]);
    expect_error(md, "*unclosed", "Can't find end of the entity starting at byte offset 0");
    expect_error(md, "ok _x", "Can't find end of the entity starting at byte offset 3");
}

fn markup_soup() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        "*",
        "_",
        "__",
        "~",
        "||",
        "`",
        "```",
        "[",
        "]",
        "(",
        ")",
        "![",
        "\\",
        ">",
        "**>",
        "\n",
        "<b>",
        "</b>",
        "<i>",
        "</i>",
        "<a href=\"x.org\">",
        "</a>",
        "<pre>",
        "<code class=\"language-x\">",
        "</code>",
        "</pre>",
        "&amp;",
        "&#",
        ";",
        "<",
        ">",
        "<span class=\"tg-spoiler\">",
        "</span>",
        "<blockquote expandable>",
        "</blockquote>",
        "tg://user?id=1",
        "tg://emoji?id=5",
        "a",
        "🏟",
        "é",
        " ",
        ".",
    ]);
    prop::collection::vec(atoms, 0..40).prop_map(|parts| parts.concat())
}

fn check_bounds(mode: ParseMode, text: &str) -> Result<(), TestCaseError> {
    if let Ok(parsed) = mode.parse(text) {
        let len = parsed.text.encode_utf16().count() as i64;
        for e in &parsed.entities {
            prop_assert!(e.offset >= 0 && e.length > 0 && e.offset + e.length <= len, "{e:?} in {len}");
        }
    }
    Ok(())
}

// One fuzz target per parser: markup-heavy soups and arbitrary text; none may panic, and every
// entity must lie inside the text.
proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn fuzz_html(input in markup_soup(), raw in "\\PC{0,60}") {
        check_bounds(ParseMode::Html, &input)?;
        check_bounds(ParseMode::Html, &raw)?;
    }

    #[test]
    fn fuzz_markdown_v2(input in markup_soup(), raw in "\\PC{0,60}") {
        check_bounds(ParseMode::MarkdownV2, &input)?;
        check_bounds(ParseMode::MarkdownV2, &raw)?;
    }

    #[test]
    fn fuzz_markdown(input in markup_soup(), raw in "\\PC{0,60}") {
        check_bounds(ParseMode::Markdown, &input)?;
        check_bounds(ParseMode::Markdown, &raw)?;
    }

    #[test]
    fn fuzz_commonmark(input in markup_soup(), raw in "\\PC{0,60}") {
        for text in [&input, &raw] {
            let parsed = super::parse_commonmark(text).unwrap_or_default();
            let len = parsed.text.encode_utf16().count() as i64;
            for e in &parsed.entities {
                prop_assert!(e.offset >= 0 && e.length > 0 && e.offset + e.length <= len, "{e:?} in {len}");
            }
        }
    }

    #[test]
    fn fuzz_entity_detection(raw in "\\PC{0,80}", input in markup_soup()) {
        for text in [&raw, &input] {
            let len = text.encode_utf16().count() as i64;
            for e in crate::messages::entities::detect(text) {
                prop_assert!(e.offset >= 0 && e.length > 0 && e.offset + e.length <= len);
            }
        }
    }
}
