"""Outbound, python-socketio's API: what a server does to its clients, addressed by sid or room.

``emit``/``send``/``call``, rooms (``enter_room``, ``leave_room``, ``close_room``, ``rooms``), sessions
and ``disconnect``. Each goes straight to the native server; the ones that wait (``call``, ``emit`` with a
callback) hand it a future of the server's loop, which the dispatch thread resolves.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, AsyncIterator

from . import exceptions
from ._payload import Handler, Rooms, _ack_value, _args, _rooms

if TYPE_CHECKING:
    from ._native import NativeServer

__all__ = ["SocketOpsMixin"]

#: emit(callback=...) waits this long at most (python-socketio's callbacks never time out; ferrio's acks
#: need a deadline, and the waiter is dropped anyway when the client disconnects).
_CALLBACK_TIMEOUT = 24 * 3600.0


class SocketOpsMixin:
    """``AsyncServer``'s per-client operations (python-socketio's outbound API)."""

    if TYPE_CHECKING:
        # Provided by AsyncServer (state, lifecycle) and DispatchMixin (tasks).
        logger: logging.Logger
        _sessions: dict[tuple[str, str], dict[str, Any]]
        _environs: dict[str, dict[str, Any]]
        _sid_conn: dict[tuple[str, str], str]
        _leaving: dict[tuple[str, str], list[str]]
        _recovered: set[tuple[str, str]]

        def _require(self) -> NativeServer: ...
        def _loop_future(self) -> asyncio.Future[Any]: ...
        def _spawn(self, coro: Awaitable[Any]) -> None: ...
        async def _guard(self, awaitable: Awaitable[Any], what: str) -> Any: ...

    async def emit(
        self,
        event: str,
        data: Any = None,
        to: Rooms | None = None,
        room: Rooms | None = None,
        skip_sid: Rooms | None = None,
        namespace: str | None = None,
        callback: Handler | None = None,
        ignore_queue: bool = False,
    ) -> None:
        """Emits ``event`` to one client (``to=sid``), rooms, or the whole namespace, except ``skip_sid``.
        ``callback(*args)`` receives a single client's acknowledgement."""
        ns = namespace or "/"
        target = to if to is not None else room
        native = self._require()
        args = _args(data)
        if callback is not None:
            if not isinstance(target, str):
                raise ValueError("callback= needs a single client: pass its sid as to=")
            future = self._loop_future()
            future.add_done_callback(lambda f: self._run_callback(callback, f))
            native.call(ns, target, event, args, _CALLBACK_TIMEOUT, future)
            return
        native.emit(ns, event, args, _rooms(target), _rooms(skip_sid))

    def _run_callback(self, callback: Handler, future: asyncio.Future[Any]) -> None:
        if future.cancelled() or future.exception() is not None:
            return
        try:
            result = callback(*future.result())
            if inspect.isawaitable(result):
                self._spawn(self._guard(result, "ack callback"))
        except Exception:
            self.logger.exception("error in an ack callback")

    async def send(
        self,
        data: Any,
        to: Rooms | None = None,
        room: Rooms | None = None,
        skip_sid: Rooms | None = None,
        namespace: str | None = None,
        callback: Handler | None = None,
        ignore_queue: bool = False,
    ) -> None:
        """Emits a ``message`` event."""
        await self.emit("message", data, to=to, room=room, skip_sid=skip_sid, namespace=namespace,
                        callback=callback)

    async def call(
        self,
        event: str,
        data: Any = None,
        to: str | None = None,
        sid: str | None = None,
        namespace: str | None = None,
        timeout: float = 60,
        ignore_queue: bool = False,
    ) -> Any:
        """Emits to one client and returns its acknowledgement (one argument as itself, several as a tuple,
        none as None). Raises ``AckTimeoutError`` (a ``TimeoutError``) after ``timeout`` seconds and
        ``DisconnectedError`` if the client leaves first."""
        target = to if to is not None else sid
        if target is None:
            raise ValueError("Cannot use call() to broadcast.")
        future = self._loop_future()
        native, ns, args = self._require(), namespace or "/", _args(data)
        native.call(ns, target, event, args, float(timeout), future)
        try:
            return _ack_value(await asyncio.wait_for(future, timeout + 1.0))
        except asyncio.TimeoutError:
            raise exceptions.AckTimeoutError("operation has timed out") from None

    async def enter_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        """Makes ``sid`` join ``room``."""
        native, ns = self._require(), namespace or "/"
        native.join(ns, sid, [room])

    async def leave_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        """Makes ``sid`` leave ``room``."""
        native, ns = self._require(), namespace or "/"
        native.leave(ns, sid, room)

    async def close_room(self, room: str, namespace: str | None = None) -> None:
        """Removes every socket from ``room``."""
        self._require().sockets_leave(namespace or "/", [room], [room], None)

    def rooms(self, sid: str, namespace: str | None = None) -> list[str]:
        """The rooms ``sid`` is in, its own id room included (sorted). Inside ``disconnecting`` and
        ``disconnect`` handlers, the rooms it had when it started leaving."""
        ns = namespace or "/"
        snapshot = self._leaving.get((ns, sid))
        if snapshot is not None:
            return list(snapshot)
        return self._require().rooms(ns, sid)

    def transport(self, sid: str, namespace: str | None = None) -> str:
        """``'polling'`` or ``'websocket'``."""
        return self._require().transport(namespace or "/", sid)

    def is_recovered(self, sid: str, namespace: str | None = None) -> bool:
        """Whether ``sid`` is a session recovered by connection state recovery (ferrio; socket.io's
        ``socket.recovered``): a client that lost its connection and came back within the window, with
        the same sid, rooms and session, after the events it missed. True from its ``connect`` handler on;
        False for any other sid."""
        return (namespace or "/", sid) in self._recovered

    def get_environ(self, sid: str, namespace: str | None = None) -> dict[str, Any] | None:
        """The WSGI-style environ of the connection's handshake request."""
        conn = self._sid_conn.get((namespace or "/", sid))
        return self._environs.get(conn) if conn is not None else None

    async def get_session(self, sid: str, namespace: str | None = None) -> dict[str, Any]:
        """The user session of ``sid`` (a dict, kept until it disconnects)."""
        key = (namespace or "/", sid)
        session = self._sessions.get(key)
        if session is None:
            if key not in self._sid_conn:
                self._require()
                raise exceptions.UnknownSidError(f"no connected socket {sid!r} in namespace {key[0]!r}")
            session = self._sessions[key] = {}
        return session

    async def save_session(self, sid: str, session: dict[str, Any], namespace: str | None = None) -> None:
        """Replaces the user session of ``sid``."""
        key = (namespace or "/", sid)
        if key not in self._sid_conn:
            self._require()
            raise exceptions.UnknownSidError(f"no connected socket {sid!r} in namespace {key[0]!r}")
        self._sessions[key] = session

    def session(self, sid: str, namespace: str | None = None) -> Any:
        """``async with sio.session(sid) as session:`` reads the session and saves it on exit."""

        @asynccontextmanager
        async def manager() -> AsyncIterator[dict[str, Any]]:
            session = await self.get_session(sid, namespace)
            yield session
            await self.save_session(sid, session, namespace)

        return manager()

    async def disconnect(self, sid: str, namespace: str | None = None, ignore_queue: bool = False) -> None:
        """Disconnects ``sid`` from the namespace (reason ``server namespace disconnect``)."""
        native, ns = self._require(), namespace or "/"
        native.disconnect(ns, sid, False)
