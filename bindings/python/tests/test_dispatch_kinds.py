"""The dispatch items' kinds: ``_dispatch`` takes its kind numbers from the native table
(``_native.EVENT_KINDS``, the host layer's event kinds and the binding's ``RESOLVE``) instead of retyping
them, and handles every kind the native side sends, in both connect modes.
"""

from __future__ import annotations

import ast
import asyncio
import logging
import pathlib

import pytest

import ferrio
from ferrio import _dispatch, _native

WAIT = 5.0
KINDS = ("MIDDLEWARE", "CONNECT", "EVENT", "DISCONNECTING", "RESOLVE")


def test_the_kind_constants_are_the_native_table():
    table = _native.EVENT_KINDS
    for name in KINDS:
        assert getattr(_dispatch, name) == table[name], name
    assert _dispatch.HANDLED_KINDS == {table[name] for name in KINDS}
    assert len(set(table.values())) == len(table), "one number per kind"
    # The binding's own kinds come after the host layer's (ferrio_host::event::FIRST_BINDING_KIND).
    assert table["RESOLVE"] == 32 and max(v for k, v in table.items() if k != "RESOLVE") < 32
    # No kind number is typed in the module: each kind constant is read from the table.
    tree = ast.parse(pathlib.Path(_dispatch.__file__).read_text())
    for node in tree.body:
        if isinstance(node, ast.AnnAssign | ast.Assign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = {t.id for t in targets if isinstance(t, ast.Name)}
            if names & set(table):
                assert not isinstance(node.value, ast.Constant), f"{names} is a literal"


@pytest.mark.asyncio
async def test_every_kind_the_native_side_sends_is_handled(make, caplog):
    caplog.set_level(logging.ERROR, logger="ferrio")
    sent: set[int] = set()
    for always_connect in (False, True):
        seen: set[int] = set()
        sio = ferrio.AsyncServer(always_connect=always_connect)
        dispatch = sio._dispatch

        def recording(batch, seen=seen, dispatch=dispatch):
            seen.update(item[0] for item in batch)
            dispatch(batch)

        sio._dispatch = recording  # type: ignore[method-assign]
        left = asyncio.Event()

        @sio.event
        async def connect(sid, environ):
            pass

        @sio.event
        def ping(sid):
            return "pong"

        @sio.event
        async def disconnect(sid, reason, left=left):
            left.set()

        url = await make(sio)  # `listen` resolves an awaitable
        c = await make.client(url)
        assert await c.call("ping", timeout=WAIT) == "pong"
        await c.disconnect()
        await asyncio.wait_for(left.wait(), WAIT)
        joined = _dispatch.CONNECT if always_connect else _dispatch.MIDDLEWARE
        assert seen == {joined, _dispatch.EVENT, _dispatch.DISCONNECTING, _dispatch.RESOLVE}
        sent |= seen
    assert sent == _dispatch.HANDLED_KINDS
    assert "unknown dispatch item kind" not in caplog.text


def test_an_unknown_kind_is_logged(caplog):
    sio = ferrio.AsyncServer()
    with caplog.at_level(logging.ERROR, logger=sio.logger.name):
        sio._dispatch([(max(_native.EVENT_KINDS.values()) + 1, "x")])
    assert "unknown dispatch item kind" in caplog.text
