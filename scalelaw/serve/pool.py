"""Fit worker processes: fits run outside the server process, under a time limit.

A fit is CPU-bound for seconds (a bootstrap for longer) and holds the GIL; run in the server it
would stall every prediction. So each server process keeps ``n`` warm worker processes
(started with ``spawn``, the fitting stack already imported) and sends them jobs over a pipe.
The wait for an answer happens in a thread, so the event loop stays free; a job that passes
the time limit gets its worker killed (SIGKILL: a fit cannot be interrupted politely from
outside) and a fresh worker takes its place. A worker that dies (out of memory, a crash) is
replaced the same way. Jobs beyond ``max_queued`` waiting for a worker are refused with 429.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import signal
import threading
import time

from scalelaw.serve.errors import ApiError

_READY = "ready"


def _worker_main(conn, nice: int = 0) -> None:
    """Entry point of a worker process: import the fitting stack once, then serve jobs."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the server, which stops us
    if nice:
        # fits are batch work: on a shared machine the server's predictions come first
        os.nice(nice)
    import scalelaw.api  # noqa: F401  (warm: the first fit should not pay the imports)
    import scalelaw.io  # noqa: F401
    from scalelaw.serve.jobs import run_job

    conn.send(_READY)
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return  # the server went away (even by kill -9): exit with it
        conn.send(run_job(job))


class _Worker:
    def __init__(self, ctx, nice: int = 0):
        parent, child = ctx.Pipe(duplex=True)
        self.conn = parent
        self.process = ctx.Process(target=_worker_main, args=(child, nice), name="scalelaw-fit-worker",
                                   daemon=True)
        self.process.start()
        child.close()

    def wait_ready(self, timeout: float) -> bool:
        try:
            return self.conn.poll(timeout) and self.conn.recv() == _READY
        except (EOFError, OSError):
            return False

    def call(self, job: dict, timeout: float) -> dict | None:
        """The job's answer, or None if the worker passed ``timeout`` or died."""
        try:
            self.conn.send(job)
            if not self.conn.poll(timeout):
                return None
            return self.conn.recv()
        except (EOFError, OSError):
            return None

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()


class FitPool:
    """``await pool.run(job, timeout)`` runs a job in a worker process and returns its answer dict."""

    def __init__(self, n_workers: int = 1, max_queued: int = 16, metrics=None, ready_timeout: float = 120.0,
                 nice: int = 10):
        self.n_workers = n_workers
        self.nice = nice
        self.max_queued = max_queued
        self.metrics = metrics
        self.ready_timeout = ready_timeout
        self._ctx = mp.get_context("spawn")  # never fork a process that runs threads and an event loop
        self._idle: asyncio.Queue | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._all: set = set()
        self._lock = threading.Lock()
        self._closed = False
        self.queued = 0
        self.running = 0

    # ---- life cycle --------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._idle = asyncio.Queue()
        for _ in range(self.n_workers):
            self._spawn()

    def _spawn(self) -> None:
        """Start a worker; it joins the idle queue once it has imported the fitting stack."""
        def boot():
            while not self._closed:
                worker = _Worker(self._ctx, self.nice)
                with self._lock:
                    self._all.add(worker)
                if worker.wait_ready(self.ready_timeout):
                    self._loop.call_soon_threadsafe(self._idle.put_nowait, worker)
                    return
                self._discard(worker)
                time.sleep(1.0)  # a worker that cannot start: retry, slowly

        threading.Thread(target=boot, name="scalelaw-fit-worker-boot", daemon=True).start()

    def _discard(self, worker: _Worker) -> None:
        worker.kill()
        with self._lock:
            self._all.discard(worker)

    async def close(self) -> None:
        self._closed = True
        with self._lock:
            workers = list(self._all)
        for w in workers:
            w.kill()

    @property
    def ready(self) -> int:
        return self._idle.qsize() if self._idle is not None else 0

    # ---- jobs --------------------------------------------------------------------------------
    async def run(self, job: dict, timeout: float) -> dict:
        if self.queued >= self.max_queued:
            raise ApiError(429, f"{self.queued} fits are already waiting for a worker (limit {self.max_queued}, "
                           "SCALELAW_MAX_QUEUED_FITS); retry later", None, "busy", headers={"Retry-After": "5"})
        self.queued += 1
        try:
            worker = await self._idle.get()
            while not worker.process.is_alive():
                # it died while idle (killed, out of memory): replace it rather than fail this job
                self._replace(worker)
                worker = await self._idle.get()
        finally:
            self.queued -= 1
        self.running += 1
        t0 = time.perf_counter()
        fut = self._loop.run_in_executor(None, worker.call, job, timeout)
        try:
            answer = await asyncio.shield(fut)
        except asyncio.CancelledError:
            # the client went away: the worker still finishes (or times out) and is then recycled
            fut.add_done_callback(lambda f: self._recycle(worker, f.result(), t0, timeout))
            raise
        return self._answer(job, timeout, *self._recycle(worker, answer, t0, timeout))

    def _recycle(self, worker, answer, t0: float, timeout: float):
        """Back to the idle queue after an answer; killed and replaced otherwise."""
        self.running -= 1
        if answer is not None:
            self._idle.put_nowait(worker)
            return answer, False
        timed_out = worker.process.is_alive() and time.perf_counter() - t0 >= timeout * 0.999
        if self.metrics is not None:
            self.metrics.fit_timeouts += int(timed_out)
        self._replace(worker)
        return None, timed_out

    def _replace(self, worker) -> None:
        """Kill (if still alive) and forget ``worker``, and start a fresh one in its place."""
        threading.Thread(target=self._discard, args=(worker,), daemon=True).start()
        if self.metrics is not None:
            self.metrics.fit_worker_restarts += 1
        self._spawn()

    @staticmethod
    def _answer(job: dict, timeout: float, answer, timed_out: bool) -> dict:
        if answer is not None:
            return answer
        if timed_out:
            raise ApiError(422, f"the {job['kind']} ran longer than this server's limit of {timeout:g} s "
                           "(SCALELAW_FIT_TIMEOUT) and was stopped; fit fewer points or bootstrap resamples, "
                           "or raise the limit", "timeout", "fit_timeout")
        raise ApiError(500, f"the worker process running the {job['kind']} died (out of memory?); "
                       "it has been replaced", None, "worker_died")
