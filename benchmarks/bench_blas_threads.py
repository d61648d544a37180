"""Fits with BLAS threads at their default against one BLAS thread, in one process (read ratios).

Question: should ``sl.fit``'s search and polish, and the batched Levenberg-Marquardt refits
(bootstrap, calibration, forecasting), run with BLAS limited to one thread
(:mod:`scalelaw.fitting.threads`), and for which problem sizes?

Decision rule (written before the comparison was run):

- cases: multi_power on data/cpu_schedules d2-32 constant + cosine (val, steps >= 101: the slow
  fit of benchmarks/bench_polish_stall.py); chinchilla on Epoch's points (../shared/validation,
  as benchmarks/bench_fit.py); power_law fit + bootstrap(300) + calibrated predict_interval on
  8 synthetic runs; lr_annealing on d2-32 constant + cosine; and one large problem: power_law on
  60,000 rows of synthetic curves (50 runs), fit + bootstrap(50) without calibration (the
  bootstrap's LM there multiplies (K, 3, 60,000) matrices: the largest BLAS work a fit makes);
- each case alternates default threads / one thread in one process, the faster of ``--repeat``
  timings counts; the ratio is default / one (> 1: one thread is faster);
- the objectives (and bootstrap draws) with and without the limit must agree to 1e-12 relative
  on every case, else the limit is not applied where they differ;
- candidate (A): one BLAS thread for every fit (``threads.MAX_CELLS = None``); candidate (B): one
  thread only when rows x free parameters <= T (T between the largest small case and the large
  case); no change if one thread is not faster (ratio >= 1.1) on at least 3 of the 4 small cases;
- choose (A) unless the large case runs > 10% slower with one thread (ratio < 1/1.1 = 0.91) on
  two runs of this benchmark; then (B).
- caveat: this machine has 2 cores shared with other work, so threads can gain at most 2x here;
  a many-core machine could not be measured (no such machine was lent to this task).

Usage: ``OMP_NUM_THREADS`` unset (BLAS's default threads),
``PYTHONPATH=. nice -n 5 python benchmarks/bench_blas_threads.py [--repeat 2] [--quick]``
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import scalelaw as sl
from scalelaw.fitting import threads

REPO = Path(__file__).resolve().parents[1]
EPOCH = REPO.parent / "shared" / "validation" / "chinchilla_svg_extracted.csv"


def curves(n_rows: int, n_runs: int, seed: int = 0) -> pd.DataFrame:
    """``n_runs`` runs at steps 1..n_rows/n_runs, L = 2 + (300/step)^0.5 with 2% noise (bench_fit's)."""
    rng = np.random.default_rng(seed)
    per = n_rows // n_runs
    steps = np.tile(np.arange(1, per + 1), n_runs)
    loss = (2.0 + (300.0 / steps) ** 0.5) * np.exp(rng.normal(0, 0.02, len(steps)))
    return pd.DataFrame({"run": np.repeat([f"r{i}" for i in range(n_runs)], per), "step": steps, "loss": loss})


def cases(quick=False):
    """(label, zero-argument run returning (objective, numbers that must not change), rows x free params)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logs = sl.read_logs(REPO / "data" / "cpu_schedules")
    val = logs[(logs["split"] == "val") & (logs["step"] >= 101)]
    d = val[val["run"].str.startswith("sch_d2-32_") & val["run"].str.split("_").str[-2].isin(("constant", "cosine"))]
    lrs = {r: sl.schedules.from_spec(g["schedule"].iloc[0]) for r, g in d.groupby("run")}
    out = []
    if not quick:
        out.append(("multi_power d2-32 constant+cosine", lambda: sl.fit("multi_power", d, schedules=lrs)))
    if EPOCH.exists():
        df = pd.read_csv(EPOCH)
        df["n_tokens"] = df["Training FLOP"] / (6 * df["Model Size"])
        df = df.sort_values("loss").iloc[:-5]  # Epoch drop the 5 highest-loss points
        out.append(("chinchilla, Epoch's points",
                    lambda: sl.fit("chinchilla", df, inputs={"N": "Model Size", "D": "n_tokens"})))
    small = curves(1_200, 8)

    def power_boot():
        f = sl.fit("power_law", small, inputs={"x": "step"}).bootstrap(300, seed=0)
        lo, hi = f.predict_interval({"x": np.array([200.0, 400.0, 800.0])}, warn=False)
        return f, np.concatenate([f.draws.to_numpy().ravel(), lo, hi])

    out.append(("power_law 1,200 rows + bootstrap(300) + interval", power_boot))
    out.append(("lr_annealing d2-32 constant+cosine",
                lambda: sl.fit("lr_annealing", d, schedules=lrs, warmup_steps=100)))
    big = curves(60_000, 50)

    def big_boot():
        f = sl.fit("power_law", big, inputs={"x": "step"}).bootstrap(50, seed=0, calibrate=False)
        return f, f.draws.to_numpy().ravel()

    out.append(("power_law 60,000 rows + bootstrap(50)", big_boot))
    return out


def run_once(run, one: bool):
    threads.MAX_CELLS = None if one else -1.0  # -1: every fit is "large", BLAS keeps its threads
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = time.perf_counter()
            got = run()
            dt = time.perf_counter() - t
    finally:
        threads.MAX_CELLS = LANDED
    f, extra = got if isinstance(got, tuple) else (got, np.empty(0))
    return dt, f, np.asarray(extra, dtype=float)


LANDED = threads.MAX_CELLS


def main(quick=False, repeat=2):
    from threadpoolctl import threadpool_info

    blas = [(i["internal_api"], i["num_threads"]) for i in threadpool_info() if i["user_api"] == "blas"]
    load = os.getloadavg()[0]
    print(f"{os.cpu_count()} CPU(s), load {load:.1f}, BLAS {blas}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}")
    print(f"{'case':<50} {'rows x p':>10} {'default s':>9} {'one s':>7} {'default/one':>11}  "
          f"{'max |rel diff|':>14}")
    ok = True
    for label, run in cases(quick):
        best = {}
        for k in range(repeat):
            for one in ((False, True) if k % 2 == 0 else (True, False)):  # the first run pays warm-up: alternate
                dt, f, extra = run_once(run, one)
                prev = best.get(one)
                best[one] = (min(dt, prev[0]) if prev else dt, f, extra)
        (td, fd, xd), (t1, f1, x1) = best[False], best[True]
        a = np.concatenate([[fd.objective], xd])
        b = np.concatenate([[f1.objective], x1])
        both = np.isfinite(a) & np.isfinite(b)
        same_nan = np.array_equal(np.isfinite(a), np.isfinite(b))
        rel = float(np.max(np.abs(a[both] - b[both]) / np.maximum(np.abs(a[both]), 1e-300)))
        ok &= same_nan and rel <= 1e-12
        cells = f1.n_points * len(f1.spec.free)
        print(f"{label:<50} {cells:>10,} {td:9.2f} {t1:7.2f} {td / t1:11.2f}  {rel:14.1e}"
              f"{'' if same_nan else '  (failed refits differ)'}", flush=True)
    print(f"results identical to 1e-12 relative with and without the limit: {'yes' if ok else 'NO'}")
    return ok


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="skip the slow multi_power fit")
    ap.add_argument("--repeat", type=int, default=2, help="time each case this many times per setting")
    a = ap.parse_args()
    sys.exit(0 if main(a.quick, a.repeat) else 1)
