// teloxide (Rust), unmodified, against Roost: `teloxide::repl` echo, a `BotCommands` command bot,
// and a dptree dispatcher with an inline keyboard. The bots are built from compat/rust by
// scripts/test; TELOXIDE_BOTS names the binary.
const assert = require('node:assert/strict');
const path = require('node:path');
const { test } = require('node:test');
const { withBot, REPO } = require('../harness');

const BIN = process.env.TELOXIDE_BOTS || path.join(REPO, 'target', 'compat-rust', 'debug', 'roost-compat-teloxide');

test('teloxide repl echo', { timeout: 120000 }, () =>
  withBot([BIN, 'echo'], 'teloxide_echo_bot', {}, async (person, botId) => {
    await person.call('sendMessage', { chat_id: botId, text: 'hello rust' });
    assert.equal((await person.next('message', botId)).message.text, 'echo: hello rust');
  }));

test('teloxide BotCommands with Command::repl', { timeout: 120000 }, () =>
  withBot([BIN, 'commands'], 'teloxide_cmd_bot', {}, async (person, botId) => {
    await person.call('sendMessage', { chat_id: botId, text: '/username ferris' });
    assert.equal((await person.next('message', botId)).message.text, 'Your username is @ferris.');
    await person.call('sendMessage', { chat_id: botId, text: '/usernameandage ferris 9' });
    assert.equal((await person.next('message', botId)).message.text, 'Your username is @ferris and age is 9.');
    await person.call('sendMessage', { chat_id: botId, text: '/help@teloxide_cmd_bot' });
    const help = (await person.next('message', botId)).message.text;
    assert.match(help, /^These commands are supported:\n\n?\/help — display this text\./);
    // The bot published its commands with setMyCommands; the person's menu shows them.
    const menu = await person.call('getBotCommands', { chat_id: botId });
    assert.deepEqual(menu.map((c) => c.command), ['help', 'username', 'usernameandage']);
  }));

test('teloxide dptree inline keyboard with a callback and an edit', { timeout: 120000 }, () =>
  withBot([BIN, 'keyboard'], 'teloxide_kb_bot', {}, async (person, botId) => {
    await person.call('sendMessage', { chat_id: botId, text: '/start' });
    const menu = (await person.next('message', botId)).message;
    assert.equal(menu.text, 'Pick a distribution:');
    assert.deepEqual(menu.entities, [{ type: 'bold', offset: 7, length: 12 }]);
    const pressed = await person.call('pressButton', { chat_id: botId, message_id: menu.message_id, callback_data: 'arch' });
    assert.equal(pressed.answer.text, 'You chose arch');
    const edited = (await person.next('edited_message', botId)).message;
    assert.equal(edited.text, 'You chose: arch');
  }));
