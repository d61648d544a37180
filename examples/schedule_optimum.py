"""The schedule optimiser checked by real runs: predicted vs measured final loss of the optimised
WSD schedule and of cosine, and of the gain between them.

1. Fit a schedule law (multi_power by default) on the constant, cosine and step runs of
   data/cpu_lr_schedules (val loss, steps >= 600: the curves have an early plateau the laws lack),
   with a block bootstrap for intervals.
2. Optimise the WSD family at that set's budget (2,000 steps, peak 3e-3, warm-up 100, floor 3e-4).
3. Read data/cpu_schedule_optimum: the optimised schedule that was trained and cosine, two seeds
   each, and compare measured final losses (mean over seeds) with the predictions. The intervals
   (scalelaw.schedule_optimum.paired_intervals, as fit.optimal_schedule reports them) are paired:
   the same bootstrap draws give both losses. Two kinds are printed: the parameter band, and the
   prediction interval for what a new run measures (the band widened by the run-level error of
   leave-one-schedule-out backtests inside the three fitted runs; nothing from the check's runs).

Run from the repo root:

    python examples/schedule_optimum.py [--law multi_power] [--boot 200]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

import scalelaw as sl
from _common import DATA
from scalelaw.schedule_optimum import paired_intervals

FIT_ON = ("constant", "cosine", "step")
N_STEPS, PEAK, WARMUP, FLOOR = 2000, 3e-3, 100, 3e-4
MIN_STEP = 600


def read(folder):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = sl.read_logs(folder)
    return df[df["split"] == "val"]


def schedule_name(run):
    return run.split("_")[-2]  # <sweep>_D<tokens>_<schedule>_seed<k>


def main(law, n_boot, level=0.9):
    base = read(DATA / "cpu_lr_schedules")
    base = base[base["step"] >= MIN_STEP]
    train = base[base["run"].map(schedule_name).isin(FIT_ON)]
    warm = WARMUP if law == "lr_annealing" else 0  # multi_power: the authors' code convention
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = sl.fit(law, train, warmup_steps=warm)
        fit.bootstrap(n_boot, seed=0, calibrate=False)
    print(f"{law} fitted on {', '.join(FIT_ON)} (val, steps >= {MIN_STEP}); {n_boot} bootstrap draws "
          f"({fit.bootstrap_info['method']})")
    print("  " + ", ".join(f"{k} {v:.4g}" for k, v in fit.params.items()))

    opt = fit.optimal_schedule(N_STEPS, PEAK, warmup=WARMUP, floor=FLOOR, family="wsd", level=level)
    print(f"optimiser now: {opt['spec']}: predicted {opt['loss']:.4f}, cosine {opt['cosine_loss']:.4f}, "
          f"gain {opt['gain']:.4f}, {level:.0%} prediction interval {np.round(opt['gain_interval'], 4).tolist()} "
          f"(parameter band {np.round(opt['gain_parameter_interval'], 4).tolist()})")

    runs = read(DATA / "cpu_schedule_optimum")
    last = runs.loc[runs.groupby("run")["step"].idxmax()]
    last = last.assign(kind=last["run"].map(schedule_name))
    specs = {k: g["schedule"].iloc[0] for k, g in last.groupby("kind")}
    measured = {k: g["loss"].to_numpy() for k, g in last.groupby("kind")}
    if any(int(s) != N_STEPS for s in last["step"]):
        raise SystemExit("data/cpu_schedule_optimum: some runs did not reach the last step")
    pred = {k: float(fit.predict(schedule=specs[k], warmup_steps=warm, steps=[N_STEPS], warn=False)[0])
            for k in specs}
    lrs = {k: sl.schedules.from_spec(v) for k, v in specs.items()}
    iv = {kind: paired_intervals(fit, lrs["optimum"], lrs["cosine"], warmup=WARMUP, level=level, interval=kind)
          for kind in ("parameter", "prediction")}
    err = iv["prediction"]["run_error"]
    print(f"run-level error (leave one of the {err['n_groups']} fitted schedules out, final-loss log errors "
          + ", ".join(f"{schedule_name(r)} {v:+.4f}" for r, v in err["errors"].items())
          + f"): s = {err['scale']:.4f}, multiplier {err['multiplier']:.3f} ({err['method']})")
    print(f"\ntrained (data/cpu_schedule_optimum, {len(last)} runs): optimum = {specs['optimum']}")
    f = lambda v: f"[{v[0]:.4f}, {v[1]:.4f}]"  # noqa: E731
    for k, key in (("optimum", "loss"), ("cosine", "cosine")):
        m = measured[k]
        inside = iv["prediction"][f"{key}_interval"][0] <= m.mean() <= iv["prediction"][f"{key}_interval"][1]
        print(f"  {k:<8} predicted {pred[k]:.4f}  parameter {f(iv['parameter'][key + '_interval'])}  "
              f"prediction {f(iv['prediction'][key + '_interval'])}   measured {m.mean():.4f} "
              f"(seeds {', '.join(f'{v:.4f}' for v in m)}; sd {m.std(ddof=1):.4f})   "
              f"error {100 * (pred[k] - m.mean()) / m.mean():+.2f}%   inside: {inside}")
    gain_pred = pred["cosine"] - pred["optimum"]
    gain_meas = measured["cosine"].mean() - measured["optimum"].mean()
    # seed noise of the measured gain: sd of a difference of two means of 2 seeds each
    noise = np.sqrt(measured["cosine"].var(ddof=1) / len(measured["cosine"])
                    + measured["optimum"].var(ddof=1) / len(measured["optimum"]))
    gp, gq = iv["parameter"]["gain_interval"], iv["prediction"]["gain_interval"]
    print(f"  gain     predicted {gain_pred:.4f}  parameter {f(gp)}  prediction {f(gq)} (paired {level:.0%})   "
          f"measured {gain_meas:.4f} (seed noise sd {noise:.4f})")
    print(f"  measured gain above seed noise (> 2 sd): {gain_meas > 2 * noise}; inside the parameter band: "
          f"{gp[0] <= gain_meas <= gp[1]}; inside the prediction interval: {gq[0] <= gain_meas <= gq[1]}")
    return {"pred": pred, "measured": {k: float(v.mean()) for k, v in measured.items()}, "gain_pred": gain_pred,
            "gain_interval": tuple(gq), "gain_parameter_interval": tuple(gp), "gain_measured": float(gain_meas),
            "noise": float(noise), "run_error": err}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--law", default="multi_power", choices=["multi_power", "lr_annealing"])
    ap.add_argument("--boot", type=int, default=200, help="bootstrap resamples")
    args = ap.parse_args()
    main(args.law, args.boot)
