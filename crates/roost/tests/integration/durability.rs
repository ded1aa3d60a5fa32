//! What the server acknowledged survives a restart, and a `kill -9`.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{TestServer, must};

#[tokio::test]
async fn messages_and_unconfirmed_updates_survive_a_restart() {
    let server = TestServer::start().await;
    let (person, bot) = server.person_and_bot("keeper", "keep_bot").await;
    server.bot(&bot, "sendMessage", json!({"chat_id": person.id, "text": "remember me"})).await;
    server.client(&person, "sendMessage", json!({"chat_id": bot.id, "text": "and me"})).await;
    server.bot(&bot, "getUpdates", json!({"offset": 2})).await; // confirms /start only

    let server = server.restart().await;
    let history = server.client(&person, "getHistory", json!({"chat_id": bot.id})).await;
    let texts: Vec<&str> =
        history.as_array().into_iter().flatten().filter_map(|m| m["text"].as_str()).collect();
    assert_eq!(texts, ["/start", "remember me", "and me"]);
    let updates = server.bot(&bot, "getUpdates", json!({})).await;
    assert_eq!(updates.as_array().map(Vec::len), Some(1));
    assert_eq!(updates[0]["update_id"], 2);
    assert_eq!(updates[0]["message"]["text"], "and me");
    // Counters continue where they were.
    let sent = server.bot(&bot, "sendMessage", json!({"chat_id": person.id, "text": "next"})).await;
    assert_eq!(sent["message_id"], 4);
}

/// A `roost serve` process over a data directory.
pub(crate) struct Process {
    child: Child,
    pub(crate) addr: SocketAddr,
    /// Every line it has logged so far.
    pub(crate) log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Process {
    pub(crate) fn start(data: &Path, database: Option<&str>) -> Process {
        Self::start_with(data, database, &[])
    }

    /// A server with extra command-line arguments.
    pub(crate) fn start_with(data: &Path, database: Option<&str>, extra: &[&str]) -> Process {
        Self::start_under(&[], data, database, extra)
    }

    /// A server started through `wrapper` (`prlimit --nofile=…`, say), with extra arguments.
    pub(crate) fn start_under(
        wrapper: &[&str],
        data: &Path,
        database: Option<&str>,
        extra: &[&str],
    ) -> Process {
        Self::start_logging(wrapper, data, database, extra, "info")
    }

    /// [`Process::start_under`] logging at `level` (`RUST_LOG`).
    pub(crate) fn start_logging(
        wrapper: &[&str],
        data: &Path,
        database: Option<&str>,
        extra: &[&str],
        level: &str,
    ) -> Process {
        let roost = env!("CARGO_BIN_EXE_roost");
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(roost);
                command
            }
            None => Command::new(roost),
        };
        let mut child = must(
            command
                .args(["serve", "--listen", "127.0.0.1:0", "--no-rate-limits", "--data"])
                .arg(data)
                .args(extra)
                .envs(database.map(|url| ("ROOST_DATABASE", url)))
                .env("RUST_LOG", level)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn(),
        );
        let stderr = must(child.stderr.take().ok_or("no stderr"));
        let mut lines = BufReader::new(stderr).lines();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let addr = loop {
            let line = must(must(lines.next().ok_or("roost exited before serving")));
            if let Some(rest) = line.split("addr=").nth(1) {
                break must(rest.split_whitespace().next().unwrap_or_default().parse::<SocketAddr>());
            }
            if let Ok(mut log) = log.lock() {
                log.push(line);
            }
        };
        // Keep draining the log so the server never blocks on a full pipe.
        let kept = std::sync::Arc::clone(&log);
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if let Ok(mut log) = kept.lock() {
                    log.push(line);
                }
            }
        });
        Process { child, addr, log }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Every line logged so far.
    pub(crate) fn log_lines(&self) -> Vec<String> {
        self.log.lock().map(|log| log.clone()).unwrap_or_default()
    }

    /// The lines logged so far that contain `text`.
    pub(crate) fn logged(&self, text: &str) -> usize {
        self.log.lock().map(|log| log.iter().filter(|l| l.contains(text)).count()).unwrap_or(0)
    }

    /// SIGTERM, and the exit status.
    pub(crate) fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = must(Command::new("kill").args(["-TERM", &pid]).status());
        assert!(sent.success());
        must(self.child.wait())
    }

    pub(crate) fn kill_9(mut self) {
        must(self.child.kill()); // SIGKILL
        must(self.child.wait());
    }
}

