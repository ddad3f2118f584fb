"""socket.io's server API (what python-socketio lacks): targeting sets of sockets, and the sockets found.

``BroadcastOperator`` is ``io.to(...).except(...)``: an immutable set of targets (rooms, socket ids,
exclusions, volatile, ack timeout) and the operations on all of them at once; ``fetch_sockets`` answers
``RemoteSocket`` snapshots. ``AsyncServer.of``/``to``/``except_``/``timeout`` make the operators.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._payload import Rooms, _ack_value, _args, _rooms

if TYPE_CHECKING:
    from ._server import AsyncServer

__all__ = ["BroadcastOperator", "RemoteSocket"]


class RemoteSocket:
    """A socket returned by ``fetch_sockets``: a snapshot of its id, rooms and handshake, with operations."""

    def __init__(self, server: AsyncServer, namespace: str, info: dict[str, Any]) -> None:
        self.server = server
        self.namespace = namespace
        self.id: str = info["id"]
        self.sid: str = self.id
        self.rooms: list[str] = info["rooms"]
        self.handshake: dict[str, Any] = info["handshake"]
        #: The socket's session (python-socketio's ``get_session``), when it is local.
        self.data: dict[str, Any] = server._sessions.get((namespace, self.id), {})

    def __repr__(self) -> str:
        return f"RemoteSocket(id={self.id!r}, namespace={self.namespace!r}, rooms={self.rooms!r})"

    async def emit(self, event: str, data: Any = None) -> None:
        """Emits to this socket."""
        await self.server.emit(event, data, to=self.id, namespace=self.namespace)

    async def join(self, rooms: Rooms) -> None:
        """Makes the socket join rooms."""
        await self.server.to(self.id, namespace=self.namespace).sockets_join(rooms)

    async def leave(self, rooms: Rooms) -> None:
        """Makes the socket leave rooms."""
        await self.server.to(self.id, namespace=self.namespace).sockets_leave(rooms)

    async def disconnect(self, close: bool = False) -> None:
        """Disconnects the socket (and its whole connection when ``close``)."""
        await self.server.to(self.id, namespace=self.namespace).disconnect_sockets(close)


class BroadcastOperator:
    """socket.io's ``io.to(...).except(...)``: a set of targeted sockets and what to do with them.

    Immutable: each method returns a new operator. Data follows python-socketio's convention (a tuple is
    several arguments).
    """

    def __init__(
        self,
        server: AsyncServer,
        namespace: str = "/",
        rooms: Sequence[str] = (),
        excepts: Sequence[str] = (),
        volatile: bool = False,
        timeout: float | None = None,
    ) -> None:
        self._server = server
        self.namespace = namespace
        self.rooms = tuple(rooms)
        self.excepts = tuple(excepts)
        self._volatile = volatile
        self._timeout = timeout

    def _with(self, **changes: Any) -> BroadcastOperator:
        values: dict[str, Any] = dict(
            namespace=self.namespace,
            rooms=self.rooms,
            excepts=self.excepts,
            volatile=self._volatile,
            timeout=self._timeout,
        )
        values.update(changes)
        return BroadcastOperator(self._server, **values)

    def to(self, rooms: Rooms) -> BroadcastOperator:
        """Adds rooms (or socket ids) to the targets."""
        return self._with(rooms=self.rooms + tuple(_rooms(rooms) or ()))

    in_ = to

    def except_(self, rooms: Rooms) -> BroadcastOperator:
        """Excludes the sockets in these rooms (a socket id excludes that socket)."""
        return self._with(excepts=self.excepts + tuple(_rooms(rooms) or ()))

    def volatile(self) -> BroadcastOperator:
        """The packet may be dropped for clients that cannot take it now."""
        return self._with(volatile=True)

    def timeout(self, seconds: float) -> BroadcastOperator:
        """The deadline of ``emit_with_ack`` (default 5 s)."""
        return self._with(timeout=seconds)

    def _targets(self) -> tuple[list[str] | None, list[str] | None]:
        return (list(self.rooms) or None, list(self.excepts) or None)

    async def emit(self, event: str, data: Any = None) -> None:
        """Emits to every targeted socket."""
        to, skip = self._targets()
        self._server._require().emit(self.namespace, event, _args(data), to, skip, self._volatile)

    async def emit_with_ack(self, event: str, data: Any = None) -> list[Any]:
        """Emits to every targeted socket and returns one answer per socket (``call()``'s convention),
        in arrival order. Raises ``AckTimeoutError`` (with ``answers``) if some socket did not answer."""
        to, skip = self._targets()
        future = self._server._loop_future()
        self._server._require().broadcast_call(
            self.namespace, event, _args(data), self._timeout if self._timeout is not None else 5.0,
            future, to, skip)
        answers = await future
        return [_ack_value(a) for a in answers]

    async def fetch_sockets(self) -> list[RemoteSocket]:
        """The targeted sockets."""
        to, skip = self._targets()
        future = self._server._loop_future()
        self._server._require().fetch_sockets(self.namespace, future, to, skip)
        infos = await future
        return [RemoteSocket(self._server, self.namespace, info) for info in infos]

    async def sockets_join(self, rooms: Rooms) -> None:
        """Makes the targeted sockets join rooms."""
        to, skip = self._targets()
        self._server._require().sockets_join(self.namespace, _rooms(rooms) or [], to, skip)

    async def sockets_leave(self, rooms: Rooms) -> None:
        """Makes the targeted sockets leave rooms."""
        to, skip = self._targets()
        self._server._require().sockets_leave(self.namespace, _rooms(rooms) or [], to, skip)

    async def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnects the targeted sockets (and their connections when ``close``)."""
        to, skip = self._targets()
        self._server._require().disconnect_sockets(self.namespace, close, to, skip)
