//! Managing bots: the owner API (client API methods), personal API keys, bots' error logs, the
//! registration policy, and the system bot's conversation.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{Person, TestServer, assert_error, must};

/// A bot made through the owner API: its id and token.
async fn make_bot(server: &TestServer, owner: &Person, username: &str) -> (i64, String) {
    let made = server.client(owner, "createBot", json!({"name": "Helper", "username": username})).await;
    let id = must(made["bot"]["id"].as_i64().ok_or("no id"));
    (id, must(made["token"].as_str().ok_or("no token")).to_owned())
}

async fn get_me(server: &TestServer, token: &str) -> (u16, Value) {
    server.bot_call(token, "getMe", json!({})).await
}

#[tokio::test]
async fn the_owner_api_makes_edits_revokes_and_deletes_bots() {
    let server = TestServer::start().await;
    let ann = server.register("ann_owner").await;
    let bob = server.register("bob_other").await;
    let (id, token) = make_bot(&server, &ann, "Helper_bot").await;
    let (status, me) = get_me(&server, &token).await;
    assert_eq!(status, 200);
    assert_eq!(me["result"]["username"], "Helper_bot");
    assert_eq!(me["result"]["first_name"], "Helper");

    // Listed, shown, and its token shown again.
    let mine = server.client(&ann, "getMyBots", json!({})).await;
    assert_eq!(mine.as_array().map(Vec::len), Some(1), "{mine}");
    assert_eq!(mine[0]["username"], "Helper_bot");
    assert_eq!(mine[0]["is_deleted"], false);
    assert_eq!(mine[0]["token_kept"], true);
    assert_eq!(server.client(&ann, "getBotToken", json!({"bot_id": id})).await, json!(token));
    let shown = server.client(&ann, "getBot", json!({"username": "@helper_BOT"})).await;
    assert_eq!(shown["id"], id);
    assert_eq!(shown["pending_update_count"], 0);

    // Another person's bot reads as no bot at all.
    for method in ["getBot", "getBotToken", "revokeBotToken", "deleteBot", "editBot"] {
        assert_error(
            &server.client_call(Some(&bob.token), method, json!({"bot_id": id, "name": "Mine"})).await,
            400,
            "Bad Request: bot not found",
        );
    }

    // Edits: getMe and people's getBotInfo show them.
    let commands = json!([{"command": "start", "description": "Begin"}]);
    let edited = server
        .client(
            &ann,
            "editBot",
            json!({"bot_id": id, "name": "Helpful", "description": "I help.", "short_description": "Helps",
                   "commands": commands, "can_read_all_group_messages": true, "can_join_groups": false}),
        )
        .await;
    assert_eq!(edited["name"], "Helpful");
    let (_, me) = get_me(&server, &token).await;
    assert_eq!(me["result"]["first_name"], "Helpful");
    assert_eq!(me["result"]["can_read_all_group_messages"], true);
    assert_eq!(me["result"]["can_join_groups"], false);
    let info = server.client(&bob, "getBotInfo", json!({"username": "helper_bot"})).await;
    assert_eq!(info["name"], "Helpful");
    assert_eq!(info["description"], "I help.");
    assert_eq!(info["short_description"], "Helps");
    assert_eq!(info["commands"], commands);
    assert!(info.get("owner_id").is_none(), "people see the profile only: {info}");
    let (_, texts) = server.bot_call(&token, "getMyDescription", json!({})).await;
    assert_eq!(texts["result"]["description"], "I help.");

    // An edit with one bad field changes nothing.
    assert_error(
        &server
            .client_call(
                Some(&ann.token),
                "editBot",
                json!({"bot_id": id, "name": "Changed", "short_description": "x".repeat(121)}),
            )
            .await,
        400,
        "Bad Request: BOT_SHORT_DESCRIPTION_INVALID",
    );
    assert_eq!(server.client(&bob, "getBotInfo", json!({"bot_id": id})).await["name"], "Helpful");

    // A new token: the old one answers 401 at once, the new one works.
    let fresh = server.client(&ann, "revokeBotToken", json!({"bot_id": id})).await;
    let new_token = must(fresh["token"].as_str().ok_or("no token")).to_owned();
    assert_ne!(new_token, token);
    assert_eq!(get_me(&server, &token).await.0, 401);
    assert_eq!(get_me(&server, &new_token).await.0, 200);
    assert_eq!(server.client(&ann, "getBotToken", json!({"bot_id": id})).await, json!(new_token));

    // Bob writes to it; then it is deleted: its token is dead, it is listed as deleted, writing
    // to it is refused, and its username is taken forever, in any case.
    server.client(&bob, "sendMessage", json!({"chat_id": "@helper_bot", "text": "hi"})).await;
    assert_eq!(server.client(&ann, "deleteBot", json!({"bot_id": id})).await, json!(true));
    assert_eq!(get_me(&server, &new_token).await.0, 401);
    let mine = server.client(&ann, "getMyBots", json!({})).await;
    assert_eq!(mine[0]["is_deleted"], true);
    assert_error(
        &server.client_call(Some(&bob.token), "sendMessage", json!({"chat_id": id, "text": "hello?"})).await,
        403,
        "Forbidden: user is deactivated",
    );
    for username in ["helper_bot", "HELPER_BOT"] {
        assert_error(
            &server
                .client_call(Some(&ann.token), "createBot", json!({"name": "Again", "username": username}))
                .await,
            400,
            "Bad Request: USERNAME_OCCUPIED",
        );
    }
    assert_error(
        &server.client_call(Some(&ann.token), "getBotToken", json!({"bot_id": id})).await,
        400,
        "Bad Request: bot not found",
    );
}

