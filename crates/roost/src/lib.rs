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
    let closing_core = core.clone();
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down");
            // Waiting long polls and event streams return now, so in-flight requests finish fast.
            closing_core.hub().close();
        })
        .await;
    maintenance.abort();
    Ok(result?)
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
