"""In-sample evidence for the calibrated interval's rules: leave one backtest fold out.

For every real set of bench_coverage.py, only its TRAINING rows are used (the held-out points
that bench_coverage.py scores are never read here): the fit's own backtest folds are computed
as scalelaw.calibration does, then each fold in turn is left out, the error model is refitted
on the other folds (scalelaw.calibration.fit_error_model, unchanged) and the left-out fold's
points are scored: |e| <= sqrt((z_p * param_sd)^2 + h(d)^2) with h the calibration's half-width
at their distance and param_sd that fold's own bootstrap spread (the analogue of the full
fit's parameter band). Coverage is averaged over left-out folds, each weighing 1.

Rules compared: "q" = format 1 (one multiplier q = max(t_{F-1}, conformal) everywhere, the rule
before step 3c of scalelaw/calibration.py); "q0" = format 3 (the floor's own empirical
multiplier q_0, the fold-weighted score quantile at the level, at distance 0, ramping to q: the
rule used); "q0_v2" = format 2 (the same with q_0 at level + (1 - level) / (F + 1), a
finite-sample correction counted in folds); "emp" / "emp_raw" = the empirical multiplier with /
without that correction at every distance: how well the score quantile itself is calibrated
(step 3d chose "without" here). This is where the centre's over-coverage of "q" was measured
(step 3c), not on held-out points. Most left-out points here are extrapolations (rolling folds,
distance > 0), where "q0" is "q" by design ("emp" under-covers the synthetic extrapolations of
bench_coverage_synthetic.py).

Usage: python benchmarks/bench_coverage_insample.py [--only epoch,mpl_25M,...]   (a few minutes)
       python benchmarks/bench_coverage_insample.py --forms [--only ...]   (the form spread, step 5:
       see forms(); only the chinchilla / kaplan_nd sets)
       python benchmarks/bench_coverage_insample.py --distance [--only ...]   (box vs the fitted rows'
       convex hull as the extrapolation distance, step 2: see distances())
       python benchmarks/bench_coverage_insample.py --trend [--only ...]   (step 8, the residual variance
       trend, on nested extrapolations inside the training rows: see trend_nested())
"""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_coverage as B  # noqa: E402

import scalelaw.calibration as C  # noqa: E402

LEVELS = (0.8, 0.9, 0.95)
RULES = ("q", "q0_v2", "q0", "emp", "emp_raw")


def fit_and_backtests(case):
    """The training fit (bootstrapped, so calibrated) and its backtest arrays (e, d, fold,
    param_sd, interpolating, noise floor), recorded as calibration hands them to its error model."""
    seen = {}
    orig = C.fit_error_model

    def record(e, d, g, **kw):
        seen.update(e=np.asarray(e, float), d=np.asarray(d, float), g=np.asarray(g),
                    p=np.asarray(kw.get("param_sd"), float), k=np.asarray(kw.get("interpolating"), bool),
                    floor=kw["noise_floor"])
        return orig(e, d, g, **kw)

    C.fit_error_model = record
    try:
        fit = case.fit().bootstrap(30, seed=0)  # calibrates: fit_error_model sees the backtests
    finally:
        C.fit_error_model = orig
    return fit, seen


def backtests(case):
    """The training fit's backtest arrays (e, d, fold, param_sd, interpolating, noise floor)."""
    return fit_and_backtests(case)[1]


def leave_one_fold_out(bt):
    e, d, g, p, k = bt["e"], bt["d"], bt["g"], np.nan_to_num(bt["p"]), bt["k"]
    ok = np.isfinite(e) & np.isfinite(d)
    e, d, g, p, k = e[ok], d[ok], g[ok], p[ok], k[ok]
    cover = {(rule, lv): [] for rule in RULES for lv in LEVELS}
    for f in np.unique(g):
        tr = g != f
        if len(np.unique(g[tr])) < C.MIN_FOLDS:
            continue
        cal = C.fit_error_model(e[tr], d[tr], g[tr], noise_floor=bt["floor"], param_sd=p[tr], interpolating=k[tr])
        for rule in RULES:
            version = {"q0": 3, "q0_v2": 2}.get(rule, 1)
            c = C.Calibration.from_dict({**cal.to_dict(), "version": version})
            if rule.startswith("emp"):  # the empirical multiplier at every distance (format 1's formula)
                sc, sw, F = np.asarray(c.scores), np.asarray(c.score_weights), c.n_folds
                corr = rule == "emp"
                c.multiplier = lambda lv, sc=sc, sw=sw, F=F, corr=corr: C._weighted_quantile(
                    sc, sw, min(1.0, lv + (1 - lv) / (F + 1)) if corr else lv)
            for lv in LEVELS:
                h = c.half_width(d[~tr], lv)
                half = np.sqrt((stats.norm.ppf(0.5 + lv / 2) * p[~tr]) ** 2 + h ** 2)
                cover[(rule, lv)].append(float(np.mean(np.abs(e[~tr]) <= half)))
    return {key: float(np.mean(v)) for key, v in cover.items() if v}


