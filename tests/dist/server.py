"""The packaging test's contract server on an installed `ferrio` wheel or sdist (see contract.mjs and
contract.py): run by the temporary virtualenv's interpreter, outside the repository."""

import asyncio
import signal

import ferrio

sio = ferrio.AsyncServer()


@sio.event
async def join(sid: str, room: str) -> str:
    await sio.enter_room(sid, room)
    return room


@sio.event
async def say(sid: str, room: str, text: str) -> str:
    await sio.emit("said", (room, text), to=room, skip_sid=sid)
    return "ok"


@sio.event
async def bin(sid: str, data: bytes) -> dict[str, object]:
    return {"len": len(data), "data": bytes(reversed(data))}


async def main() -> None:
    port = await sio.start("127.0.0.1", 0)
    print(f"listening {port} ferrio {ferrio.__version__} from {ferrio.__file__}", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await sio.shutdown()


asyncio.run(main())
