//! Configuration: one documented struct, filled from an optional file, then the environment,
//! then flags (each overriding the one before), validated at start and passed down explicitly.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use roost_core::{RateLimits, Registration};
use serde::Deserialize;

/// Where the state lives. Shared by `roost serve` and `roost admin`.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Data directory [env: ROOST_DATA] [default: ./roost-data]
    #[arg(long, env = "ROOST_DATA", hide_env = true, global = true)]
    pub data: Option<PathBuf>,
    /// Database URL: sqlite://PATH or postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE
    /// [env: ROOST_DATABASE] [default: sqlite://<data>/roost.db]
    #[arg(long, env = "ROOST_DATABASE", hide_env = true, global = true)]
    pub database: Option<String>,
    /// Optional TOML configuration file; flags and environment override it [env: ROOST_CONFIG]
    #[arg(long, env = "ROOST_CONFIG", hide_env = true, global = true)]
    pub config: Option<PathBuf>,
}

/// `roost serve` flags.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Address to listen on [env: ROOST_LISTEN] [default: 127.0.0.1:8080]
    #[arg(long, env = "ROOST_LISTEN", hide_env = true)]
    pub listen: Option<SocketAddr>,
    /// Fsync every commit, so acknowledged writes survive power loss too (not only a crash of the
    /// process) [env: ROOST_FSYNC]
    #[arg(long, env = "ROOST_FSYNC", hide_env = true)]
    pub fsync: bool,
    /// Allow http:// webhooks and webhooks on loopback and private addresses, for local
    /// development and tests [env: ROOST_ALLOW_INSECURE_WEBHOOKS]
    #[arg(long, env = "ROOST_ALLOW_INSECURE_WEBHOOKS", hide_env = true)]
    pub allow_insecure_webhooks: bool,
    /// Switch the rate limits off (for benchmarks) [env: ROOST_NO_RATE_LIMITS]
    #[arg(long, env = "ROOST_NO_RATE_LIMITS", hide_env = true)]
    pub no_rate_limits: bool,
    /// Log format: text or json [env: ROOST_LOG_FORMAT] [default: text]
    #[arg(long, env = "ROOST_LOG_FORMAT", hide_env = true)]
    pub log_format: Option<LogFormat>,
    /// Who may register: open (anyone), invite (with an invite code) or closed (only the
    /// operator creates accounts) [env: ROOST_REGISTRATION] [default: open]
    #[arg(long, env = "ROOST_REGISTRATION", hide_env = true)]
    pub registration: Option<RegistrationPolicy>,
}

/// The `registration` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum RegistrationPolicy {
    Open,
    Invite,
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// The configuration file. Every field is optional; see [`Config`] for meanings and defaults.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    data: Option<PathBuf>,
    database: Option<String>,
    fsync: Option<bool>,
    log_format: Option<LogFormat>,
    update_retention_hours: Option<u64>,
    allow_insecure_webhooks: Option<bool>,
    webhook_timeout_secs: Option<u64>,
    webhook_retry_base_ms: Option<u64>,
    webhook_retry_max_secs: Option<u64>,
    webhook_lease_ms: Option<u64>,
    shared_recheck_ms: Option<u64>,
    postgres_connections: Option<u32>,
    rate_limits: Option<RateLimitsFile>,
    header_timeout_secs: Option<u64>,
    max_connections: Option<usize>,
    shutdown_grace_secs: Option<u64>,
    data_dir_mode: Option<String>,
    file_mode: Option<String>,
    session_idle_days: Option<u64>,
    trusted_proxies: Option<Vec<String>>,
    max_database_mb: Option<u64>,
    registration: Option<RegistrationPolicy>,
    people_invite: Option<bool>,
    system_bot_names: Option<Vec<String>>,
    koto_prefix: Option<String>,
}

/// `[rate_limits]` in the configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateLimitsFile {
    enabled: Option<bool>,
    bot_requests_per_second: Option<f64>,
    chat_messages_per_second: Option<f64>,
    chat_burst: Option<f64>,
    chat_messages_per_minute: Option<f64>,
    logins_per_minute_per_address: Option<f64>,
    logins_per_minute_per_account: Option<f64>,
    registrations_per_hour_per_address: Option<f64>,
}

