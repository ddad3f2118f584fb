"""The e2e server contract (tests/e2e/SERVER.md) on ferrio's Python binding: the migration test.

This is tests/e2e/python/reference_server.py (a python-socketio program) with only the import and the
run call changed (`diff` the two files). Both shared suites run against it:
    FERRIO_E2E_SERVER=bindings/python/tests/e2e_server.py .venv/bin/python -m pytest tests/e2e/python -q
    FERRIO_E2E_SERVER=bindings/python/tests/e2e_server.py node --test tests/e2e/js/
"""

import argparse
import asyncio
import pathlib  # noqa: F401 - used by the ferrio copy's run call
import re
import signal
import sys
import time

import ferrio as socketio  # the only other change: the run call at the end

DYN = re.compile(r"^/dyn-[0-9]+$")

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, default=0)
parser.add_argument("--ping-interval", type=int)
parser.add_argument("--ping-timeout", type=int)
parser.add_argument("--transports")
parser.add_argument("--max-payload", type=int)
parser.add_argument("--connect-timeout", type=int)
parser.add_argument("--recovery", type=int)
parser.add_argument("--http-compression")
options = parser.parse_args()

kwargs = {}
if options.ping_interval is not None:
    kwargs["ping_interval"] = options.ping_interval / 1000
if options.ping_timeout is not None:
    kwargs["ping_timeout"] = options.ping_timeout / 1000
if options.transports:
    kwargs["transports"] = options.transports.split(",")
if options.max_payload is not None:
    kwargs["max_http_buffer_size"] = options.max_payload
if options.connect_timeout is not None:
    kwargs["connect_timeout"] = options.connect_timeout / 1000  # python-socketio ignores it (no such option)
if options.http_compression == "off":
    kwargs["http_compression"] = False
elif options.http_compression is not None:
    kwargs["compression_threshold"] = int(options.http_compression)
if options.recovery is not None:
    # ferrio's connection state recovery (socket.io's connectionStateRecovery); python-socketio has none
    # and ignores the option.
    kwargs["connection_state_recovery"] = {"max_disconnection_duration": options.recovery / 1000}

sio = socketio.AsyncServer(async_mode="aiohttp", namespaces="*", cors_allowed_origins="*", **kwargs)

#: namespace -> {sid: {"environ", "time"}}: the application's own view of who is connected.
members = {}


def nsp_ok(ns):
    return ns in ("/", "/chat") or DYN.match(ns) is not None


def room_size(ns, room):
    return sum(1 for sid in members.get(ns, {}) if room in sio.rooms(sid, namespace=ns))


def rooms_of(ns, sid):
    return sorted(sio.rooms(sid, namespace=ns))


@sio.on("connect", namespace="*")
async def connect(ns, sid, environ, auth):
    if not nsp_ok(ns):
        raise socketio.exceptions.ConnectionRefusedError("Invalid namespace")
    auth = auth or {}
    if isinstance(auth, dict) and auth.get("reject") is True:
        raise socketio.exceptions.ConnectionRefusedError(
            "not authorized", {"reason": "rejected by middleware", "code": 4001})
    members.setdefault(ns, {})[sid] = {"environ": environ, "time": time.time(), "auth": auth}
    # A socket recovered by connection state recovery has its session back: its data stays.
    async with sio.session(sid, namespace=ns) as session:
        session.setdefault("data", None)
    # After the connect handler returns, so that the client has its CONNECT first.
    sio.start_background_task(welcome, ns, sid, auth)


async def welcome(ns, sid, auth):
    await sio.emit("welcome", {"id": sid, "auth": auth, "nsp": ns}, to=sid, namespace=ns)
    if DYN.match(ns):
        await sio.emit("nsp", ns, to=sid, namespace=ns)


@sio.on("disconnect", namespace="*")
async def disconnect(ns, sid, reason):
    # python-socketio calls `disconnect` while the rooms are still there: that is socket.io's `disconnecting`.
    leaving = {"id": sid, "rooms": rooms_of(ns, sid), "reason": reason}
    members.get(ns, {}).pop(sid, None)
    await sio.emit("leaving", leaving, namespace=ns, skip_sid=sid)


@sio.on("echo", namespace="*")
async def echo(ns, sid, *args):
    await sio.emit("echo", tuple(args), to=sid, namespace=ns)
    return tuple(args)


@sio.on("ack", namespace="*")
async def ack(ns, sid, *args):
    return tuple(args)


@sio.on("join", namespace="*")
async def join(ns, sid, rooms=None):
    for room in [rooms] if isinstance(rooms, str) else (rooms or []):
        await sio.enter_room(sid, room, namespace=ns)
    return rooms_of(ns, sid)


@sio.on("leave", namespace="*")
async def leave(ns, sid, room=None):
    if isinstance(room, str):
        await sio.leave_room(sid, room, namespace=ns)
    return rooms_of(ns, sid)


@sio.on("rooms", namespace="*")
async def rooms(ns, sid, *args):
    return rooms_of(ns, sid)


@sio.on("to-room", namespace="*")
async def to_room(ns, sid, room=None, *args):
    await sio.emit("room-msg", tuple(args), to=room, skip_sid=sid, namespace=ns)


