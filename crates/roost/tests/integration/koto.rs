//! Koto's dialect at `/koto/<method>`: the token in `Authorization: Bearer` in either form,
//! `KOTO-…` chat ids and string message ids both ways, the methods of its document, its errors and
//! its webhooks, beside the Telegram dialect of the same bot.

use serde_json::{Value, json};

use crate::common::{Bot, Person, TestServer, must};
use crate::webhooks::{Behavior, Receiver};

/// A Koto call with JSON parameters and a bearer token: status and body.
async fn call(server: &TestServer, token: &str, method: &str, params: Value) -> (u16, Value) {
    let response = must(
        server
            .http
            .post(server.url(&format!("/koto/{method}")))
            .bearer_auth(token)
            .json(&params)
            .send()
            .await,
    );
    let status = response.status().as_u16();
    (status, must(response.json().await))
}

/// A Koto call that must succeed; returns `result`.
async fn koto(server: &TestServer, token: &str, method: &str, params: Value) -> Value {
    let (status, body) = call(server, token, method, params).await;
    assert_eq!(status, 200, "{method}: {body}");
    assert_eq!(body["ok"], true, "{method}: {body}");
    body["result"].clone()
}

async fn koto_error(
    server: &TestServer,
    token: &str,
    method: &str,
    params: Value,
    code: u16,
    description: &str,
) {
    let (status, body) = call(server, token, method, params).await;
    assert_eq!(status, code, "{method}: {body}");
    assert_eq!(body, json!({"ok": false, "error_code": code, "description": description}), "{method}");
}

/// `KOTO-` and 32 lowercase hex digits.
fn is_koto_chat(value: &Value) -> bool {
    value.as_str().and_then(|s| s.strip_prefix("KOTO-")).is_some_and(is_hex32)
}

