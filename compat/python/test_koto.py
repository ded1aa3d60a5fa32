"""Koto's echo.py from its document, unchanged but for the gateway and the token, answers a person
over Roost's Koto dialect (`/koto`), with the token in Koto's `kbot_…` form."""

import asyncio

from conftest import Person


def test_kotos_echo_py_answers_a_person(roost, run_bot):
    async def scenario():
        person = await Person(roost.base, "koto_compat", "Kira").register()
        token = roost.create_bot("koto_compat", "koto_compat_bot")
        bot_id, secret = token.split(":", 1)
        bot_id = int(bot_id)
        await person.connect()
        await person.call("sendMessage", chat_id=bot_id, text="hello koto")

        # echo.py polls once, answers what it got, and ends.
        bot = run_bot("koto_echo.py", f"kbot_{bot_id}_{secret}", f"{roost.base}/koto")
        answer = await person.next_message_from(bot_id)
        assert answer["text"] == "Echo: hello koto"
        for _ in range(100):
            if bot.process.poll() is not None:
                break
            await asyncio.sleep(0.1)
        assert bot.process.returncode == 0, "".join(bot.output)
        await person.close()

    asyncio.run(asyncio.wait_for(scenario(), 60))
