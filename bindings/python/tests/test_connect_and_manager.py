"""python-socketio's `connect` semantics and `sio.manager`, as python-socketio programs rely on them.

Inside `connect` the socket already belongs to its namespace: rooms joined there are visible at once (to
`rooms(sid)`, to `sio.manager`, to room emits from any handler), emits to the sid and sessions work, and
what is emitted reaches the client once it is connected, in order. A refusal undoes it all. Clients are
python-socketio's AsyncClient over WebSocket, servers run in-process on 127.0.0.1:0.
"""

from __future__ import annotations

import asyncio

import pytest
import socketio

import ferrio

WAIT = 5.0


async def _next(queue: asyncio.Queue) -> object:
    return await asyncio.wait_for(queue.get(), WAIT)


@pytest.mark.asyncio
async def test_connect_handler_sees_a_socket_that_exists(make):
    seen: dict[str, object] = {}
    sio = ferrio.AsyncServer()

    @sio.event
    async def connect(sid, environ, auth):
        nickname = auth["nickname"]
        await sio.save_session(sid, {"nickname": nickname})
        await sio.enter_room(sid, "lobby")
        await sio.enter_room(sid, f"user:{nickname}")
        rooms = sorted(r for r in sio.rooms(sid) if r != sid)
        lobby = sorted(s for s, _ in sio.manager.get_participants("/", "lobby"))
        seen[nickname] = {
            "rooms": rooms,
            "lobby": lobby,
            "manager_rooms": sorted(sio.manager.get_rooms(sid, "/")),
            "connected": sio.manager.is_connected(sid, "/"),
            "session": (await sio.get_session(sid))["nickname"],
            "fetched": [s.id for s in await sio.to(f"user:{nickname}").fetch_sockets()],
        }
        await sio.emit("welcome", {"rooms": rooms, "lobby": len(lobby)}, to=sid)
        await sio.emit("user:joined", {"nickname": nickname}, to="lobby", skip_sid=sid)
        await sio.emit("lobby", nickname, room="lobby")
        if auth.get("refuse"):
            raise ferrio.exceptions.ConnectionRefusedError("not today", {"code": 7})

    url = await make(sio)
    got: dict[str, asyncio.Queue] = {}

    async def join(nickname: str, **auth) -> socketio.AsyncClient:
        queue: asyncio.Queue = asyncio.Queue()
        got[nickname] = queue
        c = socketio.AsyncClient(reconnection=False)
        c.on("*", lambda event, data: queue.put_nowait((event, data)))
        await asyncio.wait_for(
            c.connect(url, transports=["websocket"], auth={"nickname": nickname, **auth}, wait_timeout=WAIT),
            WAIT)
        return c

    alice = await join("alice")
    sid = alice.get_sid("/")
    assert seen["alice"] == {
        "rooms": ["lobby", "user:alice"],
        "lobby": [sid],
        "manager_rooms": sorted([sid, "lobby", "user:alice"]),
        "connected": True,
        "session": "alice",
        "fetched": [sid],
    }
    # What was emitted inside connect arrives once connected, in emit order.
    assert await _next(got["alice"]) == ("welcome", {"rooms": ["lobby", "user:alice"], "lobby": 1})
    assert await _next(got["alice"]) == ("lobby", "alice")

    bob = await join("bob")
    assert await _next(got["bob"]) == ("welcome", {"rooms": ["lobby", "user:bob"], "lobby": 2})
    assert await _next(got["bob"]) == ("lobby", "bob")
    assert await _next(got["alice"]) == ("user:joined", {"nickname": "bob"})
    assert await _next(got["alice"]) == ("lobby", "bob")

    # Refused after the same steps: nothing queued for it is sent, its rooms are gone.
    carol = socketio.AsyncClient(reconnection=False)
    carol_events: asyncio.Queue = asyncio.Queue()
    carol.on("*", lambda event, data: carol_events.put_nowait(event))
    refusals: list = []
    carol.on("connect_error", refusals.append)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await asyncio.wait_for(
            carol.connect(url, transports=["websocket"], auth={"nickname": "carol", "refuse": True},
                          wait_timeout=WAIT), WAIT)
    assert seen["carol"]["lobby"] == sorted([sid, bob.get_sid("/"), seen["carol"]["fetched"][0]])
    assert refusals == [{"message": "not today", "data": {"code": 7}}]
    assert carol_events.empty()
    assert sorted(s for s, _ in sio.manager.get_participants("/", "lobby")) == sorted([sid, bob.get_sid("/")])
    assert list(sio.manager.get_participants("/", "user:carol")) == []
    assert "user:carol" not in sio.manager.rooms["/"]
    # Its broadcasts to others happened, as on python-socketio.
    assert await _next(got["alice"]) == ("user:joined", {"nickname": "carol"})
    for c in (alice, bob, carol):
        await c.disconnect()


