"""Benchmark server: ferrio's Python binding in ASGI mode — python_ferrio.py's handlers behind
``ferrio.ASGIApp`` run by uvicorn exactly as python_socketio.py runs python-socketio: uvicorn owns the port
and relays every request and WebSocket message.

    python bench/servers/python_ferrio_asgi.py <port>

Prints "LISTENING <port>"; exits on SIGTERM/SIGINT.
"""

import asyncio
import sys

import uvicorn

import ferrio

sio = ferrio.AsyncServer(async_mode="asgi")
app = ferrio.ASGIApp(sio)


@sio.event
async def echo(sid, *args):
    await sio.emit("echo", args, to=sid)


@sio.event
async def bcast(sid, *args):
    await sio.emit("bcast", args)


class Server(uvicorn.Server):
    async def startup(self, sockets=None):
        await super().startup(sockets)
        port = self.servers[0].sockets[0].getsockname()[1]
        print(f"LISTENING {port}", flush=True)


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    asyncio.run(Server(config).serve())
