"""Which rule should pick ``compare_approaches``' recommended path from its rolling backtest?

``compare_approaches`` fits five paths and recommends the one with the smallest *rolling-origin*
backtest error inside the fitted budgets: origins m = 3 .. n-1 (fit on the first m fitted
budgets, predict every later fitted budget), score = mean |relative error| over every (origin,
later budget) pair. That score weighs the shortest horizons and the smallest origins most; the
user's question is the longest horizon (the largest third of the budgets, fitted on all the
others). This study scores candidate rules on the same rolling-backtest errors and measures the
error of the path each rule recommends at the target budgets:

- ``all pairs`` (the current rule): mean |rel err| over every (origin, later budget) pair;
- ``longest``: per origin only its longest horizon (the last fitted budget), mean over origins;
- ``d-weighted``: every pair weighted by its distance d (decades of C beyond the origin);
- ``latest 2``: only the pairs of the last two origins (the fits most like the full one);
- ``trend``: each origin's longest-horizon log error per decade, r_m = e_m / d_m, fitted by a
  straight line in the origin's log10 C and extrapolated to the full fit's origin; score |r|
  there (with one origin, |r| itself): penalises a path whose error grows as budgets are added.

Evidence (never the issue's held-out budgets: BPE 9.6e12 / 1.92e13 / 3.84e13, bytes 3.2e12 / 6.4e12):

1. synthetic IsoFLOP ladders of known truth: L = E + ((A/N^alpha)^(1/g) + (B/D^beta)^(1/g))^g
   (g = 1 the fitted form; 0.7, 1.4 a misfit away from the valley; "short-run" the additive law
   plus 0.1 exp(-(D/N)/2); "step" the additive law plus a plateau that lifts, h / (1 + (D/D_s)^2)
   with h in [0.05, 0.2] nats and D_s at a random budget's D_opt, so the minima's descent speeds
   up and slows again as on both our CPU ladders), 0.5% noise per point, a 0.3% shared offset per
   budget, 6 sizes 1.8x apart per budget in a random off-centre window, budgets 2x apart from a
   random C0 in [1e17, 1e20] (some ladders flatten towards E within the budgets), K = 7 (fit 5,
   predict 2) or K = 10 (fit 7, predict 3); truth: the law's own L_opt at the target budgets;
2. Epoch's extraction of Hoffmann et al.'s points (../shared/validation), Hoffmann's 9 budgets
   and the budgets binned in log C (tol 0.05), the largest third held out; truth: each held-out
   budget's own IsoFLOP minimum;
3. nested backtests inside the fitted budgets of our real ladders: ``data/cpu_isoflop_bpe``'s
   first 7 budgets (fit 5, predict 2.4e12 / 4.8e12) and first 6 (fit 4, predict 1.2e12 /
   2.4e12), ``data/cpu_isoflop``'s first 5 (fit 4, predict 1.6e12); truth as for Epoch.

The metric: the recommended path's mean |rel err| over a ladder's target budgets, averaged over
the ladders of each group. The decision rule (fixed in the commit that added this script, before
the candidates were run on any of the evidence): adopt a candidate only if on the synthetic
ladders its mean is at most 0.85x the current rule's and it is better than the current rule on
more ladders than it is worse, and on Epoch's and the nested real backtests its group mean is not
worse than the current rule's by more than 0.25 percentage points; of several, the lowest
synthetic mean; otherwise keep the current rule.

Run from the repo root (``nice -n 2``; REPS ladders per scenario and K):

    python benchmarks/study_approach_selection.py [REPS=4] [--only synthetic,epoch,nested]

Measured 2026-11-30 (``nice -n 2 python benchmarks/study_approach_selection.py 3``: 30 synthetic
ladders, 460 s on 2 shared cores, code of ``563713b``, the commit that fixed the decision rule). The recommended path's mean |rel err| at
the target budgets, and on how many ladders each rule beat / lost to the current one:

| rule | synthetic (30) | better / worse | Epoch (Hoffmann's 9 / binned) | nested real (BPE 7, BPE 6, byte 5) |
|---|---|---|---|---|
| all pairs (current) | 0.77% | - | 0.52% (0.15 / 0.90) | 1.59% (2.03 / 2.11 / 0.63) |
| longest | 0.82% | 0 / 2 | 0.26% (0.36 / 0.16) | 1.59% (same picks) |
| d-weighted | 0.80% | 0 / 2 | 0.52% (same picks) | 1.59% |
| latest 2 | 0.93% | 1 / 6 | 0.92% (0.36 / 1.49) | 1.59% |
| trend | 0.88% | 3 / 15 | 0.52% (same picks) | 1.59% |
| (oracle: the best path per ladder) | 0.29% | 18 / 0 | 0.14% | 1.47% |
| (always 3 near-optimum) | 0.59% | 9 / 12 | 0.63% | 3.18% |
| (always 1 envelope) | 0.96% | 8 / 20 | 0.16% | 3.11% |

**No candidate passes the decision rule** (each needs <= 0.85x the current rule's synthetic
mean; every one is worse there, 1.05-1.21x, and loses more ladders than it wins), so the current
rule stays. The candidates aimed at the byte ladder's failure mode do not pay off where the truth
is known: ``trend`` (penalise a path whose error grows as budgets are added) is worse on 15 of 30
synthetic ladders and better on 3, because with 2-4 origins the extrapolated error-per-decade is
mostly noise; ``longest`` and ``d-weighted`` rarely change the pick (with 2 origins the pairs
they keep are most of the pairs) and lose the 2 they change; ``latest 2`` discards origins and is
worse in 6. On the nested real backtests every rule picks the same path (1-2 origins), so they
cannot separate the rules. Epoch's binned slicing is the one place a candidate (``longest``) gains
(0.90% to 0.16%), and it loses Hoffmann's slicing (0.15% to 0.36%). The gap to the oracle (0.77%
against 0.29%) is what any rule scored on the fitted budgets leaves; 30 ladders is modest, and
the per-scenario means move by up to 0.5 points between candidates in either direction.

After the decision (not used for it): on the issue's own splits (``data/cpu_isoflop`` fit 5 of 7,
2 origins; ``data/cpu_isoflop_bpe`` fit 7 of 10, 4 origins) every candidate picks the same path as
the current rule (near-optimum; ``2 isoflop recent``), so none would have changed the held-out
figures: no score of these rolling errors picks the envelope on the byte ladder.
"""
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import scalelaw as sl
from scalelaw.approaches import APPROACHES, _budget_split, _choose, _fit_one, _predict_one, _rolling_errors, _subset

