"""The schedule optimiser checked by real runs: predicted vs measured final loss of the optimised
WSD schedule and of cosine, and of the gain between them, at two model sizes.

1. For each size of data/cpu_schedules (d2-32, d4-64; BPE, 1,953 steps, peak 1e-2, warm-up 100,
   floor 1e-3), fit a schedule law (multi_power by default) on that size's constant, cosine and
   step runs (seed 0; val loss at every logged step after the warm-up, steps >= 101), with a
   block bootstrap for intervals.
2. Optimise the WSD family at that budget: ``fit.optimal_schedule(1953, 1e-2, warmup=100,
   floor=1e-3, family="wsd")``.
3. Compare with the runs trained: the optimised schedule (seed 0 in data/cpu_schedules, seed 1,
   and for d4-64 seed 2, in data/cpu_schedule_optimum) and cosine (seed 0 in data/cpu_schedules,
   the fitted one; the other seeds in data/cpu_schedule_optimum). Measured final losses are means
   over the seeds. The
   intervals (scalelaw.schedule_optimum.paired_intervals, as fit.optimal_schedule reports them)
   are paired: the same bootstrap draws give both losses. Two kinds are printed: the parameter
   band, and the prediction interval for what a new run measures (the band widened by the
   run-level error of leave-one-schedule-out backtests inside the three fitted runs; nothing from
   the check's runs). Seed k of both schedules shares initialisation and data order, so the
   gain's seed noise is paired (the spread of the per-seed gains; the unpaired sd is printed too).

Run from the repo root:

    python examples/schedule_optimum.py [--law multi_power] [--boot 200] [--sizes d2-32,d4-64]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

import scalelaw as sl
from _common import DATA
from scalelaw.schedule_optimum import paired_intervals

FIT_ON = ("constant", "cosine", "step")
SIZES = ("d2-32", "d4-64")
N_STEPS, PEAK, WARMUP, FLOOR = 1953, 1e-2, 100, 1e-3
MIN_STEP = 101


def read(folder):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = sl.read_logs(folder)
    return df[df["split"] == "val"]


def schedule_name(run):
    return run.split("_")[-2]  # sch_<size>_D<tokens>_<schedule>_seed<k>


def seed_of(run):
    return int(run.rsplit("_seed", 1)[1])


def check_size(base, trained, size, law, n_boot, level=0.9):
    t0 = time.perf_counter()
    mine = base[base["run"].str.startswith(f"sch_{size}_")]
    fitted = mine[(mine["step"] >= MIN_STEP) & mine["run"].map(schedule_name).isin(FIT_ON)
                  & (mine["run"].map(seed_of) == 0)]
    warm = WARMUP if law == "lr_annealing" else 0  # multi_power: the authors' code convention
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = sl.fit(law, fitted, warmup_steps=warm)
        fit.bootstrap(n_boot, seed=0, calibrate=False)
    print(f"\n== {size}: {law} fitted on {', '.join(FIT_ON)} seed 0 (val, steps >= {MIN_STEP}, "
          f"{fitted['run'].nunique()} runs, {len(fitted)} points); {n_boot} bootstrap draws "
          f"({fit.bootstrap_info['method']})")
    print("  " + ", ".join(f"{k} {v:.4g}" for k, v in fit.params.items()))

    opt = fit.optimal_schedule(N_STEPS, PEAK, warmup=WARMUP, floor=FLOOR, family="wsd", level=level)
    print(f"optimiser now: {opt['spec']}: predicted {opt['loss']:.4f}, cosine {opt['cosine_loss']:.4f}, "
          f"gain {opt['gain']:.4f}, {level:.0%} prediction interval {np.round(opt['gain_interval'], 4).tolist()} "
          f"(parameter band {np.round(opt['gain_parameter_interval'], 4).tolist()})")

    runs = trained[trained["run"].str.startswith(f"sch_{size}_")
                   & trained["run"].map(schedule_name).isin(["optimum", "cosine"])]
    last = runs.loc[runs.groupby("run")["step"].idxmax()]
    last = last.assign(kind=last["run"].map(schedule_name), seed=last["run"].map(seed_of)).sort_values("seed")
    if set(last["kind"]) != {"optimum", "cosine"}:
        raise SystemExit(f"{size}: the trained optimum and cosine runs are missing (found {sorted(last['run'])})")
    if any(int(s) != N_STEPS for s in last["step"]):
        raise SystemExit(f"{size}: some runs did not reach the last step")
    specs = {k: g["schedule"].iloc[0] for k, g in last.groupby("kind")}
    measured = {k: g.set_index("seed")["loss"] for k, g in last.groupby("kind")}
    pred = {k: float(fit.predict(schedule=specs[k], warmup_steps=warm, steps=[N_STEPS], warn=False)[0])
            for k in specs}
    lrs = {k: sl.schedules.from_spec(v) for k, v in specs.items()}
    iv = {kind: paired_intervals(fit, lrs["optimum"], lrs["cosine"], warmup=WARMUP, level=level, interval=kind)
          for kind in ("parameter", "prediction")}
    err = iv["prediction"]["run_error"]
    print(f"run-level error (leave one of the {err['n_groups']} fitted schedules out, final-loss log errors "
          + ", ".join(f"{schedule_name(r)} {v:+.4f}" for r, v in err["errors"].items())
          + f"): s = {err['scale']:.4f}, multiplier {err['multiplier']:.3f} ({err['method']})")
    print(f"trained ({len(last)} runs): optimum = {specs['optimum']}")
    f = lambda v: f"[{v[0]:.4f}, {v[1]:.4f}]"  # noqa: E731
    out = {"spec": opt["spec"], "trained_spec": specs["optimum"], "optimiser": {
        k: opt[k] for k in ("loss", "cosine_loss", "gain", "gain_interval", "gain_parameter_interval")}}
    for k, key in (("optimum", "loss"), ("cosine", "cosine")):
        m = measured[k]
        lo, hi = iv["prediction"][f"{key}_interval"]
        print(f"  {k:<8} predicted {pred[k]:.4f}  parameter {f(iv['parameter'][key + '_interval'])}  "
              f"prediction {f(iv['prediction'][key + '_interval'])}   measured {m.mean():.4f} "
              f"(seeds {', '.join(f'{s} {v:.4f}' for s, v in m.items())}; sd {m.std(ddof=1):.4f})   "
              f"error {100 * (pred[k] - m.mean()) / m.mean():+.2f}%   inside: mean {lo <= m.mean() <= hi}, "
              f"seeds {int(((m >= lo) & (m <= hi)).sum())} of {len(m)}")
    gain_pred = pred["cosine"] - pred["optimum"]
    cos, best = measured["cosine"], measured["optimum"]
    gain_meas = float(cos.mean() - best.mean())
    # seed k of both schedules shares the initialisation and the data order (their logs agree to
    # the digit through the warm-up), so the design is paired: the gain's seed noise is the spread
    # of the per-seed gains. The unpaired sd (two independent means) is printed beside it.
    per_seed = (cos - best).dropna()
    paired = float(per_seed.std(ddof=1) / np.sqrt(len(per_seed)))
    unpaired = float(np.sqrt(cos.var(ddof=1) / len(cos) + best.var(ddof=1) / len(best)))
    gp, gq = iv["parameter"]["gain_interval"], iv["prediction"]["gain_interval"]
    print(f"  gain     predicted {gain_pred:.4f}  parameter {f(gp)}  prediction {f(gq)} (paired {level:.0%})   "
          f"measured {gain_meas:.4f} (per seed {', '.join(f'{s} {v:.4f}' for s, v in per_seed.items())}; "
          f"seed noise sd {paired:.4f} paired, {unpaired:.4f} unpaired)")
    print(f"  measured gain above seed noise (> 2 sd): paired {gain_meas > 2 * paired}, unpaired "
          f"{gain_meas > 2 * unpaired}; inside the parameter band: {gp[0] <= gain_meas <= gp[1]}; inside the "
          f"prediction interval: {gq[0] <= gain_meas <= gq[1]}; per-seed gains inside it: "
          f"{int(((per_seed >= gq[0]) & (per_seed <= gq[1])).sum())} of {len(per_seed)}   "
          f"[{time.perf_counter() - t0:.0f} s]")
    # every seed-0 schedule of the set: does the law rank them as they ended? (fitted: constant,
    # cosine, step; the others are held out)
    ends = mine.loc[mine.groupby("run")["step"].idxmax()]
    ends = ends[ends["run"].map(seed_of) == 0]
    rank = {schedule_name(r): (float(fit.predict(schedule=sp, warmup_steps=warm, steps=[N_STEPS], warn=False)[0]),
                               float(l)) for r, sp, l in zip(ends["run"], ends["schedule"], ends["loss"])}
    print("  seed-0 schedules, measured final loss (predicted): "
          + ", ".join(f"{k} {m:.4f} ({p:.4f})" for k, (p, m) in sorted(rank.items(), key=lambda kv: kv[1][1])))
    out.update(ranking=rank, pred=pred, measured={k: float(v.mean()) for k, v in measured.items()},
               seeds={k: v.to_dict() for k, v in measured.items()}, gain_pred=gain_pred,
               gain_interval=tuple(gq), gain_parameter_interval=tuple(gp), gain_measured=gain_meas,
               gain_per_seed=per_seed.to_dict(), noise=paired, noise_unpaired=unpaired, run_error=err)
    return out


def main(law="multi_power", n_boot=200, sizes=SIZES, level=0.9):
    base = read(DATA / "cpu_schedules")
    trained = pd.concat([base, read(DATA / "cpu_schedule_optimum")], ignore_index=True)
    return {size: check_size(base, trained, size, law, n_boot, level) for size in sizes}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--law", default="multi_power", choices=["multi_power", "lr_annealing"])
    ap.add_argument("--boot", type=int, default=200, help="bootstrap resamples")
    ap.add_argument("--sizes", default=",".join(SIZES), help="comma-separated: d2-32, d4-64")
    args = ap.parse_args()
    main(args.law, args.boot, args.sizes.split(","))
