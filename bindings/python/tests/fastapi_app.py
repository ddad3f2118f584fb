"""A FastAPI app with ferrio mounted under a sub-path, in python-socketio's documented ASGI style (only the
import differs: ``import ferrio as socketio``). Run by test_asgi.py under uvicorn."""

import ferrio as socketio
from fastapi import FastAPI

sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*")
app = FastAPI()
app.mount("/ws", socketio.ASGIApp(sio))
items: list[str] = []


@app.get("/api/health")
async def health() -> dict[str, bool]:
    return {"ok": True}


@app.post("/api/items")
async def add_item(item: dict[str, str]) -> dict[str, int]:
    items.append(item["name"])
    await sio.emit("item", item["name"], room="watchers")
    return {"count": len(items)}


@sio.event
async def connect(sid, environ, auth):
    if (auth or {}).get("token") != "letmein":
        raise socketio.exceptions.ConnectionRefusedError("not authorized")
    await sio.save_session(sid, {"path": environ.get("PATH_INFO")})


@sio.event
async def watch(sid):
    await sio.enter_room(sid, "watchers")
    return "watching"


@sio.event
async def echo(sid, *args):
    return args


@sio.event
async def shout(sid, text):
    await sio.emit("shout", text.upper(), skip_sid=sid)
