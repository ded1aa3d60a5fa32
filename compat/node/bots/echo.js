// An echo bot written the way telegraf's README writes bots. Only the server address is Roost's:
// `telegram.apiRoot`. With BOT_WEBHOOK_PORT it serves a webhook through `bot.webhookCallback` on a
// plain Node http server (telegraf's documented way to run behind a server of one's own), and
// telegraf answers each update with its reply in the webhook response body.
const http = require('node:http');
const { Telegraf } = require('telegraf');
const { message } = require('telegraf/filters');

const bot = new Telegraf(process.env.BOT_TOKEN, { telegram: { apiRoot: process.env.BOT_API_ROOT } });
bot.start((ctx) => ctx.reply(`Welcome, ${ctx.from.first_name}!`));
bot.help((ctx) => ctx.reply('Send me some text'));
bot.command('oldschool', (ctx) => ctx.reply('Hello'));
bot.on(message('text'), (ctx) => ctx.reply(ctx.message.text));

async function main() {
  const port = process.env.BOT_WEBHOOK_PORT;
  if (port) {
    const secretToken = process.env.BOT_WEBHOOK_SECRET;
    const server = http.createServer(await bot.webhookCallback('/telegraf', { secretToken }));
    server.listen(Number(port), '127.0.0.1');
    await bot.telegram.setWebhook(`http://127.0.0.1:${port}/telegraf`, { secret_token: secretToken });
    const stop = () => server.close(() => process.exit(0));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  } else {
    bot.launch();
    process.once('SIGINT', () => bot.stop('SIGINT'));
    process.once('SIGTERM', () => bot.stop('SIGTERM'));
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
