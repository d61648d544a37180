"""The calibration's leave-out folds, capped: a mixture ratio per run no longer costs a refit per ratio.

dcpt's calibration leaves one level of the share r out per fold (scalelaw.calibration, step 1).
Where every run has its own ratio (a sweep over continuous r), that was one fold, so one batched
refit plus its fold bootstrap, per distinct ratio: 500 rows with 500 ratios took 169 s to calibrate
(num12's audit, session 12). Since then, with more than ``MAX_CUTS_PER_AXIS`` (8) levels (or
schedule runs) the folds leave contiguous bins of them out, 8 folds.

This script times ``fit.bootstrap(n)`` (which calibrates) on the same synthetic dcpt table twice in
one process, with the cap (today) and with the cap lifted (``MAX_CUTS_PER_AXIS`` set high for the
fold builder only: the rolling cuts are capped by it too, so the baseline lifts both; on this table
the rolling axes N and D have <= 8 cut levels anyway), and prints the ratio. Machines are noisy:
read the ratio, not the seconds.

Usage: python benchmarks/bench_leave_out_cap.py [--rows 120] [--bootstrap 100]

Measured (session 12, 2 shared cores, OMP_NUM_THREADS=1): 120 rows 0.85 s capped (17 folds) against
4.66 s uncapped (129 folds), 5.5x; ``--rows 300`` 1.22 s against 22.6 s, 18.5x. The 90% interval at
r = 0.5 is within 3% of the uncapped one (capped / uncapped width 1.016 and 0.969).
"""
from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

import scalelaw as sl
import scalelaw.calibration as C
from scalelaw.laws.dcpt import dcpt


def table(rows: int, seed: int = 0) -> pd.DataFrame:
    """``rows`` runs' final points, each run with its own ratio r (a continuous-r sweep)."""
    rng = np.random.default_rng(seed)
    N = rng.choice([2.5e4, 5.5e4, 1e5], rows)
    D = rng.uniform(5e4, 5e5, rows)
    r = rng.uniform(0.05, 0.95, rows)
    L = dcpt(N, D, r, E=1.5, A=40.0, alpha=0.35, B=25.0, eta=0.3, beta=0.3, C=0.08, gamma=0.5)
    return pd.DataFrame({"N": N, "D": D, "r": r, "loss": L * np.exp(rng.normal(0, 0.003, rows))})


def timed(df: pd.DataFrame, n_boot: int):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = sl.fit("dcpt", df, inputs={"N": "N", "D": "D", "r": "r"}, target="loss")
        t = time.perf_counter()
        fit.bootstrap(n_boot, seed=0)
        return time.perf_counter() - t, fit


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=120)
    ap.add_argument("--bootstrap", type=int, default=100)
    a = ap.parse_args(argv)
    df = table(a.rows)
    capped, fit_c = timed(df, a.bootstrap)
    keep = C.MAX_CUTS_PER_AXIS
    C.MAX_CUTS_PER_AXIS = 10 ** 6
    try:
        uncapped, fit_u = timed(df, a.bootstrap)
    finally:
        C.MAX_CUTS_PER_AXIS = keep
    X = {"N": [5.5e4], "D": [2e5], "r": [0.5]}
    wc = np.diff(fit_c.predict_interval(X, level=0.9, warn=False), axis=0).item()
    wu = np.diff(fit_u.predict_interval(X, level=0.9, warn=False), axis=0).item()
    print(f"{a.rows} rows, {df['r'].nunique()} distinct r, bootstrap {a.bootstrap}:")
    print(f"  capped:   {capped:6.2f} s, {fit_c.calibration.n_folds} folds")
    print(f"  uncapped: {uncapped:6.2f} s, {fit_u.calibration.n_folds} folds")
    print(f"  speed-up {uncapped / capped:.1f}x; 90% interval width at r = 0.5: capped / uncapped = {wc / wu:.3f}")


if __name__ == "__main__":
    main()
