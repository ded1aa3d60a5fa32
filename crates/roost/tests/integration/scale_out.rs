//! Several instances over one PostgreSQL database: wake-ups across instances, ids under
//! concurrent writers, shared rate limits, and webhook delivery moving to another instance when
//! its owner is killed. These run in the PostgreSQL pass only (`ROOST_TEST_POSTGRES`); in the
//! SQLite pass there is nothing to share and they say so and return.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::client_api::{connect, next_json};
use crate::common::{TestServer, assert_error, fresh_database, must, postgres_server};
use crate::durability::{Process, admin, call, login, say};
use crate::webhooks::{Behavior, Receiver};

fn skip_without_postgres(test: &str) -> bool {
    if postgres_server().is_none() {
        eprintln!("{test}: runs in the PostgreSQL pass only (ROOST_TEST_POSTGRES unset)");
        return true;
    }
    false
}

/// Re-checks so rare that only a notification can explain a fast wake-up.
fn notifications_only(config: &mut roost::Config) {
    config.shared_recheck = Duration::from_secs(600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_on_one_instance_wakes_when_a_person_writes_on_another() {
    if skip_without_postgres("a_long_poll_on_one_instance_wakes_when_a_person_writes_on_another") {
        return;
    }
    let a = TestServer::start_with(notifications_only).await;
    let b = a.another_instance(notifications_only).await;
    let (person, bot) = a.person_and_bot("annabel", "across_bot").await;
    // /start arrives first; confirm it.
    let first = b.bot(&bot, "getUpdates", json!({})).await;
    assert_eq!(first[0]["message"]["text"], "/start");
    let next = first[0]["update_id"].as_i64().unwrap_or(0) + 1;

    let mut latencies = Vec::new();
    for round in 0..5 {
        let poll = {
            let b_http = b.http.clone();
            let url = b.url(&format!("/bot{}/getUpdates", bot.token));
            tokio::spawn(async move {
                let answer: serde_json::Value = must(
                    must(b_http.post(url).json(&json!({"offset": next + round, "timeout": 20})).send().await)
                        .json()
                        .await,
                );
                (answer, Instant::now())
            })
        };
        // Let the poll reach its wait on instance B.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let sent_at = Instant::now();
        a.client(&person, "sendMessage", json!({"chat_id": bot.id, "text": format!("hello {round}")})).await;
        let (answer, woke_at) = must(poll.await);
        assert_eq!(answer["result"][0]["message"]["text"], format!("hello {round}"), "{answer}");
        latencies.push(woke_at.duration_since(sent_at));
    }
    latencies.sort();
    // Far below the 20 s poll timeout and the 600 s re-check: the NOTIFY woke it.
    assert!(latencies[latencies.len() / 2] < Duration::from_millis(500), "wake-ups took {latencies:?}");

    // The person's event stream on B hears what the bot sends through A the same way.
    let mut socket = connect(&b, &person, None).await;
    for round in 0..3 {
        let sent_at = Instant::now();
        a.bot(&bot, "sendMessage", json!({"chat_id": person.id, "text": format!("pong {round}")})).await;
        let event = next_json(&mut socket).await;
        assert_eq!(event["message"]["text"], format!("pong {round}"), "{event}");
        assert!(sent_at.elapsed() < Duration::from_secs(2), "the event took {:?}", sent_at.elapsed());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_stay_strictly_increasing_with_writers_on_two_instances() {
    if skip_without_postgres("ids_stay_strictly_increasing_with_writers_on_two_instances") {
        return;
    }
    let a = TestServer::start().await;
    let b = a.another_instance(|_| {}).await;
    let (person, bot) = a.person_and_bot("counter", "count_bot").await;
    // 40 bot messages and 40 person messages at once, half through each instance.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..40 {
        let server = if i % 2 == 0 { &a } else { &b };
        let (http, token) = (server.http.clone(), bot.token.clone());
        let url = server.url(&format!("/bot{token}/sendMessage"));
        let person_id = person.id;
        tasks.spawn(async move {
            let body: serde_json::Value = must(
                must(
                    http.post(url).json(&json!({"chat_id": person_id, "text": format!("b{i}")})).send().await,
                )
                .json()
                .await,
            );
            body["result"]["message_id"].as_i64().unwrap_or(-1)
        });
        let (http, session) = (server.http.clone(), person.token.clone());
        let url = server.url("/client/v1/sendMessage");
        let bot_id = bot.id;
        tasks.spawn(async move {
            let body: serde_json::Value = must(
                must(
                    http.post(url)
                        .bearer_auth(session)
                        .json(&json!({"chat_id": bot_id, "text": format!("p{i}")}))
                        .send()
                        .await,
                )
                .json()
                .await,
            );
            body["result"]["message_id"].as_i64().unwrap_or(-1)
        });
    }
    let mut ids = Vec::new();
    while let Some(id) = tasks.join_next().await {
        ids.push(must(id));
    }
    ids.sort_unstable();
    // /start is message 1; the 80 others are 2..=81, each exactly once.
    assert_eq!(ids, (2..=81).collect::<Vec<i64>>());

    // The bot's queue: /start and the 40 messages of the person, update_ids 1..=41 in order, and
    // in each update the chat's message ids increase with the update ids.
    let updates = b.bot(&bot, "getUpdates", json!({"limit": 100})).await;
    let updates = updates.as_array().cloned().unwrap_or_default();
    let update_ids: Vec<i64> = updates.iter().filter_map(|u| u["update_id"].as_i64()).collect();
    assert_eq!(update_ids, (1..=41).collect::<Vec<i64>>());
    let message_ids: Vec<i64> = updates.iter().filter_map(|u| u["message"]["message_id"].as_i64()).collect();
    assert!(
        message_ids.windows(2).all(|w| w[0] < w[1]),
        "update order follows message order: {message_ids:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_hold_across_instances() {
    if skip_without_postgres("rate_limits_hold_across_instances") {
        return;
    }
    // Bursts of three and (nearly) no refill: the outcome does not depend on how fast the
    // requests run.
    let limits = |config: &mut roost::Config| {
        config.rate_limits.enabled = true;
        config.rate_limits.chat_burst = 3.0;
        config.rate_limits.chat_messages_per_second = 0.001;
    };
    let a = TestServer::start_with(limits).await;
    let b = a.another_instance(limits).await;
    let (person, bot) = a.person_and_bot("limited", "limited_bot").await;
    // Alternating instances, the fourth message is refused wherever it lands.
    let mut codes = Vec::new();
    for i in 0..4 {
        let server = if i % 2 == 0 { &a } else { &b };
        let (code, _) =
            server.bot_call(&bot.token, "sendMessage", json!({"chat_id": person.id, "text": "x"})).await;
        codes.push(code);
    }
    assert_eq!(codes, [200, 200, 200, 429]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_get_updates_on_another_instance_supersedes_the_waiting_one() {
    if skip_without_postgres("a_get_updates_on_another_instance_supersedes_the_waiting_one") {
        return;
    }
    let a = TestServer::start_with(notifications_only).await;
    let b = a.another_instance(notifications_only).await;
    let (_person, bot) = a.person_and_bot("twice_here", "two_places_bot").await;
    a.bot(&bot, "getUpdates", json!({"offset": 2})).await;
    let started = Instant::now();
    let first = a.bot_call(&bot.token, "getUpdates", json!({"offset": 2, "timeout": 20}));
    let second = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        b.bot_call(&bot.token, "getUpdates", json!({"offset": 2, "timeout": 1})).await
    };
    let (first, second) = tokio::join!(first, second);
    assert_error(
        &first,
        409,
        "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
    );
    assert!(started.elapsed() < Duration::from_secs(10), "the first call waited for its timeout");
    assert_eq!(second.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_delivery_moves_to_another_instance_when_its_owner_is_killed() {
    if skip_without_postgres("webhook_delivery_moves_to_another_instance_when_its_owner_is_killed") {
        return;
    }
    let database = fresh_database().await;
    let db = database.as_deref();
    let dir = must(tempfile::tempdir());
    let config = dir.path().join("roost.toml");
    must(std::fs::write(&config, "allow_insecure_webhooks = true\nwebhook_lease_ms = 3000\n"));
    let config = config.to_string_lossy().into_owned();
    let extra = ["--config", config.as_str()];
    admin(dir.path(), db, &["create-user", "wendy", "--password", "correct horse", "--create"]);
    let token = admin(dir.path(), db, &["create-bot", "--owner", "wendy", "--username", "relay_bot"]);
    let token = token.trim().to_owned();

    let first = Process::start_with(&dir.path().join("a"), db, &extra);
    let http = reqwest::Client::new();
    let base_a = format!("http://{}", first.addr);
    let session = login(&http, &base_a, "wendy").await;
    // A slow receiver, one connection: a backlog builds up.
    let receiver =
        Receiver::start(Behavior { delay: Duration::from_millis(150), ..Behavior::default() }).await;
    call(
        &http,
        format!("{base_a}/bot{token}/setWebhook"),
        None,
        json!({"url": receiver.url(), "max_connections": 1}),
    )
    .await;
    for i in 0..20 {
        say(&http, &base_a, &session, &format!("m{i}")).await;
    }
    // Instance A delivers; B starts beside it and waits.
    receiver.wait_for(2).await;
    let second = Process::start_with(&dir.path().join("b"), db, &extra);
    receiver.wait_for(4).await;
    first.kill_9();
    let killed_at = receiver.calls().len();
    assert!(killed_at < 20, "A finished before it was killed; the backlog was too short");

    // B takes the lease over once A's expires and delivers the rest.
    let expected: BTreeSet<String> = (0..20).map(|i| format!("m{i}")).collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    let calls = loop {
        let calls = receiver.calls();
        let delivered: BTreeSet<String> =
            calls.iter().filter_map(|c| c.update["message"]["text"].as_str().map(str::to_owned)).collect();
        if delivered == expected {
            break calls;
        }
        assert!(Instant::now() < deadline, "not every update arrived: {delivered:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // In order: apart from at most the one update A had in flight, ids only increase.
    let ids: Vec<i64> = calls.iter().filter_map(|c| c.update["update_id"].as_i64()).collect();
    let repeats = ids.len() - ids.iter().collect::<BTreeSet<_>>().len();
    assert!(repeats <= 1, "at most the update in flight is delivered twice: {ids:?}");
    let mut seen = BTreeSet::new();
    let firsts: Vec<i64> = ids.iter().copied().filter(|id| seen.insert(*id)).collect();
    assert!(firsts.windows(2).all(|w| w[0] < w[1]), "delivered in order: {ids:?}");
    // And the queue is empty: B recorded each delivery.
    let base_b = format!("http://{}", second.addr);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let info = call(&http, format!("{base_b}/bot{token}/getWebhookInfo"), None, json!({})).await;
        if info["pending_update_count"] == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "updates left in the queue: {info}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    second.kill_9();
}

/// A token revoked on one instance is refused on another that had it cached, within the time a
/// notification takes; so is a deleted bot's. The system bot runs on one instance at a time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_is_refused_on_every_instance() {
    if skip_without_postgres("a_revoked_token_is_refused_on_every_instance") {
        return;
    }
    let a = TestServer::start_with(notifications_only).await;
    let b = a.another_instance(notifications_only).await;
    let owner = a.register("rita_owner").await;
    let made = a.client(&owner, "createBot", json!({"name": "Rotating", "username": "rotating_bot"})).await;
    let id = made["bot"]["id"].clone();
    let token = must(made["token"].as_str().ok_or("no token")).to_owned();
    assert_eq!(b.bot_call(&token, "getMe", json!({})).await.0, 200, "b caches the token");
    let fresh = a.client(&owner, "revokeBotToken", json!({"bot_id": id})).await;
    let fresh = must(fresh["token"].as_str().ok_or("no token")).to_owned();
    let refused_within = |server: &TestServer, token: String| {
        let (http, url) = (server.http.clone(), server.url(&format!("/bot{token}/getMe")));
        async move {
            let started = Instant::now();
            loop {
                let status = must(http.post(&url).send().await).status().as_u16();
                if status == 401 {
                    return started.elapsed();
                }
                assert!(started.elapsed() < Duration::from_secs(2), "still {status}");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    };
    let took = refused_within(&b, token).await;
    assert!(took < Duration::from_millis(500), "took {took:?}");
    assert_eq!(b.bot_call(&fresh, "getMe", json!({})).await.0, 200);
    a.client(&owner, "deleteBot", json!({"bot_id": id})).await;
    refused_within(&b, fresh).await;

    // One system bot for both: each instance answers through it, whichever holds the lease.
    let person = b.register("sys_user_b").await;
    b.client(&person, "sendMessage", json!({"chat_id": "@BotGod", "text": "/mybots"})).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let history = a.client(&person, "getHistory", json!({"chat_id": "@BotGod"})).await;
        let answers =
            history.as_array().map_or(0, |m| m.iter().filter(|m| m["from"]["is_bot"] == true).count());
        if answers > 0 {
            assert_eq!(answers, 1, "answered once: {history}");
            break;
        }
        assert!(Instant::now() < deadline, "the system bot did not answer: {history}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A session ended on one instance closes its event stream on another within seconds (the
/// ending travels with the commit's notification), not at the next ping.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_ended_on_one_instance_closes_its_stream_on_another() {
    if skip_without_postgres("a_session_ended_on_one_instance_closes_its_stream_on_another") {
        return;
    }
    let a = TestServer::start_with(notifications_only).await;
    let b = a.another_instance(notifications_only).await;
    let person = a.register("stream_ender").await;
    let mut stream = connect(&b, &person, None).await;
    a.client(&person, "logout", json!({})).await;
    assert!(
        crate::client_api::closes_within(&mut stream, Duration::from_secs(5)).await,
        "the stream on the other instance outlived its session"
    );
}
