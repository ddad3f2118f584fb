"""The Redis client manager from Python: two ferrio servers with ``AsyncRedisManager`` over a redis-server
this test starts on a free port act as one (broadcasts, rooms, fetch_sockets, room joins across servers);
with Redis gone, local delivery goes on and remote operations raise; bad configurations raise at once.
Clients are python-socketio's AsyncClient. (The mixed ferrio + socket.io cluster is tested from Node.)
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time

import pytest
import socketio

import ferrio

WAIT = 5.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def redis_url():
    assert shutil.which("redis-server"), "make test installs redis-server"
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + WAIT
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0", proc
    proc.kill()
    proc.wait()


async def until(predicate, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + WAIT
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def cluster_member(url: str, name: str) -> tuple[ferrio.AsyncServer, str]:
    sio = ferrio.AsyncServer(client_manager=ferrio.AsyncRedisManager(url, request_timeout=2))

    @sio.event
    async def connect(sid, environ, auth):
        await sio.save_session(sid, {"server": name})
        for room in (auth or {}).get("rooms", []):
            await sio.enter_room(sid, room)

    port = await sio.start("127.0.0.1", 0)
    return sio, f"http://127.0.0.1:{port}"


async def client(url: str, rooms: list[str]) -> tuple[socketio.AsyncClient, list]:
    c = socketio.AsyncClient(reconnection=False)
    got: list = []

    @c.on("*")
    async def anything(event, *args):
        got.append((event, *args))

    await asyncio.wait_for(c.connect(url, transports=["websocket"], auth={"rooms": rooms}, wait_timeout=WAIT), WAIT)
    return c, got


@pytest.mark.asyncio
async def test_two_servers_act_as_one_and_survive_redis_going_away(redis_url):
    url, redis = redis_url
    a, url_a = await cluster_member(url, "A")
    b, url_b = await cluster_member(url, "B")
    ca, got_a = await client(url_a, ["red"])
    cb, got_b = await client(url_b, ["blue"])
    try:
        await b.emit("hello", {"from": "B"})
        await until(lambda: ("hello", {"from": "B"}) in got_a, "A's client to get B's broadcast")
        await until(lambda: ("hello", {"from": "B"}) in got_b, "B's own client")

        await a.emit("blue-only", b"\x01\x02", to="blue")
        await until(lambda: ("blue-only", b"\x01\x02") in got_b, "a room broadcast across servers")
        await asyncio.sleep(0.2)
        assert not any(e[0] == "blue-only" for e in got_a)

        sockets = await a.fetch_sockets()
        assert sorted(s.id for s in sockets) == sorted([ca.get_sid(), cb.get_sid()])
        remote = next(s for s in sockets if s.id == cb.get_sid())
        assert "blue" in remote.rooms
        await remote.emit("direct", "from A")
        await until(lambda: ("direct", "from A") in got_b, "a remote socket's emit")

        await a.to("blue").sockets_join("green")
        await asyncio.sleep(0.2)
        await a.emit("green", 1, to="green")
        await until(lambda: ("green", 1) in got_b, "a room joined from the other server")

        redis.kill()
        redis.wait()
        # Local delivery goes on; the remote part raises (once ferrio has noticed, which is immediate on
        # loopback but asynchronous).
        deadline = asyncio.get_running_loop().time() + WAIT
        while True:
            try:
                await a.emit("while-down", 0)
            except Exception as error:  # noqa: BLE001 - the error type is what is checked
                assert "Redis" in str(error) or "adapter" in str(error), error
                break
            assert asyncio.get_running_loop().time() < deadline, "no error while Redis is down"
            await asyncio.sleep(0.05)
        await until(lambda: any(e[0] == "while-down" for e in got_a), "local delivery while Redis is down")
        with pytest.raises(Exception, match="Redis|adapter"):
            await asyncio.wait_for(a.fetch_sockets(), WAIT)
    finally:
        await ca.disconnect()
        await cb.disconnect()
        await a.shutdown(grace=1)
        await b.shutdown(grace=1)


def test_bad_configurations_raise_at_once():
    with pytest.raises(ValueError, match="Redis URL"):
        ferrio.AsyncRedisManager("")
    with pytest.raises(ValueError, match="write_only|full member"):
        ferrio.AsyncRedisManager("redis://127.0.0.1:1", write_only=True)
    with pytest.raises(ValueError, match="client manager"):
        ferrio.AsyncServer(client_manager=object())
    manager = ferrio.AsyncRedisManager("not a url")
    sio = ferrio.AsyncServer(client_manager=manager)

    async def start():
        await sio.start("127.0.0.1", 0)

    with pytest.raises(ValueError, match="invalid Redis URL"):
        asyncio.run(start())
