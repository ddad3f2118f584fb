"""``AsyncServer``: python-socketio's ``AsyncServer`` API over the ferrio engine.

Handlers live here, in Python; the native module (``ferrio._native``) owns the sockets and the port. Items
come from the native dispatch thread in batches (one ``loop.call_soon_threadsafe`` per batch) and are
handled in arrival order by ``_dispatch``: sync handlers run right there, coroutine handlers become tasks
(started in order, completing concurrently, like python-socketio's ``async_handlers=True``).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import pathlib
import signal
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, AsyncIterator, TypeVar, Union, cast
from contextlib import asynccontextmanager

from . import _native, exceptions

__all__ = ["AsyncServer", "BroadcastOperator", "RemoteSocket", "Reason"]

Handler = Callable[..., Any]
H = TypeVar("H", bound=Handler)
Rooms = Union[str, Iterable[str]]

#: Default logger of handler errors.
logger = logging.getLogger("ferrio")

# Item kinds sent by the native dispatch thread.
_CONNECT, _EVENT, _DISCONNECT, _RESOLVE = 0, 1, 2, 3

#: Events that never go to a catch-all handler.
RESERVED_EVENTS = ("connect", "disconnect", "disconnecting")

#: emit(callback=...) waits this long at most (python-socketio's callbacks never time out; ferrio's acks
#: need a deadline, and the waiter is dropped anyway when the client disconnects).
_CALLBACK_TIMEOUT = 24 * 3600.0


class Reason:
    """Disconnect reasons, as socket.io spells them (the ``reason`` argument of ``disconnect``).

    python-socketio's ``sio.reason.X`` names are kept; the values are socket.io's strings, e.g.
    ``CLIENT_DISCONNECT == "client namespace disconnect"``.
    """

    CLIENT_DISCONNECT = "client namespace disconnect"
    SERVER_DISCONNECT = "server namespace disconnect"
    PING_TIMEOUT = "ping timeout"
    TRANSPORT_CLOSE = "transport close"
    TRANSPORT_ERROR = "transport error"
    PARSE_ERROR = "parse error"
    FORCED_CLOSE = "forced close"
    FORCED_SERVER_CLOSE = "forced server close"
    SERVER_SHUTTING_DOWN = "server shutting down"
    SEND_BUFFER_FULL = "send buffer full"


def _args(data: Any) -> tuple[Any, ...]:
    """python-socketio's convention: a tuple is several arguments, None is none, anything else is one."""
    if data is None:
        return ()
    if isinstance(data, tuple):
        return data
    return (data,)


def _rooms(rooms: Rooms | None) -> list[str] | None:
    if rooms is None:
        return None
    if isinstance(rooms, str):
        return [rooms]
    return [str(r) for r in rooms]


def _ack_value(args: Sequence[Any]) -> Any:
    """python-socketio's ``call()`` result: one argument as itself, several as a tuple, none as None."""
    if len(args) > 1:
        return tuple(args)
    if len(args) == 1:
        return args[0]
    return None


_arity_cache: dict[Any, tuple[int, int]] = {}


def _accepts(handler: Handler, count: int) -> bool:
    """Whether ``handler`` can be called with ``count`` positional arguments."""
    key = getattr(handler, "__func__", handler)
    bounds = _arity_cache.get(key)
    if bounds is None:
        low, high = 0, 0
        try:
            params = inspect.signature(handler).parameters.values()
        except (TypeError, ValueError):
            return True
        for p in params:
            if p.kind == p.VAR_POSITIONAL:
                high = 1 << 30
            elif p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
                high += 1
                if p.default is p.empty:
                    low += 1
        bounds = (low, high)
        if len(_arity_cache) < 10_000:
            _arity_cache[key] = bounds
    return bounds[0] <= count <= bounds[1]


