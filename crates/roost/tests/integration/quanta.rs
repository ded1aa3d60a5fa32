//! Quanta's bot API under `/api/v1/bot/`: the owner's endpoints with a JWT, the bot's with
//! `X-Bot-Token`, updates handed out once (or acknowledged by hand), buttons and callbacks, its
//! errors, and signed webhook deliveries.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use serde_json::{Value, json};

use crate::common::{Person, TestServer, must};

/// A Quanta request: method, path under `/api/v1/bot`, headers, JSON body; status and body.
async fn quanta(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    auth: (&str, &str),
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = server.http.request(method, server.url(&format!("/api/v1/bot{path}")));
    if !auth.1.is_empty() {
        request = request.header(auth.0, auth.1);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = must(request.send().await);
    let status = response.status().as_u16();
    (status, must(response.json().await))
}

fn bearer(jwt: &str) -> String {
    format!("Bearer {jwt}")
}

async fn jwt_of(server: &TestServer, person: &Person) -> String {
    let issued = server.client(person, "issueJwt", json!({})).await;
    must(issued["token"].as_str().ok_or("no JWT")).to_owned()
}

/// Registers a bot through Quanta's owner endpoint; its object and api_key.
async fn register(server: &TestServer, jwt: &str, body: Value) -> (Value, String) {
    let auth = bearer(jwt);
    let (status, made) =
        quanta(server, reqwest::Method::POST, "/register", ("authorization", &auth), Some(body)).await;
    assert_eq!(status, 200, "{made}");
    (made["bot"].clone(), must(made["api_key"].as_str().ok_or("no api_key")).to_owned())
}

#[tokio::test]
async fn a_quanta_bot_from_registration_to_callbacks() {
    let server = TestServer::start().await;
    let owner = server.register("quanta_owner").await;
    let jwt = jwt_of(&server, &owner).await;
    let commands = json!([{"command": "start", "description": "Start bot"}]);
    let (bot, key) = register(
        &server,
        &jwt,
        json!({"name": "MyBot", "description": "Does things", "commands": commands, "permissions": ["read_messages", "send_messages"]}),
    )
    .await;
    assert!(key.starts_with("bot_"), "{key}");
    assert_eq!(bot["name"], "MyBot");
    assert_eq!(bot["description"], "Does things");
    assert_eq!(bot["is_active"], true);
    assert_eq!(bot["commands"], commands);
    let username = must(bot["username"].as_str().ok_or("no username")).to_owned();
    assert_eq!(username, "my_bot");
    let auth = ("x-bot-token", key.as_str());

    let (status, me) = quanta(&server, reqwest::Method::GET, "/me", auth, None).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["id"], bot["id"]);
    let (_, mine) =
        quanta(&server, reqwest::Method::GET, "/my-bots", ("authorization", &bearer(&jwt)), None).await;
    assert_eq!(mine["bots"][0]["id"], bot["id"]);

    // A person writes /start: one update, handed out once.
    let person = server.register("quanta_person").await;
    server
        .client(&person, "sendMessage", json!({"chat_id": format!("@{username}"), "text": "/start now"}))
        .await;
    let (status, got) = quanta(&server, reqwest::Method::GET, "/updates?timeout=2", auth, None).await;
    assert_eq!(status, 200, "{got}");
    let update = &got["updates"][0];
    assert_eq!(update["type"], "message");
    let payload = &update["payload"];
    assert_eq!(payload["content"], "/start now");
    assert_eq!(payload["is_command"], true);
    assert_eq!(payload["command"], "start");
    assert_eq!(payload["username"], "quanta_person");
    assert_eq!(payload["chat_id"], payload["user_id"]);
    assert!(update["created_at"].as_str().is_some_and(|t| t.contains('T')), "{update}");
    let (_, again) = quanta(&server, reqwest::Method::GET, "/updates?timeout=0", auth, None).await;
    assert_eq!(again["updates"], json!([]), "handed out once");

    // An answer with buttons; the person presses one; the bot answers and edits.
    let chat = payload["chat_id"].clone();
    let buttons = json!([[{"text": "Option A", "callback_data": "opt_a"}], [{"text": "Visit Site", "url": "https://example.com"}]]);
    let (status, sent) = quanta(
        &server,
        reqwest::Method::POST,
        "/send-message",
        auth,
        Some(json!({"chat_id": chat, "content": "Choose an option:", "payload": {"is_bot": true, "buttons": buttons}})),
    )
    .await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(sent["message"]["buttons"], buttons);
    let history = server.client(&person, "getHistory", json!({"chat_id": format!("@{username}")})).await;
    let shown = history.as_array().and_then(|h| h.last()).cloned().unwrap_or_default();
    assert_eq!(shown["text"], "Choose an option:");
    let message_id = shown["message_id"].clone();
    let press = {
        let (server, person, username) = (&server, &person, username.clone());
        async move {
            server
                .client(person, "pressButton", json!({"chat_id": format!("@{username}"), "message_id": message_id, "callback_data": "opt_a", "timeout": 5}))
                .await
        }
    };
    let handle = async {
        loop {
            let (_, got) = quanta(&server, reqwest::Method::GET, "/updates?timeout=5", auth, None).await;
            if let Some(query) =
                got["updates"].as_array().into_iter().flatten().find(|u| u["type"] == "callback_query")
            {
                let payload = &query["payload"];
                assert_eq!(payload["data"], "opt_a");
                assert_eq!(payload["message_id"], sent["message"]["message_id"]);
                let (status, answered) = quanta(
                    &server,
                    reqwest::Method::POST,
                    "/answer-callback",
                    auth,
                    Some(json!({"callback_id": payload["callback_id"], "text": "Picked A", "chat_id": chat, "message_content": "You picked A"})),
                )
                .await;
                assert_eq!(status, 200, "{answered}");
                return;
            }
        }
    };
    let (pressed, ()) = tokio::join!(press, handle);
    assert_eq!(pressed["answer"]["text"], "Picked A", "{pressed}");
    let history = server.client(&person, "getHistory", json!({"chat_id": format!("@{username}")})).await;
    assert_eq!(
        history.as_array().and_then(|h| h.last()).map(|m| m["text"].clone()),
        Some(json!("You picked A"))
    );

    // Two calls at once hand each update out once between them.
    for text in ["one", "two", "three"] {
        server.client(&person, "sendMessage", json!({"chat_id": format!("@{username}"), "text": text})).await;
    }
    let (a, b) = tokio::join!(
        quanta(&server, reqwest::Method::GET, "/updates?timeout=0", auth, None),
        quanta(&server, reqwest::Method::GET, "/updates?timeout=0", auth, None)
    );
    let mut seen: Vec<String> = [a.1, b.1]
        .iter()
        .flat_map(|got| got["updates"].as_array().cloned().unwrap_or_default())
        .filter_map(|u| u["payload"]["content"].as_str().map(str::to_owned))
        .collect();
    seen.sort();
    assert_eq!(seen, ["one", "three", "two"]);

    // Acknowledging by hand: the same update until /ack.
    server
        .client(&person, "sendMessage", json!({"chat_id": format!("@{username}"), "text": "keep me"}))
        .await;
    let (_, first) = quanta(&server, reqwest::Method::GET, "/updates?timeout=2&ack=manual", auth, None).await;
    let (_, second) =
        quanta(&server, reqwest::Method::GET, "/updates?timeout=0&ack=manual", auth, None).await;
    assert_eq!(first["updates"][0]["id"], second["updates"][0]["id"]);
    let (status, _) =
        quanta(&server, reqwest::Method::POST, "/ack", auth, Some(json!({"id": first["updates"][0]["id"]})))
            .await;
    assert_eq!(status, 200);
    let (_, after) = quanta(&server, reqwest::Method::GET, "/updates?timeout=0&ack=manual", auth, None).await;
    assert_eq!(after["updates"], json!([]));

    // Commands replace the menu; the person sees them.
    let menu = json!([{"command": "help", "description": "Show help"}]);
    let (status, _) =
        quanta(&server, reqwest::Method::POST, "/set-commands", auth, Some(json!({"commands": menu}))).await;
    assert_eq!(status, 200);
    assert_eq!(
        server.client(&person, "getBotCommands", json!({"chat_id": format!("@{username}")})).await,
        menu
    );

    // The owner deletes it; its key stops working.
    let path = format!("/delete/{}", bot["id"].as_str().unwrap_or_default());
    let (status, _) =
        quanta(&server, reqwest::Method::DELETE, &path, ("authorization", &bearer(&jwt)), None).await;
    assert_eq!(status, 200);
    let (status, refused) = quanta(&server, reqwest::Method::GET, "/me", auth, None).await;
    assert_eq!((status, refused), (401, json!({"error": "Unauthorized"})));
}

