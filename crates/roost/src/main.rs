//! `roost`: the command line.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use roost::config::{Config, LogFormat, ServeArgs, StoreArgs};
use roost_core::{Core, Manager};
use roost_types::OwnedBot;
use roost_types::requests::{BotRef, EditBot, Register};
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
    /// Administer the data directory (or PostgreSQL database), with or without a running server.
    Admin {
        #[command(flatten)]
        store: StoreArgs,
        /// Create the database if there is none yet (otherwise an admin command refuses to start
        /// one by mistake).
        #[arg(long, global = true)]
        create: bool,
        #[command(subcommand)]
        command: AdminCommand,
    },
}

/// Where a password comes from: `--password-stdin`, `--password` (visible to other users of the
/// machine in the process list: prefer the others), or else a prompt on the terminal.
#[derive(Args)]
struct PasswordArgs {
    /// Read the password from the first line of standard input.
    #[arg(long, conflicts_with = "password")]
    password_stdin: bool,
    /// The password itself (8-256 characters). Other users of the machine can see a command
    /// line: prefer --password-stdin or the prompt.
    #[arg(long)]
    password: Option<String>,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a person who can sign in to the client API; prints their id.
    CreateUser {
        /// The username: 5-32 characters of a-z, 0-9 and _, starting with a letter, not ending in "bot".
        username: String,
        /// The display name (default: the username).
        #[arg(long)]
        first_name: Option<String>,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// List the people: id, username, name, when they joined, and whether they were deleted.
    ListUsers,
    /// Show one person and the bots they own.
    ShowUser {
        /// The person's username.
        username: String,
    },
    /// Delete a person's account and every bot they own: they can no longer sign in, their
    /// username is free again, and their messages stay in others' chats.
    DeleteUser {
        /// The person's username.
        username: String,
        /// Delete without asking (needed when standard input is not a terminal).
        #[arg(long)]
        yes: bool,
    },
    /// Set a new password for a person; every session and API key of theirs ends.
    ResetPassword {
        /// The person's username.
        username: String,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Create a bot owned by a person; prints the bot's token and nothing else.
    CreateBot {
        /// The owner's username.
        #[arg(long)]
        owner: String,
        /// The bot's username: 5-32 characters of a-z, 0-9 and _, ending in "bot".
        #[arg(long)]
        username: String,
        /// The display name (default: the username).
        #[arg(long)]
        name: Option<String>,
    },
    /// List the bots: id, username, owner, and whether they were deleted.
    ListBots {
        /// Only the bots of this person.
        #[arg(long)]
        owner: Option<String>,
    },
    /// Show a bot: its owner, settings, pending updates and webhook state.
    ShowBot {
        /// The bot's username.
        username: String,
    },
    /// Delete a bot: its token stops working at once and its username stays reserved.
    DeleteBot {
        /// The bot's username.
        username: String,
        /// Delete without asking (needed when standard input is not a terminal).
        #[arg(long)]
        yes: bool,
    },
    /// Replace a bot's token (the old one stops working at once); prints the new token.
    RevokeToken {
        /// The bot's username.
        username: String,
    },
    /// Switch a bot's privacy mode: `on` (the default) gives it only commands, replies and
    /// mentions in groups; `off` gives it every message.
    SetPrivacy {
        /// The bot's username.
        username: String,
        /// on or off.
        #[arg(value_parser = ["on", "off"])]
        mode: String,
    },
    /// Make an invite code for the `invite` registration policy; prints it.
    CreateInvite,
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::stderr().is_terminal();
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
        Command::Admin { store, create, command } => {
            let config = Config::load(&store, None)?;
            // Warnings only: the command's own output is what it prints.
            init_logging_quiet();
            let shown = roost::redacted_database(&config.database);
            if !create
                && !roost_store::database_exists(&config.database)
                    .await
                    .with_context(|| format!("cannot open the database {shown}"))?
            {
                bail!(
                    "there is no Roost database at {shown} (data directory {}); pass --data or --database, or --create to start an empty one",
                    config.data.display()
                );
            }
            eprintln!("roost: database {shown}");
            // Deletions cannot be undone: confirmed before anything is opened.
            match &command {
                AdminCommand::DeleteUser { username, yes } => {
                    confirm(*yes, "delete-user", username, "and every bot they own")?
                }
                AdminCommand::DeleteBot { username, yes } => {
                    confirm(*yes, "delete-bot", username, "(its username stays reserved)")?
                }
                _ => {}
            }
            // The password is read before the database is opened, so a prompt is not raced.
            let password = match &command {
                AdminCommand::CreateUser { password, .. } | AdminCommand::ResetPassword { password, .. } => {
                    Some(read_password(password)?)
                }
                _ => None,
            };
            let core = roost::open_core(&config).await?;
            let result = admin(&core, command, password).await;
            core.close().await;
            result
        }
    }
}

fn init_logging_quiet() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

/// Asks the operator to type the username again before a deletion, unless `--yes`; refuses
/// without a terminal to ask on.
fn confirm(yes: bool, command: &str, username: &str, what: &str) -> anyhow::Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        bail!("{command} cannot be undone: pass --yes to confirm it");
    }
    let name = username.trim().trim_start_matches('@');
    eprint!("Delete @{name} {what}? This cannot be undone. Type the username to confirm: ");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("cannot read the confirmation")?;
    if line.trim().trim_start_matches('@') != name {
        bail!("not confirmed: nothing was deleted");
    }
    Ok(())
}

