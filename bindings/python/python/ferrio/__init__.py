"""ferrio: a Socket.IO v5 server engine in Rust, with python-socketio's ``AsyncServer`` API.

    import ferrio as socketio

    sio = socketio.AsyncServer(cors_allowed_origins="*")

    @sio.event
    async def chat(sid, msg):
        await sio.emit("chat", msg, skip_sid=sid)
        return "ok"          # the acknowledgement

    sio.run("127.0.0.1", 3000)

Handlers run on your asyncio loop; the engine (transports, rooms, broadcasts) runs on ferrio's threads.
"""

from . import exceptions
from ._native import __version__
from ._asgi import ASGIApp
from ._manager import AsyncManager
from ._namespace import AsyncNamespace
from ._redis import AsyncRedisManager
from ._server import AsyncServer, BroadcastOperator, Reason, RemoteSocket

__all__ = [
    "ASGIApp",
    "AsyncServer",
    "AsyncManager",
    "AsyncNamespace",
    "AsyncRedisManager",
    "BroadcastOperator",
    "RemoteSocket",
    "Reason",
    "exceptions",
    "__version__",
]
