//! The `roost` binary as a library: configuration, start-up, background work and shutdown.
//!
//! [`serve`] runs the whole server on a listener the caller bound, until `shutdown` completes;
//! `main.rs` binds from the configuration and waits for SIGINT/SIGTERM, and the integration tests
//! bind `127.0.0.1:0`.

pub mod config;

use std::future::Future;
use std::time::Duration;

use roost_core::{Core, CoreConfig};
use roost_http::server::HttpOptions;
use roost_http::webhook::WebhookOptions;
use roost_store::{Durability, StoreOptions};
use tokio::net::TcpListener;

pub use config::Config;

/// Opens the store of a configuration.
pub async fn open_core(config: &Config) -> anyhow::Result<Core> {
    let store_options = StoreOptions {
        durability: if config.fsync { Durability::Power } else { Durability::Process },
        postgres_connections: config.postgres_connections,
        max_pages: config.max_database_mb.map(|mb| (mb.saturating_mul(256)).min(i64::MAX as u64) as i64),
        dir_mode: config.data_dir_mode,
        file_mode: config.file_mode,
        ..StoreOptions::default()
    };
    let core_config = CoreConfig {
        update_retention: Duration::from_secs(config.update_retention_hours * 3600),
        allow_insecure_webhooks: config.allow_insecure_webhooks,
        rate_limits: config.rate_limits.clone(),
        shared_recheck: config.shared_recheck,
        session_idle: config.session_idle,
        registration: config.registration,
        ..CoreConfig::default()
    };
    Ok(Core::open(&config.database, store_options, core_config).await?)
}

/// A database URL fit to print: a PostgreSQL password is replaced by `***`.
pub fn redacted_database(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if roost_store::is_postgres_url(url) && parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// Keeps a second `roost serve` off this server's SQLite database for as long as the returned file
/// is open. Two servers on one SQLite file would each miss the other's writes: the writer keeps
/// rows between jobs, and wake-ups, confirmation floors and rate buckets live in the process.
/// `roost admin` does not take the lock: what it changes, a running server notices within a
/// second (its writer watches SQLite's `data_version` and reads cached rows again). Nothing to lock on PostgreSQL, which instances share by design.
pub fn lock_store(config: &Config) -> anyhow::Result<Option<std::fs::File>> {
    use anyhow::Context;
    if roost_store::is_postgres_url(&config.database) {
        return Ok(None);
    }
    let database = roost_store::sqlite_path(&config.database)?;
    // The database's directory and file with the configured permissions, before anything else
    // creates them.
    roost_store::protect_files(&database, config.data_dir_mode, config.file_mode)?;
    let mut path = database.into_os_string();
    path.push(".serve-lock");
    let path = std::path::PathBuf::from(path);
    let mut options = std::fs::OpenOptions::new();
    options.create(true).truncate(false).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, config.file_mode);
    let file = options.open(&path).with_context(|| format!("cannot open {}", path.display()))?;
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

/// How the server treats connections, and its webhook dispatcher's timing.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub webhooks: WebhookOptions,
    pub http: HttpOptions,
    /// The system bot's usernames (the first its own).
    pub system_bot_names: Vec<String>,
}

/// The serving options of a configuration.
pub fn serve_options(config: &Config) -> ServeOptions {
    ServeOptions {
        webhooks: webhook_options(config),
        http: HttpOptions {
            header_timeout: config.header_timeout,
            max_connections: config
                .max_connections
                .unwrap_or_else(default_max_connections)
                .min(tokio::sync::Semaphore::MAX_PERMITS),
            shutdown_grace: config.shutdown_grace,
            trusted_proxies: config.trusted_proxies.iter().copied().collect(),
            koto_prefix: config.koto_prefix.clone(),
        },
        system_bot_names: config.system_bot_names.clone(),
    }
}

/// Descriptors kept for everything but client connections (the database's files for each of
/// its connections, webhook deliveries, PostgreSQL connections, the listener): a quarter of the
/// limit, within these bounds. A server with more webhook deliveries in flight than that sets
/// `max_connections` itself.
const DESCRIPTORS_KEPT: (u64, u64) = (32, 128);

/// Raises this process's soft limit on open files to its hard limit (as servers do; systemd's
/// default soft limit is 1,024) and returns the connection cap that leaves a quarter of the
/// descriptors, between 32 and 128 of them ([`DESCRIPTORS_KEPT`]), for everything else.
pub fn default_max_connections() -> usize {
    #[cfg(unix)]
    {
        let limit = rlimit::increase_nofile_limit(u64::MAX)
            .or_else(|_| rlimit::getrlimit(rlimit::Resource::NOFILE).map(|(soft, _)| soft))
            .unwrap_or(1024);
        let kept = (limit / 4).clamp(DESCRIPTORS_KEPT.0, DESCRIPTORS_KEPT.1);
        usize::try_from(limit.saturating_sub(kept).max(16)).unwrap_or(usize::MAX)
    }
    #[cfg(not(unix))]
    {
        10_000
    }
}

/// Serves `core` on `listener` until `shutdown` completes, then ends every long poll and event
/// stream, finishes the requests in flight, and commits everything acknowledged.
pub async fn serve(
    listener: TcpListener,
    core: Core,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let system_bot = core.ensure_system_bot(&options.system_bot_names).await?;
    let dispatcher = roost_http::webhook::spawn(core.clone(), options.webhooks.clone());
    let maintenance = tokio::spawn(maintain(core.clone()));
    let instance = format!("{:016x}", rand::random::<u64>());
    let system = tokio::spawn(core.clone().run_system_bot(system_bot, instance, options.webhooks.lease));
    roost_http::server::serve(listener, core.clone(), options.http, shutdown).await;
    maintenance.abort();
    let _ = dispatcher.await;
    let _ = system.await;
    core.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// How often expired updates, events and sessions are deleted.
const EXPIRE_EVERY: Duration = Duration::from_secs(10 * 60);
/// How often the wake-up registry forgets queues nobody waits on.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// How often the bots' buffered error log entries are written.
const FLUSH_ERRORS_EVERY: Duration = Duration::from_secs(1);

/// Background upkeep: retention, the wake-up registry and the bots' error logs.
async fn maintain(core: Core) {
    let mut expire = tokio::time::interval(EXPIRE_EVERY);
    let mut prune = tokio::time::interval(PRUNE_EVERY);
    let mut flush = tokio::time::interval(FLUSH_ERRORS_EVERY);
    loop {
        tokio::select! {
            _ = flush.tick() => if let Err(e) = core.flush_bot_errors().await {
                tracing::warn!(error = %e, "cannot write the bots' error logs");
            },
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
