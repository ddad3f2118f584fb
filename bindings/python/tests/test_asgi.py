"""ASGI mode: a FastAPI app with ferrio mounted under /ws (tests/fastapi_app.py), run by uvicorn, serves its
HTTP routes and Socket.IO clients — python-socketio's AsyncClient and socket.io-client — over websocket,
polling and the upgrade."""

import asyncio
import json
import pathlib
import socket
import subprocess
import sys
import urllib.request

import pytest
import socketio

pytestmark = pytest.mark.asyncio
HERE = pathlib.Path(__file__).resolve().parent
MODES = {"websocket": ["websocket"], "polling": ["polling"], "upgrade": ["polling", "websocket"]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "fastapi_app:app", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning", "--ws", "wsproto"],
        cwd=HERE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                with urllib.request.urlopen(f"{url}/api/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError("uvicorn exited")
                import time

                time.sleep(0.05)
        else:
            raise RuntimeError("uvicorn did not start")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.asyncio(loop_scope="function")
async def test_http_routes_and_the_engine_error_answers(server):
    with urllib.request.urlopen(f"{server}/api/health", timeout=3) as r:
        assert json.load(r) == {"ok": True}
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{server}/ws/socket.io/?EIO=4&transport=bogus", timeout=3)
    assert err.value.code == 400
    assert json.load(err.value) == {"code": 0, "message": "Transport unknown"}
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{server}/ws/elsewhere", timeout=3)
    assert err.value.code == 404


@pytest.mark.parametrize("mode", MODES)
async def test_python_socketio_client(server, mode):
    refused = socketio.AsyncClient(reconnection=False)
    errors = []
    refused.on("connect_error", errors.append)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await refused.connect(server, socketio_path="/ws/socket.io", transports=MODES[mode], auth={},
                              wait_timeout=5)
    assert errors == ["not authorized"] or errors == [{"message": "not authorized"}]
    a = socketio.AsyncClient(reconnection=False)
    b = socketio.AsyncClient(reconnection=False)
    try:
        for c in (a, b):
            await c.connect(server, socketio_path="/ws/socket.io", transports=MODES[mode],
                            auth={"token": "letmein"}, wait_timeout=5)
        if mode == "upgrade":
            for _ in range(100):
                if a.transport() == "websocket" and b.transport() == "websocket":
                    break
                await asyncio.sleep(0.05)
        assert a.transport() == ("polling" if mode == "polling" else "websocket")
        assert await a.call("echo", ("hi", b"\x01\x02", {"n": 1}), timeout=5) == ("hi", b"\x01\x02", {"n": 1})
        shouted = asyncio.get_running_loop().create_future()
        b.on("shout", lambda text: shouted.done() or shouted.set_result(text))
        await a.emit("shout", "hello")
        assert await asyncio.wait_for(shouted, 5) == "HELLO"
        assert await b.call("watch", timeout=5) == "watching"
        item = asyncio.get_running_loop().create_future()
        b.on("item", lambda name: item.done() or item.set_result(name))
        body = json.dumps({"name": f"py-{mode}"}).encode()
        request = urllib.request.Request(f"{server}/api/items", data=body,
                                         headers={"content-type": "application/json"})
        await asyncio.get_running_loop().run_in_executor(None, lambda: urllib.request.urlopen(request, timeout=3))
        assert await asyncio.wait_for(item, 5) == f"py-{mode}"
    finally:
        for c in (a, b):
            await c.disconnect()


@pytest.mark.parametrize("mode", MODES)
async def test_socketio_client_from_node(server, mode):
    proc = await asyncio.create_subprocess_exec(
        "node", str(HERE / "asgi_js_client.mjs"), server, ",".join(MODES[mode]),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 20)
    seen = json.loads(out.decode().strip().splitlines()[-1])
    assert proc.returncode == 0, seen
    assert seen == {
        "transport": "polling" if mode == "polling" else "websocket",
        "echoed": ["hi", [7, 8]],
        "posted": 200,
        "item": f"from-js-{','.join(MODES[mode])}",
    }
