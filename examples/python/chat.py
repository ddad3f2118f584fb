"""The ferrio chat example in Python (event contract: examples/README.md; the page: examples/static/).

    pip install ./bindings/python        # once (or: maturin develop -m bindings/python/Cargo.toml)
    npm install                          # once, for the browser client at /socket.io/socket.io.js
    python examples/python/chat.py       # then open http://127.0.0.1:3000

Environment: PORT (default 3000; binds 127.0.0.1 only). Stops on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import os
import pathlib
import re
import time
from typing import Any

import ferrio

ROOT = pathlib.Path(__file__).resolve().parents[2]
MAX_NAME_CHARS = 32
MAX_TEXT_CHARS = 1000
SID_LIKE = re.compile(r"^[A-Za-z0-9_-]{20}$")
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

sio = ferrio.AsyncServer()
nicks: dict[str, str] = {}  # sid -> nickname
rooms: dict[str, set[str]] = {}  # public room -> member sids
last_pushed: dict[str, Any] = {}


class Invalid(Exception):
    """An input error, answered as {error} in the ack."""


def now_ms() -> int:
    return int(time.time() * 1000)


def validate_name(raw: Any, what: str) -> str:
    if not isinstance(raw, str):
        raise Invalid(f"the {what} must be a string")
    name = raw.strip()
    if not name:
        raise Invalid(f"the {what} is empty")
    if len(name) > MAX_NAME_CHARS:
        raise Invalid(f"the {what} is longer than {MAX_NAME_CHARS} characters")
    if CONTROL.search(name):
        raise Invalid(f"the {what} contains control characters")
    return name


def validate_room(raw: Any) -> str:
    room = validate_name(raw, "room name")
    if SID_LIKE.match(room):
        raise Invalid("that room name is reserved")
    return room


def validate_text(raw: Any) -> str:
    if not isinstance(raw, str):
        raise Invalid("the message must be a string")
    text = raw.strip()
    if not text:
        raise Invalid("the message is empty")
    if len(text) > MAX_TEXT_CHARS:
        raise Invalid(f"the message is longer than {MAX_TEXT_CHARS} characters")
    return text


def nick_of(sid: str) -> str:
    nick = nicks.get(sid)
    if nick is None:
        raise Invalid("pick a nickname first")
    return nick


def room_list() -> list[dict[str, Any]]:
    return [{"name": r, "count": len(m)} for r, m in sorted(rooms.items()) if m]


def user_list() -> list[dict[str, Any]]:
    return [{"id": sid, "nick": nick} for nick, sid in sorted((n, s) for s, n in nicks.items())]


async def push_presence() -> None:
    """Sends `rooms` / `users` to everybody, only when they changed."""
    for event, value in (("rooms", room_list()), ("users", user_list())):
        if last_pushed.get(event) != value:
            last_pushed[event] = value
            await sio.emit(event, value)


async def notice(room: str, text: str) -> None:
    await sio.emit("notice", {"room": room, "text": text, "time": now_ms()}, to=room)


def action(handler: Any) -> Any:
    """Wraps a handler: its result is acked as {ok: true, ...}, an Invalid as {error}."""

    async def run(sid: str, arg: Any = None) -> dict[str, Any]:
        try:
            result = await handler(sid, arg)
        except Invalid as error:
            return {"error": str(error)}
        return {"ok": True, **result}

    run.__name__ = handler.__name__
    return sio.event(run)


@sio.event
async def connect(sid: str, environ: dict[str, Any]) -> None:
    # The newcomer gets the current lists; later changes reach everybody.
    await sio.emit("rooms", room_list(), to=sid)
    await sio.emit("users", user_list(), to=sid)


@action
async def nick(sid: str, arg: Any) -> dict[str, Any]:
    name = validate_name(arg, "nickname")
    if any(s != sid and n.lower() == name.lower() for s, n in nicks.items()):
        raise Invalid("that nickname is already taken")
    nicks[sid] = name
    await push_presence()
    return {"id": sid, "nick": name}


@action
async def join(sid: str, arg: Any) -> dict[str, Any]:
    name = nick_of(sid)
    room = validate_room(arg)
    if sid not in rooms.get(room, ()):
        await sio.enter_room(sid, room)
        rooms.setdefault(room, set()).add(sid)
        await notice(room, f"{name} joined")
        await push_presence()
    return {"room": room}


@action
async def leave(sid: str, arg: Any) -> dict[str, Any]:
    name = nick_of(sid)
    if not isinstance(arg, str) or sid not in rooms.get(arg, ()):
        raise Invalid("you are not in that room")
    await sio.leave_room(sid, arg)
    rooms[arg].discard(sid)
    await notice(arg, f"{name} left")
    await push_presence()
    return {"room": arg}


@action
async def message(sid: str, arg: Any) -> dict[str, Any]:
    name = nick_of(sid)
    if not isinstance(arg, dict):
        raise Invalid("expected {room, text}")
    room = arg.get("room")
    if not isinstance(room, str):
        raise Invalid("room must be a string")
    text = validate_text(arg.get("text"))
    if sid not in rooms.get(room, ()):
        raise Invalid("join the room first")
    await sio.emit("message", {"room": room, "from": name, "text": text, "time": now_ms()}, to=room)
    return {}


@action
async def private(sid: str, arg: Any) -> dict[str, Any]:
    name = nick_of(sid)
    if not isinstance(arg, dict):
        raise Invalid("expected {to, text}")
    to = arg.get("to")
    if not isinstance(to, str):
        raise Invalid("to must be a socket id")
    text = validate_text(arg.get("text"))
    target = nicks.get(to)
    if target is None:
        raise Invalid("no such user")
    body = {"from": {"id": sid, "nick": name}, "to": {"id": to, "nick": target}, "text": text, "time": now_ms()}
    await sio.to([to, sid]).emit("private", body)  # the target and the sender, once each
    return {}


@sio.event
async def disconnecting(sid: str, reason: str) -> None:
    # ferrio's `disconnecting`: the rooms are still those the socket was in.
    name = nicks.get(sid)
    if name is None:
        return
    for room in sorted(r for r in sio.rooms(sid) if r != sid):
        await notice(room, f"{name} is leaving")


@sio.event
async def disconnect(sid: str, reason: str) -> None:
    nicks.pop(sid, None)
    for members in rooms.values():
        members.discard(sid)
    for room in [r for r, m in rooms.items() if not m]:
        del rooms[room]
    await push_presence()


if __name__ == "__main__":
    client = ROOT / "node_modules" / "socket.io-client" / "dist"
    sio.run(
        "127.0.0.1",
        int(os.environ.get("PORT", "3000")),
        static_dir=str(ROOT / "examples" / "static"),
        client_dir=str(client) if client.is_dir() else None,
    )