def _is_login(auth: Any) -> bool:
    """Whether ``auth`` is a plain ``{"username": str, "password": str}`` login."""
    return (
        isinstance(auth, dict)
        and set(auth) == {"username", "password"}
        and all(isinstance(v, str) for v in auth.values())
    )


def _refusal(error: BaseException) -> dict[str, Any] | None:
    """The connect_error payload for a refusal raised from ``connect`` or a middleware, else None.

    Accepts ferrio's ``ConnectionRefusedError``, python-socketio's (same ``error_args``), and the
    built-in ``ConnectionRefusedError``.
    """
    error_args = getattr(error, "error_args", None)
    if isinstance(error_args, dict) and "message" in error_args:
        return error_args
    if isinstance(error, ConnectionRefusedError):
        return exceptions.ConnectionRefusedError(*error.args).error_args
    return None


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


class AsyncServer:
    """A Socket.IO server with python-socketio's ``AsyncServer`` API, on the ferrio engine.

    Switching from python-socketio: change the import (``import ferrio as socketio``) and replace the
    ASGI/aiohttp run call with ``sio.run(host, port)`` or ``await sio.serve(host, port)``.
    """

    reason = Reason

    def __init__(
        self,
        client_manager: Any = None,
        logger: bool | logging.Logger = False,
        json: Any = None,
        async_handlers: bool = True,
        always_connect: bool = False,
        namespaces: list[str] | str | None = None,
        *,
        cors_allowed_origins: str | list[str] | None = None,
        cors_credentials: bool = True,
        ping_interval: float | tuple[float, float] = 25,
        ping_timeout: float = 20,
        max_http_buffer_size: int = 1_000_000,
        transports: list[str] | None = None,
        connect_timeout: float = 45,
        allow_upgrades: bool = True,
        upgrade_timeout: float = 10,
        max_queued_packets: int = 1024,
        max_attachments: int = 10,
        max_json_depth: int = 128,
        max_headers: int = 100,
        max_header_bytes: int = 32 * 1024,
        header_read_timeout: float = 10,
        max_connections: int = 100_000,
        max_connections_per_ip: int = 0,
        max_namespaces_per_connection: int = 32,
        max_pending_acks: int = 1024,
        rate_limit: tuple[float, int] | None = None,
        **kwargs: Any,
    ) -> None:
        from ._manager import AsyncManager

        if client_manager is None:
            client_manager = AsyncManager()
        elif not isinstance(client_manager, AsyncManager):
            raise ValueError(
                "ferrio's client managers are ferrio.AsyncManager (the default) and ferrio.AsyncRedisManager"
                " (Redis, compatible with socket.io's Redis adapter); other managers are not supported"
            )
        client_manager.set_server(self)
        self.manager: AsyncManager = client_manager
        if json is not None:
            raise ValueError("ferrio serializes JSON natively; a custom json module is not supported")
        self.logger: logging.Logger = logger if isinstance(logger, logging.Logger) else globals()["logger"]
        self.async_handlers = async_handlers
        self.always_connect = always_connect
        self.namespaces: list[str] | str = namespaces or ["/"]
        if isinstance(ping_interval, tuple):
            ping_interval = ping_interval[0]
        transports = list(transports) if transports is not None else ["polling", "websocket"]
        for t in transports:
            if t not in ("polling", "websocket"):
                raise ValueError(f"unknown transport {t!r} (expected 'polling' or 'websocket')")
        if isinstance(cors_allowed_origins, str):
            origins: list[str] | None = [cors_allowed_origins]
        elif cors_allowed_origins:
            origins = list(cors_allowed_origins)
        else:
            origins = None
        # The engine's options, in its terms; the engine checks them (here, so that a bad one raises where
        # it was written: InvalidArgumentError, a ValueError naming it) and again when it starts.
        self._options: dict[str, Any] = dict(
            ping_interval=float(ping_interval),
            ping_timeout=float(ping_timeout),
            max_payload=int(max_http_buffer_size),
            polling="polling" in transports,
            websocket="websocket" in transports,
            cors_origins=origins,
            cors_credentials=bool(cors_credentials),
            connect_timeout=float(connect_timeout),
            limits=dict(
                allow_upgrades=bool(allow_upgrades),
                upgrade_timeout=float(upgrade_timeout),
                max_queued_packets=int(max_queued_packets),
                max_attachments=int(max_attachments),
                max_json_depth=int(max_json_depth),
                max_headers=int(max_headers),
                max_header_bytes=int(max_header_bytes),
                header_read_timeout=float(header_read_timeout),
                max_connections=int(max_connections),
                max_connections_per_ip=int(max_connections_per_ip),
                max_namespaces_per_connection=int(max_namespaces_per_connection),
                max_pending_acks=int(max_pending_acks),
                rate_limit=None if rate_limit is None else (float(rate_limit[0]), int(rate_limit[1])),
            ),
        )
        _native.check_options(self._options)
        self.handlers: dict[str, dict[str, Handler]] = {}
        self.namespace_handlers: dict[str, Any] = {}
        self._any_handlers: dict[str, list[Handler]] = {}
        self._middlewares: dict[str, list[Handler]] = {}
        self._native: _native.NativeServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._stopped: asyncio.Event | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sessions: dict[tuple[str, str], dict[str, Any]] = {}
        self._environs: dict[str, dict[str, Any]] = {}
        self._conn_refs: dict[str, int] = {}
        self._sid_conn: dict[tuple[str, str], str] = {}
        # (namespace, eio sid) -> sid: manager.sid_from_eio_sid.
        self._conn_sid: dict[tuple[str, str], str] = {}
        self._leaving: dict[tuple[str, str], list[str]] = {}
        self.port: int | None = None
        self._admin: dict[str, Any] | None = None
        self._admin_check: Callable[[Any], Any] | None = None

    # ------------------------------------------------------------------------------------------------
    # Registration
    # ------------------------------------------------------------------------------------------------

    def on(self, event: str, handler: Handler | None = None, namespace: str | None = None) -> Any:
        """Registers an event handler; used as ``@sio.on('event', namespace='/chat')`` or directly.

        Special events: ``connect(sid, environ, auth)``, ``disconnect(sid, reason)``,
        ``disconnecting(sid, reason)`` (ferrio: runs first, while ``rooms(sid)`` is still complete), and
        ``'*'``, the catch-all ``handler(event, sid, *args)``. ``namespace='*'`` handlers get the namespace
        too, after the event name.
        """
        ns = namespace or "/"

        def set_handler(h: H) -> H:
            self.handlers.setdefault(ns, {})[event] = h
            self._declare(ns)
            return h

        if handler is None:
            return set_handler
        set_handler(handler)
        return None

    def event(self, *args: Any, **kwargs: Any) -> Any:
        """Registers a handler named after the function: ``@sio.event`` or ``@sio.event(namespace=...)``."""
        if len(args) == 1 and len(kwargs) == 0 and callable(args[0]):
            return self.on(args[0].__name__)(args[0])

        def set_handler(handler: H) -> H:
            return cast(H, self.on(handler.__name__, *args, **kwargs)(handler))

        return set_handler

    def register_namespace(self, namespace_handler: Any) -> None:
        """Registers an ``AsyncNamespace`` instance."""
        from ._namespace import AsyncNamespace

        if not isinstance(namespace_handler, AsyncNamespace):
            raise ValueError("not a namespace instance")
        namespace_handler._set_server(self)
        self.namespace_handlers[namespace_handler.namespace] = namespace_handler
        self._declare(namespace_handler.namespace)

    def on_any(self, handler: Handler | None = None, namespace: str | None = None) -> Any:
        """socket.io's ``onAny``: ``handler(event, sid, *args)`` sees every event of the namespace (``'*'``
        for all), before the event's own handler. Its return value is ignored."""
        ns = namespace or "/"

        def set_handler(h: H) -> H:
            self._any_handlers.setdefault(ns, []).append(h)
            return h

        if handler is None:
            return set_handler
        set_handler(handler)
        return None

    def use(self, middleware: Handler | None = None, namespace: str | None = None) -> Any:
        """socket.io's connect middleware: ``middleware(sid, environ, auth)`` (sync or async) runs before the
        ``connect`` handler; raising ``ConnectionRefusedError(message, data)`` refuses the connection.
        ``namespace='*'`` applies it to every namespace."""
        ns = namespace or "/"

        def set_middleware(m: H) -> H:
            self._middlewares.setdefault(ns, []).append(m)
            self._declare(ns)
            return m

        if middleware is None:
            return set_middleware
        set_middleware(middleware)
        return None

    def _declare(self, ns: str) -> None:
        if self._native is not None and ns != "*" and not self._closed:
            self._native.add_namespace(ns)

    # ------------------------------------------------------------------------------------------------
    # Running
    # ------------------------------------------------------------------------------------------------

    async def start(
        self,
        host: str = "127.0.0.1",
        port: int = 5000,
        *,
        socketio_path: str = "socket.io",
        static_dir: str | None = None,
        client_dir: str | None = None,
    ) -> int:
        """Binds ``host:port`` (0 picks a free port) and starts serving on the running loop; returns the
        bound port. Handlers run on this loop. ``static_dir`` serves the application's files;
        ``client_dir`` serves the socket.io browser client (a ``socket.io-client/dist`` directory)."""
        native = self._prepare(socketio_path, static_dir, client_dir)
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        native.listen(host, port, future)
        try:
            self.port = await future
        except BaseException:
            self._native = None
            self._closed = True
            fut = loop.create_future()
            native.shutdown(0.0, fut)
            await fut
            native.join_dispatch(1.0)
            raise
        return self.port

    def _prepare(
        self, socketio_path: str, static_dir: str | None, client_dir: str | None
    ) -> _native.NativeServer:
        """Creates the engine with this server's handlers and starts dispatching to the running loop."""
        if self._closed:
            raise exceptions.ServerClosedError("the server has been shut down")
        if self._native is not None:
            raise RuntimeError("the server is already started")
        loop = asyncio.get_running_loop()
        native = _native.NativeServer(
            options=self._options,
            path="/" + socketio_path.strip("/") + "/",
            static_dir=static_dir,
            client_dir=client_dir,
            always_connect=bool(self.always_connect),
            **self.manager._native_options(),
        )
        names = {"/"} | {n for n in self.handlers if n != "*"} | {n for n in self.namespace_handlers if n != "*"}
        names |= {n for n in self._middlewares if n != "*"}
        if isinstance(self.namespaces, list):
            names |= set(self.namespaces)
        for name in sorted(names):
            native.add_namespace(name)
        if self.namespaces == "*":
            native.add_any_namespace()
        if self._admin is not None:
            native.instrument(**self._admin)
        self._loop = loop
        self._stopped = asyncio.Event()
        native.start(loop, self._dispatch)
        self._native = native
        return native

    async def serve(self, host: str = "127.0.0.1", port: int = 5000, **kwargs: Any) -> None:
        """Serves until ``shutdown()`` (``start`` plus waiting). Handlers run on the calling loop."""
        await self.start(host, port, **kwargs)
        assert self._stopped is not None
        await self._stopped.wait()

    def run(self, host: str = "127.0.0.1", port: int = 5000, **kwargs: Any) -> None:
        """For scripts: serves on a new asyncio loop until SIGINT or SIGTERM, then shuts down gracefully."""

        async def main() -> None:
            await self.start(host, port, **kwargs)
            loop = asyncio.get_running_loop()
            stop = asyncio.Event()
            for sig in (signal.SIGINT, signal.SIGTERM):
                try:
                    loop.add_signal_handler(sig, stop.set)
                except (NotImplementedError, RuntimeError):
                    pass
            assert self._stopped is not None
            stopped = asyncio.ensure_future(self._stopped.wait())
            signalled = asyncio.ensure_future(stop.wait())
            await asyncio.wait([stopped, signalled], return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            signalled.cancel()
            if not self._closed:
                await self.shutdown()

        asyncio.run(main())

    async def shutdown(self, grace: float = 5.0) -> None:
        """Disconnects every client ("server shutting down"), waits at most ``grace`` seconds for them to
        go, and stops. Every later call raises ``ServerClosedError``."""
        if self._closed:
            raise exceptions.ServerClosedError("the server is already shut down")
        self._closed = True
        native = self._native
        if native is None:
            return
        future = self._loop_future()
        native.shutdown(grace, future)
        await future
        # The dispatch thread delivered this future's batch and is ending: wait for it, so that the
        # interpreter never finalizes while that thread still holds or wants the GIL.
        native.join_dispatch(1.0)
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=grace)
        if self._stopped is not None:
            self._stopped.set()

    def _require(self) -> _native.NativeServer:
        native = self._native
        if native is None:
            if self._closed:
                raise exceptions.ServerClosedError("the server has been shut down")
            raise exceptions.ServerNotRunningError(
                "the server is not running: call `await sio.start(...)` or `sio.serve(...)` first")
        return native

    def _loop_future(self) -> asyncio.Future[Any]:
        self._require()
        assert self._loop is not None
        return self._loop.create_future()

    # ------------------------------------------------------------------------------------------------
    # Outbound (python-socketio's API)
    # ------------------------------------------------------------------------------------------------

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

    async def sleep(self, seconds: float = 0) -> None:
        """``asyncio.sleep``."""
        await asyncio.sleep(seconds)

    def start_background_task(self, target: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> asyncio.Task[Any]:
        """Runs ``target(*args, **kwargs)`` as a task on the running loop."""
        return asyncio.ensure_future(target(*args, **kwargs))

    def attach(self, app: Any, socketio_path: str = "socket.io") -> None:
        """Not available: ferrio owns its port. Use ``sio.run(host, port)`` or ``await sio.serve(...)``."""
        raise NotImplementedError("ferrio serves its own port: use sio.run(host, port) or await sio.serve(host, port)")

    def instrument(
        self,
        auth: Any = None,
        mode: str = "development",
        read_only: bool = False,
        server_id: str | None = None,
        namespace: str = "/admin",
        server_stats_interval: float = 2,
        *,
        ui_dir: str | None = None,
    ) -> None:
        """Instruments the server for the official Socket.IO admin UI (python-socketio's signature).

        ``auth``: a dict ``{"username": ..., "password": ...}`` (the password as is, or a bcrypt hash), a
        list of such dicts, a callable (sync or async) given the UI's auth dict and returning whether to
        accept it, or ``False`` to disable the login (never on a reachable server); ``None`` is an error,
        as in python-socketio. ``mode``: ``"development"`` (every socket, room and event) or
        ``"production"`` (stats only). ``read_only`` hides the commands. ferrio's own ``ui_dir`` is the
        built UI (``@socket.io/admin-ui``'s ``ui/dist``) served at ``/admin/`` on the server's port; by
        default ``./node_modules/@socket.io/admin-ui/ui/dist`` when it exists.
        """
        if auth is None:
            raise ValueError("auth must be specified")
        if mode not in ("development", "production"):
            raise ValueError("mode must be 'development' or 'production'")
        credentials: list[tuple[str, str]] | None = None
        check: Callable[[Any], Any] | None = None
        if auth is False:
            credentials = None
        elif isinstance(auth, (dict, list)):
            logins = auth if isinstance(auth, list) else [auth]
            if all(_is_login(a) for a in logins):
                credentials = [(str(a["username"]), str(a["password"])) for a in logins]
            else:
                # Other shapes are compared as a whole, as python-socketio does.
                check = lambda client_auth: client_auth in logins  # noqa: E731
        elif callable(auth):
            check = auth
        else:
            raise ValueError("auth must be a dict, a list of dicts, a callable or False")
        if ui_dir is None:
            default = pathlib.Path("node_modules/@socket.io/admin-ui/ui/dist")
            ui_dir = str(default) if (default / "index.html").is_file() else None
        if check is not None:
            self._admin_check = check
            self.on("connect", self._admin_connect, namespace=namespace)
        self._admin = dict(
            namespace="/" + namespace.lstrip("/"),
            credentials=credentials,
            read_only=bool(read_only),
            mode=mode,
            server_id=server_id,
            stats_interval=float(server_stats_interval),
            ui_dir=ui_dir,
        )
        if self._native is not None:
            self._native.instrument(**self._admin)

    async def _admin_connect(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
        check = self._admin_check
        ok = check(auth) if check is not None else False
        if inspect.isawaitable(ok):
            ok = await ok
        if not ok:
            raise exceptions.ConnectionRefusedError("invalid credentials")

    # ------------------------------------------------------------------------------------------------
    # socket.io's server API (what python-socketio lacks)
    # ------------------------------------------------------------------------------------------------

    def of(self, namespace: str) -> BroadcastOperator:
        """Every socket of a namespace, as a ``BroadcastOperator``."""
        return BroadcastOperator(self, namespace)

    def to(self, rooms: Rooms, namespace: str | None = None) -> BroadcastOperator:
        """socket.io's ``io.to(room)``: ``await sio.to('r').except_(sid).emit('e', data)``."""
        return BroadcastOperator(self, namespace or "/").to(rooms)

    in_ = to

    def except_(self, rooms: Rooms, namespace: str | None = None) -> BroadcastOperator:
        """socket.io's ``io.except(room)``."""
        return BroadcastOperator(self, namespace or "/").except_(rooms)

    def timeout(self, seconds: float, namespace: str | None = None) -> BroadcastOperator:
        """socket.io's ``io.timeout(ms)``, for ``emit_with_ack`` (seconds here)."""
        return BroadcastOperator(self, namespace or "/").timeout(seconds)

    async def fetch_sockets(self, namespace: str | None = None) -> list[RemoteSocket]:
        """Every socket of the namespace."""
        return await self.of(namespace or "/").fetch_sockets()

    async def sockets_join(self, rooms: Rooms, namespace: str | None = None) -> None:
        """Makes every socket of the namespace join rooms."""
        await self.of(namespace or "/").sockets_join(rooms)

    async def sockets_leave(self, rooms: Rooms, namespace: str | None = None) -> None:
        """Makes every socket of the namespace leave rooms."""
        await self.of(namespace or "/").sockets_leave(rooms)

    async def disconnect_sockets(self, close: bool = False, namespace: str | None = None) -> None:
        """Disconnects every socket of the namespace (and their connections when ``close``)."""
        await self.of(namespace or "/").disconnect_sockets(close)

    # ------------------------------------------------------------------------------------------------
    # Inbound: the native dispatch thread's batches
    # ------------------------------------------------------------------------------------------------

    def _dispatch(self, batch: list[tuple[Any, ...]]) -> None:
        for item in batch:
            try:
                kind = item[0]
                if kind == _EVENT:
                    self._on_event(item[1], item[2], item[3], item[4], item[5])
                elif kind == _RESOLVE:
                    self._on_resolve(item[1], item[2], item[3])
                elif kind == _CONNECT:
                    self._spawn(self._on_connect(item[1], item[2], item[3], item[4], item[5], item[6]))
                elif kind == _DISCONNECT:
                    self._on_disconnect(item[1], item[2], item[3], item[4], item[5])
            except Exception:
                self.logger.exception("error while dispatching %r", item[:2])

    def _spawn(self, coro: Awaitable[Any]) -> None:
        assert self._loop is not None
        task: asyncio.Task[Any] = asyncio.ensure_future(coro, loop=self._loop)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guard(self, awaitable: Awaitable[Any], what: str) -> Any:
        try:
            return await awaitable
        except Exception:
            self.logger.exception("error in %s", what)
            return None

    def _on_resolve(self, future: asyncio.Future[Any], ok: bool, value: Any) -> None:
        if future.done():
            return
        if ok:
            future.set_result(value)
            return
        class_name, message, extra = value
        error_class = getattr(exceptions, class_name, exceptions.FerrioError)
        error = error_class(message)
        if isinstance(error, exceptions.AckTimeoutError) and extra is not None:
            error.answers = [_ack_value(a) for a in extra]
        future.set_exception(error)

    def _get_event_handler(self, event: str, ns: str, args: tuple[Any, ...]) -> tuple[Handler | None, tuple[Any, ...]]:
        # python-socketio's resolution order.
        handlers = self.handlers.get(ns)
        if handlers is not None:
            h = handlers.get(event)
            if h is not None:
                return h, args
            if event not in RESERVED_EVENTS and "*" in handlers:
                return handlers["*"], (event, *args)
        star = self.handlers.get("*")
        if star is not None:
            h = star.get(event)
            if h is not None:
                return h, (ns, *args)
            if event not in RESERVED_EVENTS and "*" in star:
                return star["*"], (event, ns, *args)
        return None, args

    def _get_namespace_handler(self, ns: str, args: tuple[Any, ...]) -> tuple[Any, tuple[Any, ...]]:
        handler = self.namespace_handlers.get(ns)
        if handler is not None:
            return handler, args
        handler = self.namespace_handlers.get("*")
        if handler is not None:
            return handler, (ns, *args)
        return None, args

    def _on_event(self, ns: str, sid: str, event: str, args: list[Any], ack: _native.Ack | None) -> None:
        for key in (ns, "*"):
            for any_handler in self._any_handlers.get(key, ()):
                try:
                    result = any_handler(event, sid, *args)
                    if inspect.isawaitable(result):
                        self._spawn(self._guard(result, f"on_any handler for {event!r}"))
                except Exception:
                    self.logger.exception("error in an on_any handler for %r", event)
        handler, call_args = self._get_event_handler(event, ns, (sid, *args))
        if handler is None:
            ns_handler, ns_args = self._get_namespace_handler(ns, (sid, *args))
            if ns_handler is None:
                return
            self._spawn(self._finish_event(ns_handler.trigger_event(event, *ns_args), event, ack))
            return
        if inspect.iscoroutinefunction(handler):
            self._spawn(self._finish_event(handler(*call_args), event, ack))
            return
        try:
            result = handler(*call_args)
        except Exception:
            self.logger.exception("error in the handler of %r", event)
            return
        if inspect.isawaitable(result):
            self._spawn(self._finish_event(result, event, ack))
        elif ack is not None:
            self._send_ack(ack, result, event)

    async def _finish_event(self, awaitable: Awaitable[Any], event: str, ack: _native.Ack | None) -> None:
        try:
            result = await awaitable
        except asyncio.CancelledError:
            raise
        except Exception:
            self.logger.exception("error in the handler of %r", event)
            return
        if ack is not None:
            self._send_ack(ack, result, event)

    def _send_ack(self, ack: _native.Ack, result: Any, event: str) -> None:
        if result is _NOT_HANDLED:
            return
        try:
            ack.send(_args(result))
        except Exception:
            self.logger.exception("cannot send the acknowledgement of %r", event)

    async def _on_connect(
        self, ns: str, sid: str, conn: str, environ: dict[str, Any], auth: Any,
        reply: _native.ConnectReply | None,
    ) -> None:
        environ = self._environs.setdefault(conn, environ)
        self._conn_refs[conn] = self._conn_refs.get(conn, 0) + 1
        self._sid_conn[(ns, sid)] = conn
        self._conn_sid[(ns, conn)] = sid
        refusal: dict[str, Any] | None = None
        try:
            for key in (ns, "*"):
                for middleware in self._middlewares.get(key, ()):
                    result = middleware(sid, environ, auth)
                    if inspect.isawaitable(result):
                        await result
            if await self._trigger_connect(ns, sid, environ, auth) is False:
                refusal = exceptions.ConnectionRefusedError().error_args
        except Exception as error:  # noqa: BLE001 - refusals and handler bugs both end here
            refusal = _refusal(error)
            if refusal is None:
                self.logger.exception("error in the connect handler of %s", ns)
                refusal = {"message": "Connection refused by server"}
        if refusal is None:
            if reply is not None:
                reply.accept()
            return
        self._forget(ns, sid)
        if reply is not None:
            reply.reject(str(refusal.get("message", "")), refusal.get("data"))
        elif self._native is not None and not self._closed:
            # always_connect: the socket is in; refusing means disconnecting it.
            try:
                self._native.disconnect(ns, sid, False)
            except exceptions.FerrioError:
                pass

    async def _trigger_connect(self, ns: str, sid: str, environ: dict[str, Any], auth: Any) -> Any:
        # python-socketio passes the auth only when the client sent some, or when the handler wants it.
        auth_arg = auth if auth else None
        handler, args = self._get_event_handler("connect", ns, (sid, environ))
        if handler is not None:
            # python-socketio's rule (the auth when the client sent one, else only if the handler needs
            # three arguments), made lenient: a two-argument handler never gets it.
            if _accepts(handler, len(args) + 1) and (auth_arg is not None or not _accepts(handler, len(args))):
                args = (*args, auth_arg)
            result = handler(*args)
            return await result if inspect.isawaitable(result) else result
        ns_handler, ns_args = self._get_namespace_handler(ns, (sid, environ))
        if ns_handler is not None:
            return await ns_handler.trigger_event("connect", *ns_args, auth_arg)
        return None

    def _on_disconnect(self, ns: str, sid: str, conn: str, reason: str, rooms: list[str]) -> None:
        self._leaving[(ns, sid)] = rooms
        self._spawn(self._run_disconnect(ns, sid, reason))

    async def _run_disconnect(self, ns: str, sid: str, reason: str) -> None:
        try:
            for event in ("disconnecting", "disconnect"):
                handler, args = self._get_event_handler(event, ns, (sid, reason))
                if handler is not None:
                    if not _accepts(handler, len(args)):
                        args = args[:-1]
                    try:
                        result = handler(*args)
                        if inspect.isawaitable(result):
                            await result
                    except Exception:
                        self.logger.exception("error in the %s handler of %s", event, ns)
                    continue
                ns_handler, ns_args = self._get_namespace_handler(ns, (sid, reason))
                if ns_handler is not None:
                    try:
                        await ns_handler.trigger_event(event, *ns_args)
                    except Exception:
                        self.logger.exception("error in the %s handler of %s", event, ns)
        finally:
            self._forget(ns, sid)

    def _forget(self, ns: str, sid: str) -> None:
        key = (ns, sid)
        self._leaving.pop(key, None)
        self._sessions.pop(key, None)
        conn = self._sid_conn.pop(key, None)
        if conn is not None:
            self._conn_sid.pop((ns, conn), None)
            refs = self._conn_refs.get(conn, 1) - 1
            if refs <= 0:
                self._conn_refs.pop(conn, None)
                self._environs.pop(conn, None)
            else:
                self._conn_refs[conn] = refs


class _NotHandled:
    def __repr__(self) -> str:
        return "NOT_HANDLED"


#: Returned by ``AsyncNamespace.trigger_event`` when it has no handler: no ack is sent.
_NOT_HANDLED: Any = _NotHandled()