def forms_one(case):
    """Leave one backtest fold out, as leave_one_fold_out, with and without the form spread of
    step 5: for the left-out fold, the law and the nesting form G are fitted afresh to the fold's
    training rows (scalelaw.form_spread.fit_nested) and s = |log G - log L_fold| at its held-out
    rows; the half-width is h(d) (from the other folds, format 3) or max(h(d), s)."""
    import scalelaw as sl
    from scalelaw.form_spread import fit_nested, spread

    fit, seen = fit_and_backtests(case)
    X, _, _ = fit._features()
    names, coords = C.coordinates(fit.law, X)
    folds = C.make_folds(names, coords, leave_one_level=("r",))
    table = fit.table.reset_index(drop=True)
    e, d, g, p, k = seen["e"], seen["d"], seen["g"], np.nan_to_num(seen["p"]), seen["k"]
    ok = np.isfinite(e) & np.isfinite(d)
    e, d, g, p, k = e[ok], d[ok], g[ok], p[ok], k[ok]
    cover = {(rule, lv): [] for rule in ("h", "max") for lv in LEVELS}
    spreads = []
    for f in np.unique(g):
        tr = g != f
        if len(np.unique(g[tr])) < C.MIN_FOLDS:
            continue
        cal = C.fit_error_model(e[tr], d[tr], g[tr], noise_floor=seen["floor"], param_sd=p[tr], interpolating=k[tr])
        mask = folds[int(f)].train
        try:
            sub = sl.fit(fit.law.name, table.loc[mask], inputs=dict(fit.inputs), target=fit.target, loss=fit.loss,
                         delta=fit.delta)
            params, _ = fit_nested(sub)
        except Exception:  # noqa: BLE001 - a fold the law cannot be fitted on: no spread
            params = None
        test = {n: np.asarray(X[n])[~mask] for n in ("N", "D")}
        s = spread(params, test, sub.predict(test, warn=False)) if params else np.zeros(int((~mask).sum()))
        if len(s) != int((~tr).sum()):
            continue
        spreads.append(float(np.median(s)))
        for lv in LEVELS:
            h = cal.half_width(d[~tr], lv)
            z = stats.norm.ppf(0.5 + lv / 2) * p[~tr]
            for rule, hh in (("h", h), ("max", np.maximum(h, s))):
                cover[(rule, lv)].append(float(np.mean(np.abs(e[~tr]) <= np.sqrt(z ** 2 + hh ** 2))))
    return {key: float(np.mean(v)) for key, v in cover.items() if v}, spreads


def forms(only):
    rows = []
    print("| set | folds | median fold spread | " + " | ".join(f"{lv:g}: h / max(h, s)" for lv in LEVELS) + " |")
    print("|---|---|---|" + "---|" * len(LEVELS))
    for case in B.iter_cases(only):
        if case.law not in ("chinchilla", "kaplan_nd"):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cov, spreads = forms_one(case)
        if not cov:
            print(f"| {case.name} | too few folds | | " + " | ".join("" for _ in LEVELS) + " |")
            continue
        rows.append(cov)
        cells = [" / ".join(f"{100 * cov[(r, lv)]:.0f}%" for r in ("h", "max")) for lv in LEVELS]
        print(f"| {case.name} | {len(spreads)} | {100 * np.median(spreads):.2f}% | " + " | ".join(cells) + " |",
              flush=True)
    if rows:
        cells = [" / ".join(f"{100 * np.mean([row[(r, lv)] for row in rows]):.1f}%" for r in ("h", "max"))
                 for lv in LEVELS]
        print(f"| mean over {len(rows)} sets | | | " + " | ".join(cells) + " |")
    return rows


