"""Learning-rate annealing (Tissue et al. 2024): fit constant + cosine, predict the other schedules.

Loads a schedule sweep (one model size, several LR schedules, the LR of every step known from
each run's ``schedule`` string), fits ``lr_annealing`` jointly on the constant and cosine runs'
validation curves, and predicts the whole curve of every other schedule (WSD, step, linear, ...)
from its schedule alone. Run from the repo root:

    python examples/lr_annealing_schedules.py [--data data/cpu_lr_schedules] [--out examples_out]
"""

from __future__ import annotations

import warnings

import numpy as np

import scalelaw as sl
from _common import out_path, parse_args, print_backtest

TRAIN = ("constant", "cosine")


def schedule_name(run: str) -> str:
    return run.split("_")[-2]  # runs are named <sweep>_D<tokens>_<schedule>_seed<k>


def backtest(curves, warmup, min_step):
    rows = curves[curves["step"] >= min_step]
    held = ~rows["schedule_name"].isin(TRAIN).to_numpy()
    return sl.backtest("lr_annealing", rows, inputs={"step": "step"}, target="loss", holdout=held,
                       warmup_steps=warmup)


def main(data, out, split="val", min_step=600):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = sl.read_logs(data)
    curves = df[(df["split"] == split) & (df["step"] > 0)].copy()
    curves["schedule_name"] = curves["run"].map(schedule_name)
    warmup = int(sl.schedules.parse_spec(curves["schedule"].iloc[0])[1].get("warmup", 0))
    print(f"{curves['run'].nunique()} runs; fitting on {', '.join(TRAIN)}; warm-up {warmup} steps")
    every = backtest(curves, warmup, 1)
    print_backtest("lr_annealing, all steps", every)
    bt = backtest(curves, warmup, min_step)
    print_backtest(f"lr_annealing, steps >= {min_step}", bt)
    per_schedule = bt.table.groupby("schedule_name")["rel_err"].apply(lambda e: float(np.abs(e).mean()))
    for name, err in per_schedule.items():
        print(f"  {name:<10} mean |rel err| {err:.4f}")
    fit = bt.fit
    print(fit.report())

    from scalelaw.plot import plot_fit

    plot_fit(fit, data=curves).write_html(out_path(out, "lr_annealing.html"))
    print(f"plots in {out}/")
    return {"summary": bt.summary, "all_steps": every.summary, "per_schedule": per_schedule.to_dict()}


if __name__ == "__main__":
    args = parse_args(__doc__, "cpu_lr_schedules", extra=[("--min-step", int, 600, "fit and score steps >= this")])
    main(args.data, args.out, min_step=args.min_step)
