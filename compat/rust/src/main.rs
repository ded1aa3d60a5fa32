//! teloxide bots, written the way teloxide's README and examples write them. The only Roost part
//! is the server address (`Bot::set_api_url`). Usage: `roost-compat-teloxide echo|commands|keyboard`
//! with BOT_TOKEN and BOT_API_URL in the environment.

use teloxide::dispatching::UpdateFilterExt;
use teloxide::prelude::*;
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup, ParseMode};
use teloxide::utils::command::BotCommands;

fn bot() -> Bot {
    let token = std::env::var("BOT_TOKEN").expect("BOT_TOKEN");
    let api = std::env::var("BOT_API_URL").expect("BOT_API_URL");
    Bot::new(token).set_api_url(url::Url::parse(&api).expect("BOT_API_URL is a URL"))
}

#[tokio::main]
async fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("echo") => echo().await,
        Some("commands") => commands().await,
        Some("keyboard") => keyboard().await,
        other => panic!("unknown bot {other:?}"),
    }
}

/// The echo bot of teloxide's README, with `teloxide::repl`.
async fn echo() {
    teloxide::repl(bot(), |bot: Bot, msg: Message| async move {
        if let Some(text) = msg.text() {
            bot.send_message(msg.chat.id, format!("echo: {text}")).await?;
        }
        Ok(())
    })
    .await;
}

// The command bot of teloxide's README: a `BotCommands` enum and `Command::repl`. (A plain
// comment: teloxide reads doc comments on the enum into its help text.)
#[derive(BotCommands, Clone)]
#[command(rename_rule = "lowercase", description = "These commands are supported:")]
enum Command {
    #[command(description = "display this text.")]
    Help,
    #[command(description = "handle a username.")]
    Username(String),
    #[command(description = "handle a username and an age.", parse_with = "split")]
    UsernameAndAge { username: String, age: u8 },
}

async fn answer(bot: Bot, msg: Message, cmd: Command) -> ResponseResult<()> {
    match cmd {
        Command::Help => bot.send_message(msg.chat.id, Command::descriptions().to_string()).await?,
        Command::Username(username) => {
            bot.send_message(msg.chat.id, format!("Your username is @{username}.")).await?
        }
        Command::UsernameAndAge { username, age } => {
            bot.send_message(msg.chat.id, format!("Your username is @{username} and age is {age}.")).await?
        }
    };
    Ok(())
}

async fn commands() {
    let bot = bot();
    bot.set_my_commands(Command::bot_commands()).await.expect("setMyCommands");
    Command::repl(bot, answer).await;
}

/// An inline keyboard with a dptree dispatcher, after teloxide's `buttons.rs` example.
async fn keyboard() {
    let handler = dptree::entry()
        .branch(Update::filter_message().endpoint(menu))
        .branch(Update::filter_callback_query().endpoint(pressed));
    Dispatcher::builder(bot(), handler).enable_ctrlc_handler().build().dispatch().await;
}

async fn menu(bot: Bot, msg: Message) -> ResponseResult<()> {
    if msg.text() == Some("/start") {
        let keyboard = InlineKeyboardMarkup::new(vec![vec![
            InlineKeyboardButton::callback("Debian", "debian"),
            InlineKeyboardButton::callback("Arch", "arch"),
        ]]);
        bot.send_message(msg.chat.id, "Pick a <b>distribution</b>:")
            .parse_mode(ParseMode::Html)
            .reply_markup(keyboard)
            .await?;
    }
    Ok(())
}

async fn pressed(bot: Bot, q: CallbackQuery) -> ResponseResult<()> {
    if let Some(choice) = q.data.clone() {
        bot.answer_callback_query(q.id.clone()).text(format!("You chose {choice}")).await?;
        if let Some(message) = q.regular_message() {
            bot.edit_message_text(message.chat.id, message.id, format!("You chose: {choice}")).await?;
        }
    }
    Ok(())
}
