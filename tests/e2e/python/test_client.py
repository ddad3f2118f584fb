"""End-to-end tests of ferrio with the official Python client (python-socketio's AsyncClient).

Every test runs in three transport modes (the `mode` fixture): websocket only, polling only, and polling
upgraded to websocket; the `connect` fixture asserts the transport in use on both ends for every client.
The server's behaviour is specified in tests/e2e/SERVER.md.

Notes on python-socketio (5.14) semantics the assertions rely on:
- `emit(event, (a, b, c))` sends three arguments; any other value is sent as one argument.
- `call()` returns the ack arguments as a tuple when there are several, the value itself when there is
  one, and None when there are none.
- a handler's return value becomes the ack arguments (a tuple is expanded into several arguments); an
  event that asks for an ack is *always* acked, with no arguments when no handler is registered.
- the CONNECT_ERROR payload `{"message": ..., "data": ...}` reaches `connect_error` as one dict argument.
"""

import asyncio
import os
import random
import string

import pytest
import socketio

from conftest import MODES, WAIT, sync, wait_until

pytestmark = pytest.mark.asyncio

# python-socketio >= 5.12 passes a reason to disconnect handlers.
SERVER_DISCONNECT = socketio.AsyncClient.reason.SERVER_DISCONNECT

# --------------------------------------------------------------------------------------------------
# Connection, transport, auth
# --------------------------------------------------------------------------------------------------

async def test_transport_in_use(connect, mode):
    c = await connect()  # already asserts sio.transport() and the server's `transport` ack
    _, expected, first_transport = MODES[mode]
    assert c.sio.transport() == expected
    assert await c.call("transport") == expected
    # The handshake request used the expected first transport (polling, for an upgrade).
    hs = await c.call("handshake")
    assert hs["query"]["transport"] == first_transport
    assert hs["query"]["EIO"] == "4"


async def test_connect_with_auth(connect):
    auth = {"token": "s3cret", "n": 42, "nested": {"list": [1, None, True, "é"]}}
    c = await connect(auth=auth)
    (welcome,) = await c.wait("welcome")
    assert welcome == {"id": c.sid(), "auth": auth, "nsp": "/"}
    assert c.sid() == c.sio.get_sid()
    assert c.sid() != c.sio.sid  # protocol v5: the Socket.IO id is not the Engine.IO id
    assert c.sio.connected


async def test_connect_without_auth(connect):
    c = await connect()
    (welcome,) = await c.wait("welcome")
    assert welcome == {"id": c.sid(), "auth": {}, "nsp": "/"}  # python-socketio sends {} by default


async def test_middleware_rejection(connect):
    c = connect.client()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await c.connect(connect.url, auth={"reject": True, "user": "mallory"})
    assert not c.sio.connected
    assert c.received("connect_error") == [
        ({"message": "not authorized", "data": {"reason": "rejected by middleware", "code": 4001}},)]
    # the server is still fine for everyone else
    ok = await connect(auth={"reject": False})
    (welcome,) = await ok.wait("welcome")
    assert welcome["auth"] == {"reject": False}


async def test_unknown_namespace(connect):
    c = connect.client(namespaces=["/nope"])
    with pytest.raises(socketio.exceptions.ConnectionError):
        await c.connect(connect.url)
    assert not c.sio.connected
    [(err,)] = c.received("connect_error", ns="/nope")
    assert err["message"] == "Invalid namespace"

    # one bad namespace among good ones fails the whole connect() (python-socketio then disconnects)
    c2 = connect.client(namespaces=["/", "/dyn-x"])  # does not match ^/dyn-[0-9]+$
    with pytest.raises(socketio.exceptions.ConnectionError):
        await c2.connect(connect.url)
    [(err,)] = c2.received("connect_error", ns="/dyn-x")
    assert err["message"] == "Invalid namespace"

    ok = await connect()
    assert await ok.call("ack", "alive") == "alive"


