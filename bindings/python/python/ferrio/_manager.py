"""``sio.manager``: python-socketio's client-manager query surface, answered by ferrio's engine.

python-socketio programs read room membership and connection state through ``sio.manager``
(``get_participants``, ``get_rooms``, ``is_connected``, ``rooms[namespace][room]``…). ferrio keeps that
state in its engine (the adapter's rooms), so these methods ask the engine; nothing is mirrored in Python.
As in python-socketio, the answers are about this process's clients only, also with Redis.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._server import AsyncServer


class AsyncManager:
    """The client manager of an ``AsyncServer`` without Redis (python-socketio's ``AsyncManager``).

    ``AsyncServer()`` makes one; pass ``client_manager=ferrio.AsyncRedisManager(url)`` for a cluster.
    """

    def __init__(self) -> None:
        self.server: AsyncServer | None = None

    def set_server(self, server: AsyncServer) -> None:
        """Binds the manager to its server (``AsyncServer`` calls it)."""
        if self.server is not None and self.server is not server:
            raise ValueError("this client manager already belongs to another server")
        self.server = server

    def initialize(self) -> None:
        """python-socketio calls it when the server starts; ferrio's engine needs nothing here."""

    def _native_options(self) -> dict[str, Any]:
        return {}

    def _server(self) -> AsyncServer:
        if self.server is None:
            raise RuntimeError("this client manager is not attached to a server")
        return self.server

    # -- queries (synchronous, as in python-socketio)

    def get_namespaces(self) -> list[str]:
        """The namespaces with handlers or connected clients."""
        return self._server()._require().namespace_names()

    def get_participants(self, namespace: str, room: str | Iterable[str] | None) -> Iterator[tuple[str, str]]:
        """Yields ``(sid, eio_sid)`` for each client of ``namespace`` in ``room`` (several rooms: each
        client once; ``None``: every client of the namespace)."""
        native = self._server()._require()
        if room is None or isinstance(room, str):
            yield from native.participants(namespace, room)
            return
        seen: set[str] = set()
        for name in room:
            for sid, eio_sid in native.participants(namespace, name):
                if sid not in seen:
                    seen.add(sid)
                    yield sid, eio_sid

    def get_rooms(self, sid: str, namespace: str) -> list[str]:
        """The rooms ``sid`` is in (its own id room included); empty for an unknown client."""
        server = self._server()
        if not self.is_connected(sid, namespace):
            return []
        return server._require().rooms(namespace, sid)

    def is_connected(self, sid: str, namespace: str) -> bool:
        """Whether ``sid`` is a client of ``namespace`` (also inside its ``connect`` handler)."""
        return self._server()._require().connected(namespace, sid)

    def sid_from_eio_sid(self, eio_sid: str, namespace: str) -> str | None:
        """The Socket.IO id of the client whose Engine.IO session is ``eio_sid`` in ``namespace``."""
        return self._server()._conn_sid.get((namespace, eio_sid))

    def eio_sid_from_sid(self, sid: str, namespace: str) -> str | None:
        """The Engine.IO session id of the client ``sid``."""
        return self._server()._sid_conn.get((namespace, sid))

    @property
    def rooms(self) -> Mapping[str, Mapping[str | None, dict[str, str]]]:
        """``rooms[namespace][room]`` is ``{sid: eio_sid}`` of the room's clients (``room`` None: all of
        them), read from the engine at each lookup."""
        return _Namespaces(self)

    # -- operations (coroutines, as in python-socketio's AsyncManager)

    async def can_disconnect(self, sid: str, namespace: str) -> bool:
        """Whether ``sid`` is connected and may be disconnected."""
        return self.is_connected(sid, namespace)

    async def emit(self, event: str, data: Any, namespace: str, room: Any = None, skip_sid: Any = None,
                   callback: Any = None, to: Any = None, **kwargs: Any) -> None:
        """``sio.emit`` with the namespace first."""
        await self._server().emit(event, data, to=to if to is not None else room, skip_sid=skip_sid,
                                  namespace=namespace, callback=callback)

    async def enter_room(self, sid: str, namespace: str, room: str, eio_sid: str | None = None) -> None:
        """Makes ``sid`` join ``room``."""
        await self._server().enter_room(sid, room, namespace=namespace)

    async def leave_room(self, sid: str, namespace: str, room: str) -> None:
        """Makes ``sid`` leave ``room``."""
        await self._server().leave_room(sid, room, namespace=namespace)

    async def close_room(self, room: str, namespace: str) -> None:
        """Removes every client from ``room``."""
        await self._server().close_room(room, namespace=namespace)

    async def disconnect(self, sid: str, namespace: str, **kwargs: Any) -> None:
        """Disconnects ``sid`` from ``namespace``."""
        await self._server().disconnect(sid, namespace=namespace)


class _Namespaces(Mapping[str, Mapping[str | None, dict[str, str]]]):
    def __init__(self, manager: AsyncManager) -> None:
        self._manager = manager

    def __getitem__(self, namespace: str) -> _Rooms:
        if namespace not in self._manager.get_namespaces():
            raise KeyError(namespace)
        return _Rooms(self._manager, namespace)

    def __iter__(self) -> Iterator[str]:
        return iter(self._manager.get_namespaces())

    def __len__(self) -> int:
        return len(self._manager.get_namespaces())


class _Rooms(Mapping[str | None, dict[str, str]]):
    def __init__(self, manager: AsyncManager, namespace: str) -> None:
        self._manager = manager
        self._namespace = namespace

    def __getitem__(self, room: str | None) -> dict[str, str]:
        members = dict(self._manager.get_participants(self._namespace, room))
        if room is not None and not members:
            raise KeyError(room)
        return members

    def __iter__(self) -> Iterator[str | None]:
        yield None
        yield from self._manager._server()._require().room_names(self._namespace)

    def __len__(self) -> int:
        return 1 + len(self._manager._server()._require().room_names(self._namespace))
