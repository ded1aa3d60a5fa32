// Inline keyboard, callback answer and message edit, the way telegraf's examples do it.
const { Telegraf, Markup } = require('telegraf');

const bot = new Telegraf(process.env.BOT_TOKEN, { telegram: { apiRoot: process.env.BOT_API_ROOT } });

bot.command('menu', (ctx) =>
  ctx.reply(
    'Choose a <b>fruit</b>:',
    {
      parse_mode: 'HTML',
      ...Markup.inlineKeyboard([
        [Markup.button.callback('Apple', 'fruit:apple'), Markup.button.callback('Pear', 'fruit:pear')],
        [Markup.button.url('About', 'https://roost.dev')],
      ]),
    },
  ),
);

bot.action(/fruit:(.+)/, async (ctx) => {
  const fruit = ctx.match[1];
  await ctx.answerCbQuery(`You picked ${fruit}`);
  await ctx.editMessageText(`You picked *${fruit}*`, { parse_mode: 'MarkdownV2' });
});

bot.launch();
process.once('SIGINT', () => bot.stop('SIGINT'));
process.once('SIGTERM', () => bot.stop('SIGTERM'));
