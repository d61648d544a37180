"""One BLAS thread inside a fit's numerics (scalelaw.blas_threads): active inside, restored
after, nested blocks restore once, big problems keep BLAS's threads, the results do not change."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

threadpoolctl = pytest.importorskip("threadpoolctl")

import scalelaw as sl  # noqa: E402
from scalelaw import blas_threads as threads  # noqa: E402
from scalelaw.fitting import search as search_mod  # noqa: E402
from scalelaw.fitting import solver  # noqa: E402


def blas_threads() -> list[int]:
    return [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]


@pytest.fixture
def two_threads():
    """BLAS at two threads around the test (so that a limit to one is visible), restored after."""
    import scipy.optimize  # noqa: F401 - scipy's own BLAS loaded, as in a fit

    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        if not blas_threads() or min(blas_threads()) != 2:
            pytest.skip(f"BLAS would not take two threads here: {blas_threads()}")
        yield


def curves(n_runs=6, per=60, seed=0):
    rng = np.random.default_rng(seed)
    steps = np.tile(np.arange(1, per + 1), n_runs)
    loss = (2.0 + (300.0 / steps) ** 0.5) * np.exp(rng.normal(0, 0.01, len(steps)))
    return pd.DataFrame({"run": np.repeat([f"r{i}" for i in range(n_runs)], per), "step": steps, "loss": loss})


def test_limit_active_in_fit_and_bootstrap_and_restored_after(two_threads, monkeypatch):
    seen = {"multistart": [], "lm": []}
    real_multistart, real_lm = search_mod.multistart, solver._batched_lm

    def multistart(*a, **k):
        seen["multistart"].append(blas_threads())
        return real_multistart(*a, **k)

    def lm(*a, **k):
        seen["lm"].append(blas_threads())
        return real_lm(*a, **k)

    monkeypatch.setattr(search_mod, "multistart", multistart)
    monkeypatch.setattr(solver, "_batched_lm", lm)
    f = sl.fit("power_law", curves(), inputs={"x": "step"})
    assert seen["multistart"] and all(set(t) == {1} for t in seen["multistart"])
    assert blas_threads() == [2] * len(blas_threads())  # restored after the fit
    seen["lm"].clear()
    f.bootstrap(20, seed=0, calibrate=False)  # the bootstrap's refits: batched_lm outside any fit
    assert seen["lm"] and all(set(t) == {1} for t in seen["lm"])
    assert min(blas_threads()) == 2


def test_nested_blocks_restore_once_and_large_problems_keep_threads(two_threads, monkeypatch):
    with threads.one_blas_thread():
        with threads.one_blas_thread(cells=10):
            assert set(blas_threads()) == {1}
        assert set(blas_threads()) == {1}  # the inner block did not restore the outer's limit
    assert set(blas_threads()) == {2}
    monkeypatch.setattr(threads, "MAX_CELLS", 1_000)
    with threads.one_blas_thread(cells=1_001):
        assert set(blas_threads()) == {2}
    with threads.one_blas_thread(cells=1_000):
        assert set(blas_threads()) == {1}
    assert set(blas_threads()) == {2}


def test_restored_after_an_error(two_threads, monkeypatch):
    def fails(*a, **k):
        assert set(blas_threads()) == {1}
        raise RuntimeError("inside the search")

    monkeypatch.setattr(search_mod, "multistart", fails)
    with pytest.raises(RuntimeError, match="inside the search"):
        sl.fit("power_law", curves(), inputs={"x": "step"})
    assert set(blas_threads()) == {2} and threads._depth == 0


def test_results_identical_with_and_without_the_limit(two_threads, monkeypatch):
    data = curves()
    out = {}
    for limit in (None, -1.0):  # None: one thread for every fit; -1: none limited
        monkeypatch.setattr(threads, "MAX_CELLS", limit)
        f = sl.fit("power_law", data, inputs={"x": "step"}).bootstrap(30, seed=0, calibrate=False)
        out[limit] = (f.objective, f.draws.to_numpy())
    (f1, d1), (f0, d0) = out[None], out[-1.0]
    assert abs(f1 - f0) <= 1e-12 * abs(f0)
    np.testing.assert_allclose(d1, d0, rtol=1e-12, atol=0)


def test_without_threadpoolctl_only_slower(monkeypatch):
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # import fails as if not installed
    monkeypatch.setattr(threads, "_controller", None)  # as in a fresh process
    with threads.one_blas_thread():
        assert threads._limiter is None  # nothing limited, nothing to restore
    assert threads._depth == 0
