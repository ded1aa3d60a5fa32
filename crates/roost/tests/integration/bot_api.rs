//! The Bot API core: authentication, methods, parameter encodings, sendMessage rules and errors.

use serde_json::{Value, json};

use crate::common::{TestServer, assert_error, must};

#[tokio::test]
async fn get_me_describes_the_bot() {
    let server = TestServer::start().await;
    let owner = server.register("owner1").await;
    let bot = server.create_bot(&owner, "first_bot").await;
    let me = server.bot(&bot, "getMe", json!({})).await;
    assert_eq!(
        me,
        json!({
            "id": bot.id, "is_bot": true, "first_name": "Test Bot", "username": "first_bot",
            "can_join_groups": true, "can_read_all_group_messages": false,
            "supports_inline_queries": false, "can_connect_to_business": false, "has_main_web_app": false,
        })
    );
    assert!(bot.token.starts_with(&format!("{}:", bot.id)));
    assert!(bot.token.len() >= bot.id.to_string().len() + 1 + 35);

    // Case-insensitive method names, GET as well as POST.
    let response = must(server.http.get(server.url(&format!("/bot{}/GETME", bot.token))).send().await);
    assert_eq!(response.status(), 200);
    assert_eq!(must(response.json::<Value>().await)["result"]["id"], bot.id);
    assert_eq!(server.bot(&bot, "logOut", json!({})).await, json!(true));
    assert_eq!(server.bot(&bot, "close", json!({})).await, json!(true));
}

/// Plain-text HTTP/2 (prior knowledge) is served beside HTTP/1.1 on the same port.
#[tokio::test]
async fn http2_with_prior_knowledge_is_served_too() {
    let server = TestServer::start().await;
    let owner = server.register("owner_h2").await;
    let bot = server.create_bot(&owner, "h2c_bot").await;
    let h2 = must(reqwest::Client::builder().http2_prior_knowledge().build());
    let response =
        must(h2.post(server.url(&format!("/bot{}/getMe", bot.token))).json(&json!({})).send().await);
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    let body: Value = must(response.json().await);
    assert_eq!(body["result"]["username"], "h2c_bot");
    let response = must(server.http.get(server.url(&format!("/bot{}/getMe", bot.token))).send().await);
    assert_eq!(response.version(), reqwest::Version::HTTP_11);
}

#[tokio::test]
async fn tokens_and_methods_are_checked_like_telegram() {
    let server = TestServer::start().await;
    let owner = server.register("owner2").await;
    let bot = server.create_bot(&owner, "second_bot").await;
    let secret = bot.token.split_once(':').map(|(_, s)| s).unwrap_or_default();

    for token in [
        format!("{}:{}x", bot.id, secret),
        format!("{}:{}", bot.id + 1, secret),
        "123:ABC".to_owned(),
        "nonsense".to_owned(),
    ] {
        assert_error(&server.bot_call(&token, "getMe", json!({})).await, 401, "Unauthorized");
    }
    // The token is checked first: an unknown method with a bad token is still 401.
    assert_error(&server.bot_call("1:x", "noSuchMethod", json!({})).await, 401, "Unauthorized");
    assert_error(&server.bot_call(&bot.token, "noSuchMethod", json!({})).await, 404, "Not Found");

    let response = must(server.http.get(server.url(&format!("/bot{}/", bot.token))).send().await);
    assert_eq!(response.status(), 404);
    let response = must(server.http.get(server.url("/nothing/here/at/all")).send().await);
    assert_eq!(response.status(), 404);
}