fn is_hex32(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The bot's token in Koto's form.
fn kbot(bot: &Bot) -> String {
    let (id, secret) = bot.token.split_once(':').unwrap_or_default();
    format!("kbot_{id}_{secret}")
}

async fn person_and_bot(server: &TestServer, person: &str, bot: &str) -> (Person, Bot) {
    server.person_and_bot(person, bot).await
}

#[tokio::test]
async fn a_koto_bot_speaks_koto_ids_both_ways() {
    let server = TestServer::start().await;
    let (person, bot) = person_and_bot(&server, "koto_person", "koto_echo_bot").await;
    let token = kbot(&bot);

    // Both forms of the token work; getMe names the bot by its Koto id.
    let me = koto(&server, &token, "getMe", json!({})).await;
    assert!(is_koto_chat(&me["id"]), "{me}");
    assert_eq!(me["username"], "koto_echo_bot");
    assert_eq!(koto(&server, &bot.token, "getMe", json!({})).await, me);

    // The /start update: chat and sender as KOTO ids, the message id a string.
    let updates = koto(&server, &token, "getUpdates", json!({})).await;
    let message = &updates[0]["message"];
    assert_eq!(message["text"], "/start");
    assert!(is_koto_chat(&message["chat"]["id"]), "{message}");
    assert_eq!(message["chat"]["id"], message["from"]["id"]);
    assert!(message["message_id"].as_str().is_some_and(is_hex32), "{message}");
    let chat = message["chat"]["id"].clone();
    let start = message["message_id"].clone();

    // Send, reply, edit, pin, react, forward, delete: all by Koto ids.
    let sent = koto(
        &server,
        &token,
        "sendMessage",
        json!({"chat_id": chat, "text": "Hello from Koto!", "reply_to_message_id": start}),
    )
    .await;
    assert_eq!(sent["chat"]["id"], chat);
    assert_eq!(sent["reply_to_message"]["message_id"], start);
    let id = sent["message_id"].clone();
    let edited = koto(&server, &token, "editMessageText", json!({"message_id": id, "text": "Edited"})).await;
    assert_eq!((edited["text"].clone(), edited["message_id"].clone()), (json!("Edited"), id.clone()));
    assert_eq!(
        koto(&server, &token, "pinChatMessage", json!({"chat_id": chat, "message_id": id})).await,
        true
    );
    assert_eq!(
        koto(&server, &token, "unpinChatMessage", json!({"chat_id": chat, "message_id": id})).await,
        true
    );
    let reaction = json!([{"type": "emoji", "emoji": "👍"}]);
    assert_eq!(
        koto(
            &server,
            &token,
            "setMessageReaction",
            json!({"chat_id": chat, "message_id": start, "reaction": reaction})
        )
        .await,
        true
    );
    let forwarded = koto(
        &server,
        &token,
        "forwardMessage",
        json!({"chat_id": chat, "from_chat_id": chat, "message_id": start}),
    )
    .await;
    assert_eq!(forwarded["text"], "/start");
    assert!(forwarded["message_id"].as_str().is_some_and(is_hex32));
    assert_eq!(
        koto(
            &server,
            &token,
            "deleteMessage",
            json!({"chat_id": chat, "message_id": forwarded["message_id"]})
        )
        .await,
        true
    );
    let history = server.client(&person, "getHistory", json!({"chat_id": bot.id})).await;
    let texts: Vec<&str> =
        history.as_array().into_iter().flatten().filter_map(|m| m["text"].as_str()).collect();
    assert_eq!(texts, ["/start", "Edited"]);

    // The command menu, as the person sees it.
    let commands = json!([{"command": "weather", "description": "Today's weather"}]);
    assert_eq!(koto(&server, &token, "setMyCommands", json!({"commands": commands})).await, true);
    assert_eq!(koto(&server, &token, "getMyCommands", json!({})).await, commands);
    assert_eq!(server.client(&person, "getBotCommands", json!({"chat_id": bot.id})).await, commands);

    // Inline buttons and callback queries.
    let keyboard = json!({"inline_keyboard": [[{"text": "Yes", "callback_data": "yes"}]]});
    let asked = koto(
        &server,
        &token,
        "sendMessage",
        json!({"chat_id": chat, "text": "Sure?", "reply_markup": keyboard}),
    )
    .await;
    let press = {
        let (server, person) = (&server, &person);
        async move {
            server
                .client(
                    person,
                    "pressButton",
                    json!({"chat_id": bot.id, "message_id": 4, "callback_data": "yes", "timeout": 5}),
                )
                .await
        }
    };
    let answer = async {
        loop {
            let updates = koto(
                &server,
                &token,
                "getUpdates",
                json!({"offset": updates[0]["update_id"].as_i64().unwrap_or(0) + 1, "timeout": 5}),
            )
            .await;
            if let Some(query) =
                updates.as_array().into_iter().flatten().find_map(|u| u.get("callback_query"))
            {
                assert_eq!(query["message"]["message_id"], asked["message_id"]);
                assert!(is_koto_chat(&query["from"]["id"]));
                koto(
                    &server,
                    &token,
                    "answerCallbackQuery",
                    json!({"callback_query_id": query["id"], "text": "Done"}),
                )
                .await;
                return;
            }
        }
    };
    let (pressed, ()) = tokio::join!(press, answer);
    assert_eq!(pressed["answer"]["text"], "Done", "{pressed}");
}

#[tokio::test]
async fn koto_refusals_in_its_words() {
    let server = TestServer::start().await;
    let (_, bot) = person_and_bot(&server, "koto_refused", "koto_strict_bot").await;
    let token = kbot(&bot);
    let unauthorized = must(server.http.post(server.url("/koto/getMe")).send().await);
    assert_eq!(unauthorized.status().as_u16(), 401);
    koto_error(
        &server,
        "kbot_1_wrongwrongwrongwrongwrongwrongwrongwro",
        "getMe",
        json!({}),
        401,
        "Unauthorized",
    )
    .await;
    koto_error(
        &server,
        &token,
        "sendMessage",
        json!({"chat_id": "12", "text": "x"}),
        400,
        "Bad Request: chat_id must be a Koto id",
    )
    .await;
    let elsewhere = TestServer::start().await;
    let (_, other) = person_and_bot(&elsewhere, "koto_other", "koto_other_bot").await;
    let foreign = koto(&elsewhere, &kbot(&other), "getMe", json!({})).await["id"].clone();
    koto_error(
        &server,
        &token,
        "sendMessage",
        json!({"chat_id": foreign, "text": "x"}),
        400,
        "Bad Request: chat_id not found",
    )
    .await;
    koto_error(
        &server,
        &token,
        "sendPhoto",
        json!({}),
        404,
        "Not Found: method sendPhoto is not served by Roost yet (docs/compatibility.md lists what is)",
    )
    .await;
    koto_error(&server, &token, "frobnicate", json!({}), 404, "Not Found").await;
}

#[tokio::test]
async fn a_webhook_set_through_koto_gets_koto_updates() {
    let server = TestServer::start().await;
    let (person, bot) = person_and_bot(&server, "koto_hooked", "koto_hook_bot").await;
    let token = kbot(&bot);
    koto(&server, &token, "getUpdates", json!({"offset": -1})).await;
    let receiver = Receiver::start(Behavior::default()).await;
    koto(&server, &token, "setWebhook", json!({"url": receiver.url(), "secret_token": "koto-secret"})).await;
    server.client(&person, "sendMessage", json!({"chat_id": bot.id, "text": "to the hook"})).await;
    let calls = receiver.wait_for(2).await;
    let delivered = calls.iter().find(|c| c.update["message"]["text"] == "to the hook");
    let delivered = must(delivered.ok_or("no delivery of the message"));
    assert!(is_koto_chat(&delivered.update["message"]["chat"]["id"]), "{}", delivered.update);
    assert_eq!(
        delivered.headers.get("x-koto-bot-api-secret-token").and_then(|v| v.to_str().ok()),
        Some("koto-secret")
    );
    let info = koto(&server, &token, "getWebhookInfo", json!({})).await;
    assert_eq!(info["url"], receiver.url());
}