/// The server's configuration after merging file, environment and flags.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on. Default `127.0.0.1:8080`.
    pub listen: SocketAddr,
    /// Data directory. Default `./roost-data`.
    pub data: PathBuf,
    /// Database URL. Default `sqlite://<data>/roost.db`.
    pub database: String,
    /// Fsync every commit. Default off (commits survive a process crash, not power loss).
    pub fsync: bool,
    /// Log format. Default text.
    pub log_format: LogFormat,
    /// Hours an unconfirmed update is kept. Default 24 (Telegram's).
    pub update_retention_hours: u64,
    /// Accept http:// webhooks and webhooks on reserved addresses. Default off.
    pub allow_insecure_webhooks: bool,
    /// How long one webhook delivery may take. Default 30 s.
    pub webhook_timeout: Duration,
    /// Pause after a failed delivery, doubled per further consecutive failure. Default 1 s.
    pub webhook_retry_base: Duration,
    /// Longest pause between delivery attempts. Default 60 s.
    pub webhook_retry_max: Duration,
    /// With PostgreSQL: how long an instance's claim on delivering a bot's webhook lasts without
    /// renewal; when the instance dies another takes the bot over after at most this long.
    pub webhook_lease: Duration,
    /// With PostgreSQL: how often waiting long polls and event streams re-read their queue in
    /// case a notification from another instance was lost.
    pub shared_recheck: Duration,
    /// With PostgreSQL: connections in this instance's pool.
    pub postgres_connections: u32,
    /// Rate limits. Default on: 30 requests/s per bot; per chat 1 message/s (bursts of 10) and,
    /// in groups, 20 messages/min (each dialect's pace decides where these apply); sign-in
    /// attempts per address and per account, registrations per address.
    pub rate_limits: RateLimits,
    /// How long a client may take to send a request's head after connecting or after its last
    /// answer (so also how long an idle kept-alive connection stays open). Default 30 s.
    pub header_timeout: Duration,
    /// Most client connections open at once. Default: the open-file limit (raised to its hard
    /// limit at start) less a reserve for the database and webhooks.
    pub max_connections: Option<usize>,
    /// How long requests in flight may take to finish once shutdown began. Default 20 s.
    pub shutdown_grace: Duration,
    /// Permissions of a data directory Roost creates. Default 0700.
    pub data_dir_mode: u32,
    /// Permissions of the database files (and the serve lock). Default 0600.
    pub file_mode: u32,
    /// A person's session ends after this long unused. Default 90 days.
    pub session_idle: Duration,
    /// Proxies (addresses or CIDR ranges) whose `X-Forwarded-For` names the client, for the
    /// per-address sign-in limits. Default none: the peer address is the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// SQLite: the largest the database may grow, in MiB; past it writes are refused as on a
    /// full disk. Default none.
    pub max_database_mb: Option<u64>,
    /// Who may register through the client API, and (with `invite`) whether people may make
    /// invite codes too. Default open.
    pub registration: Registration,
    /// The system bot's usernames: the first is its own, the others resolve to it too. Default
    /// BotMama, BotGod, BotKoto.
    pub system_bot_names: Vec<String>,
    /// Where Koto's gateway is served (its `{GATEWAY}`). Default `/koto`.
    pub koto_prefix: String,
}

