//! The webhook dispatcher: delivers each bot's update queue to its webhook.
//!
//! A supervisor keeps one worker per bot with a webhook set, restarting it whenever the bot's
//! settings change (`setWebhook`, `deleteWebhook`, a switch-off). A worker reads the bot's queue in
//! `update_id` order and POSTs each update as JSON, with these guarantees:
//!
//! - **At least once.** An update leaves the queue only after the webhook answered 2xx and that was
//!   committed; a crash in between delivers it again after the restart.
//! - **In order per chat, parallel across chats.** An update is sent only when no earlier update
//!   of its chat is in flight or still waiting; at most `max_connections` requests are in flight.
//! - **Retries with capped exponential backoff.** After a failed attempt the worker pauses
//!   `retry_base · 2^(n-1)` (at most `retry_max`), `n` being the number of consecutive failures;
//!   after [`WEBHOOK_MAX_FAILURES`](roost_types::limits::WEBHOOK_MAX_FAILURES) the webhook is
//!   switched off and `getWebhookInfo` says why.
//! - **A method in the answer is executed.** A 2xx answer whose JSON or form body names a
//!   `method` runs that Bot API method for the bot, as Telegram does.
//! - **No request reaches the server's own network** unless `--allow-insecure-webhooks`: every
//!   address a webhook host resolves to is checked, and redirects are not followed.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use roost_core::QueuedUpdate;
use roost_core::{Core, check_webhook_url, is_public_ip};
use roost_store::{UserId, WebhookRow};
use tokio::sync::{broadcast, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use crate::envelope::HttpError;
use crate::opaque::Profile;
use crate::opaque::ids::{IdStyle, Ids};
use crate::params::Params;
use roost_types::ApiError;
use roost_types::requests::SetWebhook;

/// Timing of webhook delivery.
#[derive(Debug, Clone)]
pub struct WebhookOptions {
    /// How long one delivery may take, answer included.
    pub timeout: Duration,
    /// Pause after the first failure; doubles with each further consecutive failure.
    pub retry_base: Duration,
    /// Longest pause between attempts.
    pub retry_max: Duration,
    /// With a shared store: how long a delivery lease lasts unrenewed (renewed every third of it).
    pub lease: Duration,
}

impl Default for WebhookOptions {
    fn default() -> Self {
        WebhookOptions {
            timeout: Duration::from_secs(30),
            retry_base: Duration::from_secs(1),
            retry_max: Duration::from_secs(60),
            lease: Duration::from_secs(5),
        }
    }
}

/// Most queued updates looked at per refill.
const FILL_LIMIT: i64 = 1000;
/// Most updates held in memory per bot while one chat's backlog blocks the others.
const MAX_BUFFERED: usize = 20_000;
/// Largest webhook answer read (a method call with its parameters).
const ANSWER_LIMIT: usize = 1024 * 1024;

/// Starts the dispatcher; it ends when the server shuts down.
pub fn spawn(core: Core, options: WebhookOptions) -> JoinHandle<()> {
    tokio::spawn(supervise(core, options))
}

struct Worker {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

async fn supervise(core: Core, options: WebhookOptions) {
    // Subscribe before listing, so a change made in between is seen.
    let mut changes = core.hub().subscribe_webhook_changes();
    let mut closing = core.hub().closing();
    let mut workers: HashMap<UserId, Worker> = HashMap::new();
    // With a shared store, a bot's webhook is delivered by the one instance holding its lease;
    // alone, this process delivers every bot's.
    let mut leases = core.is_shared().then(|| Leases::new(&options));
    // Until when workers may start deliveries: forever alone; with leases, a little less than
    // the leases' life from the last renewal that began (see `Leases::renew`).
    let valid_until = watch::channel(None::<Instant>).0;
    let options = &options;
    let run = Run { core: &core, options, valid_until: &valid_until };
    if leases.is_none() {
        match core.webhook_bots().await {
            Ok(bots) => {
                for bot in bots {
                    run.restart(&mut workers, bot).await;
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot list the bots with webhooks"),
        }
    }
    loop {
        let renewal = async {
            match &mut leases {
                Some(leases) => leases.renew.tick().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            // `None`: bot 0, every bot.
            change = changes.recv() => match change.map(|bot| (bot.raw() != 0).then_some(bot)) {
                // Bot 0: changes may have been missed (another instance's notifications were
                // lost); every worker re-reads its settings.
                Ok(None) | Err(broadcast::error::RecvError::Lagged(_)) => {
                    let bots: HashSet<UserId> = match &mut leases {
                        Some(leases) => {
                            leases.renew.reset_immediately();
                            workers.keys().copied().collect()
                        }
                        None => workers.keys().copied().chain(core.webhook_bots().await.unwrap_or_default()).collect(),
                    };
                    for bot in bots {
                        run.restart(&mut workers, bot).await;
                    }
                }
                Ok(Some(bot)) => match &mut leases {
                    Some(leases) if !leases.owned.contains(&bot) => {
                        // Perhaps a new webhook: claim it now rather than at the next renewal.
                        leases.renew.reset_immediately();
                    }
                    _ => {
                        run.restart(&mut workers, bot).await;
                    }
                },
                Err(broadcast::error::RecvError::Closed) => break,
            },
            _ = renewal => {
                if let Some(leases) = &mut leases {
                    let (gained, lost) = leases.renew(&core, &valid_until).await;
                    // Stop every lost worker first, then wait for them.
                    let stopping: Vec<Worker> = lost.iter().filter_map(|bot| workers.remove(bot)).collect();
                    for worker in &stopping {
                        let _ = worker.stop.send(true);
                    }
                    for worker in stopping {
                        let _ = worker.task.await;
                    }
                    if !lost.is_empty() {
                        tracing::info!(bots = ?lost, "webhook leases lost; another instance delivers them now");
                    }
                    for bot in gained {
                        if !run.restart(&mut workers, bot).await {
                            // Not started: claim it as gained again at the next renewal.
                            leases.owned.remove(&bot);
                        }
                    }
                }
            }
            _ = closing.changed() => break,
        }
    }
    for (_, worker) in workers.drain() {
        let _ = worker.stop.send(true);
        let _ = worker.task.await;
    }
    if let Some(leases) = &leases
        && let Err(e) = core.release_webhook_leases(&leases.owner).await
    {
        tracing::warn!(error = %e, "cannot release webhook leases");
    }
}

/// This instance's webhook delivery leases (shared stores only).
struct Leases {
    /// This dispatcher's name in the lease table: random, new at every start.
    owner: String,
    length: Duration,
    renew: tokio::time::Interval,
    owned: HashSet<UserId>,
}

impl Leases {
    fn new(options: &WebhookOptions) -> Self {
        let mut renew = tokio::time::interval(options.lease / 3);
        renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Leases {
            owner: format!("{:016x}", rand::random::<u64>()),
            length: options.lease,
            renew,
            owned: HashSet::new(),
        }
    }

    /// Takes and renews leases; returns the bots gained and the bots lost. On success, workers
    /// may start deliveries until nine tenths of the lease's life after the renewal *began* (the
    /// database counts the lease from a moment after that): the fence that keeps two instances
    /// from delivering one bot when renewals stall or fail. A failed renewal changes nothing; the
    /// fence runs out by itself.
    async fn renew(
        &mut self,
        core: &Core,
        valid_until: &watch::Sender<Option<Instant>>,
    ) -> (Vec<UserId>, Vec<UserId>) {
        let began = Instant::now();
        let renewal =
            tokio::time::timeout(self.length / 3, core.take_webhook_leases(&self.owner, self.length));
        let now_owned: HashSet<UserId> = match renewal.await {
            Ok(Ok(bots)) => {
                valid_until.send_replace(Some(began + self.length * 9 / 10));
                bots.into_iter().collect()
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot renew webhook leases");
                return (Vec::new(), Vec::new());
            }
            Err(_) => {
                tracing::warn!("renewing webhook leases timed out");
                return (Vec::new(), Vec::new());
            }
        };
        let gained = now_owned.difference(&self.owned).copied().collect();
        let lost = self.owned.difference(&now_owned).copied().collect();
        self.owned = now_owned;
        (gained, lost)
    }
}

/// What starting a worker needs.
struct Run<'a> {
    core: &'a Core,
    options: &'a WebhookOptions,
    valid_until: &'a watch::Sender<Option<Instant>>,
}

impl Run<'_> {
    /// Stops the bot's worker, if any, and starts a new one if the bot has a webhook. False if
    /// the settings could not be read (nothing started).
    async fn restart(&self, workers: &mut HashMap<UserId, Worker>, bot: UserId) -> bool {
        if let Some(worker) = workers.remove(&bot) {
            let _ = worker.stop.send(true);
            let _ = worker.task.await;
        }
        let hook = match self.core.webhook(bot).await {
            Ok(Some(hook)) if !hook.url.is_empty() => hook,
            Ok(_) => return true,
            Err(e) => {
                tracing::error!(bot = bot.raw(), error = %e, "cannot read webhook settings");
                return false;
            }
        };
        let (stop, stopped) = watch::channel(false);
        let fence = self.valid_until.subscribe();
        let task = tokio::spawn(deliver(self.core.clone(), self.options.clone(), hook, stopped, fence));
        workers.insert(bot, Worker { stop, task });
        true
    }
}

/// How one delivery ended.
struct Outcome {
    /// The update, kept so a failed delivery can be retried without reading it again.
    update: Rendered,
    chat: i64,
    /// On success, the answer's content type and body.
    result: Result<(String, bytes::Bytes), Refusal>,
}

/// A delivery that failed: what `getWebhookInfo` says, and for the owner's error log the
/// receiver's status (0 if it gave none) and the start of its answer.
struct Refusal {
    message: String,
    status: u16,
    answer: String,
}

/// How much of a receiver's refusal is kept for its owner's error log.
const REFUSAL_KEPT: usize = 512;

async fn deliver(
    core: Core,
    options: WebhookOptions,
    hook: WebhookRow,
    mut stop: watch::Receiver<bool>,
    mut valid_until: watch::Receiver<Option<Instant>>,
) {
    let bot = hook.bot_id;
    let allow_insecure = core.config().allow_insecure_webhooks;
    // The server may have restarted with stricter settings than when the webhook was set.
    let refuse = async |message: String| {
        core.log_bot_error(bot, roost_core::ErrorSource::Webhook, None, 0, &message);
        let _ = core.webhook_failed(bot, message).await;
    };
    if let Err(e) = check_webhook_url(&hook.url, allow_insecure) {
        refuse(crate::telegram::errors::describe(&e).into_owned()).await;
        return;
    }
    let client = match build_client(&hook, &options, allow_insecure) {
        Ok(client) => client,
        Err(message) => {
            refuse(message).await;
            return;
        }
    };
    let max_in_flight = hook.max_connections.max(1) as usize;
    let dialect = Dialect::of(&hook.dialect);
    // Telegram's updates carry the core's numbers; the codec is only used by the others.
    let ids = Ids::new(core.id_key(), dialect.id_style());
    let mut wake = core.hub().subscribe_bot(bot);
    let mut closing = core.hub().closing();
    let mut in_flight: JoinSet<Outcome> = JoinSet::new();
    // Delivered updates being recorded and their answer methods run; each keeps its chat busy
    // until done, so a chat's answers run in order, and the worker waits for them before it ends.
    let mut finishing: JoinSet<(i64, bool)> = JoinSet::new();
    let mut busy_chats: HashSet<i64> = HashSet::new();
    // Updates read from the queue and not in flight, by update_id. Reading moves forward from
    // `read_from` only; a failed delivery puts its update back here, so the store is read once per
    // update, not once per event.
    let mut waiting = Waiting::default();
    // Updates below the floor of a getUpdates confirmation still being deleted are not sent.
    let mut read_from = core.confirmed_floor(bot);
    let mut more_to_read = true;
    // Whether the last pass found an update to send; if not, the buffer may be full of one busy
    // chat's backlog, and reading further finds other chats.
    let mut stalled = false;
    let mut failures: u32 = 0;
    // Whether the stored count of consecutive failures may be above zero (it is reset by the next
    // recorded success): most deliveries then record the delivery alone.
    // With a shared store another instance's last attempts may still be counting up: the first
    // success here resets the count in any case.
    let mut stored_failures = hook.failures > 0 || core.is_shared();
    let mut retry_at: Option<Instant> = None;
    loop {
        if *stop.borrow() || *closing.borrow() {
            break;
        }
        let buffered = waiting.updates.len();
        let room = buffered < FILL_LIMIT as usize / 2 || (stalled && buffered < MAX_BUFFERED);
        if more_to_read && room {
            match core.queued_updates_from(bot, read_from, FILL_LIMIT).await {
                Ok(queued) => {
                    more_to_read = queued.len() as i64 == FILL_LIMIT;
                    for queued in queued {
                        read_from = read_from.max(queued.update_id + 1);
                        match render(&queued, dialect, &ids, bot) {
                            Some(update) => waiting.insert(update),
                            // What it refers to is gone: it leaves the queue unsent.
                            None => {
                                let (recorder, update_id) = (core.clone(), queued.update_id);
                                finishing.spawn(async move {
                                    if let Err(e) = recorder.webhook_delivered(bot, update_id, false).await {
                                        tracing::error!(bot = bot.raw(), error = %e, "cannot drop a stale update");
                                    }
                                    (0, false)
                                });
                            }
                        }
                    }
                }
                Err(e) => {
                    tracing::error!(bot = bot.raw(), error = %e, "cannot read the update queue");
                    retry_at = Some(Instant::now() + options.retry_base);
                }
            }
        }
        // With leases: no new delivery unless this instance surely still holds the bot's lease.
        let leased = valid_until.borrow_and_update().is_none_or(|until| Instant::now() < until);
        if retry_at.is_none() && leased && in_flight.len() < max_in_flight {
            // In update_id order; a chat with an earlier update in flight or left waiting blocks
            // its later ones.
            // The scan stops once every chat with waiting updates has been seen, so busy chats cost
            // one look per chat, not one per buffered update (a busy chat whose backlog comes
            // before other chats' updates is still walked: per-chat queues would avoid that).
            let mut seen: HashSet<i64> = HashSet::new();
            let mut ready = Vec::new();
            for (&id, update) in &waiting.updates {
                if in_flight.len() + ready.len() >= max_in_flight || seen.len() == waiting.per_chat.len() {
                    break;
                }
                let chat = chat_of(update);
                if seen.insert(chat) && !busy_chats.contains(&chat) {
                    ready.push((id, chat));
                }
            }
            stalled = ready.is_empty() && !waiting.updates.is_empty();
            for (id, chat) in ready {
                let Some(update) = waiting.remove(id) else { continue };
                busy_chats.insert(chat);
                in_flight.spawn(post(
                    client.clone(),
                    hook.url.clone(),
                    hook.secret.clone(),
                    dialect,
                    update,
                    chat,
                ));
            }
        }
        let retry = async {
            match retry_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            Some(joined) = in_flight.join_next() => {
                let Ok(outcome) = joined else { continue };
                match outcome.result {
                    Ok((content_type, body)) => {
                        failures = 0;
                        let reset_failures = std::mem::take(&mut stored_failures);
                        // Recorded beside the loop (other chats go on meanwhile); the worker never
                        // reads this update again, and if the process dies first it is delivered
                        // again after the restart.
                        let (recorder, update_id, chat) = (core.clone(), outcome.update.update_id, outcome.chat);
                        finishing.spawn(async move {
                            let recorded = recorder.webhook_delivered(bot, update_id, reset_failures).await;
                            if let Err(e) = &recorded {
                                tracing::error!(bot = bot.raw(), error = %e, "cannot record a delivery");
                            }
                            run_answer(&recorder, bot, dialect, &content_type, &body).await;
                            // A reset that was not recorded is due again.
                            (chat, reset_failures && recorded.is_err())
                        });
                    }
                    Err(Refusal { message, status, answer }) => {
                        let logged = if answer.trim().is_empty() { message.clone() } else { format!("{message}: {}", answer.trim()) };
                        core.log_bot_error(bot, roost_core::ErrorSource::Webhook, None, status, &logged);
                        busy_chats.remove(&outcome.chat);
                        failures = failures.saturating_add(1);
                        stored_failures = true;
                        tracing::debug!(bot = bot.raw(), update_id = outcome.update.update_id, %message, "webhook delivery failed");
                        waiting.insert(outcome.update);
                        match core.webhook_failed(bot, message).await {
                            Ok(true) => {
                                tracing::warn!(bot = bot.raw(), "webhook switched off after repeated failures");
                                break;
                            }
                            Ok(false) => {}
                            Err(e) => tracing::error!(bot = bot.raw(), error = %e, "cannot record a failed delivery"),
                        }
                        retry_at = Some(Instant::now() + retry_pause(&options, failures));
                    }
                }
            }
            Some(finished) = finishing.join_next() => {
                if let Ok((chat, reset_lost)) = finished {
                    busy_chats.remove(&chat);
                    stored_failures |= reset_lost;
                }
            }
            changed = wake.changed() => {
                if changed.is_err() {
                    break;
                }
                more_to_read = true;
            }
            _ = retry => retry_at = None,
            // A renewal extended the fence.
            Ok(()) = valid_until.changed() => {}
            _ = stop.changed() => break,
            _ = closing.changed() => break,
        }
    }
    // Deliveries still in flight are abandoned; their updates stay queued (at least once). Those
    // already answered with a 2xx are recorded first, so a restarted worker does not send them
    // again.
    in_flight.abort_all();
    while finishing.join_next().await.is_some() {}
}

/// An update ready to post: its id, its chat's key and its body in the webhook's dialect.
#[derive(Debug, Clone)]
struct Rendered {
    update_id: i64,
    chat_key: i64,
    body: bytes::Bytes,
}

/// The dialect a webhook was set through: how its updates are rendered and sent, and how the
/// method in a webhook's answer is read.
#[derive(Clone, Copy)]
enum Dialect {
    Telegram,
    /// A dialect with opaque ids (WWChat, Koto).
    Opaque(&'static Profile),
    /// Quanta's: its own update shape, each delivery signed.
    Quanta,
}

impl Dialect {
    fn of(name: &str) -> Dialect {
        if name == crate::quanta::DIALECT {
            return Dialect::Quanta;
        }
        match crate::opaque::PROFILES.iter().find(|p| p.dialect == name) {
            Some(profile) => Dialect::Opaque(profile),
            None => Dialect::Telegram,
        }
    }

    /// How its ids are written (Telegram's are the core's numbers; the codec goes unused).
    fn id_style(self) -> IdStyle {
        match self {
            Dialect::Opaque(profile) => profile.style,
            Dialect::Telegram | Dialect::Quanta => IdStyle::Uuid,
        }
    }

    /// The headers that carry the secret token.
    fn secret_headers(self) -> &'static [&'static str] {
        match self {
            // Letgram's document names its own header beside Telegram's; both are sent.
            Dialect::Telegram => &["X-Telegram-Bot-Api-Secret-Token", "X-Letgram-Bot-Api-Secret-Token"],
            Dialect::Opaque(profile) => profile.secret_headers,
            // Quanta's secret signs the body (`X-Quanta-Signature`) and is never sent.
            Dialect::Quanta => &[],
        }
    }
}

/// The body of a queued update in the webhook's dialect, or `None` when it is skipped.
fn render(queued: &QueuedUpdate, dialect: Dialect, ids: &Ids, bot: UserId) -> Option<Rendered> {
    let update = queued.update.as_ref()?;
    let body = match dialect {
        Dialect::Telegram => serde_json::to_vec(update),
        Dialect::Quanta => match crate::quanta::render_update(ids, bot, update) {
            Some(value) => serde_json::to_vec(&value),
            // A kind Quanta's bots do not get: it leaves the queue unsent.
            None => return None,
        },
        Dialect::Opaque(_) => serde_json::to_value(update).and_then(|mut value| {
            crate::opaque::objects::View { ids, viewer: bot }.update(&mut value);
            serde_json::to_vec(&value)
        }),
    };
    match body {
        Ok(body) => {
            Some(Rendered { update_id: queued.update_id, chat_key: queued.chat_key.raw(), body: body.into() })
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot serialise an update");
            None
        }
    }
}

/// The unit of in-order delivery of an update: its chat, or the update alone when it has none.
fn chat_of(update: &Rendered) -> i64 {
    if update.chat_key == 0 { -update.update_id } else { update.chat_key }
}

/// Updates read from the queue and not in flight, in `update_id` order, with how many each chat has.
#[derive(Default)]
struct Waiting {
    updates: BTreeMap<i64, Rendered>,
    per_chat: HashMap<i64, usize>,
}

impl Waiting {
    fn insert(&mut self, update: Rendered) {
        let chat = chat_of(&update);
        if self.updates.insert(update.update_id, update).is_none() {
            *self.per_chat.entry(chat).or_insert(0) += 1;
        }
    }

    fn remove(&mut self, id: i64) -> Option<Rendered> {
        let update = self.updates.remove(&id)?;
        let chat = chat_of(&update);
        if let Some(count) = self.per_chat.get_mut(&chat) {
            *count -= 1;
            if *count == 0 {
                self.per_chat.remove(&chat);
            }
        }
        Some(update)
    }
}

/// The pause after the `failures`-th consecutive failure: `retry_base · 2^(failures−1)`, capped.
fn retry_pause(options: &WebhookOptions, failures: u32) -> Duration {
    options.retry_base.saturating_mul(1 << failures.saturating_sub(1).min(20)).min(options.retry_max)
}

/// POSTs one update.
async fn post(
    client: reqwest::Client,
    url: String,
    secret: Option<String>,
    dialect: Dialect,
    update: Rendered,
    chat: i64,
) -> Outcome {
    let mut request =
        client.post(url).header(reqwest::header::CONTENT_TYPE, "application/json").body(update.body.clone());
    if let Some(secret) = secret {
        for header in dialect.secret_headers() {
            request = request.header(*header, &secret);
        }
        if let Dialect::Quanta = dialect {
            request = request
                .header(crate::quanta::SIGNATURE_HEADER, crate::quanta::signature(&secret, &update.body));
        }
    }
    let result = match request.send().await {
        Ok(response) if response.status().is_success() => {
            let content_type = response
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            // The update is delivered once the status is in; an unreadable body only loses the
            // optional method call.
            let body = read_limited(response).await.unwrap_or_default();
            Ok((content_type, body))
        }
        Ok(response) => {
            let status = response.status();
            let message = format!(
                "Wrong response from the webhook: {} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            )
            .trim_end()
            .to_owned();
            let answer = read_start(response, REFUSAL_KEPT).await;
            Err(Refusal { message, status: status.as_u16(), answer })
        }
        Err(e) => Err(Refusal { message: describe(&e), status: 0, answer: String::new() }),
    };
    Outcome { update, chat, result }
}

/// The first `limit` bytes of an answer, as text (what a receiver said when it refused).
async fn read_start(mut response: reqwest::Response, limit: usize) -> String {
    let mut body = Vec::new();
    while body.len() < limit {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk[..chunk.len().min(limit - body.len())]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}

async fn read_limited(mut response: reqwest::Response) -> Option<bytes::Bytes> {
    let mut body = bytes::BytesMut::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        if body.len() + chunk.len() > ANSWER_LIMIT {
            return None;
        }
        body.extend_from_slice(&chunk);
    }
    Some(body.freeze())
}

/// Runs the Bot API method a webhook answered with, if any.
async fn run_answer(core: &Core, bot: UserId, dialect: Dialect, content_type: &str, body: &[u8]) {
    let content_type = content_type.to_ascii_lowercase();
    if body.is_empty()
        || !(content_type.starts_with("application/json")
            || content_type.starts_with("application/x-www-form-urlencoded"))
    {
        return;
    }
    let Ok(mut params) = Params::from_body(&content_type, body) else { return };
    let Some(method) = params.take("method").and_then(|m| m.as_str().map(str::to_ascii_lowercase)) else {
        return;
    };
    let failed = match dialect {
        Dialect::Telegram => crate::telegram::dispatch(core, bot, &method, params).await.err().map(|e| e.0),
        Dialect::Opaque(profile) => crate::opaque::dispatch(profile, core, bot, &method, params).await.err(),
        // Quanta's receivers answer nothing the server runs.
        Dialect::Quanta => None,
    };
    if let Some(error) = failed {
        tracing::debug!(bot = bot.raw(), method, %error, "a method from a webhook answer failed");
    }
}

/// A failed request in the words `getWebhookInfo` uses, without the URL (which may hold secrets).
fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return "Read timeout expired".into();
    }
    let mut cause: &dyn std::error::Error = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    let detail = cause.to_string();
    if error.is_connect() {
        format!("Connection failed: {detail}")
    } else {
        format!("Request failed: {detail}")
    }
}

fn build_client(
    hook: &WebhookRow,
    options: &WebhookOptions,
    allow_insecure: bool,
) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .timeout(options.timeout)
        .connect_timeout(options.timeout.min(Duration::from_secs(10)))
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(hook.max_connections.max(1) as usize)
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_nodelay(true)
        .user_agent(concat!("Roost/", env!("CARGO_PKG_VERSION"), " webhook"))
        .dns_resolver(Arc::new(GuardedResolver { allow_insecure }));
    if let Some(pem) = &hook.certificate {
        let certificate = reqwest::Certificate::from_pem(pem.as_bytes())
            .map_err(|_| "Failed to parse the webhook's certificate".to_owned())?;
        builder = builder.add_root_certificate(certificate);
    }
    if let Some(ip) = hook.ip_address.as_deref().and_then(|ip| ip.parse().ok()) {
        let url = url::Url::parse(&hook.url).map_err(|_| "invalid webhook URL".to_owned())?;
        if let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) {
            builder = builder.resolve(host, SocketAddr::new(ip, port));
        }
    }
    builder.build().map_err(|e| format!("Cannot prepare webhook requests: {e}"))
}