async def test_namespaces_multiplexed(connect, mode):
    expected = MODES[mode][1]
    c = await connect(namespaces=["/", "/chat"], auth={"k": "v"})
    (w_root,) = await c.wait("welcome", ns="/")
    (w_chat,) = await c.wait("welcome", ns="/chat")
    assert w_root == {"id": c.sid("/"), "auth": {"k": "v"}, "nsp": "/"}
    assert w_chat == {"id": c.sid("/chat"), "auth": {"k": "v"}, "nsp": "/chat"}
    assert c.sid("/") != c.sid("/chat")
    assert await c.call("transport", ns="/chat") == expected

    # events and acks stay on their namespace
    await c.emit("echo", ("on-chat", 1), ns="/chat")
    await c.emit("echo", ("on-root", 2), ns="/")
    assert await c.wait("echo", ns="/chat") == ("on-chat", 1)
    assert await c.wait("echo", ns="/") == ("on-root", 2)
    assert await c.call("ack", ("x", [1]), ns="/chat") == ("x", [1])
    assert await c.call("ack", ("y", [2]), ns="/") == ("y", [2])
    await sync(c, ns="/")
    await sync(c, ns="/chat")
    assert c.received("echo", ns="/") == [("on-root", 2)]
    assert c.received("echo", ns="/chat") == [("on-chat", 1)]

    # rooms are per namespace
    assert await c.call("join", "r", ns="/chat") == sorted([c.sid("/chat"), "r"])
    assert await c.call("room-size", "r", ns="/chat") == 1
    assert await c.call("room-size", "r", ns="/") == 0
    assert await c.call("rooms", ns="/") == [c.sid("/")]

    # a broadcast on /chat does not reach a client of / only
    other = await connect()
    await c.emit("broadcast", "chat-only", ns="/chat")
    assert await c.wait("broadcast", ns="/chat", match=lambda a: a == ("chat-only",)) == ("chat-only",)
    await sync(c, other, ns="/")
    assert other.received("broadcast", match=lambda a: a == ("chat-only",)) == []
    assert c.received("broadcast", ns="/", match=lambda a: a == ("chat-only",)) == []


async def test_dynamic_namespace(connect):
    c = await connect(namespaces=["/dyn-42"])
    assert await c.wait("nsp", ns="/dyn-42") == ("/dyn-42",)
    (welcome,) = await c.wait("welcome", ns="/dyn-42")
    assert welcome == {"id": c.sid("/dyn-42"), "auth": {}, "nsp": "/dyn-42"}
    assert await c.call("ack", (1, "dyn"), ns="/dyn-42") == (1, "dyn")


# --------------------------------------------------------------------------------------------------
# Events, binary, acks
# --------------------------------------------------------------------------------------------------

async def test_echo_many_args(connect):
    c = await connect()
    args = (1, "a", None, {"x": [1, 2]}, [True, False, 1.5, -7], "", {"u": "ü€😀"})
    await c.emit("echo", args)
    assert await c.wait("echo") == args
    await c.emit("echo", "single")
    await c.emit("echo")  # no arguments at all
    got = await c.wait_all("echo", 3)
    assert got == [args, ("single",), ()]


async def test_echo_with_ack(connect):
    c = await connect()
    args = ("with-ack", 2, {"deep": {"er": [None]}})
    assert await c.call("echo", args) == args  # the ack carries the same args...
    assert await c.wait("echo") == args        # ...and the echo event arrives as well


async def test_nested_binary_both_ways(connect):
    c = await connect()
    payload = {
        "bin": b"\x00\x01\x02\xff",
        "empty": b"",
        "list": [b"a", {"deep": [b"\x10" * 1000, b""]}, "text", 3],
        "plain": {"no": "binary"},
    }
    args = (payload, b"top-level", [b""], "str")
    await c.emit("echo", args)
    assert await c.wait("echo") == args
    # binary ack (server -> client) of binary args (client -> server)
    assert await c.call("ack", args) == args
    assert await c.call("ack", b"") == b""


async def test_acks_client_to_server(connect):
    c = await connect()
    # several values: python-socketio returns them as a tuple
    assert await c.call("ack", (1, 2, "three")) == (1, 2, "three")
    # one value: returned as is (a list stays one argument)
    assert await c.call("ack", [1, 2, "three"]) == [1, 2, "three"]
    assert await c.call("ack", {"a": None}) == {"a": None}
    # no value at all: None
    assert await c.call("ack") is None


async def test_acks_server_to_client(connect):
    questions = []

    async def question(*args):
        questions.append(args)
        if args and args[0] == "one":
            return "only-answer"
        return ("answer", 2, {"b": b"\x00\xff", "e": b""}, [b"x"])  # a tuple: several ack args

    c = await connect(handlers={"question": question})
    res = await c.call("ask", (2000, "what?", {"bin": b"\x01"}, 7))
    assert res == {"ok": ["answer", 2, {"b": b"\x00\xff", "e": b""}, [b"x"]]}
    assert await c.call("ask", (2000, "one")) == {"ok": ["only-answer"]}
    assert questions == [("what?", {"bin": b"\x01"}, 7), ("one",)]


