"""The exceptions of ferrio. Names follow python-socketio's ``socketio.exceptions`` so that code catching
``socketio.exceptions.TimeoutError`` or raising ``ConnectionRefusedError`` keeps working after the import
is switched to ``ferrio``.

Errors of the engine reach Python through the engine's error codes: ``ferrio._native.ERROR_CLASSES`` maps
each code to one class below (a ``FerrioError`` subclass; ``tests/test_errors.py`` checks them all)."""

from __future__ import annotations

import builtins
from typing import Any

__all__ = [
    "FerrioError",
    "SocketIOError",
    "ConnectionError",
    "ConnectionRefusedError",
    "AckTimeoutError",
    "TimeoutError",
    "DisconnectedError",
    "UnknownSidError",
    "UnknownNamespaceError",
    "EmitError",
    "ReservedEventError",
    "AdapterError",
    "InvalidArgumentError",
    "ListenError",
    "ServerClosedError",
    "ServerNotRunningError",
    "BadNamespaceError",
]


class FerrioError(Exception):
    """Base class of every ferrio exception."""


#: python-socketio's name for the base class.
SocketIOError = FerrioError


class ConnectionError(FerrioError):  # noqa: A001 - python-socketio's name
    """Base class of connection errors (python-socketio's ``ConnectionError``)."""


class ConnectionRefusedError(ConnectionError):  # noqa: A001 - python-socketio's name
    """Raise it from a ``connect`` handler or a ``use`` middleware to refuse a connection.

    The client gets a connect_error whose ``message`` is ``str(args[0])`` and whose ``data`` is ``args[1]``
    (or ``args[1:]`` when there are more), exactly as with python-socketio.
    """

    error_args: dict[str, Any]

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        if len(args) == 0:
            self.error_args = {"message": "Connection rejected by server"}
        elif len(args) == 1:
            self.error_args = {"message": str(args[0])}
        else:
            self.error_args = {"message": str(args[0])}
            if len(args) == 2:
                self.error_args["data"] = args[1]
            else:
                self.error_args["data"] = args[1:]


class AckTimeoutError(FerrioError, builtins.TimeoutError):
    """An acknowledgement did not come in time. Also a built-in ``TimeoutError``.

    For a broadcast (``emit_with_ack``), ``answers`` holds the answers that did come.
    """

    answers: list[Any]

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.answers = []


#: python-socketio's name (``socketio.exceptions.TimeoutError``).
TimeoutError = AckTimeoutError  # noqa: A001


class DisconnectedError(FerrioError):
    """The client disconnected before acknowledging."""


class UnknownSidError(FerrioError, KeyError):
    """No connected socket has this id in this namespace. Also a ``KeyError``, as python-socketio raises
    for an unknown session."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class UnknownNamespaceError(FerrioError, ValueError):
    """The namespace has no handlers and was not declared, so no client can be in it."""


#: python-socketio's name.
BadNamespaceError = UnknownNamespaceError


class EmitError(FerrioError):
    """The emit could not be queued (the client's queue was full, or the adapter failed)."""


class ReservedEventError(EmitError, ValueError):
    """The event name is reserved by socket.io (``connect``, ``disconnect``, …). Also a ``ValueError``."""


class AdapterError(EmitError):
    """The adapter failed (e.g. Redis is unreachable): raised by emits, and by the operations that ask the
    other servers of a cluster (``fetch_sockets`` and the like)."""


class InvalidArgumentError(FerrioError, ValueError):
    """An argument or an option is out of range (a server option is checked when the server is made).
    Also a ``ValueError``."""


class ListenError(FerrioError, OSError):
    """An I/O error: the server could not bind its address (or load the files it serves)."""


class ServerClosedError(FerrioError, RuntimeError):
    """The server has been shut down; it cannot be used again."""


class ServerNotRunningError(FerrioError, RuntimeError):
    """The operation needs a running server: call ``await sio.start(...)`` / ``serve(...)`` first."""