impl Drop for Process {
    /// A test that fails half-way must not leave its servers running.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn admin(data: &Path, database: Option<&str>, args: &[&str]) -> String {
    let output = must(
        Command::new(env!("CARGO_BIN_EXE_roost"))
            .arg("admin")
            .arg("--data")
            .arg(data)
            .envs(database.map(|url| ("ROOST_DATABASE", url)))
            .args(args)
            .output(),
    );
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    must(String::from_utf8(output.stdout))
}

pub(crate) async fn call(http: &reqwest::Client, url: String, auth: Option<&str>, params: Value) -> Value {
    let mut request = http.post(url).json(&params).timeout(Duration::from_secs(20));
    if let Some(token) = auth {
        request = request.bearer_auth(token);
    }
    let body: Value = must(must(request.send().await).json().await);
    assert_eq!(body["ok"], true, "{body}");
    body["result"].clone()
}

/// Logs a person in (password "correct horse") and returns the session token.
pub(crate) async fn login(http: &reqwest::Client, base: &str, username: &str) -> String {
    let session = call(
        http,
        format!("{base}/client/v1/login"),
        None,
        json!({"username": username, "password": "correct horse"}),
    )
    .await;
    session["token"].as_str().unwrap_or_default().to_owned()
}

/// The person writes `text` to the first bot (id 1000000001).
pub(crate) async fn say(http: &reqwest::Client, base: &str, session: &str, text: &str) {
    call(
        http,
        format!("{base}/client/v1/sendMessage"),
        Some(session),
        json!({"chat_id": 1000000001, "text": text}),
    )
    .await;
}

#[tokio::test]
async fn acknowledged_writes_survive_kill_9() {
    let dir = must(tempfile::tempdir());
    let data = dir.path();
    let database = crate::common::fresh_database().await;
    let db = database.as_deref();
    // The admin commands work on the data directory with no server running…
    assert_eq!(
        admin(
            data,
            db,
            &["create-user", "victor", "--password", "correct horse", "--first-name", "Victor", "--create"]
        )
        .trim(),
        "1000000000"
    );
    let token =
        admin(data, db, &["create-bot", "--owner", "victor", "--username", "crash_bot", "--name", "Crash"]);
    let token = token.trim_end_matches('\n');
    assert!(
        !token.contains('\n') && token.starts_with("1000000001:"),
        "create-bot prints the token only: {token:?}"
    );

    let server = Process::start(data, db);
    // …and beside a running one.
    let late_token = admin(data, db, &["create-bot", "--owner", "victor", "--username", "late_bot"]);
    let http = reqwest::Client::new();
    let base = format!("http://{}", server.addr);
    let session = login(&http, &base, "victor").await;
    let late = call(&http, format!("{base}/bot{}/getMe", late_token.trim()), None, json!({})).await;
    assert_eq!(late["username"], "late_bot");

    say(&http, &base, &session, "/start").await;
    let mut sent = Vec::new();
    for i in 0..20 {
        let message = call(
            &http,
            format!("{base}/bot{token}/sendMessage"),
            None,
            json!({"chat_id": 1000000000, "text": format!("ack {i}")}),
        )
        .await;
        sent.push(message["message_id"].as_i64().unwrap_or(0));
    }
    server.kill_9();

    let server = Process::start(data, db);
    let base = format!("http://{}", server.addr);
    let history = call(
        &http,
        format!("{base}/client/v1/getHistory"),
        Some(&session),
        json!({"chat_id": 1000000001, "limit": 100}),
    )
    .await;
    let ids: Vec<i64> =
        history.as_array().into_iter().flatten().filter_map(|m| m["message_id"].as_i64()).collect();
    for id in &sent {
        assert!(ids.contains(id), "acknowledged message {id} was lost: {ids:?}");
    }
    // The unconfirmed /start update survived too.
    let updates = call(&http, format!("{base}/bot{token}/getUpdates"), None, json!({})).await;
    assert_eq!(updates[0]["message"]["text"], "/start");
    server.kill_9();
}

