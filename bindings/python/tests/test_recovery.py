"""Connection state recovery (``AsyncServer(connection_state_recovery=...)``, ``sio.is_recovered(sid)``).

The official socket.io-client (``recovery_js_client.mjs``, run with node: python-socketio's client does
not recover connections) has its transport cut while a python-socketio client makes the server emit to
its room and to it; back within the window it is the same sid, in the same rooms, with its session, and
gets what it missed once and in order; after the window it is a new socket. Bad options raise the
engine's refusal.
"""

from __future__ import annotations

import asyncio
import json
import pathlib
import re
from typing import Any

import pytest

import ferrio
from ferrio import exceptions

HERE = pathlib.Path(__file__).resolve().parent
WAIT = 5.0


class Recording:
    """A server with recovery whose handlers record what they see; ``cut`` is set when a socket's
    connection is lost (its session kept)."""

    def __init__(self, recovery: Any, slow_disconnect: float = 0.0) -> None:
        self.sio = ferrio.AsyncServer(connection_state_recovery=recovery)
        self.connects: list[dict[str, Any]] = []
        self.middleware: list[tuple[str, bool]] = []
        self.departures: list[tuple[str, str]] = []
        self.cut = asyncio.Event()
        sio = self.sio

        @sio.use
        def middleware(sid: str, environ: dict[str, Any], auth: Any) -> None:
            self.middleware.append((sid, sio.is_recovered(sid)))

        @sio.event
        async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
            session = await sio.get_session(sid)
            self.connects.append({
                "sid": sid,
                "recovered": sio.is_recovered(sid),
                "rooms": sio.rooms(sid),
                "data": session.get("data"),
            })
            await sio.emit("welcome", sio.is_recovered(sid), to=sid)

        @sio.event
        async def join(sid: str, room: str) -> bool:
            await sio.enter_room(sid, room)
            return True

        @sio.on("set-data")
        async def set_data(sid: str, value: Any) -> bool:
            async with sio.session(sid) as session:
                session["data"] = value
            return True

        @sio.event
        async def state(sid: str) -> dict[str, Any]:
            session = await sio.get_session(sid)
            return {"recovered": sio.is_recovered(sid), "sid": sid, "rooms": sio.rooms(sid),
                    "data": session.get("data")}

        @sio.on("to-room")
        async def to_room(sid: str, room: str, value: Any) -> bool:
            await sio.emit("room-msg", value, to=room, skip_sid=sid)
            return True

        @sio.event
        async def private(sid: str, to: str, value: Any) -> bool:
            await sio.emit("direct", value, to=to)
            return True

        @sio.event
        async def everybody(sid: str, value: Any) -> bool:
            await sio.emit("all", value)
            return True

        @sio.event
        async def live(sid: str) -> bool:
            await sio.emit("room-msg", "live", to="team")
            return True

        @sio.event
        async def disconnect(sid: str, reason: str) -> None:
            self.departures.append((sid, reason))
            if slow_disconnect:
                # Still running when the client comes back: the recovered socket must not lose its state
                # when this (older) departure ends.
                await asyncio.sleep(slow_disconnect)

    async def js_client(self, url: str, transport: str, delay_ms: int) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            "node", str(HERE / "recovery_js_client.mjs"), url, transport, str(delay_ms),
            stdout=asyncio.subprocess.PIPE,
        )


async def read_json(proc: asyncio.subprocess.Process) -> dict[str, Any]:
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 15)
    assert line, "the node client printed nothing"
    result = json.loads(line)
    assert "error" not in result, result
    return result


async def wait_until(predicate: Any, what: str) -> None:
    for _ in range(500):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


async def stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.kill()
    await proc.wait()


def missed(log: list[list[Any]]) -> list[list[Any]]:
    return [entry for entry in log if entry[0] in ("room-msg", "direct", "all")]


@pytest.mark.asyncio
@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_a_client_back_within_the_window_is_the_same_socket(make: Any, transport: str) -> None:
    server = Recording({"max_disconnection_duration": 5})
    sio = server.sio
    url = await make(sio)
    other = await make.client(url)
    proc = await server.js_client(url, transport, 600)
    try:
        sid = (await read_json(proc))["cut"]
        await wait_until(lambda: server.departures, "the server to see the connection lost")
        assert server.departures[0][0] == sid
        assert server.departures[0][1] in (sio.reason.TRANSPORT_CLOSE, sio.reason.TRANSPORT_ERROR)
        # While it is away, another client has the server emit to its room, to it, to everybody.
        assert await other.call("to-room", ("team", 1), timeout=WAIT) is True
        assert await other.call("private", (sid, 2), timeout=WAIT) is True
        assert await other.call("to-room", ("elsewhere", "not for it"), timeout=WAIT) is True
        assert await other.call("everybody", 3, timeout=WAIT) is True
        assert await other.call("to-room", ("team", 4), timeout=WAIT) is True

        result = await read_json(proc)
        assert result["first"] == sid and result["id"] == sid
        assert result["recovered"] is True
        assert result["state"] == {"recovered": True, "sid": sid, "rooms": sorted([sid, "team"]),
                                   "data": {"name": "ann"}}
        # Once each, in order, each with its offset; then the live one.
        assert missed(result["log"]) == [
            ["room-msg", 1, "string"],
            ["direct", 2, "string"],
            ["all", 3, "string"],
            ["room-msg", 4, "string"],
            ["room-msg", "live", "string"],
        ]
        names = [entry[0] for entry in result["log"]]
        assert names.count("welcome") == 1 and names.index("welcome") > names.index("all"), names
        assert ["welcome", True, "string"] in result["log"]
        # The connect handler ran for it, and could tell; the middleware was skipped (the default).
        assert [c["recovered"] for c in server.connects[-2:]] == [False, True]
        assert server.connects[-1] == {"sid": sid, "recovered": True, "rooms": sorted([sid, "team"]),
                                       "data": {"name": "ann"}}
        assert [recovered for s, recovered in server.middleware if s == sid] == [False]
        assert await asyncio.wait_for(proc.wait(), WAIT) == 0
        await wait_until(lambda: len(server.departures) == 2, "the recovered socket to leave")
        assert not sio.is_recovered(sid), "forgotten once it left for good"
        assert sid not in {s for _, s in sio._kept_sessions}, "a namespace disconnect is final"
    finally:
        await stop(proc)


