"""Chinchilla's three approaches on real ladders, each backtested on the largest budgets.

For every ladder at hand, fits Approach 1 (envelope of training curves), Approach 2 (IsoFLOP
profiles), Approach 3 (the parametric law) and Approach 3 fitted near each budget's optimum on
the smaller budgets, predicts the held-out largest third, and prints the errors (the evidence
behind the README's recommendation). Run from the repo root:

    python examples/chinchilla_approaches.py [--data data/cpu_decoder_sizes] [--validation ../shared/validation]
        [--isoflop data/cpu_isoflop] [--ladder data/cpu_ladder] [--out examples_out] [--boot 100]

Ladders: Epoch's extraction of Hoffmann et al.'s points (IsoFLOP-shaped; Hoffmann's nine
budgets 6e18-3e21 and the budgets found by binning), OPT's training curves (Zhang et al. 2022,
a size ladder with no budgets: Approach 1 against the parametric law), both from
``--validation`` when present; our bundled CPU size grid (``--data``); our CPU IsoFLOP set
(``--isoflop``) when it has 4+ complete budgets; our BPE size ladder (``--ladder``: 6 sizes x 4
fixed token budgets, no two runs at one compute, so no IsoFLOP budgets): the parametric laws
fitted on the smaller sizes against its compute frontier, and Approach 1 on its final points.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import scalelaw as sl
from _common import ROOT, out_path, parse_args
from scalelaw.approaches import backtest_envelope, backtest_frontier

HOFFMANN_BUDGETS = [6e18, 1e19, 3e19, 6e19, 1e20, 3e20, 6e20, 1e21, 3e21]
OPT_SIZES = {"125m": 125e6, "1.3b": 1.3e9, "6.7b": 6.7e9, "13b": 13e9, "30b": 30e9, "175b": 175e9}


def show_comparison(label, cmp):
    print(f"\n== {label}")
    print(cmp.report())
    t = cmp.backtest.pivot_table(index="C", columns="approach", values="rel_err")
    print("backtest relative error of each held-out budget's optimum loss:")
    print((100 * t).round(2).to_string(float_format=lambda v: f"{v:+.2f}%"))
    return {row.approach: {"mean": row.backtest_mean_err, "max": row.backtest_max_err,
                           "coverage": row.backtest_coverage} for row in cmp.table.itertuples()}


def show_envelope(label, bt):
    print(f"\n== {label}: fitted on {len(bt.attrs['fitted_runs'])} runs ending by C={bt.attrs['max_fitted_C']:.3g}, "
          f"{len(bt)} envelope points beyond")
    out = {}
    for col in ("approach1", "chinchilla"):
        if col + "_err" in bt:
            e = bt[col + "_err"].abs()
            cover = f", interval coverage {bt[col + '_covered'].mean():.2f}" if col + "_covered" in bt else ""
            print(f"  {col:<11} mean |rel err| {e.mean():.2%}, max {e.max():.2%}{cover}")
            out[col] = {"mean": float(e.mean()), "max": float(e.max())}
    return out


def main(data, out, validation=None, isoflop_dir=None, n_boot=100, ladder_dir=None):
    results = {}
    validation = Path(validation) if validation else ROOT.parent / "shared" / "validation"
    epoch = validation / "chinchilla_svg_extracted.csv"
    if epoch.exists():
        d = pd.read_csv(epoch)
        inputs = {"N": "Model Size", "C": "Training FLOP"}
        for name, budgets in (("Hoffmann's 9 budgets", HOFFMANN_BUDGETS), ("budgets found in log C", None)):
            cmp = sl.compare_approaches(d, inputs=inputs, budgets=budgets, C=1e22, n_boot=n_boot)
            results[f"epoch, {name}"] = show_comparison(f"Epoch's Chinchilla points, {name}", cmp)
            if budgets is not None:
                cmp.fits["2 isoflop"].plot(at=1e22).write_html(out_path(out, "epoch_isoflop.html"))
    else:
        print(f"({epoch} not found: Epoch's points skipped)")
    opt = validation / "colpret_opt_trajectories.csv"
    if opt.exists():
        o = pd.read_csv(opt)
        curves = pd.DataFrame({"run": o["model_size"], "step": o["steps"], "n_params": o["model_size"].map(OPT_SIZES),
                               "n_tokens": 10 ** o["num_token"], "flops": 10 ** o["flops"], "loss": np.log(o["ppl"])})
        results["opt"] = show_envelope("OPT training curves (125M-175B)",
                                       backtest_envelope(curves, split=None, n_boot=n_boot))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # read_logs reports the README/index it skips
        df = sl.read_logs(data)
    results["cpu_sizes"] = show_envelope(f"{Path(data).name}: curves",
                                         backtest_envelope(df, n_boot=n_boot))
    results["cpu_sizes_final"] = show_envelope(f"{Path(data).name}: final points only",
                                               backtest_envelope(sl.final_points(df, split="val"), split=None,
                                                                 n_boot=n_boot))
    iso_dir = Path(isoflop_dir) if isoflop_dir else ROOT / "data" / "cpu_isoflop"
    complete = [f for f in sorted(iso_dir.glob("*.jsonl"))
                if json.loads(f.open().readline()).get("header", {}).get("status") == "complete"] if iso_dir.is_dir() else []
    if complete:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            runs = pd.concat([sl.read_logs(f) for f in complete], ignore_index=True)
        pts = sl.final_points(runs, split="val")
        inputs = {"N": "n_params", "D": "n_tokens"}  # the nominal budgets C = 6ND
        print(f"\n== {iso_dir.name}: our CPU IsoFLOP ladder, {len(pts)} complete runs")
        try:
            cmp = sl.compare_approaches(pts, inputs=inputs, n_boot=n_boot, curves=runs,
                                        curve_columns={"x": "flops"})
            results["cpu_isoflop"] = show_comparison(f"{iso_dir.name}: approaches", cmp)
            # half the budgets held out: with 3 fitted budgets the rolling backtest cannot run and
            # the recommendation is the documented fallback (scalelaw.approaches.FALLBACK)
            cmp = sl.compare_approaches(pts, inputs=inputs, n_boot=n_boot, curves=runs,
                                        curve_columns={"x": "flops"}, holdout=0.5)
            results["cpu_isoflop_half"] = show_comparison(f"{iso_dir.name}: approaches, half the budgets held out", cmp)
        except ValueError as err:
            print(f"  too few complete budgets to backtest ({err}); the profiles:")
            try:
                iso = sl.isoflop(pts, inputs=inputs, n_boot=n_boot)
                print(iso.report())
                results["cpu_isoflop"] = {"optima": iso.optima}
            except ValueError as err2:
                print(f"  {err2}")
    ladder = Path(ladder_dir) if ladder_dir else ROOT / "data" / "cpu_ladder"
    if ladder.is_dir():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lp = sl.final_points(sl.read_logs(ladder), split="val")
        results["cpu_ladder"] = show_frontier(f"{ladder.name}: final points", lp, n_boot)
    return results


def show_frontier(label, pts, n_boot):
    """A size ladder with fixed token budgets: IsoFLOP budgets (if any), the laws fitted on the
    smaller sizes against the held-out sizes' compute-frontier points, and Approach 1."""
    print(f"\n== {label}: {len(pts)} runs")
    out = {}
    try:
        sl.isoflop(pts, inputs={"N": "n_params", "D": "n_tokens"}, n_boot=0)
        print("  IsoFLOP budgets found (compare_approaches applies)")
    except ValueError as err:
        print(f"  no IsoFLOP budgets: {err}")
    bt = backtest_frontier(pts)
    print(f"  laws fitted on sizes {[f'{v:.3g}' for v in bt.attrs['fitted_sizes']]}, predicting the compute "
          f"frontier points of sizes {[f'{v:.3g}' for v in bt.attrs['held_sizes']]}:")
    print(bt.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    for law in ("chinchilla", "kaplan_nd"):
        e = bt[law + "_err"].abs()
        out["frontier " + law] = {"mean": float(e.mean()), "max": float(e.max())}
    env = backtest_envelope(pts, split=None, n_boot=n_boot)
    out["by compute"] = show_envelope(f"{label}: held out by compute", env)
    return out


if __name__ == "__main__":
    args = parse_args(__doc__, "cpu_decoder_sizes",
                      extra=[("--validation", str, None, "folder of the published data (default ../shared/validation)"),
                             ("--isoflop", str, None, "our IsoFLOP set (default data/cpu_isoflop)"),
                             ("--ladder", str, None, "our BPE size ladder (default data/cpu_ladder)"),
                      ("--boot", int, 100, "bootstrap resamples per fit")])
    main(args.data, args.out, validation=args.validation, isoflop_dir=args.isoflop, n_boot=args.boot,
         ladder_dir=args.ladder)
