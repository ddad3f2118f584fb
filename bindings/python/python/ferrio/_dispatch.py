"""Inbound: the native dispatch thread's batches, routed to the application's handlers.

This is the one place that reads the native dispatch items: tuples whose first element is a kind number
(``MIDDLEWARE``, ``CONNECT``, ``EVENT``, ``DISCONNECTING``, ``RESOLVE``, below), read from the native table
``_native.EVENT_KINDS`` (the host layer's event kinds and the binding's own ``RESOLVE``), never retyped
here. Items come in batches (one ``loop.call_soon_threadsafe`` per batch) and are handled in arrival order
by ``_dispatch``: sync handlers run right there, coroutine handlers become tasks (started in order,
completing concurrently, like python-socketio's ``async_handlers=True``). Handler lookup follows
python-socketio's resolution order; the connection bookkeeping (environs, sessions, sid <-> connection) is
kept here, as sockets come and go.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from . import exceptions
from ._native import EVENT_KINDS
from ._payload import Handler, _ack_value, _args

if TYPE_CHECKING:
    from ._native import Ack, ConnectReply, NativeServer

__all__ = ["DispatchMixin", "RESERVED_EVENTS"]

# Item kinds sent by the native dispatch thread (`dispatch.rs`), the first element of each item. Only this
# module reads them.
#: python-socketio's ``connect`` handler runs as a middleware: ``reply`` accepts or refuses the socket.
#: Items ``(kind, ns, sid, conn, environ, auth, recovered, reply)``.
MIDDLEWARE: int = EVENT_KINDS["MIDDLEWARE"]
#: ``always_connect``, or a socket recovered without its middlewares: the socket is in already.
#: Items ``(kind, ns, sid, conn, environ, auth, recovered)``.
CONNECT: int = EVENT_KINDS["CONNECT"]
#: A client event.
EVENT: int = EVENT_KINDS["EVENT"]
#: A socket is leaving, with its rooms: runs the ``disconnecting`` and ``disconnect`` handlers. Items
#: ``(kind, ns, sid, conn, reason, rooms, kept)``, ``kept`` when the engine keeps its session for
#: connection state recovery.
DISCONNECTING: int = EVENT_KINDS["DISCONNECTING"]
#: An awaitable started by a native call is done.
RESOLVE: int = EVENT_KINDS["RESOLVE"]
#: Every kind ``_dispatch`` handles.
HANDLED_KINDS = frozenset({MIDDLEWARE, CONNECT, EVENT, DISCONNECTING, RESOLVE})

#: Events that never go to a catch-all handler.
RESERVED_EVENTS = ("connect", "disconnect", "disconnecting")


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


class DispatchMixin:
    """``AsyncServer``'s inbound half: reads the dispatch items and calls the handlers it registered."""

    if TYPE_CHECKING:
        # Set by AsyncServer.__init__ (registration and connection state).
        logger: logging.Logger
        handlers: dict[str, dict[str, Handler]]
        namespace_handlers: dict[str, Any]
        _any_handlers: dict[str, list[Handler]]
        _middlewares: dict[str, list[Handler]]
        _native: NativeServer | None
        _loop: asyncio.AbstractEventLoop | None
        _closed: bool
        _tasks: set[asyncio.Task[Any]]
        _sessions: dict[tuple[str, str], dict[str, Any]]
        _environs: dict[str, dict[str, Any]]
        _conn_refs: dict[str, int]
        _sid_conn: dict[tuple[str, str], str]
        _conn_sid: dict[tuple[str, str], str]
        _leaving: dict[tuple[str, str], list[str]]
        _recovery: tuple[float, bool] | None
        _recovered: set[tuple[str, str]]
        _kept_sessions: dict[tuple[str, str], tuple[dict[str, Any], asyncio.TimerHandle]]

    def _dispatch(self, batch: list[tuple[Any, ...]]) -> None:
        for item in batch:
            try:
                kind = item[0]
                if kind == EVENT:
                    self._on_event(item[1], item[2], item[3], item[4], item[5])
                elif kind == RESOLVE:
                    self._on_resolve(item[1], item[2], item[3])
                elif kind == MIDDLEWARE:
                    environ = self._joining(item[1], item[2], item[3], item[4], item[6])
                    self._spawn(self._on_connect(item[1], item[2], environ, item[5], item[6], item[7]))
                elif kind == CONNECT:
                    environ = self._joining(item[1], item[2], item[3], item[4], item[6])
                    self._spawn(self._on_connect(item[1], item[2], environ, item[5], item[6], None))
                elif kind == DISCONNECTING:
                    self._on_disconnect(item[1], item[2], item[3], item[4], item[5], item[6])
                else:
                    self.logger.error("unknown dispatch item kind %r", kind)
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

    def _on_event(self, ns: str, sid: str, event: str, args: list[Any], ack: Ack | None) -> None:
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

    async def _finish_event(self, awaitable: Awaitable[Any], event: str, ack: Ack | None) -> None:
        try:
            result = await awaitable
        except asyncio.CancelledError:
            raise
        except Exception:
            self.logger.exception("error in the handler of %r", event)
            return
        if ack is not None:
            self._send_ack(ack, result, event)

    def _send_ack(self, ack: Ack, result: Any, event: str) -> None:
        if result is _NOT_HANDLED:
            return
        try:
            ack.send(_args(result))
        except Exception:
            self.logger.exception("cannot send the acknowledgement of %r", event)

    def _joining(self, ns: str, sid: str, conn: str, environ: dict[str, Any], recovered: bool) -> dict[str, Any]:
        """A socket joins: its connection bookkeeping, done as its item arrives, before any of its events
        is handled. A recovered one (connection state recovery) gets its session back. Returns the
        connection's environ (one per connection, shared by its namespaces)."""
        environ = self._environs.setdefault(conn, environ)
        self._conn_refs[conn] = self._conn_refs.get(conn, 0) + 1
        key = (ns, sid)
        self._sid_conn[key] = conn
        self._conn_sid[(ns, conn)] = sid
        if recovered:
            self._recovered.add(key)
            # Back in its rooms: a departure whose handlers still run reads them live from now on.
            self._leaving.pop(key, None)
            kept = self._kept_sessions.pop(key, None)
            if kept is not None:
                session, expiry = kept
                expiry.cancel()
                self._sessions[key] = session
            # (else its departure is still running its handlers: the session is still in place)
        return environ

    def _keep_session(self, ns: str, sid: str) -> None:
        """The engine keeps a departed socket's session (rooms, missed events) for connection state
        recovery; its python-socketio session, which lives here, is kept beside it, a little longer than
        the engine's window so that a socket recovered at its very end still finds it."""
        key = (ns, sid)
        session = self._sessions.pop(key, None)
        if session is None or self._recovery is None or self._loop is None:
            return
        old = self._kept_sessions.pop(key, None)
        if old is not None:
            old[1].cancel()
        expiry = self._loop.call_later(self._recovery[0] + 5.0, self._kept_sessions.pop, key, None)
        self._kept_sessions[key] = (session, expiry)

    async def _on_connect(
        self, ns: str, sid: str, environ: dict[str, Any], auth: Any, recovered: bool,
        reply: ConnectReply | None,
    ) -> None:
        refusal: dict[str, Any] | None = None
        # socket.io's `skipMiddlewares`: the engine skipped its middlewares for a recovered socket, and so
        # are those of `use()`; the `connect` handler (socket.io's `connection` event) runs.
        skip_middlewares = recovered and self._recovery is not None and self._recovery[1]
        try:
            for key in (() if skip_middlewares else (ns, "*")):
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

    def _on_disconnect(self, ns: str, sid: str, conn: str, reason: str, rooms: list[str], kept: bool) -> None:
        self._leaving[(ns, sid)] = rooms
        self._spawn(self._run_disconnect(ns, sid, conn, reason, kept))

    async def _run_disconnect(self, ns: str, sid: str, conn: str, reason: str, kept: bool) -> None:
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
            if self._sid_conn.get((ns, sid), conn) != conn:
                # Recovered on a new connection while these handlers ran: the sid, its session and its
                # bookkeeping are the new socket's now; only the old connection's reference goes.
                self._release(ns, conn)
            else:
                if kept:
                    self._keep_session(ns, sid)
                self._forget(ns, sid)

    def _forget(self, ns: str, sid: str) -> None:
        key = (ns, sid)
        self._leaving.pop(key, None)
        self._sessions.pop(key, None)
        self._recovered.discard(key)
        conn = self._sid_conn.pop(key, None)
        if conn is not None:
            self._release(ns, conn)

    def _release(self, ns: str, conn: str) -> None:
        """One socket of connection ``conn`` (in namespace ``ns``) is gone."""
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
