"""python-telegram-bot's inline keyboard example: formatted text, a keyboard, a button press
answered with answerCallbackQuery, and the message edited."""

import asyncio
import json

from conftest import Person


def test_inline_keyboard_callback_and_edit(roost, run_bot):
    async def scenario():
        person = await Person(roost.base, "kim_compat", "Kim").register()
        token = roost.create_bot("kim_compat", "keyboard_compat_bot")
        bot_id = int(token.split(":")[0])
        await person.connect()
        run_bot("keyboard_bot.py", token, f"{roost.base}/bot")

        await person.call("sendMessage", chat_id=bot_id, text="/start")
        menu = await person.next_message_from(bot_id)
        assert menu["text"] == "Please choose:"
        assert menu["entities"] == [{"type": "bold", "offset": 0, "length": 14}]
        rows = menu["reply_markup"]["inline_keyboard"]
        assert [[b["text"] for b in row] for row in rows] == [["Option 1", "Option 2"], ["Option 3"]]

        pressed = await person.call("pressButton", chat_id=bot_id, message_id=menu["message_id"], callback_data="2")
        assert pressed["answer"]["text"] == "You chose 2"

        # The bot edits the message: the person sees the edit on the event stream.
        while True:
            event = json.loads(await asyncio.wait_for(person.events.recv(), 30))
            if event["type"] == "edited_message":
                break
        edited = event["message"]
        assert edited["message_id"] == menu["message_id"]
        assert edited["text"] == "Selected option: 2"
        assert edited["entities"] == [{"type": "italic", "offset": 17, "length": 1}]
        assert "reply_markup" not in edited
        await person.close()

    asyncio.run(asyncio.wait_for(scenario(), 120))
