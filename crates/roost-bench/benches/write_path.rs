//! The write path of `sendMessage` without HTTP: the core, the single writer and SQLite, in one
//! process. `roost-bench send` measures the whole server against a baseline, but its ratio moves by
//! ±10% with the machine; this isolates the part that the writer's group commit decides, so a
//! change to the store can be judged by itself.
//!
//! `cargo bench -p roost-bench --bench write_path`. Each iteration sends `concurrency` messages at
//! once (one per bot-and-person chat, as `send` does), so the writer commits them in batches; with
//! one at a time, every message is its own commit.

use roost_types::requests::{ChatId, ClientSendMessage, Register, SendMessage};

fn main() {
    divan::main();
}

/// A core over a fresh data directory with 16 bots and 16 people who each wrote to every bot.
struct World {
    runtime: tokio::runtime::Runtime,
    core: roost_core::Core,
    /// (bot, person) pairs of chats a bot may send to.
    chats: Vec<(i64, i64)>,
    _dir: tempfile::TempDir,
}

fn world() -> World {
    let fail = |e: &dyn std::fmt::Display| -> ! { panic!("setting up the bench: {e}") };
    let dir = tempfile::tempdir().unwrap_or_else(|e| fail(&e));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| fail(&e));
    let mut config = roost::Config::with_data_dir(dir.path());
    config.rate_limits.enabled = false;
    let (core, chats) = runtime.block_on(async {
        let core = roost::open_core(&config).await.unwrap_or_else(|e| fail(&e));
        let register = |name: String| Register {
            username: Some(name),
            password: Some("bench password".into()),
            first_name: Some("Bench".into()),
            ..Register::default()
        };
        core.create_user(register("owner".into())).await.unwrap_or_else(|e| fail(&e));
        let mut bots = Vec::new();
        for i in 0..16 {
            let bot = core.create_bot("owner", &format!("b{i}_bot"), Some("Bench")).await;
            bots.push(bot.unwrap_or_else(|e| fail(&e)).bot.profile.id);
        }
        let mut chats = Vec::new();
        for i in 0..16 {
            let person =
                core.create_user(register(format!("person{i}"))).await.unwrap_or_else(|e| fail(&e)).id;
            for &bot in &bots {
                let start = ClientSendMessage {
                    chat_id: Some(ChatId::Id(bot)),
                    text: Some("/start".into()),
                    ..ClientSendMessage::default()
                };
                core.person_send(roost_core::UserId::from_raw(person), start)
                    .await
                    .unwrap_or_else(|e| fail(&e));
                chats.push((bot, person));
            }
        }
        (core, chats)
    });
    World { runtime, core, chats, _dir: dir }
}

#[divan::bench(args = [1, 16, 64], sample_count = 30, sample_size = 4)]
fn bot_send_message(bencher: divan::Bencher, concurrency: usize) {
    let world = world();
    let chats = &world.chats;
    let mut next = 0usize;
    bencher.counter(divan::counter::ItemsCount::new(concurrency)).bench_local(|| {
        let batch: Vec<(i64, i64)> = (0..concurrency).map(|k| chats[(next + k) % chats.len()]).collect();
        next += concurrency;
        world.runtime.block_on(async {
            let sends = batch.into_iter().map(|(bot, person)| {
                let core = world.core.clone();
                tokio::spawn(async move {
                    let req = SendMessage {
                        chat_id: Some(ChatId::Id(person)),
                        text: Some("bench message".into()),
                        ..SendMessage::default()
                    };
                    core.bot_send(roost_core::UserId::from_raw(bot), req).await
                })
            });
            for sent in futures_util::future::join_all(sends).await {
                if !matches!(sent, Ok(Ok(_))) {
                    panic!("a send failed: {sent:?}");
                }
            }
        });
    });
}
