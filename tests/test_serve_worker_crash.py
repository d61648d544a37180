"""A fit worker that dies (killed, out of memory) under a real ``scalelaw serve``: the fit it was
running gets a clear 500 (``worker_died``), the server keeps answering, a fresh worker takes the
dead one's place, and a worker that died while idle does not fail the next fit."""

from __future__ import annotations

import os
import signal
import threading
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

import scalelaw as sl  # noqa: E402
from scalelaw.client import ServiceError  # noqa: E402
from test_serve_live import INPUTS, TOKEN, Server, points  # noqa: E402,F401  (points: a fixture)

pytestmark = pytest.mark.slow


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        out += [int(c) for c in (task / "children").read_text().split()]
    return out


def _workers(server_pid: int) -> list[int]:
    """The server's fit worker processes (multiprocessing spawn children; not its resource tracker)."""
    found = []
    for pid in _children(server_pid):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except FileNotFoundError:
            continue
        if b"spawn_main" in cmd:
            found.append(pid)
    return found


def _wait_for_workers(srv, n: int, avoid=(), timeout: float = 90.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = [p for p in _workers(srv.proc.pid) if p not in avoid]
        if len(pids) >= n:
            return pids
        time.sleep(0.2)
    raise AssertionError(f"no fit worker appeared in {timeout} s")


def _metric(srv, name: str) -> float:
    req = urllib.request.Request(srv.url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(req) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc to find the worker")
def test_a_worker_killed_mid_fit_gives_a_clear_error_and_is_replaced(tmp_path, points):
    srv = Server(tmp_path / "store", tmp_path / "server.log", SCALELAW_TOKEN=TOKEN, SCALELAW_FIT_NICE=0)
    try:
        c = sl.Client(srv.url, token=TOKEN)
        (first,) = _wait_for_workers(srv, 1)
        errors = []

        def long_fit():
            try:
                c.fit("chinchilla", points, inputs=INPUTS, target="loss", bootstrap=5000)
            except ServiceError as err:
                errors.append(err)

        t = threading.Thread(target=long_fit)
        t.start()
        time.sleep(2.0)                      # the fit is running in the worker
        os.kill(first, signal.SIGKILL)       # a crash, as the kernel's OOM killer would do it
        t.join(timeout=120)
        assert not t.is_alive()
        assert len(errors) == 1, "the killed fit must fail, not hang or succeed"
        assert errors[0].status == 500 and errors[0].code == "worker_died" and "replaced" in str(errors[0])
        assert c.health()["status"] == "ok"
        assert _metric(srv, "scalelaw_fit_worker_restarts_total") == 1

        # the replacement serves fits; then kill it while idle: the next fit still succeeds
        fit = c.fit("chinchilla", points, inputs=INPUTS, target="loss")
        assert set(fit.params) == {"E", "A", "alpha", "B", "beta"}
        (second,) = _wait_for_workers(srv, 1, avoid=(first,))
        os.kill(second, signal.SIGKILL)
        time.sleep(0.5)
        again = c.fit("chinchilla", points, inputs=INPUTS, target="loss")
        assert again.params == pytest.approx(fit.params, rel=1e-9)
        assert _metric(srv, "scalelaw_fit_worker_restarts_total") == 2
    finally:
        srv.stop()
