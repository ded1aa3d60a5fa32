//! No single client can take Roost down, run it out of memory, or read what it shouldn't: each
//! test here is an attack that worked once, tried again.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{TestServer, assert_error, must};
use crate::durability::{Process, admin};

/// Sends raw bytes on a new connection and reads what comes back within `wait`.
async fn exchange(addr: SocketAddr, request: &[u8], wait: Duration) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = must(tokio::net::TcpStream::connect(addr).await);
    must(stream.write_all(request).await);
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + wait;
    // Until the head and a short body have come, the connection closes, or time is up.
    while !(answer.windows(4).any(|w| w == b"\r\n\r\n") && answer.ends_with(b"}")) {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => answer.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// The process's peak resident memory, in MiB.
fn peak_rss_mib(pid: u32) -> u64 {
    let status = must(std::fs::read_to_string(format!("/proc/{pid}/status")));
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
    must(kib.ok_or("no VmHWM")) / 1024
}

/// How many descriptors the process has open.
fn open_descriptors(pid: u32) -> usize {
    must(std::fs::read_dir(format!("/proc/{pid}/fd"))).count()
}

fn write_config(dir: &Path, text: &str) -> String {
    let path = dir.join("roost.toml");
    must(std::fs::write(&path, text));
    path.display().to_string()
}

async fn wait_until(limit: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Megabytes of `&` in HTML were quadratic to parse: 1 MB held both workers for 22 s. Now a text
/// over 32 KiB is refused before parsing, as Telegram's server does (and parameters over 1 MiB
/// before reading them), and a long one parses at once.
#[tokio::test]
async fn many_ampersands_are_answered_at_once() {
    let server = TestServer::start().await;
    let (person, bot) = server.person_and_bot("amper", "amper_bot").await;
    for (text, expected) in [
        ("&".repeat(1_000_000), "Bad Request: text is too long"),
        ("&".repeat(30_000), "Bad Request: message is too long"),
        ("&amp".repeat(8_000), "Bad Request: message is too long"),
    ] {
        let started = Instant::now();
        let answer = server
            .bot_call(
                &bot.token,
                "sendMessage",
                json!({"chat_id": person.id, "text": text, "parse_mode": "HTML"}),
            )
            .await;
        assert_error(&answer, 400, expected);
        assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    }
}

/// 500 wrong passwords at once once took 14 GiB: each Argon2id check holds 19 MiB, and all ran at
/// once. Now a hasher per core, a short queue, and 429 beyond it.
#[tokio::test]
async fn a_burst_of_wrong_passwords_stays_within_memory() {
    let dir = must(tempfile::tempdir());
    let database = crate::common::fresh_database().await;
    let db = database.as_deref();
    admin(dir.path(), db, &["create-user", "victim", "--password", "correct horse", "--create"]);
    let server = Process::start(dir.path(), db);
    let base = format!("http://{}", server.addr);
    let http = reqwest::Client::new();
    let attempts = (0..300).map(|i| {
        let http = http.clone();
        let url = format!("{base}/client/v1/login");
        async move {
            let body = json!({"username": "victim", "password": format!("wrong password {i}")});
            http.post(url).json(&body).send().await.map(|r| r.status().as_u16()).unwrap_or(0)
        }
    });
    let statuses = futures_util::future::join_all(attempts).await;
    assert!(statuses.iter().all(|s| *s == 401 || *s == 429), "{statuses:?}");
    assert!(statuses.contains(&429), "the queue turns the burst away");
    assert!(statuses.contains(&401), "and checks what it can");
    let peak = peak_rss_mib(server.pid());
    assert!(peak < 300, "peak resident memory {peak} MiB");
    let session = crate::durability::login(&http, &base, "victim").await;
    assert!(!session.is_empty(), "the right password still works");
}

/// 300 wrong passwords in 7 s, 1,000 accounts in 10 s from one client: sign-in is limited per
/// address and per account, with Telegram's 429 and `retry_after`.
#[tokio::test]
async fn sign_in_is_limited_per_address_and_per_account() {
    let server = TestServer::start_with(|c| c.rate_limits.enabled = true).await;
    for i in 0..10 {
        server.register(&format!("limited{i}")).await;
    }
    let answer = server
        .client_call(
            None,
            "register",
            json!({"username": "limited10", "password": "correct horse", "first_name": "L"}),
        )
        .await;
    assert_eq!(answer.0, 429, "{}", answer.1);
    assert!(answer.1["parameters"]["retry_after"].as_u64().is_some_and(|s| s > 0), "{}", answer.1);

    let login = |user: &str, password: &str| {
        let body = json!({"username": user, "password": password});
        let server = &server;
        async move { server.client_call(None, "login", body).await }
    };
    for _ in 0..10 {
        assert_eq!(login("limited0", "wrong horse").await.0, 401);
    }
    let refused = login("limited0", "correct horse").await;
    assert_eq!(refused.0, 429, "the account is limited: {}", refused.1);
    // Another account from the same address is not (yet): the address allows 20 a minute.
    assert_eq!(login("limited1", "correct horse").await.0, 200);
    let mut tries = 0;
    while login("limited2", "wrong horse").await.0 == 401 {
        tries += 1;
        assert!(tries < 20, "the address is never limited");
    }

    // Behind a trusted proxy, the forwarded address is the client.
    let proxied = TestServer::start_with(|c| {
        c.rate_limits.enabled = true;
        c.trusted_proxies = vec![must("127.0.0.1/32".parse())];
    })
    .await;
    let register = |name: String, from: &'static str| {
        let request = proxied
            .http
            .post(proxied.url("/client/v1/register"))
            .header("X-Forwarded-For", format!("{from}, 127.0.0.1"))
            .json(&json!({"username": name, "password": "correct horse", "first_name": "P"}));
        async move { must(request.send().await).status().as_u16() }
    };
    for i in 0..10 {
        assert_eq!(register(format!("proxied{i}"), "203.0.113.1").await, 200);
    }
    assert_eq!(register("proxied10".into(), "203.0.113.1").await, 429);
    assert_eq!(register("proxied11".into(), "203.0.113.2").await, 200);
}

/// A connection that sent a byte or two and closed kept a task spinning on it for ever, with
/// its descriptor: 3,000 of them cost a core.
#[tokio::test]
async fn connections_that_send_a_byte_and_close_are_forgotten() {
    let dir = must(tempfile::tempdir());
    let server = Process::start(dir.path(), crate::common::fresh_database().await.as_deref());
    let before = open_descriptors(server.pid());
    for i in 0..300 {
        let mut stream = must(TcpStream::connect(server.addr));
        must(stream.write_all(if i % 2 == 0 { b"P" } else { b"PR" }));
        drop(stream);
    }
    let pid = server.pid();
    let settled = wait_until(Duration::from_secs(5), async || open_descriptors(pid) <= before + 10).await;
    assert!(settled, "{} descriptors open, {before} before", open_descriptors(pid));
}

/// 1,010 silent connections under a limit of 1,024 descriptors locked every other client out and
/// flooded the log. Now silent connections are closed after the header timeout, the server keeps
/// descriptors of its own below a connection cap, and refusals are logged once a second.
#[tokio::test]
async fn silent_connections_time_out_and_the_cap_refuses_cleanly() {
    let dir = must(tempfile::tempdir());
    let config = write_config(dir.path(), "header_timeout_secs = 2\n");
    let data = dir.path().join("data");
    let server = Process::start_under(
        &["prlimit", "--nofile=256:256", "--"],
        &data,
        crate::common::fresh_database().await.as_deref(),
        &["--config", &config],
    );
    let silent: Vec<TcpStream> = (0..400).filter_map(|_| TcpStream::connect(server.addr).ok()).collect();
    assert!(silent.len() > 256, "the test holds more connections than the server has descriptors");
    let http = reqwest::Client::builder().pool_max_idle_per_host(0).build();
    let http = must(http);
    let url = format!("http://{}/healthz", server.addr);
    let served = wait_until(Duration::from_secs(10), async || {
        matches!(http.get(&url).timeout(Duration::from_secs(1)).send().await, Ok(r) if r.status() == 200)
    })
    .await;
    assert!(served, "a client is served again once the silent connections time out");
    let refusals = server.logged("connection limit reached");
    assert!((1..=12).contains(&refusals), "{refusals} lines about refused connections");
    assert!(server.logged("Too many open files") <= 12, "the log is not flooded");
    drop(silent);
}

/// 40 anonymous 19 MiB posts with a wrong token raised memory by 625 MiB: the body was read
/// before the token was checked. Now the token (or session) is checked first.
#[tokio::test]
async fn credentials_are_checked_before_the_body_is_read() {
    let server = TestServer::start().await;
    let head = |path: &str, extra: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nHost: roost\r\nContent-Type: application/json\r\nContent-Length: 19922944\r\n{extra}\r\n{{\"text\":\""
        )
    };
    let wrong_token = "1000000001:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let answer = exchange(
        server.addr,
        head(&format!("/bot{wrong_token}/sendMessage"), "").as_bytes(),
        Duration::from_secs(5),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    let answer = exchange(
        server.addr,
        head("/client/v1/sendMessage", "Authorization: Bearer nosuchsession\r\n").as_bytes(),
        Duration::from_secs(5),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    // Signing in has no credentials to check: its body is small or refused unread.
    let answer =
        exchange(server.addr, head("/client/v1/register", "").as_bytes(), Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
}

/// A 19 MiB JSON body was parsed on an async worker. As in Telegram's server, a call's parameters
/// other than files (a JSON or form body, the text fields of a multipart one) total at most 1 MiB.
#[tokio::test]
async fn parameters_beyond_a_mebibyte_are_refused_unparsed() {
    let server = TestServer::start().await;
    let (person, bot) = server.person_and_bot("bulky", "bulky_bot").await;
    let url = server.url(&format!("/bot{}/sendMessage", bot.token));
    let padding = "x".repeat(1 << 20);
    let answer = must(
        server
            .http
            .post(&url)
            .json(&json!({"chat_id": person.id, "text": "hi", "padding": padding}))
            .send()
            .await,
    );
    assert_eq!(answer.status(), 413);
    let form = reqwest::multipart::Form::new()
        .text("chat_id", person.id.to_string())
        .text("text", "hi")
        .text("padding", padding.clone());
    assert_eq!(must(server.http.post(&url).multipart(form).send().await).status(), 413);
    // Files are not parameters: a large one beside small fields is read.
    let form = reqwest::multipart::Form::new()
        .text("chat_id", person.id.to_string())
        .text("text", "with a file")
        .part("document", reqwest::multipart::Part::bytes(padding.into_bytes()).file_name("big.bin"));
    assert_eq!(must(server.http.post(&url).multipart(form).send().await).status(), 200);
}

/// A bot filled in the name and username of any account from a `tg://user?id=N` mention, and a
/// person could open a chat with any id: ids are sequential, so every account could be listed.
#[tokio::test]
async fn bots_and_people_learn_of_users_only_once_they_have_met() {
    let server = TestServer::start().await;
    let (alice, bot) = server.person_and_bot("alice_met", "met_bot").await;
    let stranger = server.register("stranger").await;
    let text = format!(
        "<a href=\"tg://user?id={}\">you</a> and <a href=\"tg://user?id={}\">them</a>",
        alice.id, stranger.id
    );
    let sent = server
        .bot(&bot, "sendMessage", json!({"chat_id": alice.id, "text": text, "parse_mode": "HTML"}))
        .await;
    let mentions: Vec<&Value> =
        sent["entities"].as_array().into_iter().flatten().filter(|e| e["type"] == "text_mention").collect();
    assert_eq!(mentions.len(), 1, "{sent}");
    assert_eq!(mentions[0]["user"]["id"], alice.id);
    assert_eq!(mentions[0]["user"]["first_name"], "alice_met");
    assert!(!sent.to_string().contains("stranger"), "{sent}");

    // A person reaches another by username, not by walking ids; a bot by either.
    let by_id =
        server.client_call(Some(&stranger.token), "openPrivateChat", json!({"user_id": alice.id})).await;
    assert_error(&by_id, 400, "Bad Request: PEER_ID_INVALID");
    let by_id = server
        .client_call(Some(&stranger.token), "sendMessage", json!({"chat_id": alice.id, "text": "hi"}))
        .await;
    assert_error(&by_id, 400, "Bad Request: chat not found");
    server.client(&stranger, "openPrivateChat", json!({"username": "alice_met"})).await;
    server.client(&stranger, "sendMessage", json!({"chat_id": alice.id, "text": "hi"})).await;
    server.client(&stranger, "sendMessage", json!({"chat_id": bot.id, "text": "/start"})).await;
}

/// IPv4 addresses hidden in IPv6 forms reached loopback through the webhook filter.
#[tokio::test]
async fn webhooks_refuse_every_form_of_a_reserved_address() {
    let server = TestServer::start_with(|c| c.allow_insecure_webhooks = false).await;
    let (_, bot) = server.person_and_bot("hooked", "hooked_bot").await;
    for host in ["[::127.0.0.1]", "[64:ff9b::7f00:1]", "[2002:7f00:1::1]", "[fec0::1]", "[::ffff:127.0.0.1]"]
    {
        let (status, body) =
            server.bot_call(&bot.token, "setWebhook", json!({"url": format!("https://{host}/hook")})).await;
        assert_eq!(status, 400, "{host}: {body}");
    }
    for ip in ["::127.0.0.1", "64:ff9b::a00:1", "2001:0:5ef5:79fd::80ff:fffe"] {
        let (status, body) = server
            .bot_call(
                &bot.token,
                "setWebhook",
                json!({"url": "https://bots.example.com/hook", "ip_address": ip}),
            )
            .await;
        assert_eq!(status, 400, "{ip}: {body}");
    }
}

/// The data directory was created 0755 and the database 0644: readable by every local user.
#[tokio::test]
async fn data_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    if crate::common::postgres_server().is_some() {
        return; // nothing on disk but the lock
    }
    let dir = must(tempfile::tempdir());
    let data = dir.path().join("fresh");
    let server = Process::start(&data, None);
    let http = reqwest::Client::new();
    let base = format!("http://{}", server.addr);
    let answer = http
        .post(format!("{base}/client/v1/register"))
        .json(&json!({"username": "private", "password": "correct horse", "first_name": "P"}))
        .send()
        .await;
    assert_eq!(must(answer).status(), 200);
    let mode = |name: &str| must(std::fs::metadata(data.join(name))).permissions().mode() & 0o777;
    assert_eq!(mode(""), 0o700, "the data directory");
    for file in ["roost.db", "roost.db-wal", "roost.db-shm", "roost.db.serve-lock"] {
        assert_eq!(mode(file), 0o600, "{file}");
    }
    server.kill_9();
}

/// Sessions never expired and could not be listed or ended from another device.
#[tokio::test]
async fn sessions_are_listed_ended_and_expire() {
    let server = TestServer::start().await;
    let first = server.register("sessioned").await;
    let login = || async {
        let answer = must(
            server
                .http
                .post(server.url("/client/v1/login"))
                .header("User-Agent", "roost-test/2")
                .json(&json!({"username": "sessioned", "password": "correct horse"}))
                .send()
                .await,
        );
        let body: Value = must(answer.json().await);
        must(body["result"]["token"].as_str().ok_or("no token")).to_owned()
    };
    let second = crate::common::Person { token: login().await, ..first.clone() };
    let sessions = server.client(&second, "getSessions", json!({})).await;
    let sessions = must(sessions.as_array().ok_or("not a list")).clone();
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    let current: Vec<&Value> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["device"], "roost-test/2");
    assert!(!sessions.iter().any(|s| s.to_string().contains(&first.token)), "no token is shown");
    let other = must(sessions.iter().find(|s| s["current"] == false).ok_or("no other"));
    server.client(&second, "terminateSession", json!({"session_id": other["id"]})).await;
    assert_eq!(server.client_call(Some(&first.token), "getMe", json!({})).await.0, 401);
    let third = crate::common::Person { token: login().await, ..first.clone() };
    assert_eq!(server.client(&second, "terminateOtherSessions", json!({})).await, 1);
    assert_eq!(server.client_call(Some(&third.token), "getMe", json!({})).await.0, 401);
    server.client(&second, "getMe", json!({})).await;
    let missing =
        server.client_call(Some(&second.token), "terminateSession", json!({"session_id": 12345})).await;
    assert_error(&missing, 400, "Bad Request: session not found");

    // A session unused for longer than the idle time has ended.
    let brief = TestServer::start_with(|c| c.session_idle = Duration::from_secs(1)).await;
    let person = brief.register("brief").await;
    brief.client(&person, "getMe", json!({})).await;
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(brief.client_call(Some(&person.token), "getMe", json!({})).await.0, 401);
}

/// Ending a session (from another device, by logging out) ended its requests but not its live
/// event stream, which went on receiving the person's messages.
#[tokio::test]
async fn ending_a_session_closes_its_event_streams() {
    use futures_util::StreamExt;
    let server = TestServer::start().await;
    let (person, bot) = server.person_and_bot("streamed", "streamed_bot").await;
    let mut socket = crate::client_api::connect(&server, &person, None).await;
    let answer = must(
        server
            .http
            .post(server.url("/client/v1/login"))
            .json(&json!({"username": "streamed", "password": "correct horse"}))
            .send()
            .await,
    );
    let other: Value = must(answer.json().await);
    let other = crate::common::Person {
        token: must(other["result"]["token"].as_str().ok_or("no token")).to_owned(),
        ..person.clone()
    };
    // The stream's own check is at most once a second: let the first second pass.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(server.client(&other, "terminateOtherSessions", json!({})).await, 1);
    server.bot(&bot, "sendMessage", json!({"chat_id": person.id, "text": "for nobody"})).await;
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match socket.next().await {
                None | Some(Err(_)) | Some(Ok(tokio_tungstenite::tungstenite::Message::Close(_))) => {
                    return true;
                }
                Some(Ok(tokio_tungstenite::tungstenite::Message::Text(text)))
                    if text.contains("for nobody") =>
                {
                    return false;
                }
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert_eq!(closed.ok(), Some(true), "the stream of the ended session closed before the next message");
}

/// An event stream outlived the HTTP connection it upgraded, and with it its place under the
/// connection cap: one session could open streams without end.
#[tokio::test]
async fn event_streams_count_against_the_connection_cap() {
    // Four places: the test's own kept-alive connection (from registering) and three streams.
    let server = TestServer::start_with(|c| c.max_connections = Some(4)).await;
    let person = server.register("capped").await;
    let mut streams = Vec::new();
    for _ in 0..3 {
        streams.push(crate::client_api::connect(&server, &person, None).await);
    }
    let fresh = || async {
        let http = must(reqwest::Client::builder().pool_max_idle_per_host(0).build());
        http.get(server.url("/healthz"))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .map(|r| r.status().as_u16())
    };
    assert!(fresh().await.is_err(), "the streams fill the cap");
    streams.pop();
    let served = wait_until(Duration::from_secs(5), async || fresh().await.ok() == Some(200)).await;
    assert!(served, "a closed stream gives its place back");
}

/// A full disk answered a bare 500 and logged every failure twice.
#[tokio::test]
async fn a_full_database_answers_a_clear_error_and_logs_it_now_and_then() {
    if crate::common::postgres_server().is_some() {
        return; // the size cap is SQLite's
    }
    let dir = must(tempfile::tempdir());
    let config = write_config(dir.path(), "max_database_mb = 1\n");
    let data = dir.path().join("data");
    admin(&data, None, &["create-user", "filler", "--password", "correct horse", "--create"]);
    let token = admin(&data, None, &["create-bot", "--owner", "filler", "--username", "fill_bot"]);
    let token = token.trim().to_owned();
    let server = Process::start_with(&data, None, &["--config", &config]);
    let http = reqwest::Client::new();
    let base = format!("http://{}", server.addr);
    let session = crate::durability::login(&http, &base, "filler").await;
    crate::durability::say(&http, &base, &session, "/start").await;
    let person =
        must(
            crate::durability::call(&http, format!("{base}/client/v1/getMe"), Some(&session), json!({}))
                .await["id"]
                .as_i64()
                .ok_or("no id"),
        );
    let text = "x".repeat(4000);
    let send = || async {
        let answer = must(
            http.post(format!("{base}/bot{token}/sendMessage"))
                .json(&json!({"chat_id": person, "text": text}))
                .send()
                .await,
        );
        (answer.status().as_u16(), must(answer.json::<Value>().await))
    };
    let mut full = None;
    for _ in 0..2_000 {
        let answer = send().await;
        if answer.0 != 200 {
            full = Some(answer);
            break;
        }
    }
    let (status, body) = must(full.ok_or("the database never filled"));
    let expected = json!({
        "ok": false,
        "error_code": 500,
        "description": "Internal Server Error: the server is out of storage space, try again later"
    });
    assert_eq!((status, &body), (500, &expected));
    for _ in 0..20 {
        assert_eq!(send().await.0, 500);
    }
    // Reads still work, and the failures were logged once a second at most.
    let me = must(must(http.get(format!("{base}/bot{token}/getMe")).send().await).json::<Value>().await);
    assert_eq!(me["ok"], true);
    let lines = server.logged("store failure");
    assert!((1..=3).contains(&lines), "{lines} lines for 21 failures");
    server.kill_9();
}

/// Scoped commands and menu buttons accepted chats that do not exist.
#[tokio::test]
async fn scoped_commands_and_menu_buttons_need_a_chat_that_exists() {
    let server = TestServer::start().await;
    let (person, bot) = server.person_and_bot("scoper", "scope_bot").await;
    let commands = json!([{"command": "go", "description": "Go"}]);
    for chat in [json!(999_999), json!("@nobody_here")] {
        let scope = json!({"type": "chat", "chat_id": chat});
        for method in ["setMyCommands", "getMyCommands", "deleteMyCommands"] {
            let answer =
                server.bot_call(&bot.token, method, json!({"commands": commands, "scope": scope})).await;
            assert_error(&answer, 400, "Bad Request: chat not found");
        }
    }
    let scope = json!({"type": "chat", "chat_id": person.id});
    server.bot(&bot, "setMyCommands", json!({"commands": commands, "scope": scope})).await;
    let answer = server.bot_call(&bot.token, "getChatMenuButton", json!({"chat_id": 999_999})).await;
    assert_error(&answer, 400, "Bad Request: user not found");
    let button = server.bot(&bot, "getChatMenuButton", json!({"chat_id": person.id})).await;
    assert_eq!(button, json!({"type": "default"}));
}

/// OPTIONS and DELETE were served like GET. Telegram's server answers 501 to any method but GET
/// and POST; the client API answers 405.
#[tokio::test]
async fn only_get_and_post_are_served() {
    let server = TestServer::start().await;
    let (person, bot) = server.person_and_bot("methodic", "method_bot").await;
    for method in [reqwest::Method::DELETE, reqwest::Method::OPTIONS, reqwest::Method::PUT] {
        let answer = must(
            server.http.request(method.clone(), server.url(&format!("/bot{}/getMe", bot.token))).send().await,
        );
        assert_eq!(answer.status(), 501, "{method}");
        assert!(must(answer.bytes().await).is_empty());
        let answer = must(
            server
                .http
                .request(method.clone(), server.url("/client/v1/getMe"))
                .bearer_auth(&person.token)
                .send()
                .await,
        );
        assert_eq!(answer.status(), 405, "{method}");
    }
}

/// SIGTERM waited 20 s for a client trickling a request body, and could not be acted on at all
/// while a parse held the workers. The grace period is a setting, and it holds.
#[tokio::test]
async fn sigterm_ends_the_server_while_a_request_is_busy() {
    let dir = must(tempfile::tempdir());
    let config = write_config(dir.path(), "shutdown_grace_secs = 2\n");
    let data = dir.path().join("data");
    let server =
        Process::start_with(&data, crate::common::fresh_database().await.as_deref(), &["--config", &config]);
    let mut trickle = must(TcpStream::connect(server.addr));
    must(trickle.write_all(
        b"POST /client/v1/register HTTP/1.1\r\nHost: roost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"user",
    ));
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let status = server.terminate();
    assert!(status.success());
    assert!(started.elapsed() < Duration::from_secs(8), "stopped after {:?}", started.elapsed());
    drop(trickle);
}
