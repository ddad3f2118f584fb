"""examples/python/chat.py driven through its event contract (examples/README.md) by python-socketio."""

import asyncio
import os
import pathlib
import subprocess
import sys

import pytest
import socketio

pytestmark = pytest.mark.asyncio
ROOT = pathlib.Path(__file__).resolve().parents[3]


async def test_chat_example():
    port = 31000 + os.getpid() % 1000
    proc = subprocess.Popen([sys.executable, str(ROOT / "examples/python/chat.py")],
                            env=dict(os.environ, PORT=str(port)))
    clients = []
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                a = socketio.AsyncClient(reconnection=False)
                await a.connect(url, transports=["websocket"], wait_timeout=5)
                break
            except socketio.exceptions.ConnectionError:
                await asyncio.sleep(0.1)
        b = socketio.AsyncClient(reconnection=False)
        clients += [a, b]
        got = asyncio.Queue()
        for name in ("message", "private", "notice"):
            b.on(name, lambda data, name=name: got.put_nowait((name, data)))
        await b.connect(url, transports=["websocket"], wait_timeout=5)
        assert (await a.call("nick", "ann", timeout=5))["ok"]
        assert (await b.call("nick", "ANN", timeout=5)) == {"error": "that nickname is already taken"}
        assert (await b.call("nick", "bob", timeout=5))["ok"]
        assert await b.call("join", "lobby", timeout=5) == {"ok": True, "room": "lobby"}
        assert (await got.get())[0] == "notice"
        assert await a.call("join", "lobby", timeout=5) == {"ok": True, "room": "lobby"}
        assert await asyncio.wait_for(got.get(), 5) == ("notice", {"room": "lobby", "text": "ann joined",
                                                                  "time": pytest.approx(0, abs=1e13)})
        assert await a.call("message", {"room": "lobby", "text": " hi "}, timeout=5) == {"ok": True}
        kind, body = await asyncio.wait_for(got.get(), 5)
        assert kind == "message" and body["from"] == "ann" and body["text"] == "hi"
        assert await a.call("private", {"to": b.get_sid(), "text": "psst"}, timeout=5) == {"ok": True}
        kind, body = await asyncio.wait_for(got.get(), 5)
        assert kind == "private" and body["to"]["nick"] == "bob"
        assert (await a.call("message", {"room": "nope", "text": "x"}, timeout=5)) == {"error": "join the room first"}
        await a.disconnect()
        kind, body = await asyncio.wait_for(got.get(), 5)
        assert (kind, body["text"]) == ("notice", "ann is leaving")
    finally:
        for c in clients:
            try:
                await asyncio.wait_for(c.eio.disconnect(abort=True), 5)
            except Exception:  # noqa: BLE001 - teardown
                pass
        proc.terminate()
        assert proc.wait(10) == 0