warnings.simplefilter("ignore")
ROOT = Path(__file__).resolve().parents[1]
VALIDATION = ROOT.parent / "shared" / "validation"
E, A, ALPHA, B, BETA = 1.69, 406.4, 0.34, 410.7, 0.28
N_BOOT = 20  # approach 2's inverse-variance weights need draws (compare_approaches: min(n_boot, 50))
LEVEL = 0.9


# ---- candidate scores: each maps the rolling-backtest errors (one ladder) to {approach: score} --

def _rel(e):
    return np.abs(np.expm1(np.asarray(e, float)))


def s_all(inner):
    return {n: float(_rel(g["log_err"]).mean()) for n, g in inner.groupby("approach")}


def s_longest(inner):
    out = {}
    for n, g in inner.groupby("approach"):
        last = g.loc[g.groupby("origin")["d"].idxmax()]
        out[n] = float(_rel(last["log_err"]).mean())
    return out


def s_dweighted(inner):
    return {n: float(np.sum(g["d"] * _rel(g["log_err"])) / np.sum(g["d"])) for n, g in inner.groupby("approach")}


def s_latest2(inner):
    top = inner["origin"].max()
    return s_all(inner[inner["origin"] >= top - 1])


def s_trend(inner):
    out = {}
    c_full = np.log10(inner["C"].max())  # the full fit's largest budget: the last fitted one
    for n, g in inner.groupby("approach"):
        last = g.loc[g.groupby("origin")["d"].idxmax()].sort_values("origin")
        r = last["log_err"].to_numpy(float) / last["d"].to_numpy(float)
        x = np.log10(last["C"].to_numpy(float)) - last["d"].to_numpy(float)  # log10 of the origin's largest budget
        out[n] = float(abs(r[0]) if len(r) < 2 else abs(np.polyval(np.polyfit(x, r, 1), c_full)))
    return out


