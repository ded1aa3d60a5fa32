"""Measures how fast a waiting getUpdates wakes up when a person writes to the bot.

A bot long-polls (`getUpdates` with a timeout) on one connection while a person sends messages
through the client API on another; for each message it records the time from the start of the
person's request to the moment the bot's waiting request returns with the update. Prints
percentiles. Usage (against a running server with a user and a bot of theirs):

    python scripts/wakeup_latency.py --base http://127.0.0.1:8080 --user alice \
        --password 'correct horse' --token "$TOKEN" [--count 200]
"""

import argparse
import asyncio
import statistics
import time

import httpx


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default="http://127.0.0.1:8080")
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--count", type=int, default=200)
    args = parser.parse_args()
    bot_id = int(args.token.split(":")[0])

    async with httpx.AsyncClient(base_url=args.base, timeout=60) as person, httpx.AsyncClient(
        base_url=args.base, timeout=60
    ) as bot:
        login = (await person.post("/client/v1/login", json={"username": args.user, "password": args.password})).json()
        headers = {"Authorization": f"Bearer {login['result']['token']}"}
        await person.post("/client/v1/sendMessage", json={"chat_id": bot_id, "text": "warm-up"}, headers=headers)
        updates = (await bot.post(f"/bot{args.token}/getUpdates", json={"offset": -1})).json()["result"]
        offset = updates[-1]["update_id"] + 1

        samples = []
        for i in range(args.count):
            poll = asyncio.create_task(bot.post(f"/bot{args.token}/getUpdates", json={"offset": offset, "timeout": 30}))
            await asyncio.sleep(0.005)  # let the poll reach the server and wait there
            started = time.perf_counter()
            send = asyncio.create_task(
                person.post("/client/v1/sendMessage", json={"chat_id": bot_id, "text": f"m{i}"}, headers=headers)
            )
            result = (await poll).json()["result"]
            samples.append(time.perf_counter() - started)
            await send
            assert result and result[0]["message"]["text"] == f"m{i}", result
            offset = result[-1]["update_id"] + 1

        # Baseline in the same run: the round trip of a request that touches no queue (getMe), from
        # the same client, so the client's own overhead can be read off.
        baseline = []
        for _ in range(args.count):
            started = time.perf_counter()
            (await bot.post(f"/bot{args.token}/getMe")).raise_for_status()
            baseline.append(time.perf_counter() - started)

    def report(name, values):
        values.sort()
        ms = lambda s: f"{s * 1000:.2f} ms"
        print(f"  {name}: p50 {ms(statistics.median(values))}  p90 {ms(values[int(len(values) * 0.9)])}  "
              f"p99 {ms(values[int(len(values) * 0.99)])}  max {ms(values[-1])}")
        return statistics.median(values)

    print(f"over {len(samples)} messages:")
    wake = report("wake-up (person's sendMessage starts -> bot's waiting getUpdates returns)", samples)
    base = report("baseline (getMe round trip, same client)", baseline)
    print(f"  ratio of medians: {wake / base:.1f}x")


if __name__ == "__main__":
    asyncio.run(main())
