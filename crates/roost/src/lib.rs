//! The `roost` binary as a library: configuration, start-up, background work and shutdown.
//!
//! [`serve`] runs the whole server on a listener the caller bound, until `shutdown` completes;
//! `main.rs` binds from the configuration and waits for SIGINT/SIGTERM, and the integration tests
//! bind `127.0.0.1:0`.

pub mod config;

use std::future::Future;
use std::time::Duration;

use roost_core::{Core, CoreConfig};
use roost_http::webhook::WebhookOptions;
use roost_store::{Durability, StoreOptions};
use tokio::net::TcpListener;

pub use config::Config;

/// Opens the store of a configuration.
pub async fn open_core(config: &Config) -> anyhow::Result<Core> {
    let store_options = StoreOptions {
        durability: if config.fsync { Durability::Power } else { Durability::Process },
        postgres_connections: config.postgres_connections,
        ..StoreOptions::default()
    };
    let core_config = CoreConfig {
        update_retention: Duration::from_secs(config.update_retention_hours * 3600),
        allow_insecure_webhooks: config.allow_insecure_webhooks,
        rate_limits: config.rate_limits.clone(),
        shared_recheck: config.shared_recheck,
        ..CoreConfig::default()
    };
    Ok(Core::open(&config.database, store_options, core_config).await?)
}

/// Keeps a second `roost serve` off this server's SQLite database for as long as the returned file
/// is open. Two servers on one SQLite file would each miss the other's writes: the writer keeps
/// rows between jobs, and wake-ups, confirmation floors and rate buckets live in the process.
/// `roost admin` does not take the lock (it only adds users and bots, rows a running server has
/// never seen). Nothing to lock on PostgreSQL, which instances share by design.
pub fn lock_store(config: &Config) -> anyhow::Result<Option<std::fs::File>> {
    use anyhow::Context;
    if roost_store::is_postgres_url(&config.database) {
        return Ok(None);
    }
    let mut path = roost_store::sqlite_path(&config.database)?.into_os_string();
    path.push(".serve-lock");
    let path = std::path::PathBuf::from(path);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another roost serve is using {} (SQLite has one server per database; use PostgreSQL for several)",
            config.database
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

/// The webhook dispatcher's timing from a configuration.
pub fn webhook_options(config: &Config) -> WebhookOptions {
    WebhookOptions {
        timeout: config.webhook_timeout,
        retry_base: config.webhook_retry_base,
        retry_max: config.webhook_retry_max,
        lease: config.webhook_lease,
    }
}

/// How often expired updates and events are deleted.
const EXPIRE_EVERY: Duration = Duration::from_secs(10 * 60);
/// How often the wake-up registry forgets queues nobody waits on.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// Serves `core` on `listener` until `shutdown` completes, then ends every long poll and event
/// stream, finishes the requests in flight, and commits everything acknowledged.
pub async fn serve(
    listener: TcpListener,
    core: Core,
    webhooks: WebhookOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let dispatcher = roost_http::webhook::spawn(core.clone(), webhooks);
    let result = serve_http(listener, core.clone(), shutdown).await;
    let _ = dispatcher.await;
    core.close().await;
    tracing::info!("stopped");
    result
}

async fn serve_http(
    listener: TcpListener,
    core: Core,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let maintenance = tokio::spawn(maintain(core.clone()));
    let app = roost_http::app(core.clone());
    // Connections watch `draining`; each holds a clone of `open` until it ends, so the server
    // knows when the last one has finished.
    let (draining, _) = tokio::sync::watch::channel(false);
    let (open, mut all_closed) = tokio::sync::mpsc::channel::<()>(1);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(serve_connection(stream, app.clone(), draining.subscribe(), open.clone()));
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment instead of spinning.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            () = &mut shutdown => break,
        }
    }
    tracing::info!("shutting down");
    drop(listener);
    // Waiting long polls and event streams return now, so in-flight requests finish fast.
    core.hub().close();
    draining.send_replace(true);
    drop(open);
    let _ = all_closed.recv().await;
    maintenance.abort();
    Ok(())
}

