"""The packaging test's contract driven with python-socketio's client (the repository's .venv) against an
installed copy of ferrio; the same contract as contract.mjs:

    python contract.py NAME [--cwd DIR] -- COMMAND [ARGS...]

Prints "NAME: N passed, N failed" and exits 1 on a failure. Every wait is bounded."""

from __future__ import annotations

import asyncio
import re
import signal
import sys

import socketio

argv = sys.argv[1:]
NAME = argv[0]
SEP = argv.index("--")
CWD = argv[argv.index("--cwd") + 1] if "--cwd" in argv[:SEP] else None
COMMAND = argv[SEP + 1 :]

passed = 0
failed = 0


def check(what: str, ok: object, detail: str = "") -> None:
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
    suffix = f" ({detail})" if detail and not ok else ""
    print(f"  {'ok  ' if ok else 'FAIL'} {NAME}: {what}{suffix}", flush=True)


async def contract(url: str) -> None:
    clients: list[socketio.AsyncClient] = []
    got: dict[str, list[tuple[str, str]]] = {"a": [], "b": [], "c": []}
    try:
        for key, transports in (("a", None), ("b", ["websocket"]), ("c", ["polling"])):
            client = socketio.AsyncClient(reconnection=False)

            def said(room: str, text: str, key: str = key) -> None:
                got[key].append((room, text))

            client.on("said", said)
            await asyncio.wait_for(client.connect(url, transports=transports, wait_timeout=5), 10)
            clients.append(client)
        a, b, c = clients
        check("three clients connect (polling+upgrade, websocket, polling)", all(x.sid for x in clients))

        joined = [await x.call("join", "room-1", timeout=5) for x in (a, b)]
        check("join is acknowledged with the room", joined == ["room-1", "room-1"], repr(joined))

        text = 'héllo ☃ "quoted"'
        said_ack = await a.call("say", ("room-1", text), timeout=5)
        check("say is acknowledged", said_ack == "ok", repr(said_ack))
        for _ in range(50):
            if got["b"]:
                break
            await asyncio.sleep(0.1)
        check("the room gets the broadcast", got["b"] == [("room-1", text)], repr(got["b"]))
        await asyncio.sleep(0.3)
        check("neither the sender nor a socket outside the room gets it", not got["a"] and not got["c"], repr(got))

        data = bytes(i % 256 for i in range(300))
        for key, client in zip("abc", clients):
            r = await client.call("bin", data, timeout=5)
            ok = isinstance(r, dict) and r.get("len") == 300 and r.get("data") == data[::-1]
            check(f"binary both ways ({key})", ok, repr(r)[:120])
    finally:
        for client in clients:
            await client.disconnect()


async def main() -> int:
    server = await asyncio.create_subprocess_exec(*COMMAND, cwd=CWD, stdout=asyncio.subprocess.PIPE)
    try:
        assert server.stdout is not None
        line = (await asyncio.wait_for(server.stdout.readline(), 30)).decode().rstrip("\n")
        m = re.match(r"^listening (\d+)(.*)$", line)
        if not m:
            raise RuntimeError(f"unexpected first line {line!r}")
        print(f"  {NAME}: server{m.group(2)}", flush=True)
        await asyncio.wait_for(contract(f"http://127.0.0.1:{m.group(1)}"), 60)
    except Exception as err:  # noqa: BLE001 - every failure is reported as one
        check("contract", False, f"{type(err).__name__}: {err}")
    finally:
        if server.returncode is None:
            server.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(server.wait(), 10)
            check("the server stops on SIGTERM", code in (0, -signal.SIGTERM), f"code {code}")
        except asyncio.TimeoutError:
            check("the server stops on SIGTERM", False, "still running after 10 s")
            server.kill()
            await server.wait()
    print(f"  {NAME}: {passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


sys.exit(asyncio.run(main()))