/// Method calls skip the router when their path needs no decoding (`roost_http::app`); the same
/// call spelled so that it must go through the router answers the same, and what is not a method
/// call is still the router's.
#[tokio::test]
async fn method_calls_answer_the_same_with_or_without_the_router() {
    let server = TestServer::start().await;
    let (person, bot) = server.person_and_bot("spelling", "spelling_bot").await;
    let (id, secret) = bot.token.split_once(':').unwrap_or_default();
    let get = |path: String| {
        let http = server.http.clone();
        let url = server.url(&path);
        async move {
            let response = must(http.get(url).send().await);
            let status = response.status().as_u16();
            (status, must(response.json::<Value>().await))
        }
    };
    let direct = get(format!("/bot{}/getMe", bot.token)).await;
    assert_eq!(direct.0, 200, "{}", direct.1);
    assert_eq!(direct.1["result"]["username"], "spelling_bot");
    for routed in [
        format!("/bot{}/get%4De", bot.token),
        format!("/bot{id}%3A{secret}/getMe"),
        format!("/%62ot{}/getMe", bot.token),
    ] {
        assert_eq!(get(routed.clone()).await, direct, "{routed}");
    }
    assert_error(&get(format!("/bot{}/getMe/more", bot.token)).await, 404, "Not Found");
    assert_error(&get(format!("/bot{}x/getMe", bot.token)).await, 401, "Unauthorized");
    assert_error(&get(format!("/bo{}/getMe", bot.token)).await, 404, "Not Found");

    // The body limit is the router's (20 MiB), not axum's default of 2 MiB for multipart bodies.
    let url = server.url(&format!("/bot{}/sendMessage", bot.token));
    let form = reqwest::multipart::Form::new()
        .text("chat_id", person.id.to_string())
        .text("text", "with a large part")
        .part("document", reqwest::multipart::Part::bytes(vec![b'x'; 3 << 20]).file_name("big.bin"));
    let response = must(server.http.post(&url).multipart(form).send().await);
    assert_eq!(response.status(), 200);
    let too_large = format!(r#"{{"chat_id":{},"text":"{}"}}"#, person.id, "x".repeat(21 << 20));
    let response =
        must(server.http.post(&url).header("content-type", "application/json").body(too_large).send().await);
    assert_eq!(response.status(), 413);
}

#[tokio::test]
async fn parameters_arrive_in_all_four_encodings() {
    let server = TestServer::start().await;
    let (person, bot) = server.person_and_bot("encoder", "encoding_bot").await;
    let url = server.url(&format!("/bot{}/sendMessage", bot.token));
    let markup = r#"{"inline_keyboard":[[{"text":"A","callback_data":"a"}]]}"#;

    // Query string.
    let response = must(
        server
            .http
            .get(&url)
            .query(&[
                ("chat_id", person.id.to_string().as_str()),
                ("text", "by query"),
                ("reply_markup", markup),
            ])
            .send()
            .await,
    );
    let body: Value = must(response.json().await);
    assert_eq!(body["result"]["text"], "by query", "{body}");
    assert_eq!(body["result"]["reply_markup"]["inline_keyboard"][0][0]["callback_data"], "a");

    // Urlencoded form, numbers and booleans as strings.
    let response = must(
        server
            .http
            .post(&url)
            .form(&[
                ("chat_id", person.id.to_string().as_str()),
                ("text", "by form"),
                ("protect_content", "true"),
            ])
            .send()
            .await,
    );
    let body: Value = must(response.json().await);
    assert_eq!(body["result"]["text"], "by form", "{body}");
    assert_eq!(body["result"]["has_protected_content"], true);

    // JSON, chat_id as a string.
    let body =
        server.bot(&bot, "sendMessage", json!({"chat_id": person.id.to_string(), "text": "by json"})).await;
    assert_eq!(body["text"], "by json");

    // Multipart form data.
    let form = reqwest::multipart::Form::new()
        .text("chat_id", person.id.to_string())
        .text("text", "by multipart")
        .text("entities", r#"[{"type":"bold","offset":3,"length":9}]"#);
    let response = must(server.http.post(&url).multipart(form).send().await);
    let body: Value = must(response.json().await);
    assert_eq!(body["result"]["text"], "by multipart", "{body}");
    assert_eq!(body["result"]["entities"], json!([{"type": "bold", "offset": 3, "length": 9}]));

    // And the person saw all four, in order, with one message_id sequence for the chat.
    let history = server.client(&person, "getHistory", json!({"chat_id": bot.id})).await;
    let texts: Vec<&str> =
        history.as_array().into_iter().flatten().filter_map(|m| m["text"].as_str()).collect();
    assert_eq!(texts, ["/start", "by query", "by form", "by json", "by multipart"]);
    let ids: Vec<i64> =
        history.as_array().into_iter().flatten().filter_map(|m| m["message_id"].as_i64()).collect();
    assert_eq!(ids, [1, 2, 3, 4, 5]);
}

/// pyTelegramBotAPI's async client sends most methods as GET with a body: the body counts, in
/// every encoding, and a getUpdates offset sent so confirms.
#[tokio::test]
async fn a_get_with_a_body_is_read_like_a_post() {
    let server = TestServer::start().await;
    let (person, bot) = server.person_and_bot("getter", "getter_bot").await;
    let url = server.url(&format!("/bot{}/sendMessage", bot.token));
    let text = |body: Value| body["result"]["text"].as_str().unwrap_or_default().to_owned();
    let json_body = json!({"chat_id": person.id, "text": "get json"});
    let answer: Value = must(must(server.http.get(&url).json(&json_body).send().await).json().await);
    assert_eq!(text(answer), "get json");
    let chat_id = person.id.to_string();
    let form = [("chat_id", chat_id.as_str()), ("text", "get form")];
    let answer: Value = must(must(server.http.get(&url).form(&form).send().await).json().await);
    assert_eq!(text(answer), "get form");
    let multipart =
        reqwest::multipart::Form::new().text("chat_id", chat_id.clone()).text("text", "get multipart");
    let answer: Value = must(must(server.http.get(&url).multipart(multipart).send().await).json().await);
    assert_eq!(text(answer), "get multipart");

    let updates_url = server.url(&format!("/bot{}/getUpdates", bot.token));
    let first: Value = must(must(server.http.get(&updates_url).json(&json!({})).send().await).json().await);
    let next = first["result"][0]["update_id"].as_i64().unwrap_or(0) + 1;
    let confirmed: Value =
        must(must(server.http.get(&updates_url).json(&json!({"offset": next})).send().await).json().await);
    assert_eq!(confirmed["result"], json!([]), "the offset in a GET's body confirms");
}

/// A plain JSON body is read straight into the typed request; the bodies that need Telegram's
/// lenient reading, or a query string beside them, read as before.
#[tokio::test]
async fn json_bodies_read_alike_on_the_fast_path_and_off_it() {
    let server = TestServer::start().await;
    let (person, bot) = server.person_and_bot("jsoner", "json_bot").await;
    let post = |path: String, body: &'static str| {
        let request = server.http.post(server.url(&path)).header("content-type", "application/json");
        async move {
            let response = must(request.body(body.replace("PERSON", &person.id.to_string())).send().await);
            (response.status().as_u16(), must(response.json::<Value>().await))
        }
    };
    let send = format!("/bot{}/sendMessage", bot.token);
    // Kept as is: typed values, an object keyboard.
    let (status, body) =
        post(send.clone(), r#"{"chat_id": PERSON, "text": "<b>a</b>", "parse_mode": "HTML", "protect_content": true, "reply_markup": {"remove_keyboard": true}}"#).await;
    assert_eq!((status, &body["result"]["text"]), (200, &json!("a")), "{body}");
    assert_eq!(body["result"]["has_protected_content"], true);
    // Lenient: strings for the number and the boolean, the keyboard as JSON text, an empty
    // parse_mode (absent): the same kind of answer.
    let (status, body) =
        post(send.clone(), r#"{"chat_id": "PERSON", "text": "<b>a</b>", "parse_mode": "", "protect_content": "1", "reply_markup": "{\"remove_keyboard\": true}"}"#).await;
    assert_eq!((status, &body["result"]["text"]), (200, &json!("<b>a</b>")), "{body}");
    assert_eq!(body["result"]["has_protected_content"], true);
    // A struct as a list of its fields is refused, as the lenient reading always did.
    let (status, body) =
        post(send.clone(), r#"{"chat_id": PERSON, "text": "x", "reply_parameters": [1]}"#).await;
    assert_eq!(status, 400, "{body}");
    // The query string still merges with the body.
    let (status, body) =
        post(format!("{send}?protect_content=true"), r#"{"chat_id": PERSON, "text": "q"}"#).await;
    assert_eq!((status, &body["result"]["has_protected_content"]), (200, &json!(true)), "{body}");
    // A broken body is refused before any method runs, one that reads no parameters included.
    for method in ["sendMessage", "getMe"] {
        let (status, body) = post(format!("/bot{}/{method}", bot.token), r#"{"chat_id": 1,"#).await;
        assert_eq!(status, 400, "{method}: {body}");
        let description = body["description"].as_str().unwrap_or_default();
        assert!(description.starts_with("Bad Request: can't parse JSON body"), "{description}");
    }
}

#[tokio::test]
async fn a_bot_may_write_only_after_the_person_did() {
    let server = TestServer::start().await;
    let person = server.register("shy_person").await;
    let bot = server.create_bot(&person, "eager_bot").await;

    // Nobody has written yet: no chat at all.
    assert_error(
        &server.bot_call(&bot.token, "sendMessage", json!({"chat_id": person.id, "text": "hi"})).await,
        400,
        "Bad Request: chat not found",
    );
    // The person opens the chat but does not write.
    let chat = server.client(&person, "openPrivateChat", json!({"user_id": bot.id})).await;
    assert_eq!(
        chat,
        json!({"id": bot.id, "type": "private", "username": "eager_bot", "first_name": "Test Bot"})
    );
    assert_error(
        &server.bot_call(&bot.token, "sendMessage", json!({"chat_id": person.id, "text": "hi"})).await,
        403,
        "Forbidden: bot can't initiate conversation with a user",
    );
    // Once the person writes, the bot can answer, by id or by @username.
    server.client(&person, "sendMessage", json!({"chat_id": bot.id, "text": "hello"})).await;
    let sent = server.bot(&bot, "sendMessage", json!({"chat_id": person.id, "text": "hi"})).await;
    assert_eq!(sent["chat"]["id"], person.id);
    assert_eq!(sent["from"]["id"], bot.id);
    assert_eq!(sent["message_id"], 2);
    let sent = server.bot(&bot, "sendMessage", json!({"chat_id": "@shy_person", "text": "again"})).await;
    assert_eq!(sent["message_id"], 3);
}

#[tokio::test]
async fn send_message_errors_use_telegram_wording_and_change_nothing() {
    let server = TestServer::start().await;
    let (person, bot) = server.person_and_bot("strict_person", "strict_bot").await;
    let other = server.create_bot(&person, "other_bot").await;
    let call = |params: Value| server.bot_call(&bot.token, "sendMessage", params);

    assert_error(&call(json!({"text": "x"})).await, 400, "Bad Request: chat_id is empty");
    assert_error(&call(json!({"chat_id": person.id})).await, 400, "Bad Request: message text is empty");
    assert_error(
        &call(json!({"chat_id": person.id, "text": "  "})).await,
        400,
        "Bad Request: message text is empty",
    );
    assert_error(
        &call(json!({"chat_id": person.id, "text": "x".repeat(4097)})).await,
        400,
        "Bad Request: message is too long",
    );
    assert_error(&call(json!({"chat_id": 42, "text": "x"})).await, 400, "Bad Request: chat not found");
    assert_error(&call(json!({"chat_id": -100, "text": "x"})).await, 400, "Bad Request: chat not found");
    assert_error(
        &call(json!({"chat_id": "@nobody_here", "text": "x"})).await,
        400,
        "Bad Request: chat not found",
    );
    assert_error(
        &call(json!({"chat_id": other.id, "text": "x"})).await,
        403,
        "Forbidden: bot can't send messages to bots",
    );
    assert_error(
        &call(json!({"chat_id": person.id, "text": "x", "reply_to_message_id": 99})).await,
        400,
        "Bad Request: message to be replied not found",
    );
    assert_error(
        &call(json!({"chat_id": person.id, "text": "x", "reply_parameters": {"message_id": 99}})).await,
        400,
        "Bad Request: message to be replied not found",
    );
    assert_error(
        &call(json!({"chat_id": person.id, "text": "x", "parse_mode": "Klingon"})).await,
        400,
        "Bad Request: unsupported parse_mode",
    );
    assert_error(
        &call(json!({"chat_id": person.id, "text": "ab", "entities": [{"type": "bold", "offset": 1, "length": 5}]}))
            .await,
        400,
        "Bad Request: entity beginning or end is out of the text",
    );
    let (status, body) = call(json!({"chat_id": person.id, "text": "x", "reply_to_message_id": "one"})).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["description"].as_str().unwrap_or_default().starts_with("Bad Request: can't parse parameter"),
        "{body}"
    );
    let response = must(
        server
            .http
            .post(server.url(&format!("/bot{}/sendMessage", bot.token)))
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await,
    );
    assert_eq!(response.status(), 400);

    // None of that stored anything: the next message is number 2 and the history holds only /start.
    let history = server.client(&person, "getHistory", json!({"chat_id": bot.id})).await;
    assert_eq!(history.as_array().map(Vec::len), Some(1));
    // A missing reply target is forgiven when asked to.
    let sent = server
        .bot(
            &bot,
            "sendMessage",
            json!({"chat_id": person.id, "text": "ok", "reply_parameters": {"message_id": 99, "allow_sending_without_reply": true}}),
        )
        .await;
    assert_eq!(sent["message_id"], 2);
    assert!(sent.get("reply_to_message").is_none());
    // A real reply carries the replied message.
    let sent = server
        .bot(&bot, "sendMessage", json!({"chat_id": person.id, "text": "re", "reply_to_message_id": 1}))
        .await;
    assert_eq!(sent["reply_to_message"]["text"], "/start");
}

#[tokio::test]
async fn incoming_text_carries_telegram_entities() {
    let server = TestServer::start().await;
    let person = server.register("entity_fan").await;
    let bot = server.create_bot(&person, "entity_bot").await;
    let text = "🙂 /help@entity_bot ask @entity_fan about #rust $BTC at https://roost.dev or mail a@b.co, +1 555 123 4567";
    server.client(&person, "sendMessage", json!({"chat_id": bot.id, "text": text})).await;
    let updates = server.bot(&bot, "getUpdates", json!({})).await;
    let message = &updates[0]["message"];
    assert_eq!(message["text"], text);
    let units: Vec<u16> = text.encode_utf16().collect();
    let found: Vec<(String, String)> = message["entities"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let offset = e["offset"].as_u64().unwrap_or(0) as usize;
            let length = e["length"].as_u64().unwrap_or(0) as usize;
            (
                e["type"].as_str().unwrap_or("").to_owned(),
                String::from_utf16_lossy(&units[offset..offset + length]),
            )
        })
        .collect();
    let expected = [
        ("bot_command", "/help@entity_bot"),
        ("mention", "@entity_fan"),
        ("hashtag", "#rust"),
        ("cashtag", "$BTC"),
        ("url", "https://roost.dev"),
        ("email", "a@b.co"),
        ("phone_number", "+1 555 123 4567"),
    ];
    let expected: Vec<(String, String)> =
        expected.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    assert_eq!(found, expected);
    // The emoji before the command counts two UTF-16 units.
    assert_eq!(message["entities"][0]["offset"], 3);
}

#[tokio::test]
async fn concurrent_sends_get_distinct_increasing_ids() {
    let server = TestServer::start().await;
    let (person, bot) = server.person_and_bot("busy_person", "busy_bot").await;
    let sends =
        (0..50).map(|i| {
            let server = &server;
            let bot = &bot;
            let person = &person;
            async move {
                server.bot(bot, "sendMessage", json!({"chat_id": person.id, "text": format!("n{i}")})).await
            }
        });
    let sent = futures_util::future::join_all(sends).await;
    let mut ids: Vec<i64> = sent.iter().filter_map(|m| m["message_id"].as_i64()).collect();
    ids.sort_unstable();
    assert_eq!(ids, (2..=51).collect::<Vec<_>>());

    // The person writes 20 times concurrently; the bot's update ids are 1..=21 with no gap.
    let writes = (0..20).map(|i| {
        let server = &server;
        let bot = &bot;
        let person = &person;
        async move {
            server.client(person, "sendMessage", json!({"chat_id": bot.id, "text": format!("p{i}")})).await
        }
    });
    futures_util::future::join_all(writes).await;
    let updates = server.bot(&bot, "getUpdates", json!({})).await;
    let update_ids: Vec<i64> =
        updates.as_array().into_iter().flatten().filter_map(|u| u["update_id"].as_i64()).collect();
    assert_eq!(update_ids, (1..=21).collect::<Vec<_>>());
}

/// sendMessage runs without a savepoint of its own (its checks come before its first write), in
/// group commits shared with other requests: requests that fail their checks, sent at the same
/// time as good ones, fail alone and leave nothing behind.
#[tokio::test]
async fn failing_sends_beside_good_ones_fail_alone() {
    let server = TestServer::start().await;
    let (person, bot) = server.person_and_bot("mixed_person", "mixed_bot").await;
    // A person with a chat with the bot who never wrote in it.
    let silent = server.register("silent_person").await;
    server.client(&silent, "openPrivateChat", json!({"user_id": bot.id})).await;
    let sends = (0..60).map(|i| {
        let (server, bot, person, silent) = (&server, &bot, &person, &silent);
        async move {
            let params = match i % 4 {
                0 => json!({"chat_id": person.id, "text": format!("good {i}")}),
                1 => json!({"chat_id": person.id, "text": "reply", "reply_to_message_id": 999}),
                2 => json!({"chat_id": silent.id, "text": "hello?"}),
                _ => json!({"chat_id": 12345, "text": "nobody"}),
            };
            (i, server.bot_call(&bot.token, "sendMessage", params).await)
        }
    });
    let answers = futures_util::future::join_all(sends).await;
    let mut ids = Vec::new();
    for (i, answer) in &answers {
        match i % 4 {
            0 => {
                assert_eq!(answer.0, 200, "{}", answer.1);
                ids.extend(answer.1["result"]["message_id"].as_i64());
            }
            1 => assert_error(answer, 400, "Bad Request: message to be replied not found"),
            2 => assert_error(answer, 403, "Forbidden: bot can't initiate conversation with a user"),
            _ => assert_error(answer, 400, "Bad Request: chat not found"),
        }
    }
    ids.sort_unstable();
    assert_eq!(ids, (2..=16).collect::<Vec<_>>());
    let history = server.client(&person, "getHistory", json!({"chat_id": bot.id, "limit": 100})).await;
    assert_eq!(history.as_array().map(Vec::len), Some(16), "/start and the 15 good ones");
    assert_eq!(server.client(&silent, "getHistory", json!({"chat_id": bot.id})).await, json!([]));
}

#[tokio::test]
async fn hostile_parameters_get_clean_4xx_answers() {
    let server = TestServer::start().await;
    let (person, bot) = server.person_and_bot("hostile_one", "hostile_bot").await;
    let call = |params: Value| server.bot_call(&bot.token, "sendMessage", params);

    // Overflowing entity bounds.
    assert_error(
        &call(json!({"chat_id": person.id, "text": "ab", "entities": [{"type": "bold", "offset": i64::MAX, "length": 1}]}))
            .await,
        400,
        "Bad Request: entity beginning or end is out of the text",
    );
    // Markup nested deeper than any keyboard.
    let mut deep = json!([]);
    for _ in 0..100 {
        deep = json!([deep]);
    }
    assert_error(
        &call(json!({"chat_id": person.id, "text": "x", "reply_markup": {"inline_keyboard": deep}})).await,
        400,
        "Bad Request: can't parse reply keyboard markup JSON object",
    );
    // The most negative offset.
    let (status, body) = server.bot_call(&bot.token, "getUpdates", json!({"offset": i64::MIN})).await;
    assert_eq!(status, 200, "{body}");
    // A reply to a message of another chat is not a reply to the same id here.
    assert_error(
        &call(json!({"chat_id": person.id, "text": "x", "reply_parameters": {"message_id": 1, "chat_id": 12345}})).await,
        400,
        "Bad Request: message to be replied not found",
    );
    let sent = server
        .bot(&bot, "sendMessage", json!({"chat_id": person.id, "text": "x", "reply_parameters": {"message_id": 1, "chat_id": person.id}}))
        .await;
    assert_eq!(sent["reply_to_message"]["message_id"], 1);
    // The person's stream and the bot's queue still read fine.
    let history = server.client(&person, "getHistory", json!({"chat_id": bot.id})).await;
    assert_eq!(history.as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn plain_bot_text_carries_detected_entities() {
    let server = TestServer::start().await;
    let (person, bot) = server.person_and_bot("reader_one", "linker_bot").await;
    let sent = server
        .bot(&bot, "sendMessage", json!({"chat_id": person.id, "text": "see https://roost.dev /help"}))
        .await;
    assert_eq!(
        sent["entities"],
        json!([{"type": "url", "offset": 4, "length": 17}, {"type": "bot_command", "offset": 22, "length": 5}])
    );
    // parse_mode names are case-insensitive.
    let sent = server
        .bot(&bot, "sendMessage", json!({"chat_id": person.id, "text": "<b>x</b>", "parse_mode": "Html"}))
        .await;
    assert_eq!(sent["entities"], json!([{"type": "bold", "offset": 0, "length": 1}]));
}
