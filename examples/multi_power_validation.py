"""The Multi-Power Law (Luo et al. 2025) on the authors' own curves: fit three schedules, predict six.

Reads ../shared/validation/mpl_{25M,100M}_*.csv (published curves; not bundled), fits multi_power
on cosine_24000, constant_24000 and wsdcon_9 with the library's default (beta, gamma held at the
published shape) and with every parameter free, and prints the mean |relative error| of each
held-out schedule, their mean and the worst, beside the authors' published parameters evaluated
the same way (their reported means: 0.110% at 25M, 0.142% at 100M). ``--authors`` adds the
authors' own fitting procedure re-implemented (multi_power.fit_authors_procedure: a simplified
start, then AdamW stopped early; 10-20 s a size). ``--select`` chooses between the two by
leaving one fitted schedule out (multi_power_cv.select_fit_method: only the three fitted curves
enter the choice) and prints each fold's errors, the choice and its held-out errors. Run from the
repo root:

    python examples/multi_power_validation.py [--sizes 25M,100M] [--free] [--authors] [--select]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

import scalelaw as sl
from _mpl_curves import NAMES, PUBLISHED, TRAIN, VALIDATION, load
from scalelaw.laws.multi_power import fit_authors_procedure, multi_power
from scalelaw.multi_power_cv import select_fit_method

PARAMS = ["L0", "A", "alpha", "B", "C", "beta", "gamma"]


def errors(predict, curves):
    out = {}
    for name in NAMES:
        d = curves[curves["run"] == name]
        pred = predict(name, d["step"].to_numpy())
        out[name] = float(np.mean(np.abs(pred - d["loss"].to_numpy()) / d["loss"].to_numpy()))
    return out


def line(label, errs, seconds=None):
    held = {n: errs[n] for n in NAMES if n not in TRAIN}
    worst = max(held, key=held.get)
    took = f" ({seconds:.0f} s)" if seconds is not None else ""
    print(f"  {label:<28} held-out mean {100 * np.mean(list(held.values())):.3f}%  worst {worst} "
          f"{100 * held[worst]:.3f}%  fitted-on mean {100 * np.mean([errs[n] for n in TRAIN]):.3f}%{took}")
    print("    " + "  ".join(f"{n} {100 * e:.3f}%" for n, e in held.items()))
    return {"mean": float(np.mean(list(held.values()))), "worst": worst, "worst_err": held[worst], "per": held}


def main(sizes, free, authors=False, select=False):
    if not VALIDATION.exists():
        print(f"{VALIDATION} not found: these are published curves read from ../shared/validation")
        return {}
    results = {}
    for size in sizes:
        curves, lrs = load(size)
        print(f"{size}: fit {', '.join(TRAIN)}; predict the other six")
        pub = dict(zip(PARAMS, PUBLISHED[size]))
        results[(size, "published")] = line("published parameters", errors(
            lambda n, s: multi_power(lrs[n], **pub, steps=s), curves))
        variants = [("default (beta, gamma held)", None)] + ([("all seven free", {"beta": None, "gamma": None})]
                                                              if free else [])
        for label, fixed in variants:
            t = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = sl.fit("multi_power", curves[curves["run"].isin(TRAIN)], schedules=lrs, fixed=fixed)
            took = time.perf_counter() - t
            results[(size, label)] = line(label, errors(
                lambda n, s: fit.predict(schedule=lrs[n], steps=s, warn=False), curves), took)
            print("    params: " + ", ".join(f"{k} {v:.4g}" for k, v in fit.params.items()))
        if authors:
            t = time.perf_counter()
            P = fit_authors_procedure(curves[curves["run"].isin(TRAIN)], lrs)
            took = time.perf_counter() - t
            results[(size, "authors")] = line("authors' procedure", errors(
                lambda n, s: multi_power(lrs[n], **P, steps=s), curves), took)
            print("    params: " + ", ".join(f"{k} {v:.4g}" for k, v in P.items()))
        if select:
            t = time.perf_counter()
            sel = select_fit_method(curves[curves["run"].isin(TRAIN)], lrs)
            took = time.perf_counter() - t
            for m, errs in sel["folds"].items():
                print(f"  leave-one-fitted-out {m:<8} CV {100 * sel['cv'][m]:.3f}%  ("
                      + ", ".join(f"{r} {100 * e:.3f}%" for r, e in errs.items()) + ")")
            results[(size, "selected")] = line(f"selected: {sel['method']}", errors(
                lambda n, s: multi_power(lrs[n], **sel["params"], steps=s), curves), took)
            results[(size, "selected")].update(method=sel["method"], cv=sel["cv"], folds=sel["folds"])
            print("    params: " + ", ".join(f"{k} {v:.4g}" for k, v in sel["params"].items()))
    return results


def cpu_set(sizes=("d2-32", "d4-64"), fit_on=("constant", "cosine", "step"), min_step=101):
    """select_fit_method on our own CPU schedule set (BPE, 1,953 steps, peak 1e-2, warm-up 100):
    fit each size's constant, cosine and step runs (seed 0, val, steps >= 101, the warm-up inside
    LD as examples/schedule_optimum.py fits them) and score both methods on the other schedules."""
    from _common import DATA

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logs = sl.read_logs(DATA / "cpu_schedules")
    logs = logs[(logs["split"] == "val") & (logs["step"] >= min_step) & logs["run"].str.endswith("_seed0")]
    logs = logs.assign(kind=logs["run"].str.split("_").str[-2])
    out = {}
    for size in sizes:
        mine = logs[logs["run"].str.startswith(f"sch_{size}_")]
        lrs = {r: sl.schedules.from_spec(g["schedule"].iloc[0]) for r, g in mine.groupby("run")}
        fitted = mine[mine["kind"].isin(fit_on)]
        t = time.perf_counter()
        sel = select_fit_method(fitted, lrs)
        took = time.perf_counter() - t
        print(f"{size}: fit {', '.join(fit_on)}; chose {sel['method']} ({took:.0f} s)")
        for m, errs in sel["folds"].items():
            print(f"  leave-one-fitted-out {m:<8} CV {100 * sel['cv'][m]:.3f}%  ("
                  + ", ".join(f"{r.split('_')[-2]} {100 * e:.3f}%" for r, e in errs.items()) + ")")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            default = dict(sl.fit("multi_power", fitted, schedules=lrs).params)
        authors = sel["params"] if sel["method"] == "authors" else fit_authors_procedure(fitted, lrs)
        fits = {"default (huber)": default, "authors": authors, f"selected ({sel['method']})": sel["params"]}
        for label, P in fits.items():
            held = {k: float(np.mean(np.abs(multi_power(lrs[r], **P, steps=g["step"].to_numpy()) - g["loss"].to_numpy())
                                     / g["loss"].to_numpy()))
                    for (r, k), g in mine[~mine["kind"].isin(fit_on)].groupby(["run", "kind"])}
            worst = max(held, key=held.get)
            print(f"  {label:<20} held-out mean {100 * np.mean(list(held.values())):.3f}%  worst {worst} "
                  f"{100 * held[worst]:.3f}%  (" + ", ".join(f"{k} {100 * e:.3f}%" for k, e in held.items()) + ")")
            print("    params: " + ", ".join(f"{k} {v:.4g}" for k, v in P.items()))
        out[size] = {"method": sel["method"], "cv": sel["cv"], "folds": sel["folds"], "params": sel["params"],
                     "default": default}
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="25M,100M")
    ap.add_argument("--free", action="store_true", help="also fit with every parameter free (slower)")
    ap.add_argument("--authors", action="store_true",
                    help="also fit with the authors' own procedure (multi_power.fit_authors_procedure; 10-20 s a size)")
    ap.add_argument("--select", action="store_true",
                    help="also choose between the default and the authors' fit by leaving one fitted schedule "
                         "out (multi_power_cv.select_fit_method; about a minute a size)")
    ap.add_argument("--cpu-set", action="store_true",
                    help="instead: the same choice on data/cpu_schedules (each size fitted on constant, cosine, "
                         "step; scored on the other seed-0 schedules)")
    args = ap.parse_args()
    if args.cpu_set:
        cpu_set()
    else:
        main(args.sizes.split(","), args.free, args.authors, args.select)