RULES = {"all pairs (current)": s_all, "longest": s_longest, "d-weighted": s_dweighted,
         "latest 2": s_latest2, "trend": s_trend}


# ---- one ladder: rolling errors inside the fitted budgets, errors of every path at the targets --

def evaluate(pts, curves=None, holdout=1 / 3, truth=None, seed=0, tol=0.05, budgets=None):
    """``pts``: columns N, C, loss. Returns (rule -> recommended path, path -> mean |err| at the
    targets, n origins). ``truth(C)``: the known L_opt; default each target budget's minimum."""
    opts = {"budgets": budgets, "tol": tol, "profile": "parabola", "near": 3.0, "counted": None,
            "x": "flops", "y": "loss", "n": "n_params", "split": "val", "knots": None}
    full = sl.isoflop(pts[["N", "C", "loss"]], inputs={"N": "N", "C": "C"}, budgets=budgets, tol=tol, n_boot=0)
    held, thr = _budget_split(full.optima, holdout)
    train_pts, train_cur = _subset(full.points, curves, thr, opts)
    inner_opt = full.optima[(full.optima["C"] < thr) & full.optima["convex"] & ~full.optima["edge"]].sort_values("C")

    def fc(rows):
        return rows["C"].to_numpy(float)

    inner = _rolling_errors(train_pts, train_cur, inner_opt, opts, N_BOOT, seed, LEVEL, fc)
    target = truth(fc(held)) if truth is not None else held["loss_opt"].to_numpy(float)
    errs = {}
    for name in APPROACHES:
        try:
            obj = _fit_one(name, train_pts, train_cur, opts, N_BOOT if name.startswith("2 isoflop") else 0, seed)
            p = _predict_one(obj, fc(held), LEVEL, nominal=fc(held))["loss"]
            errs[name] = float(np.mean(np.abs(p / target - 1)))
        except (ValueError, KeyError):
            errs[name] = np.nan
    picks = {rule: _choose(f(inner)) if len(inner) else None for rule, f in RULES.items()}
    return picks, errs, int(inner["origin"].nunique()) if len(inner) else 0


# ---- synthetic ladders ---------------------------------------------------------------------

def law(N, C, sc, extra):
    D = C / (6 * N)
    if sc == "short-run":
        return E + A / N**ALPHA + B / D**BETA + 0.1 * np.exp(-(D / N) / 2)
    g = {"g0.7": 0.7, "g1.4": 1.4}.get(sc, 1.0)
    base = E + ((A / N**ALPHA) ** (1 / g) + (B / D**BETA) ** (1 / g)) ** g
    if sc == "step":
        h, Ds = extra
        base = base + h / (1 + (D / Ds) ** 2)
    return base


_GRID = np.geomspace(1e4, 1e14, 60001)


def l_opt(C, sc, extra):
    return np.array([law(_GRID, c, sc, extra).min() for c in np.atleast_1d(C)])


def n_opt(C, sc, extra):
    return np.array([_GRID[np.argmin(law(_GRID, c, sc, extra))] for c in np.atleast_1d(C)])


