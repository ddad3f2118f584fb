"""The Redis client manager: many ferrio processes, and official Node socket.io servers, act as one."""

from __future__ import annotations

from typing import Any

from ._manager import AsyncManager


class AsyncRedisManager(AsyncManager):
    """``AsyncServer(client_manager=ferrio.AsyncRedisManager(url))``, as in python-socketio.

    The adapter runs inside ferrio's engine and speaks the protocol of socket.io's
    ``@socket.io/redis-adapter`` (not python-socketio's pickle messages), so ferrio servers in any language
    and Node socket.io servers on the same Redis form one cluster: broadcasts, rooms, ``fetch_sockets`` and
    room joins reach every server's clients.

    ``channel`` is the channels' prefix (the Node adapter's ``key``, default ``"socket.io"``), the same on
    every server; ``request_timeout`` is how long (seconds) a request to the other servers waits for their
    answers. Redis being down never stops local delivery; remote operations fail with an exception until
    the connections come back by themselves.
    """

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        channel: str = "socket.io",
        write_only: bool = False,
        logger: Any = None,
        redis_options: dict[str, Any] | None = None,
        *,
        request_timeout: float = 5.0,
    ) -> None:
        if write_only:
            raise ValueError(
                "ferrio's Redis manager is always a full member of the cluster; to emit from a process without"
                " a server, use @socket.io/redis-emitter or a ferrio server"
            )
        if redis_options:
            raise ValueError("redis_options are not supported; put credentials and the database in the URL")
        if not isinstance(url, str) or not url:
            raise ValueError("url must be a Redis URL such as redis://127.0.0.1:6379/0")
        if request_timeout <= 0:
            raise ValueError("request_timeout must be positive")
        super().__init__()
        self.url = url
        self.channel = channel
        self.request_timeout = float(request_timeout)

    def __repr__(self) -> str:
        return f"AsyncRedisManager(url={self.url!r}, channel={self.channel!r})"

    def _native_options(self) -> dict[str, Any]:
        return dict(redis_url=self.url, redis_prefix=self.channel, redis_request_timeout=self.request_timeout)
