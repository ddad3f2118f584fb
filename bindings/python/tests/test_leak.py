"""Acceptance 3: 10,000 connect/disconnect cycles keep the server's RSS flat (within 10%).

The server (leak_server.py) runs in its own process; clients speak Engine.IO/Socket.IO over raw
WebSockets (aiohttp), 50 at a time, each doing: open, CONNECT "/", get the CONNECT answer, DISCONNECT,
close. RSS is read from /proc after a warm-up of 2,000 cycles and again after 10,000 more.

The server runs with the default connect timeout (45 s), so connections the sweeper still has to check are
part of what is measured: it keeps only their ids.
"""

import os

import asyncio
import pathlib
import subprocess
import sys
import time

import aiohttp
import pytest

HERE = pathlib.Path(__file__).resolve().parent
CYCLES = 10_000
WARMUP = 2_000
PARALLEL = 50


def rss_kib(pid: int) -> int:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def cycle(session: aiohttp.ClientSession, url: str) -> None:
    async with session.ws_connect(url) as ws:
        opened = await asyncio.wait_for(ws.receive_str(), 5)
        assert opened.startswith("0{")
        await ws.send_str("40")
        while True:
            msg = await asyncio.wait_for(ws.receive_str(), 5)
            if msg.startswith("40"):
                break
        await ws.send_str("41")


async def run_cycles(url: str, count: int) -> None:
    async with aiohttp.ClientSession() as session:
        left = count

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                await cycle(session, url)

        await asyncio.gather(*(worker() for _ in range(PARALLEL)))


@pytest.mark.timeout(240)
def test_ten_thousand_cycles_keep_rss_flat():
    env = dict(os.environ)
    proc = subprocess.Popen([sys.executable, str(HERE / "leak_server.py")], stdout=subprocess.PIPE, env=env)
    try:
        line = proc.stdout.readline().decode()
        assert line.startswith("LISTENING "), line
        port = int(line.split()[1])
        url = f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"
        asyncio.run(run_cycles(url, WARMUP))
        time.sleep(1.0)
        before = rss_kib(proc.pid)
        t = time.monotonic()
        asyncio.run(run_cycles(url, CYCLES))
        elapsed = time.monotonic() - t
        time.sleep(1.0)
        after = rss_kib(proc.pid)
        growth = (after - before) / before
        print(f"\nRSS {before} KiB -> {after} KiB ({growth:+.1%}) over {CYCLES} cycles in {elapsed:.1f}s")
        assert growth <= 0.10, f"RSS grew {growth:.1%}: {before} KiB -> {after} KiB"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