def hull_distances(fit, seen):
    """The backtest points' distances from their folds' training rows re-measured to the rows'
    convex hull (scalelaw.calibration step 2, ``distance="hull"``): the folds are rebuilt as
    calibrate_fit builds them (fold id = index in make_folds), and the box distances recomputed
    the same way must equal the recorded ones (a check that the points line up)."""
    X, _, _ = fit._features()
    names, coords = C.coordinates(fit.law, X)
    table = fit.table.reset_index(drop=True)
    groups = table["run"].astype(str).to_numpy() if ("S1" in X and "run" in table.columns) else None
    folds = C.make_folds(names, coords, groups=groups, leave_one_level=("r",))
    d_box, d_hull = np.full(len(seen["d"]), np.nan), np.full(len(seen["d"]), np.nan)
    for i in np.unique(seen["g"]):
        at = seen["g"] == i
        f = folds[int(i)]
        d_box[at] = C.joint_distance(coords[~f.train], coords[f.train], "box")
        d_hull[at] = C.joint_distance(coords[~f.train], coords[f.train], "hull")
    np.testing.assert_allclose(d_box, seen["d"], atol=1e-9)
    return d_hull


def distances(only):
    """Leave one backtest fold out (as main(), format 3's rule "q0", the library's) with the
    distance to each fold's training box (recorded by the calibration) or to its convex hull."""
    rows = []
    print("| set | folds | points farther (hull > box) | median d box / hull | "
          + " | ".join(f"{lv:g}: box / hull" for lv in LEVELS) + " |")
    print("|---|---|---|---|" + "---|" * len(LEVELS))
    for case in B.iter_cases(only):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit, seen = fit_and_backtests(case)
            if not seen:
                continue
            d_hull = hull_distances(fit, seen)
            cov = {kind: leave_one_fold_out({**seen, "d": d}) for kind, d in (("box", seen["d"]), ("hull", d_hull))}
        if not cov["box"]:
            print(f"| {case.name} | too few folds | | | " + " | ".join("" for _ in LEVELS) + " |")
            continue
        rows.append(cov)
        far = float(np.mean(d_hull > seen["d"] + 1e-9))
        cells = [" / ".join(f"{100 * cov[k][('q0', lv)]:.1f}%" for k in ("box", "hull")) for lv in LEVELS]
        print(f"| {case.name} | {len(np.unique(seen['g']))} | {100 * far:.0f}% | "
              f"{np.median(seen['d']):.3f} / {np.median(d_hull):.3f} | " + " | ".join(cells) + " |", flush=True)
    if rows:
        cells = [" / ".join(f"{100 * np.mean([r[k][('q0', lv)] for r in rows]):.1f}%" for k in ("box", "hull"))
                 for lv in LEVELS]
        print(f"| mean over {len(rows)} sets | | | | " + " | ".join(cells) + " |")
    return rows


TREND_SETS = ("epoch", "gordon", "opt", "datablations", "cpu_sizes")


def nested_split(case):
    """Inside the training rows only: fit on the smaller 2/3 of their N levels, predict the rest
    (the outer design of bench_coverage.py repeated one level down; no held-out row is read)."""
    tr = case.train
    col = case.inputs["N"]
    levels = np.unique(tr[col])
    cut = levels[-max(1, round(len(levels) / 3))]
    return B.Case(case.name, case.what, case.law, tr[tr[col] < cut], tr[tr[col] >= cut], case.inputs, case.target,
                  **case.fit_kwargs)


