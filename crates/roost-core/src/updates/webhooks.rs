//! Webhook settings and the store side of webhook delivery.
//!
//! The dispatcher that makes the HTTP requests lives at the edge (`roost-http::webhook`); this
//! module decides what a valid webhook is, stores settings, and records each delivery's outcome in
//! the bot's queue and health.

use std::net::IpAddr;

use crate::addresses::is_public_ip;

use roost_store::{Queries, UpdateId, UserId, WebhookRow, WebhookSettings, unix_now};

use crate::updates::{QueuedUpdate, render_queued};
use roost_types::limits::{
    WEBHOOK_MAX_CONNECTIONS_DEFAULT, WEBHOOK_MAX_CONNECTIONS_MAX, WEBHOOK_MAX_CONNECTIONS_MIN,
    WEBHOOK_MAX_FAILURES, WEBHOOK_SECRET_MAX, WEBHOOK_SECRET_MIN,
};
use roost_types::requests::{DeleteWebhook, SetWebhook};
use roost_types::{ApiError, WebhookInfo};
use url::{Host, Url};

use crate::updates::allowed_updates_json;
use crate::{Core, Error, Result};

/// What a refusal that `--allow-insecure-webhooks` would lift adds, so a developer running a
/// local server learns the switch.
pub const INSECURE_HINT: &str = " (a server for local development accepts it with --allow-insecure-webhooks)";

/// Checks a webhook URL. Without `allow_insecure` it must be https and must not name a reserved
/// address; with it (local development, tests) http and any address are accepted.
pub fn check_webhook_url(url: &str, allow_insecure: bool) -> Result<Url, ApiError> {
    let bad = |detail: &str| ApiError::bad_webhook(detail);
    let parsed = Url::parse(url).map_err(|_| bad("invalid URL"))?;
    match parsed.scheme() {
        "https" => {}
        "http" if allow_insecure => {}
        _ => return Err(bad(&format!("An HTTPS URL must be provided for webhook{INSECURE_HINT}"))),
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad("URL must not contain credentials"));
    }
    let ip = match parsed.host() {
        Some(Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        Some(Host::Domain(name)) if !allow_insecure && name.eq_ignore_ascii_case("localhost") => {
            return Err(bad(&format!("localhost is not allowed{INSECURE_HINT}")));
        }
        Some(Host::Domain(_)) => None,
        None => return Err(bad("invalid URL")),
    };
    if let Some(ip) = ip
        && !allow_insecure
        && !is_public_ip(ip)
    {
        return Err(bad(&format!("IP address {ip} is reserved{INSECURE_HINT}")));
    }
    Ok(parsed)
}

