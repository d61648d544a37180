"""The Multi-Power Law (Luo et al. 2025) on the authors' own curves: fit three schedules, predict six.

Reads ../shared/validation/mpl_{25M,100M}_*.csv (published curves; not bundled), fits multi_power
on cosine_24000, constant_24000 and wsdcon_9 with the library's default (beta, gamma held at the
published shape) and with every parameter free, and prints the mean |relative error| of each
held-out schedule, their mean and the worst, beside the authors' published parameters evaluated
the same way (their reported means: 0.110% at 25M, 0.142% at 100M). ``--authors`` adds the
authors' own fitting procedure re-implemented (multi_power.fit_authors_procedure: a simplified
start, then AdamW stopped early; a few minutes a size). Run from the repo root:

    python examples/multi_power_validation.py [--sizes 25M,100M] [--free] [--authors]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

import scalelaw as sl
from _mpl_curves import NAMES, PUBLISHED, TRAIN, VALIDATION, load
from scalelaw.laws.multi_power import fit_authors_procedure, multi_power

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


def main(sizes, free, authors=False):
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
    return results


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="25M,100M")
    ap.add_argument("--free", action="store_true", help="also fit with every parameter free (slower)")
    ap.add_argument("--authors", action="store_true",
                    help="also fit with the authors' own procedure (multi_power.fit_authors_procedure; minutes)")
    args = ap.parse_args()
    main(args.sizes.split(","), args.free, args.authors)
