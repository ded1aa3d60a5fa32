//! getUpdates: long polling, offsets, allowed_updates, and the webhook-related methods a polling
//! bot calls.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::TestServer;

fn update_ids(updates: &Value) -> Vec<i64> {
    updates.as_array().into_iter().flatten().filter_map(|u| u["update_id"].as_i64()).collect()
}

#[tokio::test]
async fn a_waiting_poll_wakes_when_a_message_arrives() {
    let server = TestServer::start().await;
    let (person, bot) = server.person_and_bot("poller", "poll_bot").await;
    // Confirm the /start update first.
    let first = server.bot(&bot, "getUpdates", json!({})).await;
    let offset = update_ids(&first)[0] + 1;

    let poll = {
        let server = &server;
        let bot = &bot;
        async move {
            let started = Instant::now();
            let updates = server.bot(bot, "getUpdates", json!({"offset": offset, "timeout": 30})).await;
            (updates, started.elapsed())
        }
    };
    let write = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        server.client(&person, "sendMessage", json!({"chat_id": bot.id, "text": "wake up"})).await
    };
    let ((updates, waited), _) = tokio::join!(poll, write);
    assert_eq!(updates[0]["message"]["text"], "wake up");
    // It returned because of the message, long before its 30 s timeout ran out.
    assert!(waited < Duration::from_secs(10), "waited {waited:?}");
}

#[tokio::test]
async fn a_poll_with_nothing_to_say_times_out_empty() {
    let server = TestServer::start().await;
    let (_person, bot) = server.person_and_bot("quiet_one", "quiet_bot").await;
    let first = server.bot(&bot, "getUpdates", json!({})).await;
    let offset = update_ids(&first)[0] + 1;
    let started = Instant::now();
    let updates = server.bot(&bot, "getUpdates", json!({"offset": offset, "timeout": 1})).await;
    assert_eq!(updates, json!([]));
    assert!(started.elapsed() >= Duration::from_millis(900));
}

#[tokio::test]
async fn offsets_confirm_and_negative_offsets_keep_the_tail() {
    let server = TestServer::start().await;
    let (person, bot) = server.person_and_bot("offsetter", "offset_bot").await;
    for i in 0..5 {
        server.client(&person, "sendMessage", json!({"chat_id": bot.id, "text": format!("u{i}")})).await;
    }
    // Six updates: /start and u0..u4. Reading does not confirm.
    assert_eq!(update_ids(&server.bot(&bot, "getUpdates", json!({})).await), [1, 2, 3, 4, 5, 6]);
    assert_eq!(update_ids(&server.bot(&bot, "getUpdates", json!({"limit": 2})).await), [1, 2]);
    // An offset confirms everything below it, for good.
    assert_eq!(update_ids(&server.bot(&bot, "getUpdates", json!({"offset": 3, "limit": "2"})).await), [3, 4]);
    assert_eq!(update_ids(&server.bot(&bot, "getUpdates", json!({})).await), [3, 4, 5, 6]);
    assert_eq!(server.bot(&bot, "getWebhookInfo", json!({})).await["pending_update_count"], 4);
    // offset = -2: the last two, and everything before them is forgotten.
    assert_eq!(update_ids(&server.bot(&bot, "getUpdates", json!({"offset": -2})).await), [5, 6]);
    assert_eq!(update_ids(&server.bot(&bot, "getUpdates", json!({})).await), [5, 6]);
    // Past the end: nothing, and the queue is empty; ids keep counting from where they were.
    assert_eq!(update_ids(&server.bot(&bot, "getUpdates", json!({"offset": 7})).await), Vec::<i64>::new());
    server.client(&person, "sendMessage", json!({"chat_id": bot.id, "text": "later"})).await;
    assert_eq!(update_ids(&server.bot(&bot, "getUpdates", json!({})).await), [7]);
    // Limits out of range are clamped as Telegram does.
    assert_eq!(update_ids(&server.bot(&bot, "getUpdates", json!({"limit": 0})).await), [7]);
    assert_eq!(update_ids(&server.bot(&bot, "getUpdates", json!({"limit": 1000})).await), [7]);
}

