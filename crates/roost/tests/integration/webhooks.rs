//! Webhook delivery against a local receiver: settings, ordering, parallelism, retries,
//! switch-off, answers with a method, conflicts with getUpdates, and a restart mid-backlog.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::common::{Bot, Person, TestServer, assert_error, must};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub(crate) update: Value,
    secret: Option<String>,
    /// Every header of the request.
    pub(crate) headers: HeaderMap,
    at: Instant,
}

/// How the receiver answers.
#[derive(Debug, Clone, Default)]
pub(crate) struct Behavior {
    /// Answer this many requests with 500 first.
    pub(crate) fail_first: usize,
    /// Hold each request this long before answering.
    pub(crate) delay: Duration,
    /// Answer 2xx with this JSON body.
    pub(crate) answer: Option<Value>,
    /// Answer 2xx with a sendMessage that echoes the update's text into its chat.
    pub(crate) echo: bool,
}

#[derive(Default)]
struct ReceiverState {
    behavior: Mutex<Behavior>,
    calls: Mutex<Vec<Call>>,
    /// Requests being handled now, in all and per chat, and the most seen at once.
    in_flight: Mutex<(usize, HashMap<i64, usize>)>,
    max_in_flight: Mutex<usize>,
    max_per_chat: Mutex<usize>,
}

pub(crate) struct Receiver {
    addr: SocketAddr,
    state: Arc<ReceiverState>,
}

