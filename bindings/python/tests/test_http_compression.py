"""python-engineio's ``http_compression`` and ``compression_threshold``: long-polling responses of at least
the threshold (default 1024 bytes) are gzip- or deflate-compressed when the request's Accept-Encoding takes
one; on by default. Raw polling sessions (urllib, which never decompresses) see the headers and the bytes as
sent. Run: .venv/bin/python -m pytest bindings/python/tests/test_http_compression.py -q
"""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import urllib.request
import zlib
from dataclasses import dataclass

import pytest

import ferrio

WAIT = 5.0


def big_packet(n: int) -> str:
    """The Engine.IO payload of a ``big`` event of n x's: n + 12 bytes."""
    return '42["big","' + "x" * n + '"]'


@dataclass
class Response:
    encoding: str | None
    raw: bytes
    text: str


def _request(url: str, data: bytes | None = None, accept_encoding: str | None = None) -> Response:
    req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    if accept_encoding is not None:
        req.add_header("Accept-Encoding", accept_encoding)
    if data is not None:
        req.add_header("Content-Type", "text/plain;charset=UTF-8")
    with urllib.request.urlopen(req, timeout=WAIT) as r:
        assert r.status == 200
        raw = r.read()
        encoding = r.headers.get("Content-Encoding")
    if encoding == "gzip":
        text = gzip.decompress(raw).decode()
    elif encoding == "deflate":
        text = zlib.decompress(raw).decode()
    else:
        text = raw.decode()
    return Response(encoding, raw, text)


class Session:
    """A polling session whose GETs carry ``accept_encoding`` (None: no header), in the main namespace."""

    def __init__(self, url: str, accept_encoding: str | None) -> None:
        self.accept_encoding = accept_encoding
        self.handshake = _request(f"{url}/socket.io/?EIO=4&transport=polling", accept_encoding=accept_encoding)
        assert self.handshake.text.startswith("0{"), self.handshake.text
        sid = json.loads(self.handshake.text[1:])["sid"]
        self.path = f"{url}/socket.io/?EIO=4&transport=polling&sid={sid}"
        _request(self.path, data=b"40")
        self.connect = self.poll()
        assert re.fullmatch(r'40\{"sid":"[^"]+"\}', self.connect.text), self.connect.text

    def poll(self) -> Response:
        return _request(self.path, accept_encoding=self.accept_encoding)

    def big(self, n: int) -> Response:
        """Has the server emit ``big`` with n x's; the poll that carries it."""
        _request(self.path, data=f'42["big",{n}]'.encode())
        r = self.poll()
        assert r.text == big_packet(n), "the poll carries the event, whole"
        return r


async def serve(make, **options) -> str:
    sio = ferrio.AsyncServer(**options)

    @sio.on("big")
    async def big(sid, n):
        await sio.emit("big", "x" * n, to=sid)

    return await make(sio)


async def session(url: str, accept_encoding: str | None) -> Session:
    return await asyncio.to_thread(Session, url, accept_encoding)


async def big(s: Session, n: int) -> Response:
    return await asyncio.to_thread(s.big, n)


@pytest.mark.asyncio
async def test_on_by_default_from_1024_bytes_in_gzip(make):
    url = await serve(make)
    s = await session(url, "gzip, deflate, br")
    assert s.handshake.encoding is None, "the handshake is below the threshold"
    assert s.connect.encoding is None, "the CONNECT answer is below the threshold"
    r = await big(s, 4000)
    assert r.encoding == "gzip"
    assert len(r.raw) < 200, f"4012 bytes of x's compress well ({len(r.raw)} bytes sent)"
    assert gzip.decompress(r.raw).decode() == big_packet(4000)
    # The threshold's edge: 1024 bytes are compressed, 1023 are not.
    assert (await big(s, 1012)).encoding == "gzip"
    below = await big(s, 1011)
    assert below.encoding is None
    assert below.raw == big_packet(1011).encode()


@pytest.mark.asyncio
@pytest.mark.parametrize("accept", ["deflate", "gzip;q=0.5, deflate"])
async def test_deflate_when_the_request_prefers_it(make, accept):
    url = await serve(make)
    s = await session(url, accept)
    r = await big(s, 2000)
    assert r.encoding == "deflate"
    assert zlib.decompress(r.raw).decode() == big_packet(2000)


@pytest.mark.asyncio
@pytest.mark.parametrize("accept", [None, "identity", "br", "gzip;q=0"])
async def test_not_compressed_unless_accept_encoding_takes_gzip_or_deflate(make, accept):
    url = await serve(make)
    s = await session(url, accept)
    r = await big(s, 4000)
    assert r.encoding is None
    assert r.raw == big_packet(4000).encode()


@pytest.mark.asyncio
async def test_http_compression_false_sends_every_response_as_is(make):
    url = await serve(make, http_compression=False)
    s = await session(url, "gzip, deflate")
    for n in (1012, 100_000):
        r = await big(s, n)
        assert r.encoding is None, n
        assert len(r.raw) == n + 12


@pytest.mark.asyncio
async def test_compression_threshold_sets_the_smallest_response_compressed(make):
    url = await serve(make, compression_threshold=64)
    s = await session(url, "gzip")
    assert s.handshake.encoding == "gzip", "the handshake is over 64 bytes"
    opened = json.loads(s.handshake.text[1:])
    assert isinstance(opened["sid"], str) and opened["pingInterval"] == 25000, s.handshake.text
    assert s.connect.encoding is None, "the CONNECT answer is under 64 bytes"
    at = await big(s, 52)
    assert at.encoding == "gzip", "64 bytes"
    assert gzip.decompress(at.raw).decode() == big_packet(52)
    assert (await big(s, 51)).encoding is None, "63 bytes"


@pytest.mark.asyncio
async def test_compression_threshold_is_ignored_with_http_compression_off(make):
    url = await serve(make, http_compression=False, compression_threshold=64)
    s = await session(url, "gzip")
    assert s.handshake.encoding is None
    assert (await big(s, 2000)).encoding is None