async def test_ack_timeout_server_to_client(connect):
    release = asyncio.Event()
    done = asyncio.Event()

    async def question(*args):
        try:
            await asyncio.wait_for(release.wait(), WAIT)
        except asyncio.TimeoutError:
            pass
        done.set()
        return "too late"

    c = await connect(handlers={"question": question})
    assert await c.call("ask", (300, "slow?")) == {"error": "timeout"}
    # the late ack must be ignored by the server, and the connection keeps working
    release.set()
    await asyncio.wait_for(done.wait(), WAIT)
    assert await c.call("ack", "still alive") == "still alive"
    assert c.sio.connected


async def test_ack_without_handler_is_autoacked(connect):
    """python-socketio acks every event that asks for it, even without a handler (with no args)."""
    c = await connect()
    assert await c.call("ask", (2000, "anyone?")) == {"ok": []}
    assert c.received("question") == [("anyone?",)]


async def test_ack_timeout_client_to_server(connect):
    c = await connect()
    with pytest.raises(socketio.exceptions.TimeoutError):
        await c.call("no-such-event", {"x": 1}, timeout=0.5)
    assert await c.call("ack", "after") == "after"


# --------------------------------------------------------------------------------------------------
# Rooms and broadcasts
# --------------------------------------------------------------------------------------------------

async def test_rooms_join_leave(connect):
    a = await connect()
    me = a.sid()
    assert await a.call("rooms") == [me]
    assert await a.call("join", "r1") == sorted([me, "r1"])
    assert await a.call("join", ["r2", "r3"]) == sorted([me, "r1", "r2", "r3"])
    assert await a.call("join", "r1") == sorted([me, "r1", "r2", "r3"])  # idempotent
    assert await a.call("leave", "r2") == sorted([me, "r1", "r3"])
    assert await a.call("leave", "not-joined") == sorted([me, "r1", "r3"])
    assert await a.call("rooms") == sorted([me, "r1", "r3"])


async def test_to_room_and_room_size(connect):
    a, b, c = await connect(), await connect(), await connect()
    await a.call("join", "r")
    await b.call("join", ["r", "only-b"])
    assert await c.call("room-size", "r") == 2  # namespace-wide, asked by a non-member
    assert await a.call("room-size", "only-b") == 1
    assert await a.call("room-size", "nobody") == 0
    assert await a.call("room-size", a.sid()) == 1

    await a.emit("to-room", ("r", "hello", {"n": 1}, b"\x01"))
    assert await b.wait("room-msg") == ("hello", {"n": 1}, b"\x01")
    await sync(a, b, c)
    assert a.received("room-msg") == []  # not the sender
    assert c.received("room-msg") == []  # not a non-member
    assert b.received("room-msg") == [("hello", {"n": 1}, b"\x01")]

    # after leaving, b is no longer reached
    assert await b.call("leave", "r") == sorted([b.sid(), "only-b"])
    assert await a.call("room-size", "r") == 1
    await a.emit("to-room", ("r", "again"))
    await c.emit("to-room", ("r", "from-c"))
    assert await a.wait("room-msg") == ("from-c",)
    await sync(a, b, c)
    await sync(c, a, b)
    assert a.received("room-msg") == [("from-c",)]
    assert b.received("room-msg") == [("hello", {"n": 1}, b"\x01")]
    assert c.received("room-msg") == []


async def test_socket_id_room_and_private(connect):
    a, b, c = await connect(), await connect(), await connect()
    # every socket is in the room named by its id
    await a.emit("to-room", (b.sid(), "direct", 1))
    assert await b.wait("room-msg") == ("direct", 1)
    # socket.to(own id) excludes the sender itself
    await a.emit("to-room", (a.sid(), "self"))
    # private message by id
    await a.emit("private", (c.sid(), {"m": [1, 2]}))
    assert await c.wait("private") == ({"from": a.sid(), "msg": {"m": [1, 2]}},)
    await sync(a, b, c)
    assert a.received("room-msg") == [] and a.received("private") == []
    assert b.received("room-msg") == [("direct", 1)] and b.received("private") == []
    assert c.received("room-msg") == [] and c.received("private") == [({"from": a.sid(), "msg": {"m": [1, 2]}},)]