impl Receiver {
    pub(crate) async fn start(behavior: Behavior) -> Receiver {
        let state = Arc::new(ReceiverState { behavior: Mutex::new(behavior), ..ReceiverState::default() });
        let app =
            axum::Router::new().route("/hook", axum::routing::post(receive)).with_state(Arc::clone(&state));
        let listener = must(tokio::net::TcpListener::bind("127.0.0.1:0").await);
        let addr = must(listener.local_addr());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { addr, state }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    pub(crate) fn calls(&self) -> Vec<Call> {
        self.state.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// Waits until at least `n` requests arrived.
    pub(crate) async fn wait_for(&self, n: usize) -> Vec<Call> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let calls = self.calls();
            if calls.len() >= n {
                return calls;
            }
            assert!(Instant::now() < deadline, "only {} of {n} deliveries arrived", calls.len());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

async fn receive(
    State(state): State<Arc<ReceiverState>>,
    headers: HeaderMap,
    Json(update): Json<Value>,
) -> Response {
    // A chat's key for the per-chat counts: its number, or (WWChat) its UUID's hash.
    let chat = match &update["message"]["chat"]["id"] {
        Value::String(uuid) => uuid.bytes().fold(0i64, |h, b| h.wrapping_mul(31).wrapping_add(i64::from(b))),
        id => id.as_i64().unwrap_or(0),
    };
    let text = update["message"]["text"].as_str().unwrap_or("").to_owned();
    let chat_id = update["message"]["chat"]["id"].clone();
    let behavior = state.behavior.lock().map(|b| b.clone()).unwrap_or_default();
    if let Ok(mut in_flight) = state.in_flight.lock() {
        in_flight.0 += 1;
        let per_chat = in_flight.1.entry(chat).or_insert(0);
        *per_chat += 1;
        let per_chat = *per_chat;
        if let Ok(mut max) = state.max_in_flight.lock() {
            *max = (*max).max(in_flight.0);
        }
        if let Ok(mut max) = state.max_per_chat.lock() {
            *max = (*max).max(per_chat);
        }
    }
    tokio::time::sleep(behavior.delay).await;
    let index = state
        .calls
        .lock()
        .map(|mut calls| {
            let secret = headers
                .get("x-telegram-bot-api-secret-token")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            calls.push(Call { update, secret, headers: headers.clone(), at: Instant::now() });
            calls.len()
        })
        .unwrap_or(0);
    if let Ok(mut in_flight) = state.in_flight.lock() {
        in_flight.0 -= 1;
        if let Some(per_chat) = in_flight.1.get_mut(&chat) {
            *per_chat -= 1;
        }
    }
    if index <= behavior.fail_first {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    if behavior.echo {
        return Json(json!({"method": "sendMessage", "chat_id": chat_id, "text": format!("re: {text}")}))
            .into_response();
    }
    match behavior.answer {
        Some(body) => Json(body).into_response(),
        None => StatusCode::OK.into_response(),
    }
}

async fn pending(server: &TestServer, bot: &Bot) -> i64 {
    server.bot(bot, "getWebhookInfo", json!({})).await["pending_update_count"].as_i64().unwrap_or(-1)
}

async fn wait_until_pending(server: &TestServer, bot: &Bot, n: i64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while pending(server, bot).await != n {
        assert!(Instant::now() < deadline, "the queue never reached {n}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn set_webhook_delivers_with_the_secret_and_reports_its_settings() {
    let server = TestServer::start().await;
    let person = server.register("hooked_person").await;
    let bot = server.create_bot(&person, "hooked_bot").await;
    let receiver = Receiver::start(Behavior::default()).await;
    let set = server
        .bot(
            &bot,
            "setWebhook",
            json!({"url": receiver.url(), "secret_token": "s3cr3t_-X", "max_connections": 5, "allowed_updates": ["message"]}),
        )
        .await;
    assert_eq!(set, json!(true));
    let info = server.bot(&bot, "getWebhookInfo", json!({})).await;
    assert_eq!(
        info,
        json!({"url": receiver.url(), "has_custom_certificate": false, "pending_update_count": 0,
               "max_connections": 5, "allowed_updates": ["message"]})
    );

    server.client(&person, "sendMessage", json!({"chat_id": bot.id, "text": "/start"})).await;
    let calls = receiver.wait_for(1).await;
    assert_eq!(calls[0].secret.as_deref(), Some("s3cr3t_-X"));
    // Letgram's document names its own header for the same secret: both are sent.
    assert_eq!(
        calls[0].headers.get("x-letgram-bot-api-secret-token").and_then(|v| v.to_str().ok()),
        Some("s3cr3t_-X")
    );
    assert_eq!(calls[0].update["update_id"], 1);
    assert_eq!(calls[0].update["message"]["text"], "/start");
    assert_eq!(calls[0].update["message"]["chat"]["id"], person.id);
    wait_until_pending(&server, &bot, 0).await;

    // While the webhook is set, getUpdates is refused.
    assert_error(
        &server.bot_call(&bot.token, "getUpdates", json!({})).await,
        409,
        "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
    );
    // Bad settings are refused with Telegram's words.
    assert_error(
        &server
            .bot_call(&bot.token, "setWebhook", json!({"url": receiver.url(), "secret_token": "no spaces"}))
            .await,
        400,
        "Bad Request: secret token contains unallowed characters",
    );
    assert_error(
        &server.bot_call(&bot.token, "setWebhook", json!({"url": "ftp://example.com/"})).await,
        400,
        "Bad Request: bad webhook: An HTTPS URL must be provided for webhook (a server for local development accepts it with --allow-insecure-webhooks)",
    );
    // deleteWebhook (or an empty url) returns the bot to polling.
    assert_eq!(server.bot(&bot, "setWebhook", json!({"url": ""})).await, json!(true));
    assert_eq!(server.bot(&bot, "getWebhookInfo", json!({})).await["url"], "");
    server.client(&person, "sendMessage", json!({"chat_id": bot.id, "text": "polled"})).await;
    let updates = server.bot(&bot, "getUpdates", json!({})).await;
    assert_eq!(updates[0]["message"]["text"], "polled");
    assert_eq!(receiver.calls().len(), 1, "nothing more went to the webhook");
}

#[tokio::test]
async fn webhooks_must_be_public_https_unless_insecure_ones_are_allowed() {
    let server = TestServer::start_with(|config| config.allow_insecure_webhooks = false).await;
    let person = server.register("careful_person").await;
    let bot = server.create_bot(&person, "careful_bot").await;
    for (url, description) in [
        (
            "http://example.com/hook",
            "Bad Request: bad webhook: An HTTPS URL must be provided for webhook (a server for local development accepts it with --allow-insecure-webhooks)",
        ),
        (
            "https://127.0.0.1/hook",
            "Bad Request: bad webhook: IP address 127.0.0.1 is reserved (a server for local development accepts it with --allow-insecure-webhooks)",
        ),
        (
            "https://10.0.0.7:8443/hook",
            "Bad Request: bad webhook: IP address 10.0.0.7 is reserved (a server for local development accepts it with --allow-insecure-webhooks)",
        ),
        (
            "https://169.254.169.254/latest",
            "Bad Request: bad webhook: IP address 169.254.169.254 is reserved (a server for local development accepts it with --allow-insecure-webhooks)",
        ),
        (
            "https://[::1]/hook",
            "Bad Request: bad webhook: IP address ::1 is reserved (a server for local development accepts it with --allow-insecure-webhooks)",
        ),
        (
            "https://localhost/hook",
            "Bad Request: bad webhook: localhost is not allowed (a server for local development accepts it with --allow-insecure-webhooks)",
        ),
    ] {
        assert_error(&server.bot_call(&bot.token, "setWebhook", json!({"url": url})).await, 400, description);
    }
    assert_error(
        &server
            .bot_call(
                &bot.token,
                "setWebhook",
                json!({"url": "https://1.1.1.1/h", "ip_address": "192.168.0.2"}),
            )
            .await,
        400,
        "Bad Request: bad webhook: IP address 192.168.0.2 is reserved (a server for local development accepts it with --allow-insecure-webhooks)",
    );
    assert_eq!(server.bot(&bot, "getWebhookInfo", json!({})).await["url"], "");
}

/// Four people write five messages each, quickly.
async fn four_chats_of_five(server: &TestServer, bot: &Bot) -> Vec<Person> {
    let mut people = Vec::new();
    for i in 0..4 {
        people.push(server.register(&format!("writer_{i}")).await);
    }
    let sends = people.iter().map(|person| async move {
        for n in 0..5 {
            server
                .client(
                    person,
                    "sendMessage",
                    json!({"chat_id": bot.id, "text": format!("{} #{n}", person.username)}),
                )
                .await;
        }
    });
    futures_util::future::join_all(sends).await;
    people
}

#[tokio::test]
async fn ordered_per_chat_parallel_across_chats_and_never_above_max_connections() {
    let server = TestServer::start().await;
    let owner = server.register("owner_of_many").await;
    let bot = server.create_bot(&owner, "parallel_bot").await;
    let receiver =
        Receiver::start(Behavior { delay: Duration::from_millis(100), ..Behavior::default() }).await;
    server.bot(&bot, "setWebhook", json!({"url": receiver.url(), "max_connections": 3})).await;
    let people = four_chats_of_five(&server, &bot).await;

    let calls = receiver.wait_for(20).await;
    wait_until_pending(&server, &bot, 0).await;
    for person in &people {
        let texts: Vec<String> = calls
            .iter()
            .filter(|c| c.update["message"]["chat"]["id"] == person.id)
            .filter_map(|c| c.update["message"]["text"].as_str().map(str::to_owned))
            .collect();
        let expected: Vec<String> = (0..5).map(|n| format!("{} #{n}", person.username)).collect();
        assert_eq!(texts, expected, "one chat's updates arrive in order");
    }
    let max = receiver.state.max_in_flight.lock().map(|m| *m).unwrap_or(0);
    assert!(max <= 3, "{max} requests in flight with max_connections 3");
    assert!(max >= 2, "chats were not delivered in parallel (max {max} in flight)");
    let per_chat = receiver.state.max_per_chat.lock().map(|m| *m).unwrap_or(0);
    assert_eq!(per_chat, 1, "two updates of one chat were in flight at once");
}

#[tokio::test]
async fn failed_deliveries_are_retried_with_growing_pauses() {
    let server = TestServer::start().await;
    let (person, bot) = server.person_and_bot("retry_person", "retry_bot").await;
    let receiver = Receiver::start(Behavior { fail_first: 3, ..Behavior::default() }).await;
    server.bot(&bot, "setWebhook", json!({"url": receiver.url()})).await;

    let calls = receiver.wait_for(4).await;
    wait_until_pending(&server, &bot, 0).await;
    assert!(calls.iter().all(|c| c.update["update_id"] == 1), "the same update is retried");
    // Pauses of 20, 40 and 80 ms (base 20 ms, doubling) at least.
    let gaps: Vec<Duration> = calls.windows(2).map(|w| w[1].at - w[0].at).collect();
    for (gap, least) in gaps.iter().zip([20u64, 40, 80]) {
        assert!(*gap >= Duration::from_millis(least - 5), "gaps {gaps:?}");
    }
    let info = server.bot(&bot, "getWebhookInfo", json!({})).await;
    assert_eq!(info["last_error_message"], "Wrong response from the webhook: 500 Internal Server Error");
    assert!(info["last_error_date"].as_i64().unwrap_or(0) > 0);
    // Delivery goes on normally afterwards.
    server.client(&person, "sendMessage", json!({"chat_id": bot.id, "text": "after"})).await;
    let calls = receiver.wait_for(5).await;
    assert_eq!(calls[4].update["message"]["text"], "after");
}

#[tokio::test]
async fn ten_consecutive_failures_switch_the_webhook_off() {
    let server = TestServer::start().await;
    let (_person, bot) = server.person_and_bot("doomed_person", "doomed_bot").await;
    let receiver = Receiver::start(Behavior { fail_first: usize::MAX, ..Behavior::default() }).await;
    server.bot(&bot, "setWebhook", json!({"url": receiver.url()})).await;

    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let info = server.bot(&bot, "getWebhookInfo", json!({})).await;
        if info["url"] == "" {
            let message = info["last_error_message"].as_str().unwrap_or_default().to_owned();
            assert!(
                message.starts_with("Webhook was switched off after 10 consecutive failed delivery attempts"),
                "{message}"
            );
            assert!(
                message.ends_with("Wrong response from the webhook: 500 Internal Server Error"),
                "{message}"
            );
            assert_eq!(info["pending_update_count"], 1, "the update is kept");
            break;
        }
        assert!(Instant::now() < deadline, "the webhook was never switched off");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.calls().len(), 10);
    // The bot can poll for it now.
    let updates = server.bot(&bot, "getUpdates", json!({})).await;
    assert_eq!(updates[0]["message"]["text"], "/start");
}

#[tokio::test]
async fn a_method_in_the_webhook_answer_is_executed() {
    let server = TestServer::start().await;
    let person = server.register("answered_person").await;
    let bot = server.create_bot(&person, "answering_bot").await;
    let answer = json!({"method": "sendMessage", "chat_id": person.id, "text": "answered in the response"});
    let receiver = Receiver::start(Behavior { answer: Some(answer), ..Behavior::default() }).await;
    server.bot(&bot, "setWebhook", json!({"url": receiver.url()})).await;
    server.client(&person, "sendMessage", json!({"chat_id": bot.id, "text": "hi"})).await;

    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let history = server.client(&person, "getHistory", json!({"chat_id": bot.id})).await;
        if history.as_array().map(Vec::len) == Some(2) {
            assert_eq!(history[1]["text"], "answered in the response");
            assert_eq!(history[1]["from"]["id"], bot.id);
            break;
        }
        assert!(Instant::now() < deadline, "the answer's method never ran");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn drop_pending_updates_on_set_and_delete() {
    let server = TestServer::start().await;
    let (person, bot) = server.person_and_bot("backlogged", "backlog_bot").await;
    server.client(&person, "sendMessage", json!({"chat_id": bot.id, "text": "old"})).await;
    assert_eq!(pending(&server, &bot).await, 2);
    let receiver = Receiver::start(Behavior::default()).await;
    server.bot(&bot, "setWebhook", json!({"url": receiver.url(), "drop_pending_updates": true})).await;
    assert_eq!(pending(&server, &bot).await, 0);
    server.client(&person, "sendMessage", json!({"chat_id": bot.id, "text": "new"})).await;
    let calls = receiver.wait_for(1).await;
    assert_eq!(calls[0].update["message"]["text"], "new");
    assert_eq!(calls[0].update["update_id"], 3, "update ids keep counting");
}

#[tokio::test]
async fn a_newer_get_updates_ends_the_waiting_one_with_409() {
    let server = TestServer::start().await;
    let (_person, bot) = server.person_and_bot("twice_polled", "twice_bot").await;
    server.bot(&bot, "getUpdates", json!({"offset": 2})).await;
    let first = {
        let server = &server;
        let bot = &bot;
        async move { server.bot_call(&bot.token, "getUpdates", json!({"offset": 2, "timeout": 20})).await }
    };
    let second = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        server.bot_call(&bot.token, "getUpdates", json!({"offset": 2, "timeout": 1})).await
    };
    let (first, second) = tokio::join!(first, second);
    assert_error(
        &first,
        409,
        "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
    );
    assert_eq!(second.0, 200);
}

#[tokio::test]
async fn delivery_resumes_after_a_restart_in_the_middle_of_a_backlog() {
    let server = TestServer::start().await;
    let person = server.register("patient_person").await;
    let bot = server.create_bot(&person, "patient_bot").await;
    let receiver =
        Receiver::start(Behavior { delay: Duration::from_millis(60), ..Behavior::default() }).await;
    server.bot(&bot, "setWebhook", json!({"url": receiver.url(), "max_connections": 1})).await;
    for n in 0..10 {
        server.client(&person, "sendMessage", json!({"chat_id": bot.id, "text": format!("m{n}")})).await;
    }
    receiver.wait_for(3).await;
    let server = server.restart().await;
    receiver.wait_for(10).await;
    wait_until_pending(&server, &bot, 0).await;
    let ids: Vec<i64> = receiver.calls().iter().filter_map(|c| c.update["update_id"].as_i64()).collect();
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!(unique, (1..=10).collect::<Vec<_>>(), "every update arrived, in order: {ids:?}");
    // At most the one delivery in flight at the restart is repeated.
    assert!(ids.len() <= 11, "{ids:?}");
}

#[tokio::test]
async fn answers_in_webhook_responses_keep_the_chats_order() {
    let server = TestServer::start().await;
    let person = server.register("ordered_person").await;
    let bot = server.create_bot(&person, "ordered_bot").await;
    let receiver = Receiver::start(Behavior { echo: true, ..Behavior::default() }).await;
    server.bot(&bot, "setWebhook", json!({"url": receiver.url(), "max_connections": 40})).await;
    for n in 0..8 {
        server.client(&person, "sendMessage", json!({"chat_id": bot.id, "text": format!("m{n}")})).await;
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let history = server.client(&person, "getHistory", json!({"chat_id": bot.id})).await;
        let replies: Vec<String> = history
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| m["from"]["id"] == bot.id)
            .filter_map(|m| m["text"].as_str().map(str::to_owned))
            .collect();
        if replies.len() == 8 {
            let expected: Vec<String> = (0..8).map(|n| format!("re: m{n}")).collect();
            assert_eq!(replies, expected, "answers of one chat run in the order of its updates");
            break;
        }
        assert!(Instant::now() < deadline, "only {} answers arrived", replies.len());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
