"""Fixtures shared by the binding's tests."""

from __future__ import annotations

import asyncio

import pytest_asyncio
import socketio

import ferrio

WAIT = 5.0


@pytest_asyncio.fixture
async def make():
    """make(sio) starts `sio` on a free port and returns its URL; everything is shut down afterwards."""
    servers: list[ferrio.AsyncServer] = []
    clients: list[socketio.AsyncClient] = []

    async def start(sio: ferrio.AsyncServer) -> str:
        port = await sio.start("127.0.0.1", 0)
        servers.append(sio)
        return f"http://127.0.0.1:{port}"

    async def client(url: str, **kwargs) -> socketio.AsyncClient:
        c = socketio.AsyncClient(reconnection=False)
        clients.append(c)
        await asyncio.wait_for(c.connect(url, transports=["websocket"], wait_timeout=WAIT, **kwargs), WAIT)
        return c

    start.client = client  # type: ignore[attr-defined]
    yield start
    for c in clients:
        try:
            await asyncio.wait_for(c.eio.disconnect(abort=True), WAIT)
        except Exception:  # noqa: BLE001 - teardown
            pass
    for s in servers:
        if not s._closed:
            await asyncio.wait_for(s.shutdown(grace=1), WAIT)