async def test_broadcast(connect):
    a, b, c = await connect(), await connect(), await connect()
    args = (1, "all", b"\x00", {"n": None})
    await a.emit("broadcast", args)
    for x in (a, b, c):  # sender included
        assert await x.wait("broadcast", match=lambda got: got == args) == args


async def test_broadcast_others(connect):
    a, b, c = await connect(), await connect(), await connect()
    args = ("others", [1, 2], b"\xff")
    await a.emit("broadcast-others", args)
    for x in (b, c):
        assert await x.wait("broadcast", match=lambda got: got == args) == args
    await sync(a, b, c)
    assert a.received("broadcast", match=lambda got: got == args) == []  # sender excluded
    for x in (b, c):
        assert len(x.received("broadcast", match=lambda got: got == args)) == 1


# --------------------------------------------------------------------------------------------------
# Namespace-wide operations (broadcast with acks, fetchSockets, socketsJoin, disconnectSockets)
# --------------------------------------------------------------------------------------------------

def _answering(name, release=None):
    async def question(*args):
        if release is not None:
            try:
                await asyncio.wait_for(release.wait(), WAIT)
            except asyncio.TimeoutError:
                pass
        return name  # one ack argument: each socket's answer
    return {"question": question}


async def test_ask_all(connect):
    a = await connect(handlers=_answering("a"))
    b = await connect(handlers=_answering("b"))
    c = await connect(handlers=_answering("c"))
    res = await a.call("ask-all", 3000)
    assert set(res) == {"ok"} and sorted(res["ok"]) == ["a", "b", "c"]


async def test_ask_all_timeout(connect):
    release = asyncio.Event()
    a = await connect(handlers=_answering("a"))
    b = await connect(handlers=_answering("b"))
    slow = await connect(handlers=_answering("slow", release))
    res = await a.call("ask-all", 500)
    release.set()
    assert res["error"] == "timeout"
    assert sorted(res["answers"]) == ["a", "b"]
    assert await slow.call("ack", "alive") == "alive"


async def test_fetch_sockets_data_and_sockets_join(connect):
    a, b = await connect(), await connect()
    assert await a.call("set-data", {"name": "a", "n": [1, 2]}) is True
    assert await b.call("set-data", "bee") is True
    await b.call("join", "b-room")
    assert await a.call("sockets-join", "everyone") is True
    assert await b.call("rooms") == sorted([b.sid(), "b-room", "everyone"])
    assert await a.call("room-size", "everyone") == 2
    fetched = {s["id"]: s for s in await b.call("fetch")}
    assert set(fetched) == {a.sid(), b.sid()}
    assert sorted(fetched[a.sid()]["rooms"]) == sorted([a.sid(), "everyone"])
    assert sorted(fetched[b.sid()]["rooms"]) == sorted([b.sid(), "b-room", "everyone"])
    assert fetched[a.sid()]["data"] == {"name": "a", "n": [1, 2]}
    assert fetched[b.sid()]["data"] == "bee"


async def test_disconnect_all(connect):
    a, b = await connect(), await connect()
    other_nsp = await connect(namespaces=["/chat"])
    assert await a.call("disconnect-all") is True
    for c in (a, b):
        assert await c.wait("disconnect") == (SERVER_DISCONNECT,)
        await wait_until(lambda: not c.sio.connected, what="client disconnected")
    # only the namespace's sockets
    assert await other_nsp.call("ack", "chat alive", ns="/chat") == "chat alive"


# --------------------------------------------------------------------------------------------------
# Disconnections
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("close", [False, True], ids=["close=false", "close=true"])
async def test_server_side_disconnect(connect, close):
    observer = await connect()
    c = await connect()
    sid = c.sid()
    await c.emit("disconnect-me", close)
    assert await c.wait("disconnect") == (SERVER_DISCONNECT,)
    await wait_until(lambda: not c.sio.connected, what="client disconnected")
    leaving = await observer.wait("leaving", match=lambda a: a[0]["id"] == sid)
    assert leaving == ({"id": sid, "rooms": [sid], "reason": "server namespace disconnect"},)
    assert await observer.call("room-size", sid) == 0


