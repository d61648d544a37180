"""How far one set's coverage scatters when the interval is calibrated in expectation (issue 11).

The issue asks for 90% intervals covering 85-95% of the held-out points on *every* real set with
at least 20 held out (and 80% / 95% within 5 points of nominal). The held-out points of one set
are not independent draws: they share one fitted function, so one realisation of the form's
misfit, and often a handful of sizes, runs or one mixture share. A set's coverage is therefore
closer to a few all-or-nothing draws than to a binomial on its point count, and even an interval
whose coverage is right on average scatters from set to set. This script measures that scatter on
synthetic replicates whose held-out structure resembles the real sets, with the library's default
calibrated interval, and counts the independent units of each real set's held-out points.

DECISION RULE (written and committed before any replicate of this script ran)
-------------------------------------------------------------------------------
Bands: at 90%, a set's coverage in [85%, 95%]; at 80%, [75%, 85%]; at 95%, [90%, 100%]
(inclusive; the issue's per-set criterion).

1. A synthetic family is *calibrated in expectation* at level L if the mean over its replicates
   of the default interval's coverage is within 3 points of L. Only such families enter the
   verdict at L; the others are reported (mean, spread) but say nothing about attainability.
2. For each such family and level, p = the share of replicates whose coverage lies in the band.
   If p < 0.90, the per-set band is *not attainable by a method calibrated in expectation* at
   that family's held-out structure and sample size: even such a method misses the band on more
   than one set in ten.
3. Across the 19 real sets, each set gets the p of the family matching its held-out structure:
   Epoch and OPT (many N values, one fit): the mean of the two random-(N, D) families (interact,
   kaplan); the three Gordon sets: gordon_grid (kaplan_nd on a 6 N x 14 D grid, the largest 2 N
   held out, as theirs); the eight mixture sets (dml, cpu_dcpt; one held-out share): mixture; the
   six schedule sets (no synthetic family here): the median p over the families calibrated in
   expectation. A matching family not calibrated in expectation is replaced by that median too.
   Then, treating sets as independent, P(all 19 within the band) = prod p_set, the expected number
   outside = sum (1 - p_set), and the Poisson-binomial distribution of that number.
4. Verdict per level: if the observed number of real sets outside the band (bench_coverage.py's
   table, rerun for this study) is at most the 95th percentile of that distribution, the real
   per-set spread is consistent with sampling spread alone; if it is above, the excess is a
   method problem and the sets outside are named. Either way the figures are reported.

Caveats fixed in advance: the sets are not independent (the three Gordon languages share a
design; the six cpu_dcpt fits share three sets of runs), so the product understates P(all within)
when the sets move together and the count's spread is understated; p from R replicates has a
binomial standard error of about sqrt(p (1 - p) / R), reported with it.

Results and the verdict: docs/calibration.md, "How far one set's coverage scatters" (40
replicates per family, bootstrap 300: 4-7 min on 2 shared cores; the direction block at the end
was added after the verdict was seen and is not part of the rule).

Usage: python benchmarks/bench_coverage_spread.py [--reps 40] [--bootstrap 300] [--only fam,...]
       python benchmarks/bench_coverage_spread.py --clusters   (the real sets' held-out units)
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scalelaw as sl  # noqa: E402
from bench_coverage import LEVELS, iter_cases, measure  # noqa: E402
from bench_coverage_synthetic import (additive_small_floor, chin_interact, kaplan_truth, kaplanish,  # noqa: E402
                                      scen_dcpt, scen_nd, scen_x)

BANDS = {0.8: (0.75, 0.85), 0.9: (0.85, 0.95), 0.95: (0.90, 1.00)}  # the per-set bands
CALIBRATED_TOL = 0.03  # rule 1: a family's mean within 3 points of the level
P_ATTAINABLE = 0.90  # rule 2
SEED_BASE = 5000  # fresh replicates: the other synthetic studies use seeds 100-407


def gordon_grid(truth, rng, sigma=0.005):
    """Like Gordon et al.'s NMT tables (each language: 6 sizes x 13-14 data sizes, a complete grid;
    bench_coverage fits the smaller 4 sizes and predicts the largest 2, 26-28 points): 6 sizes x
    14 data sizes over the magnitudes of bench_coverage_synthetic's grid_design (N 5e6-5e8, D
    1.5e7-4e9), 0.5% noise; fit the 4 smaller sizes, predict the 2 largest (28 points, 2 sizes)."""
    Ns, Ds = np.geomspace(5e6, 5e8, 6), np.geomspace(1.5e7, 4e9, 14)
    N, D = (a.ravel() for a in np.meshgrid(Ns, Ds, indexing="ij"))
    df = pd.DataFrame({"N": N, "D": D, "loss": truth(N, D) * np.exp(rng.normal(0, sigma, len(N)))})
    return df[df.N < Ns[-2]], df[df.N >= Ns[-2]]


# name: (fitted law, inputs, make(rng) -> (train, test), what; the held-out structure)
FAMILIES = {
    "interact": ("chinchilla", ("N", "D"), lambda r: scen_nd(chin_interact, r)[2:],
                 "chinchilla fitted to chinchilla + N-D interaction; 200 random (N, D), N >= 2/3 quantile held out"),
    "kaplan": ("chinchilla", ("N", "D"), lambda r: scen_nd(kaplanish, r)[2:],
               "chinchilla fitted to Kaplan's form; the same design"),
    "twoterm": ("power_law", ("x",), lambda r: scen_x(r)[2:],
                "one power law fitted to two terms; 90 x on a geometric grid, x >= 10^8.3 held out"),
    "gordon_grid": ("kaplan_nd", ("N", "D"), lambda r: gordon_grid(additive_small_floor, r),
                    "kaplan_nd fitted to an additive form with a small floor; 6 N x 14 D grid, largest 2 N held out"),
    "gordon_grid_chin": ("chinchilla", ("N", "D"), lambda r: gordon_grid(kaplan_truth, r),
                         "chinchilla fitted to Kaplan's coupled form; the same grid"),
    "gordon_grid_right": ("kaplan_nd", ("N", "D"), lambda r: gordon_grid(kaplan_truth, r),
                          "control: kaplan_nd fitted to kaplan_nd; the same grid"),
    "mixture": ("dcpt", ("N", "D", "r"), lambda r: scen_dcpt(r)[2:],
                "dcpt fitted to dcpt + a bump in r + curvature in log D; 3 N x 11 D x 5 shares, r = 0.5 held out"),
}
CONTROLS = ("gordon_grid_right",)


def replicate(name, seed, n_boot):
    """One synthetic data set of family ``name``: fit, bootstrap (the default calibration), and the
    default interval's coverage and median relative width of the held-out points at each level."""
    law, inputs, make, _ = FAMILIES[name]
    tr, te = make(np.random.default_rng(SEED_BASE + seed))
    fit = sl.fit(law, tr, inputs={k: k for k in inputs}, target="loss").bootstrap(n_boot, seed=0)
    X = {k: te[k].to_numpy() for k in inputs}
    y = te["loss"].to_numpy()
    row = {"family": name, "seed": seed, "n": len(y), "units": _units_synthetic(te, inputs),
           "folds": fit.calibration.n_folds}
    for level in LEVELS:
        lo, hi = fit.predict_interval(X, level=level, warn=False)
        row[level] = float(np.mean((y >= lo) & (y <= hi)))
        row[f"w{level}"] = float(np.median((hi - lo) / y))
    return row


