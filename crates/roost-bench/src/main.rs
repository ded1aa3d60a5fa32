//! `roost-bench`: Roost's load generator.
//!
//! `cargo run --release -p roost-bench -- SCENARIO [options]` sets up its own people, bots and
//! chats, starts a Roost server as a child process (so that the server's memory can be read
//! alone) or targets one given with `--url`/`--data`, runs the scenario, and reports a table and
//! JSON. Every throughput figure of `send` comes with the same load against `baseline`, a minimal
//! axum handler with no storage, measured in the same run and interleaved with it in rounds of
//! about two seconds, so the machine's drift cancels out.

mod report;
mod scenarios;
mod servers;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(name = "roost-bench", about = "Load scenarios for Roost")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Many bots call sendMessage into many chats over keep-alive connections (with the baseline).
    Send(Options),
    /// People write through the client API while bots wait in getUpdates: end-to-end latency.
    Deliver(Options),
    /// Bots write while people's event streams are open: end-to-end latency to the stream.
    Stream(Options),
    /// A backlog delivered by webhook to a local keep-alive receiver: updates per second.
    Webhook(Options),
    /// N waiting long polls and N open event streams: the server's memory.
    Idle(Options),
    /// The request shape of `send` against a minimal axum handler with no storage.
    Baseline(Options),
    /// Every scenario in turn.
    All(Options),
    /// (internal) Runs a Roost server for the bench.
    #[command(hide = true)]
    ServeChild {
        #[arg(long)]
        data: std::path::PathBuf,
        #[arg(long)]
        database: Option<String>,
    },
    /// (internal) Runs the baseline server.
    #[command(hide = true)]
    BaselineChild,
}

/// Options shared by the scenarios.
#[derive(Args, Clone, Debug)]
pub struct Options {
    /// Seconds of load per measurement.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Concurrent connections for send and baseline.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Bots set up.
    #[arg(long, default_value_t = 16)]
    pub bots: usize,
    /// People set up.
    #[arg(long, default_value_t = 16)]
    pub people: usize,
    /// Messages per second people send in `deliver` (bots in `stream`).
    #[arg(long, default_value_t = 1000)]
    pub rate: u64,
    /// Backlog size in `webhook`.
    #[arg(long, default_value_t = 20000)]
    pub messages: usize,
    /// Long polls and event streams in `idle` (each).
    #[arg(long, default_value_t = 10000)]
    pub idle: usize,
    /// Long polls in `idle`, when different from --idle (0 measures streams alone).
    #[arg(long)]
    pub polls: Option<usize>,
    /// Event streams in `idle`, when different from --idle (0 measures polls alone).
    #[arg(long)]
    pub streams: Option<usize>,
    /// A few seconds of everything, for the test suite: asserts only that numbers come out.
    #[arg(long)]
    pub smoke: bool,
    /// Write the results as JSON to this file.
    #[arg(long)]
    pub json: Option<std::path::PathBuf>,
    /// Target a running server instead of starting one (needs --data, its data directory).
    #[arg(long, requires = "data")]
    pub url: Option<String>,
    /// The data directory of the server given with --url.
    #[arg(long)]
    pub data: Option<std::path::PathBuf>,
    /// The store, when not SQLite in the data directory: `postgres://…` (an empty database, or
    /// one the bench has used before) measures Roost on PostgreSQL.
    #[arg(long)]
    pub database: Option<String>,
}

impl Options {
    /// The options scaled down for `--smoke`.
    pub fn effective(&self) -> Options {
        let mut o = self.clone();
        if o.smoke {
            o.duration = o.duration.min(2);
            o.connections = o.connections.min(16);
            o.bots = o.bots.min(4);
            o.people = o.people.min(4);
            o.rate = o.rate.min(200);
            o.messages = o.messages.min(400);
            o.idle = o.idle.min(200);
            o.polls = o.polls.map(|n| n.min(200));
            o.streams = o.streams.map(|n| n.min(200));
        }
        o
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Thousands of sockets in `idle`: raise the open-file limit (children inherit it).
    servers::raise_file_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::ServeChild { data, database } => servers::serve_child(&data, database).await,
            Command::BaselineChild => servers::baseline_child().await,
            Command::Send(o) => scenarios::run(&["send"], &o.effective()).await,
            Command::Deliver(o) => scenarios::run(&["deliver"], &o.effective()).await,
            Command::Stream(o) => scenarios::run(&["stream"], &o.effective()).await,
            Command::Webhook(o) => scenarios::run(&["webhook"], &o.effective()).await,
            Command::Idle(o) => scenarios::run(&["idle"], &o.effective()).await,
            Command::Baseline(o) => scenarios::run(&["baseline"], &o.effective()).await,
            Command::All(o) => {
                scenarios::run(&["send", "deliver", "stream", "webhook", "idle"], &o.effective()).await
            }
        }
    })
}