impl Core {
    /// Bot API `setWebhook`. An empty `url` removes the webhook, as in Telegram. `dialect` names
    /// the dialect it was set through, for the edge that renders its updates; the core only keeps
    /// it.
    pub async fn set_webhook(&self, bot: UserId, req: SetWebhook, dialect: &str) -> Result<bool> {
        let url = req.url.unwrap_or_default().trim().to_owned();
        if url.is_empty() {
            return self
                .delete_webhook(bot, DeleteWebhook { drop_pending_updates: req.drop_pending_updates })
                .await;
        }
        let allow_insecure = self.inner.config.allow_insecure_webhooks;
        check_webhook_url(&url, allow_insecure)?;
        if let Some(secret) = &req.secret_token {
            let valid = (WEBHOOK_SECRET_MIN..=WEBHOOK_SECRET_MAX).contains(&secret.len())
                && secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !valid {
                return Err(ApiError::SECRET_TOKEN_INVALID.into());
            }
        }
        let ip_address = match req.ip_address.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(text) => {
                let ip: IpAddr = text.parse().map_err(|_| ApiError::IP_ADDRESS_INVALID)?;
                if !allow_insecure && !is_public_ip(ip) {
                    return Err(ApiError::bad_webhook(format_args!(
                        "IP address {ip} is reserved{INSECURE_HINT}"
                    ))
                    .into());
                }
                Some(ip.to_string())
            }
        };
        let settings = WebhookSettings {
            url,
            dialect: dialect.to_owned(),
            secret: req.secret_token.filter(|s| !s.is_empty()),
            max_connections: req
                .max_connections
                .unwrap_or(WEBHOOK_MAX_CONNECTIONS_DEFAULT)
                .clamp(WEBHOOK_MAX_CONNECTIONS_MIN, WEBHOOK_MAX_CONNECTIONS_MAX),
            ip_address,
            certificate: req.certificate,
        };
        let allowed = req.allowed_updates.as_deref().map(allowed_updates_json).transpose()?;
        let drop_pending = req.drop_pending_updates.unwrap_or(false);
        self.store()
            .write(move |w| {
                w.set_webhook(bot, &settings)?;
                if let Some(json) = &allowed {
                    w.set_allowed_updates(bot, Some(json))?;
                }
                if drop_pending {
                    w.drop_updates(bot)?;
                }
                Ok::<_, Error>(true)
            })
            .await
    }

    /// Bot API `deleteWebhook`.
    pub async fn delete_webhook(&self, bot: UserId, req: DeleteWebhook) -> Result<bool> {
        let drop_pending = req.drop_pending_updates.unwrap_or(false);
        self.store()
            .write(move |w| {
                let current = w.webhook(bot)?.map(|hook| hook.url).unwrap_or_default();
                if !current.is_empty() {
                    w.set_webhook(
                        bot,
                        &WebhookSettings {
                            url: String::new(),
                            dialect: crate::DEFAULT_DIALECT.to_owned(),
                            secret: None,
                            max_connections: WEBHOOK_MAX_CONNECTIONS_DEFAULT,
                            ip_address: None,
                            certificate: None,
                        },
                    )?;
                }
                if drop_pending {
                    w.drop_updates(bot)?;
                }
                Ok::<_, Error>(true)
            })
            .await
    }

    /// Bot API `getWebhookInfo`.
    pub async fn webhook_info(&self, bot: UserId) -> Result<WebhookInfo> {
        // Updates below the confirmed floor are deleted or about to be (getUpdates confirms in
        // the background): they are no longer pending.
        let floor = self.confirmed_floor(bot);
        let (hook, pending) = self
            .store()
            .read(move |r| {
                Ok::<_, Error>((r.webhook(bot)?, r.pending_update_count(bot, UpdateId::from_raw(floor))?))
            })
            .await?;
        let hook = hook.ok_or(ApiError::UNAUTHORIZED)?;
        let allowed_updates = hook
            .allowed_updates
            .as_deref()
            .and_then(|json| serde_json::from_str::<Vec<String>>(json).ok())
            .filter(|list| !list.is_empty());
        let active = !hook.url.is_empty();
        Ok(WebhookInfo {
            has_custom_certificate: active && hook.certificate.is_some(),
            pending_update_count: pending,
            ip_address: hook.ip_address.filter(|_| active),
            last_error_date: hook.last_error_date,
            last_error_message: hook.last_error_message,
            last_synchronization_error_date: hook.last_sync_error_date,
            max_connections: active.then_some(hook.max_connections),
            allowed_updates,
            url: hook.url,
        })
    }

    /// Bots with a webhook set.
    pub async fn webhook_bots(&self) -> Result<Vec<UserId>> {
        self.store().read(|r| r.webhook_bots().map_err(Error::from)).await
    }

    /// Takes or renews, for the dispatcher `owner`, the delivery lease of every bot with a webhook
    /// that no other live instance holds; returns the bots `owner` now delivers for.
    pub async fn take_webhook_leases(&self, owner: &str, lease: std::time::Duration) -> Result<Vec<UserId>> {
        let owner = owner.to_owned();
        let ttl_ms = lease.as_millis() as i64;
        self.store()
            .write(move |w| {
                w.take_webhook_leases(&owner, crate::since_epoch().as_millis() as i64, ttl_ms)
                    .map_err(Error::from)
            })
            .await
    }

    /// Gives up `owner`'s leases (a clean shutdown), so another instance takes over at once.
    pub async fn release_webhook_leases(&self, owner: &str) -> Result<()> {
        let owner = owner.to_owned();
        self.store().write(move |w| w.release_webhook_leases(&owner).map(|_| ()).map_err(Error::from)).await
    }

    /// A bot's webhook settings, for the dispatcher.
    pub async fn webhook(&self, bot: UserId) -> Result<Option<WebhookRow>> {
        self.store().lookup(move |r| r.webhook(bot).map_err(Error::from)).await
    }

    /// Queued updates of a bot with `update_id >= from`, rendered, oldest first. Never below what
    /// a getUpdates call confirmed just before the webhook was set, even while that confirmation
    /// is still on its way to the store.
    pub async fn queued_updates_from(&self, bot: UserId, from: i64, limit: i64) -> Result<Vec<QueuedUpdate>> {
        let from = from.max(self.confirmed_floor(bot));
        self.store()
            .read(move |r| render_queued(r, bot, r.pending_updates(bot, UpdateId::from_raw(from), limit)?))
            .await
    }

    /// Records a delivery that the webhook acknowledged with a 2xx: the update leaves the queue, and
    /// with `reset_failures` (the worker saw failures since the last success) the run of failures
    /// ends.
    pub async fn webhook_delivered(&self, bot: UserId, update_id: i64, reset_failures: bool) -> Result<()> {
        self.store()
            .write(move |w| {
                w.ack_update(bot, UpdateId::from_raw(update_id))?;
                if reset_failures {
                    w.webhook_succeeded(bot)?;
                }
                Ok::<_, Error>(())
            })
            .await
    }

    /// Records a failed delivery attempt. After [`WEBHOOK_MAX_FAILURES`] in a row the webhook is
    /// switched off, and `getWebhookInfo` says why; returns whether that happened.
    pub async fn webhook_failed(&self, bot: UserId, message: String) -> Result<bool> {
        self.store()
            .write(move |w| {
                let now = unix_now();
                let failures = w.webhook_failed(bot, now, &message)?;
                if failures >= WEBHOOK_MAX_FAILURES {
                    let reason = format!(
                        "Webhook was switched off after {failures} consecutive failed delivery attempts; last error: {message}"
                    );
                    w.disable_webhook(bot, now, &reason)?;
                    return Ok::<_, Error>(true);
                }
                Ok(false)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls() {
        assert!(check_webhook_url("https://bots.example.com/hook", false).is_ok());
        let refused = |url: &str| check_webhook_url(url, false).err().map(|e| e.to_string());
        assert_eq!(
            refused("http://bots.example.com/hook"),
            Some(format!("400 BAD_WEBHOOK: An HTTPS URL must be provided for webhook{INSECURE_HINT}"))
        );
        assert_eq!(
            refused("https://127.0.0.1/hook"),
            Some(format!("400 BAD_WEBHOOK: IP address 127.0.0.1 is reserved{INSECURE_HINT}"))
        );
        assert_eq!(
            refused("https://[::1]:8443/"),
            Some(format!("400 BAD_WEBHOOK: IP address ::1 is reserved{INSECURE_HINT}"))
        );
        for hidden in
            ["[::127.0.0.1]", "[64:ff9b::7f00:1]", "[2002:7f00:1::1]", "[fec0::1]", "[::ffff:10.0.0.1]"]
        {
            assert!(refused(&format!("https://{hidden}/hook")).is_some(), "{hidden}");
        }
        assert!(refused("https://localhost/").is_some());
        assert!(refused("https://user:pw@example.com/").is_some());
        assert!(refused("not a url").is_some());
        assert!(check_webhook_url("http://127.0.0.1:9000/hook", true).is_ok());
    }
}