#[tokio::test]
async fn bot_usernames_and_the_per_person_limit() {
    let server = TestServer::start().await;
    let ann = server.register("ann_many").await;
    for bad in ["abot", "helper", "1st_bot", "my-bot", "bot__bot", &format!("{}bot", "a".repeat(30))] {
        assert_error(
            &server.client_call(Some(&ann.token), "createBot", json!({"name": "X", "username": bad})).await,
            400,
            "Bad Request: bot username must be 5-32 characters of a-z, 0-9 and _ and end in \"bot\"",
        );
    }
    // Without a name, the username is its name.
    let made = server.client(&ann, "createBot", json!({"name": "", "username": "fine_bot"})).await;
    assert_eq!(made["bot"]["name"], "fine_bot");
    // Twenty bots, deleted ones included.
    let mut first = 0;
    let made = server.client(&ann, "getMyBots", json!({})).await.as_array().map_or(0, Vec::len);
    for i in made..20 {
        let (id, _) = make_bot(&server, &ann, &format!("many{i}_bot")).await;
        if first == 0 {
            first = id;
        }
    }
    server.client(&ann, "deleteBot", json!({"bot_id": first})).await;
    assert_error(
        &server
            .client_call(Some(&ann.token), "createBot", json!({"name": "One more", "username": "extra_bot"}))
            .await,
        400,
        "Bad Request: BOTS_TOO_MUCH: a person may create at most 20 bots, deleted ones included",
    );
    // The operator is not held to it.
    must(server.core.create_bot("ann_many", "operator_made_bot", Some("Ops")).await);
}

#[tokio::test]
async fn api_keys_act_for_their_person_on_the_owner_api_only() {
    let server = TestServer::start().await;
    let ann = server.register("ann_keys").await;
    let made = server.client(&ann, "createApiKey", json!({"name": "deploy script"})).await;
    let key = must(made["key"].as_str().ok_or("no key")).to_owned();
    assert!(key.starts_with("roost_"), "{key}");
    let listed = server.client(&ann, "listApiKeys", json!({})).await;
    assert_eq!(listed[0]["name"], "deploy script");
    assert!(listed[0].get("key").is_none(), "a key is shown once: {listed}");

    // The key makes and lists bots …
    let (status, body) = server
        .client_call(Some(&key), "createBot", json!({"name": "Deployer", "username": "deploy_bot"}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server.client_call(Some(&key), "getMyBots", json!({})).await;
    assert_eq!((status, body["result"][0]["username"].clone()), (200, json!("deploy_bot")));
    // … but cannot write as the person, watch their events or make keys.
    for method in ["sendMessage", "getChats", "createApiKey", "listApiKeys", "logout"] {
        assert_error(
            &server.client_call(Some(&key), method, json!({"chat_id": 1, "text": "x", "name": "n"})).await,
            403,
            "Forbidden: this method needs a signed-in session, not an API key",
        );
    }
    let url = format!("ws://{}/client/v1/events?token={key}", server.addr);
    match tokio_tungstenite::connect_async(url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 401)
        }
        other => panic!("an API key opened an event stream: {:?}", other.map(|_| ())),
    }

    assert_error(
        &server.client_call(Some(&ann.token), "createApiKey", json!({"name": " "})).await,
        400,
        "Bad Request: API_KEY_NAME_INVALID: 1-64 characters",
    );
    let id = listed[0]["id"].clone();
    assert_eq!(server.client(&ann, "revokeApiKey", json!({"id": id})).await, json!(true));
    assert_eq!(server.client_call(Some(&key), "getMyBots", json!({})).await.0, 401);
    assert_error(
        &server.client_call(Some(&ann.token), "revokeApiKey", json!({"id": id})).await,
        400,
        "Bad Request: API key not found",
    );
}

