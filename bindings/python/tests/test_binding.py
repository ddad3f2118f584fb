"""Tests of the Python binding's own API (what the shared e2e suites do not cover): AsyncNamespace,
sessions, emit(callback=), send, close_room, on_any, use, disconnecting, socket.io's operators, handler
errors, bad input from Python, and the typing checks. Servers run in-process on 127.0.0.1:0; clients are
python-socketio's AsyncClient. Run: .venv/bin/python -m pytest bindings/python/tests -q
"""

from __future__ import annotations

import asyncio
import logging
import pathlib
import subprocess
import sys

import pytest
import socketio

import ferrio
from ferrio import exceptions

WAIT = 5.0
ROOT = pathlib.Path(__file__).resolve().parents[3]


@pytest.mark.asyncio
async def test_namespace_class_sessions_and_acks(make):
    events: list[tuple] = []

    class Chat(ferrio.AsyncNamespace):
        async def on_connect(self, sid, environ, auth):
            await self.save_session(sid, {"user": auth["user"]})
            await self.enter_room(sid, "lobby")  # allowed in connect, as with python-socketio

        async def on_whoami(self, sid):
            async with self.session(sid) as session:
                session["asked"] = True
            return (await self.get_session(sid))["user"], self.rooms(sid)

        def on_sync(self, sid, a, b):
            return a + b

        async def on_disconnecting(self, sid, reason):
            events.append(("disconnecting", sorted(self.rooms(sid)), reason))

        async def on_disconnect(self, sid, reason):
            events.append(("disconnect", reason))

    sio = ferrio.AsyncServer()
    sio.register_namespace(Chat("/chat"))
    url = await make(sio)
    c = await make.client(url, namespaces=["/chat"], auth={"user": "ann"})
    sid = c.get_sid("/chat")
    user, rooms = await c.call("whoami", namespace="/chat", timeout=WAIT)
    assert user == "ann" and sorted(rooms) == sorted([sid, "lobby"])
    assert await c.call("sync", (2, 3), namespace="/chat", timeout=WAIT) == 5
    await c.disconnect()
    for _ in range(200):
        if len(events) == 2:
            break
        await asyncio.sleep(0.01)
    # python-socketio's client closes the WebSocket right after its DISCONNECT: either reason may win.
    reason = events[0][2]
    assert reason in ("client namespace disconnect", "transport close")
    assert events == [("disconnecting", sorted([sid, "lobby"]), reason), ("disconnect", reason)]


@pytest.mark.asyncio
async def test_callback_send_close_room_on_any_and_operators(make):
    seen: list = []
    sio = ferrio.AsyncServer()
    sio.on_any(lambda event, sid, *args: seen.append((event, args)))

    @sio.event
    async def join(sid, room):
        await sio.enter_room(sid, room)

    url = await make(sio)
    got: asyncio.Queue = asyncio.Queue()
    a = await make.client(url)
    b = await make.client(url)
    for c, name in ((a, "a"), (b, "b")):
        c.on("message", lambda data, name=name: got.put_nowait((name, "message", data)))
        c.on("news", lambda data, name=name: got.put_nowait((name, "news", data)))
        c.on("q", lambda x: x * 2)
    await a.emit("join", "r")
    await b.emit("join", "r")
    await asyncio.sleep(0.2)
    assert ("join", ("r",)) in seen

    answered: asyncio.Future = asyncio.get_running_loop().create_future()
    await sio.emit("q", 21, to=a.get_sid(), callback=answered.set_result)
    assert await asyncio.wait_for(answered, WAIT) == 42

    await sio.send("hello", to="r", skip_sid=b.get_sid())
    assert await asyncio.wait_for(got.get(), WAIT) == ("a", "message", "hello")

    await sio.to("r").except_(a.get_sid()).emit("news", {"n": 1, "bin": b"\x00\x01"})
    assert await asyncio.wait_for(got.get(), WAIT) == ("b", "news", {"n": 1, "bin": b"\x00\x01"})

    sockets = await sio.fetch_sockets()
    assert sorted(s.id for s in sockets) == sorted([a.get_sid(), b.get_sid()])
    assert all("r" in s.rooms for s in sockets)
    assert await sio.timeout(WAIT).emit_with_ack("q", 1) == [2, 2]

    await sio.close_room("r")
    await asyncio.sleep(0.05)
    assert sio.rooms(a.get_sid()) == [a.get_sid()]
    await sio.sockets_join("all")
    await asyncio.sleep(0.05)
    assert "all" in sio.rooms(b.get_sid())
    await sio.disconnect_sockets()
    for _ in range(200):
        if not a.connected and not b.connected:
            break
        await asyncio.sleep(0.01)
    assert not a.connected and not b.connected


