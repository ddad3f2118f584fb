"""The engine's limits, set as ``AsyncServer(...)`` keyword arguments, take effect: each test sets one low
and trips it. Run: .venv/bin/python -m pytest bindings/python/tests/test_limits.py -q
"""

from __future__ import annotations

import asyncio
import json
import re
import urllib.error
import urllib.request

import pytest
import socketio

import ferrio
from ferrio import exceptions

WAIT = 5.0


def _handshake(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"{url}/socket.io/?EIO=4&transport=polling", timeout=WAIT) as r:
            return r.status, {}
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.mark.asyncio
async def test_max_connections_refuses_the_third(make):
    url = await make(ferrio.AsyncServer(max_connections=2))
    await make.client(url)
    await make.client(url)
    status, body = await asyncio.to_thread(_handshake, url)
    assert status == 503
    assert body == {"code": 3, "message": "Too many connections"}
    with pytest.raises(socketio.exceptions.ConnectionError):
        await make.client(url)


@pytest.mark.asyncio
async def test_max_connections_per_ip(make):
    url = await make(ferrio.AsyncServer(max_connections_per_ip=1))
    await make.client(url)
    status, body = await asyncio.to_thread(_handshake, url)
    assert status == 503
    assert body["message"] == "Too many connections from this address"


@pytest.mark.asyncio
async def test_max_namespaces_per_connection(make):
    sio = ferrio.AsyncServer(max_namespaces_per_connection=1, namespaces=["/", "/a"])
    url = await make(sio)
    c = socketio.AsyncClient(reconnection=False)
    refusals: asyncio.Queue[object] = asyncio.Queue()

    @c.on("connect_error", namespace="/a")
    async def refused(data):
        await refusals.put(data)

    try:
        with pytest.raises(socketio.exceptions.ConnectionError):
            await asyncio.wait_for(c.connect(url, transports=["websocket"], namespaces=["/", "/a"], wait_timeout=2), WAIT)
        data = await asyncio.wait_for(refusals.get(), WAIT)
        assert "Too many namespaces" in json.dumps(data)
    finally:
        await c.eio.disconnect(abort=True)


@pytest.mark.asyncio
async def test_rate_limit_disconnects_with_a_clear_reason(make):
    sio = ferrio.AsyncServer(rate_limit=(1, 3))
    reasons: asyncio.Queue[str] = asyncio.Queue()

    @sio.event
    async def disconnect(sid, reason):
        await reasons.put(reason)

    url = await make(sio)
    c = await make.client(url)
    for i in range(20):
        await c.emit("flood", i)
    assert await asyncio.wait_for(reasons.get(), WAIT) == "rate limit exceeded"


@pytest.mark.asyncio
async def test_max_pending_acks_and_max_json_depth(make):
    sio = ferrio.AsyncServer(max_pending_acks=1, max_json_depth=8)
    connected: asyncio.Queue[str] = asyncio.Queue()

    @sio.event
    async def connect(sid, environ, auth=None):
        await connected.put(sid)

    url = await make(sio)
    c = await make.client(url)

    @c.on("never-answered")
    async def slow(*args):
        # python-socketio's client acknowledges when its handler returns: this one takes its time.
        await asyncio.sleep(3)

    sid = await asyncio.wait_for(connected.get(), WAIT)
    first = asyncio.ensure_future(sio.call("never-answered", 1, to=sid, timeout=1))
    await asyncio.sleep(0.1)
    with pytest.raises(exceptions.EmitError, match="max_pending_acks"):
        await sio.call("one-too-many", 1, to=sid, timeout=1)
    with pytest.raises(exceptions.AckTimeoutError):
        await first
    deep: object = 1
    for _ in range(10):
        deep = [deep]
    with pytest.raises(exceptions.EmitError, match="max_json_depth"):
        await sio.emit("deep", deep, to=sid)
    await sio.emit("shallow", [[1]], to=sid)


