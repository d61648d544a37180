"""Why the calibrated interval over-covers the real mixtures (issue 11): a diagnosis on fitted rows only.

bench_coverage.py fits dcpt on the shares r != 0.5 and predicts r = 0.5; 7 of the 8 real mixture
sets cover more than 95% at 90% while the synthetic mixture family of bench_coverage_spread.py
covers 90.7% on average. This script never reads the held-out r = 0.5 rows (``case.train`` only,
the rows the fit sees). For each real mixture set and for replicates of the synthetic mixture
family it reports, at 90%:

* the parts of the half-width at distance 0 (inside the fitted box, where r = 0.5 lies):
  ``floor`` = the full fit's residual scale (RMS log residual, dof-corrected; s_in and s0 may not
  go below it), ``s_in`` / ``s0`` = the interpolation / extrapolation floors the backtests fitted,
  ``q0`` = the floor's multiplier, ``h0`` = q0 min(s_in, s0) the error half-width, ``band`` = the
  full fit's bootstrap half-width (log, median over the fitted rows of the interior shares), and
  ``total`` = sqrt(band^2 + h0^2); ``bind`` = whether s_in sits on the floor (within 1%);
* the full fit's residuals per fitted share (RMS log residual), and the residual scale computed
  over the interior shares only (``floor_int``): is the floor inflated by the extreme shares?
* leave-one-share-out folds among the fitted shares (the calibration's own interpolating
  backtests): for the *interior* shares (neither the smallest nor the largest fitted r, so the
  left-out share lies inside the fold's box, as r = 0.5 does), the fold's RMS log error, and the
  half-width the calibration would give it: the error model refitted without that fold
  (scalelaw.calibration.fit_error_model, unchanged; as bench_coverage_insample.py does), h(d) at
  the fold's points combined with z * the fold's own bootstrap spread. ``ratio`` = median over
  the fold's points of |e| / half-width (1 = just covered; well below 1 = too wide), ``cov`` =
  the share of the fold's points inside.

Usage: python benchmarks/bench_mixture_width.py [--reps 10] [--bootstrap 100] [--only dml,cpu_dcpt]
       python benchmarks/bench_mixture_width.py --candidate --reps 40 --bootstrap 300   (the candidate of
       docs/calibration.md against its decision rule, committed before it ran: see candidate())
       python benchmarks/bench_mixture_width.py --heldout --bootstrap 300   (after the decision only: the
       candidate on the real held-out r = 0.5 points, as bench_coverage.py scores them)
Results: docs/calibration.md, "Why the mixtures over-cover: diagnosis".
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scalelaw as sl  # noqa: E402
import bench_coverage as B  # noqa: E402
from bench_coverage_spread import FAMILIES, SEED_BASE  # noqa: E402

import scalelaw.calibration as C  # noqa: E402

LEVEL = 0.9
Z = stats.norm.ppf(0.5 + LEVEL / 2)


def fit_recording(make_fit, n_boot, local_floor=False):
    """Fit + bootstrap (which calibrates; with ``local_floor`` calibrated again with step 3e's
    local floor) while recording the backtest arrays the error model sees (the last calibration's)."""
    seen = {}
    orig = C.fit_error_model

    def record(e, d, g, **kw):
        seen.update(e=np.asarray(e, float), d=np.asarray(d, float), g=np.asarray(g),
                    p=np.nan_to_num(np.asarray(kw.get("param_sd"), float)),
                    k=np.asarray(kw.get("interpolating"), bool), floor=kw["noise_floor"],
                    names=list(kw.get("fold_names") or []), rho=kw.get("local_floor"))
        return orig(e, d, g, **kw)

    C.fit_error_model = record
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = make_fit().bootstrap(n_boot, seed=0, calibrate=not local_floor)
            if local_floor:
                fit.calibration = C.calibrate_fit(fit, local_floor=True)
    finally:
        C.fit_error_model = orig
    return fit, seen


def diagnose(fit, bt, X, r):
    """One fit's figures (module docstring). ``X``: the fitted rows' inputs; ``r``: their shares."""
    cal = fit.calibration
    shares = np.unique(r)
    interior = (r > shares.min()) & (r < shares.max())
    lo, hi = fit.predict_interval({k: v[interior] for k, v in X.items()}, level=LEVEL, kind="parameter", warn=False)
    pred = np.asarray(fit.predict({k: v[interior] for k, v in X.items()}), dtype=float)
    band = float(np.median(np.maximum(np.log(hi / pred), np.log(pred / lo))))
    s_in = cal.inside_noise if cal.inside_noise is not None else cal.noise
    h0 = float(cal.half_width(np.array([0.0]), LEVEL)[0])
    res = C.fit_log_residuals(fit, fit._features()[1])
    per_share = {float(s): float(np.sqrt(np.mean(res[r == s] ** 2))) for s in shares}
    n_int = int(interior.sum())
    floor_int = float(np.sqrt(np.sum(res[interior] ** 2) / max(n_int - fit.n_free * n_int / len(res), 1)))
    out = dict(floor=cal.residual_scale, floor_int=floor_int, s_in=s_in, s0=cal.noise, q0=cal.floor_multiplier(LEVEL),
               h0=h0, band=band, total=float(np.hypot(band, h0)), bind=bool(s_in <= 1.01 * cal.residual_scale),
               per_share=per_share)
    # leave-one-share-out folds: the interior ones, scored with the error model refitted without them
    e, d, g, p, k = bt["e"], bt["d"], bt["g"], bt["p"], bt["k"]
    ok = np.isfinite(e) & np.isfinite(d)
    e, d, g, p, k = e[ok], d[ok], g[ok], p[ok], k[ok]
    ids = np.unique(bt["g"][np.isfinite(bt["e"]) & np.isfinite(bt["d"])])
    names = dict(zip(np.unique(bt["g"]), bt["names"]))
    folds = []
    for f in ids:
        m = g == f
        if not k[m].all() or not (d[m] == 0).all():  # interior share folds only: inside their own box
            continue
        tr = ~m
        def lofo(floor):
            c = C.fit_error_model(e[tr], d[tr], g[tr], noise_floor=floor, param_sd=p[tr], interpolating=k[tr])
            return c.half_width(d[m], LEVEL)

        h = lofo(bt["floor"])
        half = np.sqrt((Z * p[m]) ** 2 + h ** 2)
        cover = lambda hw: float(np.mean(np.abs(e[m]) <= hw))  # noqa: E731
        folds.append(dict(fold=names.get(f, str(f)), rms=float(np.sqrt(np.mean(e[m] ** 2))),
                          half=float(np.median(half)), ratio=float(np.median(np.abs(e[m]) / half)),
                          cov=cover(half), band=float(np.median(Z * p[m])),
                          # the same fold with one part changed at a time (diagnostic counterfactuals,
                          # not candidates): no fold band; the floor from the interior shares' residuals;
                          # no floor at all (s_in as the other folds' errors alone say)
                          cov_noband=cover(h),
                          cov_floor_int=cover(np.sqrt((Z * p[m]) ** 2 + lofo(floor_int) ** 2)),
                          cov_nofloor=cover(np.sqrt((Z * p[m]) ** 2 + lofo(1e-6) ** 2))))
    out["folds"] = folds
    return out


def real(only, n_boot):
    for case in B.iter_cases(only):
        if case.law != "dcpt":
            continue
        fit, bt = fit_recording(case.fit, n_boot)
        X = {n: case.train[col].to_numpy(dtype=float) for n, col in case.inputs.items()}
        yield case.name, diagnose(fit, bt, X, X["r"])


def synthetic(reps, n_boot):
    law, inputs, make, _ = FAMILIES["mixture"]
    for seed in range(reps):
        tr, _te = make(np.random.default_rng(SEED_BASE + seed))  # the held-out part is not used
        fit, bt = fit_recording(lambda: sl.fit(law, tr, inputs={c: c for c in inputs}, target="loss"), n_boot)
        X = {c: tr[c].to_numpy(dtype=float) for c in inputs}
        yield f"mixture_{SEED_BASE + seed}", diagnose(fit, bt, X, X["r"])


def print_rows(rows):
    print("| set | floor | floor_int | s_in | s0 | q0 | h0 | band | total | s_in on floor | RMS residual per share |"
          " interior folds: RMS err / LOFO half-width (ratio, cov [no band, floor_int, no floor]) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    summ = []
    for name, o in rows:
        ps = ", ".join(f"{s:g}: {v * 100:.2f}" for s, v in o["per_share"].items())
        fs = "; ".join(f"{f['rms'] * 100:.2f} / {f['half'] * 100:.2f} ({f['ratio']:.2f}, {f['cov'] * 100:.0f}% "
                       f"[{f['cov_noband'] * 100:.0f} {f['cov_floor_int'] * 100:.0f} {f['cov_nofloor'] * 100:.0f}])"
                       for f in o["folds"])
        print(f"| {name} | {o['floor'] * 100:.2f} | {o['floor_int'] * 100:.2f} | {o['s_in'] * 100:.2f} | "
              f"{o['s0'] * 100:.2f} | {o['q0']:.2f} | {o['h0'] * 100:.2f} | {o['band'] * 100:.2f} | "
              f"{o['total'] * 100:.2f} | {'yes' if o['bind'] else 'no'} | {ps} | {fs} |", flush=True)
        for f in o["folds"]:
            summ.append(dict(set=name, rms_over_floor=f["rms"] / o["floor"], ratio=f["ratio"], cov=f["cov"],
                             cov_noband=f["cov_noband"], cov_floor_int=f["cov_floor_int"],
                             cov_nofloor=f["cov_nofloor"], band_over_h=f["band"] / o["h0"],
                             h0_share=o["h0"] ** 2 / o["total"] ** 2, bind=o["bind"],
                             floor_ratio=o["floor"] / o["floor_int"]))
    return pd.DataFrame(summ)


def summary(label, s):
    print(f"{label}: {s['set'].nunique()} fits, {len(s)} interior folds; s_in on the floor in "
          f"{int(s.groupby('set')['bind'].first().sum())} fits; median h0^2 / total^2 = "
          f"{s.groupby('set')['h0_share'].first().median():.2f}; median floor / floor_int = "
          f"{s.groupby('set')['floor_ratio'].first().median():.2f}; interior fold RMS error / floor: median "
          f"{s['rms_over_floor'].median():.2f}; |e| / half-width: median {s['ratio'].median():.2f}; "
          f"fold coverage at 90%: mean {100 * s['cov'].mean():.1f}% (without the fold's band "
          f"{100 * s['cov_noband'].mean():.1f}%, floor from the interior shares {100 * s['cov_floor_int'].mean():.1f}%, "
          f"no floor {100 * s['cov_nofloor'].mean():.1f}%); fold band z*p / h0: median {s['band_over_h'].median():.2f}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--bootstrap", type=int, default=100)
    ap.add_argument("--only", default="dml,cpu_dcpt")
    ap.add_argument("--candidate", action="store_true", help="run the candidate against its decision rule")
    ap.add_argument("--heldout", action="store_true", help="after the decision: the candidate on the held-out r = 0.5")
    a = ap.parse_args(argv)
    if a.candidate:
        return candidate(a.reps, a.bootstrap)
    if a.heldout:
        return candidate_heldout(a.bootstrap)
    print("## real mixture sets (fitted rows only; log half-widths x 100, level 0.9)")
    sr = print_rows(list(real([o for o in a.only.split(",") if o], a.bootstrap)))
    print(f"\n## synthetic mixture family (bench_coverage_spread.py, seeds {SEED_BASE}-{SEED_BASE + a.reps - 1})")
    ss = print_rows(list(synthetic(a.reps, a.bootstrap)))
    print()
    summary("real", sr)
    summary("synthetic", ss)



# ---- the candidate of docs/calibration.md ("Why the mixtures over-cover", next step), run after its
# decision rule was committed: at distance 0, where the interpolation floor binds, max(a, h0) per side
# instead of sqrt(a^2 + h0^2). A benchmark-side override; the library is not changed.
def binding(cal) -> bool:
    return cal.inside_noise is not None and cal.inside_noise <= 1.01 * cal.residual_scale


def candidate_interval(fit, X, level):
    """(baseline lower, upper), (candidate lower, upper) of ``fit``'s default interval at ``X``.
    The baseline is the quadrature of format 4 (the library adopted the candidate as step 4b,
    format 6, in session 12: its own interval now is the candidate's)."""
    cal = fit.calibration
    fit.calibration = C.Calibration.from_dict({**cal.to_dict(), "version": 4})
    try:
        base = fit.predict_interval(X, level=level, warn=False)
    finally:
        fit.calibration = cal
    if not binding(cal):
        return base, base
    plo, phi = fit.predict_interval(X, level=level, kind="parameter", warn=False)
    pred = np.asarray(fit.predict(X, warn=False), dtype=float)
    d = np.asarray(fit.extrapolation_distance(X), dtype=float)
    hl, hh = cal.interval(pred, d, level, coords=fit._reach_coords(cal, X, {}))
    at0 = d == 0
    return base, (np.where(at0, np.minimum(hl, plo), base[0]), np.where(at0, np.maximum(hh, phi), base[1]))


def candidate_synthetic(rows_of):
    """Coverage baseline / candidate at each level over replicates ``rows_of``: (name, fit, X, y)."""
    out = []
    for name, fit, X, y in rows_of:
        row = {"rep": name, "bind": binding(fit.calibration)}
        for lv in B.LEVELS:
            (bl, bh), (cl, ch) = candidate_interval(fit, X, lv)
            row[f"base {lv}"] = float(np.mean((y >= bl) & (y <= bh)))
            row[f"cand {lv}"] = float(np.mean((y >= cl) & (y <= ch)))
            row[f"w ratio {lv}"] = float(np.median((ch - cl) / (bh - bl)))
        out.append(row)
    return pd.DataFrame(out)


def _family_reps(reps, n_boot):
    law, inputs, make, _ = FAMILIES["mixture"]
    for seed in range(reps):
        tr, te = make(np.random.default_rng(SEED_BASE + seed))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = sl.fit(law, tr, inputs={c: c for c in inputs}, target="loss").bootstrap(n_boot, seed=0)
        yield seed, fit, {c: te[c].to_numpy() for c in inputs}, te["loss"].to_numpy()


def _floors_reps():
    from bench_coverage_synthetic import scen_dcpt

    for name, make in [("dcpt", scen_dcpt), ("dcpt_r", lambda r: scen_dcpt(r, curve=0.0)),
                       ("dcpt_D", lambda r: scen_dcpt(r, bump=0.0))]:
        for seed in range(6):
            law, inputs, tr, te = make(np.random.default_rng(200 + seed))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = sl.fit(law, tr, inputs=inputs, target="loss").bootstrap(30, seed=0)
            yield f"{name}_{seed}", fit, {k: te[v].to_numpy() for k, v in inputs.items()}, te["loss"].to_numpy()


def candidate_insample(only):
    """Leave one backtest fold out (bench_coverage_insample.py's q0 rule) on the real sets' fitted rows,
    baseline sqrt((z p)^2 + h^2) against the candidate max(z p, h) at d = 0 where the refitted
    calibration's interpolation floor binds; mean over folds per set, then over sets."""
    import bench_coverage_insample as I

    rows = []
    for case in B.iter_cases(only):
        bt = I.backtests(case)
        e, d, g, p, k = bt["e"], bt["d"], bt["g"], np.nan_to_num(bt["p"]), bt["k"]
        ok = np.isfinite(e) & np.isfinite(d)
        e, d, g, p, k = e[ok], d[ok], g[ok], p[ok], k[ok]
        cov = {(r, lv): [] for r in ("base", "cand") for lv in B.LEVELS}
        for f in np.unique(g):
            tr = g != f
            if len(np.unique(g[tr])) < C.MIN_FOLDS:
                continue
            cal = C.fit_error_model(e[tr], d[tr], g[tr], noise_floor=bt["floor"], param_sd=p[tr], interpolating=k[tr])
            for lv in B.LEVELS:
                h = cal.half_width(d[~tr], lv)
                zp = stats.norm.ppf(0.5 + lv / 2) * p[~tr]
                base = np.sqrt(zp ** 2 + h ** 2)
                cand = np.where((d[~tr] == 0) & binding(cal), np.maximum(zp, h), base)
                cov[("base", lv)].append(float(np.mean(np.abs(e[~tr]) <= base)))
                cov[("cand", lv)].append(float(np.mean(np.abs(e[~tr]) <= cand)))
        row = {"set": case.name, **{f"{r} {lv}": float(np.mean(v)) for (r, lv), v in cov.items() if v}}
        rows.append(row)
        print({kk: (round(v, 3) if isinstance(v, float) else v) for kk, v in row.items()}, flush=True)
    return pd.DataFrame(rows)


def candidate_mixture_folds(n_boot):
    """Rule (c), first half: the real sets' interior share folds (as diagnose()), baseline / candidate."""
    out = []
    for case in B.iter_cases(["dml", "cpu_dcpt"]):
        fit, bt = fit_recording(case.fit, n_boot)
        e, d, g, p, k = bt["e"], bt["d"], bt["g"], bt["p"], bt["k"]
        ok = np.isfinite(e) & np.isfinite(d)
        e, d, g, p, k = e[ok], d[ok], g[ok], p[ok], k[ok]
        for f in np.unique(g):
            m = g == f
            if not k[m].all() or not (d[m] == 0).all():
                continue
            cal = C.fit_error_model(e[~m], d[~m], g[~m], noise_floor=bt["floor"], param_sd=p[~m], interpolating=k[~m])
            h = cal.half_width(d[m], LEVEL)
            base = np.sqrt((Z * p[m]) ** 2 + h ** 2)
            cand = np.maximum(Z * p[m], h) if binding(cal) else base
            out.append(dict(set=case.name, base=float(np.mean(np.abs(e[m]) <= base)),
                            cand=float(np.mean(np.abs(e[m]) <= cand))))
    return pd.DataFrame(out)


def candidate(reps, n_boot):
    t0 = time.time()
    print("## (a) synthetic mixture family (bench_coverage_spread.py), baseline vs candidate")
    a = candidate_synthetic(_family_reps(reps, n_boot))
    print(a.drop(columns="rep").mean().round(4).to_string(), flush=True)
    print(f"[{time.time() - t0:.0f} s]\n## (b) bench_coverage_synthetic.py --floors replicates")
    b = candidate_synthetic(_floors_reps())
    b["scen"] = b["rep"].str.rsplit("_", n=1).str[0]
    print(b.drop(columns="rep").groupby("scen").mean().round(4).T.to_string(), flush=True)
    print(f"[{time.time() - t0:.0f} s]\n## (c) in-sample: interior share folds at 90%")
    c = candidate_mixture_folds(100)
    print(f"real interior folds: base {100 * c['base'].mean():.1f}%, candidate {100 * c['cand'].mean():.1f}% "
          f"({len(c)} folds)", flush=True)
    print(f"[{time.time() - t0:.0f} s]\n## (c) in-sample: leave one backtest fold out, sets with interpolating folds")
    i = candidate_insample(["dml", "cpu_dcpt", "mpl", "cpu_schedules3"])
    print(i.drop(columns="set").mean().round(4).to_string())
    print(f"[{time.time() - t0:.0f} s]")


def candidate_heldout(n_boot):
    """AFTER the decision (docs/calibration.md): the real mixtures' held-out r = 0.5 points, as
    bench_coverage.py fits and scores them (bootstrap ``n_boot``, seed 0), baseline vs candidate."""
    rows = []
    for case in B.iter_cases(["dml", "cpu_dcpt"]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = case.fit().bootstrap(n_boot, seed=0)
        X = {n: case.test[col].to_numpy() for n, col in case.inputs.items()}
        y = case.test[case.target].to_numpy(dtype=float)
        e = np.log(y) - np.log(np.asarray(fit.predict(X, warn=False), dtype=float))
        # the held-out errors against the floor they were given (the floor: the full fit's residual scale)
        row = {"set": case.name, "n": len(y), "rms/floor": round(float(np.sqrt(np.mean(e ** 2))) /
                                                                 fit.calibration.residual_scale, 2)}
        for lv in B.LEVELS:
            (bl, bh), (cl, ch) = candidate_interval(fit, X, lv)
            row[f"base {lv}"] = round(100 * float(np.mean((y >= bl) & (y <= bh))), 1)
            row[f"cand {lv}"] = round(100 * float(np.mean((y >= cl) & (y <= ch))), 1)
            row[f"w {lv}"] = round(float(np.median((ch - cl) / (bh - bl))), 3)
        rows.append(row)
        print(row, flush=True)
    return pd.DataFrame(rows)


if __name__ == "__main__":
    main()