impl Config {
    /// The configuration of a server over `data` with every other setting at its default.
    pub fn with_data_dir(data: &Path) -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data: data.to_owned(),
            database: format!("sqlite://{}", data.join("roost.db").display()),
            fsync: false,
            log_format: LogFormat::Text,
            update_retention_hours: 24,
            allow_insecure_webhooks: false,
            webhook_timeout: Duration::from_secs(30),
            webhook_retry_base: Duration::from_secs(1),
            webhook_retry_max: Duration::from_secs(60),
            webhook_lease: Duration::from_secs(5),
            postgres_connections: 16,
            shared_recheck: Duration::from_secs(5),
            rate_limits: RateLimits::default(),
            header_timeout: Duration::from_secs(30),
            max_connections: None,
            shutdown_grace: Duration::from_secs(20),
            data_dir_mode: 0o700,
            file_mode: 0o600,
            session_idle: Duration::from_secs(90 * 24 * 3600),
            trusted_proxies: Vec::new(),
            max_database_mb: None,
            registration: Registration::Open,
            system_bot_names: roost_core::SYSTEM_BOT_NAMES.iter().map(|n| (*n).to_owned()).collect(),
            koto_prefix: roost_http::koto::DEFAULT_PREFIX.to_owned(),
        }
    }

    /// Merges the optional file with environment and flags (already merged by clap).
    pub fn load(store: &StoreArgs, serve: Option<&ServeArgs>) -> anyhow::Result<Config> {
        let file = match &store.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
                toml::from_str::<FileConfig>(&text)
                    .with_context(|| format!("invalid configuration file {}", path.display()))?
            }
            None => FileConfig::default(),
        };
        let data = store.data.clone().or(file.data).unwrap_or_else(|| PathBuf::from("roost-data"));
        let mut config = Config::with_data_dir(&data);
        if let Some(database) = store.database.clone().or(file.database) {
            config.database = database;
        }
        if let Some(listen) = serve.and_then(|s| s.listen).or(file.listen) {
            config.listen = listen;
        }
        config.fsync = serve.is_some_and(|s| s.fsync) || file.fsync.unwrap_or(false);
        if let Some(format) = serve.and_then(|s| s.log_format).or(file.log_format) {
            config.log_format = format;
        }
        if let Some(hours) = file.update_retention_hours {
            config.update_retention_hours = hours;
        }
        config.allow_insecure_webhooks =
            serve.is_some_and(|s| s.allow_insecure_webhooks) || file.allow_insecure_webhooks.unwrap_or(false);
        if let Some(secs) = file.webhook_timeout_secs {
            config.webhook_timeout = Duration::from_secs(secs);
        }
        if let Some(ms) = file.webhook_retry_base_ms {
            config.webhook_retry_base = Duration::from_millis(ms);
        }
        if let Some(ms) = file.webhook_lease_ms {
            config.webhook_lease = Duration::from_millis(ms);
        }
        if let Some(ms) = file.shared_recheck_ms {
            config.shared_recheck = Duration::from_millis(ms.max(100));
        }
        if let Some(n) = file.postgres_connections {
            config.postgres_connections = n;
        }
        if let Some(secs) = file.webhook_retry_max_secs {
            config.webhook_retry_max = Duration::from_secs(secs);
        }
        if let Some(limits) = file.rate_limits {
            let r = &mut config.rate_limits;
            r.enabled = limits.enabled.unwrap_or(r.enabled);
            r.bot_requests_per_second = limits.bot_requests_per_second.unwrap_or(r.bot_requests_per_second);
            r.chat_messages_per_second =
                limits.chat_messages_per_second.unwrap_or(r.chat_messages_per_second);
            r.chat_burst = limits.chat_burst.unwrap_or(r.chat_burst);
            r.chat_messages_per_minute =
                limits.chat_messages_per_minute.unwrap_or(r.chat_messages_per_minute);
            r.logins_per_minute_per_address =
                limits.logins_per_minute_per_address.unwrap_or(r.logins_per_minute_per_address);
            r.logins_per_minute_per_account =
                limits.logins_per_minute_per_account.unwrap_or(r.logins_per_minute_per_account);
            r.registrations_per_hour_per_address =
                limits.registrations_per_hour_per_address.unwrap_or(r.registrations_per_hour_per_address);
        }
        if let Some(secs) = file.header_timeout_secs {
            config.header_timeout = Duration::from_secs(secs);
        }
        if let Some(n) = file.max_connections {
            config.max_connections = Some(n);
        }
        if let Some(secs) = file.shutdown_grace_secs {
            config.shutdown_grace = Duration::from_secs(secs);
        }
        if let Some(mode) = &file.data_dir_mode {
            config.data_dir_mode = parse_mode(mode).context("data_dir_mode")?;
        }
        if let Some(mode) = &file.file_mode {
            config.file_mode = parse_mode(mode).context("file_mode")?;
        }
        if let Some(days) = file.session_idle_days {
            config.session_idle = Duration::from_secs(days.saturating_mul(24 * 3600));
        }
        if let Some(mb) = file.max_database_mb {
            config.max_database_mb = Some(mb);
        }
        for proxy in file.trusted_proxies.unwrap_or_default() {
            let range = proxy
                .parse::<ipnet::IpNet>()
                .or_else(|_| proxy.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|e| {
                    anyhow::anyhow!("trusted_proxies: {proxy:?} is not an address or CIDR range: {e}")
                })?;
            config.trusted_proxies.push(range);
        }
        let people_invite = file.people_invite.unwrap_or(false);
        config.registration = match serve.and_then(|s| s.registration).or(file.registration) {
            None | Some(RegistrationPolicy::Open) => Registration::Open,
            Some(RegistrationPolicy::Invite) => Registration::Invite { people_invite },
            Some(RegistrationPolicy::Closed) => Registration::Closed,
        };
        if let Some(names) = file.system_bot_names {
            config.system_bot_names = names;
        }
        if let Some(prefix) = file.koto_prefix {
            config.koto_prefix = prefix;
        }
        if serve.is_some_and(|s| s.no_rate_limits) {
            config.rate_limits.enabled = false;
        }
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> anyhow::Result<()> {
        if !self.database.starts_with("sqlite:")
            && !roost_store::is_postgres_url(&self.database)
            && self.database.contains("://")
        {
            bail!(
                "unsupported database URL scheme in {:?}: use sqlite://PATH or postgres://USER@HOST/DATABASE",
                self.database.split("://").next().unwrap_or_default()
            );
        }
        if self.webhook_timeout.is_zero() || self.webhook_retry_base.is_zero() {
            bail!("webhook_timeout_secs and webhook_retry_base_ms must be positive");
        }
        if self.webhook_lease < Duration::from_millis(300) {
            bail!("webhook_lease_ms must be at least 300");
        }
        let r = &self.rate_limits;
        if [r.bot_requests_per_second, r.chat_messages_per_second, r.chat_burst, r.chat_messages_per_minute]
            .iter()
            .any(|v| !v.is_finite() || *v <= 0.0)
        {
            bail!("rate limits must be positive numbers");
        }
        if self.header_timeout.is_zero() {
            bail!("header_timeout_secs must be positive");
        }
        if self.max_connections == Some(0) {
            bail!("max_connections must be positive");
        }
        if self.session_idle.is_zero() || self.session_idle > Duration::from_secs(36_500 * 24 * 3600) {
            bail!("session_idle_days must be between 1 and 36500");
        }
        if [
            r.logins_per_minute_per_address,
            r.logins_per_minute_per_account,
            r.registrations_per_hour_per_address,
        ]
        .iter()
        .any(|v| !v.is_finite() || *v <= 0.0)
        {
            bail!("sign-in limits must be positive numbers");
        }
        if self.system_bot_names.is_empty()
            || self.system_bot_names.iter().any(|n| {
                !(5..=32).contains(&n.len()) || !n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            })
        {
            bail!("system_bot_names must be one or more usernames of 5-32 characters of a-z, 0-9 and _");
        }
        let prefix = self.koto_prefix.trim_end_matches('/');
        let reserved = ["/bot", "/client", "/file", "/healthz"].iter().any(|r| prefix.starts_with(r));
        if !prefix.starts_with('/')
            || prefix.len() < 2
            || reserved
            || !prefix.bytes().all(|b| b.is_ascii_alphanumeric() || b"/-_.".contains(&b))
        {
            bail!("koto_prefix must be a path such as \"/koto\", not under /bot, /client, /file or /healthz");
        }
        if self.update_retention_hours < 24 {
            bail!("update_retention_hours must be at least 24 (updates are kept at least a day)");
        }
        Ok(())
    }
}