#[tokio::test]
async fn quanta_errors_in_its_shape() {
    let server = TestServer::start().await;
    let owner = server.register("quanta_errs").await;
    let jwt = jwt_of(&server, &owner).await;
    let (bot, key) = register(&server, &jwt, json!({"name": "Err Bot"})).await;
    let auth = ("x-bot-token", key.as_str());
    let cases = [
        (reqwest::Method::GET, "/me", ("x-bot-token", ""), None, 401, "Unauthorized"),
        (
            reqwest::Method::POST,
            "/send-message",
            auth,
            Some(json!({"content": "x"})),
            400,
            "chat_id and content are required",
        ),
        (
            reqwest::Method::POST,
            "/send-message",
            auth,
            Some(json!({"chat_id": "12", "content": "x"})),
            400,
            "chat_id must be a UUID",
        ),
        (
            reqwest::Method::POST,
            "/send-message",
            auth,
            Some(json!({"chat_id": "550e8400-e29b-41d4-a716-446655440000", "content": "x"})),
            404,
            "chat_id not found",
        ),
        (
            reqwest::Method::POST,
            "/answer-callback",
            auth,
            Some(json!({"callback_id": "nope"})),
            404,
            "query is too old and response timeout expired or query ID is invalid",
        ),
        (
            reqwest::Method::POST,
            "/register",
            ("authorization", "Bearer not.a.jwt"),
            Some(json!({"name": "X"})),
            401,
            "session token is missing or invalid",
        ),
        (
            reqwest::Method::POST,
            "/register",
            ("authorization", &bearer(&jwt)),
            Some(json!({})),
            400,
            "name is required",
        ),
    ];
    for (method, path, auth, body, code, words) in cases {
        let (status, answer) = quanta(&server, method, path, auth, body).await;
        assert_eq!((status, answer.clone()), (code, json!({"error": words})), "{path}: {answer}");
    }
    // A refused register makes no bot; unknown paths and methods answer in Quanta's shape.
    let bad = json!({"name": "Half Made", "commands": [{"command": "my-cmd", "description": "x"}]});
    let (status, _) =
        quanta(&server, reqwest::Method::POST, "/register", ("authorization", &bearer(&jwt)), Some(bad))
            .await;
    assert_eq!(status, 400);
    let (_, mine) =
        quanta(&server, reqwest::Method::GET, "/my-bots", ("authorization", &bearer(&jwt)), None).await;
    assert_eq!(mine["bots"].as_array().map(Vec::len), Some(1), "{mine}");
    let (status, answer) = quanta(&server, reqwest::Method::GET, "/frobnicate", auth, None).await;
    assert_eq!((status, answer), (404, json!({"error": "Not Found"})));
    let (status, answer) = quanta(&server, reqwest::Method::GET, "/send-message", auth, None).await;
    assert_eq!((status, answer), (405, json!({"error": "Method Not Allowed"})));

    // Another person's bot reads as no bot; a JWT ends with its session.
    let other = server.register("quanta_other").await;
    let other_jwt = jwt_of(&server, &other).await;
    let path = format!("/delete/{}", bot["id"].as_str().unwrap_or_default());
    let (status, _) =
        quanta(&server, reqwest::Method::DELETE, &path, ("authorization", &bearer(&other_jwt)), None).await;
    assert_eq!(status, 404);
    server.client(&other, "logout", json!({})).await;
    let (status, _) =
        quanta(&server, reqwest::Method::GET, "/my-bots", ("authorization", &bearer(&other_jwt)), None).await;
    assert_eq!(status, 401);
}

