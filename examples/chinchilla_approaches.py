"""Chinchilla's three approaches on real ladders, each backtested on the largest budgets.

For every ladder at hand, fits Approach 1 (envelope of training curves), Approach 2 (IsoFLOP
profiles), Approach 3 (the parametric law) and Approach 3 fitted near each budget's optimum on
the smaller budgets, predicts the held-out largest third, and prints the errors (the evidence
behind the README's recommendation). Run from the repo root:

    python examples/chinchilla_approaches.py [--data data/cpu_decoder_sizes] [--validation ../shared/validation]
        [--isoflop data/cpu_isoflop] [--ladder data/cpu_ladder] [--out examples_out] [--boot 100]
    python examples/chinchilla_approaches.py --data data/cpu_isoflop_bpe [--spec examples/sweeps/cpu_isoflop_bpe.yaml]

Ladders: Epoch's extraction of Hoffmann et al.'s points (IsoFLOP-shaped; Hoffmann's nine
budgets 6e18-3e21 and the budgets found by binning), OPT's training curves (Zhang et al. 2022,
a size ladder with no budgets: Approach 1 against the parametric law), both from
``--validation`` when present; our bundled CPU size grid (``--data``); our CPU IsoFLOP set
(``--isoflop``) when it has 4+ complete budgets; our BPE size ladder (``--ladder``: 6 sizes x 4
fixed token budgets, no two runs at one compute, so no IsoFLOP budgets): the parametric laws
fitted on the smaller sizes against its compute frontier, and Approach 1 on its final points.

``--data`` pointing at an IsoFLOP ladder made by ``scalelaw sweep`` (its run names carry the
sweep's budget label, ``..._C7.5e10_...``) analyses that ladder alone, complete or not: a budget
counts only when every run planned for it has a complete log (the plan: the folder's logs, its
``index*.csv`` and the sweep spec, ``--spec`` or the ``examples/sweeps/*.yaml`` whose ``name`` is
the runs' prefix); the others are listed and skipped, and the backtest fits all but the largest
third of the complete budgets (``ladder_status``).

Our trainer's ladders are analysed twice: in the nominal budgets' compute C = 6 N D (N
non-embedding, Kaplan's convention), and in counted compute, the ``flops_with_head`` column
``read_logs`` derives from the logs' headers (6N, attention and the tied LM head's 6 vocab d_model
per token; Porian et al. 2024): budgets stay the nominal ones and each optimum is placed at its
counted compute (``compare_approaches(..., counted="flops_with_head")``).
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import scalelaw as sl
from _common import ROOT, out_path, parse_args
from scalelaw.approaches import backtest_envelope, backtest_frontier

# our trainer's logs: counted compute, LM head included (scalelaw.io.trainer_jsonl)
COUNTED = "flops_with_head"
AXES = (("nominal C = 6ND", None), ("counted C, LM head included", COUNTED))
HOFFMANN_BUDGETS = [6e18, 1e19, 3e19, 6e19, 1e20, 3e20, 6e20, 1e21, 3e21]
OPT_SIZES = {"125m": 125e6, "1.3b": 1.3e9, "6.7b": 6.7e9, "13b": 13e9, "30b": 30e9, "175b": 175e9}


def show_comparison(label, cmp):
    print(f"\n== {label}")
    print(cmp.report())
    t = cmp.backtest.pivot_table(index="C", columns="approach", values="rel_err")
    print("backtest relative error of each held-out budget's optimum loss:")
    print((100 * t).round(2).to_string(float_format=lambda v: f"{v:+.2f}%"))
    rec = cmp.backtest[cmp.backtest["approach"].str.startswith("recommended")]
    if cmp.rolling:
        print("  rolling backtest inside the fitted budgets, mean |rel err|: "
              + ", ".join(f"{k} {100 * v:.2f}%" for k, v in cmp.rolling.items()))
    for r in rec.itertuples():
        at = f" (counted {r.C_fit:.3g})" if getattr(r, "C_fit", r.C) != r.C else ""
        print(f"  recommended at C={r.C:.3g}{at}: truth {r.truth:.4f}, predicted {r.pred:.4f} ({100 * r.rel_err:+.2f}%), "
              f"{cmp.level:.0%} interval [{r.lo:.4f}, {r.hi:.4f}]: {'covers' if r.covered else 'MISSES'}")
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


# the budget label ``scalelaw sweep`` puts in a run's name for a ``flops:`` grid axis (C7.5e10)
BUDGET_LABEL = re.compile(r"(?:^|_)C(\d+(?:\.\d+)?(?:e[+-]?\d+)?)(?=_|$)")


def budget_of(run_name):
    """The sweep's budget label in a run name as FLOPs (``isob_C7.5e10_d_model12_seed0`` -> 7.5e10), or None."""
    m = BUDGET_LABEL.search(str(run_name))
    return float(m.group(1)) if m else None