/// An octal permission mode from the configuration (`"0700"`, `"700"` or `"0o700"`).
fn parse_mode(text: &str) -> anyhow::Result<u32> {
    let digits = text.trim().trim_start_matches("0o");
    match u32::from_str_radix(digits, 8) {
        Ok(mode) if mode <= 0o777 => Ok(mode),
        _ => bail!("{text:?} is not an octal permission mode such as \"0700\""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let store = StoreArgs { data: None, database: None, config: None };
        let config = Config::load(&store, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.data, PathBuf::from("roost-data"));
        assert_eq!(config.database, "sqlite://roost-data/roost.db");
    }

    #[test]
    fn file_is_overridden_by_flags() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("roost.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:9000\"\ndata = \"/srv/roost\"\n")
            .unwrap_or_else(|e| panic!("{e}"));
        let store = StoreArgs { data: None, database: None, config: Some(path.clone()) };
        let serve = ServeArgs {
            store: store.clone(),
            listen: Some("127.0.0.1:9100".parse().unwrap_or_else(|e| panic!("{e}"))),
            fsync: false,
            allow_insecure_webhooks: false,
            no_rate_limits: false,
            log_format: None,
            registration: None,
        };
        let config = Config::load(&store, Some(&serve)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.listen.port(), 9100);
        assert_eq!(config.data, PathBuf::from("/srv/roost"));
        assert_eq!(config.database, "sqlite:///srv/roost/roost.db");

        std::fs::write(&path, "lisen = \"x\"\n").unwrap_or_else(|e| panic!("{e}"));
        assert!(Config::load(&store, None).is_err(), "unknown keys are refused");
    }
}