/// A delivery as received: its raw body and its signature header.
type Delivery = (Vec<u8>, String);

#[tokio::test]
async fn quanta_webhook_deliveries_are_signed() {
    let server = TestServer::start().await;
    let owner = server.register("quanta_hooker").await;
    let jwt = jwt_of(&server, &owner).await;
    let (bot, key) = register(&server, &jwt, json!({"name": "Hook Bot"})).await;
    let auth = ("x-bot-token", key.as_str());
    // A receiver that keeps each delivery's raw body and signature.
    let got: Arc<Mutex<Vec<Delivery>>> = Arc::default();
    let kept = Arc::clone(&got);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let kept = Arc::clone(&kept);
            async move {
                let signature =
                    headers.get("x-quanta-signature").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                if let Ok(mut kept) = kept.lock() {
                    kept.push((body.to_vec(), signature));
                }
                "ok"
            }
        }),
    );
    let listener = must(tokio::net::TcpListener::bind("127.0.0.1:0").await);
    let addr = must(listener.local_addr());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let (status, set) = quanta(
        &server,
        reqwest::Method::PUT,
        "/webhook",
        auth,
        Some(json!({"url": format!("http://{addr}/hook")})),
    )
    .await;
    assert_eq!(status, 200, "{set}");
    let secret = must(set["secret"].as_str().ok_or("no secret")).to_owned();
    assert!(secret.len() >= 32);
    let person = server.register("quanta_hooked").await;
    let username = bot["username"].as_str().unwrap_or_default();
    server
        .client(&person, "sendMessage", json!({"chat_id": format!("@{username}"), "text": "over the hook"}))
        .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let (body, signature) = loop {
        if let Some(first) = got.lock().ok().and_then(|g| g.first().cloned()) {
            break first;
        }
        assert!(std::time::Instant::now() < deadline, "no delivery");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    use hmac::Mac;
    let mut mac = must(hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()));
    mac.update(&body);
    assert_eq!(signature, format!("sha256={}", hex::encode(mac.finalize().into_bytes())));
    let update: Value = must(serde_json::from_slice(&body));
    assert_eq!(update["type"], "message");
    assert_eq!(update["payload"]["content"], "over the hook");
    let (status, _) = quanta(&server, reqwest::Method::DELETE, "/webhook", auth, None).await;
    assert_eq!(status, 200);
}