def _units_synthetic(te, inputs):
    """The held-out points' natural clusters: mixture shares x sizes, else distinct sizes (N or x)."""
    if "r" in inputs:
        return f"{te.r.nunique()} share x {te.N.nunique()} N"
    col = "N" if "N" in inputs else "x"
    return f"{te[col].nunique()} {col}"


def in_band(cov, level):
    lo, hi = BANDS[level]
    return (cov >= lo - 1e-9) & (cov <= hi + 1e-9)


def summarise(df):
    """Per family and level: mean, SD, 10th / 90th percentiles of the replicates' coverage, the share
    inside the band (p) with its binomial standard error, and how many fell below / above it."""
    out = []
    for name, g in df.groupby("family", sort=False):
        for level in LEVELS:
            c = g[level].to_numpy()
            p = float(np.mean(in_band(c, level)))
            out.append({"family": name, "level": level, "reps": len(c), "held out": int(g["n"].median()),
                        "units": g["units"].iloc[0], "mean": c.mean(), "sd": c.std(ddof=1),
                        # the SD a set's coverage would have if its points were independent draws
                        "sd_binom": np.sqrt(level * (1 - level) / g["n"].median()),
                        "p10": np.percentile(c, 10), "p90": np.percentile(c, 90), "p": p,
                        "p_se": np.sqrt(p * (1 - p) / len(c)), "below": int(np.sum(c < BANDS[level][0] - 1e-9)),
                        "above": int(np.sum(c > BANDS[level][1] + 1e-9)), "width": float(g[f"w{level}"].median()),
                        "calibrated": abs(c.mean() - level) <= CALIBRATED_TOL + 1e-9})
    return pd.DataFrame(out)