#[tokio::test]
async fn sigterm_stops_cleanly_and_loses_nothing() {
    let dir = must(tempfile::tempdir());
    let data = dir.path();
    let database = crate::common::fresh_database().await;
    let db = database.as_deref();
    admin(data, db, &["create-user", "terry", "--password", "correct horse", "--create"]);
    let token = admin(data, db, &["create-bot", "--owner", "terry", "--username", "term_bot"]);
    let token = token.trim();
    let server = Process::start(data, db);
    let http = reqwest::Client::new();
    let base = format!("http://{}", server.addr);
    let session = login(&http, &base, "terry").await;
    say(&http, &base, &session, "/start").await;
    // A bot is waiting in a long poll when the signal comes: it gets its answer, not a reset.
    let poll = tokio::spawn({
        let http = http.clone();
        let url = format!("{base}/bot{token}/getUpdates?offset=2&timeout=50");
        async move { http.get(url).send().await.map(|r| r.status().as_u16()) }
    });
    // A client that connected and sent nothing does not hold the shutdown up.
    let silent = must(std::net::TcpStream::connect(server.addr));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let status = tokio::time::timeout(
        Duration::from_secs(20),
        tokio::task::spawn_blocking(move || server.terminate()),
    )
    .await
    .unwrap_or_else(|_| panic!("roost did not stop within 20 s of SIGTERM"));
    assert!(status.is_ok_and(|s| s.success()), "roost exits 0 on SIGTERM");
    drop(silent);
    assert_eq!(poll.await.ok().and_then(Result::ok), Some(200));

    let server = Process::start(data, db);
    let base = format!("http://{}", server.addr);
    // The poll confirmed /start (offset 2); the message itself is in the history, the session
    // still works, and the next update continues the numbering.
    let history =
        call(&http, format!("{base}/client/v1/getHistory"), Some(&session), json!({"chat_id": 1000000001}))
            .await;
    assert_eq!(history[0]["text"], "/start");
    say(&http, &base, &session, "again").await;
    let updates = call(&http, format!("{base}/bot{token}/getUpdates"), None, json!({})).await;
    assert_eq!(updates[0]["update_id"], 2);
    assert_eq!(updates[0]["message"]["text"], "again");
    server.kill_9();
}

/// One `roost serve` per SQLite database: a second one over the same data directory refuses to
/// start (it would miss the first one's writes); the lock goes with the process, even after
/// `kill -9`.
#[tokio::test]
async fn a_second_server_on_one_database_refuses_to_start_on_sqlite() {
    // The PostgreSQL pass skips this test: instances share PostgreSQL by design (scale_out.rs).
    if crate::common::postgres_server().is_some() {
        return;
    }
    let dir = must(tempfile::tempdir());
    let data = dir.path();
    let first = Process::start(data, None);
    let mut second = must(
        Command::new(env!("CARGO_BIN_EXE_roost"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn(),
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = must(second.try_wait()) {
            break status;
        }
        if std::time::Instant::now() > deadline {
            must(second.kill());
            panic!("a second server started on the same database");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(!status.success());
    let mut stderr = String::new();
    must(std::io::Read::read_to_string(&mut must(second.stderr.take().ok_or("no stderr")), &mut stderr));
    assert!(stderr.contains("another roost serve is using"), "{stderr}");
    // The first one is unharmed, and after it is killed a new one starts.
    let http = reqwest::Client::new();
    let health = must(http.get(format!("http://{}/healthz", first.addr)).send().await);
    assert!(health.status().is_success());
    first.kill_9();
    let again = Process::start(data, None);
    let health = must(http.get(format!("http://{}/healthz", again.addr)).send().await);
    assert!(health.status().is_success());
    again.kill_9();
}