/// Waits for the bot's error log to hold `n` entries.
async fn errors_of(server: &TestServer, owner: &Person, id: i64, n: usize) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = server.client(owner, "getBotErrors", json!({"bot_id": id})).await;
        if log.as_array().map_or(0, Vec::len) >= n || Instant::now() > deadline {
            return log;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_bots_error_log_has_refused_calls_and_failed_deliveries() {
    let server = TestServer::start().await;
    let ann = server.register("ann_errors").await;
    let (id, token) = make_bot(&server, &ann, "clumsy_bot").await;
    assert_error(
        &server.bot_call(&token, "sendMessage", json!({"chat_id": 123, "text": "x"})).await,
        400,
        "Bad Request: chat not found",
    );
    let log = errors_of(&server, &ann, id, 1).await;
    assert_eq!(log[0]["source"], "call");
    assert_eq!(log[0]["method"], "sendMessage");
    assert_eq!(log[0]["status"], 400);
    assert_eq!(log[0]["description"], "Bad Request: chat not found");

    // A receiver that refuses, with words of its own.
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(|| async { (axum::http::StatusCode::SERVICE_UNAVAILABLE, "busy, try later") }),
    );
    let listener = must(tokio::net::TcpListener::bind("127.0.0.1:0").await);
    let addr = must(listener.local_addr());
    tokio::spawn(async move { axum::serve(listener, app).await });
    server
        .bot(
            &crate::common::Bot { id, token: token.clone(), username: "clumsy_bot".into() },
            "setWebhook",
            json!({"url": format!("http://{addr}/hook")}),
        )
        .await;
    server.client(&ann, "sendMessage", json!({"chat_id": id, "text": "/start"})).await;
    let log = errors_of(&server, &ann, id, 2).await;
    let delivery = log.as_array().and_then(|l| l.iter().find(|e| e["source"] == "webhook")).cloned();
    let delivery = must(delivery.ok_or(format!("no webhook entry in {log}")));
    assert_eq!(delivery["status"], 503);
    assert_eq!(
        delivery["description"],
        "Wrong response from the webhook: 503 Service Unavailable: busy, try later"
    );
}

#[tokio::test]
async fn a_known_method_not_served_yet_says_so() {
    let server = TestServer::start().await;
    let ann = server.register("ann_methods").await;
    let (_, token) = make_bot(&server, &ann, "curious_bot").await;
    assert_error(
        &server.bot_call(&token, "sendPhoto", json!({"chat_id": 1})).await,
        404,
        "Not Found: method sendPhoto is not served by Roost yet (docs/compatibility.md lists what is)",
    );
    assert_error(&server.bot_call(&token, "sendFoto", json!({})).await, 404, "Not Found");
}

