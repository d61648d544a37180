"""Load test of ``scalelaw serve`` on loopback: latency at a fixed offered rate, throughput, big predictions.

Starts ``python -m scalelaw serve`` on a free 127.0.0.1 port with a fresh store, stores a
chinchilla fit of the bundled ``data/cpu_decoder_sizes`` (with bootstrap draws), then measures:

1. single-point predict latency (p50/p99) at a fixed offered rate (default 200 requests/s,
   open loop: latency counts from the scheduled send time, so a stall is not hidden) while a
   long fit (a big bootstrap) runs in the server's fit worker, and the same with no fit (the
   baseline: on a shared machine much of the tail is the machine's);
2. closed-loop throughput of single-point predicts with no fit running (C connections, each
   sending its next request as soon as the last is answered), beside GET /healthz, the HTTP
   stack's floor, and the library's own in-process ``fit.predict`` (the baselines, same process);
3. 10,000-point predicts, sequentially (latency), without and with a 90% interval;
4. a mixed phase: C clients of 1-point predicts, one client of 10,000-point predicts and
   fits posted back to back, for a fixed time; errors counted; every acknowledged fit is then
   checked in the store.

The load generator is a small asyncio HTTP/1.1 keep-alive client in this process; on a 2-core
machine it shares the cores with the server and the fit worker, so the figures are a floor for
a server with cores of its own. Bounded: each phase runs a fixed time or count.

Run: ``python benchmarks/bench_serve.py`` (``--quick`` for a short run; ``--rate``, ``--seconds``,
``--connections`` change the load).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import scalelaw as sl  # noqa: E402

INPUTS = {"N": "n_params", "D": "n_tokens"}


# ---- a minimal keep-alive HTTP/1.1 client (low overhead, so the server is what is measured) ----
class Conn:
    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def open(self):
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self):
        if self.writer is not None:
            self.writer.close()

    async def call(self, raw: bytes) -> tuple[int, bytes]:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        body = await self.reader.readexactly(length) if length else b""
        return status, body


def request_bytes(method: str, path: str, body=None, host="127.0.0.1") -> bytes:
    payload = b"" if body is None else json.dumps(body).encode()
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(payload)}\r\n"
    if body is not None:
        head += "Content-Type: application/json\r\n"
    return (head + "\r\n").encode() + payload


def pct(values, q) -> float:
    return float(np.percentile(np.asarray(values) * 1e3, q)) if len(values) else float("nan")


async def closed_loop(port, raw: bytes, connections: int, seconds: float) -> dict:
    """Each connection sends its next request as soon as the last is answered."""
    conns = [Conn("127.0.0.1", port) for _ in range(connections)]
    await asyncio.gather(*(c.open() for c in conns))
    lat, errors = [], 0
    end = time.perf_counter() + seconds

    async def worker(c):
        nonlocal errors
        while time.perf_counter() < end:
            t0 = time.perf_counter()
            status, _ = await c.call(raw)
            lat.append(time.perf_counter() - t0)
            errors += status >= 400

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in conns))
    wall = time.perf_counter() - t0
    for c in conns:
        c.close()
    return {"n": len(lat), "per_s": len(lat) / wall, "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99),
            "errors": errors}


async def open_loop(port, raw: bytes, rate: float, seconds: float, pool: int = 32) -> dict:
    """Requests sent at fixed times (rate per second) over a pool of connections; latency from the
    scheduled time, so time spent waiting for a free connection or a stalled server counts."""
    conns = [Conn("127.0.0.1", port) for _ in range(pool)]
    await asyncio.gather(*(c.open() for c in conns))
    free: asyncio.Queue = asyncio.Queue()
    for c in conns:
        free.put_nowait(c)
    lat, errors, tasks = [], 0, []
    start = time.perf_counter() + 0.05
    n = int(rate * seconds)

    async def one(when):
        nonlocal errors
        c = await free.get()
        try:
            status, _ = await c.call(raw)
        finally:
            free.put_nowait(c)
        lat.append(time.perf_counter() - when)
        errors += status >= 400

    for i in range(n):
        when = start + i / rate
        delay = when - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(when)))
    await asyncio.gather(*tasks)
    for c in conns:
        c.close()
    achieved = n / (time.perf_counter() - start)
    return {"n": n, "offered_per_s": rate, "achieved_per_s": achieved, "p50_ms": pct(lat, 50),
            "p99_ms": pct(lat, 99), "max_ms": float(np.max(lat) * 1e3), "errors": errors}


async def sequential(port, raw: bytes, count: int) -> dict:
    c = Conn("127.0.0.1", port)
    await c.open()
    lat, errors, size = [], 0, 0
    for _ in range(count):
        t0 = time.perf_counter()
        status, body = await c.call(raw)
        lat.append(time.perf_counter() - t0)
        errors += status >= 400
        size = len(body)
    c.close()
    return {"n": count, "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99), "max_ms": float(np.max(lat) * 1e3),
            "errors": errors, "response_bytes": size}


# ---- the server -----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), to report CPU per request independently
    of how busy the shared machine is."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_server(store: Path, port: int, log: Path, fit_timeout: float) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCALELAW_")}
    # the long fit of phase 1 is stopped by the time limit just after the phase: bounded either way
    env.update(PYTHONPATH=str(ROOT), SCALELAW_MAX_BOOTSTRAP="1000000", SCALELAW_FIT_TIMEOUT=str(fit_timeout))
    proc = subprocess.Popen([sys.executable, "-m", "scalelaw", "serve", "--port", str(port), "--store", str(store),
                             "--log-level", "warning"], cwd=ROOT, env=env, stdout=open(log, "wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                if json.load(r)["fit_workers_ready"] >= 1:
                    return proc
        except OSError:
            time.sleep(0.2)
    raise SystemExit("server did not start in 120 s")


def post_fit(url: str, body: dict) -> tuple[int, dict]:
    req = urllib.request.Request(url + "/fits", data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=900) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rate", type=float, default=200.0, help="offered single-point predicts per second")
    p.add_argument("--seconds", type=float, default=10.0, help="length of each timed phase")
    p.add_argument("--connections", type=int, default=8, help="closed-loop connections")
    p.add_argument("--quick", action="store_true", help="3-second phases")
    args = p.parse_args(argv)
    seconds = 3.0 if args.quick else args.seconds

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        points = sl.final_points(sl.read_logs(ROOT / "data" / "cpu_decoder_sizes"), split="val")
    data = {c: points[c].tolist() for c in ("run", "n_params", "n_tokens", "loss")}
    tmp = Path(tempfile.mkdtemp(prefix="bench_serve_"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_server(tmp / "store", port, tmp / "server.log", fit_timeout=seconds + 8)
    try:
        # the served fit: fitted and bootstrapped here, stored with PUT (the fit time limit is short)
        local = sl.fit("chinchilla", points, inputs=INPUTS, target="loss").bootstrap(1000, seed=0)
        req = urllib.request.Request(f"{url}/fits/sizes", data=json.dumps(local.to_dict()).encode(), method="PUT",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=120) as r:
            assert r.status == 201
        fid = "sizes"
        one = request_bytes("POST", f"/fits/{fid}/predict", {"X": {"N": 7e10, "D": 1.4e12}})
        health = request_bytes("GET", "/healthz")
        rng = np.random.default_rng(0)
        X10k = {"N": np.geomspace(1e5, 1e10, 10_000).tolist(), "D": rng.uniform(1e7, 1e12, 10_000).tolist()}
        big = request_bytes("POST", f"/fits/{fid}/predict", {"X": X10k})
        big_ci = request_bytes("POST", f"/fits/{fid}/predict", {"X": X10k, "level": 0.9})

        # baseline: the library in this process
        n = 2000
        t0 = time.perf_counter()
        for _ in range(n):
            local.predict({"N": 7e10, "D": 1.4e12}, warn=False)
        lib_us = (time.perf_counter() - t0) / n * 1e6
        t0 = time.perf_counter()
        for _ in range(20):
            local.predict(X10k, warn=False)
        lib10k_ms = (time.perf_counter() - t0) / 20 * 1e3

        asyncio.run(closed_loop(port, one, 2, 1.0))  # warm-up
        results = {}

        # 0. the same offered rate with no fit running: the baseline of phase 1 (on a shared machine
        # much of the tail is the machine's, not the service's)
        results["predict_1pt_at_rate_no_fit"] = asyncio.run(open_loop(port, one, args.rate, seconds))

        # 1. latency at a fixed offered rate while a long fit runs beside it
        fit_done = {}
        long_fit = {"law": "chinchilla", "data": data, "inputs": INPUTS, "bootstrap": 20_000, "name": "long"}
        t = threading.Thread(target=lambda: fit_done.update(zip(("status", "answer"), post_fit(url, long_fit))))
        t.start()
        time.sleep(1.0)  # the fit is in the worker now
        r = asyncio.run(open_loop(port, one, args.rate, seconds))
        r["fit_still_running_at_end"] = t.is_alive()
        results["predict_1pt_at_rate_during_fit"] = r
        t.join()
        results["long_fit_status"] = fit_done.get("status")  # 422: stopped at the time limit, as it should be

        # 2. closed-loop throughput, no fit running, against the HTTP floor and the library
        results["health_closed_loop"] = asyncio.run(closed_loop(port, health, args.connections, seconds))
        cpu0 = cpu_seconds(proc.pid)
        results["predict_1pt_closed_loop"] = asyncio.run(closed_loop(port, one, args.connections, seconds))
        results["server_cpu_us_per_1pt_predict"] = (cpu_seconds(proc.pid) - cpu0) / \
            results["predict_1pt_closed_loop"]["n"] * 1e6
        results["library_predict_1pt_us"] = lib_us

        # 3. 10,000-point predictions
        cpu0 = cpu_seconds(proc.pid)
        results["predict_10k"] = asyncio.run(sequential(port, big, 30))
        results["server_cpu_ms_per_10k_predict"] = (cpu_seconds(proc.pid) - cpu0) / 30 * 1e3
        results["predict_10k_with_90pct_interval"] = asyncio.run(sequential(port, big_ci, 10))
        results["library_predict_10k_ms"] = lib10k_ms

        # 4. mixed: 1-point and 10k-point clients with fits posted back to back
        acked, fit_errors, stop = [], [], threading.Event()

        def fitter():
            i = 0
            while not stop.is_set():
                s, a = post_fit(url, {"law": "chinchilla", "data": data, "inputs": INPUTS, "seed": i,
                                      "name": f"mixed-{i}"})
                (acked.append(a["id"]) if s == 201 else fit_errors.append(s))
                i += 1

        ft = threading.Thread(target=fitter)
        ft.start()

        async def mixed():
            return await asyncio.gather(closed_loop(port, one, args.connections, seconds),
                                        closed_loop(port, big, 1, seconds))

        small, large = asyncio.run(mixed())
        stop.set()
        ft.join()
        with urllib.request.urlopen(f"{url}/fits?limit=1000") as r:
            stored = {f["id"] for f in json.load(r)["fits"]}
        results["mixed"] = {"predict_1pt": small, "predict_10k": large, "fits_acknowledged": len(acked),
                            "fit_errors": len(fit_errors), "fits_lost": len([a for a in acked if a not in stored])}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)

    r0, r1 = results["predict_1pt_at_rate_no_fit"], results["predict_1pt_at_rate_during_fit"]
    r2, rh = results["predict_1pt_closed_loop"], results["health_closed_loop"]
    b, bc = results["predict_10k"], results["predict_10k_with_90pct_interval"]
    m = results["mixed"]
    print(f"machine: {os.cpu_count()} CPUs (shared), load average {os.getloadavg()[0]:.1f} at the end; load "
          f"generator in this process; {seconds:g} s phases; long fit answered {results['long_fit_status']}")
    print(f"1. single-point predict at {r1['offered_per_s']:.0f}/s offered ({r1['achieved_per_s']:.0f}/s achieved) "
          f"while a fit runs (still running at the end: {r1['fit_still_running_at_end']}): "
          f"p50 {r1['p50_ms']:.2f} ms, p99 {r1['p99_ms']:.2f} ms, max {r1['max_ms']:.1f} ms, "
          f"errors {r1['errors']}/{r1['n']}   [goal p99 < 20 ms]")
    print(f"   the same rate with no fit: p50 {r0['p50_ms']:.2f} ms, p99 {r0['p99_ms']:.2f} ms, max {r0['max_ms']:.1f} ms, "
          f"errors {r0['errors']}/{r0['n']}; p99 during fit / no fit = {r1['p99_ms'] / r0['p99_ms']:.2f}")
    print(f"2. closed loop, {args.connections} connections, no fit: single-point predict {r2['per_s']:.0f}/s "
          f"(p50 {r2['p50_ms']:.2f} ms, p99 {r2['p99_ms']:.2f} ms, errors {r2['errors']}); GET /healthz "
          f"{rh['per_s']:.0f}/s; predict/healthz = {r2['per_s'] / rh['per_s']:.2f}   [goal >= 1,000/s]")
    cpu1 = results["server_cpu_us_per_1pt_predict"]
    print(f"   server CPU per single-point predict {cpu1:.0f} us (one free core: ~{1e6 / cpu1:.0f}/s); library "
          f"fit.predict in this process {results['library_predict_1pt_us']:.0f} us a call "
          f"(server CPU / library = {cpu1 / results['library_predict_1pt_us']:.1f}x)")
    print(f"3. 10,000-point predict: p50 {b['p50_ms']:.1f} ms, p99 {b['p99_ms']:.1f} ms ({b['response_bytes']} "
          f"bytes; server CPU {results['server_cpu_ms_per_10k_predict']:.1f} ms), library "
          f"{results['library_predict_10k_ms']:.2f} ms; with a 90% interval over 1,000 draws: "
          f"p50 {bc['p50_ms']:.0f} ms; errors {b['errors'] + bc['errors']}   [goal < 100 ms]")
    s, lg = m["predict_1pt"], m["predict_10k"]
    print(f"4. mixed: 1-point {s['per_s']:.0f}/s (p50 {s['p50_ms']:.2f} ms, p99 {s['p99_ms']:.2f} ms), "
          f"10k-point {lg['per_s']:.1f}/s (p50 {lg['p50_ms']:.0f} ms, p99 {lg['p99_ms']:.0f} ms), "
          f"fits {m['fits_acknowledged']} acknowledged, {m['fit_errors']} refused, {m['fits_lost']} lost; "
          f"errors {s['errors'] + lg['errors']}")
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
