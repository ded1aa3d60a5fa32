//! The client API: accounts, chats, history, and the live event stream.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::common::{Person, TestServer, assert_error, must};

#[tokio::test]
async fn register_login_and_sessions() {
    let server = TestServer::start().await;
    let (status, body) = server
        .client_call(
            None,
            "register",
            json!({"username": "Carol_1", "password": "long enough", "first_name": "Carol", "last_name": "C", "language_code": "en"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let user = &body["result"]["user"];
    assert_eq!(user["username"], "Carol_1");
    assert_eq!(user["is_bot"], false);
    assert!(user["id"].as_i64().unwrap_or(0) > 0);

    // Usernames are unique without regard to case, and must be valid.
    assert_error(
        &server
            .client_call(
                None,
                "register",
                json!({"username": "carol_1", "password": "long enough", "first_name": "X"}),
            )
            .await,
        400,
        "Bad Request: USERNAME_OCCUPIED",
    );
    for bad in ["ab", "9lives", "has space", "ends_", "sneaky_bot"] {
        assert_error(
            &server
                .client_call(
                    None,
                    "register",
                    json!({"username": bad, "password": "long enough", "first_name": "X"}),
                )
                .await,
            400,
            "Bad Request: USERNAME_INVALID: 5-32 characters of a-z, 0-9 and _, starting with a letter (a person's may not end in \"bot\")",
        );
    }
    assert_error(
        &server
            .client_call(
                None,
                "register",
                json!({"username": "dave_x", "password": "short", "first_name": "D"}),
            )
            .await,
        400,
        "Bad Request: PASSWORD_INVALID: 8-256 characters",
    );
    assert_error(
        &server.client_call(None, "register", json!({"username": "dave_x", "password": "long enough"})).await,
        400,
        "Bad Request: FIRST_NAME_INVALID: 1-64 characters",
    );

    // Login opens a new session; wrong passwords and unknown users read the same.
    let (status, body) =
        server.client_call(None, "login", json!({"username": "carol_1", "password": "long enough"})).await;
    assert_eq!(status, 200, "{body}");
    let token = body["result"]["token"].as_str().unwrap_or_default().to_owned();
    assert_error(
        &server
            .client_call(None, "login", json!({"username": "carol_1", "password": "wrong password"}))
            .await,
        401,
        "Unauthorized: wrong username or password",
    );
    assert_error(
        &server
            .client_call(None, "login", json!({"username": "nobody_at_all", "password": "whatever1"}))
            .await,
        401,
        "Unauthorized: wrong username or password",
    );
    let (status, me) = server.client_call(Some(&token), "getMe", json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(me["result"]["first_name"], "Carol");
    assert_eq!(me["result"]["language_code"], "en");

    // Without a valid session nothing but register and login works.
    let unauthorized = "Unauthorized: session token is missing or invalid";
    assert_error(&server.client_call(None, "getMe", json!({})).await, 401, unauthorized);
    assert_error(&server.client_call(Some("forged"), "getChats", json!({})).await, 401, unauthorized);
    // Logging out ends only that session.
    let (status, _) = server.client_call(Some(&token), "logout", json!({})).await;
    assert_eq!(status, 200);
    assert_error(&server.client_call(Some(&token), "getMe", json!({})).await, 401, unauthorized);
    assert_error(&server.client_call(Some(&token), "noSuchMethod", json!({})).await, 401, unauthorized);
}

#[tokio::test]
async fn resolve_open_send_history_and_chat_list() {
    let server = TestServer::start().await;
    let ann = server.register("ann_person").await;
    let ben = server.register("ben_person").await;
    let bot = server.create_bot(&ann, "helper_bot").await;

    let resolved = server.client(&ann, "resolveUsername", json!({"username": "@Helper_Bot"})).await;
    assert_eq!(resolved["id"], bot.id);
    assert_eq!(resolved["is_bot"], true);
    assert_error(
        &server.client_call(Some(&ann.token), "resolveUsername", json!({"username": "missing_one"})).await,
        400,
        "Bad Request: USERNAME_NOT_OCCUPIED",
    );
    assert_error(
        &server.client_call(Some(&ann.token), "openPrivateChat", json!({"user_id": 5})).await,
        400,
        "Bad Request: PEER_ID_INVALID",
    );

    // Ann writes to Ben by username; each sees the chat under the other's id, same message_id.
    let chat = server.client(&ann, "openPrivateChat", json!({"username": "ben_person"})).await;
    assert_eq!(chat["id"], ben.id);
    let sent = server.client(&ann, "sendMessage", json!({"chat_id": ben.id, "text": "hi Ben"})).await;
    assert_eq!(sent["chat"]["id"], ben.id);
    let seen = server.client(&ben, "getHistory", json!({"chat_id": ann.id})).await;
    assert_eq!(seen[0]["chat"]["id"], ann.id);
    assert_eq!(seen[0]["message_id"], sent["message_id"]);
    let reply = server
        .client(&ben, "sendMessage", json!({"chat_id": ann.id, "text": "hi Ann", "reply_to_message_id": 1}))
        .await;
    assert_eq!(reply["message_id"], 2);
    assert_eq!(reply["reply_to_message"]["text"], "hi Ben");

    // Then to the bot; Ann's chat list is newest first with each chat's last message.
    server.client(&ann, "sendMessage", json!({"chat_id": bot.id, "text": "/start"})).await;
    let chats = server.client(&ann, "getChats", json!({})).await;
    let ids: Vec<i64> =
        chats.as_array().into_iter().flatten().filter_map(|c| c["chat"]["id"].as_i64()).collect();
    assert_eq!(ids, [bot.id, ben.id], "the chat with the newest message first");
    let ben_entry = chats
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["chat"]["id"] == ben.id)
        .cloned()
        .unwrap_or_default();
    assert_eq!(ben_entry["last_message"]["text"], "hi Ann");

    // A reply in a chat that does not exist yet fails, and creates no chat.
    let cat = server.register("cat_person").await;
    assert_error(
        &server
            .client_call(
                Some(&cat.token),
                "sendMessage",
                json!({"chat_id": "@ann_person", "text": "hello?", "reply_to_message_id": 1}),
            )
            .await,
        400,
        "Bad Request: message to be replied not found",
    );
    assert_eq!(server.client(&cat, "getChats", json!({})).await, json!([]));

    // History pages backwards.
    for i in 0..5 {
        server.client(&ann, "sendMessage", json!({"chat_id": ben.id, "text": format!("m{i}")})).await;
    }
    let page = server.client(&ann, "getHistory", json!({"chat_id": ben.id, "limit": 3})).await;
    let texts: Vec<&str> = page.as_array().into_iter().flatten().filter_map(|m| m["text"].as_str()).collect();
    assert_eq!(texts, ["m2", "m3", "m4"]);
    let older = server
        .client(&ann, "getHistory", json!({"chat_id": ben.id, "limit": 3, "before_message_id": 5}))
        .await;
    let texts: Vec<&str> =
        older.as_array().into_iter().flatten().filter_map(|m| m["text"].as_str()).collect();
    assert_eq!(texts, ["hi Ann", "m0", "m1"]);
    assert_error(
        &server.client_call(Some(&ben.token), "getHistory", json!({"chat_id": bot.id})).await,
        400,
        "Bad Request: chat not found",
    );
    assert_error(
        &server.client_call(Some(&ben.token), "sendMessage", json!({"chat_id": ann.id, "text": ""})).await,
        400,
        "Bad Request: message text is empty",
    );
}

pub(crate) type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub(crate) async fn connect(server: &TestServer, person: &Person, after: Option<i64>) -> Socket {
    connect_ready(server, person, after).await.0
}

/// An event stream, and the `seq` its `ready` frame says it continues after.
pub(crate) async fn connect_ready(server: &TestServer, person: &Person, after: Option<i64>) -> (Socket, i64) {
    let mut url = format!("ws://{}/client/v1/events?token={}", server.addr, person.token);
    if let Some(after) = after {
        url.push_str(&format!("&after={after}"));
    }
    let (mut socket, _) = must(tokio_tungstenite::connect_async(url).await);
    let ready = next_json(&mut socket).await;
    assert_eq!(ready["type"], "ready", "{ready}");
    let seq = must(ready["seq"].as_i64().ok_or("no seq"));
    (socket, seq)
}

/// Whether the server closes an event stream within `within` (frames before the close are read
/// and dropped).
pub(crate) async fn closes_within(socket: &mut Socket, within: Duration) -> bool {
    let closed = tokio::time::timeout(within, async {
        loop {
            match socket.next().await {
                None | Some(Err(_)) | Some(Ok(WsMessage::Close(_))) => return,
                Some(Ok(_)) => {}
            }
        }
    });
    closed.await.is_ok()
}

pub(crate) async fn next_json(socket: &mut Socket) -> Value {
    loop {
        let frame = must(tokio::time::timeout(Duration::from_secs(10), socket.next()).await);
        match frame {
            Some(Ok(WsMessage::Text(text))) => return must(serde_json::from_str(&text)),
            Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

#[tokio::test]
async fn event_stream_is_live_and_resumable() {
    let server = TestServer::start().await;
    let (person, bot) = server.person_and_bot("streamer", "stream_bot").await;
    let mut socket = connect(&server, &person, None).await;

    // The bot answers; the person's stream shows it as the person sees it.
    server.bot(&bot, "sendMessage", json!({"chat_id": person.id, "text": "pong"})).await;
    let event = next_json(&mut socket).await;
    assert_eq!(event["type"], "message");
    assert_eq!(event["message"]["text"], "pong");
    assert_eq!(event["message"]["chat"]["id"], bot.id);
    let seq = event["seq"].as_i64().unwrap_or(0);
    assert!(seq >= 2, "the /start echo to the sender's own devices came first");

    // The person's own messages appear too (other devices stay in sync).
    server.client(&person, "sendMessage", json!({"chat_id": bot.id, "text": "mine"})).await;
    let event = next_json(&mut socket).await;
    assert_eq!(event["message"]["text"], "mine");
    let mine = event["seq"].as_i64().unwrap_or(0);
    assert!(mine > seq, "{event}");
    must(socket.close(None).await);

    // While disconnected, two more messages; a reconnect after the last seen seq replays them.
    server.bot(&bot, "sendMessage", json!({"chat_id": person.id, "text": "missed 1"})).await;
    server.bot(&bot, "sendMessage", json!({"chat_id": person.id, "text": "missed 2"})).await;
    let mut socket = connect(&server, &person, Some(mine)).await;
    let missed = [next_json(&mut socket).await, next_json(&mut socket).await];
    assert_eq!(missed[0]["message"]["text"], "missed 1");
    assert_eq!(missed[1]["message"]["text"], "missed 2");
    let seqs = [mine, missed[0]["seq"].as_i64().unwrap_or(0), missed[1]["seq"].as_i64().unwrap_or(0)];
    assert!(seqs.is_sorted() && seqs[0] < seqs[1] && seqs[1] < seqs[2], "{seqs:?}");
    server.bot(&bot, "sendMessage", json!({"chat_id": person.id, "text": "live again"})).await;
    let event = next_json(&mut socket).await;
    assert_eq!(event["message"]["text"], "live again");
    assert!(event["seq"].as_i64().unwrap_or(0) > seqs[2], "{event}");

    // A bad session cannot open a stream.
    let url = format!("ws://{}/client/v1/events?token=forged", server.addr);
    assert!(tokio_tungstenite::connect_async(url).await.is_err());
}

/// A new message reaches a person's stream as a reference to the message, rendered when the
/// stream is read: a replay shows it as it is now (edited, with the edit's own event after it) and
/// leaves out one deleted since (its deletion follows in the stream).
/// Without a WebSocket upgrade the same stream comes as Server-Sent Events: what
/// `curl -N -H "Authorization: Bearer …" …/client/v1/events` shows.
#[tokio::test]
async fn the_event_stream_also_comes_as_server_sent_events() {
    let server = TestServer::start().await;
    let (person, bot) = server.person_and_bot("sse_reader", "sse_bot").await;
    let mut response =
        must(server.http.get(server.url("/client/v1/events")).bearer_auth(&person.token).send().await);
    assert_eq!(response.status().as_u16(), 200);
    let content_type =
        response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    assert!(content_type.starts_with("text/event-stream"), "{content_type}");
    let mut text = String::new();
    let mut next_data = async || -> Value {
        loop {
            if let Some(end) = text.find("\n\n") {
                let frame: String = text.drain(..end + 2).collect();
                if let Some(data) = frame.lines().find_map(|l| l.strip_prefix("data: ")) {
                    return must(serde_json::from_str(data));
                }
                continue;
            }
            let chunk = must(must(tokio::time::timeout(Duration::from_secs(10), response.chunk()).await));
            text.push_str(&String::from_utf8_lossy(&must(chunk.ok_or("the stream ended"))));
        }
    };
    assert_eq!(next_data().await["type"], "ready");
    server.bot(&bot, "sendMessage", json!({"chat_id": person.id, "text": "over SSE"})).await;
    let event = next_data().await;
    assert_eq!(event["type"], "message");
    assert_eq!(event["message"]["text"], "over SSE");
    // A bad token is refused before anything streams.
    let refused = must(server.http.get(server.url("/client/v1/events")).bearer_auth("nonsense").send().await);
    assert_eq!(refused.status().as_u16(), 401);
}

#[tokio::test]
async fn a_replay_shows_messages_as_they_are_now() {
    let server = TestServer::start().await;
    let (person, bot) = server.person_and_bot("replayer", "replay_bot").await;
    let mut socket = connect(&server, &person, None).await;
    server.bot(&bot, "sendMessage", json!({"chat_id": person.id, "text": "seen live"})).await;
    let live = next_json(&mut socket).await;
    assert_eq!(live["message"]["text"], "seen live");
    let seq = live["seq"].as_i64().unwrap_or(0);
    must(socket.close(None).await);

    let to_edit = server.bot(&bot, "sendMessage", json!({"chat_id": person.id, "text": "draft"})).await;
    let to_delete = server.bot(&bot, "sendMessage", json!({"chat_id": person.id, "text": "oops"})).await;
    let edit = json!({"chat_id": person.id, "message_id": to_edit["message_id"], "text": "final"});
    server.bot(&bot, "editMessageText", edit).await;
    server
        .bot(&bot, "deleteMessage", json!({"chat_id": person.id, "message_id": to_delete["message_id"]}))
        .await;

    let mut socket = connect(&server, &person, Some(seq)).await;
    let message = next_json(&mut socket).await;
    assert_eq!(message["type"], "message", "{message}");
    assert!(message["seq"].as_i64().unwrap_or(0) > seq, "{message}");
    assert_eq!(message["message"]["message_id"], to_edit["message_id"]);
    assert_eq!(message["message"]["text"], "final");
    assert_eq!(message["message"]["chat"]["id"], bot.id, "rendered as the person sees it");
    assert!(message["message"]["edit_date"].is_i64(), "{message}");
    // The deleted message is left out.
    let edited = next_json(&mut socket).await;
    assert_eq!(edited["type"], "edited_message", "{edited}");
    assert!(edited["seq"].as_i64() > message["seq"].as_i64(), "{edited}");
    assert_eq!(edited["message"]["text"], "final");
    let deleted = next_json(&mut socket).await;
    assert_eq!(deleted["type"], "deleted_messages", "{deleted}");
    assert!(deleted["seq"].as_i64() > edited["seq"].as_i64(), "{deleted}");
    assert_eq!(deleted["message_ids"], json!([to_delete["message_id"]]));
}

/// A person's stream is one order over all their chats and their other events: live and in a
/// replay alike, the same events with the same `seq`s, as they were committed. (On SQLite the
/// `seq`s are places in one timeline that everyone's messages take, so they have gaps: here
/// another person's message comes between.)
#[tokio::test]
async fn a_stream_orders_all_chats_as_committed_live_and_in_a_replay() {
    let server = TestServer::start().await;
    let (ann, first_bot) = server.person_and_bot("merger", "first_merge_bot").await;
    let second_bot = server.create_bot(&ann, "second_merge_bot").await;
    server.client(&ann, "sendMessage", json!({"chat_id": second_bot.id, "text": "/start"})).await;
    let (bob, bobs_bot) = server.person_and_bot("bystander", "bystander_bot").await;
    let (mut socket, ready) = connect_ready(&server, &ann, None).await;

    let one = server.bot(&first_bot, "sendMessage", json!({"chat_id": ann.id, "text": "one"})).await;
    server.bot(&bobs_bot, "sendMessage", json!({"chat_id": bob.id, "text": "not ann's"})).await;
    server.bot(&second_bot, "sendMessage", json!({"chat_id": ann.id, "text": "two"})).await;
    let edit = json!({"chat_id": ann.id, "message_id": one["message_id"], "text": "one, edited"});
    server.bot(&first_bot, "editMessageText", edit).await;
    server.client(&ann, "sendMessage", json!({"chat_id": first_bot.id, "text": "three"})).await;

    let describe = |event: &Value| {
        (event["type"].as_str().unwrap_or_default().to_owned(), event["message"]["chat"]["id"].as_i64())
    };
    let mut live = Vec::new();
    for _ in 0..4 {
        live.push(next_json(&mut socket).await);
    }
    let kinds: Vec<_> = live.iter().map(describe).collect();
    assert_eq!(
        kinds,
        [
            ("message".to_owned(), Some(first_bot.id)),
            ("message".to_owned(), Some(second_bot.id)),
            ("edited_message".to_owned(), Some(first_bot.id)),
            ("message".to_owned(), Some(first_bot.id)),
        ]
    );
    let seqs: Vec<i64> = live.iter().map(|e| e["seq"].as_i64().unwrap_or(-1)).collect();
    assert!(seqs[0] > ready && seqs.windows(2).all(|w| w[0] < w[1]), "{ready} {seqs:?}");

    // A replay from where the stream was ready: the same events, the same seqs, the same order
    // (the first message as it is now).
    let mut replay = connect(&server, &ann, Some(ready)).await;
    for expected in &live {
        let event = next_json(&mut replay).await;
        assert_eq!(event["seq"], expected["seq"], "{event}");
        assert_eq!(describe(&event), describe(expected));
    }
    // From the middle: what follows the second event only.
    let mut replay = connect(&server, &ann, Some(seqs[1])).await;
    assert_eq!(next_json(&mut replay).await["seq"], seqs[2]);
    assert_eq!(next_json(&mut replay).await["seq"], seqs[3]);
    // And a stream that starts live is ready after the newest of them.
    assert!(connect_ready(&server, &ann, None).await.1 >= seqs[3]);
}

/// A replay reads the stream in pages: a page that leaves out deleted messages is shorter than
/// it read, and the replay must still go on to the next page at once, not wait for a new event.
#[tokio::test]
async fn a_replay_goes_past_a_page_short_of_deleted_messages() {
    let server = TestServer::start().await;
    let (person, bot) = server.person_and_bot("pager", "pager_bot").await;
    let mut first = Value::Null;
    // More than one replay page (200 events) of new messages, the first one deleted.
    for i in 0..201 {
        let sent =
            server.bot(&bot, "sendMessage", json!({"chat_id": person.id, "text": format!("n{i}")})).await;
        if i == 0 {
            first = sent;
        }
    }
    server.bot(&bot, "deleteMessage", json!({"chat_id": person.id, "message_id": first["message_id"]})).await;

    let mut socket = connect(&server, &person, Some(0)).await;
    let mut texts = Vec::new();
    loop {
        let event = next_json(&mut socket).await;
        match event["type"].as_str() {
            Some("message") => texts.push(event["message"]["text"].as_str().unwrap_or_default().to_owned()),
            Some("deleted_messages") => break,
            _ => panic!("unexpected event {event}"),
        }
    }
    assert!(!texts.contains(&"n0".to_owned()), "the deleted message is left out");
    for i in 1..201 {
        assert!(texts.contains(&format!("n{i}")), "n{i} is missing from the replay");
    }
}