async def test_server_side_disconnect_one_namespace(connect):
    """disconnect(false) on /chat leaves the connection and / alive."""
    c = await connect(namespaces=["/", "/chat"])
    await c.emit("disconnect-me", False, ns="/chat")
    assert await c.wait("disconnect", ns="/chat") == (SERVER_DISCONNECT,)
    await wait_until(lambda: "/chat" not in c.sio.namespaces, what="/chat gone")
    assert c.sio.connected
    assert await c.call("ack", "root still works") == "root still works"
    assert c.received("disconnect", ns="/") == []


async def test_server_side_disconnect_close_all_namespaces(connect):
    """disconnect(true) on /chat closes the underlying connection: / is disconnected as well."""
    c = await connect(namespaces=["/", "/chat"])
    await c.emit("disconnect-me", True, ns="/chat")
    assert await c.wait("disconnect", ns="/chat") == (SERVER_DISCONNECT,)
    assert await c.wait("disconnect", ns="/") == (SERVER_DISCONNECT,)
    await wait_until(lambda: not c.sio.connected and c.sio.eio.state == "disconnected",
                     what="connection closed")


async def test_disconnecting_rooms_visible(connect):
    """A client leaves a namespace (DISCONNECT packet, as socket.disconnect() of the JS client sends): the
    `leaving` event, sent from `disconnecting`, still sees its rooms."""
    observer = await connect(namespaces=["/chat"])
    leaver = await connect(namespaces=["/", "/chat"])
    sid = leaver.sid("/chat")
    assert await leaver.call("join", ["r1", "r2"], ns="/chat") == sorted([sid, "r1", "r2"])
    assert await observer.call("room-size", "r1", ns="/chat") == 1
    # python-socketio has no per-namespace disconnect: send the DISCONNECT packet for /chat ourselves.
    await leaver.sio._send_packet(leaver.sio.packet_class(socketio.packet.DISCONNECT, namespace="/chat"))
    (leaving,) = await observer.wait("leaving", ns="/chat", match=lambda a: a[0]["id"] == sid)
    assert leaving == {"id": sid, "rooms": sorted([sid, "r1", "r2"]), "reason": "client namespace disconnect"}
    assert await observer.call("room-size", "r1", ns="/chat") == 0
    assert await observer.call("room-size", sid, ns="/chat") == 0
    # the connection and its other namespace are unaffected
    assert await leaver.call("ack", "root alive", ns="/") == "root alive"
    assert await leaver.call("transport", ns="/") == MODES[connect.mode][1]


async def test_client_closes_connection(connect, mode):
    """sio.disconnect(): the other clients get `leaving` with the rooms of the departed socket.

    python-socketio 5.14's disconnect() queues DISCONNECT ("41") and CLOSE ("1"), then over websocket
    closes the socket before its write loop sends them: the server sees "transport close". Over polling
    the write loop does POST them: the server sees the namespace DISCONNECT first.
    """
    observer = await connect()
    leaver = await connect()
    sid = leaver.sid()
    assert await leaver.call("join", ["r1", "r2"]) == sorted([sid, "r1", "r2"])
    # python-engineio's polling write loop stops as soon as disconnect() leaves the "connected" state:
    # if the POST of the call is still waiting for its "ok" then (the ack can come back first, through
    # the GET), the DISCONNECT and CLOSE packets are never sent and disconnect() waits for its pending
    # GET until the ping timeout. Let the client's writes finish first: that race is the client's.
    await asyncio.wait_for(leaver.sio.eio.queue.join(), WAIT)
    await asyncio.wait_for(leaver.sio.disconnect(), WAIT)
    assert leaver.received("disconnect")  # the client's own handler ran
    (leaving,) = await observer.wait("leaving", match=lambda a: a[0]["id"] == sid)
    # polling: the DISCONNECT packet always arrives; websocket: the close frame normally wins the race
    expected_reasons = {"client namespace disconnect"} if mode == "polling" else \
        {"transport close", "client namespace disconnect"}
    assert leaving["reason"] in expected_reasons
    assert leaving == {"id": sid, "rooms": sorted([sid, "r1", "r2"]), "reason": leaving["reason"]}
    assert await observer.call("room-size", "r1") == 0


# --------------------------------------------------------------------------------------------------
# Ordering and size
# --------------------------------------------------------------------------------------------------

async def test_hundred_events_in_order(connect):
    c = await connect()
    acks = []
    for i in range(100):
        await c.sio.emit("echo", ("seq", i, "x" * (i % 7)), callback=lambda *a: acks.append(a))
    got = await c.wait_all("echo", 100, match=lambda a: a[0] == "seq", timeout=15)
    assert [a[1] for a in got] == list(range(100))
    assert got == [("seq", i, "x" * (i % 7)) for i in range(100)]
    await wait_until(lambda: len(acks) == 100, timeout=15, what="100 acks")
    assert [a[1] for a in acks] == list(range(100))


