"""The official Socket.IO admin UI: ``AsyncServer.instrument`` and the login check it installs.

The engine does the instrumenting (``NativeServer.instrument``); this module turns python-socketio's
``instrument`` arguments into the engine's terms, and runs the UI's login as a ``connect`` handler of the
admin namespace when the check has to be Python (a callable, or logins of another shape).
"""

from __future__ import annotations

import inspect
import pathlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import exceptions

if TYPE_CHECKING:
    from ._native import NativeServer

__all__ = ["AdminMixin"]


def _is_login(auth: Any) -> bool:
    """Whether ``auth`` is a plain ``{"username": str, "password": str}`` login."""
    return (
        isinstance(auth, dict)
        and set(auth) == {"username", "password"}
        and all(isinstance(v, str) for v in auth.values())
    )


class AdminMixin:
    """``AsyncServer``'s admin UI support."""

    if TYPE_CHECKING:
        # Provided by AsyncServer.
        _native: NativeServer | None
        _admin: dict[str, Any] | None
        _admin_check: Callable[[Any], Any] | None

        def on(self, event: str, handler: Callable[..., Any] | None = None, namespace: str | None = None) -> Any: ...

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
