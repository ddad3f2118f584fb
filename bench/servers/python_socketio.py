"""Benchmark baseline: python-socketio's AsyncServer on uvicorn (ASGI), same handlers as
bench/servers/socketio.js.

    python bench/servers/python_socketio.py <port>

Prints "LISTENING <port>" once listening; exits on SIGTERM/SIGINT.
"""

import asyncio
import sys

import socketio
import uvicorn

sio = socketio.AsyncServer(async_mode="asgi")
app = socketio.ASGIApp(sio)


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
