"""Do the IsoFLOP intervals cover the held-out budgets? (issue 18: "a calibrated interval that
covers it"). Measures, at 80 / 90 / 95%, the recommended path's interval from
``sl.compare_approaches`` and Approach 2's own ``sl.isoflop(...).predict(C)`` interval (fitted
on the same budgets) against each held-out budget's own IsoFLOP minimum:

1. real ladders: ``data/cpu_isoflop`` (fit 4 budgets, hold out 1.6e12 and 3.2e12, where every
   floor fitted on the smaller budgets is 0 and every parametric path lands 3.5-4% low),
   ``data/cpu_isoflop_bpe`` (largest third held out, and its largest budget alone) and
   Epoch's Chinchilla points (Hoffmann's 9 budgets, and the budgets found by binning), when
   ``../shared/validation`` has them;
2. synthetic ladders with a known positive floor the fitted budgets often cannot see:
   Hoffmann's law (E = 1.69) far below its floor's reach (budgets 1e15 x 2^k, where L_opt is
   7.0 to 4.0), 6 sizes per budget centred on the optimum, 0.5% log-normal noise; 6 budgets
   (fit 4: one rolling origin, the fallback width) and 9 budgets (fit 6: 3 origins, calibrated).
   Approach 2's coverage is split by whether its fitted floor L_inf collapsed to 0.

Run from the repo root (about 6 min on a busy 2-core machine; ``--synthetic`` alone about 1 min
plus 20 s per ``--cmp-seeds``):

    python benchmarks/study_isoflop_interval.py [--validation ../shared/validation] [--synthetic] [--seeds 12] [--cmp-seeds 4]

Measured 2026-11-29 (the evidence that no widening rule is needed; nothing here was tuned on the
held-out budgets, and no rule was changed):

- cpu_isoflop, fit 4 / predict 2: the recommended (near-optimum) interval covers both held-out
  budgets at 80, 90 and 95% (3.2e12: truth 1.6724, predicted 1.6133 = -3.53%, 80% [1.5006, 1.7302]);
  Approach 2's own too (-3.95%, 80% [1.4699, 1.7503]). Both are the *fallback* width (one rolling
  origin: the interval says it is not calibrated), and the fallback's 0.05 log-loss per decade
  is what covers the floor it cannot see.
- cpu_isoflop_bpe (BPE, 6 budgets, session 5), fit 4 / predict 2: the recommended path (Approach 2)
  lands +1.85% / +3.36% (too high: the minima's descent speeds up) and its interval, the fallback
  width again, covers both at 80, 90 and 95% (80% at 2.4e12: [3.6477, 4.1042], truth 3.7465; mean
  half-width 4.5% / 7.0% / 10.3% at 80 / 90 / 95%).
- cpu_isoflop_bpe with 8 budgets (session 6, `2 isoflop recent` in the candidates; `--boot 50`):
  largest third held out (fit 5: 2 origins, fallback width): recent recommended, +1.73% / +2.42% /
  +3.10%, covered 3 of 3 at 80, 90 and 95% (mean half-width 6.7 / 10.1 / 14.7%); Approach 2's own
  +2.81% / +3.87% / +4.93%, 3 of 3. Largest budget held out (fit 7: 4 origins, **calibrated**):
  recent, -0.08% at 9.6e12, covered at 80, 90 and 95% with half-widths 2.7 / 3.9 / 5.3%; Approach
  2's own +0.82%, covered (2.2 / 3.1 / 4.2%).
- Epoch, 9 budgets (fit 6, 3 origins, calibrated): recommended (envelope) 3 of 3 at every level,
  90% half-width ~4%; Approach 2's own 3 of 3. Binned budgets: near-optimum 5 of 5, 90% half-width ~2%.
- Synthetic (12 seeds, 2 or 3 held-out budgets each): Approach 2's own interval covered 100% at
  80/90/95%, including the 8 held-out budgets whose fitted floor was 0 (errors -0.7% to -2.5%,
  90% half-widths 4.5-9.7%); over-covering, not under-covering. The recommended path at 90%
  (8 seeds, 30 bootstrap draws): 16 of 16 held-out budgets covered with 6 budgets (fallback,
  mean half-width 7.0%, errors -2.4% to +0.7%), 24 of 24 with 9 (calibrated, mean half-width
  2.2%, errors -1.6% to +2.6%).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import scalelaw as sl

warnings.simplefilter("ignore")
LEVELS = (0.8, 0.9, 0.95)
HOFFMANN_BUDGETS = [6e18, 1e19, 3e19, 6e19, 1e20, 3e20, 6e20, 1e21, 3e21]
A, ALPHA, B, BETA, E = 406.4, 0.34, 410.7, 0.28, 1.69


def load_isoflop(folder="data/cpu_isoflop"):
    files = [f for f in sorted(Path(folder).glob("*.jsonl"))
             if json.loads(f.open().readline()).get("header", {}).get("status") == "complete"]
    runs = pd.concat([sl.read_logs(f) for f in files], ignore_index=True)
    return sl.final_points(runs, split="val")


def synthetic(nb, seed, noise=0.005, start=1e15):
    """Hoffmann's law on ``nb`` budgets start x 2^k, 6 sizes (x1/4 to x4) around each optimum."""
    rng = np.random.default_rng(100 + seed)
    G = (ALPHA * A / (BETA * B)) ** (1 / (ALPHA + BETA))
    rows = []
    for C in start * 2.0 ** np.arange(nb):
        for N in G * (C / 6) ** (BETA / (ALPHA + BETA)) * np.geomspace(1 / 4, 4, 6):
            L = E + A / N ** ALPHA + B / (C / (6 * N)) ** BETA
            rows.append({"n_params": N, "flops": C, "loss": L * np.exp(noise * rng.standard_normal())})
    return pd.DataFrame(rows)


