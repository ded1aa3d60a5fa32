//! `roost`: the command line.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use roost::config::{Config, LogFormat, ServeArgs, StoreArgs};
use roost_types::requests::Register;
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(name = "roost", version, about = "A self-hosted messenger with a first-class bot platform")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Administer the data directory, with or without a running server.
    Admin {
        #[command(flatten)]
        store: StoreArgs,
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a person who can log in to the client API.
    CreateUser {
        username: String,
        #[arg(long)]
        password: String,
        #[arg(long)]
        first_name: Option<String>,
    },
    /// Create a bot owned by a person; prints the bot's token and nothing else.
    CreateBot {
        #[arg(long)]
        owner: String,
        #[arg(long)]
        username: String,
        #[arg(long)]
        name: Option<String>,
    },
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// glibc gives each thread that allocates its own arena (up to 8 per core); with tens of thousands
/// of mostly idle connections the arenas fragment. Measured with `roost-bench idle` (9,900 long
/// polls + 9,900 event streams): 18 KB per connection with the default, 14 KB with two arenas —
/// and no loss of throughput. jemalloc (20 KB) and mimalloc (22 KB) did worse. glibc reads the
/// environment variable when the process starts (setting it at run time takes `mallopt`, an unsafe
/// call this project does not make), so `roost serve` re-executes itself once with it when the
/// operator has not chosen a value.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    use std::os::unix::process::CommandExt;
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else { return };
    // Started some other way (through the dynamic loader, say): `exe` is not this program.
    if !exe.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("roost")) {
        return;
    }
    let error =
        std::process::Command::new(exe).args(std::env::args_os().skip(1)).env("MALLOC_ARENA_MAX", "2").exec();
    eprintln!("roost: could not re-execute with MALLOC_ARENA_MAX=2 ({error}); going on without");
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if matches!(cli.command, Command::Serve(_)) {
        limit_malloc_arenas();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("roost: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("roost: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => {
            let config = Config::load(&args.store, Some(&args))?;
            init_logging(config.log_format);
            let _lock = roost::lock_store(&config)?;
            let core = roost::open_core(&config).await?;
            let listener = tokio::net::TcpListener::bind(config.listen)
                .await
                .with_context(|| format!("cannot listen on {}", config.listen))?;
            let addr = listener.local_addr()?;
            tracing::info!(%addr, data = %config.data.display(), "roost is serving");
            roost::serve(listener, core, roost::serve_options(&config), roost::shutdown_signal()).await
        }
        Command::Admin { store, command } => {
            let config = Config::load(&store, None)?;
            init_logging(LogFormat::Text);
            let core = roost::open_core(&config).await?;
            let result = admin(&core, command).await;
            core.close().await;
            result
        }
    }
}

async fn admin(core: &roost_core::Core, command: AdminCommand) -> anyhow::Result<()> {
    let describe = |e: roost_core::Error| anyhow::anyhow!("{e}");
    match command {
        AdminCommand::CreateUser { username, password, first_name } => {
            let user = core
                .create_user(Register {
                    first_name: Some(first_name.unwrap_or_else(|| username.clone())),
                    username: Some(username),
                    password: Some(password),
                    last_name: None,
                    language_code: None,
                })
                .await
                .map_err(describe)?;
            println!("{}", user.id);
        }
        AdminCommand::CreateBot { owner, username, name } => {
            let bot = core.create_bot(&owner, &username, name.as_deref()).await.map_err(describe)?;
            println!("{}", bot.token);
        }
    }
    Ok(())
}
