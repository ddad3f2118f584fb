"""Fixtures and helpers for the ferrio end-to-end tests driven by python-socketio.

The server under test is `target/debug/examples/e2e_server` (contract: tests/e2e/SERVER.md), or the
binary named by the environment variable FERRIO_E2E_SERVER (a `.py` path is run with this interpreter). Every test gets its own server process, so
namespace-wide state (rooms, broadcasts, room sizes) never leaks between tests.

Set FERRIO_E2E_DEBUG=1 to turn on python-socketio's and python-engineio's loggers (they go to stderr,
which pytest shows for failing tests).
"""

import asyncio
import os
import pathlib
import select
import subprocess
import sys
import threading
import time

import engineio.payload
import pytest
import pytest_asyncio
import socketio

# python-engineio refuses polling payloads of more than 16 packets ("Too many packets in payload", a
# documented limit: miguelgrinberg/python-engineio#142, workaround below). The server legitimately sends
# its whole buffer in one poll response, as socket.io's engine.io does, e.g. 100 echoes + 100 acks.
engineio.payload.Payload.max_decode_packets = 10_000

REPO = pathlib.Path(__file__).resolve().parents[3]
SERVER_BIN = os.environ.get("FERRIO_E2E_SERVER", str(REPO / "target" / "debug" / "examples" / "e2e_server"))
DEBUG = os.environ.get("FERRIO_E2E_DEBUG", "") not in ("", "0")

#: Default bound, in seconds, of every wait for something the server should do.
WAIT = 5.0
#: How long the server may take to print its LISTENING line.
STARTUP = 10.0

#: The three ways a client may reach the server: mode -> (transports passed to connect(), the engine
#: transport expected once connected, the transport of the handshake request).
MODES = {
    "websocket": (["websocket"], "websocket", "websocket"),
    "polling": (["polling"], "polling", "polling"),
    "upgrade": (None, "websocket", "polling"),
}


# --------------------------------------------------------------------------------------------------
# The server process
# --------------------------------------------------------------------------------------------------

class ServerProcess:
    def __init__(self, *args):
        if not os.path.isfile(SERVER_BIN):
            pytest.fail(f"e2e server binary not found: {SERVER_BIN} "
                        "(build it with `cargo build -p ferrio --example e2e_server` or set FERRIO_E2E_SERVER)")
        # A .py server (e.g. reference_server.py, the python-socketio program) runs with this interpreter.
        command = [sys.executable, SERVER_BIN] if SERVER_BIN.endswith(".py") else [SERVER_BIN]
        self.args = [*command, *map(str, args)]
        # stderr is inherited: pytest captures it at the fd level and shows it for failing tests.
        self.proc = subprocess.Popen(self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.port = self._read_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # Keep draining stdout so that the server can never block on a full pipe.
        threading.Thread(target=self._drain, daemon=True).start()

    def _read_port(self):
        deadline = time.monotonic() + STARTUP
        buf = b""
        fd = self.proc.stdout.fileno()
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                self.stop()
                pytest.fail(f"{self.args}: no LISTENING line within {STARTUP}s (got {buf!r})")
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                code = self.proc.wait(timeout=5)
                pytest.fail(f"{self.args}: exited with {code} before LISTENING (got {buf!r})")
            buf += chunk
        line, _, _ = buf.partition(b"\n")
        parts = line.decode().split()
        if len(parts) != 2 or parts[0] != "LISTENING" or not parts[1].isdigit():
            self.stop()
            pytest.fail(f"{self.args}: unexpected first line {line!r}")
        return int(parts[1])

    def _drain(self):
        try:
            while self.proc.stdout.read(4096):
                pass
        except (OSError, ValueError):
            pass

    def stop(self):
        """Ask the server to exit (stdin closed and SIGTERM, both in the contract) without waiting for it:
        its graceful shutdown can take a while, so processes are reaped in the background (`reap`)."""
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.terminate()
            except OSError:
                pass
        _stopping.append((time.monotonic(), self))

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=5)