@pytest.mark.asyncio
async def test_use_middleware_and_refusal_with_data(make):
    sio = ferrio.AsyncServer()

    @sio.use
    async def check(sid, environ, auth):
        if not auth or auth.get("token") != "ok":
            raise ferrio.exceptions.ConnectionRefusedError("denied", {"code": 7})

    @sio.event
    def connect(sid, environ):
        return True

    url = await make(sio)
    errors: list = []
    c = socketio.AsyncClient(reconnection=False)
    c.on("connect_error", lambda data: errors.append(data))
    with pytest.raises(socketio.exceptions.ConnectionError):
        await c.connect(url, auth={"token": "no"}, transports=["websocket"], wait_timeout=WAIT)
    assert errors == [{"message": "denied", "data": {"code": 7}}]
    ok = await make.client(url, auth={"token": "ok"})
    assert ok.connected


@pytest.mark.asyncio
async def test_call_timeout_is_a_timeout_error_and_handler_errors_are_logged(make, caplog):
    sio = ferrio.AsyncServer()

    @sio.event
    async def boom(sid):
        raise RuntimeError("handler bug")

    @sio.event
    async def fine(sid):
        return "still here"

    url = await make(sio)
    c = await make.client(url)

    async def slow():
        await asyncio.sleep(1)

    c.on("slow", slow)
    with caplog.at_level(logging.ERROR, logger="ferrio"):
        await c.emit("boom")
        assert await c.call("fine", timeout=WAIT) == "still here"
    assert any("handler bug" in r.getMessage() or (r.exc_info and "handler bug" in str(r.exc_info[1]))
               for r in caplog.records)
    with pytest.raises(TimeoutError) as info:
        await sio.call("slow", to=c.get_sid(), timeout=0.2)
    assert isinstance(info.value, exceptions.AckTimeoutError)
    assert isinstance(info.value, socketio.exceptions.TimeoutError) is False  # ferrio's own class


@pytest.mark.asyncio
async def test_bad_input_raises_clear_exceptions(make):
    sio = ferrio.AsyncServer()
    with pytest.raises(exceptions.ServerNotRunningError):
        await sio.emit("x", 1)
    url = await make(sio)
    c = await make.client(url)
    sid = c.get_sid()
    with pytest.raises(TypeError, match="set is not JSON serializable"):
        await sio.emit("x", {1, 2}, to=sid)
    with pytest.raises(TypeError, match="keys must be"):
        await sio.emit("x", {(1, 2): 3})
    with pytest.raises(ValueError, match="not JSON serializable"):
        await sio.emit("x", float("nan"))
    loop: list = []
    loop.append(loop)
    with pytest.raises(ValueError, match="nested too deeply"):
        await sio.emit("x", loop)
    with pytest.raises(ValueError, match="reserved"):
        await sio.emit("connect", 1)
    unknown = "A" * 20
    with pytest.raises(exceptions.UnknownSidError, match="no connected socket"):
        await sio.emit("x", 1, to=unknown)
    with pytest.raises(exceptions.UnknownSidError):
        await sio.call("x", to=unknown, timeout=1)
    with pytest.raises(exceptions.UnknownSidError):
        await sio.enter_room(unknown, "r")
    with pytest.raises(KeyError):  # python-socketio raises KeyError for an unknown session
        await sio.get_session(unknown)
    with pytest.raises(exceptions.UnknownNamespaceError):
        await sio.emit("x", 1, namespace="/nowhere")
    with pytest.raises(ValueError, match="broadcast"):
        await sio.call("x")
    with pytest.raises(ValueError, match="single client"):
        await sio.emit("x", 1, to=["a", "b"], callback=print)
    await sio.shutdown(grace=1)
    for op in (sio.emit("x", 1), sio.enter_room(sid, "r"), sio.shutdown()):
        with pytest.raises(exceptions.ServerClosedError):
            await op
    with pytest.raises(exceptions.ServerClosedError):
        sio.rooms(sid)


def test_typing_stubs_and_strict_mypy():
    package = ROOT / "bindings" / "python" / "python" / "ferrio"
    mypy = subprocess.run([sys.executable, "-m", "mypy", "--strict", str(package)],
                          capture_output=True, text=True, timeout=300)
    assert mypy.returncode == 0, mypy.stdout + mypy.stderr
    stubtest = subprocess.run([sys.executable, "-m", "mypy.stubtest", "ferrio._native"],
                              capture_output=True, text=True, timeout=300)
    assert stubtest.returncode == 0, stubtest.stdout + stubtest.stderr
