"""python-telegram-bot's echo bot, unmodified, answers a person over Roost."""

import asyncio

from conftest import Person, free_port


def run_echo_scenario(roost, run_bot, extra_env=None):
    async def scenario():
        person = await Person(roost.base, "alice_compat", "Alice").register()
        token = roost.create_bot("alice_compat", "echo_compat_bot")
        bot_id = int(token.split(":")[0])
        await person.connect()
        run_bot("echo_bot.py", token, f"{roost.base}/bot", extra_env)

        chat = await person.call("openPrivateChat", username="echo_compat_bot")
        assert chat["id"] == bot_id and chat["type"] == "private"

        await person.call("sendMessage", chat_id=bot_id, text="/start")
        answer = await person.next_message_from(bot_id)
        assert answer["text"] == "Hi Alice! Send me anything and I will echo it."
        assert answer["chat"]["id"] == bot_id

        await person.call("sendMessage", chat_id=bot_id, text="hello")
        answer = await person.next_message_from(bot_id)
        assert answer["text"] == "hello"

        # A person sends two messages within a second; each gets its answer.
        await person.call("sendMessage", chat_id=bot_id, text="one")
        await person.call("sendMessage", chat_id=bot_id, text="two")
        answers = [(await person.next_message_from(bot_id))["text"] for _ in range(2)]
        assert answers == ["one", "two"]

        # A command addressed to the bot by name works as well.
        await person.call("sendMessage", chat_id=bot_id, text="/help@echo_compat_bot")
        answer = await person.next_message_from(bot_id)
        assert answer["text"] == "Just write something."

        history = await person.call("getHistory", chat_id=bot_id)
        # The bot's answers and the person's messages, each in order (the two may interleave).
        assert [m["text"] for m in history if m["from"]["id"] != bot_id] == [
            "/start",
            "hello",
            "one",
            "two",
            "/help@echo_compat_bot",
        ]
        assert [m["text"] for m in history if m["from"]["id"] == bot_id] == [
            "Hi Alice! Send me anything and I will echo it.",
            "hello",
            "one",
            "two",
            "Just write something.",
        ]
        await person.close()

    asyncio.run(asyncio.wait_for(scenario(), 120))


def test_echo_bot_answers_start_and_text(roost, run_bot):
    run_echo_scenario(roost, run_bot)


def test_echo_bot_in_webhook_mode(roost, run_bot):
    """The same bot with `run_webhook`: Roost delivers to the library's own web server, with the
    secret token it checks."""
    run_echo_scenario(roost, run_bot, {"BOT_WEBHOOK_PORT": str(free_port()), "BOT_WEBHOOK_SECRET": "compat_secret"})
