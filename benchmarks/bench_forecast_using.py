"""sl.forecast(using=...)'s interval: the library's calibration against forecast backtests inside
the finished runs, on the same forecasts, and the in-sample check that chose between them.

For every run of a set, cut at 25/50/75% of its steps, the forecast is fitted once with
``using=`` the other runs of the set (the forecast run left out of them) and scored two ways:

- ``library``: :mod:`scalelaw.calibration` on the joint fit (leave-one-run-out and rolling folds,
  distance in log10 S1; what ``using=`` gave before session 5);
- ``forecast``: :func:`scalelaw.forecasting._using_calibration` (one fold per finished run: that
  run cut at the forecast's fraction, the rest refitted jointly, its end predicted; error model
  against the horizon fraction).

``--insample`` is the evidence the rule was chosen on (nothing held out is used): the set's runs
are all fitted jointly, the ``forecast`` folds built inside them as the forecast builds them,
each fold left out in turn and the error model of the others scored on its final point (as
benchmarks/bench_forecast_prior_insample.py does for prior=).

Measured (2026-11-29, loaded 2-core CPU):

- ``--insample --law lr_annealing`` (16 s): left-out run's end covered 8/9 at each cut at 25M and
  100M, 6/7, 6/7, 7/7 (cpu_d2-32) and 5/7, 5/7, 7/7 (cpu_d4-64): 84/96 at 90%. ``--law
  multi_power`` (3.5 min): 9/9, 8/9, 8/9 (25M and 100M), 6/7, 6/7, 7/7 and 5/7, 5/7, 7/7: 86/96.
- ``--synthetic 4`` (4 min; 4 sets of 6 runs, each run's C jittered by 10%, 24 forecasts a cut): coverage at
  25/50/75% cuts: forecast backtests 79 / 79 / 92% (mean half-widths 3.1 / 3.8 / 3.3%), the
  library's calibration 67 / 67 / 71% (1.3%), the bootstrap band 54%.
- held out, lr_annealing, ``--sets cpu_d2-32,cpu_d4-64`` (4 min): forecast backtests 71 / 86 /
  100% (d2-32) and 71 / 71 / 100% (d4-64), half-widths 2.5-4.3%; the library's 57% at every cut
  and size (1.4-2.0%); its backtests took 0.03-0.3 s a forecast against 1.5-2.6 s. On Luo's 25M curves (the first
  18 forecasts before the run was stopped: 10-16 s each for the library's calibration) both
  covered all.

Usage: python benchmarks/bench_forecast_using.py [--law lr_annealing] [--sets mpl_25M,cpu_d2-32]
       [--boot 30] [--no-library] [--insample]
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

import scalelaw as sl  # noqa: E402
from scalelaw import forecasting as F  # noqa: E402
from forecast_runs import CUTS, law_warmup, load_set, runs_to_forecast  # noqa: E402
from bench_forecast_prior_insample import leave_one_fold_out  # noqa: E402


def held_out(set_name, law, n_boot, library=True, level=0.9):
    curves, lrs, warm, _ = load_set(set_name)
    W = law_warmup(law, warm)
    rows = []
    for run, d, lr, true, others in runs_to_forecast(curves, lrs):
        for cut in CUTS:
            part = d[d["step"] <= cut * len(lr)]
            if len(part) < 3:
                continue
            t0 = time.time()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fc = sl.forecast(part, schedule=lr, law=law, warmup_steps=W, n_boot=n_boot, interval="parameter",
                                 using=others, schedules={r: lrs[r] for r in others["run"].unique()})
                fit, steps, c = fc["fit"], fc["steps"], fc["cut_step"]
                plo, phi = fc["lower"], fc["upper"]
                t1 = time.time()
                cal = F._using_calibration(fit, c / len(lr))
                lo, hi = cal.interval(fc["loss"], (steps - c) / (len(lr) - c), level, plo, phi)
                t2 = time.time()
                row = {"set": set_name, "law": law, "run": run, "cut": cut, "pred": fc["final_loss"], "true": true,
                       "rel_err": fc["final_loss"] / true - 1, "param": bool(plo[-1] <= true <= phi[-1]),
                       "forecast": bool(lo[-1] <= true <= hi[-1]), "hw_forecast": (hi[-1] - lo[-1]) / 2 / fc["final_loss"],
                       "s_fit": t1 - t0, "s_forecast_cal": t2 - t1}
                if library:
                    fit.calibrate()
                    llo, lhi = fit.predict_interval(schedule=lr, warmup_steps=W, steps=steps, level=level,
                                                    kind="calibrated")
                    row.update(library=bool(llo[-1] <= true <= lhi[-1]), hw_library=(lhi[-1] - llo[-1]) / 2 / fc["final_loss"],
                               s_library_cal=time.time() - t2)
            rows.append(row)
            print("  " + " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()),
                  flush=True)
    return rows


def insample(set_name, law, level=0.9):
    """Leave one forecast backtest out inside the set's runs (all of them fitted jointly)."""
    curves, lrs, warm, _ = load_set(set_name)
    W = law_warmup(law, warm)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = sl.fit(law, curves, schedules=lrs, warmup_steps=W)
    hits = total = 0
    for frac in CUTS:
        folds = F._using_backtests(fit, frac)  # the forecast's own folds
        names = list(folds)
        cov, half = leave_one_fold_out(folds, level)
        hits += sum(cov)
        total += len(cov)
        print(f"{set_name} {law} cut {frac:.0%}: left-out run's end covered {sum(cov)}/{len(cov)}, mean half-width "
              f"{100 * np.mean(half):.2f}%; end errors "
              + " ".join(f"{r} {100 * folds[r][0][-1]:+.2f}%" for r in names), flush=True)
    return hits, total


