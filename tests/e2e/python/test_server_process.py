"""The test server's process contract (tests/e2e/SERVER.md): one LISTENING line, exit on SIGTERM or SIGINT."""

import signal
import subprocess
import time

import pytest

from conftest import ServerProcess


@pytest.mark.parametrize("how", ["sigint", "sigterm"])
def test_server_exits(how):
    p = ServerProcess()
    try:
        t = time.monotonic()
        p.proc.send_signal(signal.SIGINT if how == "sigint" else signal.SIGTERM)
        try:
            code = p.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the server did not exit within 5 s after {how}")
        assert time.monotonic() - t < 5
        assert code == 0, f"a graceful exit after {how}"
    finally:
        p.stop()
