"""WWChat's own sample bot (its document's Python example), unchanged but for its base URL and
token, answers a person over Roost's WWChat dialect (`/bot/v1/<token>/…`, UUID ids)."""

import asyncio

from conftest import Person


def test_wwchat_sample_bot_answers(roost, run_bot):
    async def scenario():
        person = await Person(roost.base, "wendy_compat", "Wendy").register()
        token = roost.create_bot("wendy_compat", "wwchat_sample_bot")
        bot_id = int(token.split(":")[0])
        await person.connect()
        run_bot("wwchat_sample_bot.py", token, f"{roost.base}/bot/v1")

        exchanges = [
            ("/start", "Hello! I'm a WWChat bot."),
            ("/help", "Commands:\n/start\n/help"),
            ("hi there", "You wrote: hi there"),
        ]
        for sent, expected in exchanges:
            await person.call("sendMessage", chat_id=bot_id, text=sent)
            answer = await person.next_message_from(bot_id)
            assert answer["text"] == expected
            assert answer["chat"]["id"] == bot_id
            # WWChat's table allows one message a second in a chat, without bursts; the person
            # reads the answer before writing again.
            await asyncio.sleep(1)
        await person.close()

    asyncio.run(asyncio.wait_for(scenario(), 120))
