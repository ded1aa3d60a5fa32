//! Rich messaging: formatting, keyboards, callbacks, editing and the message lifecycle, commands,
//! and rate limits.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::common::{Bot, Person, TestServer, assert_error, must};

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn events(server: &TestServer, person: &Person) -> Socket {
    let url = format!("ws://{}/client/v1/events?token={}", server.addr, person.token);
    let (mut socket, _) = must(tokio_tungstenite::connect_async(url).await);
    let ready = next_event(&mut socket).await;
    assert_eq!(ready["type"], "ready");
    socket
}

async fn next_event(socket: &mut Socket) -> Value {
    loop {
        match must(tokio::time::timeout(Duration::from_secs(10), socket.next()).await) {
            Some(Ok(WsMessage::Text(text))) => return must(serde_json::from_str(&text)),
            Some(Ok(_)) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

/// The next event of a type, skipping others.
async fn next_of(socket: &mut Socket, kind: &str) -> Value {
    loop {
        let event = next_event(socket).await;
        if event["type"] == kind {
            return event;
        }
    }
}

async fn last_update(server: &TestServer, bot: &Bot) -> Value {
    let updates = server.bot(bot, "getUpdates", json!({"offset": -1})).await;
    updates[0].clone()
}

#[tokio::test]
async fn formatted_text_reaches_the_person_with_entities() {
    let server = TestServer::start().await;
    let (person, bot) = server.person_and_bot("reader", "format_bot").await;
    let sent = server
        .bot(&bot, "sendMessage", json!({"chat_id": person.id, "text": "<b>Hi</b> <a href=\"https://roost.dev\">docs</a>", "parse_mode": "HTML"}))
        .await;
    assert_eq!(sent["text"], "Hi docs");
    assert_eq!(
        sent["entities"],
        json!([{"type": "bold", "offset": 0, "length": 2}, {"type": "text_link", "offset": 3, "length": 4, "url": "https://roost.dev/"}])
    );
    let sent = server
        .bot(
            &bot,
            "sendMessage",
            json!({"chat_id": person.id, "text": "*bold* _it_ `x` ||s||", "parse_mode": "MarkdownV2"}),
        )
        .await;
    assert_eq!(sent["text"], "bold it x s");
    let kinds: Vec<&str> =
        sent["entities"].as_array().into_iter().flatten().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(kinds, ["bold", "italic", "code", "spoiler"]);
    let mention = server
        .bot(
            &bot,
            "sendMessage",
            json!({"chat_id": person.id, "text": format!("[you](tg://user?id={})", person.id), "parse_mode": "Markdown"}),
        )
        .await;
    assert_eq!(mention["entities"][0]["type"], "text_mention");
    assert_eq!(mention["entities"][0]["user"]["username"], "reader");

    assert_error(
        &server
            .bot_call(
                &bot.token,
                "sendMessage",
                json!({"chat_id": person.id, "text": "Version 1.0", "parse_mode": "MarkdownV2"}),
            )
            .await,
        400,
        "Bad Request: can't parse entities: Character '.' is reserved and must be escaped with the preceding '\\'",
    );
    assert_error(
        &server
            .bot_call(
                &bot.token,
                "sendMessage",
                json!({"chat_id": person.id, "text": "<b>open", "parse_mode": "HTML"}),
            )
            .await,
        400,
        "Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"b\"",
    );
    let history = server.client(&person, "getHistory", json!({"chat_id": bot.id})).await;
    assert_eq!(history.as_array().map(Vec::len), Some(4), "failed sends stored nothing");
    assert_eq!(history[1]["entities"][0]["type"], "bold");
}

#[tokio::test]
async fn keyboards_are_shown_and_checked() {
    let server = TestServer::start().await;
    let (person, bot) = server.person_and_bot("keyed", "keyboard_bot").await;
    let inline = json!({"inline_keyboard": [[{"text": "Yes", "callback_data": "yes"}, {"text": "Docs", "url": "https://roost.dev"}]]});
    let sent = server
        .bot(&bot, "sendMessage", json!({"chat_id": person.id, "text": "Pick", "reply_markup": inline}))
        .await;
    assert_eq!(sent["reply_markup"], inline);
    let reply = json!({"keyboard": [["Red", "Blue"]], "resize_keyboard": true});
    let sent = server
        .bot(&bot, "sendMessage", json!({"chat_id": person.id, "text": "Color?", "reply_markup": reply}))
        .await;
    assert!(sent.get("reply_markup").is_none(), "bots see inline keyboards only");
    let history = server.client(&person, "getHistory", json!({"chat_id": bot.id})).await;
    assert_eq!(history[1]["reply_markup"], inline);
    assert_eq!(history[2]["reply_markup"], reply, "the person sees the reply keyboard");

    let too_many_rows =
        json!({"inline_keyboard": vec![vec![json!({"text": "x", "callback_data": "x"})]; 26]});
    assert_error(
        &server
            .bot_call(
                &bot.token,
                "sendMessage",
                json!({"chat_id": person.id, "text": "x", "reply_markup": too_many_rows}),
            )
            .await,
        400,
        "Bad Request: reply markup is too long",
    );
    let long_data = json!({"inline_keyboard": [[{"text": "x", "callback_data": "d".repeat(65)}]]});
    assert_error(
        &server
            .bot_call(
                &bot.token,
                "sendMessage",
                json!({"chat_id": person.id, "text": "x", "reply_markup": long_data}),
            )
            .await,
        400,
        "Bad Request: BUTTON_DATA_INVALID",
    );
}

#[tokio::test]
async fn a_button_press_reaches_the_bot_and_its_answer_reaches_the_person() {
    let server = TestServer::start().await;
    let (person, bot) = server.person_and_bot("presser", "callback_bot").await;
    server.bot(&bot, "getUpdates", json!({"offset": 2})).await;
    let keyboard = json!({"inline_keyboard": [[{"text": "Like", "callback_data": "like:7"}]]});
    let sent = server
        .bot(&bot, "sendMessage", json!({"chat_id": person.id, "text": "Rate it", "reply_markup": keyboard}))
        .await;
    let message_id = sent["message_id"].clone();
    let mut socket = events(&server, &person).await;

    let press = server.client(
        &person,
        "pressButton",
        json!({"chat_id": bot.id, "message_id": message_id, "callback_data": "like:7"}),
    );
    let answer = async {
        let updates = server.bot(&bot, "getUpdates", json!({"offset": 2, "timeout": 10})).await;
        let query = updates[0]["callback_query"].clone();
        assert_eq!(query["data"], "like:7");
        assert_eq!(query["from"]["id"], person.id);
        assert_eq!(query["message"]["message_id"], message_id);
        assert!(query["chat_instance"].is_string());
        let id = query["id"].as_str().unwrap_or_default().to_owned();
        server
            .bot(
                &bot,
                "answerCallbackQuery",
                json!({"callback_query_id": id, "text": "Thanks!", "show_alert": true}),
            )
            .await;
        id
    };
    let (pressed, id) = tokio::join!(press, answer);
    assert_eq!(pressed["callback_query_id"], id.as_str());
    assert_eq!(pressed["answer"]["text"], "Thanks!");
    assert_eq!(pressed["answer"]["show_alert"], true);
    let event = next_of(&mut socket, "callback_answer").await;
    assert_eq!(event["callback_query_id"], id.as_str());
    assert_eq!(event["text"], "Thanks!");

    let invalid = "Bad Request: query is too old and response timeout expired or query ID is invalid";
    assert_error(
        &server.bot_call(&bot.token, "answerCallbackQuery", json!({"callback_query_id": id})).await,
        400,
        invalid,
    );
    assert_error(
        &server.bot_call(&bot.token, "answerCallbackQuery", json!({"callback_query_id": "123"})).await,
        400,
        invalid,
    );
    // Pressing by position works too; an unanswered press returns after its timeout.
    let pressed = server
        .client(
            &person,
            "pressButton",
            json!({"chat_id": bot.id, "message_id": message_id, "row": 0, "column": 0, "timeout": 0}),
        )
        .await;
    assert!(pressed["callback_query_id"].is_string());
    assert!(pressed.get("answer").is_none());
    let (status, _) = server
        .client_call(
            Some(&person.token),
            "pressButton",
            json!({"chat_id": bot.id, "message_id": message_id, "callback_data": "nope"}),
        )
        .await;
    assert_eq!(status, 400);

    // A reply keyboard button sends its text.
    let reply = json!({"keyboard": [["Red", "Blue"]]});
    let sent = server
        .bot(&bot, "sendMessage", json!({"chat_id": person.id, "text": "Color?", "reply_markup": reply}))
        .await;
    let pressed = server
        .client(
            &person,
            "pressButton",
            json!({"chat_id": bot.id, "message_id": sent["message_id"], "text": "Blue"}),
        )
        .await;
    assert_eq!(pressed["message"]["text"], "Blue");
    assert_eq!(last_update(&server, &bot).await["message"]["text"], "Blue");
}

#[tokio::test]
async fn editing_and_its_errors() {
    let server = TestServer::start().await;
    let (person, bot) = server.person_and_bot("editor", "edit_bot").await;
    let keyboard = json!({"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]});
    let sent = server
        .bot(&bot, "sendMessage", json!({"chat_id": person.id, "text": "draft", "reply_markup": keyboard}))
        .await;
    let id = sent["message_id"].clone();
    let mut socket = events(&server, &person).await;

    let edited = server
        .bot(&bot, "editMessageText", json!({"chat_id": person.id, "message_id": id, "text": "<i>final</i>", "parse_mode": "HTML", "reply_markup": keyboard}))
        .await;
    assert_eq!(edited["text"], "final");
    assert_eq!(edited["entities"][0]["type"], "italic");
    assert!(edited["edit_date"].as_i64().unwrap_or(0) > 0);
    assert_eq!(edited["reply_markup"], keyboard);
    let event = next_of(&mut socket, "edited_message").await;
    assert_eq!(event["message"]["text"], "final");

    let not_modified = "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message";
    assert_error(
        &server.bot_call(&bot.token, "editMessageText", json!({"chat_id": person.id, "message_id": id, "text": "<i>final</i>", "parse_mode": "HTML", "reply_markup": keyboard})).await,
        400,
        not_modified,
    );
    // Without reply_markup the keyboard goes, as in Telegram; then removing it again changes nothing.
    let edited =
        server.bot(&bot, "editMessageReplyMarkup", json!({"chat_id": person.id, "message_id": id})).await;
    assert!(edited.get("reply_markup").is_none());
    assert_error(
        &server
            .bot_call(&bot.token, "editMessageReplyMarkup", json!({"chat_id": person.id, "message_id": id}))
            .await,
        400,
        not_modified,
    );
    assert_error(
        &server
            .bot_call(
                &bot.token,
                "editMessageText",
                json!({"chat_id": person.id, "message_id": 1, "text": "x"}),
            )
            .await,
        400,
        "Bad Request: message can't be edited",
    );
    assert_error(
        &server
            .bot_call(
                &bot.token,
                "editMessageText",
                json!({"chat_id": person.id, "message_id": 99, "text": "x"}),
            )
            .await,
        400,
        "Bad Request: message to edit not found",
    );
    assert_error(
        &server
            .bot_call(
                &bot.token,
                "editMessageCaption",
                json!({"chat_id": person.id, "message_id": id, "caption": "x"}),
            )
            .await,
        400,
        "Bad Request: there is no caption in the message to edit",
    );

    // The person edits their own message; the bot receives edited_message.
    let edited = server
        .client(&person, "editMessage", json!({"chat_id": bot.id, "message_id": 1, "text": "/start again"}))
        .await;
    assert_eq!(edited["text"], "/start again");
    let update = last_update(&server, &bot).await;
    assert_eq!(update["edited_message"]["text"], "/start again");
    assert_eq!(update["edited_message"]["entities"][0]["type"], "bot_command");
    let (status, body) = server
        .client_call(
            Some(&person.token),
            "editMessage",
            json!({"chat_id": bot.id, "message_id": id, "text": "mine"}),
        )
        .await;
    assert_eq!((status, body["description"].as_str()), (400, Some("Bad Request: MESSAGE_AUTHOR_REQUIRED")));
}

#[tokio::test]
async fn delete_forward_copy_pin_react_and_chat_actions() {
    let server = TestServer::start().await;
    let (person, bot) = server.person_and_bot("lifecycle", "life_bot").await;
    for text in ["one", "two", "three"] {
        server.bot(&bot, "sendMessage", json!({"chat_id": person.id, "text": text})).await;
    }
    let mut socket = events(&server, &person).await;

    assert_eq!(
        server.bot(&bot, "deleteMessage", json!({"chat_id": person.id, "message_id": 2})).await,
        json!(true)
    );
    let event = next_of(&mut socket, "deleted_messages").await;
    assert_eq!(
        event,
        json!({"seq": event["seq"], "type": "deleted_messages", "chat_id": bot.id, "message_ids": [2]})
    );
    assert_error(
        &server.bot_call(&bot.token, "deleteMessage", json!({"chat_id": person.id, "message_id": 2})).await,
        400,
        "Bad Request: message to delete not found",
    );
    assert_eq!(
        server.bot(&bot, "deleteMessages", json!({"chat_id": person.id, "message_ids": [3, 77]})).await,
        json!(true)
    );

    let forwarded = server
        .bot(
            &bot,
            "forwardMessage",
            json!({"chat_id": person.id, "from_chat_id": person.id, "message_id": 1}),
        )
        .await;
    assert_eq!(forwarded["text"], "/start");
    assert_eq!(forwarded["forward_origin"]["type"], "user");
    assert_eq!(forwarded["forward_origin"]["sender_user"]["id"], person.id);
    let copied = server
        .bot(&bot, "copyMessage", json!({"chat_id": person.id, "from_chat_id": person.id, "message_id": 4}))
        .await;
    let copy_id = copied["message_id"].as_i64().unwrap_or(0);
    assert!(copy_id > forwarded["message_id"].as_i64().unwrap_or(0));
    assert_eq!(copied.as_object().map(|o| o.len()), Some(1), "copyMessage answers a MessageId");
    let ids = server
        .bot(
            &bot,
            "copyMessages",
            json!({"chat_id": person.id, "from_chat_id": person.id, "message_ids": [1, 4, 99]}),
        )
        .await;
    assert_eq!(ids.as_array().map(Vec::len), Some(2));
    let protected = server
        .bot(&bot, "sendMessage", json!({"chat_id": person.id, "text": "secret", "protect_content": true}))
        .await;
    assert_error(
        &server.bot_call(&bot.token, "forwardMessage", json!({"chat_id": person.id, "from_chat_id": person.id, "message_id": protected["message_id"]})).await,
        400,
        "Bad Request: message can't be forwarded",
    );
    assert_error(
        &server
            .bot_call(
                &bot.token,
                "copyMessage",
                json!({"chat_id": person.id, "from_chat_id": person.id, "message_id": protected["message_id"]}),
            )
            .await,
        400,
        "Bad Request: message can't be copied",
    );
    assert_error(
        &server
            .bot_call(
                &bot.token,
                "copyMessage",
                json!({"chat_id": person.id, "from_chat_id": person.id, "message_id": 999}),
            )
            .await,
        400,
        "Bad Request: message to copy not found",
    );

    assert_eq!(
        server.bot(&bot, "pinChatMessage", json!({"chat_id": person.id, "message_id": 4})).await,
        json!(true)
    );
    assert_eq!(next_of(&mut socket, "message_pinned").await["message_id"], 4);
    assert_eq!(server.bot(&bot, "unpinChatMessage", json!({"chat_id": person.id})).await, json!(true));
    assert_eq!(next_of(&mut socket, "messages_unpinned").await["message_ids"], json!([4]));
    assert_eq!(server.bot(&bot, "unpinAllChatMessages", json!({"chat_id": person.id})).await, json!(true));
    assert_error(
        &server
            .bot_call(&bot.token, "pinChatMessage", json!({"chat_id": person.id, "message_id": 999}))
            .await,
        400,
        "Bad Request: message to pin not found",
    );

    server
        .bot(
            &bot,
            "setMessageReaction",
            json!({"chat_id": person.id, "message_id": 1, "reaction": [{"type": "emoji", "emoji": "👍"}]}),
        )
        .await;
    let event = next_of(&mut socket, "message_reaction").await;
    assert_eq!(event["reaction"], json!([{"type": "emoji", "emoji": "👍"}]));
    assert_eq!(event["user_id"], bot.id);
    let (status, body) = server
        .bot_call(&bot.token, "setMessageReaction", json!({"chat_id": person.id, "message_id": 1, "reaction": [{"type": "emoji", "emoji": "👍"}, {"type": "emoji", "emoji": "🔥"}]}))
        .await;
    assert_eq!((status, body["description"].as_str()), (400, Some("Bad Request: REACTIONS_TOO_MANY")));
    // A person's reaction reaches a bot that asked for message_reaction updates.
    server
        .bot(&bot, "getUpdates", json!({"offset": -1, "allowed_updates": ["message", "message_reaction"]}))
        .await;
    server
        .client(
            &person,
            "setReaction",
            json!({"chat_id": bot.id, "message_id": 4, "reaction": [{"type": "emoji", "emoji": "🔥"}]}),
        )
        .await;
    let update = last_update(&server, &bot).await;
    assert_eq!(update["message_reaction"]["new_reaction"], json!([{"type": "emoji", "emoji": "🔥"}]));
    assert_eq!(update["message_reaction"]["user"]["id"], person.id);
    assert_eq!(update["message_reaction"]["chat"]["id"], person.id);

    assert_eq!(
        server.bot(&bot, "sendChatAction", json!({"chat_id": person.id, "action": "typing"})).await,
        json!(true)
    );
    let event = next_of(&mut socket, "chat_action").await;
    assert_eq!(event["action"], "typing");
    assert_eq!(event["chat_id"], bot.id);
    assert!(event["expires_at"].as_i64().unwrap_or(0) > 0);
    assert_error(
        &server
            .bot_call(&bot.token, "sendChatAction", json!({"chat_id": person.id, "action": "dancing"}))
            .await,
        400,
        "Bad Request: wrong parameter action in request",
    );
}

#[tokio::test]
async fn commands_with_scopes_and_languages_profile_and_menu_button() {
    let server = TestServer::start().await;
    let (status, body) = server
        .client_call(None, "register", json!({"username": "polyglot", "password": "correct horse", "first_name": "P", "language_code": "de"}))
        .await;
    assert_eq!(status, 200);
    let person = Person {
        id: body["result"]["user"]["id"].as_i64().unwrap_or(0),
        token: body["result"]["token"].as_str().unwrap_or_default().to_owned(),
        username: "polyglot".into(),
    };
    let bot = server.create_bot(&person, "menu_bot").await;
    server.client(&person, "sendMessage", json!({"chat_id": bot.id, "text": "/start"})).await;
    async fn menu(server: &TestServer, person: &Person, bot: &Bot) -> Value {
        server.client(person, "getBotCommands", json!({"chat_id": bot.id})).await
    }

    assert_eq!(menu(&server, &person, &bot).await, json!([]));
    server.bot(&bot, "setMyCommands", json!({"commands": [{"command": "start", "description": "Start"}, {"command": "help", "description": "Help"}]})).await;
    assert_eq!(menu(&server, &person, &bot).await.as_array().map(Vec::len), Some(2));
    server
        .bot(
            &bot,
            "setMyCommands",
            json!({"commands": [{"command": "hilfe", "description": "Hilfe"}], "language_code": "de"}),
        )
        .await;
    assert_eq!(
        menu(&server, &person, &bot).await,
        json!([{"command": "hilfe", "description": "Hilfe"}]),
        "the person's language wins"
    );
    server.bot(&bot, "setMyCommands", json!({"commands": [{"command": "private", "description": "P"}], "scope": {"type": "all_private_chats"}})).await;
    assert_eq!(
        menu(&server, &person, &bot).await[0]["command"],
        "private",
        "a narrower scope wins over the default"
    );
    server.bot(&bot, "setMyCommands", json!({"commands": [{"command": "mine", "description": "M"}], "scope": {"type": "chat", "chat_id": person.id}})).await;
    assert_eq!(menu(&server, &person, &bot).await[0]["command"], "mine");

    assert_eq!(
        server.bot(&bot, "getMyCommands", json!({"language_code": "de"})).await,
        json!([{"command": "hilfe", "description": "Hilfe"}])
    );
    assert_eq!(
        server.bot(&bot, "getMyCommands", json!({"scope": {"type": "all_group_chats"}})).await,
        json!([])
    );
    server.bot(&bot, "deleteMyCommands", json!({"scope": {"type": "chat", "chat_id": person.id}})).await;
    assert_eq!(menu(&server, &person, &bot).await[0]["command"], "private");
    let (status, body) = server
        .bot_call(
            &bot.token,
            "setMyCommands",
            json!({"commands": [{"command": "Bad Command", "description": "x"}]}),
        )
        .await;
    assert_eq!((status, body["description"].as_str()), (400, Some("Bad Request: BOT_COMMAND_INVALID")));

    server.bot(&bot, "setMyName", json!({"name": "Menu Master"})).await;
    assert_eq!(server.bot(&bot, "getMe", json!({})).await["first_name"], "Menu Master");
    assert_eq!(server.bot(&bot, "getMyName", json!({})).await, json!({"name": "Menu Master"}));
    server.bot(&bot, "setMyDescription", json!({"description": "Does menus"})).await;
    assert_eq!(
        server.bot(&bot, "getMyDescription", json!({"language_code": "fr"})).await,
        json!({"description": "Does menus"})
    );
    server.bot(&bot, "setMyShortDescription", json!({"short_description": "Menus"})).await;
    assert_eq!(
        server.bot(&bot, "getMyShortDescription", json!({})).await,
        json!({"short_description": "Menus"})
    );

    assert_eq!(server.bot(&bot, "getChatMenuButton", json!({})).await, json!({"type": "default"}));
    let button = json!({"type": "web_app", "text": "Open", "web_app": {"url": "https://app.example.com/"}});
    server.bot(&bot, "setChatMenuButton", json!({"chat_id": person.id, "menu_button": button})).await;
    assert_eq!(server.bot(&bot, "getChatMenuButton", json!({"chat_id": person.id})).await, button);
    server.bot(&bot, "setChatMenuButton", json!({"menu_button": {"type": "commands"}})).await;
    assert_eq!(server.bot(&bot, "getChatMenuButton", json!({})).await, json!({"type": "commands"}));
}

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after() {
    let server = TestServer::start_with(|config| {
        config.rate_limits.enabled = true;
        config.rate_limits.chat_burst = 3.0;
    })
    .await;
    let (person, bot) = server.person_and_bot("limited", "limited_bot").await;
    let send = || server.bot_call(&bot.token, "sendMessage", json!({"chat_id": person.id, "text": "hi"}));
    for _ in 0..3 {
        assert_eq!(send().await.0, 200, "a burst of three is fine");
    }
    let (status, body) = send().await;
    assert_eq!(status, 429);
    assert_eq!(
        body,
        json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 1", "parameters": {"retry_after": 1}})
    );
    let response = must(
        server
            .http
            .post(server.url(&format!("/bot{}/sendMessage", bot.token)))
            .json(&json!({"chat_id": person.id, "text": "hi"}))
            .send()
            .await,
    );
    assert_eq!(response.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
    // The chat is one bucket however it is named.
    let by_name =
        server.bot_call(&bot.token, "sendMessage", json!({"chat_id": "@limited", "text": "hi"})).await;
    assert_eq!(by_name.0, 429, "{}", by_name.1);
    // After a second the chat may send again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(send().await.0, 200);
    // Per bot: 30 requests a second across methods.
    let mut refused = 0;
    for _ in 0..40 {
        if server.bot_call(&bot.token, "getMe", json!({})).await.0 == 429 {
            refused += 1;
        }
    }
    assert!(refused >= 5, "only {refused} of 40 rapid requests were refused");
}
