"""BLAS on one thread while a fit's small numerics run.

A fit makes thousands of tiny BLAS calls: the start search's and Levenberg-Marquardt's batched
``(K, p, n) @ (K, n, p)`` products and ``(K, p, p)`` solves, and L-BFGS-B's vector operations. On
matrices this small a threaded BLAS (OpenBLAS's default: one thread per core) can only add
synchronisation, and its idle threads wait (OpenBLAS's spin) on cores that a busy machine needs
for the fit itself. Measured: multi_power on data/cpu_schedules d2-32 constant + cosine took 12.5 s (3.6 s) with BLAS
threads at their default on a shared 2-core machine against 7.1 s (1.7 s) with one, with the
same result to the bit; chinchilla, power_law + bootstrap + calibration, lr_annealing and a
60,000-row fit ran within noise either way (benchmarks/bench_blas_threads.py).

:func:`one_blas_thread` limits every loaded BLAS (numpy's and scipy's) to one thread for the
duration of a ``with`` block, through threadpoolctl, and restores the previous setting after.
The limit changes where the work runs, not the formulas: on every fit measured the results were
identical to the bit with and without it (benchmark above; tests/test_blas_threads.py checks it).
That is measured, not guaranteed for every size: a threaded BLAS may split a long dot product
into partial sums and add them in another order.

BLAS's thread count is process-wide, so nested and concurrent blocks (``scalelaw serve`` fits in
a thread pool) share one limit: the first block to enter sets it, the last to leave restores it
(a depth count under a lock). threadpoolctl is a declared dependency; an install without it only
runs slower (the block does nothing).
"""

from __future__ import annotations

import contextlib
import threading

# Fits whose rows x free parameters exceed this keep BLAS's own thread count (None: no fit does).
# The largest fit measured (benchmarks/bench_blas_threads.py: 60,000 rows x 3 parameters, 180,000
# cells, + bootstrap) ran within 0-6% either way on 2 cores; above 1e6 cells nothing was measured,
# and on a many-core machine a large product may gain from threads, so those keep the default.
MAX_CELLS: float | None = 1e6

_lock = threading.Lock()
_depth = 0
_limiter = None
_controller = None


def _limit():
    """threadpoolctl's limiter holding every BLAS at one thread (already applied), or None.

    The controller (threadpoolctl's scan of the loaded libraries, ~2 ms here) is made once and
    kept: a limit from it then costs ~10 us, where ``threadpool_limits`` rescans every time (a
    fit + bootstrap(300) + calibration applies the limit only ~4 times, but callers that refit in
    a loop, one batched_lm at a time, would pay the scan on each)."""
    global _controller
    if _controller is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # an older install without the dependency: only slower
            return None
        import scipy.optimize  # noqa: F401 - load scipy's own BLAS (L-BFGS-B's) so that the scan finds it too

        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")


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