/// DNS resolution that drops reserved addresses (unless insecure webhooks are allowed), so that a
/// webhook host cannot point into the server's own network, even by changing its DNS later.
struct GuardedResolver {
    allow_insecure: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_insecure = self.allow_insecure;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let addrs: Vec<SocketAddr> = found.filter(|a| allow_insecure || is_public_ip(a.ip())).collect();
            if addrs.is_empty() {
                let hint = roost_core::INSECURE_HINT;
                return Err(format!("{host} resolves only to reserved addresses{hint}").into());
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// `setWebhook` in any dialect (`dialect` is recorded with it): the edge reads the certificate upload and checks that the host resolves to a
/// public address; the core checks and stores the rest.
pub(crate) async fn set_webhook(
    core: &Core,
    bot: UserId,
    params: Params,
    dialect: &str,
) -> Result<bool, HttpError> {
    let certificate = match params.file_or_text("certificate") {
        Some(bytes) if !bytes.is_empty() => {
            reqwest::Certificate::from_pem(&bytes)
                .map_err(|_| ApiError::bad_webhook("Failed to parse the certificate"))?;
            Some(
                String::from_utf8(bytes.to_vec())
                    .map_err(|_| ApiError::bad_webhook("the certificate must be PEM text"))?,
            )
        }
        _ => None,
    };
    let mut req: SetWebhook = params.parse()?;
    req.certificate = certificate;
    let url = req.url.as_deref().unwrap_or("").trim();
    if !url.is_empty() && !core.config().allow_insecure_webhooks && req.ip_address.is_none() {
        check_host_resolves(url).await?;
    }
    Ok(core.set_webhook(bot, req, dialect).await?)
}

/// Resolves a webhook URL's host name and requires a public address among the results.
async fn check_host_resolves(url: &str) -> Result<(), ApiError> {
    let parsed = roost_core::check_webhook_url(url, false)?;
    let Some(url::Host::Domain(host)) = parsed.host() else { return Ok(()) };
    let port = parsed.port_or_known_default().unwrap_or(443);
    let lookup = tokio::time::timeout(Duration::from_secs(5), tokio::net::lookup_host((host, port))).await;
    let addrs: Vec<_> = match lookup {
        Ok(Ok(addrs)) => addrs.collect(),
        _ => {
            return Err(ApiError::bad_webhook("Failed to resolve host: Name or service not known"));
        }
    };
    if addrs.iter().any(|a| roost_core::is_public_ip(a.ip())) {
        Ok(())
    } else {
        Err(ApiError::bad_webhook("the host resolves only to reserved IP addresses"))
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    #[tokio::test]
    async fn the_resolver_drops_reserved_addresses() {
        let name = |host: &str| Name::from_str(host).unwrap_or_else(|e| panic!("{e}"));
        let strict = GuardedResolver { allow_insecure: false };
        assert!(strict.resolve(name("localhost")).await.is_err(), "localhost resolves to loopback only");
        let lenient = GuardedResolver { allow_insecure: true };
        let addrs: Vec<SocketAddr> =
            lenient.resolve(name("localhost")).await.map(|a| a.collect()).unwrap_or_default();
        assert!(addrs.iter().any(|a| a.ip().is_loopback()));
    }

    #[test]
    fn the_retry_schedule_doubles_up_to_the_cap() {
        let options = WebhookOptions::default();
        let schedule: Vec<u64> = (1..=10).map(|n| retry_pause(&options, n).as_secs()).collect();
        assert_eq!(schedule, [1, 2, 4, 8, 16, 32, 60, 60, 60, 60]);
    }
}
