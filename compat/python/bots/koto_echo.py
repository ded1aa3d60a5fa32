# Koto's echo.py (../shared/seeds/000_b504e552a40a2cfb.txt), unchanged except that the gateway and
# the token come from the environment the suite gives it.
import os

import requests

API = os.environ["BOT_API_BASE_URL"]
HEADERS = {"Authorization": "Bearer " + os.environ["BOT_TOKEN"]}

# long-poll and echo back
r = requests.get(f"{API}/getUpdates", headers=HEADERS, params={"timeout": 20}).json()
for u in r["result"]:
    m = u.get("message")
    if m and m.get("text"):
        requests.post(f"{API}/sendMessage", headers=HEADERS, json={
            "chat_id": m["chat"]["id"],
            "text": "Echo: " + m["text"],
        })