def make(rng, K, sc, sig=0.005, tau=0.003, n_sizes=6, step=1.8, shift=0.6):
    C0 = 10 ** rng.uniform(17, 20)
    Cs = C0 * 2.0 ** np.arange(K)
    extra = None
    if sc == "step":  # a plateau lifting at a random budget's compute-optimal D
        j = rng.integers(1, K - 1)
        D_s = Cs[j] / (6 * n_opt(Cs[j], "additive", None)[0])
        extra = (rng.uniform(0.05, 0.2), D_s)
    rows = []
    for C, n0 in zip(Cs, n_opt(Cs, sc, extra)):
        off = tau * rng.standard_normal()
        Ns = n0 * np.exp(rng.uniform(-shift, shift)) * step ** (np.arange(n_sizes) - (n_sizes - 1) / 2)
        for N in Ns:
            rows.append({"N": N, "C": C, "loss": law(N, C, sc, extra) * np.exp(off + sig * rng.standard_normal())})
    return pd.DataFrame(rows), (lambda C: l_opt(C, sc, extra))


SCENARIOS = ("additive", "g0.7", "g1.4", "short-run", "step")


def run_synthetic(reps):
    out = []
    for K in (7, 10):
        for sc in SCENARIOS:
            for r in range(reps):
                rng = np.random.default_rng(1000 * K + 37 * SCENARIOS.index(sc) + r)
                pts, truth = make(rng, K, sc)
                try:
                    picks, errs, n_or = evaluate(pts, truth=truth, seed=r)
                except ValueError as err:
                    print(f"  skipped K={K} {sc} rep {r}: {err}")
                    continue
                out.append({"group": "synthetic", "ladder": f"K{K} {sc} #{r}", "origins": n_or, "picks": picks, "errs": errs})
                print(f"  K={K} {sc:9s} #{r}: " + ", ".join(f"{k.split()[0]}={picks[k]}" for k in picks), flush=True)
    return out


# ---- Epoch's points and the nested real backtests ------------------------------------------

def run_epoch(evaluate_fn=None, key="picks"):
    """Epoch's points in Hoffmann's 9 budgets and in budgets binned in log C; ``evaluate_fn`` (default
    :func:`evaluate`) and the result ``key`` let study_approach_combination reuse the ladders."""
    evaluate_fn = evaluate_fn or evaluate
    f = VALIDATION / "chinchilla_svg_extracted.csv"
    if not f.exists():
        print(f"({f} not found: Epoch skipped)")
        return []
    d = pd.read_csv(f)
    pts = pd.DataFrame({"N": d["Model Size"], "C": d["Training FLOP"], "loss": d["loss"]})
    out = []
    for label, budgets in (("Hoffmann's 9 budgets", [6e18, 1e19, 3e19, 6e19, 1e20, 3e20, 6e20, 1e21, 3e21]),
                           ("budgets in log C", None)):
        res, errs, n_or = evaluate_fn(pts, budgets=budgets)
        out.append({"group": "epoch", "ladder": label, "origins": n_or, key: res, "errs": errs})
    return out


def _ladder(folder, n_budgets):
    """The final points and curves of the ``n_budgets`` smallest budgets of one of our ladders."""
    runs = sl.read_logs(ROOT / folder)
    label = runs["run"].str.extract(r"_C([0-9.e+]+)_")[0].astype(float)
    keep = np.isin(label, np.sort(label.unique())[:n_budgets])
    runs = runs[keep]
    fp = sl.final_points(runs, split="val")
    pts = pd.DataFrame({"N": fp["n_params"], "C": 6 * fp["n_params"] * fp["n_tokens"], "loss": fp["loss"]})
    return pts, runs


def run_nested(evaluate_fn=None, key="picks"):
    """Nested backtests inside our ladders' fitted budgets (``evaluate_fn``, ``key``: as run_epoch)."""
    evaluate_fn = evaluate_fn or evaluate
    out = []
    for folder, n_budgets, holdout, label in (("data/cpu_isoflop_bpe", 7, 1 / 3, "BPE first 7: fit 5, predict 2.4e12, 4.8e12"),
                                              ("data/cpu_isoflop_bpe", 6, 1 / 3, "BPE first 6: fit 4, predict 1.2e12, 2.4e12"),
                                              ("data/cpu_isoflop", 5, 0.2, "byte first 5: fit 4, predict 1.6e12")):
        pts, runs = _ladder(folder, n_budgets)
        res, errs, n_or = evaluate_fn(pts, curves=runs, holdout=holdout)
        out.append({"group": "nested", "ladder": label, "origins": n_or, key: res, "errs": errs})
    return out


