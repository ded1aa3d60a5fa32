//! Wake-ups: who is waiting for what, and the signal that something arrived.
//!
//! Every waiting long poll and every open event stream holds a `watch::Receiver` of the newest id
//! of its queue (a bot's `update_id`, a person's event `seq`). The store's writer calls
//! [`Hub::announce`] right after each commit, which bumps the matching watch; a waiter subscribes
//! *before* it reads the store, so an update committed between the read and the wait still wakes
//! it. There is no polling loop anywhere.

use std::collections::HashMap;
use std::sync::Mutex;

use roost_store::{Effect, UserId};
use tokio::sync::{Notify, broadcast, watch};

pub struct Hub {
    /// std Mutex, not tokio's: held only for a map lookup, never across `.await`.
    bots: Mutex<HashMap<UserId, watch::Sender<i64>>>,
    users: Mutex<HashMap<UserId, watch::Sender<i64>>>,
    /// Becomes `true` when the server shuts down: every waiter returns at once.
    closing: watch::Sender<bool>,
    /// Bots whose webhook settings changed, for the webhook dispatcher.
    webhooks: broadcast::Sender<UserId>,
    /// Per bot, a counter bumped by every getUpdates call: a waiting call that sees it move was
    /// superseded by a newer one and ends with 409, as in Telegram.
    /// With the Unix time (ms) at which this process's newest call of the bot began.
    polls: Mutex<HashMap<UserId, (watch::Sender<u64>, i64)>>,
    /// Asks the re-check task (shared stores only) to look at every waited-on queue now.
    resync: Notify,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            bots: Mutex::default(),
            users: Mutex::default(),
            closing: watch::channel(false).0,
            webhooks: broadcast::channel(1024).0,
            polls: Mutex::default(),
            resync: Notify::new(),
        }
    }
}

impl Hub {
    /// A receiver that changes whenever the bot's update queue grows.
    pub fn subscribe_bot(&self, bot_id: UserId) -> watch::Receiver<i64> {
        subscribe(&self.bots, bot_id)
    }

    /// A receiver that changes whenever the person's event stream grows.
    pub fn subscribe_user(&self, user_id: UserId) -> watch::Receiver<i64> {
        subscribe(&self.users, user_id)
    }

    /// Wakes the person's event streams without a new event: something else about them changed
    /// (a session ended), and each stream looks again.
    pub fn nudge_user(&self, user_id: UserId) {
        if let Ok(map) = self.users.lock()
            && let Some(sender) = map.get(&user_id)
        {
            sender.send_modify(|_| {});
        }
    }

    /// Wakes every person's event streams without a new event (each looks at its session).
    fn nudge_users(&self) {
        if let Ok(map) = self.users.lock() {
            for sender in map.values() {
                sender.send_modify(|_| {});
            }
        }
    }

    /// Wakes the waiters of everything a commit touched. Called on the writer thread: it only
    /// takes two short locks and never blocks on a waiter.
    pub fn announce(&self, effects: &[Effect]) {
        for effect in effects {
            match *effect {
                Effect::BotUpdate { bot_id, update_id } => bump(&self.bots, bot_id, update_id.raw()),
                Effect::UserEvent { user_id, seq } => bump(&self.users, user_id, seq),
                Effect::WebhookChanged { bot_id } => {
                    // No receiver just means no dispatcher is running (the admin CLI).
                    let _ = self.webhooks.send(bot_id);
                }
                Effect::PollStarted { bot_id, started_ms } => self.supersede_polls(bot_id, started_ms),
                // The core's token cache listens for these (`people::TokenCache`).
                Effect::BotTokenChanged { .. } => {}
                Effect::SessionsEnded { user_id } => self.nudge_user(user_id),
                Effect::Resync => {
                    self.resync.notify_one();
                    // Sessions may have ended meanwhile (elsewhere, or by `roost admin`): every
                    // stream looks at its own again.
                    self.nudge_users();
                    // Webhook changes may have been missed too: bot 0 means "every bot".
                    let _ = self.webhooks.send(UserId::from_raw(0));
                }
            }
        }
    }

