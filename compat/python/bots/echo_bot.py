"""An echo bot, written the way python-telegram-bot's own examples write it.

The only Roost-specific part is the server address: `base_url` points at Roost instead of
api.telegram.org. Run it with long polling:

    BOT_TOKEN=<token> BOT_API_BASE_URL=http://127.0.0.1:8080/bot python echo_bot.py

or as a webhook (the library's own web server answers Roost's deliveries on BOT_WEBHOOK_PORT):

    BOT_WEBHOOK_PORT=8443 BOT_WEBHOOK_SECRET=s3cret BOT_TOKEN=… BOT_API_BASE_URL=… python echo_bot.py
"""

import logging
import os

from telegram import Update
from telegram.ext import Application, CommandHandler, ContextTypes, MessageHandler, filters

logging.basicConfig(format="%(asctime)s - %(name)s - %(levelname)s - %(message)s", level=logging.INFO)
logging.getLogger("httpx").setLevel(logging.WARNING)


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Greet the user on /start."""
    user = update.effective_user
    await update.message.reply_text(f"Hi {user.first_name}! Send me anything and I will echo it.")


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.message.reply_text("Just write something.")


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Echo the user message."""
    await update.message.reply_text(update.message.text)


def main() -> None:
    application = (
        Application.builder()
        .token(os.environ["BOT_TOKEN"])
        .base_url(os.environ.get("BOT_API_BASE_URL", "https://api.telegram.org/bot"))
        .build()
    )
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CommandHandler("help", help_command))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    webhook_port = os.environ.get("BOT_WEBHOOK_PORT")
    if webhook_port:
        application.run_webhook(
            listen="127.0.0.1",
            port=int(webhook_port),
            url_path="echo-hook",
            secret_token=os.environ.get("BOT_WEBHOOK_SECRET"),
            webhook_url=f"http://127.0.0.1:{webhook_port}/echo-hook",
            allowed_updates=Update.ALL_TYPES,
        )
    else:
        application.run_polling(allowed_updates=Update.ALL_TYPES)


if __name__ == "__main__":
    main()