def trend_nested(only, n_boot=100):
    """Step 8 (scalelaw.calibration) in-sample: for every set of bench_coverage.py split along N
    (TREND_SETS: Epoch, Gordon x 3, OPT, datablations, data/cpu_decoder_sizes x 2), the training rows
    are split again (nested_split), fitted, bootstrapped (n_boot) and calibrated on the inner part,
    and the inner held-out rows (training rows of the outer split) are scored with step 8 and
    without it (the same calibration with trend = None), at 80 / 90 / 95%.

    DECISION RULE (written before this ran; after the real held-out table of bench_coverage.py with
    step 8 was seen: Gordon's three sets rose to 100% at 90% and the mean over sets to 95%, out of
    the issue's 87-93% band; so this in-sample check decides whether step 8 stays the default):
    keep step 8 as the default iff, over the nested sets that calibrate (not the fallback), (i) the
    mean |coverage - 90| at 90% with step 8 is no larger than without it, and (ii) its mean coverage at
    90% is at most 95%. Otherwise step 8 is switched off by default (scalelaw.calibration.TREND =
    False: the trend is still fitted and saved, and calibrate_fit(trend=True) applies it)."""
    rows = []
    print("| set | inner fit / predict rows | significant | 80%: without / with | 90% | 95% | 90% width without / with |")
    print("|---|---|---|---|---|---|---|")
    for case in B.iter_cases(only or TREND_SETS):
        inner = nested_split(case)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                fit = inner.fit().bootstrap(n_boot, seed=0, calibrate=False)
                cal = C.calibrate_fit(fit, trend=True)
            except Exception as err:  # a nested split the law cannot be fitted on
                print(f"| {case.name} | {len(inner.train)} / {len(inner.test)} | fit failed: {err} |")
                continue
            if cal.method == "fallback":
                print(f"| {case.name} | {len(inner.train)} / {len(inner.test)} | fallback (too few folds) |")
                continue
            row = {"set": case.name, "sig": bool(cal.trend and C.trend_significant(cal.trend))}
            for tag, c in (("without", C.Calibration.from_dict({**cal.to_dict(), "trend": None})), ("with", cal)):
                fit.calibration = c
                for lv in LEVELS:
                    lo, hi, y = inner.intervals(fit, lv, "calibrated")
                    row[(tag, lv)] = float(np.mean((y >= lo) & (y <= hi)))
                    if lv == 0.9:
                        row[(tag, "w")] = float(np.median((hi - lo) / y))
        rows.append(row)
        cells = [f"{100 * row[('without', lv)]:.0f}% / {100 * row[('with', lv)]:.0f}%" for lv in LEVELS]
        print(f"| {case.name} | {len(inner.train)} / {len(inner.test)} | {'yes' if row['sig'] else 'no'} | "
              + " | ".join(cells) + f" | {100 * row[('without', 'w')]:.2f}% / {100 * row[('with', 'w')]:.2f}% |",
              flush=True)
    if not rows:
        return rows
    mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0] if isinstance(k, tuple)}
    dev = {tag: float(np.mean([abs(r[(tag, 0.9)] - 0.9) for r in rows])) for tag in ("without", "with")}
    print(f"| mean over {len(rows)} sets | | | " + " | ".join(
        f"{100 * mean[('without', lv)]:.1f}% / {100 * mean[('with', lv)]:.1f}%" for lv in LEVELS) + " | |")
    keep = dev["with"] <= dev["without"] and mean[("with", 0.9)] <= 0.95
    print(f"mean |cov90 - 90|: without {100 * dev['without']:.1f}, with {100 * dev['with']:.1f} points; "
          f"decision: {'keep step 8 as the default' if keep else 'switch step 8 off by default'}")
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="", help="comma-separated set names (prefixes) to run")
    ap.add_argument("--forms", action="store_true", help="the form spread (step 5) instead")
    ap.add_argument("--distance", action="store_true", help="box vs convex-hull distance (step 2) instead")
    ap.add_argument("--trend", action="store_true", help="step 8 on nested extrapolations instead")
    args = ap.parse_args(argv)
    only = [s for s in args.only.split(",") if s]
    if args.trend:
        return trend_nested(only)
    if args.forms:
        return forms(only)
    if args.distance:
        return distances(only)
    rows = []
    print("| set | folds | " + " | ".join(f"{lv:g}: " + " / ".join(RULES) for lv in LEVELS) + " |")
    print("|---|---|" + "---|" * len(LEVELS))
    for case in B.iter_cases(only):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            bt = backtests(case)
            cov = leave_one_fold_out(bt) if bt else {}
        if not cov:
            print(f"| {case.name} | too few folds | " + " | ".join("" for _ in LEVELS) + " |")
            continue
        rows.append(cov)
        cells = [" / ".join(f"{100 * cov[(r, lv)]:.0f}%" for r in RULES) for lv in LEVELS]
        print(f"| {case.name} | {len(np.unique(bt['g']))} | " + " | ".join(cells) + " |", flush=True)
    if rows:
        cells = [" / ".join(f"{100 * np.mean([row[(r, lv)] for row in rows]):.0f}%" for r in RULES) for lv in LEVELS]
        print(f"| mean over {len(rows)} sets | | " + " | ".join(cells) + " |")
    return rows


if __name__ == "__main__":
    main()
