//! Every parser and detector is linear in its input: adversarial texts of growing size, timed.
//!
//! A quadratic step shows as a ratio of about 64 between an input and one eight times larger; a
//! linear one as about 8. The best of several runs of each is compared, so another test or
//! process using the cores at the same moment does not decide the outcome.

use std::time::{Duration, Instant};

use roost_types::{ApiError, EntityKind, MessageEntity};

use crate::messages::compose;
use crate::messages::entities;
use crate::messages::format::{parse_commonmark, parse_html, parse_markdown, parse_markdown_v2};

/// Sizes compared: an input of `UNIT` repetitions, and one of `GROWTH` times as many.
const UNIT: usize = 4_000;
const GROWTH: usize = 8;
/// Linear work grows about eight times; quadratic, sixty-four.
const MAX_RATIO: f64 = 24.0;

fn best_of(runs: usize, work: &dyn Fn()) -> Duration {
    (0..runs)
        .map(|_| {
            let started = Instant::now();
            work();
            started.elapsed()
        })
        .min()
        .unwrap_or_default()
}

/// Checks that `run` on `make(GROWTH × UNIT)` takes at most [`MAX_RATIO`] times as long as on
/// `make(UNIT)`.
#[track_caller]
fn assert_linear(name: &str, make: impl Fn(usize) -> String, run: impl Fn(&str)) {
    let small = make(UNIT);
    let large = make(UNIT * GROWTH);
    // Warm up (allocator, caches), then measure.
    run(&small);
    let t_small = best_of(7, &|| run(&small)).max(Duration::from_micros(50));
    let t_large = best_of(3, &|| run(&large));
    let ratio = t_large.as_secs_f64() / t_small.as_secs_f64();
    assert!(
        ratio < MAX_RATIO,
        "{name}: {} bytes took {t_small:?}, {} bytes took {t_large:?} (×{ratio:.1}): not linear",
        small.len(),
        large.len()
    );
}

fn repeat(unit: &str) -> impl Fn(usize) -> String + '_ {
    move |n| unit.repeat(n)
}

#[test]
fn commonmark_is_linear() {
    let parse = |text: &str| {
        let _ = parse_commonmark(text);
    };
    // Openers without partners, partners far away, nesting as deep as it goes, links half made.
    assert_linear("many *", repeat("*a "), parse);
    assert_linear("many **", repeat("**a "), parse);
    assert_linear("many [", repeat("[a]("), parse);
    assert_linear("nested", repeat("**a *b ~~c `d` [e](f) "), parse);
    assert_linear("ticks", repeat("`"), parse);
    assert_linear("escapes", repeat("\\*"), parse);
}

#[test]
fn html_is_linear() {
    let parse = |text: &str| {
        let _ = parse_html(text);
    };
    assert_linear("many &", repeat("&"), parse);
    assert_linear("many &amp without ;", repeat("&amp"), parse);
    assert_linear("many &#", repeat("&#"), parse);
    assert_linear("a long entity name", |n| format!("&{};", "a".repeat(n)), parse);
    assert_linear("many tags", repeat("<b>x</b>"), parse);
    assert_linear("nested tags", |n| format!("{}x{}", "<b><i>".repeat(n), "</i></b>".repeat(n)), parse);
    assert_linear("many <", repeat("<"), parse);
    assert_linear("a long link", |n| format!("<a href=\"http://{}.com\">x</a>", "a".repeat(n)), parse);
    assert_linear("long attributes", |n| format!("<a {}>x</a>", "h=1 ".repeat(n)), parse);
    assert_linear("many links", repeat("<a href=\"tg://user?id=1\">x</a>"), parse);
}

#[test]
fn markdown_v2_is_linear() {
    let parse = |text: &str| {
        let _ = parse_markdown_v2(text);
    };
    assert_linear("many \\", repeat("\\"), parse);
    assert_linear("many escapes", repeat("\\*"), parse);
    assert_linear("many *", repeat("*"), parse);
    assert_linear("many [", repeat("["), parse);
    assert_linear("links without a URL", repeat("[a]"), parse);
    assert_linear("many `", repeat("`"), parse);
    assert_linear("many ```", repeat("```\n"), parse);
    assert_linear(
        "nesting, then spoiler ends",
        |n| format!("{}{}", "*_~".repeat(n), "||\n".repeat(n)),
        parse,
    );
    assert_linear("quotes", repeat(">a\n"), parse);
    assert_linear("an unclosed URL", |n| format!("[a]({}", "b".repeat(n)), parse);
}

#[test]
fn markdown_is_linear() {
    let parse = |text: &str| {
        let _ = parse_markdown(text);
    };
    assert_linear("many *", repeat("*"), parse);
    assert_linear("many [", repeat("["), parse);
    assert_linear("links without a URL", repeat("[a]"), parse);
    assert_linear("an unclosed URL", |n| format!("[a]({}", "b".repeat(n)), parse);
    assert_linear("many entities", repeat("*a*_b_`c`"), parse);
}

#[test]
fn entity_detection_is_linear() {
    let detect = |text: &str| {
        let _ = entities::detect(text);
    };
    assert_linear("many URLs and commands", repeat("a.com /c @ab #t $USD +1234567 "), detect);
    assert_linear(
        "words sharing one user part",
        |n| format!("{}@{}", "a!".repeat(n), "b".repeat(60)),
        detect,
    );
    assert_linear("words sharing one scheme", |n| format!("{}://x.com", "a+".repeat(n)), detect);
    assert_linear("many closing brackets", |n| format!("a.com/{}", ")".repeat(n)), detect);
    assert_linear("brackets in a path", |n| format!("a.com/{}", "()".repeat(n)), detect);
    assert_linear("one long word", |n| format!("{}.com", "a".repeat(n)), detect);
    assert_linear("many dots", repeat("a."), detect);
    assert_linear("many e-mail addresses", repeat("a@b.co "), detect);
    assert_linear("long hashtags", |n| format!("#{} ", "a".repeat(n)), detect);
    assert_linear("many at signs", repeat("a@"), detect);
}

/// Explicit entities against detected ones: the collision check does not compare every pair.
#[test]
fn composing_many_entities_is_linear() {
    let make = |n: usize| n.to_string();
    let run = |n: &str| {
        let n: usize = n.parse().unwrap_or(0);
        // A text of URLs, each under a bold entity of its own, plus many more bold entities.
        let text = "a.com ".repeat(600);
        let entities: Vec<MessageEntity> = (0..n)
            .map(|i| MessageEntity::new(EntityKind::Bold, (i * 6) % 3600, 5))
            .chain((0..n).map(|i| MessageEntity::new(EntityKind::Code, (i * 6) % 3600, 1)))
            .collect();
        let composed = compose::compose_now(
            text,
            None,
            Some(entities),
            4096,
            ApiError::MESSAGE_TEXT_EMPTY,
            ApiError::MESSAGE_TOO_LONG,
        );
        assert!(composed.is_ok());
    };
    assert_linear("many explicit entities", make, run);
}
