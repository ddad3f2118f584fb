"""A realistic python-socketio program (programs/lobby.py) runs on ferrio with only its server switch
changed: the official JS client (programs/driver.mjs) plays the same scripted session against it on
python-socketio (under uvicorn) and on ferrio, over WebSocket only and over polling only, and every named
check passes on both."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

import pytest

HERE = pathlib.Path(__file__).resolve().parent
PROGRAMS = HERE / "programs"
PROGRAM = PROGRAMS / "lobby.py"
DRIVER = PROGRAMS / "driver.mjs"
SERVERS = ["python-socketio", "ferrio"]
TRANSPORTS = ["websocket", "polling"]
#: How many named checks the driver makes; every run must pass all of them.
CHECKS = 125

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is needed to run the socket.io-client driver")

#: (server, transport) -> {"passed": [...], "failed": [...]}, filled by the runs, compared at the end.
RESULTS: dict[tuple[str, str], dict[str, list[str]]] = {}


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(3)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.fixture(params=SERVERS)
def program(request, tmp_path):
    """lobby.py on one server library, on a free port; yields (server, url, logs)."""
    out, err = tmp_path / "stdout.log", tmp_path / "stderr.log"
    env = dict(os.environ, LOBBY_SERVER=request.param, LOBBY_PORT="0", PYTHONUNBUFFERED="1")
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        proc = subprocess.Popen([sys.executable, str(PROGRAM)], cwd=PROGRAMS, env=env, stdout=stdout,
                                stderr=stderr)
    try:
        deadline = time.monotonic() + 20
        port = None
        while port is None:
            for line in out.read_text(errors="replace").splitlines():
                if line.startswith("LISTENING "):
                    port = int(line.split()[1])
            if port is None:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"lobby.py on {request.param} did not start:\n{err.read_text(errors='replace')}")
                time.sleep(0.05)
        yield request.param, f"http://127.0.0.1:{port}", err
    finally:
        _stop(proc)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_the_lobby_program(program, transport):
    server, url, server_errors = program
    try:
        run = subprocess.run([NODE, str(DRIVER), "--url", url, "--transport", transport], cwd=PROGRAMS,
                             capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"the driver did not finish on {server} over {transport}: {e.stdout}")
    lines = run.stdout.splitlines()
    results = [json.loads(line[len("RESULT "):]) for line in lines if line.startswith("RESULT ")]
    assert results, f"the driver printed no RESULT line:\n{run.stdout}\n{run.stderr}"
    result = results[-1]
    RESULTS[(server, transport)] = result
    report = "\n".join(line for line in lines if not line.startswith("RESULT "))
    assert result["failed"] == [], (
        f"{server} over {transport}:\n{report}\n--- program stderr:\n{server_errors.read_text(errors='replace')[-4000:]}"
    )
    assert len(result["passed"]) == CHECKS, report
    assert run.returncode == 0, report


def test_the_same_checks_pass_on_both():
    for transport in TRANSPORTS:
        runs = [RESULTS.get((server, transport)) for server in SERVERS]
        if None in runs:
            pytest.skip("needs the four runs of test_the_lobby_program")
        reference, ferrio = runs
        assert sorted(ferrio["passed"]) == sorted(reference["passed"]), transport
