//! `TestServer`: the real server in-process, and helpers to talk to it as a bot or a person.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct TestServer {
    pub addr: SocketAddr,
    pub core: roost_core::Core,
    pub http: reqwest::Client,
    dir: TempDirOrPath,
    /// The PostgreSQL database of this server, in the PostgreSQL pass.
    database: Option<String>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), String>>>,
}

enum TempDirOrPath {
    Temp(tempfile::TempDir),
    Path(PathBuf),
}

impl TempDirOrPath {
    fn path(&self) -> &Path {
        match self {
            TempDirOrPath::Temp(dir) => dir.path(),
            TempDirOrPath::Path(path) => path,
        }
    }
}

/// A person with a session.
#[derive(Debug, Clone)]
pub struct Person {
    pub id: i64,
    pub token: String,
    pub username: String,
}

/// A bot with its token.
#[derive(Debug, Clone)]
pub struct Bot {
    pub id: i64,
    pub token: String,
    pub username: String,
}

pub fn must<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

/// The PostgreSQL server of the PostgreSQL pass (`ROOST_TEST_POSTGRES=postgres://user@host:port/`),
/// or `None` in the SQLite pass.
pub fn postgres_server() -> Option<String> {
    std::env::var("ROOST_TEST_POSTGRES").ok().filter(|url| !url.is_empty())
}

/// In the PostgreSQL pass, a new empty database for one test; `None` in the SQLite pass.
pub async fn fresh_database() -> Option<String> {
    use sqlx::Connection;
    let server = postgres_server()?;
    let base = server.trim_end_matches('/');
    let name = format!("roost_test_{:016x}", rand::random::<u64>());
    let mut admin = must(sqlx::PgConnection::connect(&format!("{base}/postgres")).await);
    must(sqlx::raw_sql(&format!("CREATE DATABASE {name}")).execute(&mut admin).await);
    let _ = admin.close().await;
    Some(format!("{base}/{name}"))
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    /// A server whose configuration `adjust` changes first.
    pub async fn start_with(adjust: impl FnOnce(&mut roost::Config)) -> TestServer {
        let dir = must(tempfile::tempdir());
        let database = fresh_database().await;
        Self::start_in(TempDirOrPath::Temp(dir), database, adjust).await
    }

    /// Another server over this one's store (a second instance on the same PostgreSQL database).
    pub async fn another_instance(&self, adjust: impl FnOnce(&mut roost::Config)) -> TestServer {
        let dir = must(tempfile::tempdir());
        Self::start_in(TempDirOrPath::Temp(dir), self.database.clone(), adjust).await
    }

    /// The database URL, in the PostgreSQL pass.
    pub fn database(&self) -> Option<&str> {
        self.database.as_deref()
    }

    async fn start_in(
        dir: TempDirOrPath,
        database: Option<String>,
        adjust: impl FnOnce(&mut roost::Config),
    ) -> TestServer {
        let mut config = roost::Config::with_data_dir(dir.path());
        if let Some(url) = &database {
            config.database = url.clone();
        }
        // Webhook receivers in tests listen on loopback over plain http, and retry fast.
        config.allow_insecure_webhooks = true;
        config.webhook_retry_base = std::time::Duration::from_millis(20);
        config.webhook_retry_max = std::time::Duration::from_millis(200);
        config.webhook_timeout = std::time::Duration::from_secs(5);
        // Tests send in bursts; the rate limit tests switch the limits back on.
        config.rate_limits.enabled = false;
        adjust(&mut config);
        let webhooks = roost::serve_options(&config);
        let core = must(roost::open_core(&config).await);
        let listener = must(tokio::net::TcpListener::bind("127.0.0.1:0").await);
        let addr = must(listener.local_addr());
        let (stop, stopped) = oneshot::channel::<()>();
        let served = core.clone();
        let task = tokio::spawn(async move {
            roost::serve(listener, served, webhooks, async move {
                let _ = stopped.await;
            })
            .await
            .map_err(|e| e.to_string())
        });
        TestServer {
            addr,
            core,
            http: reqwest::Client::new(),
            dir,
            database,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Stops the server gracefully and starts a new one over the same data directory.
    pub async fn restart(mut self) -> TestServer {
        self.shutdown().await;
        let dir = std::mem::replace(&mut self.dir, TempDirOrPath::Path(PathBuf::new()));
        let database = self.database.take();
        Self::start_in(dir, database, |_| {}).await
    }

    pub async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            must(must(task.await));
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A Bot API call with JSON parameters; returns the HTTP status and the body.
    pub async fn bot_call(&self, token: &str, method: &str, params: Value) -> (u16, Value) {
        let response =
            must(self.http.post(self.url(&format!("/bot{token}/{method}"))).json(&params).send().await);
        let status = response.status().as_u16();
        (status, must(response.json().await))
    }

    /// A Bot API call that must succeed; returns `result`.
    pub async fn bot(&self, bot: &Bot, method: &str, params: Value) -> Value {
        let (status, body) = self.bot_call(&bot.token, method, params).await;
        assert_eq!(status, 200, "{method}: {body}");
        assert_eq!(body["ok"], true, "{method}: {body}");
        body["result"].clone()
    }

    /// A client API call with JSON parameters.
    pub async fn client_call(&self, session: Option<&str>, method: &str, params: Value) -> (u16, Value) {
        let mut request = self.http.post(self.url(&format!("/client/v1/{method}"))).json(&params);
        if let Some(token) = session {
            request = request.bearer_auth(token);
        }
        let response = must(request.send().await);
        let status = response.status().as_u16();
        (status, must(response.json().await))
    }

    /// A client API call that must succeed; returns `result`.
    pub async fn client(&self, person: &Person, method: &str, params: Value) -> Value {
        let (status, body) = self.client_call(Some(&person.token), method, params).await;
        assert_eq!(status, 200, "{method}: {body}");
        body["result"].clone()
    }

    pub async fn register(&self, username: &str) -> Person {
        let (status, body) = self
            .client_call(
                None,
                "register",
                json!({"username": username, "password": "correct horse", "first_name": username}),
            )
            .await;
        assert_eq!(status, 200, "register: {body}");
        Person {
            id: must(body["result"]["user"]["id"].as_i64().ok_or("no id")),
            token: must(body["result"]["token"].as_str().ok_or("no token")).to_owned(),
            username: username.to_owned(),
        }
    }

    pub async fn create_bot(&self, owner: &Person, username: &str) -> Bot {
        let bot = must(self.core.create_bot(&owner.username, username, Some("Test Bot")).await);
        Bot { id: bot.bot.profile.id, token: bot.token, username: username.to_owned() }
    }

    /// A person, a bot they own, and the person's first message `/start` to it (so the bot may
    /// answer). The `/start` update is left in the bot's queue.
    pub async fn person_and_bot(&self, person: &str, bot: &str) -> (Person, Bot) {
        let person = self.register(person).await;
        let bot = self.create_bot(&person, bot).await;
        self.client(&person, "sendMessage", json!({"chat_id": bot.id, "text": "/start"})).await;
        (person, bot)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Asserts an error answer exactly: status, `error_code` and `description`.
pub fn assert_error(answer: &(u16, Value), code: u16, description: &str) {
    let (status, body) = answer;
    assert_eq!(*status, code, "{body}");
    assert_eq!(body, &json!({"ok": false, "error_code": code, "description": description}));
}