def own_isoflop(df, inputs, budgets, held_C, truth, n_boot, seed=0):
    """Approach 2 on the budgets below the held-out ones: rows per level and held-out budget."""
    pts = sl.isoflop(df, inputs=inputs, budgets=budgets, n_boot=0).points
    sub = pts[pts["budget"] < held_C.min() * (1 - 1e-9)]
    iso = sl.isoflop(sub[["N", "C", "loss"]], inputs={"N": "N", "C": "C"}, budgets=budgets, n_boot=n_boot, seed=seed)
    floor0 = iso.params.get("L_inf", 0.0) < 1e-3 * float(np.min(truth))
    out = []
    for level in LEVELS:
        p = iso.predict(held_C, level=level)
        for j in range(len(held_C)):
            out.append({"level": level, "C": held_C[j], "err": p["loss"][j] / truth[j] - 1,
                        "lo": p["loss_lo"][j], "hi": p["loss_hi"][j], "truth": truth[j],
                        "covered": bool(p["loss_lo"][j] <= truth[j] <= p["loss_hi"][j]),
                        "floor0": floor0, "method": iso.calibration.method if iso.calibration else "none"})
    return out


def recommended(df, inputs, budgets, n_boot, levels=LEVELS, seed=0, holdout=1 / 3):
    out = []
    for level in levels:
        cmp = sl.compare_approaches(df, inputs=inputs, budgets=budgets, n_boot=n_boot, level=level, seed=seed,
                                    holdout=holdout)
        rec = cmp.backtest[cmp.backtest["approach"].str.startswith("recommended")]
        floor0 = any(w.startswith("recommended path") for w in cmp.warnings)
        fallback = any("fallback" in w for w in cmp.warnings)
        for r in rec.itertuples():
            out.append({"level": level, "C": r.C, "err": r.rel_err, "lo": r.lo, "hi": r.hi, "truth": r.truth,
                        "covered": bool(r.covered), "approach": cmp.recommended, "floor0": floor0,
                        "method": "fallback" if fallback else "calibrated"})
    return out, rec