@sio.on("room-size", namespace="*")
async def room_size_event(ns, sid, room=None, *args):
    return room_size(ns, room)


@sio.on("private", namespace="*")
async def private(ns, sid, to=None, msg=None, *args):
    await sio.emit("private", {"from": sid, "msg": msg}, to=to, namespace=ns)


@sio.on("broadcast", namespace="*")
async def broadcast(ns, sid, *args):
    await sio.emit("broadcast", tuple(args), namespace=ns)


@sio.on("broadcast-others", namespace="*")
async def broadcast_others(ns, sid, *args):
    await sio.emit("broadcast", tuple(args), namespace=ns, skip_sid=sid)


def ack_args(answer):
    """call()'s result back to the argument list (one argument as itself, several as a tuple)."""
    if answer is None:
        return []
    if isinstance(answer, tuple):
        return list(answer)
    return [answer]


@sio.on("ask", namespace="*")
async def ask(ns, sid, timeout=1000, *args):
    try:
        answer = await sio.call("question", tuple(args), to=sid, namespace=ns, timeout=timeout / 1000)
    except socketio.exceptions.TimeoutError:
        return {"error": "timeout"}
    return {"ok": ack_args(answer)}


@sio.on("ask-all", namespace="*")
async def ask_all(ns, sid, timeout=1000, *args):
    async def one(target):
        return await sio.call("question", to=target, namespace=ns, timeout=timeout / 1000)

    results = await asyncio.gather(*(one(s) for s in list(members.get(ns, {}))), return_exceptions=True)
    answers = [r for r in results if not isinstance(r, BaseException)]
    if len(answers) < len(results):
        return {"error": "timeout", "answers": answers}
    return {"ok": answers}


@sio.on("disconnect-me", namespace="*")
async def disconnect_me(ns, sid, close=False, *args):
    if close:
        # The whole connection: every namespace it joined (they share one environ).
        environ = members.get(ns, {}).get(sid, {}).get("environ")
        for other_ns, socks in list(members.items()):
            for other_sid, info in list(socks.items()):
                if info["environ"] is environ:
                    await sio.disconnect(other_sid, namespace=other_ns)
    else:
        await sio.disconnect(sid, namespace=ns)


@sio.on("transport", namespace="*")
async def transport(ns, sid, *args):
    return sio.transport(sid, namespace=ns)


@sio.on("handshake", namespace="*")
async def handshake(ns, sid, *args):
    info = members[ns][sid]
    environ = info["environ"]
    headers = {k[5:].lower().replace("_", "-"): v for k, v in environ.items() if k.startswith("HTTP_")}
    query = dict(p.split("=", 1) if "=" in p else (p, "") for p in environ.get("QUERY_STRING", "").split("&") if p)
    return {
        "query": query,
        "headers": headers,
        "auth": info["auth"],
        "address": environ.get("REMOTE_ADDR"),
        "url": environ.get("RAW_URI") or environ.get("PATH_INFO", "") + "?" + environ.get("QUERY_STRING", ""),
        "secure": environ.get("wsgi.url_scheme") == "https",
        "time": time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(info["time"])),
        "issued": int(info["time"] * 1000),
    }


@sio.on("recovered", namespace="*")
async def recovered(ns, sid, *args):
    # `is_recovered` is ferrio's (socket.io's `socket.recovered`): python-socketio has no recovery.
    session = await sio.get_session(sid, namespace=ns)
    return {"recovered": sio.is_recovered(sid, namespace=ns), "id": sid, "rooms": rooms_of(ns, sid),
            "data": session.get("data")}


@sio.on("emit-me", namespace="*")
async def emit_me(ns, sid, *args):
    await sio.emit("to-me", tuple(args), to=sid, namespace=ns)


@sio.on("set-data", namespace="*")
async def set_data(ns, sid, value=None, *args):
    async with sio.session(sid, namespace=ns) as session:
        session["data"] = value
    return True


@sio.on("fetch", namespace="*")
async def fetch(ns, sid, *args):
    result = []
    for other in list(members.get(ns, {})):
        session = await sio.get_session(other, namespace=ns)
        result.append({"id": other, "rooms": rooms_of(ns, other), "data": session.get("data")})
    return result


@sio.on("sockets-join", namespace="*")
async def sockets_join(ns, sid, room=None, *args):
    for other in list(members.get(ns, {})):
        await sio.enter_room(other, room, namespace=ns)
    return True


@sio.on("disconnect-all", namespace="*")
async def disconnect_all(ns, sid, *args):
    async def later():
        for other in list(members.get(ns, {})):
            await sio.disconnect(other, namespace=ns)

    sio.start_background_task(later)  # after the ack has gone
    return True


# ------------------------------------------------------------------------------------------------------
# The run call (ferrio: the server owns its port)
# ------------------------------------------------------------------------------------------------------

async def main():
    client = pathlib.Path(__file__).resolve().parents[3] / "node_modules/socket.io-client/dist"
    port = await sio.start("127.0.0.1", options.port, client_dir=str(client) if client.is_dir() else None)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    print(f"LISTENING {port}", flush=True)
    await stop.wait()
    await sio.shutdown(grace=2)


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
