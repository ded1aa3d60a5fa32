// telegraf, unmodified, against Roost: echo and commands by long polling, echo by webhook (with
// telegraf's reply in the webhook response), and an inline keyboard with a callback and an edit.
const assert = require('node:assert/strict');
const { test } = require('node:test');
const { freePort, withBot } = require('../harness');

async function echoScenario(person, botId) {
  await person.call('sendMessage', { chat_id: botId, text: '/start' });
  assert.equal((await person.next('message', botId)).message.text, 'Welcome, Tess!');
  await person.call('sendMessage', { chat_id: botId, text: 'hello there' });
  assert.equal((await person.next('message', botId)).message.text, 'hello there');
  await person.call('sendMessage', { chat_id: botId, text: '/oldschool@telegraf_compat_bot' });
  assert.equal((await person.next('message', botId)).message.text, 'Hello');
  await person.call('sendMessage', { chat_id: botId, text: '/help' });
  assert.equal((await person.next('message', botId)).message.text, 'Send me some text');
}

test('telegraf echo and commands by long polling', { timeout: 120000 }, () =>
  withBot('echo.js', 'telegraf_compat_bot', {}, echoScenario));

test('telegraf echo by webhook, answering in the response body', { timeout: 120000 }, async () => {
  const port = await freePort();
  await withBot('echo.js', 'telegraf_compat_bot', { BOT_WEBHOOK_PORT: String(port), BOT_WEBHOOK_SECRET: 'telegraf_secret' }, echoScenario);
});

test('telegraf inline keyboard, answerCbQuery and editMessageText', { timeout: 120000 }, () =>
  withBot('keyboard.js', 'telegraf_compat_bot', {}, async (person, botId) => {
    await person.call('sendMessage', { chat_id: botId, text: '/menu' });
    const menu = (await person.next('message', botId)).message;
    assert.equal(menu.text, 'Choose a fruit:');
    assert.deepEqual(menu.entities, [{ type: 'bold', offset: 9, length: 5 }]);
    assert.deepEqual(menu.reply_markup.inline_keyboard.map((row) => row.map((b) => b.text)), [['Apple', 'Pear'], ['About']]);

    const pressed = await person.call('pressButton', { chat_id: botId, message_id: menu.message_id, callback_data: 'fruit:pear' });
    assert.equal(pressed.answer.text, 'You picked pear');

    const edited = (await person.next('edited_message', botId)).message;
    assert.equal(edited.message_id, menu.message_id);
    assert.equal(edited.text, 'You picked pear');
    assert.deepEqual(edited.entities, [{ type: 'bold', offset: 11, length: 4 }]);
  }));