/// The password of `create-user` and `reset-password`, from wherever the flags say.
fn read_password(args: &PasswordArgs) -> anyhow::Result<String> {
    if let Some(password) = &args.password {
        return Ok(password.clone());
    }
    if args.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        return Ok(line.trim_end_matches(['\n', '\r']).to_owned());
    }
    if !std::io::stdin().is_terminal() {
        bail!("no password: pass --password-stdin (or --password), or run on a terminal to be asked");
    }
    let first = rpassword::prompt_password("Password: ").context("cannot read the password")?;
    let second = rpassword::prompt_password("Password again: ").context("cannot read the password")?;
    if first != second {
        bail!("the two passwords differ");
    }
    Ok(first)
}

/// An error in the words the API would answer with, the rule included.
fn describe(e: roost_core::Error) -> anyhow::Error {
    match e {
        roost_core::Error::Api(api) => anyhow::anyhow!("{}", roost_http::telegram::errors::describe(&api)),
        other => anyhow::anyhow!("{other}"),
    }
}

fn by_username(username: &str) -> BotRef {
    BotRef { bot_id: None, username: Some(username.to_owned()) }
}

fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

/// A Unix time as an HTTP date (`Tue, 08 Dec 2026 02:03:50 GMT`).
fn date(unix: i64) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::try_from(unix).unwrap_or(0));
    httpdate::fmt_http_date(at)
}

fn print_bot_line(bot: &OwnedBot, owners: &std::collections::HashMap<i64, String>) {
    println!(
        "{:<12} @{:<32} owner @{:<32} {}",
        bot.profile.id,
        bot.profile.username.as_deref().unwrap_or("(deleted)"),
        owners.get(&bot.owner_id).map_or("?", String::as_str),
        if bot.is_deleted { "deleted" } else { "" }
    );
}

async fn owner_names(core: &Core) -> anyhow::Result<std::collections::HashMap<i64, String>> {
    Ok(core
        .people()
        .await
        .map_err(describe)?
        .into_iter()
        .map(|p| (p.user.id, p.user.username.unwrap_or_else(|| "(deleted)".into())))
        .collect())
}

