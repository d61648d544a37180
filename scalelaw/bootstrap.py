"""Bootstrap resampling designs for scaling-law fits, and the batched refit of all resamples.

Points of one training run are not independent (they share a model, a seed and a data order), so
resampling points would understate the uncertainty. We resample what is independent:

- ``"runs"``: whole runs with replacement, when there are at least 5 runs;
- ``"block"``: a moving-block bootstrap over steps within each run (blocks of about m^(1/3)
  consecutive points), when runs are fewer but have many steps (e.g. lr_annealing curves);
- ``"rows"``: rows with replacement, for a plain table of points without a ``run`` column.

A resample is an integer count per row, so every resample is the same weighted objective and all
of them are refitted together (see :func:`scalelaw.fitting.solver.batched_lm`), warm-started at
the best fit.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

METHODS = ("auto", "runs", "block", "rows")


def choose_method(table: pd.DataFrame) -> str:
    if "run" not in table.columns:
        return "rows"
    runs = table["run"]
    if runs.nunique() >= 5:
        return "runs"
    if "step" in table.columns and runs.value_counts().max() > 1:
        return "block"
    return "rows"


def resample_counts(table: pd.DataFrame, n: int, rng: np.random.Generator, method: str = "auto"):
    """Integer counts ``(n, len(table))``: how often each row appears in each resample."""
    if method not in METHODS:
        raise ValueError(f"bootstrap method must be one of {', '.join(METHODS)}; got {method!r}")
    if method == "auto":
        method = choose_method(table)
    rows = len(table)
    if method == "rows":
        return rng.multinomial(rows, np.full(rows, 1.0 / rows), size=n), method
    if "run" not in table.columns:
        raise ValueError(f"bootstrap method {method!r} needs a 'run' column")
    codes, uniques = pd.factorize(table["run"])
    if method == "runs":
        picks = rng.integers(0, len(uniques), size=(n, len(uniques)))
        run_counts = np.stack([np.bincount(p, minlength=len(uniques)) for p in picks])
        return run_counts[:, codes], method
    if "step" not in table.columns:
        raise ValueError("bootstrap method 'block' needs a 'step' column")
    counts = np.zeros((n, rows), dtype=np.int64)
    steps = table["step"].to_numpy()
    for code in range(len(uniques)):
        members = np.flatnonzero(codes == code)
        members = members[np.argsort(steps[members], kind="stable")]
        m = len(members)
        L = max(1, int(round(m ** (1.0 / 3.0))))
        n_blocks = -(-m // L)
        starts = rng.integers(0, m - L + 1, size=(n, n_blocks))
        idx = (starts[:, :, None] + np.arange(L)[None, None, :]).reshape(n, -1)[:, :m]
        for b in range(n):
            counts[b] += np.bincount(members[idx[b]], minlength=rows)
    return counts, method


def refit_resamples(
    pred_fn: Callable,
    theta_best: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray,
    counts: np.ndarray,
    loss: str,
    delta: float,
    lo: np.ndarray,
    hi: np.ndarray,
    progress: Callable[[int, int], None] | None = None,
):
    """Refit every resample (batched LM, warm-started). Returns thetas ``(B, p)`` and a failed mask."""
    from scalelaw.fitting.solver import batched_lm

    B, n = counts.shape
    p = len(theta_best)
    chunk = max(1, int(2e7 // max(1, n * (p + 2))))
    thetas = np.empty((B, p))
    failed = np.zeros(B, dtype=bool)
    for start in range(0, B, chunk):
        stop = min(B, start + chunk)
        W = counts[start:stop] * weights[None, :]
        theta0 = np.repeat(theta_best[None, :], stop - start, axis=0)
        res = batched_lm(pred_fn, theta0, y, W, loss, delta, lo, hi)
        thetas[start:stop] = res.theta
        failed[start:stop] = ~np.isfinite(res.objective)
        if progress is not None:
            progress(stop, B)
    return thetas, failed
