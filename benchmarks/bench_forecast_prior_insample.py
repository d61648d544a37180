"""In-sample evidence for sl.forecast(prior=...)'s interval rule: leave one backtest fold out.

scalelaw/forecasting.py calibrates a forecast with a prior on forecast backtests inside the
prior's own runs (one fold per run: the prior refitted without it, the run cut at the forecast's
fraction, its level fitted on the part before the cut, its rest predicted; error model against
the horizon fraction u). Is that error model calibrated? Here the prior is a fit of all nine of
Luo et al.'s published runs of one size; for each cut fraction its nine folds are built exactly as
forecasting._prior_calibration builds them, then each fold in turn is left out, the error model
is fitted on the other eight (scalelaw.calibration.fit_error_model, unchanged) and the left-out
run's final point is scored against the 90% half-width at u = 1 (without the floor a forecast
adds, its own residual scale: a narrower test than the forecast's). Nothing is tuned: the rule
has no constant of its own.

Measured (2026-11-29, loaded 2-core CPU, about a minute per law): lr_annealing 9/9, 8/9, 8/9
(25M; cuts 25/50/75%) and 8/9, 8/9, 9/9 (100M); multi_power 8/9, 8/9, 8/9 (25M) and 9/9, 8/9,
8/9 (100M): 99 of 108 (92%) at a nominal 90%. The folds' end errors are mostly each run's own
(cosine_24000 at 25M: -0.40 / -0.49 / -0.45% from the three cuts with multi_power): the prior's
error for that schedule, which in-run backtests cannot see.

Usage: python benchmarks/bench_forecast_prior_insample.py [--law multi_power] [--sizes 25M,100M]
"""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

import scalelaw as sl  # noqa: E402
from scalelaw import forecasting as F  # noqa: E402
from scalelaw.calibration import fit_error_model  # noqa: E402

CUTS = (0.25, 0.5, 0.75)


def folds(prior, frac):
    """Per prior run: (log errors after the cut, horizon fractions), as forecasting builds them."""
    loro = F._prior_loro(prior)
    _, y, _ = prior._features()
    t = prior.table.reset_index(drop=True)
    runs, steps = t["run"].astype(str).to_numpy(), t["step"].to_numpy(float)
    out = {}
    for r, (pred, L0) in loro.items():
        idx = np.flatnonzero(runs == r)
        st = steps[idx]
        end = st.max()
        part, rest = idx[st <= frac * end], idx[st > frac * end]
        shape = pred - L0
        level = F._fit_level(shape[part], y[part], prior.loss, prior.delta)
        out[r] = (np.log(y[rest]) - np.log(level + shape[rest]), (steps[rest] - frac * end) / ((1 - frac) * end))
    return out


def leave_one_fold_out(folds_by_run, level):
    """Each run's forecast backtest left out in turn: the error model fitted to the other runs'
    folds (``{run: (log errors, distances)}``), its half-width at distance 1 (the run's end), and
    whether that covers the left-out run's end error. Returns (covered flags, half-widths)."""
    names = list(folds_by_run)
    cov, half = [], []
    for k in names:
        o = [r for r in names if r != k]
        cal = fit_error_model(np.concatenate([folds_by_run[r][0] for r in o]),
                              np.concatenate([folds_by_run[r][1] for r in o]),
                              np.concatenate([np.full(len(folds_by_run[r][0]), i) for i, r in enumerate(o)]),
                              noise_floor=0.0)
        h = float(cal.half_width(np.array([1.0]), level)[0])
        cov.append(abs(folds_by_run[k][0][-1]) <= h)
        half.append(h)
    return cov, half


def main(law, sizes, level=0.9):
    from _mpl_curves import VALIDATION, WARMUP, load

    if not VALIDATION.exists():
        print("../shared/validation not found: nothing to measure")
        return
    total = 0
    hits = 0
    for size in sizes:
        curves, lrs = load(size)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            prior = sl.fit(law, curves, schedules=lrs, warmup_steps=WARMUP if law == "lr_annealing" else 0)
        for frac in CUTS:
            f = folds(prior, frac)
            names = list(f)
            cov, half = leave_one_fold_out(f, level)
            hits += sum(cov)
            total += len(cov)
            print(f"{size} {law} cut {frac:.0%}: left-out run's end covered {sum(cov)}/{len(cov)}, mean half-width "
                  f"{100 * np.mean(half):.2f}%; end errors " + " ".join(f"{r} {100 * f[r][0][-1]:+.2f}%" for r in names),
                  flush=True)
    print(f"{law}: {hits}/{total} covered at {level:.0%}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--law", default="multi_power", choices=["lr_annealing", "multi_power"])
    ap.add_argument("--sizes", default="25M,100M")
    a = ap.parse_args()
    main(a.law, a.sizes.split(","))