#: Servers asked to stop, with the time of the request.
_stopping = []


def reap(final=False):
    """Wait for stopped servers; kill those still running 10 s after being asked to stop (or all, if final)."""
    now = time.monotonic()
    for item in list(_stopping):
        asked, p = item
        if p.proc.poll() is None:
            if final:
                try:
                    p.proc.wait(timeout=max(0.0, asked + 10 - time.monotonic()))
                except subprocess.TimeoutExpired:
                    p.kill()
            elif now - asked > 10:
                p.kill()
            else:
                continue
        _stopping.remove(item)


@pytest.fixture(scope="session", autouse=True)
def _reap_servers():
    yield
    reap(final=True)


@pytest.fixture
def server_factory():
    """Start e2e servers with extra command-line arguments; returns the URL. All are stopped after the test."""
    procs = []

    def start(*args):
        reap()
        p = ServerProcess(*args)
        procs.append(p)
        return p.url

    yield start
    for p in procs:
        p.stop()


@pytest.fixture
def server(server_factory, request):
    """URL (http://127.0.0.1:<port>) of a fresh e2e server.

    Default options, unless the test is marked `@pytest.mark.server_args("--ping-interval", "500", ...)`.
    """
    marker = request.node.get_closest_marker("server_args")
    return server_factory(*(marker.args if marker else ()))


# --------------------------------------------------------------------------------------------------
# Clients
# --------------------------------------------------------------------------------------------------

class Client:
    """An `socketio.AsyncClient` that records every event it receives, per namespace.

    Events are recorded by a catch-all handler registered on each namespace, so handlers the test
    registers explicitly (e.g. `question`) take precedence. `log` holds (namespace, event, args) in
    arrival order; `disconnect` and `connect_error` are recorded too.
    """

    def __init__(self, mode, namespaces=("/",), handlers=None):
        self.mode = mode
        self.namespaces = list(namespaces)
        self.sio = socketio.AsyncClient(reconnection=False, logger=DEBUG, engineio_logger=DEBUG)
        self.log = []
        self._changed = asyncio.Condition()
        for ns in self.namespaces:
            self.sio.on("*", self._catch_all(ns), namespace=ns)
            self.sio.on("disconnect", self._recorder(ns, "disconnect"), namespace=ns)
            self.sio.on("connect_error", self._recorder(ns, "connect_error"), namespace=ns)
        for key, handler in (handlers or {}).items():
            ns, event = key if isinstance(key, tuple) else ("/", key)
            self.sio.on(event, handler, namespace=ns)

    async def _record(self, ns, event, args):
        self.log.append((ns, event, args))  # first, synchronously: arrival order is preserved
        async with self._changed:
            self._changed.notify_all()

    def _catch_all(self, ns):
        async def handler(event, *args):
            await self._record(ns, event, args)
        return handler

    def _recorder(self, ns, event):
        async def handler(*args):
            await self._record(ns, event, args)
        return handler

    # ---- queries over what was received ----

    def received(self, event, ns="/", match=None):
        """Args tuples of every `event` received so far on `ns` (optionally filtered by `match(args)`)."""
        return [a for (n, e, a) in self.log if n == ns and e == event and (match is None or match(a))]

    async def wait_all(self, event, count, ns="/", match=None, timeout=WAIT):
        """Wait (bounded) until `count` matching events were received; returns their args, in order."""
        def enough():
            return len(self.received(event, ns, match)) >= count
        try:
            async with self._changed:
                await asyncio.wait_for(self._changed.wait_for(enough), timeout)
        except asyncio.TimeoutError:
            got = self.received(event, ns, match)
            raise AssertionError(
                f"timed out after {timeout}s waiting for {count} {event!r} on {ns} (got {len(got)}: "
                f"{_short(got)}); everything received: {_short(self.log)}") from None
        return self.received(event, ns, match)[:count]

    async def wait(self, event, ns="/", match=None, timeout=WAIT):
        """Wait (bounded) for the first matching `event` on `ns`; returns its args tuple."""
        return (await self.wait_all(event, 1, ns, match, timeout))[0]

    async def connect(self, url, auth=None):
        """Connect all namespaces (bounded); raises socketio.exceptions.ConnectionError on refusal."""
        await asyncio.wait_for(
            self.sio.connect(url, auth=auth, transports=MODES[self.mode][0], namespaces=self.namespaces,
                             wait_timeout=WAIT),
            WAIT * 2)

    # ---- sending ----

    async def call(self, event, data=None, ns="/", timeout=WAIT):
        return await self.sio.call(event, data, namespace=ns, timeout=timeout)

    async def emit(self, event, data=None, ns="/"):
        await self.sio.emit(event, data, namespace=ns)

    def sid(self, ns="/"):
        return self.sio.get_sid(ns)

    async def close(self):
        # Teardown only. python-socketio's own disconnect() waits for the pending long-poll GET to return
        # (up to a ping interval) in polling mode, so abort the Engine.IO connection instead: the server
        # sees the transport go away, and is stopped right after anyway.
        try:
            await asyncio.wait_for(self.sio.eio.disconnect(abort=True), WAIT)
        except Exception:  # noqa: BLE001 - teardown must go on
            pass
        # Release the aiohttp session even if the connection never got established.
        http = getattr(self.sio.eio, "http", None)
        if http is not None and not http.closed:
            await http.close()