#[tokio::test]
async fn registration_can_be_closed_or_by_invitation() {
    let closed = TestServer::start_with(|c| c.registration = roost_core::Registration::Closed).await;
    let form = json!({"username": "someone", "password": "correct horse", "first_name": "S"});
    assert_error(
        &closed.client_call(None, "register", form.clone()).await,
        403,
        "Forbidden: registration is closed on this server",
    );
    // The operator still creates accounts.
    must(
        closed
            .core
            .create_user(roost_types::requests::Register {
                username: Some("someone".into()),
                password: Some("correct horse".into()),
                first_name: Some("S".into()),
                ..Default::default()
            })
            .await,
    );

    let invited = TestServer::start_with(|c| {
        c.registration = roost_core::Registration::Invite { people_invite: true };
    })
    .await;
    assert_error(
        &invited.client_call(None, "register", form.clone()).await,
        403,
        "Forbidden: an invite code is required to register on this server",
    );
    let mut with = form.clone();
    with["invite"] = json!("made-up");
    assert_error(
        &invited.client_call(None, "register", with.clone()).await,
        400,
        "Bad Request: INVITE_INVALID: the invite code is unknown or already used",
    );
    let code = must(invited.core.create_invite(roost_core::Manager::Operator).await);
    with["invite"] = json!(code);
    let (status, body) = invited.client_call(None, "register", with.clone()).await;
    assert_eq!(status, 200, "{body}");
    let token = must(body["result"]["token"].as_str().ok_or("no token")).to_owned();
    // Used once only.
    with["username"] = json!("another");
    assert_error(
        &invited.client_call(None, "register", with.clone()).await,
        400,
        "Bad Request: INVITE_INVALID: the invite code is unknown or already used",
    );
    // People may invite on this server.
    let (status, code) = invited.client_call(Some(&token), "createInvite", json!({})).await;
    assert_eq!(status, 200, "{code}");
    with["invite"] = code["result"].clone();
    assert_eq!(invited.client_call(None, "register", with).await.0, 200);

    let open = TestServer::start().await;
    let person = open.register("plain_person").await;
    assert_error(
        &open.client_call(Some(&person.token), "createInvite", json!({})).await,
        403,
        "Forbidden: only the operator makes invite codes on this server",
    );
}

/// A conversation with the system bot: what a person sends, and the text of each answer.
struct Chat<'a> {
    server: &'a TestServer,
    person: &'a Person,
    /// The system bot's newest message as last seen (an edit changes it in place).
    seen: Value,
}

impl Chat<'_> {
    /// Sends `text` to @BotMama and returns its answer (the next message from it).
    async fn say(&mut self, text: &str) -> Value {
        self.server.client(self.person, "sendMessage", json!({"chat_id": "@BotMama", "text": text})).await;
        self.answer().await
    }

    /// The next message of the system bot, or an edit of one.
    async fn answer(&mut self) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let history = self
                .server
                .client(self.person, "getHistory", json!({"chat_id": "@BotMama", "limit": 5}))
                .await;
            let newest = history
                .as_array()
                .and_then(|m| {
                    m.iter().filter(|m| m["from"]["is_bot"] == true).max_by_key(|m| m["message_id"].as_i64())
                })
                .cloned();
            if let Some(message) = newest {
                let seen = json!([message["message_id"], message["text"], message["reply_markup"]]);
                if seen != self.seen {
                    self.seen = seen;
                    return message;
                }
            }
            assert!(Instant::now() < deadline, "the system bot did not answer: {history}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    async fn press(&mut self, message: &Value, data: &str) -> Value {
        let chat_id = "@BotMama";
        self.server
            .client(
                self.person,
                "pressButton",
                json!({"chat_id": chat_id, "message_id": message["message_id"], "callback_data": data}),
            )
            .await;
        self.answer().await
    }
}

fn text(message: &Value) -> &str {
    message["text"].as_str().unwrap_or_default()
}

