//! The safety net of wake-ups across instances.
//!
//! With a shared store, other instances' commits arrive as PostgreSQL notifications. A
//! notification can be lost (the listening connection drops); then a waiter would sleep until its
//! timeout although its queue grew. This task re-reads, every `shared_recheck` and at once after
//! a [`Resync`](roost_store::Effect::Resync), the queue positions of everything someone waits on
//! here — one query for all bots and one for all people — and wakes the waiters whose queue moved.
//! A lost notification therefore delays an update by at most `shared_recheck`; it never loses one.

use roost_store::Queries;

use crate::{Core, Error};

pub(crate) async fn run(core: Core) {
    let mut closing = core.hub().closing();
    let resync = core.hub().resync_requests();
    let every = core.config().shared_recheck;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = resync.notified() => {}
            _ = closing.changed() => return,
        }
        let (bots, users) = (core.hub().waited_bots(), core.hub().waited_users());
        if bots.is_empty() && users.is_empty() {
            continue;
        }
        let positions = core
            .store()
            .read(move |r| Ok::<_, Error>((r.last_update_ids(&bots)?, r.last_event_seqs(&users)?)))
            .await;
        match positions {
            Ok((bots, users)) => core.hub().catch_up(&bots, &users),
            Err(e) => tracing::warn!(error = %e, "cannot re-check queue positions"),
        }
    }
}
