# The quick-start bot of Quanta's Bot API document (../shared/seeds/001_7232f849478beb13.txt),
# unchanged except that API and TOKEN come from the environment the suite gives it.
import os
import requests, time
API = os.environ["BOT_API_BASE_URL"]
TOKEN = os.environ["BOT_TOKEN"]
HEADERS = {"X-Bot-Token": TOKEN}
while True:
    r = requests.get(f"{API}/updates?timeout=30", headers=HEADERS)
    for update in r.json().get("updates", []):
        payload = update["payload"]
        chat_id = payload.get("chat_id")
        text = payload.get("content", "")
        if text.startswith("/start"):
            requests.post(f"{API}/send-message", headers=HEADERS, json={"chat_id": chat_id, "content": "Hello! I'm your bot."})
