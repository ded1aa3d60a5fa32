//! The WWChat dialect at `/bot/v1/<token>/<method>`: UUIDs both ways, its Markdown, its errors,
//! its rate table and its webhooks, beside the Telegram dialect of the same bot.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{Bot, TestServer, must};
use crate::webhooks::{Behavior, Receiver};

/// A WWChat call with JSON parameters: status, `Retry-After`, body.
async fn call(server: &TestServer, token: &str, method: &str, params: Value) -> (u16, Option<String>, Value) {
    let response = must(
        reqwest::Client::new()
            .post(server.url(&format!("/bot/v1/{token}/{method}")))
            .json(&params)
            .send()
            .await,
    );
    let status = response.status().as_u16();
    let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
    (status, retry_after, must(response.json().await))
}

/// A WWChat call that must succeed; returns `result`.
async fn ww(server: &TestServer, bot: &Bot, method: &str, params: Value) -> Value {
    let (status, _, body) = call(server, &bot.token, method, params).await;
    assert_eq!(status, 200, "{method}: {body}");
    assert_eq!(body["ok"], true, "{method}: {body}");
    body["result"].clone()
}

/// Asserts a WWChat error answer: status and description in its envelope.
async fn ww_error(server: &TestServer, bot: &Bot, method: &str, params: Value, code: u16, description: &str) {
    let (status, _, body) = call(server, &bot.token, method, params).await;
    assert_eq!(status, code, "{method}: {body}");
    assert_eq!(body, json!({"ok": false, "error_code": code, "description": description}), "{method}");
}

/// `8-4-4-4-12` lowercase hex digits.
fn is_uuid(value: &Value) -> bool {
    value.as_str().is_some_and(|s| {
        s.len() == 36
            && s.char_indices().all(|(i, c)| {
                if [8, 13, 18, 23].contains(&i) {
                    c == '-'
                } else {
                    c.is_ascii_digit() || ('a'..='f').contains(&c)
                }
            })
    })
}

#[tokio::test]
async fn a_wwchat_bot_speaks_uuids_both_ways() {
    let server = TestServer::start().await;
    let (person, bot) = server.person_and_bot("ww_person", "ww_echo_bot").await;

    let me = ww(&server, &bot, "getMe", json!({})).await;
    assert!(is_uuid(&me["id"]), "{me}");
    assert_eq!(me["is_bot"], true);
    assert_eq!(me["username"], "ww_echo_bot");
    assert_eq!(me["can_read_group_messages"], false);
    assert_eq!(me["can_join_channels"], false);
    assert_eq!(me["description"], "");
    // The same token at Telegram's path: the same bot, by number.
    assert_eq!(server.bot(&bot, "getMe", json!({})).await["id"], bot.id);
    // getMe answers GET too, as the document shows.
    let got = must(reqwest::get(server.url(&format!("/bot/v1/{}/getMe", bot.token))).await);
    let got: Value = must(got.json().await);
    assert_eq!(got["result"]["id"], me["id"]);

    let updates = ww(&server, &bot, "getUpdates", json!({})).await;
    let update = &updates[0];
    assert_eq!(update["update_id"], 1, "update_id stays a number");
    let message = &update["message"];
    assert_eq!(message["text"], "/start");
    for id in [&message["message_id"], &message["from"]["id"], &message["chat"]["id"]] {
        assert!(is_uuid(id), "{message}");
    }
    // A private chat is named by the other party, as in Telegram.
    assert_eq!(message["chat"]["id"], message["from"]["id"]);
    assert_eq!(message["chat"]["type"], "private");
    let chat = message["chat"]["id"].clone();
    let first = message["message_id"].clone();

    // Answer by the chat's UUID, replying by the message's UUID.
    let sent = ww(
        &server,
        &bot,
        "sendMessage",
        json!({"chat_id": chat, "text": "Hello! I'm a WWChat bot.", "reply_to_message_id": first}),
    )
    .await;
    assert!(is_uuid(&sent["message_id"]));
    assert_eq!(sent["chat"]["id"], chat);
    assert_eq!(sent["from"]["id"], me["id"]);
    assert_eq!(sent["reply_to_message"]["message_id"], first);
    // The person sees the same reply, by numbers.
    let history = server.client(&person, "getHistory", json!({"chat_id": bot.id})).await;
    let newest = history.as_array().and_then(|h| h.iter().find(|m| m["text"] == "Hello! I'm a WWChat bot."));
    assert_eq!(newest.map(|m| m["reply_to_message"]["message_id"].clone()), Some(json!(1)));
    // The same UUIDs every time: confirming and reading again gives the same ids.
    let again = ww(&server, &bot, "getUpdates", json!({"offset": 1})).await;
    assert_eq!(again[0]["message"]["message_id"], first);

    // By @username too.
    let by_name = ww(&server, &bot, "sendMessage", json!({"chat_id": "@ww_person", "text": "by name"})).await;
    assert_eq!(by_name["chat"]["id"], chat);
    // A username with a reply: the reply's UUID must name a message of that chat.
    let reply = json!({"chat_id": "@ww_person", "text": "re", "reply_to_message_id": first});
    assert_eq!(ww(&server, &bot, "sendMessage", reply).await["reply_to_message"]["message_id"], first);
    // Form-encoded parameters work as well.
    let form = must(
        reqwest::Client::new()
            .post(server.url(&format!("/bot/v1/{}/sendMessage", bot.token)))
            .form(&[("chat_id", chat.as_str().unwrap_or_default()), ("text", "by form")])
            .send()
            .await,
    );
    assert_eq!(form.status().as_u16(), 200);
}

