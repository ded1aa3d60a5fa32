"""Quanta's quick-start bot from its document, unchanged but for API and TOKEN, answers a person;
its bot and api_key come from Quanta's owner endpoint `POST /register` with a JWT Roost issued."""

import asyncio

import httpx

from conftest import Person


def test_quantas_quickstart_bot_answers_start(roost, run_bot):
    async def scenario():
        owner = await Person(roost.base, "quanta_compat", "Quinn").register()
        jwt = (await owner.call("issueJwt"))["token"]
        async with httpx.AsyncClient(base_url=roost.base, timeout=30) as http:
            made = (await http.post(
                "/api/v1/bot/register",
                headers={"Authorization": f"Bearer {jwt}"},
                json={"name": "Quick Start", "description": "From the document", "commands": [{"command": "start", "description": "Start bot"}]},
            )).json()
        api_key = made["api_key"]
        assert api_key.startswith("bot_"), made
        username = made["bot"]["username"]
        bot_id = int(api_key.split("_")[1])

        await owner.connect()
        run_bot("quanta_quickstart.py", api_key, f"{roost.base}/api/v1/bot")
        await owner.call("sendMessage", chat_id=f"@{username}", text="/start")
        answer = await owner.next_message_from(bot_id)
        assert answer["text"] == "Hello! I'm your bot."
        await owner.close()

    asyncio.run(asyncio.wait_for(scenario(), 60))