def summarise(results):
    rows = []
    for res in results:
        for rule, pick in res["picks"].items():
            rows.append({"group": res["group"], "ladder": res["ladder"], "rule": rule, "pick": pick,
                         "err": res["errs"].get(pick, np.nan) if pick else np.nan})
        best = min(res["errs"], key=lambda k: res["errs"][k] if np.isfinite(res["errs"][k]) else np.inf)
        rows.append({"group": res["group"], "ladder": res["ladder"], "rule": "(oracle)", "pick": best, "err": res["errs"][best]})
        for name in APPROACHES:
            rows.append({"group": res["group"], "ladder": res["ladder"], "rule": f"(always {name})", "pick": name,
                         "err": res["errs"][name]})
    return pd.DataFrame(rows)


def study_args(argv=None):
    """(reps, only) from ``[REPS] [--only a,b]`` (default 4 replicates; nested, epoch, synthetic)."""
    argv = sys.argv[1:] if argv is None else argv
    reps = int(argv[0]) if argv and argv[0].isdigit() else 4
    only = argv[argv.index("--only") + 1].split(",") if "--only" in argv else ["synthetic", "epoch", "nested"]
    return reps, only


def run_groups(only, runners):
    """The results of the ``runners`` (name -> callable, called in their order) named in ``only``."""
    results = []
    for name, run in runners.items():
        if name in only:
            results += run()
    return results


def main():
    reps, only = study_args()
    t0 = time.time()
    results = run_groups(only, {"nested": run_nested, "epoch": run_epoch, "synthetic": lambda: run_synthetic(reps)})
    s = summarise(results)
    print(f"\n{time.time() - t0:.0f}s")
    pd.set_option("display.width", 200)
    for grp, g in s.groupby("group", sort=False):
        print(f"\n== {grp}: the recommended path's mean |rel err| at the target budgets (%), per ladder")
        print((100 * g.pivot_table(index="ladder", columns="rule", values="err", sort=False)).round(2).to_string())
        if grp != "synthetic":
            print(g[~g["rule"].str.startswith("(")].pivot_table(index="ladder", columns="rule", values="pick",
                                                                  aggfunc="first", sort=False).to_string())
        print_versus_current(grp, g, "all pairs (current)", 28, lambda e: f"within 2%: {(e < 0.02).mean():.2f}")
    if "synthetic" in only:
        print_per_scenario(s)


def print_versus_current(grp, g, current, width, last):
    """Each rule's mean error over a group's ladders, its ratio to ``current``'s, on how many
    ladders it is better / worse, and ``last(errors)`` (also used by study_approach_combination)."""
    cur = g[g["rule"] == current].set_index("ladder")["err"]
    print(f"\n{grp}: mean over {g['ladder'].nunique()} ladders; better / worse than the current rule (ladders)")
    for rule, h in g.groupby("rule", sort=False):
        e = h.set_index("ladder")["err"]
        diff = (e - cur).dropna()
        print(f"  {rule:{width}s} {100 * e.mean():6.2f}%  ratio {e.mean() / cur.mean():5.2f}  "
              f"better {int((diff < -1e-6).sum()):3d} worse {int((diff > 1e-6).sum()):3d}  {last(e)}")


def print_per_scenario(s):
    """The synthetic ladders' mean error per scenario and rule (%)."""
    syn = s[s["group"] == "synthetic"].copy()
    syn["scenario"] = syn["ladder"].str.split("#").str[0]
    print("\nsynthetic, per scenario (mean %):")
    print((100 * syn.pivot_table(index="scenario", columns="rule", values="err", sort=False)).round(2).to_string())


if __name__ == "__main__":
    main()
