"""Benchmark server: ferrio's Python binding with the handlers in Python (bench/README.md).

    python bench/servers/python_ferrio.py <port>

Same handlers as bench/servers/socketio.js; prints "LISTENING <port>"; exits on SIGTERM/SIGINT.
"""

import asyncio
import signal
import sys

import ferrio

sio = ferrio.AsyncServer()


@sio.event
async def echo(sid, *args):
    await sio.emit("echo", args, to=sid)


@sio.event
async def bcast(sid, *args):
    await sio.emit("bcast", args)


async def main():
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    port = await sio.start("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 3000)
    print(f"LISTENING {port}", flush=True)
    await stop.wait()
    await sio.shutdown(grace=1)


asyncio.run(main())
