//! The servers under load: Roost and the baseline, each in a child process of the bench.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::Json;
use axum::routing::any;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Raises this process's open-file limit as far as it may (children inherit it).
pub fn raise_file_limit() {
    // Root may lift the hard limit too; everyone else gets the soft limit raised to the hard one.
    if rlimit::setrlimit(rlimit::Resource::NOFILE, 200_000, 200_000).is_err() {
        let _ = rlimit::increase_nofile_limit(u64::MAX);
    }
}

/// `roost-bench serve-child`: a Roost server over `data` with rate limits off and local webhooks
/// allowed; prints `addr=…` when it listens.
pub async fn serve_child(data: &Path, database: Option<String>) -> anyhow::Result<()> {
    let mut config = roost::Config::with_data_dir(data);
    if let Some(url) = database {
        config.database = url;
    }
    config.rate_limits.enabled = false;
    config.allow_insecure_webhooks = true;
    let _lock = roost::lock_store(&config)?;
    let core = roost::open_core(&config).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("addr={}", listener.local_addr()?);
    roost::serve(listener, core, roost::serve_options(&config), roost::shutdown_signal()).await
}

/// `roost-bench baseline-child`: the same routes and request shape as the Bot API, answered by a
/// handler that parses the JSON body and returns a message-sized JSON, with no storage at all.
pub async fn baseline_child() -> anyhow::Result<()> {
    async fn handler(Json(body): Json<Value>) -> Json<Value> {
        Json(json!({"ok": true, "result": {
            "message_id": 1, "date": 1_700_000_000,
            "from": {"id": 1_000_000_001i64, "is_bot": true, "first_name": "Bench", "username": "bench_bot"},
            "chat": {"id": body["chat_id"], "type": "private", "first_name": "Person"},
            "text": body["text"],
        }}))
    }
    let app = axum::Router::new().route("/{token}/{method}", any(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("addr={}", listener.local_addr()?);
    axum::serve(listener, app).with_graceful_shutdown(roost::shutdown_signal()).await?;
    Ok(())
}

/// A server running as a child process.
pub struct ChildServer {
    pub base: String,
    pub child: Child,
    /// From spawning the process to its first successful request.
    pub cold_start: Duration,
}

impl ChildServer {
    pub async fn spawn(args: &[&str]) -> anyhow::Result<ChildServer> {
        let exe = std::env::current_exe()?;
        let started = Instant::now();
        let mut child = Command::new(exe)
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            match lines.next_line().await? {
                Some(line) => {
                    if let Some(addr) = line.strip_prefix("addr=") {
                        break addr.to_owned();
                    }
                }
                None => bail!("the server exited before listening"),
            }
        };
        let base = format!("http://{addr}");
        let http = reqwest::Client::new();
        loop {
            if http.get(format!("{base}/healthz")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        Ok(ChildServer { base, child, cold_start: started.elapsed() })
    }

    /// The child's resident memory in MiB.
    pub fn rss_mb(&self) -> Option<f64> {
        let pid = self.child.id()?;
        rss_mb(pid)
    }

    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status().await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(20), self.child.wait()).await;
    }
}

/// Resident memory of a process in MiB, from /proc.
pub fn rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