@pytest.mark.asyncio
async def test_without_skip_middlewares_the_middlewares_see_a_recovered_socket(make: Any) -> None:
    server = Recording({"max_disconnection_duration": 5, "skip_middlewares": False})
    url = await make(server.sio)
    proc = await server.js_client(url, "websocket", 300)
    try:
        sid = (await read_json(proc))["cut"]
        result = await read_json(proc)
        assert result["recovered"] is True and result["id"] == sid
        assert [recovered for s, recovered in server.middleware if s == sid] == [False, True]
        assert result["state"]["data"] == {"name": "ann"}
    finally:
        await stop(proc)


@pytest.mark.asyncio
async def test_recovered_while_its_departure_still_runs(make: Any) -> None:
    # The disconnect handler outlives the client's absence: the socket comes back (same sid) before it
    # ends, and its end must leave the recovered socket's state alone.
    server = Recording({"max_disconnection_duration": 5}, slow_disconnect=1.5)
    sio = server.sio
    url = await make(sio)
    proc = await server.js_client(url, "websocket", 300)
    try:
        sid = (await read_json(proc))["cut"]
        result = await read_json(proc)
        assert result["recovered"] is True and result["id"] == sid
        assert result["state"] == {"recovered": True, "sid": sid, "rooms": sorted([sid, "team"]),
                                   "data": {"name": "ann"}}
        await asyncio.wait_for(proc.wait(), WAIT)
        # Both departures ran to their end (the second one after the client left for good).
        await wait_until(lambda: len(server.departures) == 2, "the second departure")
        await asyncio.sleep(1.7)
        assert not sio.is_recovered(sid)
        assert sio._sid_conn == {} and sio._conn_refs == {} and sio._environs == {}
        assert sio._sessions == {} and sio._leaving == {}
    finally:
        await stop(proc)


@pytest.mark.asyncio
async def test_a_client_back_after_the_window_is_a_new_socket(make: Any) -> None:
    server = Recording({"max_disconnection_duration": 0.2})
    sio = server.sio
    url = await make(sio)
    other = await make.client(url)
    proc = await server.js_client(url, "websocket", 800)
    try:
        sid = (await read_json(proc))["cut"]
        await wait_until(lambda: server.departures, "the server to see the connection lost")
        assert await other.call("to-room", ("team", "too late"), timeout=WAIT) is True
        result = await read_json(proc)
        assert result["recovered"] is False
        assert result["id"] != sid
        new = result["id"]
        assert result["state"] == {"recovered": False, "sid": new, "rooms": [new], "data": None}
        assert missed(result["log"]) == [], "nothing is replayed to a new socket"
        assert server.connects[-1]["recovered"] is False
    finally:
        await stop(proc)


@pytest.mark.asyncio
async def test_recovery_is_off_by_default(make: Any) -> None:
    sio = ferrio.AsyncServer()
    seen: list[bool] = []

    @sio.event
    def connect(sid: str, environ: dict[str, Any]) -> None:
        seen.append(sio.is_recovered(sid))

    url = await make(sio)
    await make.client(url)
    await wait_until(lambda: seen, "connect")
    assert seen == [False]
    assert sio._native is not None and sio._native.recovery is None


@pytest.mark.asyncio
async def test_true_takes_the_defaults(make: Any) -> None:
    sio = ferrio.AsyncServer(connection_state_recovery=True)
    await make(sio)
    assert sio._native is not None and sio._native.recovery == (120.0, True)


@pytest.mark.parametrize(
    "recovery, message",
    [
        ({"max_disconnection_duration": 0}, "connection_state_recovery['max_disconnection_duration'] must be positive"),
        ({"max_disconnection_duration": 0.0001},
         "connection_state_recovery['max_disconnection_duration'] must be at least 1 ms"),
        ({"max_disconnection_duration": -1},
         "connection_state_recovery['max_disconnection_duration'] must be a non-negative number of seconds"),
        ({"max_stored_packets": 0}, "connection_state_recovery['max_stored_packets'] must be at least 1"),
    ],
)
def test_an_option_out_of_range_raises_naming_it(recovery: dict[str, Any], message: str) -> None:
    # Checked by the engine alone, named as AsyncServer names it.
    with pytest.raises(exceptions.InvalidArgumentError, match=re.escape(message)) as raised:
        ferrio.AsyncServer(connection_state_recovery=recovery)
    assert isinstance(raised.value, ValueError)


def test_an_unknown_option_or_a_wrong_type_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="maxDisconnectionDuration"):
        ferrio.AsyncServer(connection_state_recovery={"maxDisconnectionDuration": 1000})
    with pytest.raises(TypeError):
        ferrio.AsyncServer(connection_state_recovery=120)  # type: ignore[arg-type]