#[tokio::test]
async fn ids_of_the_wrong_kind_or_dialect_are_refused_in_the_callers_envelope() {
    let server = TestServer::start().await;
    let (person, bot) = server.person_and_bot("ww_strict", "ww_strict_bot").await;
    let updates = ww(&server, &bot, "getUpdates", json!({})).await;
    let chat = updates[0]["message"]["chat"]["id"].clone();
    let message = updates[0]["message"]["message_id"].clone();

    let not_a_uuid = "Bad Request: chat_id must be a UUID";
    let cases = [
        // A Telegram number where WWChat wants a UUID, as a number or as text; no UUID at all.
        ("sendMessage", json!({"chat_id": person.id, "text": "x"}), not_a_uuid),
        ("sendMessage", json!({"chat_id": "12345", "text": "x"}), not_a_uuid),
        ("sendMessage", json!({"chat_id": "not a uuid", "text": "x"}), not_a_uuid),
        // Absent, as in the Telegram dialect: null and "".
        ("sendMessage", json!({"chat_id": null, "text": "x"}), "Bad Request: chat_id is empty"),
        ("sendMessage", json!({"chat_id": "", "text": "x"}), "Bad Request: chat_id is empty"),
        // A well-formed UUID this server never handed out.
        (
            "sendMessage",
            json!({"chat_id": "550e8400-e29b-41d4-a716-446655440000", "text": "x"}),
            "Bad Request: chat_id not found",
        ),
        // A message UUID is not a chat, and a chat UUID is not a message.
        ("sendMessage", json!({"chat_id": message, "text": "x"}), "Bad Request: chat_id not found"),
        (
            "editMessageText",
            json!({"chat_id": chat, "message_id": chat, "text": "x"}),
            "Bad Request: message_id not found",
        ),
    ];
    for (method, params, description) in cases {
        ww_error(&server, &bot, method, params, 400, description).await;
    }
    // A UUID sent to the Telegram dialect is a 400 there, in Telegram's words.
    let (status, body) =
        server.bot_call(&bot.token, "sendMessage", json!({"chat_id": chat, "text": "x"})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["ok"], false);
    assert!(body["description"].as_str().unwrap_or_default().starts_with("Bad Request"), "{body}");

    // Another bot's message UUID names nothing for this bot.
    let (_, other) = server.person_and_bot("ww_other", "ww_other_bot").await;
    let theirs = ww(&server, &other, "getUpdates", json!({})).await;
    ww_error(
        &server,
        &bot,
        "sendMessage",
        json!({"chat_id": chat, "text": "x", "reply_to_message_id": theirs[0]["message"]["message_id"]}),
        400,
        "Bad Request: reply_to_message_id not found",
    )
    .await;

    // The envelope for the rest is Telegram's wording.
    ww_error(&server, &bot, "sendPoll", json!({}), 404, "Not Found").await;
    let (status, _, body) = call(&server, "1:nope", "getMe", json!({})).await;
    assert_eq!((status, body), (401, json!({"ok": false, "error_code": 401, "description": "Unauthorized"})));
    ww_error(
        &server,
        &bot,
        "sendMessage",
        json!({"chat_id": chat}),
        400,
        "Bad Request: message text is empty",
    )
    .await;
}

