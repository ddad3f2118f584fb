"""Game lobby: a python-socketio service with players, game rooms, uploads, polls and a ticker.

Written the way python-socketio applications are written. The only switch is LOBBY_SERVER, read right
below: ``python-socketio`` (the default) imports ``socketio`` and serves the ASGI app with uvicorn;
``ferrio`` imports ``ferrio as socketio`` and lets the server own its port. Everything else is shared.

    LOBBY_SERVER=ferrio LOBBY_PORT=0 python lobby.py      # prints "LISTENING <port>" once it accepts

Namespaces:
    /       the lobby: token auth in connect, sessions, game rooms, chat, binary avatars, polls, kicks
    /game   a class-based namespace (socketio.AsyncNamespace): moves, scores and spectators
"""

import asyncio
import hashlib
import os
import signal
import socket
import time
from urllib.parse import parse_qs

SERVER = os.environ.get("LOBBY_SERVER", "python-socketio")
if SERVER == "ferrio":
    import ferrio as socketio
else:
    import socketio
    import uvicorn

HOST = "127.0.0.1"
PORT = int(os.environ.get("LOBBY_PORT", "0"))

#: token -> account. A real service would ask its user database.
ACCOUNTS = {
    "tok-ada": {"name": "Ada", "role": "admin"},
    "tok-bob": {"name": "Bob", "role": "player"},
    "tok-cyd": {"name": "Cyd", "role": "player"},
    "tok-dan": {"name": "Dan", "role": "player"},
}

sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*")

online = {}    # player name -> sid in "/"
owners = {}    # game room -> the name of the player who created it
avatars = {}   # player name -> the bytes they uploaded
background = {"ticker": None}


def account_for(auth):
    if not isinstance(auth, dict):
        return None
    return ACCOUNTS.get(auth.get("token"))


def game_room(name):
    return "game:" + str(name)


def lobby_sids(room):
    """The sids in one room of "/", as the client manager knows them."""
    return [sid for sid, _eio_sid in sio.manager.get_participants("/", room)]


async def names_in(room):
    names = []
    for sid in lobby_sids(room):
        session = await sio.get_session(sid)
        names.append(session["name"])
    return sorted(names)


async def ticker():
    """Pushes a tick to the "tickers" room ten times a second, for as long as the server runs."""
    count = 0
    while True:
        await sio.sleep(0.1)
        count += 1
        await sio.emit("tick", {"n": count, "online": len(online)}, room="tickers")


# ---------------------------------------------------------------------------------------------------------
# Connecting and leaving
# ---------------------------------------------------------------------------------------------------------

@sio.event
async def connect(sid, environ, auth):
    if not auth or not auth.get("token"):
        # Visitors without a token are turned away without an explanation.
        return False
    account = account_for(auth)
    if account is None:
        raise socketio.exceptions.ConnectionRefusedError("invalid token", {"code": 401, "token": auth["token"]})
    if account["name"] in online:
        raise socketio.exceptions.ConnectionRefusedError(
            "already connected", {"code": 409, "name": account["name"]})

    query = parse_qs(environ.get("QUERY_STRING", ""))
    online[account["name"]] = sid
    await sio.save_session(sid, {
        "name": account["name"],
        "role": account["role"],
        "client": query.get("client", ["unknown"])[0],
        "messages": 0,
        "since": time.time(),
    })
    await sio.enter_room(sid, "lobby")
    if account["role"] == "admin":
        await sio.enter_room(sid, "admins")

    rooms = sorted(sio.rooms(sid))
    async with sio.session(sid) as session:
        session["rooms_at_connect"] = rooms
    session = await sio.get_session(sid)

    await sio.emit("welcome", {
        "sid": sid,
        "name": session["name"],
        "role": session["role"],
        "client": session["client"],
        "rooms": rooms,
        "online": sorted(online),
    }, to=sid)
    await sio.emit("user:joined", {"name": session["name"], "online": len(online)}, room="lobby", skip_sid=sid)

    if background["ticker"] is None:
        background["ticker"] = sio.start_background_task(ticker)


@sio.event
async def disconnect(sid, reason):
    session = await sio.get_session(sid)
    name = session.get("name")
    if online.get(name) == sid:
        del online[name]
    games = sorted(room for room in sio.rooms(sid) if room.startswith("game:"))
    if reason == sio.reason.SERVER_DISCONNECT:
        why = "kicked"
    elif reason == sio.reason.CLIENT_DISCONNECT:
        why = "left"
    else:
        why = "lost"
    await sio.emit("user:left", {"name": name, "why": why, "games": games, "online": len(online)},
                   room="lobby", skip_sid=sid)


# ---------------------------------------------------------------------------------------------------------
# Who am I, and where
# ---------------------------------------------------------------------------------------------------------

@sio.event
async def whoami(sid):
    session = await sio.get_session(sid)
    return {
        "sid": sid,
        "name": session["name"],
        "role": session["role"],
        "client": session["client"],
        "messages": session["messages"],
        "rooms_at_connect": session["rooms_at_connect"],
        "rooms": sorted(sio.rooms(sid)),
        "transport": sio.transport(sid),
    }


