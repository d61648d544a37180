"""`scalelaw app` becomes the Streamlit server (exec), so stopping it stops the server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from scalelaw.cli import main

REPO = Path(__file__).resolve().parents[1]


def test_app_execs_streamlit_in_place(monkeypatch):
    calls = []
    monkeypatch.setattr(os, "execv", lambda path, argv: calls.append((path, argv)))
    assert main(["app", "--port", "8765"]) == 0
    (path, argv), = calls
    assert path == sys.executable
    assert argv[:4] == [sys.executable, "-m", "streamlit", "run"]
    assert Path(argv[4]) == REPO / "app" / "streamlit_app.py"
    assert argv[5:] == ["--server.port", "8765"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc and sends SIGTERM")
def test_sigterm_stops_the_server(tmp_path):
    pytest.importorskip("streamlit")
    port = _free_port()
    env = dict(os.environ, STREAMLIT_SERVER_HEADLESS="true", STREAMLIT_SERVER_ADDRESS="127.0.0.1",
               STREAMLIT_BROWSER_GATHER_USAGE_STATS="false", STREAMLIT_SERVER_FILE_WATCHER_TYPE="none",
               PYTHONPATH=str(REPO))
    log = open(tmp_path / "app.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "scalelaw", "app", "--port", str(port)], cwd=tmp_path,
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "app.log").read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                    if r.read().strip() == b"ok":
                        break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("the app did not answer within 180 s:\n" + (tmp_path / "app.log").read_text())
        # the process we started is the server itself, with no child of its own
        assert b"streamlit" in Path(f"/proc/{proc.pid}/cmdline").read_bytes()
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
        if children.exists():
            assert children.read_text().strip() == ""
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        time.sleep(0.5)
        assert not _listening(port), "something still serves on the app's port after SIGTERM"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
