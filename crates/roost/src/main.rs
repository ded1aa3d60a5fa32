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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("roost: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli));
    // Everything acknowledged is committed by now; work still on the blocking pool (a password
    // check, a parse) answers nobody. Do not wait for it long.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    match result {
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
    // In the words the API would answer with.
    let describe = |e: roost_core::Error| match e {
        roost_core::Error::Api(api) => anyhow::anyhow!("{}", roost_http::telegram::errors::describe(&api)),
        other => anyhow::anyhow!("{other}"),
    };
    match command {
        AdminCommand::CreateUser { username, password, first_name } => {
            let user = core
                .create_user(Register {
                    first_name: Some(first_name.unwrap_or_else(|| username.clone())),
                    username: Some(username),
                    password: Some(password),
                    last_name: None,
                    language_code: None,
                    invite: None,
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