#[tokio::test]
async fn allowed_updates_is_remembered_between_calls() {
    let server = TestServer::start().await;
    let (person, bot) = server.person_and_bot("filterer", "filter_bot").await;
    // Ask for callback queries only; the pending /start stays (it was queued before the call).
    let updates = server.bot(&bot, "getUpdates", json!({"allowed_updates": ["callback_query"]})).await;
    assert_eq!(update_ids(&updates), [1]);
    let info = server.bot(&bot, "getWebhookInfo", json!({})).await;
    assert_eq!(info["allowed_updates"], json!(["callback_query"]));
    assert_eq!(info["url"], "");
    // New messages are not queued while the filter stands, even on calls that do not repeat it.
    server.client(&person, "sendMessage", json!({"chat_id": bot.id, "text": "filtered"})).await;
    assert_eq!(update_ids(&server.bot(&bot, "getUpdates", json!({"offset": 2})).await), Vec::<i64>::new());
    // An empty list restores the default.
    server.bot(&bot, "getUpdates", json!({"offset": 2, "allowed_updates": "[]"})).await;
    server.client(&person, "sendMessage", json!({"chat_id": bot.id, "text": "seen"})).await;
    let updates = server.bot(&bot, "getUpdates", json!({"offset": 2})).await;
    assert_eq!(updates[0]["message"]["text"], "seen");
    // Unknown names are ignored (libraries send every type they know of), malformed lists are not.
    server
        .bot(&bot, "getUpdates", json!({"offset": 3, "allowed_updates": ["message", "from_the_future"]}))
        .await;
    let info = server.bot(&bot, "getWebhookInfo", json!({})).await;
    assert_eq!(info["allowed_updates"], json!(["message"]));
    let (status, body) =
        server.bot_call(&bot.token, "getUpdates", json!({"allowed_updates": "message"})).await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn delete_webhook_can_drop_pending_updates() {
    let server = TestServer::start().await;
    let (_person, bot) = server.person_and_bot("dropper", "drop_bot").await;
    assert_eq!(server.bot(&bot, "deleteWebhook", json!({})).await, json!(true));
    assert_eq!(server.bot(&bot, "getWebhookInfo", json!({})).await["pending_update_count"], 1);
    assert_eq!(server.bot(&bot, "deleteWebhook", json!({"drop_pending_updates": true})).await, json!(true));
    let info = server.bot(&bot, "getWebhookInfo", json!({})).await;
    assert_eq!(info, json!({"url": "", "has_custom_certificate": false, "pending_update_count": 0}));
}

#[tokio::test]
async fn shutdown_ends_waiting_polls_at_once() {
    let mut server = TestServer::start().await;
    let (_person, bot) = server.person_and_bot("leaver", "leave_bot").await;
    server.bot(&bot, "getUpdates", json!({"offset": 2})).await;
    let url = server.url(&format!("/bot{}/getUpdates?offset=2&timeout=50", bot.token));
    let http = server.http.clone();
    let poll = tokio::spawn(async move { http.get(url).send().await.map(|r| r.status().as_u16()) });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    server.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(10), "shutdown waited for the poll");
    let status = poll.await.ok().and_then(Result::ok);
    assert_eq!(status, Some(200));
}

/// getUpdates confirms in the background; the pending count that follows at once already leaves
/// the confirmed updates out, every time (without the floor it failed in the second round).
#[tokio::test]
async fn the_pending_count_follows_a_confirmation_at_once() {
    let server = TestServer::start().await;
    let (person, bot) = server.person_and_bot("counter", "count_bot").await;
    let mut offset = update_ids(&server.bot(&bot, "getUpdates", json!({})).await)[0];
    for round in 0..30 {
        for i in 0..2 {
            server
                .client(&person, "sendMessage", json!({"chat_id": bot.id, "text": format!("{round}.{i}")}))
                .await;
        }
        let ids = update_ids(&server.bot(&bot, "getUpdates", json!({"offset": offset + 1})).await);
        assert_eq!(ids.len(), 2, "round {round}");
        let info = server.bot(&bot, "getWebhookInfo", json!({})).await;
        assert_eq!(info["pending_update_count"], 2, "round {round}");
        offset = ids[1];
    }
}