@pytest.mark.asyncio
async def test_manager_query_surface(make):
    sio = ferrio.AsyncServer()
    assert isinstance(sio.manager, ferrio.AsyncManager)

    @sio.event
    async def connect(sid, environ, auth):
        await sio.enter_room(sid, auth["room"])

    @sio.on("*", namespace="/other")
    async def any_other(event, sid, data):
        return None

    url = await make(sio)
    a = await make.client(url, auth={"room": "red"})
    b = await make.client(url, auth={"room": "red"})
    c = await make.client(url, auth={"room": "blue"})
    sa, sb, sc = a.get_sid("/"), b.get_sid("/"), c.get_sid("/")
    eio = {sa: a.eio.sid, sb: b.eio.sid, sc: c.eio.sid}

    assert "/" in sio.manager.get_namespaces()
    assert sorted(sio.manager.get_participants("/", "red")) == sorted([(sa, eio[sa]), (sb, eio[sb])])
    assert sorted(sio.manager.get_participants("/", None)) == sorted(eio.items())
    assert sorted(s for s, _ in sio.manager.get_participants("/", ["red", "blue"])) == sorted([sa, sb, sc])
    assert sio.manager.get_rooms(sc, "/") == sorted([sc, "blue"])
    assert sio.manager.get_rooms("nobody", "/") == []
    assert sio.manager.is_connected(sa, "/") and not sio.manager.is_connected("nobody", "/")
    assert sio.manager.eio_sid_from_sid(sa, "/") == eio[sa]
    assert sio.manager.sid_from_eio_sid(eio[sb], "/") == sb
    assert sio.manager.sid_from_eio_sid("nope", "/") is None
    rooms = sio.manager.rooms["/"]
    assert rooms["red"] == {sa: eio[sa], sb: eio[sb]}
    assert len(rooms[None]) == 3
    assert {"red", "blue", sa, sb, sc} <= {r for r in rooms if r is not None}
    with pytest.raises(KeyError):
        rooms["green"]

    await sio.manager.enter_room(sc, "/", "red")
    assert len(sio.manager.rooms["/"]["red"]) == 3
    await sio.manager.close_room("red", "/")
    assert "red" not in sio.manager.rooms["/"]
    await b.disconnect()
    for _ in range(200):
        if not sio.manager.is_connected(sb, "/") and sio.manager.eio_sid_from_sid(sb, "/") is None:
            break
        await asyncio.sleep(0.01)
    assert not sio.manager.is_connected(sb, "/")
    assert sio.manager.eio_sid_from_sid(sb, "/") is None


@pytest.mark.asyncio
async def test_a_client_gone_during_connect_runs_disconnect_and_leaks_nothing(make):
    entered = asyncio.Event()
    release = asyncio.Event()
    events: list[tuple[str, str]] = []
    sio = ferrio.AsyncServer()

    @sio.event
    async def connect(sid, environ, auth):
        await sio.enter_room(sid, "slow")
        entered.set()
        await release.wait()

    @sio.event
    async def disconnect(sid, reason):
        events.append((sid, reason))

    url = await make(sio)
    c = socketio.AsyncClient(reconnection=False)
    task = asyncio.ensure_future(c.connect(url, transports=["websocket"], wait_timeout=2))
    await asyncio.wait_for(entered.wait(), WAIT)
    assert len(list(sio.manager.get_participants("/", "slow"))) == 1
    await c.eio.disconnect(abort=True)
    for _ in range(300):
        if events:
            break
        await asyncio.sleep(0.01)
    assert [reason for _, reason in events] == ["transport close"]
    assert list(sio.manager.get_participants("/", "slow")) == []
    release.set()
    with pytest.raises(Exception):
        await asyncio.wait_for(task, WAIT)
    await asyncio.sleep(0.1)
    assert sio._sid_conn == {} and sio._conn_sid == {} and sio._sessions == {}
