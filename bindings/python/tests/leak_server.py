"""A small ferrio server for the leak test: every connection gets a session, a room and an environ."""

import asyncio
import os
import signal

import ferrio

sio = ferrio.AsyncServer(connect_timeout=float(os.environ.get("LEAK_CONNECT_TIMEOUT", "45")))


@sio.event
async def connect(sid, environ, auth):
    await sio.save_session(sid, {"n": len(environ)})
    await sio.enter_room(sid, "everyone")


@sio.event
async def disconnect(sid, reason):
    await sio.get_session(sid)


async def main():
    port = await sio.start("127.0.0.1", 0)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    print(f"LISTENING {port}", flush=True)
    await stop.wait()
    await sio.shutdown(grace=1)


asyncio.run(main())
