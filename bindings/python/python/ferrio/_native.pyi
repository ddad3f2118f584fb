"""Stubs of the extension module ``ferrio._native`` (checked against it by ``mypy.stubtest``)."""

from typing import Any, Callable, Sequence, final

__all__ = [
    "NativeServer",
    "Ack",
    "ConnectReply",
    "WsRelay",
    "ERROR_CLASSES",
    "EVENT_KINDS",
    "__version__",
    "validate_args",
    "check_options",
]

__version__: str

#: ``(number, name, class)`` for every error code of the engine: the ``ferrio.exceptions`` class raised for
#: it (None for ``Ok``).
ERROR_CLASSES: list[tuple[int, str, str | None]]

#: The number of every kind of dispatch item (the first element of each item), by name: the host layer's
#: event kinds (``MIDDLEWARE``, ``CONNECT``, ``EVENT``, ``DISCONNECTING``, ...) and the binding's own
#: ``RESOLVE``.
EVENT_KINDS: dict[str, int]

def validate_args(args: Sequence[Any], max_json_depth: int | None = None) -> None: ...
def check_options(options: dict[str, Any]) -> None: ...

@final
class ConnectReply:
    def accept(self) -> bool: ...
    def reject(self, message: str, data: Any | None = None) -> bool: ...

@final
class Ack:
    def send(self, args: Sequence[Any]) -> bool: ...

@final
class NativeServer:
    def __new__(
        cls,
        *,
        options: dict[str, Any],
        path: str,
        static_dir: str | None,
        client_dir: str | None,
        always_connect: bool,
        redis_url: str | None = None,
        redis_prefix: str | None = None,
        redis_request_timeout: float | None = None,
    ) -> NativeServer: ...
    @property
    def recovery(self) -> tuple[float, bool] | None: ...
    def add_namespace(self, name: str) -> None: ...
    def add_any_namespace(self) -> None: ...
    def instrument(
        self,
        *,
        namespace: str,
        credentials: list[tuple[str, str]] | None,
        read_only: bool,
        mode: str,
        server_id: str | None,
        stats_interval: float,
        ui_dir: str | None,
    ) -> None: ...
    def start(self, event_loop: Any, callback: Callable[[list[tuple[Any, ...]]], None]) -> None: ...
    def attach(self) -> None: ...
    def handle_request(
        self,
        method: str,
        path: str,
        headers: list[tuple[str, str]],
        body: bytes,
        client_host: str,
        client_port: int,
        future: Any,
    ) -> None: ...
    def open_websocket(
        self,
        path: str,
        headers: list[tuple[str, str]],
        client_host: str,
        client_port: int,
        future: Any,
    ) -> None: ...
    def listen(self, host: str, port: int, future: Any) -> None: ...
    def shutdown(self, grace: float, future: Any) -> None: ...
    def join_dispatch(self, timeout: float) -> bool: ...
    def emit(
        self,
        nsp: str,
        event: str,
        args: Sequence[Any],
        to: list[str] | None = None,
        skip: list[str] | None = None,
        volatile: bool = False,
    ) -> None: ...
    def call(
        self, nsp: str, sid: str, event: str, args: Sequence[Any], timeout: float, future: Any
    ) -> None: ...
    def broadcast_call(
        self,
        nsp: str,
        event: str,
        args: Sequence[Any],
        timeout: float,
        future: Any,
        to: list[str] | None = None,
        skip: list[str] | None = None,
    ) -> None: ...
    def connected(self, nsp: str, sid: str) -> bool: ...
    def participants(self, nsp: str, room: str | None = None) -> list[tuple[str, str]]: ...
    def room_names(self, nsp: str) -> list[str]: ...
    def namespace_names(self) -> list[str]: ...
    def join(self, nsp: str, sid: str, rooms: list[str]) -> None: ...
    def leave(self, nsp: str, sid: str, room: str) -> None: ...
    def rooms(self, nsp: str, sid: str) -> list[str]: ...
    def transport(self, nsp: str, sid: str) -> str: ...
    def disconnect(self, nsp: str, sid: str, close: bool) -> None: ...
    def sockets_join(
        self, nsp: str, rooms: list[str], to: list[str] | None = None, skip: list[str] | None = None
    ) -> None: ...
    def sockets_leave(
        self, nsp: str, rooms: list[str], to: list[str] | None = None, skip: list[str] | None = None
    ) -> None: ...
    def disconnect_sockets(
        self, nsp: str, close: bool, to: list[str] | None = None, skip: list[str] | None = None
    ) -> None: ...
    def fetch_sockets(
        self, nsp: str, future: Any, to: list[str] | None = None, skip: list[str] | None = None
    ) -> None: ...
    def connection_count(self) -> int: ...
    def closed(self) -> bool: ...

@final
class WsRelay:
    def send(self, message: str | bytes) -> bool: ...
    def recv(self, future: Any) -> None: ...
    def close(self) -> None: ...