#[tokio::test]
async fn wwchat_markdown_is_its_own_and_edits_take_a_message_uuid() {
    let server = TestServer::start().await;
    let (_, bot) = server.person_and_bot("ww_writer", "ww_markdown_bot").await;
    let updates = ww(&server, &bot, "getUpdates", json!({})).await;
    let chat = updates[0]["message"]["chat"]["id"].clone();

    let text = "**bold**, *italic*, `code`, ~~strikethrough~~, [link](https://example.com)";
    let sent =
        ww(&server, &bot, "sendMessage", json!({"chat_id": chat, "text": text, "parse_mode": "Markdown"}))
            .await;
    assert_eq!(sent["text"], "bold, italic, code, strikethrough, link");
    let kinds: Vec<&str> = sent["entities"]
        .as_array()
        .map(|e| e.iter().filter_map(|e| e["type"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(kinds, ["bold", "italic", "code", "strikethrough", "text_link"]);
    // HTML is the same as Telegram's.
    let html =
        ww(&server, &bot, "sendMessage", json!({"chat_id": chat, "text": "<b>b</b>", "parse_mode": "HTML"}))
            .await;
    assert_eq!(html["entities"][0]["type"], "bold");
    // Telegram's own path keeps its legacy Markdown: `*bold*`.
    let person_id = server.bot(&bot, "getUpdates", json!({})).await[0]["message"]["chat"]["id"].clone();
    let legacy = server
        .bot(&bot, "sendMessage", json!({"chat_id": person_id, "text": "*bold*", "parse_mode": "Markdown"}))
        .await;
    assert_eq!(legacy["entities"][0]["type"], "bold");

    // editMessageText by the message's UUID (its chat is in it), with WWChat's Markdown.
    let edited = ww(
        &server,
        &bot,
        "editMessageText",
        json!({"message_id": sent["message_id"], "text": "now ~~struck~~", "parse_mode": "markdown"}),
    )
    .await;
    assert_eq!(edited["message_id"], sent["message_id"]);
    assert_eq!(edited["text"], "now struck");
    assert_eq!(edited["entities"][0]["type"], "strikethrough");
    assert!(edited["edit_date"].is_i64());
    let edited = ww(
        &server,
        &bot,
        "editMessageText",
        json!({"chat_id": chat, "message_id": sent["message_id"], "text": "plain"}),
    )
    .await;
    assert_eq!(edited["text"], "plain");
}

#[tokio::test]
async fn wwchat_button_presses_and_answers() {
    let server = TestServer::start().await;
    let (person, bot) = server.person_and_bot("ww_presser", "ww_button_bot").await;
    let updates = ww(&server, &bot, "getUpdates", json!({})).await;
    let chat = updates[0]["message"]["chat"]["id"].clone();
    let keyboard = json!({"inline_keyboard": [[{"text": "Button 1", "callback_data": "btn1"}], [{"text": "Open website", "url": "https://example.com"}]]});
    let sent = ww(
        &server,
        &bot,
        "sendMessage",
        json!({"chat_id": chat, "text": "Choose an action:", "reply_markup": keyboard}),
    )
    .await;
    let history = server.client(&person, "getHistory", json!({"chat_id": bot.id})).await;
    let number = history
        .as_array()
        .and_then(|h| h.iter().find(|m| m["text"] == "Choose an action:"))
        .map(|m| m["message_id"].clone())
        .unwrap_or_default();

    let press = server.client(
        &person,
        "pressButton",
        json!({"chat_id": bot.id, "message_id": number, "callback_data": "btn1"}),
    );
    let answer = async {
        let updates = ww(&server, &bot, "getUpdates", json!({"offset": 2, "timeout": 10})).await;
        let query = updates[0]["callback_query"].clone();
        assert_eq!(query["data"], "btn1");
        assert_eq!(query["from"]["id"], chat);
        assert_eq!(query["message"]["message_id"], sent["message_id"]);
        assert!(is_uuid(&query["chat_instance"]), "{query}");
        let id = query["id"].clone();
        assert_eq!(
            ww(&server, &bot, "answerCallbackQuery", json!({"callback_query_id": id, "text": "Done"})).await,
            true
        );
    };
    let (pressed, ()) = tokio::join!(press, answer);
    assert_eq!(pressed["answer"]["text"], "Done");
}

#[tokio::test]
async fn wwchat_rate_table_has_no_bursts_and_says_retry_after_one() {
    let server = TestServer::start_with(|c| c.rate_limits.enabled = true).await;
    let (_, bot) = server.person_and_bot("ww_fast", "ww_fast_bot").await;
    let updates = ww(&server, &bot, "getUpdates", json!({})).await;
    let chat = updates[0]["message"]["chat"]["id"].clone();
    assert_eq!(
        ww(&server, &bot, "sendMessage", json!({"chat_id": chat, "text": "one"})).await["text"],
        "one"
    );
    let (status, retry_after, body) =
        call(&server, &bot.token, "sendMessage", json!({"chat_id": chat, "text": "two"})).await;
    assert_eq!((status, retry_after.as_deref()), (429, Some("1")), "{body}");
    assert_eq!(body["description"], "Too Many Requests: retry after 1");
    // Telegram's pace allows a short burst in a private chat (a fresh chat of another person).
    let other = server.register("ww_slow").await;
    server.client(&other, "sendMessage", json!({"chat_id": bot.id, "text": "/start"})).await;
    for text in ["a", "b", "c"] {
        server.bot(&bot, "sendMessage", json!({"chat_id": other.id, "text": text})).await;
    }
}

#[tokio::test]
async fn a_webhook_set_through_wwchat_gets_wwchat_updates_and_header() {
    let server = TestServer::start().await;
    let person = server.register("ww_hooked").await;
    let bot = server.create_bot(&person, "ww_hook_bot").await;
    let receiver = Receiver::start(Behavior { echo: true, ..Behavior::default() }).await;
    let set =
        ww(&server, &bot, "setWebhook", json!({"url": receiver.url(), "secret_token": "my_secret_123"}))
            .await;
    assert_eq!(set, true);
    assert_eq!(ww(&server, &bot, "getWebhookInfo", json!({})).await["url"], receiver.url());

    server.client(&person, "sendMessage", json!({"chat_id": bot.id, "text": "hi"})).await;
    let calls = receiver.wait_for(1).await;
    let headers = &calls[0].headers;
    assert_eq!(
        headers.get("x-wwchat-bot-api-secret-token").and_then(|v| v.to_str().ok()),
        Some("my_secret_123")
    );
    assert!(headers.get("x-telegram-bot-api-secret-token").is_none());
    let message = &calls[0].update["message"];
    assert_eq!(calls[0].update["update_id"], 1);
    assert!(is_uuid(&message["chat"]["id"]) && is_uuid(&message["message_id"]), "{message}");
    // The receiver answered with a sendMessage to the chat's UUID: run in WWChat's dialect.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let history = server.client(&person, "getHistory", json!({"chat_id": bot.id})).await;
        if history.as_array().is_some_and(|h| h.iter().any(|m| m["text"] == "re: hi")) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the webhook's answer never arrived: {history}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(ww(&server, &bot, "deleteWebhook", json!({})).await, true);
}
