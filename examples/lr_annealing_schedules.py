"""Learning-rate annealing (Tissue et al. 2024): fit constant + cosine, predict the other schedules.

Loads a schedule sweep (several LR schedules, the LR of every step known from each run's
``schedule`` string), fits ``lr_annealing`` jointly on the constant and cosine runs' validation
curves, and predicts the whole curve of every other schedule (WSD, step, linear, the optimiser's
own, ...) from its schedule alone, over every logged step from ``--min-step`` on (101: the first
point after the 100-step warm-up). The bundled set (data/cpu_schedules) has two model sizes; the
law has no size term, so one size is fitted at a time, chosen by the run-name prefix (``--runs``,
default the smaller). ``--law multi_power`` fits Luo et al.'s law instead (its own warm-up
convention: the ramp is in the loss-drop sum). Run from the repo root:

    python examples/lr_annealing_schedules.py [--data data/cpu_schedules] [--runs sch_d2-32] [--out examples_out]
    python examples/lr_annealing_schedules.py --runs sch_d4-64 --law multi_power
"""

from __future__ import annotations

import warnings

import numpy as np

import scalelaw as sl
from _common import out_path, parse_args, print_backtest

TRAIN = ("constant", "cosine")


def schedule_name(run: str) -> str:
    return run.split("_")[-2]  # runs are named <sweep>_D<tokens>_<schedule>_seed<k>


def backtest(curves, warmup, min_step, law="lr_annealing"):
    rows = curves[curves["step"] >= min_step]
    held = ~rows["schedule_name"].isin(TRAIN).to_numpy()
    # multi_power keeps its own convention (warm-up increases inside LD, warmup_steps=0)
    extra = {"warmup_steps": warmup} if law == "lr_annealing" else {}
    return sl.backtest(law, rows, inputs={"step": "step"}, target="loss", holdout=held, **extra)


def main(data, out, split="val", min_step=101, runs=None, law="lr_annealing"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = sl.read_logs(data)
    curves = df[(df["split"] == split) & (df["step"] > 0)].copy()
    if runs:
        curves = curves[curves["run"].astype(str).str.startswith(runs)]
        if curves.empty:
            raise SystemExit(f"no run of {data} starts with {runs!r}")
    if "n_params" in curves and curves["n_params"].nunique() > 1:
        raise SystemExit(f"{data} holds {curves['n_params'].nunique()} model sizes; the law has no size "
                         "term, so pick one with --runs <run-name prefix> (e.g. sch_d2-32)")
    curves["schedule_name"] = curves["run"].map(schedule_name)
    warmup = int(sl.schedules.parse_spec(curves["schedule"].iloc[0])[1].get("warmup", 0))
    print(f"{curves['run'].nunique()} runs; fitting on {', '.join(TRAIN)}; warm-up {warmup} steps")
    every = backtest(curves, warmup, 1, law)
    print_backtest(f"{law}, all steps", every)
    bt = backtest(curves, warmup, min_step, law)
    print_backtest(f"{law}, steps >= {min_step}", bt)
    per_schedule = bt.table.groupby("schedule_name")["rel_err"].apply(lambda e: float(np.abs(e).mean()))
    for name, err in per_schedule.items():
        print(f"  {name:<10} mean |rel err| {err:.4f}")
    fit = bt.fit
    print(fit.report())

    from scalelaw.plot import plot_fit

    plot_fit(fit, data=curves).write_html(out_path(out, f"{law}.html"))
    print(f"plots in {out}/")
    return {"summary": bt.summary, "all_steps": every.summary, "per_schedule": per_schedule.to_dict()}


if __name__ == "__main__":
    args = parse_args(__doc__, "cpu_schedules", extra=[("--min-step", int, 101, "fit and score steps >= this"),
                                                      ("--runs", str, "sch_d2-32", "only runs whose name starts so"),
                                                         ("--law", str, "lr_annealing", "lr_annealing or multi_power")])
    main(args.data, args.out, min_step=args.min_step, runs=args.runs, law=args.law)