def _nested(depth: int) -> object:
    """A value whose JSON nests `depth` arrays."""
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.asyncio
async def test_one_json_depth_cap_both_ways(make):
    # The binding's conversions keep to max_json_depth, whatever it is: beyond python's old cap of 128 and
    # serde_json's, up to the engine's maximum, and no further than the engine's own check.
    sio = ferrio.AsyncServer(max_json_depth=301)
    got: asyncio.Queue[object] = asyncio.Queue()
    connected: asyncio.Queue[str] = asyncio.Queue()

    @sio.event
    async def connect(sid, environ, auth=None):
        await connected.put(sid)

    @sio.on("deep")
    async def deep(sid, value):
        await got.put(value)

    url = await make(sio)
    c = await make.client(url)
    echoed: asyncio.Queue[object] = asyncio.Queue()
    c.on("deep", lambda value: echoed.put_nowait(value))
    sid = await asyncio.wait_for(connected.get(), WAIT)

    # In: a client's event nesting 300 levels (the arguments' array makes 301) reaches its handler.
    await c.emit("deep", _nested(300))
    assert await asyncio.wait_for(got.get(), WAIT) == _nested(300)
    # Out: the same goes back; one level more is refused before anything is sent.
    await sio.emit("deep", _nested(300), to=sid)
    assert await asyncio.wait_for(echoed.get(), WAIT) == _nested(300)
    with pytest.raises(exceptions.EmitError, match="max_json_depth") as by_binding:
        await sio.emit("deep", _nested(301), to=sid)
    # Where only the engine sees the excess (bytes become a placeholder object, one level more than the
    # binding counts), the error is the same.
    small = ferrio.AsyncServer(max_json_depth=3)
    small_sids: asyncio.Queue[str] = asyncio.Queue()

    @small.on("connect")
    async def small_connect(sid, environ, auth=None):
        await small_sids.put(sid)

    await make.client(await make(small))
    small_sid = await asyncio.wait_for(small_sids.get(), WAIT)
    await small.emit("bin", [[1]], to=small_sid)
    with pytest.raises(exceptions.EmitError, match="max_json_depth") as by_engine:
        await small.emit("bin", [[b"x"]], to=small_sid)
    assert type(by_binding.value) is type(by_engine.value)
    assert str(by_binding.value) == str(by_engine.value)
    # A reference cycle is no deep value: a ValueError, as before.
    loop: list = []
    loop.append(loop)
    with pytest.raises(ValueError, match="reference cycle"):
        await sio.emit("x", loop, to=sid)


@pytest.mark.asyncio
async def test_max_http_buffer_size_and_header_limits(make):
    sio = ferrio.AsyncServer(max_http_buffer_size=1000, max_headers=20, header_read_timeout=0.3)
    reasons: asyncio.Queue[str] = asyncio.Queue()

    @sio.event
    async def disconnect(sid, reason):
        await reasons.put(reason)

    url = await make(sio)
    c = await make.client(url)
    await c.emit("big", "x" * 5000)
    assert await asyncio.wait_for(reasons.get(), WAIT) in ("transport close", "transport error")

    def many_headers() -> int:
        request = urllib.request.Request(
            f"{url}/socket.io/?EIO=4&transport=polling", headers={f"X-H{i}": "v" for i in range(30)}
        )
        try:
            with urllib.request.urlopen(request, timeout=WAIT) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    assert await asyncio.to_thread(many_headers) == 431
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"GET /socket.io/ HTTP/1.1\r\nHost: x\r\n")
    await writer.drain()
    # Never finished: the server closes it after the header read timeout.
    assert await asyncio.wait_for(reader.read(), WAIT) is not None
    writer.close()


def test_bad_limits_are_refused():
    async def go() -> None:
        await ferrio.AsyncServer(rate_limit=(0, 1)).start("127.0.0.1", 0)

    with pytest.raises(ValueError):
        asyncio.run(go())


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(max_http_buffer_size=0), "max_http_buffer_size must be at least 1"),
        (dict(ping_timeout=0), "ping_timeout must be positive"),
        (dict(ping_interval=-1), "ping_interval must be a non-negative number of seconds"),
        (dict(connect_timeout=0.0001), "connect_timeout must be at least 1 ms"),
        (dict(transports=[]), "transports must allow polling, websocket or both"),
        (dict(max_queued_packets=0), "max_queued_packets must be at least 1"),
        (dict(max_json_depth=0), "max_json_depth must be at least 1"),
        (dict(max_json_depth=1001), "max_json_depth must be at most 1000"),
        (dict(max_header_bytes=1000), "max_header_bytes must be at least 8192"),
        (dict(rate_limit=(0, 1)), "rate_limit needs events per second > 0 (finite) and a burst of at least 1"),
        (dict(cors_allowed_origins="https://example.com/"), 'cors_allowed_origins origin "https://example.com/"'),
    ],
)
def test_an_option_out_of_range_raises_at_construction_naming_it(options: dict, message: str) -> None:
    # Checked by the engine alone (ServerBuilder::build), named as AsyncServer names it.
    with pytest.raises(exceptions.InvalidArgumentError, match=re.escape(message)) as raised:
        ferrio.AsyncServer(**options)
    assert isinstance(raised.value, ValueError)


def test_a_bad_socketio_path_raises_at_start() -> None:
    async def go() -> None:
        await ferrio.AsyncServer().start("127.0.0.1", 0, socketio_path="socket io")

    with pytest.raises(ValueError, match=re.escape('socketio_path must be a URL path without query')):
        asyncio.run(go())
