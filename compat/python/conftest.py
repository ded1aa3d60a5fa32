"""Fixtures of the compatibility suite: a real `roost serve` process per test, and a scripted
person who uses the client API and its WebSocket event stream."""

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import pytest
import websockets

REPO = Path(__file__).resolve().parents[2]
ROOST_BIN = os.environ.get("ROOST_BIN", str(REPO / "target" / "debug" / "roost"))
BOTS = Path(__file__).resolve().parent / "bots"


# In the PostgreSQL pass (ROOST_COMPAT_POSTGRES=postgres://user@host:port/) every server gets a
# new database on that PostgreSQL server; otherwise SQLite in its data directory.
POSTGRES = os.environ.get("ROOST_COMPAT_POSTGRES", "").rstrip("/")


def roost_env():
    env = {**os.environ, "RUST_LOG": "info"}
    env.pop("ROOST_DATABASE", None)
    return env


class Roost:
    """A running `roost serve` over a temporary data directory (or a new PostgreSQL database)."""

    def __init__(self, database=None):
        self.dir = tempfile.TemporaryDirectory(prefix="roost-compat-")
        self.data = self.dir.name
        self.env = roost_env()
        if database:
            # Another instance over the same PostgreSQL database.
            self.env["ROOST_DATABASE"] = database
        elif POSTGRES:
            name = "roost_compat_" + os.urandom(8).hex()
            subprocess.run(["psql", "-q", f"{POSTGRES}/postgres", "-c", f"CREATE DATABASE {name}"], check=True)
            self.env["ROOST_DATABASE"] = f"{POSTGRES}/{name}"
        self.process = subprocess.Popen(
            [ROOST_BIN, "serve", "--listen", "127.0.0.1:0", "--data", self.data, "--allow-insecure-webhooks"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
        )
        self.log = []
        deadline = time.monotonic() + 30
        self.base = None
        while time.monotonic() < deadline:
            line = self.process.stderr.readline()
            if not line:
                break
            self.log.append(line)
            match = re.search(r"addr=(\S+)", line)
            if match:
                self.base = f"http://{match.group(1)}"
                break
        if self.base is None:
            raise RuntimeError("roost did not start:\n" + "".join(self.log))
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        for line in self.process.stderr:
            self.log.append(line)

    def admin(self, *args):
        out = subprocess.run(
            [ROOST_BIN, "admin", "--data", self.data, *args], capture_output=True, text=True, check=True, env=self.env
        )
        return out.stdout.strip()

    def create_bot(self, owner, username):
        return self.admin("create-bot", "--owner", owner, "--username", username, "--name", "Echo")

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.dir.cleanup()


@pytest.fixture
def roost():
    server = Roost()
    yield server
    server.stop()


class BotProcess:
    """A bot script from bots/, run unmodified in its own Python process."""

    def __init__(self, script, token, base_url, extra_env=None):
        self.process = subprocess.Popen(
            [sys.executable, str(BOTS / script)],
            env={**os.environ, "BOT_TOKEN": token, "BOT_API_BASE_URL": base_url, **(extra_env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.output = []
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        for line in self.process.stdout:
            self.output.append(line)

    def stop(self):
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
        return "".join(self.output)


@pytest.fixture
def run_bot():
    started = []

    def start(script, token, base_url, extra_env=None):
        bot = BotProcess(script, token, base_url, extra_env)
        started.append(bot)
        return bot

    yield start
    for bot in started:
        output = bot.stop()
        if "Traceback" in output:
            print(output)


def free_port():
    """A TCP port on loopback that nothing listens on right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Person:
    """A person using the client API, with a live event stream."""

    def __init__(self, base, username, first_name):
        self.base = base
        self.http = httpx.AsyncClient(base_url=base, timeout=30)
        self.username = username
        self.first_name = first_name
        self.token = None
        self.events = None

    async def call(self, method, **params):
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        response = await self.http.post(f"/client/v1/{method}", json=params, headers=headers)
        body = response.json()
        assert body["ok"], f"{method}: {body}"
        return body["result"]

    async def register(self):
        result = await self.call(
            "register", username=self.username, password="correct horse battery", first_name=self.first_name
        )
        self.token = result["token"]
        self.user = result["user"]
        return self

    async def connect(self):
        url = self.base.replace("http://", "ws://") + f"/client/v1/events?token={self.token}"
        self.events = await websockets.connect(url)
        ready = json.loads(await asyncio.wait_for(self.events.recv(), 10))
        assert ready["type"] == "ready", ready
        return self

    async def next_message_from(self, user_id, timeout=30):
        return await self.next_event_from(user_id, timeout, kinds=("message",))

    async def next_event_from(self, user_id, timeout=30, kinds=("message", "edited_message")):
        """The next message event whose sender is `user_id`."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"no message from {user_id} within {timeout}s")
            event = json.loads(await asyncio.wait_for(self.events.recv(), remaining))
            if event.get("type") in kinds and event["message"]["from"]["id"] == user_id:
                return event["message"]

    async def close(self):
        if self.events is not None:
            await self.events.close()
        await self.http.aclose()