def family_markdown(s, k=19):
    """The per-family table; P(all k within) = p^k and k (1 - p): k sets all shaped like this family."""
    head = ["family", "held out (units)", "level", "mean", "SD (binomial)", "10th-90th pct", "p in band (se)", "below / above",
            "calibrated in expectation", f"P(all {k} in band)", f"expected outside of {k}", "median width"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, r in s.iterrows():
        lines.append("| " + " | ".join([
            r.family, f"{r['held out']} ({r.units})", f"{r.level:g}", f"{100 * r['mean']:.1f}%", f"{100 * r.sd:.1f} ({100 * r.sd_binom:.1f})",
            f"{100 * r.p10:.0f}-{100 * r.p90:.0f}%", f"{r.p:.2f} ({r.p_se:.2f})", f"{r.below} / {r.above}",
            "yes" if r.calibrated else "no", f"{r.p ** k:.3f}", f"{k * (1 - r.p):.1f}", f"{100 * r.width:.2f}%"]) + " |")
    return "\n".join(lines)


# ---- the real sets: held-out units and the verdict of rule 3-4 ------------------------------------------
def _distinct(values, decimals=2):
    """Distinct values after rounding log10 to ``decimals`` (0.01 decade: sizes read off a plot
    jitter; Epoch's 80 held-out points have 44 raw N values)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    return len(np.unique(np.round(np.log10(v), decimals)))


def units(case):
    """(natural cluster, count, detail) of a real set's held-out points. Every held-out point of a
    set is predicted by the one full fit; the clusters are where its misfit can differ: schedule
    laws' runs, mixtures' shares (then sizes), else the distinct sizes (N, or x for a frontier)."""
    te = case.test
    if case.law in ("lr_annealing", "multi_power"):
        return "runs", te["run"].nunique(), f"{len(te)} steps over {te['run'].nunique()} runs"
    if case.law == "dcpt":
        r, n = te[case.inputs["r"]].nunique(), te[case.inputs["N"]].nunique()
        return "shares", r, f"{r} share x {n} sizes x {te[case.inputs['D']].nunique()} steps"
    if "N" in case.inputs:
        n = _distinct(te[case.inputs["N"]])
        raw = te[case.inputs["N"]].nunique()
        detail = f"{n} N x {_distinct(te[case.inputs['D']])} D (to 0.01 decade)" + (f"; {raw} raw N values" if raw != n else "")
        return "sizes", n, detail
    n = _distinct(te[case.inputs["x"]])
    return "x levels", n, f"{n} x"


def clusters(only=()):
    print("| set | held out | natural unit | count | detail |")
    print("|---|---|---|---|---|")
    for case in iter_cases(only):
        unit, n, detail = units(case)
        print(f"| {case.name} | {len(case.test)} | {unit} | {n} | {detail} |", flush=True)


def family_of(name):
    """Rule 3's match of a real set to a synthetic family (None: no family; the median p)."""
    if name in ("epoch", "opt"):
        return ("interact", "kaplan")
    if name.startswith("gordon"):
        return ("gordon_grid",)
    if name.startswith(("dml", "cpu_dcpt", "seed1_dcpt")):
        return ("mixture",)
    return None


def poisson_binomial(ps):
    """pmf of the number of failures (1 - p each) among independent sets."""
    pmf = np.array([1.0])
    for p in ps:
        pmf = np.convolve(pmf, [p, 1 - p])
    return pmf


def verdict(s, real):
    """Rules 3 and 4 at each level: every real set with >= 20 held out gets its family's p (the
    eligible ones of its families, averaged; else the median p of the calibrated families)."""
    big = [r for r in real if r["held out"] >= 20]
    for level in LEVELS:
        sl_ = s[s.level == level].set_index("family")
        cal = sl_[sl_.calibrated & ~sl_.index.isin(CONTROLS)]
        print(f"\n### {level:g}: band {100 * BANDS[level][0]:.0f}-{100 * BANDS[level][1]:.0f}%")
        if cal.empty:
            print("no misspecified family is calibrated in expectation at this level: no verdict (rule 1)")
            continue
        med = float(cal.p.median())
        print(f"calibrated in expectation (misspecified): {', '.join(cal.index)}; median p {med:.2f}; "
              f"p < {P_ATTAINABLE} (band not attainable, rule 2) in: "
              f"{', '.join(cal.index[cal.p < P_ATTAINABLE]) or 'none'}")
        ps, lines = [], []
        for r in big:
            fams = [f for f in (family_of(r["set"]) or ()) if f in cal.index]
            p = float(cal.p[fams].mean()) if fams else med
            cov = r[(level, "calibrated", "cover")]
            ps.append(p)
            lines.append(f"{r['set']} {100 * cov:.0f}% ({'in' if in_band(cov, level) else 'OUT'}; "
                         f"p {p:.2f} from {'+'.join(fams) if fams else 'median'})")
        pmf = poisson_binomial(ps)
        cdf = np.cumsum(pmf)
        q95 = int(np.searchsorted(cdf, 0.95 - 1e-12))
        covs = np.array([r[(level, "calibrated", "cover")] for r in big])
        obs = int(np.sum(~in_band(covs, level)))
        below = int(np.sum(covs < BANDS[level][0] - 1e-9))
        print("; ".join(lines))
        print(f"{len(big)} sets: P(all in band) = {np.prod(ps):.3f}; expected outside {sum(1 - p for p in ps):.1f}, "
              f"95th percentile {q95}; observed outside {obs} ({below} below, {obs - below} above; P(>= {obs}) = {1 - (cdf[obs - 1] if obs else 0):.3f}): "
              + ("consistent with sampling spread alone" if obs <= q95 else "more than sampling spread: a method problem"))


def direction(s, real):
    """Not part of the decision rule (added after its verdict was seen): where a group of real sets
    has a matching family calibrated in expectation, the number of its sets below / above the band
    against the family's share of replicates below / above (binomial tail, sets independent)."""
    from scipy import stats

    big = [r for r in real if r["held out"] >= 20]
    print("\n### Not in the rule (added after its verdict): direction of the misses per group of real sets")
    for level in LEVELS:
        sl_ = s[s.level == level].set_index("family")
        for fams, label in ((("interact", "kaplan"), "epoch + opt"), (("mixture",), "mixtures (dml, cpu_dcpt)")):
            fams = [f for f in fams if f in sl_.index and sl_.calibrated[f]]
            sets = [r for r in big if family_of(r["set"]) and set(fams) & set(family_of(r["set"]))]
            if not fams or not sets:
                continue
            covs = np.array([r[(level, "calibrated", "cover")] for r in sets])
            n_b, n_a = int(np.sum(covs < BANDS[level][0] - 1e-9)), int(np.sum(covs > BANDS[level][1] + 1e-9))
            reps = sl_.loc[fams, "reps"].sum()
            q_b, q_a = sl_.loc[fams, "below"].sum() / reps, sl_.loc[fams, "above"].sum() / reps
            print(f"{level:g} {label}: {len(sets)} sets, {n_b} below / {n_a} above the band; {'+'.join(fams)} "
                  f"replicates {100 * q_b:.0f}% below / {100 * q_a:.0f}% above; P(>= {n_b} below) = "
                  f"{stats.binom.sf(n_b - 1, len(sets), q_b):.4f}, P(>= {n_a} above) = "
                  f"{stats.binom.sf(n_a - 1, len(sets), q_a):.4f}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=40, help="replicates per family (default 40)")
    ap.add_argument("--bootstrap", type=int, default=300, help="bootstrap resamples per fit (bench_coverage's 300)")
    ap.add_argument("--only", default="", help="comma-separated families to run")
    ap.add_argument("--clusters", action="store_true", help="only the real sets' held-out units (no fitting)")
    ap.add_argument("--no-real", action="store_true", help="skip the real sets (no verdict)")
    args = ap.parse_args(argv)
    if args.clusters:
        return clusters()
    warnings.simplefilter("ignore")
    only = [s for s in args.only.split(",") if s] or list(FAMILIES)
    t0 = time.perf_counter()
    rows = []
    for name in only:
        t = time.perf_counter()
        for seed in range(args.reps):
            rows.append(replicate(name, seed, args.bootstrap))
        c = [r[0.9] for r in rows if r["family"] == name]
        print(f"{name}: {args.reps} replicates in {time.perf_counter() - t:.0f}s; 90% coverage "
              + " ".join(f"{100 * v:.0f}" for v in c), file=sys.stderr, flush=True)
    s = summarise(pd.DataFrame(rows))
    print(f"Default calibrated interval on synthetic replicates ({args.reps} per family, bootstrap {args.bootstrap}, "
          f"seeds {SEED_BASE}+); bands 75-85 / 85-95 / 90-100% at 80 / 90 / 95%. P(all 19 in band) and the "
          "expected count outside treat 19 independent sets shaped like the family.\n")
    for name in only:
        print(f"- {name}: {FAMILIES[name][3]}")
    print()
    print(family_markdown(s))
    if args.no_real:
        print(f"\n{time.perf_counter() - t0:.0f}s", file=sys.stderr)
        return s
    real = []
    print("\n| set | held out | natural unit | count | detail | 80 / 90 / 95% calibrated |\n|---|---|---|---|---|---|")
    for case in iter_cases():
        r = measure(case, args.bootstrap)
        real.append(r)
        unit, n, detail = units(case)
        print(f"| {case.name} | {len(case.test)} | {unit} | {n} | {detail} | "
              + " / ".join(f"{100 * r[(lv, 'calibrated', 'cover')]:.0f}%" for lv in LEVELS) + " |", flush=True)
    verdict(s, real)
    direction(s, real)
    print(f"\n{time.perf_counter() - t0:.0f}s", file=sys.stderr)
    return s


if __name__ == "__main__":
    main()
