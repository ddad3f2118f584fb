"""sio.instrument(): the official admin UI's server side from the Python binding (python-socketio's
signature): login with a plain or bcrypt password, refusal with "invalid credentials", a callable auth,
read-only mode. Clients are python-socketio's AsyncClient on the admin namespace, as the UI connects."""

from __future__ import annotations

import asyncio

import pytest
import socketio

import ferrio

WAIT = 5.0
# bcrypt of "s3cret" (cost 4, so the test stays fast).
HASH = "$2a$04$xgcc26Vg0iqha6iq3i3c9.QLv1mJfpYXIhA.LRQfOAEhYMOjAs/im"


async def admin_login(url: str, auth: dict, namespace: str = "/admin") -> tuple[socketio.AsyncClient, dict]:
    """Connects like the UI; returns the client and the first event of each kind it got."""
    client = socketio.AsyncClient(reconnection=False)
    got: dict = {}
    arrived = asyncio.Event()

    @client.on("*", namespace=namespace)
    async def any_event(event, *args):
        got.setdefault(event, args)
        if {"config", "server_stats"} <= set(got):
            arrived.set()

    await asyncio.wait_for(
        client.connect(url, namespaces=[namespace], auth=auth, transports=["websocket"], wait_timeout=WAIT), WAIT
    )
    await asyncio.wait_for(arrived.wait(), WAIT)
    return client, got


async def refused(url: str, auth: dict) -> str:
    """Connects with a wrong login; returns the refusal's message (the connect_error's)."""
    client = socketio.AsyncClient(reconnection=False)
    errors: list = []

    @client.on("connect_error", namespace="/admin")
    def on_error(data):
        errors.append(data)

    with pytest.raises(socketio.exceptions.ConnectionError):
        await asyncio.wait_for(
            client.connect(url, namespaces=["/admin"], auth=auth, transports=["websocket"], wait_timeout=WAIT), WAIT
        )
    await client.disconnect()
    assert errors, "no connect_error"
    data = errors[0]
    return data.get("message", "") if isinstance(data, dict) else str(data)


@pytest.mark.asyncio
async def test_login_ok_and_bad_credentials():
    sio = ferrio.AsyncServer()

    @sio.event
    async def hello(sid, value):
        return value

    sio.instrument(auth={"username": "admin", "password": "s3cret"}, server_stats_interval=0.5)
    port = await sio.start("127.0.0.1", 0)
    url = f"http://127.0.0.1:{port}"
    user = socketio.AsyncClient(reconnection=False)
    try:
        await user.connect(url, transports=["websocket"], wait_timeout=WAIT)
        admin, got = await admin_login(url, {"username": "admin", "password": "s3cret"})
        assert len(got["session"][0]) == 16
        assert "JOIN" in got["config"][0]["supportedFeatures"]
        stats = got["server_stats"][0]
        assert stats["clientsCount"] == 2
        assert {"name": "/", "socketsCount": 1} in stats["namespaces"]
        await asyncio.wait_for(_until(lambda: "all_sockets" in got), WAIT)
        assert any(s["id"] == user.get_sid() for s in got["all_sockets"][0])
        # A command from the admin UI: make the user's socket join a room.
        await admin.emit("join", ("/", "blue", user.get_sid()), namespace="/admin")
        await asyncio.wait_for(_until(lambda: "blue" in sio.rooms(user.get_sid())), WAIT)
        await admin.disconnect()

        message = await refused(url, {"username": "admin", "password": "wrong"})
        assert "invalid credentials" in message
    finally:
        await user.disconnect()
        await sio.shutdown(grace=1)


@pytest.mark.asyncio
async def test_bcrypt_callable_and_read_only():
    sio = ferrio.AsyncServer()
    sio.instrument(auth=[{"username": "ops", "password": HASH}], read_only=True, mode="production")
    port = await sio.start("127.0.0.1", 0)
    url = f"http://127.0.0.1:{port}"
    try:
        admin, got = await admin_login(url, {"username": "ops", "password": "s3cret"})
        assert got["config"][0]["supportedFeatures"] == ["AGGREGATED_EVENTS"]
        await admin.disconnect()
        assert "invalid credentials" in await refused(url, {"username": "ops", "password": HASH})
    finally:
        await sio.shutdown(grace=1)

    async def check(auth):
        return auth.get("token") == "t0k"

    sio = ferrio.AsyncServer()
    sio.instrument(auth=check)
    port = await sio.start("127.0.0.1", 0)
    url = f"http://127.0.0.1:{port}"
    try:
        admin, got = await admin_login(url, {"token": "t0k"})
        assert "ALL_EVENTS" in got["config"][0]["supportedFeatures"]
        await admin.disconnect()
        assert "invalid credentials" in await refused(url, {"token": "nope"})
    finally:
        await sio.shutdown(grace=1)


def test_options_are_checked():
    sio = ferrio.AsyncServer()
    with pytest.raises(ValueError):
        sio.instrument()
    with pytest.raises(ValueError):
        sio.instrument(auth=False, mode="staging")


async def _until(predicate) -> None:
    while not predicate():
        await asyncio.sleep(0.02)