def show(label, rows):
    d = pd.DataFrame(rows)
    for level, g in d.groupby("level"):
        half = np.log(g["hi"] / g["lo"]) / 2
        errs = " ".join(f"{100 * e:+.2f}%" for e in g["err"])
        print(f"  {label:<34} {level:.0%}: covered {int(g['covered'].sum())} of {len(g)}, mean half-width "
              f"{100 * half.mean():.1f}% ({g['method'].iloc[0]}); errors {errs}")


def real(validation, n_boot):
    sets = []
    for name in ("cpu_isoflop", "cpu_isoflop_bpe"):
        if Path("data", name).is_dir():
            sets.append((f"{name} (largest third held out)", load_isoflop(f"data/{name}"),
                         {"N": "n_params", "D": "n_tokens"}, None))
    if Path("data", "cpu_isoflop_bpe").is_dir():  # 8 budgets: fit 7, hold out 9.6e12 (4 rolling origins)
        sets.append(("cpu_isoflop_bpe (largest budget held out)", load_isoflop("data/cpu_isoflop_bpe"),
                     {"N": "n_params", "D": "n_tokens"}, None, 1 / 8))
    epoch = Path(validation) / "chinchilla_svg_extracted.csv"
    if epoch.exists():
        d = pd.read_csv(epoch)
        inputs = {"N": "Model Size", "C": "Training FLOP"}
        sets += [("Epoch, Hoffmann's 9 budgets", d, inputs, HOFFMANN_BUDGETS), ("Epoch, binned budgets", d, inputs, None)]
    else:
        print(f"({epoch} not found: Epoch's points skipped)")
    for label, df, inputs, budgets, *holdout in sets:
        t = time.time()
        rows, rec = recommended(df, inputs, budgets, n_boot, holdout=holdout[0] if holdout else 1 / 3)
        print(f"{label}: recommended {rows[0]['approach']} ({time.time() - t:.0f} s)")
        show("recommended path", rows)
        show("Approach 2's own predict", own_isoflop(df, inputs, budgets, rec["C"].to_numpy(float),
                                                     rec["truth"].to_numpy(float), n_boot))


def synthetic_study(seeds, cmp_seeds, n_boot):
    inputs = {"N": "n_params", "C": "flops"}
    for nb in (6, 9):
        own, rec_rows = [], []
        for seed in range(seeds):
            df = synthetic(nb, seed)
            o = sl.isoflop(df, inputs=inputs, n_boot=0).optima.sort_values("C")
            n_hold = max(1, round(len(o) / 3))
            held = o.iloc[-n_hold:]
            own += own_isoflop(df, inputs, None, held["C"].to_numpy(float), held["loss_opt"].to_numpy(float),
                               n_boot, seed)
            if seed < cmp_seeds:
                rec_rows += recommended(df, inputs, None, n_boot, levels=(0.9,), seed=seed)[0]
        d = pd.DataFrame(own)
        print(f"synthetic, {nb} budgets (fit {nb - round(nb / 3)}), {seeds} seeds:")
        for floor0, g in d.groupby("floor0"):
            show(f"Approach 2 own, floor {'at 0' if floor0 else 'fitted > 0'}", g.to_dict("records"))
        if rec_rows:
            show(f"recommended path ({cmp_seeds} seeds)", rec_rows)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--validation", default="../shared/validation")
    ap.add_argument("--synthetic", action="store_true", help="the synthetic ladders only")
    ap.add_argument("--seeds", type=int, default=12)
    ap.add_argument("--cmp-seeds", type=int, default=4, help="seeds for the (slower) recommended path")
    ap.add_argument("--boot", type=int, default=50)
    args = ap.parse_args(argv)
    if not args.synthetic:
        real(args.validation, args.boot)
    synthetic_study(args.seeds, args.cmp_seeds, args.boot)


if __name__ == "__main__":
    sys.exit(main())
