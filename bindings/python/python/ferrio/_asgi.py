"""``ferrio.ASGIApp``: python-socketio's ``ASGIApp`` on the ferrio engine, for uvicorn, hypercorn and mounts
into FastAPI or Starlette. Requests under the Socket.IO path are relayed to the engine; everything else goes
to ``other_asgi_app`` (or gets 404)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ._server import AsyncServer

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class ASGIApp:
    """An ASGI application serving ``socketio_server`` under ``/<socketio_path>/``.

    Mounted under a sub-path (``app.mount("/ws", ferrio.ASGIApp(sio))``), the Socket.IO path is relative to
    the mount point, so clients connect with ``path="/ws/socket.io"``. ``static_files`` takes
    ``{"/": "<directory>"}``: the directory is served by the engine for paths outside the Socket.IO path
    when there is no ``other_asgi_app``.
    """

    def __init__(
        self,
        socketio_server: AsyncServer,
        other_asgi_app: Any = None,
        static_files: dict[str, str] | None = None,
        socketio_path: str = "socket.io",
        on_startup: Callable[[], Any] | None = None,
        on_shutdown: Callable[[], Any] | None = None,
    ) -> None:
        if not isinstance(socketio_server, AsyncServer):
            raise TypeError("ferrio.ASGIApp needs a ferrio.AsyncServer")
        static_dir = None
        if static_files:
            if set(static_files) != {"/"} or not isinstance(static_files["/"], str):
                raise ValueError('static_files supports one entry, {"/": "<directory>"}')
            static_dir = static_files["/"]
        self.engineio_server = socketio_server
        self.other_asgi_app = other_asgi_app
        self.static_dir = static_dir
        self.engineio_path = "/" + socketio_path.strip("/")
        self.on_startup = on_startup
        self.on_shutdown = on_shutdown

    def _attach(self) -> Any:
        sio = self.engineio_server
        native = sio._native
        if native is None:
            native = sio._prepare(self.engineio_path, self.static_dir, None)
            native.attach()
        return native

    def _owns(self, scope: Scope) -> str | None:
        """The request's path relative to the mount point when it is under the Socket.IO path."""
        path: str = scope.get("path", "")
        root: str = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        if path == self.engineio_path or path.startswith(self.engineio_path + "/"):
            query = scope.get("query_string", b"").decode("latin-1")
            return path + ("?" + query if query else "")
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            if self.other_asgi_app is not None:
                await self.other_asgi_app(scope, receive, send)
            else:
                await self._lifespan(receive, send)
            return
        target = self._owns(scope) if kind in ("http", "websocket") else None
        if target is None:
            if self.other_asgi_app is not None:
                await self.other_asgi_app(scope, receive, send)
            elif kind == "http" and self.static_dir is not None:
                await self._relay_http(scope, receive, send, scope.get("path", "/"))
            else:
                await _not_found(scope, send)
            return
        if kind == "http":
            await self._relay_http(scope, receive, send, target)
        else:
            await self._relay_websocket(scope, receive, send, target)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    self._attach()
                    await _maybe_await(self.on_startup)
                except Exception as exc:  # reported to the ASGI server, which stops
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                try:
                    await _maybe_await(self.on_shutdown)
                    if self.engineio_server._native is not None and not self.engineio_server._closed:
                        await self.engineio_server.shutdown()
                except Exception as exc:
                    await send({"type": "lifespan.shutdown.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _relay_http(self, scope: Scope, receive: Receive, send: Send, target: str) -> None:
        native = self._attach()
        # The engine answers 413 above its limit: one byte more is all it needs to see.
        limit = self.engineio_server._options["max_payload"] + 1
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            if len(body) < limit:
                body += message.get("body", b"")[: limit - len(body)]
            if not message.get("more_body", False):
                break
        client = scope.get("client") or ("", 0)
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        native.handle_request(
            scope.get("method", "GET"),
            target,
            _headers(scope),
            bytes(body),
            str(client[0] or ""),
            int(client[1] or 0),
            future,
        )
        status, headers, data = await future
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})

    async def _relay_websocket(self, scope: Scope, receive: Receive, send: Send, target: str) -> None:
        native = self._attach()
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        client = scope.get("client") or ("", 0)
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        native.open_websocket(target, _headers(scope), str(client[0] or ""), int(client[1] or 0), future)
        relay = await future
        if isinstance(relay, tuple):
            status, headers, data = relay
            if "websocket.http.response" in scope.get("extensions", {}):
                await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
                await send({"type": "websocket.http.response.body", "body": data})
            else:
                await send({"type": "websocket.close", "code": 1008})
            return
        await send({"type": "websocket.accept"})

        async def to_client() -> None:
            while True:
                next_message = loop.create_future()
                relay.recv(next_message)
                outgoing = await next_message
                if outgoing is None:
                    await send({"type": "websocket.close", "code": 1000})
                    return
                if isinstance(outgoing, str):
                    await send({"type": "websocket.send", "text": outgoing})
                else:
                    await send({"type": "websocket.send", "bytes": outgoing})

        writer = asyncio.ensure_future(to_client())
        try:
            while True:
                incoming = await receive()
                if incoming["type"] == "websocket.receive":
                    text = incoming.get("text")
                    relay.send(text if text is not None else incoming.get("bytes") or b"")
                elif incoming["type"] == "websocket.disconnect":
                    break
        finally:
            relay.close()
            if not writer.done():
                writer.cancel()
            try:
                await writer
            except (asyncio.CancelledError, Exception):
                pass


def _headers(scope: Scope) -> list[tuple[str, str]]:
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope.get("headers", [])]


async def _maybe_await(callback: Callable[[], Any] | None) -> None:
    if callback is None:
        return
    result = callback()
    if inspect.isawaitable(result):
        await result


async def _not_found(scope: Scope, send: Send) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1000})
        return
    body = b"Not Found"
    await send(
        {
            "type": "http.response.start",
            "status": 404,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