async fn admin(core: &Core, command: AdminCommand, password: Option<String>) -> anyhow::Result<()> {
    let password = password.unwrap_or_default();
    match command {
        AdminCommand::CreateUser { username, first_name, .. } => {
            let user = core
                .create_user(Register {
                    first_name: Some(first_name.unwrap_or_else(|| username.clone())),
                    username: Some(username),
                    password: Some(password),
                    ..Register::default()
                })
                .await
                .map_err(describe)?;
            println!("{}", user.id);
        }
        AdminCommand::ListUsers => {
            for person in core.people().await.map_err(describe)? {
                println!(
                    "{:<12} @{:<32} {:<24} {}{}",
                    person.user.id,
                    person.user.username.as_deref().unwrap_or("-"),
                    person.user.first_name,
                    date(person.created_at),
                    if person.deleted { "  deleted" } else { "" }
                );
            }
        }
        AdminCommand::ShowUser { username } => {
            let id = core.person_by_username(&username).await.map_err(describe)?;
            let person = core.me(id).await.map_err(describe)?;
            println!("id:        {}", person.id);
            println!("username:  @{}", person.username.as_deref().unwrap_or_default());
            println!(
                "name:      {}",
                [Some(person.first_name.as_str()), person.last_name.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            let bots = core.my_bots(id).await.map_err(describe)?;
            println!("bots:      {} of {} (deleted ones count)", bots.len(), roost_core::BOTS_PER_PERSON);
            for bot in bots {
                println!(
                    "  @{}{}",
                    bot.profile.username.as_deref().unwrap_or("(deleted)"),
                    if bot.is_deleted { " (deleted)" } else { "" }
                );
            }
        }
        AdminCommand::DeleteUser { username, .. } => {
            let id = core.person_by_username(&username).await.map_err(describe)?;
            let bots = core.delete_person(id).await.map_err(describe)?;
            println!("deleted @{username}");
            for bot in bots {
                println!("deleted their bot @{bot}");
            }
        }
        AdminCommand::ResetPassword { username, .. } => {
            let id = core.person_by_username(&username).await.map_err(describe)?;
            core.reset_password(id, password).await.map_err(describe)?;
            println!("the password of @{username} is changed; their sessions and API keys have ended");
        }
        AdminCommand::CreateBot { owner, username, name } => {
            let bot = core.create_bot(&owner, &username, name.as_deref()).await.map_err(describe)?;
            println!("{}", bot.token);
        }
        AdminCommand::ListBots { owner } => {
            let owners = owner_names(core).await?;
            let bots = match owner {
                Some(owner) => {
                    let id = core.person_by_username(&owner).await.map_err(describe)?;
                    core.my_bots(id).await.map_err(describe)?
                }
                None => core.all_bots().await.map_err(describe)?,
            };
            for bot in &bots {
                print_bot_line(bot, &owners);
            }
        }
        AdminCommand::ShowBot { username } => {
            let bot = core.managed_bot(Manager::Operator, by_username(&username)).await.map_err(describe)?;
            let owners = owner_names(core).await?;
            let p = &bot.profile;
            println!("id:               {}", p.id);
            println!("username:         @{}", p.username.as_deref().unwrap_or_default());
            println!("name:             {}", p.name);
            println!("owner:            @{}", owners.get(&bot.owner_id).map_or("?", String::as_str));
            println!("created:          {}", date(bot.created_at));
            println!("privacy mode:     {}", if p.can_read_all_group_messages { "off" } else { "on" });
            println!("joins groups:     {}", yes_no(p.can_join_groups));
            println!("inline mode:      {}", yes_no(p.supports_inline_queries));
            println!("pending updates:  {}", bot.pending_update_count);
            if bot.webhook_url.is_empty() {
                println!("webhook:          none (getUpdates)");
            } else {
                println!("webhook:          {}", bot.webhook_url);
            }
            if let (Some(at), Some(message)) = (bot.last_error_date, &bot.last_error_message) {
                println!("last error:       {} {message}", date(at));
            }
        }
        AdminCommand::DeleteBot { username, .. } => {
            core.delete_bot(Manager::Operator, by_username(&username)).await.map_err(describe)?;
            println!("deleted @{}; its username stays reserved", username.trim_start_matches('@'));
        }
        AdminCommand::RevokeToken { username } => {
            let fresh =
                core.revoke_bot_token(Manager::Operator, by_username(&username)).await.map_err(describe)?;
            println!("{}", fresh.token);
        }
        AdminCommand::SetPrivacy { username, mode } => {
            let edit = EditBot {
                username: Some(username.clone()),
                can_read_all_group_messages: Some(mode == "off"),
                ..EditBot::default()
            };
            core.edit_bot(Manager::Operator, edit).await.map_err(describe)?;
            println!("privacy mode of @{} is {mode}", username.trim_start_matches('@'));
        }
        AdminCommand::CreateInvite => {
            let code = core.create_invite(Manager::Operator).await.map_err(describe)?;
            println!("{code}");
        }
    }
    Ok(())
}
