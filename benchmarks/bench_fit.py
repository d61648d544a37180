"""Fit speed against the method peers use, in the same process (machines are noisy: read ratios).

Problem: Chinchilla's law on Epoch's 240 extracted points (../shared/validation), or, when that
folder is absent, a synthetic Chinchilla-shaped problem of the same size. Baseline: the Hoffmann /
Epoch method, a Python loop of scipy L-BFGS-B (finite-difference gradients) over the 4,500-start
grid, Huber delta 1e-3 on log residuals, summed. By default a random sample of the grid is timed
and the time scaled to 4,500 starts; ``--full`` runs the whole loop.

Usage: python benchmarks/bench_fit.py [--sample 300] [--full] [--bootstrap 1000]
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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sample", type=int, default=300, help="grid starts to time for the baseline")
    ap.add_argument("--full", action="store_true", help="run the baseline over all 4,500 starts")
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

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