def synthetic(n_rep, n_boot, level=0.9, jitter=0.1, T=2000, warm=100):
    """Synthetic sets from lr_annealing itself, each run's decay coefficient C drawn around a
    common value (what finished runs cannot tell about a new run's response to its schedule):
    every run forecast from 25/50/75% of it with ``using=`` the others; coverage of its end by
    the parameter band, the library calibration and the forecast backtests."""
    from scalelaw import schedules as S
    from scalelaw.laws.lr_annealing import annealing_area, effective_lr, forward_area, lr_annealing

    peak, floor = 3e-3, 3e-4
    scheds = {"cosine": S.cosine(T, peak, floor, warmup=warm), "constant": S.constant(T, peak, warmup=warm),
              "wsd10": S.wsd(T, peak, floor, warmup=warm, decay_frac=0.1),
              "wsd30": S.wsd(T, peak, floor, warmup=warm, decay_frac=0.3),
              "cosine_hi": S.cosine(T, peak, 3 * floor, warmup=warm),
              "linear": S.linear(T, peak, floor, warmup=warm)}
    rows = []
    for rep in range(n_rep):
        rng = np.random.default_rng(100 + rep)
        frames, ends = [], {}
        for name, lr in scheds.items():
            C = 0.25 * np.exp(jitter * rng.standard_normal())
            lr_eff = effective_lr(lr, warm)
            L = lr_annealing(forward_area(lr_eff), annealing_area(lr_eff, 0.999), L0=1.6, A=0.8, alpha=0.45, C=C)
            steps = np.arange(20, T + 1, 20)
            frames.append(pd.DataFrame({"run": name, "step": steps,
                                        "loss": L[steps - 1] * np.exp(3e-4 * rng.standard_normal(len(steps)))}))
            ends[name] = L[-1]
        df = pd.concat(frames, ignore_index=True)
        for name, lr in scheds.items():
            others = df[df["run"] != name]
            for cut in CUTS:
                part = df[(df["run"] == name) & (df["step"] <= cut * T)]
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    fc = sl.forecast(part, schedule=lr, warmup_steps=warm, n_boot=n_boot, interval="parameter",
                                     using=others, schedules={r: scheds[r] for r in others["run"].unique()})
                    fit, st, c = fc["fit"], fc["steps"], fc["cut_step"]
                    cal = F._using_calibration(fit, c / T)
                    lo, hi = cal.interval(fc["loss"], (st - c) / (T - c), level, fc["lower"], fc["upper"])
                    fit.calibrate()
                    llo, lhi = fit.predict_interval(schedule=lr, warmup_steps=warm, steps=st, level=level,
                                                    kind="calibrated")
                true = ends[name]
                rows.append({"set": f"synthetic (C jitter {jitter:g})", "law": "lr_annealing", "run": name, "cut": cut,
                             "rel_err": fc["final_loss"] / true - 1,
                             "param": bool(fc["lower"][-1] <= true <= fc["upper"][-1]),
                             "forecast": bool(lo[-1] <= true <= hi[-1]), "hw_forecast": (hi[-1] - lo[-1]) / 2 / true,
                             "library": bool(llo[-1] <= true <= lhi[-1]), "hw_library": (lhi[-1] - llo[-1]) / 2 / true})
        print(f"replicate {rep + 1}/{n_rep} done", flush=True)
    return rows


def summarise(table):
    cols = [c for c in ("param", "forecast", "library") if c in table]
    agg = {"n": ("rel_err", "size"), "mean_%": ("rel_err", lambda e: 100 * e.abs().mean()),
           "worst_%": ("rel_err", lambda e: 100 * e.abs().max())}
    agg.update({f"cov_{c}": (c, "mean") for c in cols})
    agg.update({f"hw_{c}_%": (f"hw_{c}", lambda h: 100 * h.mean()) for c in ("forecast", "library") if f"hw_{c}" in table})
    agg.update({f"s_{k}": (f"s_{k}", "mean") for k in ("fit", "forecast_cal", "library_cal") if f"s_{k}" in table})
    print(table.groupby(["set", "law", "cut"]).agg(**agg).round(3).to_string())


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--law", default="lr_annealing", choices=["lr_annealing", "multi_power"])
    ap.add_argument("--sets", default="mpl_25M,mpl_100M,cpu_d2-32,cpu_d4-64")
    ap.add_argument("--boot", type=int, default=30)
    ap.add_argument("--no-library", action="store_true", help="skip the library calibration (slow for multi_power)")
    ap.add_argument("--insample", action="store_true", help="only the in-sample leave-one-backtest-out check")
    ap.add_argument("--synthetic", type=int, default=0, metavar="N", help="only N synthetic replicates")
    a = ap.parse_args()
    if a.synthetic:
        summarise(pd.DataFrame(synthetic(a.synthetic, a.boot)))
    elif a.insample:
        h = t = 0
        for s in a.sets.split(","):
            hh, tt = insample(s, a.law)
            h, t = h + hh, t + tt
        print(f"{a.law}: {h}/{t} covered at 90%")
    else:
        rows = []
        for s in a.sets.split(","):
            rows += held_out(s, a.law, a.boot, library=not a.no_library)
        summarise(pd.DataFrame(rows))
