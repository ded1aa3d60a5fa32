"""A bot made only by chatting with the system bot (@BotMama) runs python-telegram-bot unchanged;
revoking its token through the system bot makes the old token answer 401 at once, on another
instance too (the PostgreSQL pass runs a second instance over the same database)."""

import asyncio
import re
import time

import httpx

from conftest import POSTGRES, Person, Roost


def token_in(text):
    # A token may end in "-" or "_": no \b after it.
    match = re.search(r"(?<![\w-])(\d+:[A-Za-z0-9_-]{35,})(?![\w-])", text)
    assert match, f"no token in {text!r}"
    return match.group(1)


def get_me_status(base, token):
    return httpx.post(f"{base}/bot{token}/getMe", timeout=10).status_code


def test_a_bot_made_by_chatting_with_the_system_bot(roost, run_bot):
    others = []

    async def scenario():
        person = await Person(roost.base, "maker_compat", "Maker").register()
        await person.connect()
        mama = await person.call("getBotInfo", username="BotMama")
        mama_id = mama["id"]

        async def say(text):
            await person.call("sendMessage", chat_id="@BotMama", text=text)
            return (await person.next_event_from(mama_id))["text"]

        assert "choose a name" in await say("/newbot")
        assert "choose a username" in await say("Echo Made By Chat")
        done = await say("chat_made_bot")
        assert done.startswith("Done! Congratulations"), done
        token = token_in(done)
        bot_id = int(token.split(":")[0])

        # The bot runs python-telegram-bot's echo bot with that token.
        bot = run_bot("echo_bot.py", token, f"{roost.base}/bot")
        await person.call("sendMessage", chat_id=bot_id, text="/start")
        answer = await person.next_message_from(bot_id)
        assert answer["text"] == "Hi Maker! Send me anything and I will echo it."
        await person.call("sendMessage", chat_id=bot_id, text="made by chat")
        assert (await person.next_message_from(bot_id))["text"] == "made by chat"
        bot.stop()

        # Another instance knows the token (and caches it) before it is revoked.
        if POSTGRES:
            other = Roost(database=roost.env["ROOST_DATABASE"])
            others.append(other)
            bases = [roost.base, other.base]
        else:
            bases = [roost.base]
        for base in bases:
            assert get_me_status(base, token) == 200

        revoked = await say("/revoke @chat_made_bot")
        new_token = token_in(revoked)
        assert new_token != token
        for base in bases:
            deadline = time.monotonic() + 2
            while get_me_status(base, token) != 401:
                assert time.monotonic() < deadline, f"the old token still works at {base}"
                await asyncio.sleep(0.02)
            assert get_me_status(base, new_token) == 200
        await person.close()

    try:
        asyncio.run(asyncio.wait_for(scenario(), 120))
    finally:
        for other in others:
            other.stop()