@sio.event
async def presence(sid):
    """What the client manager says about the caller."""
    eio_sid = sio.manager.eio_sid_from_sid(sid, "/")
    return {
        "connected": sio.manager.is_connected(sid, "/"),
        "eio_sid": eio_sid,
        "sid_from_eio": sio.manager.sid_from_eio_sid(eio_sid, "/"),
        "rooms": sorted(sio.manager.get_rooms(sid, "/")),
    }


# ---------------------------------------------------------------------------------------------------------
# Chat
# ---------------------------------------------------------------------------------------------------------

@sio.event
async def chat(sid, data):
    text = str((data or {}).get("text", "")).strip()
    if not text:
        return {"ok": False, "error": "empty"}
    room = data.get("room") or "lobby"
    if room not in sio.rooms(sid):
        return {"ok": False, "error": "not in room"}
    async with sio.session(sid) as session:
        session["messages"] += 1
        count = session["messages"]
        name = session["name"]
    await sio.emit("chat", {"from": name, "text": text, "room": room}, room=room, skip_sid=sid)
    return {"ok": True, "count": count}


@sio.event
async def whisper(sid, to_name, text):
    target = online.get(to_name)
    if target is None:
        return False
    session = await sio.get_session(sid)
    await sio.emit("whisper", {"from": session["name"], "text": text}, to=target)
    return True


# ---------------------------------------------------------------------------------------------------------
# Game rooms
# ---------------------------------------------------------------------------------------------------------

@sio.on("room:create")
async def room_create(sid, name):
    room = game_room(name)
    if room in owners:
        return {"error": "exists"}
    session = await sio.get_session(sid)
    owners[room] = session["name"]
    await sio.enter_room(sid, room)
    await sio.emit("room:created", {"room": room, "by": session["name"]}, room="lobby", skip_sid=sid)
    return {"room": room, "owner": session["name"], "size": len(lobby_sids(room))}


@sio.on("room:join")
async def room_join(sid, name):
    room = game_room(name)
    if room not in owners:
        return {"error": "no such room"}
    await sio.enter_room(sid, room)
    session = await sio.get_session(sid)
    members = await names_in(room)
    await sio.emit("room:joined", {"room": room, "name": session["name"], "size": len(members)},
                   room=room, skip_sid=sid)
    return {"room": room, "members": members}


@sio.on("room:leave")
async def room_leave(sid, name):
    await sio.leave_room(sid, game_room(name))
    return sorted(sio.rooms(sid))


@sio.on("room:info")
async def room_info(sid, name):
    room = name if name == "lobby" else game_room(name)
    pairs = list(sio.manager.get_participants("/", room))
    table = sio.manager.rooms.get("/", {}).get(room, {})
    return {
        "room": room,
        "size": len(pairs),
        "sids": sorted(member for member, _ in pairs),
        "eio_consistent": all(sio.manager.eio_sid_from_sid(member, "/") == eio for member, eio in pairs),
        "table_size": len(table),
        "caller_inside": sid in table,
        "owner": owners.get(room),
    }


@sio.on("rooms:list")
async def rooms_list(sid):
    return {
        "mine": sorted(sio.manager.get_rooms(sid, "/")),
        "games": sorted(room for room in sio.manager.rooms.get("/", {})
                        if isinstance(room, str) and room.startswith("game:")),
        "namespaces": sorted(sio.manager.get_namespaces()),
    }


@sio.on("room:close")
async def room_close(sid, name):
    room = game_room(name)
    session = await sio.get_session(sid)
    if owners.get(room) != session["name"]:
        return {"error": "only the owner can close it"}
    await sio.emit("room:closing", {"room": room}, room=room)
    await sio.close_room(room)
    del owners[room]
    return {"closed": room, "size_after": len(lobby_sids(room))}


# ---------------------------------------------------------------------------------------------------------
# Binary
# ---------------------------------------------------------------------------------------------------------

@sio.on("avatar:upload")
async def avatar_upload(sid, meta, image):
    if not isinstance(image, bytes):
        return {"error": "binary expected"}
    session = await sio.get_session(sid)
    avatars[session["name"]] = image
    await sio.emit("avatar", {"name": session["name"], "image": image,
                              "thumbs": [image[:1], {"last": image[-1:]}]},
                   room="lobby", skip_sid=sid)
    return {
        "size": len(image),
        "digest": hashlib.sha1(image).hexdigest(),
        "meta": meta,
        "head": image[:4],
        "parts": [image[:2], {"tail": image[-2:]}],
    }


@sio.on("avatar:get")
async def avatar_get(sid, name):
    image = avatars.get(name)
    if image is None:
        return None
    return name, image


@sio.event
async def echo(sid, *args):
    return args


# ---------------------------------------------------------------------------------------------------------
# The server asks the players
# ---------------------------------------------------------------------------------------------------------

