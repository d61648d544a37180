"""BLAS on one thread while a fit's small numerics run.

A fit makes thousands of tiny BLAS calls: the start search's and Levenberg-Marquardt's batched
``(K, p, n) @ (K, n, p)`` products and ``(K, p, p)`` solves, and L-BFGS-B's vector operations. On
matrices this small a threaded BLAS (OpenBLAS's default: one thread per core) only adds
synchronisation, and its waiting threads spin on cores that a busy machine needs for the fit
itself: multi_power on data/cpu_schedules d2-32 constant + cosine took 7-13 s with BLAS threads
left at their default on a shared 2-core machine against 3.5 s with one (benchmarks/
bench_blas_threads.py has the measurements behind the rule below).

:func:`one_blas_thread` limits every loaded BLAS (numpy's and scipy's) to one thread for the
duration of a ``with`` block, through threadpoolctl, and restores the previous setting after.
The limit changes where the work runs, never the arithmetic: OpenBLAS's kernels for these
operations give the same bits on one thread as on several (checked to be identical in
tests/test_blas_threads.py).

BLAS's thread count is process-wide, so nested and concurrent blocks (``scalelaw serve`` fits in
a thread pool) share one limit: the first block to enter sets it, the last to leave restores it
(a depth count under a lock). threadpoolctl is a declared dependency; an install without it only
runs slower (the block does nothing).
"""

from __future__ import annotations

import contextlib
import threading

# Fits whose rows x free parameters exceed this keep BLAS's own thread count (None: no fit does).
# Chosen from benchmarks/bench_blas_threads.py: see its docstring for the rule and the figures.
MAX_CELLS: float | None = None

_lock = threading.Lock()
_depth = 0
_limiter = None


def _limit():
    """threadpoolctl's limiter holding every BLAS at one thread (already applied), or None."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # an older install without the dependency: only slower
        return None
    import scipy.optimize  # noqa: F401 - load scipy's own BLAS (L-BFGS-B's) so that the limit covers it too

    return threadpool_limits(1, user_api="blas")


@contextlib.contextmanager
def one_blas_thread(cells: float | None = None):
    """Every BLAS on one thread inside the block; ``cells`` (rows x free parameters) above
    :data:`MAX_CELLS` leaves BLAS's thread count as it is."""
    global _depth, _limiter
    if cells is not None and MAX_CELLS is not None and cells > MAX_CELLS:
        yield
        return
    with _lock:
        if _depth == 0:
            _limiter = _limit()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _limiter is not None:
                _limiter.restore_original_limits()
                _limiter = None