/// Serves one connection (HTTP/1.1 with upgrades to WebSocket, or HTTP/2 with prior knowledge)
/// until it ends or, after `draining` turns true, until its requests in flight are answered.
///
/// Two choices differ from `axum::serve`, both for memory per idle connection (measured with
/// `roost-bench idle`, see docs/performance.md):
/// - The protocol is chosen by peeking at the socket (an HTTP/2 connection starts with `PRI`, no
///   HTTP/1 method does) instead of hyper-util's auto builder, which keeps a buffer of its own
///   for every connection.
/// - HTTP/1 half-close: otherwise hyper keeps reading a connection while its request is being
///   handled (to notice a client that went away) and holds a second 8 KiB read buffer for every
///   waiting long poll. A poll whose client vanished simply runs to its timeout or is superseded
///   by the bot's next poll; nothing is confirmed by an answer nobody read.
async fn serve_connection<A>(
    stream: tokio::net::TcpStream,
    app: A,
    mut draining: tokio::sync::watch::Receiver<bool>,
    _open: tokio::sync::mpsc::Sender<()>,
) where
    A: tower::Service<
            axum::extract::Request,
            Response = axum::response::Response,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + Sync
        + 'static,
    A::Future: Send + 'static,
{
    use tower::ServiceExt;
    let service = hyper_util::service::TowerToHyperService::new(
        app.map_request(|req: axum::http::Request<hyper::body::Incoming>| req.map(axum::body::Body::new)),
    );
    // A client that connected and has sent nothing yet must not hold the shutdown up.
    let http2 = tokio::select! {
        http2 = starts_like_http2(&stream) => match http2 {
            Some(http2) => http2,
            None => return, // closed before sending anything
        },
        _ = draining.changed() => return,
    };
    let io = hyper_util::rt::TokioIo::new(stream);
    let result = if http2 {
        let mut builder = hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new());
        builder.enable_connect_protocol();
        // Boxed: the HTTP/1 path, nearly every connection, does not pay for its size.
        let mut conn = Box::pin(builder.serve_connection(io, service));
        tokio::select! {
            result = conn.as_mut() => result,
            _ = draining.changed() => {
                conn.as_mut().graceful_shutdown();
                finish_within_grace(conn.as_mut()).await
            }
        }
    } else {
        let conn = hyper::server::conn::http1::Builder::new()
            .half_close(true)
            .serve_connection(io, service)
            .with_upgrades();
        let mut conn = std::pin::pin!(conn);
        tokio::select! {
            result = conn.as_mut() => result,
            // `draining` only ever turns true (or its sender goes away with the server).
            _ = draining.changed() => {
                conn.as_mut().graceful_shutdown();
                finish_within_grace(conn.as_mut()).await
            }
        }
    };
    if let Err(e) = result {
        tracing::trace!(error = %e, "connection ended with an error");
    }
}

/// How long a connection may take to finish its requests once shutdown began; then it is dropped
/// (a client trickling a request head or body must not keep the server up).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

async fn finish_within_grace<F, E>(conn: F) -> Result<(), E>
where
    F: Future<Output = Result<(), E>>,
{
    match tokio::time::timeout(SHUTDOWN_GRACE, conn).await {
        Ok(result) => result,
        Err(_) => {
            tracing::debug!("a connection did not finish within the shutdown grace period");
            Ok(())
        }
    }
}

/// Whether a new connection speaks HTTP/2 with prior knowledge (its first bytes are `PRI`), read
/// without consuming anything; `None` if it closed first.
async fn starts_like_http2(stream: &tokio::net::TcpStream) -> Option<bool> {
    let mut head = [0u8; 3];
    loop {
        match stream.peek(&mut head).await {
            Ok(0) | Err(_) => return None,
            Ok(n) if n >= head.len() || !b"PRI".starts_with(&head[..n]) => return Some(&head[..n] == b"PRI"),
            // A byte or two so far, and they could begin `PRI`: wait for more.
            Ok(_) => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
}

/// Background upkeep: retention and the wake-up registry.
async fn maintain(core: Core) {
    let mut expire = tokio::time::interval(EXPIRE_EVERY);
    let mut prune = tokio::time::interval(PRUNE_EVERY);
    loop {
        tokio::select! {
            _ = expire.tick() => match core.expire().await {
                Ok((0, 0)) => {}
                Ok((updates, events)) => tracing::info!(updates, events, "expired old updates and events"),
                Err(e) => tracing::warn!(error = %e, "expiry failed"),
            },
            _ = prune.tick() => core.prune(),
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
