# The Python example of WWChat's Bot API document (../shared/seeds/002_548b20936bb4954d.txt),
# unchanged except that TOKEN and BASE_URL come from the environment the suite gives it.
import os
import requests
import time
TOKEN = os.environ["BOT_TOKEN"]
BASE_URL = f"{os.environ['BOT_API_BASE_URL']}/{TOKEN}"
def get_updates(offset=None):
    params = {"timeout": 30}
    if offset:
        params["offset"] = offset
    resp = requests.get(f"{BASE_URL}/getUpdates", params=params)
    return resp.json()
def send_message(chat_id, text):
    resp = requests.post(f"{BASE_URL}/sendMessage", json={
        "chat_id": chat_id,
        "text": text
    })
    return resp.json()
def main():
    offset = None
    print("Bot started!")
    while True:
        result = get_updates(offset)
        if not result.get("ok"):
            time.sleep(5)
            continue
        for update in result.get("result", []):
            offset = update["update_id"] + 1
            if "message" in update:
                msg = update["message"]
                chat_id = msg["chat"]["id"]
                text = msg.get("text", "")
                if text.startswith("/start"):
                    send_message(chat_id, "Hello! I'm a WWChat bot.")
                elif text.startswith("/help"):
                    send_message(chat_id, "Commands:\n/start\n/help")
                else:
                    send_message(chat_id, f"You wrote: {text}")
if __name__ == "__main__":
    main()
