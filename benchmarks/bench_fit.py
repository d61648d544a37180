"""Fit speed against the method peers use, in the same process (machines are noisy: read ratios).

Problem: Chinchilla's law on Epoch's 240 extracted points (../shared/validation), or, when that
folder is absent, a synthetic Chinchilla-shaped problem of the same size. Baseline: the Hoffmann /
Epoch method, a Python loop of scipy L-BFGS-B (finite-difference gradients) over the 4,500-start
grid, Huber delta 1e-3 on log residuals, summed. By default a random sample of the grid is timed
and the time scaled to 4,500 starts; ``--full`` runs the whole loop.

Usage: python benchmarks/bench_fit.py [--sample 300] [--full] [--bootstrap 1000]

Long curves (issue 12): ``--rows 500000,5000000 --baseline-rows 500000`` fits ``power_law`` to
``x = step`` of 50 noisy runs with that many rows in total, with today's default (the start search
on a 5,000-row subset, the polish on all rows) and, at the baseline sizes, with the search on
every row (``search_rows=None``: the search as it was before the change; it shares the new exact
evaluation once per distinct input row, so if anything it is faster than the old code), in this
process. It prints time, the peak growth of resident memory during the fit (sampled every 20 ms)
and the objectives; at sizes
without a baseline the objective is checked against a polish on all rows started from the
generating parameters. Goals: >= 20x faster at 500k rows, < 60 s and < 3 GB at 5M rows, the same
objective to 1e-6 relative.
"""

from __future__ import annotations

import argparse
import itertools
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import huber

import scalelaw as sl

VALIDATION = Path(__file__).resolve().parents[2] / "shared" / "validation" / "chinchilla_svg_extracted.csv"


def load_problem():
    if VALIDATION.exists():
        df = pd.read_csv(VALIDATION)
        df["n_tokens"] = df["Training FLOP"] / (6 * df["Model Size"])
        df = df.sort_values("loss").iloc[:-5].rename(columns={"Model Size": "n_params"})
        return df[["n_params", "n_tokens", "loss"]].reset_index(drop=True), "Epoch's Chinchilla points"
    rng = np.random.default_rng(0)
    N = np.exp(rng.uniform(np.log(7e7), np.log(1.6e10), 240))
    D = np.exp(rng.uniform(np.log(5e9), np.log(5e11), 240))
    L = (1.82 + 482 / N ** 0.348 + 2085 / D ** 0.366) * np.exp(rng.normal(0, 0.01, 240))
    return pd.DataFrame({"n_params": N, "n_tokens": D, "loss": L}), "synthetic Chinchilla-shaped points"


def peer_objective(theta, logN, logD, logL):
    """Epoch's objective in Hoffmann's parameterisation (e, a, b = log E, log A, log B)."""
    a, b, e, alpha, beta = theta
    pred = np.logaddexp.reduce([a - alpha * logN, b - beta * logD, np.full_like(logN, e)], axis=0)
    return np.sum(huber(1e-3, pred - logL))


def hoffmann_grid():
    return list(itertools.product(np.arange(0, 30, 5), np.arange(0, 30, 5), np.arange(-1, 1.5, 0.5),
                                  np.arange(0, 2.5, 0.5), np.arange(0, 2.5, 0.5)))


def long_curves(n_rows: int, n_runs: int = 50, seed: int = 0) -> pd.DataFrame:
    """``n_runs`` runs logged at steps 1..n_rows/n_runs, L = 2 + (300/step)^0.5 with 2% noise."""
    rng = np.random.default_rng(seed)
    per = n_rows // n_runs
    steps = np.tile(np.arange(1, per + 1), n_runs)
    loss = (2.0 + (300.0 / steps) ** 0.5) * np.exp(rng.normal(0, 0.02, len(steps)))
    return pd.DataFrame({"run": np.repeat([f"r{i}" for i in range(n_runs)], per), "step": steps, "loss": loss})


def _rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def timed_fit(df, **kwargs):
    """(seconds, peak growth of the resident memory during the fit, fit) of one power_law fit of loss
    against step. Memory is sampled every 20 ms by a thread (tracemalloc would slow the fit 4x)."""
    import threading

    base = _rss()
    peak = [base]
    stop = threading.Event()

    def watch():
        while not stop.wait(0.02):
            peak[0] = max(peak[0], _rss())

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    t0 = time.perf_counter()
    fit = sl.fit("power_law", df, inputs={"x": "step"}, **kwargs)
    took = time.perf_counter() - t0
    stop.set()
    thread.join()
    return took, max(peak[0], _rss()) - base, fit


