"""``AsyncNamespace``: class-based handlers, as python-socketio's ``socketio.AsyncNamespace``."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from ._dispatch import _NOT_HANDLED, _accepts
from ._payload import Handler, Rooms

if TYPE_CHECKING:
    from ._server import AsyncServer

__all__ = ["AsyncNamespace"]


class AsyncNamespace:
    """Handlers for one namespace as methods: ``on_<event>(self, sid, *args)``; ``on_connect(self, sid,
    environ, auth)``, ``on_disconnect(self, sid, reason)`` and ``on_disconnecting(self, sid, reason)``.
    Register with ``sio.register_namespace(MyNamespace('/chat'))``. The helpers (``emit``, ``enter_room``,
    ``get_session``...) default to this namespace."""

    def __init__(self, namespace: str | None = None) -> None:
        self.namespace: str = namespace or "/"
        self.server: AsyncServer | None = None

    def _set_server(self, server: AsyncServer) -> None:
        self.server = server

    def _srv(self) -> AsyncServer:
        if self.server is None:
            raise RuntimeError("the namespace is not registered (sio.register_namespace(...))")
        return self.server

    def is_asyncio_based(self) -> bool:
        return True

    async def trigger_event(self, event: str, *args: Any) -> Any:
        """Calls ``on_<event>``; returns its result (the ack), or a marker meaning "no handler"."""
        handler: Handler | None = getattr(self, "on_" + (event or ""), None)
        if handler is None:
            return _NOT_HANDLED
        if event in ("connect", "disconnect", "disconnecting") and not _accepts(handler, len(args)):
            args = args[:-1]
        result = handler(*args)
        if inspect.isawaitable(result):
            result = await result
        return result

    async def emit(self, event: str, data: Any = None, to: Rooms | None = None, room: Rooms | None = None,
                   skip_sid: Rooms | None = None, namespace: str | None = None,
                   callback: Handler | None = None, ignore_queue: bool = False) -> None:
        """``AsyncServer.emit`` in this namespace."""
        await self._srv().emit(event, data=data, to=to, room=room, skip_sid=skip_sid,
                               namespace=namespace or self.namespace, callback=callback)

    async def send(self, data: Any, to: Rooms | None = None, room: Rooms | None = None,
                   skip_sid: Rooms | None = None, namespace: str | None = None,
                   callback: Handler | None = None, ignore_queue: bool = False) -> None:
        """``AsyncServer.send`` in this namespace."""
        await self._srv().send(data, to=to, room=room, skip_sid=skip_sid,
                               namespace=namespace or self.namespace, callback=callback)

    async def call(self, event: str, data: Any = None, to: str | None = None, sid: str | None = None,
                   namespace: str | None = None, timeout: float = 60, ignore_queue: bool = False) -> Any:
        """``AsyncServer.call`` in this namespace."""
        return await self._srv().call(event, data=data, to=to, sid=sid,
                                      namespace=namespace or self.namespace, timeout=timeout)

    async def enter_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        await self._srv().enter_room(sid, room, namespace=namespace or self.namespace)

    async def leave_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        await self._srv().leave_room(sid, room, namespace=namespace or self.namespace)

    async def close_room(self, room: str, namespace: str | None = None) -> None:
        await self._srv().close_room(room, namespace=namespace or self.namespace)

    def rooms(self, sid: str, namespace: str | None = None) -> list[str]:
        return self._srv().rooms(sid, namespace=namespace or self.namespace)

    def is_recovered(self, sid: str, namespace: str | None = None) -> bool:
        return self._srv().is_recovered(sid, namespace=namespace or self.namespace)

    async def get_session(self, sid: str, namespace: str | None = None) -> dict[str, Any]:
        return await self._srv().get_session(sid, namespace=namespace or self.namespace)

    async def save_session(self, sid: str, session: dict[str, Any], namespace: str | None = None) -> None:
        await self._srv().save_session(sid, session, namespace=namespace or self.namespace)

    def session(self, sid: str, namespace: str | None = None) -> Any:
        return self._srv().session(sid, namespace=namespace or self.namespace)

    async def disconnect(self, sid: str, namespace: str | None = None) -> None:
        await self._srv().disconnect(sid, namespace=namespace or self.namespace)