def _big_text(n=300_000):
    rnd = random.Random(20240607)
    alphabet = string.ascii_letters + string.digits + " \"\\\n\u00e9\u20ac\U0001F600"
    return "".join(rnd.choice(alphabet) for _ in range(n))


@pytest.mark.parametrize("kind", ["str", "bytes"])
async def test_large_payload(connect, kind):
    c = await connect()
    big = _big_text() if kind == "str" else os.urandom(300_000)
    await c.emit("echo", ("big", big))
    got = await c.wait("echo", timeout=20)
    assert got[0] == "big" and len(got[1]) == len(big) and got[1] == big
    back = await c.call("ack", {"nested": [big]}, timeout=20)
    assert back == {"nested": [big]}


# --------------------------------------------------------------------------------------------------
# HTTP compression of long-polling responses (engine.io's httpCompression, on by default from 1024 bytes)
# --------------------------------------------------------------------------------------------------

async def _polling_codings(server, big):
    """Raw polling requests (aiohttp, inflating nothing) to the e2e server: the open packet's coding with
    `Accept-Encoding: gzip`, then the codings of three polls each carrying the echo of `big`, asked with
    "gzip, deflate", "deflate" and no Accept-Encoding at all; every body checked to carry `big`."""
    import gzip
    import json
    import zlib

    import aiohttp

    inflate = {"gzip": gzip.decompress, "deflate": zlib.decompress, None: lambda body: body}
    async with aiohttp.ClientSession(auto_decompress=False) as http:
        async def get(url, accept):
            if accept is None:
                response = await http.get(url, skip_auto_headers=["Accept-Encoding"])
            else:
                response = await http.get(url, headers={"Accept-Encoding": accept})
            async with response:
                coding = response.headers.get("Content-Encoding")
                return coding, inflate[coding](await response.read()).decode()

        open_coding, body = await get(f"{server}/socket.io/?EIO=4&transport=polling", "gzip")
        sid = json.loads(body[1:])["sid"]
        url = f"{server}/socket.io/?EIO=4&transport=polling&sid={sid}"
        # POSTs ask for no coding: engine.io answers them as is, python-engineio compresses even those.
        post = {"skip_auto_headers": ["Accept-Encoding"]}
        async with http.post(url, data="40", **post) as response:
            assert (await response.text()).lower() == "ok"
        await get(url, "gzip")  # the CONNECT answer (and `welcome`, unless it comes in a later poll)
        codings = []
        for accept in ("gzip, deflate", "deflate", None):
            async with http.post(url, data='42["echo","' + big + '"]', **post) as response:
                assert (await response.text()).lower() == "ok"
            # The poll that carries the echo (an earlier one may carry a late `welcome` alone).
            for _ in range(5):
                coding, body = await get(url, accept)
                if big in body:
                    break
            assert big in body
            codings.append(coding)
        return open_coding, codings


async def test_polling_responses_are_compressed_as_engine_io_does(server):
    """On by default from 1024 bytes. python-socketio's client (aiohttp) sends `Accept-Encoding: gzip,
    deflate` and inflates transparently, which every polling-mode test above exercises."""
    open_coding, codings = await _polling_codings(server, "y" * 5000)
    assert open_coding is None  # the open packet is under the threshold
    assert codings == ["gzip", "deflate", None]
    # Under the threshold: as is.
    _, codings = await _polling_codings(server, "y" * 100)
    assert codings == [None, None, None]


@pytest.mark.server_args("--http-compression", "0")
async def test_polling_compression_threshold(server):
    open_coding, codings = await _polling_codings(server, "y" * 100)
    assert open_coding == "gzip"
    assert codings == ["gzip", "deflate", None]


@pytest.mark.server_args("--http-compression", "off")
async def test_polling_compression_off(server):
    open_coding, codings = await _polling_codings(server, "y" * 5000)
    assert open_coding is None
    assert codings == [None, None, None]


@pytest.mark.server_args("--http-compression", "off")
@pytest.mark.parametrize("kind", ["str", "bytes"])
async def test_large_payload_without_compression(connect, kind):
    await test_large_payload(connect, kind)