def reference_objective(df, fit) -> float:
    """The objective after polishing on every row from the generating parameters (an independent
    start): the answer of a search that cannot have missed the basin."""
    from scalelaw.fitting.search import make_pred_fn
    from scalelaw.fitting.solver import polish_lbfgsb

    X, y, w = fit._features()
    spec = fit.spec
    pred_fn = make_pred_fn(fit.law, X, fit.info, spec)
    theta = spec.to_theta({"L_inf": np.array([2.0]), "x0": np.array([300.0]), "alpha": np.array([0.5])})
    lo, hi = spec.theta_bounds()
    _, f, _ = polish_lbfgsb(pred_fn, theta[0], y, w, fit.loss, fit.delta, lo, hi)  # ftol 1e-15
    return f


def bench_rows(sizes, baseline_sizes):
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"power_law on x = step, 50 runs; {os.cpu_count()} CPU(s), load average {load:.1f}; "
          "memory = peak RSS growth during the fit")
    timed_fit(long_curves(20_000))  # warm-up
    for n in sizes:
        df = long_curves(n)
        took, peak, fit = timed_fit(df)
        line = (f"{n:>9,} rows  search_rows=5,000: {took:7.2f} s  {peak / 1e9:5.2f} GB  "
                f"objective {fit.objective:.12g}")
        if n in baseline_sizes:
            b_took, b_peak, b_fit = timed_fit(df, search_rows=None)
            rel = (fit.objective - b_fit.objective) / b_fit.objective
            print(line)
            print(f"{n:>9,} rows  search on all rows:  {b_took:7.2f} s  {b_peak / 1e9:5.2f} GB  "
                  f"objective {b_fit.objective:.12g}")
            print(f"{'':>9}       speed ratio {b_took / took:.1f}x, memory ratio {b_peak / peak:.1f}x, "
                  f"objective ours - baseline: {rel:+.2e} relative (goal: >= 20x at 500k, |rel| <= 1e-6)")
        else:
            ref = reference_objective(df, fit)
            print(line)
            print(f"{'':>9}       reference (polished from the true parameters) {ref:.12g}: ours - reference "
                  f"{(fit.objective - ref) / ref:+.2e} relative (goal: < 60 s, < 3 GB, |rel| <= 1e-6)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sample", type=int, default=300, help="grid starts to time for the baseline")
    ap.add_argument("--full", action="store_true", help="run the baseline over all 4,500 starts")
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rows", default=None, help="comma-separated row counts: the long-curve benchmark only")
    ap.add_argument("--baseline-rows", default="", help="row counts at which to also run the search on all rows")
    args = ap.parse_args()
    if args.rows:
        sizes = [int(float(v)) for v in args.rows.split(",")]
        bench_rows(sizes, {int(float(v)) for v in args.baseline_rows.split(",") if v})
        return

    df, label = load_problem()
    logN, logD, logL = (np.log(df[c].to_numpy()) for c in ("n_params", "n_tokens", "loss"))
    print(f"problem: {label}, {len(df)} points, 5 parameters; {os.cpu_count()} CPU(s)")

    sl.fit("chinchilla", df)  # warm-up: imports and caches are not what we measure
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        fit = sl.fit("chinchilla", df)
        times.append(time.perf_counter() - t0)
    ours = min(times)

    grid = hoffmann_grid()
    rng = np.random.default_rng(0)
    picks = range(len(grid)) if args.full else rng.choice(len(grid), size=min(args.sample, len(grid)), replace=False)
    best = np.inf
    t0 = time.perf_counter()
    for i in picks:
        res = minimize(peer_objective, np.array(grid[i]), args=(logN, logD, logL), method="L-BFGS-B")
        best = min(best, res.fun)
    spent = time.perf_counter() - t0
    per_start = spent / len(picks)
    peer_total = per_start * len(grid)

    print(f"scalelaw.fit:                 {ours * 1e3:8.1f} ms  objective {fit.objective:.8g}  "
          f"({fit.starts['n_starts']} starts evaluated, {fit.starts['n_polished']} polished, {fit.starts['n_agree']} agree)")
    what = "all" if args.full else f"{len(picks)} sampled"
    print(f"L-BFGS-B loop, {len(grid)} starts:  {peer_total:8.1f} s   best objective {best:.8g} "
          f"({what} starts timed, {per_start * 1e3:.1f} ms each{'' if args.full else ', scaled to 4,500'})")
    print(f"speed ratio (baseline / scalelaw): {peer_total / ours:.0f}x; "
          f"objective ours - baseline: {fit.objective - best:+.3g} ({'lower or equal' if fit.objective <= best * (1 + 1e-9) else 'HIGHER'})")

    if args.bootstrap:
        t0 = time.perf_counter()
        fit.bootstrap(n=args.bootstrap, seed=0)
        took = time.perf_counter() - t0
        print(f"bootstrap: {args.bootstrap} resamples ({fit.bootstrap_info['method']}) in {took:.2f} s, "
              f"{fit.bootstrap_info['n_failed']} failed; goal < 30 s")
        print(fit.ci(0.95).round(4).to_string())


if __name__ == "__main__":
    main()
