"""``AsyncServer``: python-socketio's ``AsyncServer`` API over the ferrio engine — the class, its options,
handler registration and lifecycle (start/serve/run/shutdown).

Handlers live here, in Python; the native module (``ferrio._native``) owns the sockets and the port. The
class is put together from mixins, one concept each: ``_dispatch`` (inbound: the native dispatch items,
routed to the handlers registered here), ``_socket_ops`` (outbound, python-socketio's per-client API),
``_admin`` (the admin UI); ``_broadcast`` holds socket.io's ``BroadcastOperator`` that ``to``/``of`` make.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Any, cast

from . import _native, exceptions
from ._admin import AdminMixin
from ._broadcast import BroadcastOperator, RemoteSocket
from ._dispatch import DispatchMixin
from ._payload import H, Handler, Rooms
from ._socket_ops import SocketOpsMixin

__all__ = ["AsyncServer", "BroadcastOperator", "RemoteSocket", "Reason"]

#: Default logger of handler errors.
logger = logging.getLogger("ferrio")


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


#: The keys of ``connection_state_recovery``.
_RECOVERY_KEYS = ("max_disconnection_duration", "skip_middlewares", "max_stored_packets")


def _recovery_options(recovery: bool | dict[str, Any] | None) -> dict[str, Any] | None:
    """``connection_state_recovery`` in the engine's terms (None: off); the engine checks the values."""
    if recovery is None or recovery is False:
        return None
    if recovery is True:
        recovery = {}
    if not isinstance(recovery, dict):
        raise TypeError("connection_state_recovery must be True, False, None or a dict of options")
    unknown = sorted(set(recovery) - set(_RECOVERY_KEYS))
    if unknown:
        raise TypeError(f"unknown connection_state_recovery options {unknown} (known: {list(_RECOVERY_KEYS)})")
    window = recovery.get("max_disconnection_duration")
    skip = recovery.get("skip_middlewares")
    stored = recovery.get("max_stored_packets")
    return dict(
        max_disconnection_duration=None if window is None else float(window),
        skip_middlewares=None if skip is None else bool(skip),
        max_stored_packets=None if stored is None else int(stored),
    )


class AsyncServer(DispatchMixin, SocketOpsMixin, AdminMixin):
    """A Socket.IO server with python-socketio's ``AsyncServer`` API, on the ferrio engine.

    Switching from python-socketio: change the import (``import ferrio as socketio``) and replace the
    ASGI/aiohttp run call with ``sio.run(host, port)`` or ``await sio.serve(host, port)``.

    ``connection_state_recovery`` (socket.io 4.6+'s ``connectionStateRecovery``, which python-socketio
    lacks): ``True`` for the defaults, or a dict of ``max_disconnection_duration`` (seconds, default 120),
    ``skip_middlewares`` (default True) and ``max_stored_packets`` (default 10000). A client whose
    connection was lost and that comes back within the window is the same sid, in the same rooms, with its
    session, and first gets the events it missed; ``is_recovered(sid)`` tells such a socket, from its
    ``connect`` handler on.

    ``http_compression`` and ``compression_threshold`` (python-engineio's): long-polling responses of at
    least ``compression_threshold`` bytes (default 1024) are sent gzip- or deflate-compressed when the
    request's ``Accept-Encoding`` takes one; on by default, ``http_compression=False`` turns it off.
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
        connection_state_recovery: bool | dict[str, Any] | None = None,
        http_compression: bool = True,
        compression_threshold: int = 1024,
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
            recovery=_recovery_options(connection_state_recovery),
            # python-engineio's pair, as the engine takes it: the threshold, or None for no compression.
            http_compression=int(compression_threshold) if http_compression else None,
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
        # Connection state recovery: (window in seconds, whether recovered sockets skip the middlewares)
        # as the engine does it once started (None: off); the sockets that are recovered sessions; and
        # the sessions of departed sockets the engine may still recover, each with its expiry.
        self._recovery: tuple[float, bool] | None = None
        self._recovered: set[tuple[str, str]] = set()
        self._kept_sessions: dict[tuple[str, str], tuple[dict[str, Any], asyncio.TimerHandle]] = {}
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
    # Lifecycle
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
        self._recovery = native.recovery
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
        for _, expiry in self._kept_sessions.values():
            expiry.cancel()
        self._kept_sessions.clear()
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

    async def sleep(self, seconds: float = 0) -> None:
        """``asyncio.sleep``."""
        await asyncio.sleep(seconds)

    def start_background_task(self, target: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> asyncio.Task[Any]:
        """Runs ``target(*args, **kwargs)`` as a task on the running loop."""
        return asyncio.ensure_future(target(*args, **kwargs))

    def attach(self, app: Any, socketio_path: str = "socket.io") -> None:
        """Not available: ferrio owns its port. Use ``sio.run(host, port)`` or ``await sio.serve(...)``."""
        raise NotImplementedError("ferrio serves its own port: use sio.run(host, port) or await sio.serve(host, port)")

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