def _header(path):
    try:
        with open(path) as fh:
            return json.loads(fh.readline()).get("header", {}) or {}
    except (OSError, ValueError):
        return {}


def _spec_runs(folder, spec, names):
    """Run names the sweep spec plans: ``spec`` if given, else the ``examples/sweeps/*.yaml`` whose
    ``name`` is the prefix of the folder's runs (the part before their budget label); (names, spec path)."""
    import yaml

    from scalelaw.train.sweep import expand

    if spec is None:
        prefixes = {BUDGET_LABEL.split(n)[0] for n in names if budget_of(n) is not None}
        for path in sorted((ROOT / "examples" / "sweeps").glob("*.yaml")):
            try:
                if (yaml.safe_load(path.read_text()) or {}).get("name") in prefixes:
                    spec = path
                    break
            except yaml.YAMLError:
                continue
        if spec is None:
            return [], None
    return [cfg.name for cfg in expand(spec)], Path(spec)


def ladder_status(folder, spec=None):
    """Which budgets of an IsoFLOP ladder made by ``scalelaw sweep`` are complete.

    The plan is the union of the folder's logs, its ``index*.csv`` rows and the sweep spec's runs
    (``spec``, else found by the runs' name prefix); a run counts as done only when its log is in
    the folder with header status ``complete``. Returns ``(files, table, spec)``: the complete
    budgets' log files, one row per budget (C, planned, done, complete, missing: the runs not
    done with their status), and the spec used (None when none was found).
    """
    folder = Path(folder)
    status = {}
    logs = {}
    for f in sorted(folder.glob("*.jsonl")):
        h = _header(f)
        name = h.get("run") or f.stem
        logs[name] = f
        status[name] = h.get("status") or "no header"
    for idx in sorted(folder.glob("index*.csv")):
        try:
            rows = pd.read_csv(idx, usecols=["run", "status"])
        except (ValueError, OSError):
            continue
        for row in rows.itertuples():
            status.setdefault(str(row.run), "no log")
    planned, spec_path = _spec_runs(folder, spec, list(status))
    for name in planned:
        status.setdefault(name, "no log")
    rows, files = [], []
    budgets = {}
    for name, st in status.items():
        C = budget_of(name)
        if C is not None:
            budgets.setdefault(C, []).append(name)
    for C in sorted(budgets):
        names = sorted(budgets[C])
        done = [n for n in names if status[n] == "complete" and n in logs]
        missing = {n: status[n] for n in names if n not in done}
        rows.append({"C": C, "planned": len(names), "done": len(done), "complete": not missing, "missing": missing})
        if not missing:
            files += [logs[n] for n in done]
    return files, pd.DataFrame(rows, columns=["C", "planned", "done", "complete", "missing"]), spec_path


def is_isoflop_ladder(folder):
    """A folder of sweep logs whose run names all carry a budget label (``_C7.5e10_``)."""
    names = [_header(f).get("run") or f.stem for f in Path(folder).glob("*.jsonl")]
    return bool(names) and all(budget_of(n) is not None for n in names)


def show_isoflop_ladder(folder, n_boot, spec=None):
    """An IsoFLOP ladder, complete or partial: its complete budgets' approaches, backtested on
    the largest third of them (and on half when 3 budgets are still left to fit)."""
    folder = Path(folder)
    files, table, spec_path = ladder_status(folder, spec)
    print(f"\n== {folder.name}: IsoFLOP ladder; plan from its logs, index and "
          f"{spec_path if spec_path else 'no sweep spec (none found: pass --spec)'}")
    for row in table.itertuples():
        state = "complete" if row.complete else "INCOMPLETE, skipped"
        print(f"  budget C={row.C:.3g}: {row.done} of {row.planned} runs complete: {state}")
        by_status = {}
        for name, st in (row.missing or {}).items():
            by_status.setdefault(st, []).append(name)
        for st, names in by_status.items():
            print(f"      {len(names)} {st}" + (f": {', '.join(names)}" if len(names) <= 3 else ""))
    results = {"budgets": table}
    if not files:
        print("  no complete budget yet")
        return results
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        runs = pd.concat([sl.read_logs(f) for f in files], ignore_index=True)
    pts = sl.final_points(runs, split="val")
    inputs = {"N": "n_params", "D": "n_tokens"}  # the nominal budgets C = 6ND
    n_ok = int(table["complete"].sum())
    print(f"  {len(pts)} complete runs in {n_ok} complete budget(s)")
    # half the budgets held out differs from a third only from 6 budgets on (3 are kept to fit)
    splits = (("largest third held out", 1 / 3),) + ((("half the budgets held out", 0.5),) if n_ok >= 6 else ())
    for axis, counted in AXES:
        if counted is not None and counted not in pts.columns:
            print(f"  ({counted} not in the logs: the counted-compute analysis is skipped)")
            continue
        for label, holdout in splits:
            try:
                cmp = sl.compare_approaches(pts, inputs=inputs, n_boot=n_boot, curves=runs,
                                            curve_columns={"x": counted or "flops"}, holdout=holdout,
                                            counted=counted)
            except ValueError as err:
                print(f"  {label}: too few complete budgets to backtest ({err})")
                if holdout < 0.5 and counted is None:
                    _show_profiles(pts, inputs, n_boot, results)
                break
            key = ("isoflop" if holdout < 0.5 else "isoflop_half") + ("_counted" if counted else "")
            results[key] = show_comparison(f"{folder.name}: approaches, {label}, {axis}", cmp)
            results[key + "_backtest"] = cmp.backtest
            results[key + "_own"] = show_own_isoflop(cmp, n_boot)
    return results