    /// Signalled when notifications from other instances may have been lost.
    pub(crate) fn resync_requests(&self) -> &Notify {
        &self.resync
    }

    /// Bots somebody waits on in this process.
    pub fn waited_bots(&self) -> Vec<UserId> {
        waited(&self.bots)
    }

    /// People somebody waits on in this process.
    pub fn waited_users(&self) -> Vec<UserId> {
        waited(&self.users)
    }

    /// Wakes the waiters of every queue whose stored position is past what they last heard.
    pub fn catch_up(&self, bots: &[(UserId, i64)], users: &[(UserId, i64)]) {
        for &(bot, update_id) in bots {
            bump(&self.bots, bot, update_id);
        }
        for &(user, seq) in users {
            bump(&self.users, user, seq);
        }
    }

    /// Bots whose webhook settings change from now on (0: any bot's may have changed).
    pub fn subscribe_webhook_changes(&self) -> broadcast::Receiver<UserId> {
        self.webhooks.subscribe()
    }

    /// Registers a new getUpdates call of a bot: returns its number and a receiver that changes
    /// when a newer call begins.
    pub fn begin_poll(&self, bot_id: UserId, started_ms: i64) -> (u64, watch::Receiver<u64>) {
        match self.polls.lock() {
            Ok(mut polls) => {
                let (sender, newest) = polls.entry(bot_id).or_insert_with(|| (watch::channel(0).0, 0));
                *newest = (*newest).max(started_ms);
                let mut mine = 0;
                sender.send_modify(|n| {
                    *n += 1;
                    mine = *n;
                });
                let mut receiver = sender.subscribe();
                receiver.mark_unchanged();
                (mine, receiver)
            }
            Err(_) => (0, watch::channel(0).1),
        }
    }

    /// Ends the bot's waiting getUpdates call here with 409 if it began before `started_ms`, when
    /// a call began on another instance. (A late notice of an older call elsewhere — the bot's
    /// previous call, answered there before this one began — must not end the newest call.)
    fn supersede_polls(&self, bot_id: UserId, started_ms: i64) {
        if let Ok(polls) = self.polls.lock()
            && let Some((sender, newest)) = polls.get(&bot_id)
            && *newest < started_ms
        {
            sender.send_modify(|n| *n += 1);
        }
    }

    /// A receiver that turns `true` when the server begins to shut down.
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Ends every long poll and event stream: called first on shutdown.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Forgets queues nobody waits on any more.
    pub fn prune(&self) {
        for map in [&self.bots, &self.users] {
            if let Ok(mut map) = map.lock() {
                map.retain(|_, sender| sender.receiver_count() > 0);
            }
        }
        if let Ok(mut polls) = self.polls.lock() {
            polls.retain(|_, (sender, _)| sender.receiver_count() > 0);
        }
    }
}

fn subscribe(map: &Mutex<HashMap<UserId, watch::Sender<i64>>>, key: UserId) -> watch::Receiver<i64> {
    match map.lock() {
        Ok(mut map) => map.entry(key).or_insert_with(|| watch::channel(0).0).subscribe(),
        // A poisoned lock means a panic elsewhere; a receiver that never fires still lets the
        // waiter time out cleanly.
        Err(_) => watch::channel(0).1,
    }
}

fn waited(map: &Mutex<HashMap<UserId, watch::Sender<i64>>>) -> Vec<UserId> {
    match map.lock() {
        Ok(map) => {
            map.iter().filter(|(_, sender)| sender.receiver_count() > 0).map(|(&key, _)| key).collect()
        }
        Err(_) => Vec::new(),
    }
}

fn bump(map: &Mutex<HashMap<UserId, watch::Sender<i64>>>, key: UserId, value: i64) {
    if let Ok(map) = map.lock()
        && let Some(sender) = map.get(&key)
    {
        sender.send_if_modified(|current| {
            let newer = value > *current;
            if newer {
                *current = value;
            }
            newer
        });
    }
}