def _short(obj, limit=600):
    s = repr(obj)
    return s if len(s) <= limit else s[:limit] + f"... ({len(s)} chars)"


async def wait_until(predicate, timeout=WAIT, what="condition", interval=0.01):
    """Poll `predicate` until it is true, bounded by `timeout` (for state with no event to await)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


@pytest.fixture(params=list(MODES))
def mode(request):
    """The transport mode: 'websocket' only, 'polling' only, or polling then 'upgrade' to websocket."""
    return request.param


class Connector:
    """`await connect(auth=..., namespaces=[...], handlers={...})` returns a connected Client.

    The client uses the test's transport mode; once connected, the transport actually in use is
    asserted on the client (`sio.transport()`) and on the server (the `transport` event's ack).
    `connect.client(...)` makes a client that is not connected yet (e.g. to observe a failing connect).
    Every client is disconnected after the test.
    """

    def __init__(self, url, mode):
        self.url = url
        self.mode = mode
        self.clients = []

    def client(self, namespaces=("/",), handlers=None):
        c = Client(self.mode, namespaces, handlers)
        self.clients.append(c)
        return c

    async def __call__(self, namespaces=("/",), auth=None, handlers=None, check_transport=True):
        c = self.client(namespaces, handlers)
        await c.connect(self.url, auth=auth)
        if check_transport:
            await assert_transport(c, MODES[self.mode][1])
        return c

    async def close_all(self):
        await asyncio.gather(*(c.close() for c in self.clients))


@pytest_asyncio.fixture
async def connect(server, mode):
    """A Connector for the test's server and transport mode (see Connector)."""
    connector = Connector(server, mode)
    yield connector
    await connector.close_all()


async def assert_transport(c, expected, ns=None):
    # python-engineio upgrades inside connect(), but wait (bounded) anyway.
    await wait_until(lambda: c.sio.transport() == expected, what=f"client transport {expected!r} "
                     f"(is {c.sio.transport()!r})")
    assert c.sio.transport() == expected
    assert await c.call("transport", ns=ns or c.namespaces[0]) == expected


async def sync(sender, *receivers, ns="/"):
    """Barrier: `sender` broadcasts a unique token and we wait until it reached `sender` and every receiver.

    The server handles a socket's packets in order and each connection delivers in order, so anything
    the server sent a receiver because of an earlier packet of `sender` has arrived once the token has.
    Used before asserting that something was *not* received.
    """
    token = f"__sync__{id(sender)}_{time.monotonic_ns()}"
    await sender.emit("broadcast", token, ns=ns)
    for c in {id(x): x for x in (sender, *receivers)}.values():
        await c.wait("broadcast", ns=ns, match=lambda a: a == (token,))
