"""A larger python-socketio program (fixtures/larger_app.py) runs unchanged but for its import on ferrio:
the same client-driven checks pass against python-socketio and against ferrio, both under uvicorn, over
websocket and polling."""

import asyncio
import pathlib
import socket
import subprocess
import sys
import time

import pytest
import socketio

HERE = pathlib.Path(__file__).resolve().parent
APP = HERE / "fixtures" / "larger_app.py"
ON_FERRIO = HERE / "fixtures" / "_larger_app_ferrio.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module", params=["python-socketio", "ferrio"])
def server(request):
    module = "larger_app"
    if request.param == "ferrio":
        source = APP.read_text()
        changed = source.replace("\nimport socketio\n", "\nimport ferrio as socketio\n", 1)
        assert changed != source, "the program imports socketio"
        ON_FERRIO.write_text(changed)
        module = "_larger_app_ferrio"
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", f"{module}:app", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning", "--ws", "wsproto", "--lifespan", "off"],
        cwd=HERE / "fixtures",
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"uvicorn did not start for {request.param}")
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(1)
        except subprocess.TimeoutExpired:
            # uvicorn waits for lingering connections on SIGTERM; the program is done with here.
            proc.kill()
            proc.wait(5)
        ON_FERRIO.unlink(missing_ok=True)


async def client(url, transport, name="ann"):
    c = socketio.AsyncClient(reconnection=False)
    await c.connect(url, namespaces=["/", "/chat"], transports=[transport], auth={"name": name},
                    wait_timeout=5)
    return c


@pytest.mark.asyncio
@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_the_larger_program(server, transport):
    refused = socketio.AsyncClient(reconnection=False)
    errors = []
    refused.on("connect_error", lambda data: errors.append(data), namespace="/chat")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await refused.connect(server, namespaces=["/chat"], transports=[transport], wait_timeout=5)
    assert errors and errors[0]["message"] == "name required" and errors[0]["data"] == {"field": "name"}

    a = await client(server, transport, "ann")
    b = await client(server, transport, "bob")
    try:
        assert await a.call("echo", (1, b"\x00\xff", {"k": [True, None]}), timeout=5) == (1, b"\x00\xff",
                                                                                         {"k": [True, None]})
        assert await a.call("join", "lobby", namespace="/chat", timeout=5) == ("joined", "lobby")
        assert await b.call("join", "lobby", namespace="/chat", timeout=5) == ("joined", "lobby")

        said = asyncio.get_running_loop().create_future()
        b.on("said", lambda *args: said.done() or said.set_result(args), namespace="/chat")
        assert await a.call("say", ("lobby", "hi", b"\x01\x02\x03"), namespace="/chat", timeout=5) == 3
        assert await asyncio.wait_for(said, 5) == ("ann", "hi", b"\x01\x02\x03")
        name, count, rooms = await a.call("stats", namespace="/chat", timeout=5)
        assert (name, count) == ("ann", 1) and "lobby" in rooms

        # The server calls the client: answered, then unanswered (the call times out).
        b.on("question", lambda q: f"bob says {q}", namespace="/chat")
        assert await b.call("ask", 2, namespace="/chat", timeout=5) == "bob says ready?"
        async def slow(q):
            await asyncio.sleep(1)
            return "too late"

        a.on("question", slow, namespace="/chat")
        assert await a.call("ask", 0.3, namespace="/chat", timeout=5) == "no answer"

        # close_room empties the room for everybody.
        assert await a.call("close", "lobby", namespace="/chat", timeout=5) == "closed"
        assert "lobby" not in await b.call("leave", "nowhere", namespace="/chat", timeout=5)

        # The background task's ticks reach the room's members.
        ticks = asyncio.Queue()
        b.on("tick", ticks.put_nowait, namespace="/chat")
        await b.emit("tickers", namespace="/chat")
        first = await asyncio.wait_for(ticks.get(), 5)
        second = await asyncio.wait_for(ticks.get(), 5)
        assert second > first

        gone = asyncio.get_running_loop().create_future()
        b.on("disconnect", lambda *args: gone.done() or gone.set_result(True), namespace="/chat")
        await b.emit("bye", namespace="/chat")
        await asyncio.wait_for(gone, 5)
        assert await b.call("echo", "still on /", timeout=5) == "still on /"
    finally:
        # Abort rather than a graceful disconnect: python-socketio's server holds a pending long-poll
        # until its ping interval ends, which would only slow the teardown down.
        for c in (a, b):
            await asyncio.wait_for(c.eio.disconnect(abort=True), 5)