def own_isoflop(cmp, n_boot):
    """Approach 2 on its own, as a user calling it would: ``sl.isoflop`` on the fitted budgets'
    points of ``cmp`` and its calibrated ``predict`` at each held-out budget. Returns (the held-out
    budgets' backtest rows, the prediction, the IsoFLOP result), or None without a backtest."""
    held = cmp.backtest[cmp.backtest["approach"] == "2 isoflop"]
    if held.empty:
        return None
    full = cmp.fits["2 isoflop"]
    pts = full.points
    fitted = pts[pts["budget"] < held["C"].min() * (1 - 1e-9)]
    counted = "C_counted" if full.counted else None
    iso = sl.isoflop(fitted[["N", "C", "loss"] + ([counted] if counted else [])], inputs={"N": "N", "C": "C"},
                     n_boot=n_boot, level=cmp.level, counted=counted)
    return held, iso.predict(held["C_fit"].to_numpy(float)), iso


def show_own_isoflop(cmp, n_boot):
    """Approach 2's own ``predict`` (:func:`own_isoflop`) at each held-out budget: error and interval."""
    own = own_isoflop(cmp, n_boot)
    if own is None:
        return None
    held, p, iso = own
    rows = []
    for j, r in enumerate(held.itertuples()):
        lo, hi = p["loss_lo"][j], p["loss_hi"][j]
        rows.append({"C": r.C, "err": p["loss"][j] / r.truth - 1, "lo": lo, "hi": hi, "covered": bool(lo <= r.truth <= hi)})
        print(f"  Approach 2's own predict at C={r.C:.3g}: {p['loss'][j]:.4f} ({100 * rows[-1]['err']:+.2f}%), "
              f"{cmp.level:.0%} interval ({iso.calibration.method if iso.calibration else 'bootstrap'}) [{lo:.4f}, {hi:.4f}]: "
              f"{'covers' if rows[-1]['covered'] else 'MISSES'}")
    return pd.DataFrame(rows)


def _show_profiles(pts, inputs, n_boot, results):
    try:
        iso = sl.isoflop(pts, inputs=inputs, n_boot=n_boot)
        print(iso.report())
        results["optima"] = iso.optima
    except ValueError as err:
        print(f"  {err}")


def main(data, out, validation=None, isoflop_dir=None, n_boot=100, ladder_dir=None, spec=None):
    results = {}
    if Path(data).is_dir() and is_isoflop_ladder(data):
        print(f"{data} is an IsoFLOP ladder: analysing it alone (the published ladders and the other "
              "bundled sets run without --data)")
        return show_isoflop_ladder(data, n_boot, spec)
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
            for axis, counted in AXES:
                if counted is not None and counted not in pts.columns:
                    continue
                tag = "_counted" if counted else ""
                kw = {"curve_columns": {"x": counted or "flops"}, "counted": counted}
                cmp = sl.compare_approaches(pts, inputs=inputs, n_boot=n_boot, curves=runs, **kw)
                results["cpu_isoflop" + tag] = show_comparison(f"{iso_dir.name}: approaches, {axis}", cmp)
                # half the budgets held out: with 3 fitted budgets the rolling backtest cannot run and
                # the recommendation is the documented fallback (scalelaw.approaches.FALLBACK)
                cmp = sl.compare_approaches(pts, inputs=inputs, n_boot=n_boot, curves=runs, holdout=0.5, **kw)
                results["cpu_isoflop_half" + tag] = show_comparison(
                    f"{iso_dir.name}: approaches, half the budgets held out, {axis}", cmp)
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
                             ("--spec", str, None, "sweep spec of an IsoFLOP ladder given as --data (default: "
                              "the examples/sweeps/*.yaml named like its runs)"),
                      ("--boot", int, 100, "bootstrap resamples per fit")])
    main(args.data, args.out, validation=args.validation, isoflop_dir=args.isoflop, n_boot=args.boot,
         ladder_dir=args.ladder, spec=args.spec)