@sio.event
async def ask(sid, data):
    target = online.get(data.get("to"))
    if target is None:
        return {"error": "no such user"}
    session = await sio.get_session(sid)
    try:
        answer = await sio.call("question", {"from": session["name"], "q": data["q"]}, to=target,
                                timeout=data.get("timeout", 2))
    except socketio.exceptions.TimeoutError:
        return {"error": "timeout"}
    return {"answer": answer}


@sio.event
async def poll(sid, data):
    session = await sio.get_session(sid)
    voters = {name: voter for name, voter in online.items() if voter != sid}
    votes = {}
    everyone = asyncio.Event()

    def record(name):
        def on_vote(choice=None, *extra):
            votes[name] = choice
            if len(votes) == len(voters):
                everyone.set()
        return on_vote

    for name, voter in voters.items():
        await sio.emit("vote", {"q": data["q"], "options": data["options"], "by": session["name"]},
                       to=voter, callback=record(name))
    if voters:
        try:
            await asyncio.wait_for(everyone.wait(), data.get("timeout", 2))
        except asyncio.TimeoutError:
            pass
    return {"q": data["q"], "votes": dict(votes), "missing": sorted(set(voters) - set(votes))}


# ---------------------------------------------------------------------------------------------------------
# Ticks, stats and moderation
# ---------------------------------------------------------------------------------------------------------

@sio.on("ticks:subscribe")
async def ticks_subscribe(sid):
    await sio.enter_room(sid, "tickers")
    return sorted(sio.rooms(sid))


@sio.on("ticks:unsubscribe")
async def ticks_unsubscribe(sid):
    await sio.leave_room(sid, "tickers")
    return sorted(sio.rooms(sid))


@sio.event
async def stats(sid):
    return {
        "lobby": len(list(sio.manager.get_participants("/", "lobby"))),
        "players": len(list(sio.manager.get_participants("/game", "players"))),
        "admins": [sio.manager.is_connected(admin, "/") for admin in lobby_sids("admins")],
        "games": sorted(owners),
        "online": sorted(online),
    }


@sio.event
async def kick(sid, name):
    session = await sio.get_session(sid)
    if session["role"] != "admin":
        return {"error": "forbidden"}
    target = online.get(name)
    if target is None:
        return {"error": "no such user"}
    await sio.emit("kicked", {"by": session["name"]}, to=target)
    await sio.disconnect(target)
    return {"kicked": name}


# ---------------------------------------------------------------------------------------------------------
# /game: a class-based namespace
# ---------------------------------------------------------------------------------------------------------

class GameNamespace(socketio.AsyncNamespace):
    def __init__(self, namespace):
        super().__init__(namespace)
        self.players = {}  # sid -> name

    async def on_connect(self, sid, environ, auth):
        account = account_for(auth)
        if account is None:
            raise socketio.exceptions.ConnectionRefusedError("token required", {"namespace": self.namespace})
        self.players[sid] = account["name"]
        await self.save_session(sid, {"name": account["name"], "score": 0, "moves": []})
        await self.enter_room(sid, "players")
        await self.emit("game:state", {"players": sorted(self.players.values())}, to=sid)

    async def on_whoami(self, sid):
        eio_sid = sio.manager.eio_sid_from_sid(sid, self.namespace)
        return {"sid": sid, "eio_sid": eio_sid, "lobby_sid": sio.manager.sid_from_eio_sid(eio_sid, "/")}

    async def on_move(self, sid, move):
        points = move.get("points") if isinstance(move, dict) else None
        if not isinstance(points, int) or isinstance(points, bool) or not 0 < points <= 10:
            return {"error": "bad move"}
        async with self.session(sid) as session:
            session["score"] += points
            session["moves"].append(points)
            name, score = session["name"], session["score"]
        await self.emit("moved", {"name": name, "points": points, "score": score}, room="players", skip_sid=sid)
        return {"score": score}

    async def on_score(self, sid):
        session = await self.get_session(sid)
        return session["name"], session["score"], session["moves"]

    async def on_spectate(self, sid, watching):
        if watching:
            await self.enter_room(sid, "spectators")
        else:
            await self.leave_room(sid, "spectators")
        return sorted(self.rooms(sid))

    async def on_disconnect(self, sid, reason):
        name = self.players.pop(sid, None)
        why = "left" if reason == sio.reason.CLIENT_DISCONNECT else "gone"
        await self.emit("player:left", {"name": name, "why": why}, room="players", skip_sid=sid)


sio.register_namespace(GameNamespace("/game"))


# ---------------------------------------------------------------------------------------------------------
# Running it
# ---------------------------------------------------------------------------------------------------------

async def main():
    if SERVER == "ferrio":
        port = await sio.start(HOST, PORT)
        print(f"LISTENING {port}", flush=True)
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        await stop.wait()
        await sio.shutdown(grace=1)
    else:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((HOST, PORT))
        listener.listen(128)
        server = uvicorn.Server(uvicorn.Config(socketio.ASGIApp(sio), log_level="warning", lifespan="off"))
        print(f"LISTENING {listener.getsockname()[1]}", flush=True)
        await server.serve(sockets=[listener])


if __name__ == "__main__":
    asyncio.run(main())