/// The callback data of the button whose text starts with `label`.
fn button(message: &Value, label: &str) -> String {
    let rows = message["reply_markup"]["inline_keyboard"].as_array().cloned().unwrap_or_default();
    rows.iter()
        .flat_map(|row| row.as_array().cloned().unwrap_or_default())
        .find(|b| b["text"].as_str().unwrap_or_default().starts_with(label))
        .and_then(|b| b["callback_data"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("no button {label:?} in {message}"))
}

#[tokio::test]
async fn the_system_bot_makes_and_manages_bots_in_conversation() {
    let server = TestServer::start().await;
    let ann = server.register("ann_chatter").await;
    let mut chat = Chat { server: &server, person: &ann, seen: Value::Null };
    // Its other names are the same bot.
    let mama = server.client(&ann, "getBotInfo", json!({"username": "BotMama"})).await;
    let god = server.client(&ann, "getBotInfo", json!({"username": "@botgod"})).await;
    assert_eq!(mama["id"], god["id"]);
    assert_eq!(mama["is_system"], true);

    assert!(text(&chat.say("/start").await).contains("/newbot - create a new bot"));
    assert!(text(&chat.say("/newbot").await).contains("choose a name"));
    assert!(text(&chat.say("Two\nlines").await).contains("this name is invalid"));
    assert!(text(&chat.say("Weather Helper").await).contains("choose a username"));
    assert!(text(&chat.say("not valid").await).contains("this username is invalid"));
    let done = chat.say("weather_helper_bot").await;
    assert!(text(&done).starts_with("Done! Congratulations"), "{done}");
    let token = must(
        text(&done)
            .lines()
            .find(|l| l.contains(':') && !l.contains(' '))
            .ok_or("no token line")
            .map(str::to_owned),
    );
    assert_eq!(server.bot_call(&token, "getMe", json!({})).await.1["result"]["first_name"], "Weather Helper");

    // /setdescription through a typed @username; /setcommands; /setprivacy with the keyboard.
    assert!(text(&chat.say("/setdescription @weather_helper_bot").await).contains("new description"));
    assert!(text(&chat.say("I tell the weather.").await).starts_with("Success"));
    assert!(text(&chat.say("/setcommands weather_helper_bot").await).contains("command1 - Description"));
    assert!(text(&chat.say("today - Weather today\nweek - The week ahead").await).starts_with("Success"));
    let (_, commands) = server.bot_call(&token, "getMyCommands", json!({})).await;
    assert_eq!(commands["result"][1], json!({"command": "week", "description": "The week ahead"}));
    let (_, description) = server.bot_call(&token, "getMyDescription", json!({})).await;
    assert_eq!(description["result"]["description"], "I tell the weather.");
    assert!(text(&chat.say("/setprivacy @weather_helper_bot").await).contains("Current status is: ENABLED"));
    assert!(text(&chat.say("Disable").await).starts_with("Success"));
    assert_eq!(
        server.bot_call(&token, "getMe", json!({})).await.1["result"]["can_read_all_group_messages"],
        true
    );

    // A bot picked from a list's buttons: the choices to type come in a new message.
    let list = chat.say("/setjoingroups").await;
    let asked = chat.press(&list, &button(&list, "@weather_helper_bot")).await;
    assert!(text(&asked).contains("Current status is: ENABLED"), "{asked}");
    assert_eq!(asked["reply_markup"]["keyboard"][0][1]["text"], "Disable", "{asked}");
    assert!(text(&chat.say("Disable").await).starts_with("Success"));
    assert_eq!(server.bot_call(&token, "getMe", json!({})).await.1["result"]["can_join_groups"], false);
    // A command list pasted with its slashes is the list, not a command.
    assert!(text(&chat.say("/setcommands @weather_helper_bot").await).contains("command1 - Description"));
    assert!(text(&chat.say("/today - Weather today").await).starts_with("Success"));

    // /cancel leaves a command half-way.
    assert!(text(&chat.say("/setname").await).contains("Choose a bot"));
    assert!(text(&chat.say("/cancel").await).contains("/setname has been cancelled"));

    // /mybots: pick the bot, then its token, then revoke it.
    let list = chat.say("/mybots").await;
    let menu = chat.press(&list, &button(&list, "@weather_helper_bot")).await;
    assert!(text(&menu).contains("What do you want to do with the bot?"), "{menu}");
    let shown = chat.press(&menu, &button(&menu, "API Token")).await;
    assert!(text(&shown).contains(&token), "{shown}");
    let menu = chat.press(&shown, &button(&shown, "« Back")).await;
    let revoked = chat.press(&menu, &button(&menu, "Revoke Token")).await;
    assert!(!text(&revoked).contains(&token));
    assert_eq!(server.bot_call(&token, "getMe", json!({})).await.0, 401, "the old token is dead at once");
    let new_token = must(
        text(&revoked)
            .lines()
            .find(|l| l.contains(':') && !l.contains(' '))
            .ok_or("no token line")
            .map(str::to_owned),
    );
    assert_eq!(server.bot_call(&new_token, "getMe", json!({})).await.0, 200);

    // /deletebot asks for the exact words.
    assert!(text(&chat.say("/deletebot @weather_helper_bot").await).contains("Are you sure?"));
    assert!(text(&chat.say("yes").await).contains("exactly like this"));
    assert!(text(&chat.say("Yes, I am totally sure.").await).starts_with("Done! The bot is gone"));
    assert_eq!(server.bot_call(&new_token, "getMe", json!({})).await.0, 401);
    assert!(text(&chat.say("/mybots").await).contains("You have currently no bots"));
}
