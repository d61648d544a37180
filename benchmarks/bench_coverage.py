"""Do the intervals tell the truth? Coverage of held-out points on real extrapolations (issue 11).

For every real data set we have (../shared/validation, published; data/cpu_*, our trainer's), fit
on the part a user would have, bootstrap, and predict the held-out rest. For each level (0.8, 0.9,
0.95) and each interval kind (``kind="parameter"``: bootstrap only; ``"calibrated"``: the default
prediction interval of :mod:`scalelaw.calibration`) print the share of held-out points inside the
interval and the median full width (upper - lower) / observed loss, as a markdown table.

Honesty: each fit (and so its calibration) sees only its training rows; held-out points are only
scored. No constant of the method was tuned on these held-out points.

Usage: python benchmarks/bench_coverage.py [--bootstrap 300] [--only epoch,mpl_25M,...] [--quick]
       python benchmarks/bench_coverage.py --by-reach [--only ...]   (coverage within / beyond the
       largest distance any backtest fold measured: see by_reach())
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import scalelaw as sl
from scalelaw import schedules as S

ROOT = Path(__file__).resolve().parents[1]
VALIDATION = ROOT.parent / "shared" / "validation"
DATA = ROOT / "data"
LEVELS = (0.8, 0.9, 0.95)


# ---- cases: (name, description, law, train frame, test frame, fit kwargs, how to predict) ----------
class Case:
    def __init__(self, name, what, law, train, test, inputs, target, **fit_kwargs):
        self.name, self.what, self.law = name, what, law
        self.train, self.test = train.reset_index(drop=True), test.reset_index(drop=True)
        self.inputs, self.target, self.fit_kwargs = inputs, target, fit_kwargs

    def fit(self):
        return sl.fit(self.law, self.train, inputs=self.inputs, target=self.target, **self.fit_kwargs)

    def intervals(self, fit, level, kind):
        """(lower, upper, observed) over the held-out rows."""
        if self.law in ("lr_annealing", "multi_power"):
            los, his, ys = [], [], []
            warm = self.fit_kwargs.get("warmup_steps", 0)
            for run, rows in self.test.groupby("run", sort=False):
                lr = self.fit_kwargs["schedules"][run]
                steps = rows["step"].to_numpy(dtype=int)
                lo, hi = fit.predict_interval(schedule=lr, warmup_steps=warm, steps=steps, level=level, kind=kind)
                los.append(lo), his.append(hi), ys.append(rows[self.target].to_numpy(dtype=float))
            return np.concatenate(los), np.concatenate(his), np.concatenate(ys)
        X = {name: self.test[col].to_numpy() for name, col in self.inputs.items()}
        lo, hi = fit.predict_interval(X, level=level, kind=kind)
        return lo, hi, self.test[self.target].to_numpy(dtype=float)


    def distances(self, fit):
        """Each held-out row's extrapolation distance (decades) from the fitted data, in the
        calibration's own units (:meth:`FitResult.extrapolation_distance`)."""
        if self.law in ("lr_annealing", "multi_power"):
            warm = self.fit_kwargs.get("warmup_steps", 0)
            out = []
            for run, rows in self.test.groupby("run", sort=False):
                out.append(fit.extrapolation_distance(schedule=self.fit_kwargs["schedules"][run], warmup_steps=warm,
                                                      steps=rows["step"].to_numpy(dtype=int)))
            return np.concatenate(out)
        return fit.extrapolation_distance({name: self.test[col].to_numpy() for name, col in self.inputs.items()})


    def excess(self, fit):
        """Each held-out row's distance (decades) beyond the full fit's box along each of the
        calibration's coordinates separately, ``(n, k)``."""
        from scalelaw import calibration as C

        _, fitted = C.coordinates(fit.law, fit._features()[0])
        lo, hi = C.box(fitted)
        if self.law in ("lr_annealing", "multi_power"):
            warm = self.fit_kwargs.get("warmup_steps", 0)
            feats = [fit._prediction_features(None, dict(schedule=self.fit_kwargs["schedules"][run], warmup_steps=warm,
                                                         steps=rows["step"].to_numpy(dtype=int)))
                     for run, rows in self.test.groupby("run", sort=False)]
            coords = np.concatenate([C.coordinates(fit.law, f)[1] for f in feats])
        else:
            feats = fit._prediction_features({n: self.test[c].to_numpy() for n, c in self.inputs.items()}, {})
            coords = C.coordinates(fit.law, feats)[1]
        ex = np.fmax(np.fmax(coords - hi, lo - coords), 0.0)
        return np.where(np.isfinite(ex), ex, 0.0)


def epoch_cases():
    df = pd.read_csv(VALIDATION / "chinchilla_svg_extracted.csv")
    df["n_tokens"] = df["Training FLOP"] / (6 * df["Model Size"])
    df = df.sort_values("loss").iloc[:-5].reset_index(drop=True)  # Epoch drop the 5 highest losses
    q = df["Model Size"].quantile(2 / 3)
    yield Case("epoch", "Epoch's Chinchilla points: fit N < its 2/3 quantile, predict the rest", "chinchilla",
               df[df["Model Size"] < q], df[df["Model Size"] >= q], {"N": "Model Size", "D": "n_tokens"}, "loss")


def mpl_schedule(name, size):
    """The per-step LR of Luo et al.'s runs (../shared/validation/README.md)."""
    peak, floor, warm = 3e-4, 3e-5, 2160
    if name.startswith("constant"):
        return S.constant(int(name.split("_")[1]), peak, warmup=warm)
    if name.startswith("cosine"):
        return S.cosine(int(name.split("_")[1]), peak, floor, warmup=warm)
    if name.startswith("wsdcon"):
        end = int(pd.read_csv(VALIDATION / f"mpl_{size}_{name}.csv")["step"].max())
        lr = S.constant(end, peak, warmup=warm)
        s = np.arange(1, end + 1)
        lr[(s >= 8000) & (s < 16000)] = int(name.split("_")[1]) * 1e-5
        return lr
    T = 24000
    lr = S.constant(T, peak, warmup=warm)
    s = np.arange(1, T + 1)
    t = (s[s > 20000] - 20000) / (T - 20000)
    lr[s > 20000] = peak ** (1 - t) * floor ** t if name.startswith("wsd_") else peak + (floor - peak) * t
    return lr


MPL_RUNS = ["constant_24000", "cosine_24000", "wsdcon_9", "wsd_20000_24000", "wsdld_20000_24000",
            "wsdcon_3", "wsdcon_18", "cosine_72000", "constant_72000"]


def mpl_cases():
    for size in ("25M", "100M"):
        frames, sched = [], {}
        for name in MPL_RUNS:
            frames.append(pd.read_csv(VALIDATION / f"mpl_{size}_{name}.csv").assign(run=name))
            sched[name] = mpl_schedule(name, size)
        df = pd.concat(frames, ignore_index=True)
        train = df["run"].isin(MPL_RUNS[:3])
        yield Case(f"mpl_{size}", f"{size} schedule curves: lr_annealing fitted on {', '.join(MPL_RUNS[:3])}, "
                   "predict the other 6", "lr_annealing", df[train], df[~train], {"step": "step"}, "loss",
                   schedules=sched, warmup_steps=2160)


def dml_cases():
    d = pd.read_csv(VALIDATION / "dml_2Mix_losses.csv")
    d["n_params"] = d["model_size"].str.rstrip("M").astype(float) * 1e6
    for domain, side in (("Github", "domain"), ("Pile-CC", "general")):
        sub = d[d["val_domain"] == domain]
        held = sub["frac_github"] == 0.5
        yield Case(f"dml_{side}", f"data-mixing sweep, {domain} loss: dcpt ({side}) fit without r = 0.5, predict it",
                   "dcpt", sub[~held], sub[held], {"N": "n_params", "D": "step", "r": "frac_github"}, "val_loss",
                   side=side)


def gordon_cases():
    g = pd.read_csv(VALIDATION / "gordon_data_scaling.0126.summary", sep=r"\s+", comment="#")
    g["n_params"] = 2 * g["Layers"] * (4 * g["ModelSize"] ** 2 + 2 * g["ModelSize"] * g["FeedForward"])
    for lang, sub in g.groupby("Lang"):
        levels = np.unique(sub["n_params"])
        cut = levels[-max(1, round(len(levels) / 3))]
        yield Case(f"gordon_{lang}", f"Gordon NMT {lang}: kaplan_nd fit on the smaller 2/3 of N levels, predict the "
                   "largest third", "kaplan_nd", sub[sub["n_params"] < cut], sub[sub["n_params"] >= cut],
                   {"N": "n_params", "D": "data_bytes"}, "ent_dev")


OPT_SIZES = {"125m": 125e6, "1.3b": 1.3e9, "6.7b": 6.7e9, "13b": 13e9, "30b": 30e9, "175b": 175e9}


def opt_cases():
    o = pd.read_csv(VALIDATION / "colpret_opt_trajectories.csv")
    o["n_params"] = o["model_size"].map(OPT_SIZES)
    o["n_tokens"] = 10 ** o["num_token"]
    o["loss"] = np.log(o["ppl"])
    small = o["n_params"] <= 6.7e9
    yield Case("opt", "OPT ladder checkpoints: chinchilla fit on 125m-6.7b, predict 13b-175b", "chinchilla",
               o[small], o[~small], {"N": "n_params", "D": "n_tokens"}, "loss")


def datablations_cases():
    c = pd.read_csv(VALIDATION / "colpret_datablations_contour_losses.csv")
    c = c[c["epochs"] <= 1].reset_index(drop=True)
    levels = np.unique(c["num_params"])
    cut = levels[-max(1, round(len(levels) / 3))]
    yield Case("datablations", "datablations single-epoch runs: chinchilla fit on the smaller 2/3 of N levels, "
               "predict the largest third", "chinchilla", c[c["num_params"] < cut], c[c["num_params"] >= cut],
               {"N": "num_params", "D": "token_num"}, "openLM_loss")


def _read(folder):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sl.read_logs(DATA / folder)


def cpu_cases():
    pts = sl.final_points(_read("cpu_decoder_sizes"), split="val")
    levels = np.unique(pts["n_params"])
    cut = levels[-max(1, round(len(levels) / 3))]
    for law in ("chinchilla", "kaplan_nd"):
        yield Case(f"cpu_sizes_{law}", f"data/cpu_decoder_sizes: {law} fit on the smaller 2/3 of N, predict the rest",
                   law, pts[pts["n_params"] < cut], pts[pts["n_params"] >= cut], {"N": "n_params", "D": "n_tokens"},
                   "loss")
    df = _read("cpu_decoder_sizes")
    val = df[df["split"] == "val"]
    front = sl.frontier(val[val["step"] > 0], x="flops", y="loss").reset_index(drop=True)
    xl = np.unique(front["flops"])
    xcut = xl[-max(1, round(len(xl) / 3))]
    yield Case("cpu_frontier", "data/cpu_decoder_sizes frontier L(C): power_law fit on the smaller 2/3 of C",
               "power_law", front[front["flops"] < xcut], front[front["flops"] >= xcut], {"x": "flops"}, "loss")

    if (DATA / "cpu_schedules").is_dir():  # two sizes, seven BPE schedules each
        for size in ("sch_d2-32", "sch_d4-64"):  # examples/lr_annealing_schedules.py's split
            yield _schedule_case(f"cpu_schedules_{size[4:]}", "cpu_schedules", size, 101)
        for size in ("sch_d2-32", "sch_d4-64"):  # examples/schedule_optimum.py's (and Luo et al.'s 3-run protocol)
            yield _schedule_case(f"cpu_schedules3_{size[4:]}", "cpu_schedules", size, 101,
                                 train_names=("constant", "cosine", "step"))

    dc = _read("cpu_dcpt")
    inputs = {"N": "n_params", "D": "n_tokens", "r": "mix_ratio"}
    for domain in sorted(dc["domain"].dropna().unique()):
        runs = dc[dc["domain"] == domain]
        for side, split in (("domain", f"val_{domain}"), ("general", "val_general")):
            rows = runs[(runs["split"] == split) & (runs["n_tokens"] > 0)]
            held = rows["mix_ratio"] == 0.5
            yield Case(f"cpu_dcpt_{domain}_{side}", f"data/cpu_dcpt {domain}: dcpt ({side}) without r = 0.5, predict it",
                       "dcpt", rows[~held], rows[held], inputs, "loss", side=side)
    if (DATA / "cpu_dcpt_seed1").is_dir():  # the same fits, scored on another seed's r = 0.5 runs
        s1 = _read("cpu_dcpt_seed1")
        for domain in sorted(dc["domain"].dropna().unique()):
            runs, runs1 = dc[dc["domain"] == domain], s1[s1["domain"] == domain]
            for side, split in (("domain", f"val_{domain}"), ("general", "val_general")):
                rows = runs[(runs["split"] == split) & (runs["n_tokens"] > 0)]
                rows1 = runs1[(runs1["split"] == split) & (runs1["n_tokens"] > 0)]
                yield Case(f"seed1_dcpt_{domain}_{side}", f"data/cpu_dcpt {domain}: dcpt ({side}) without r = 0.5 "
                           "(seed 0), predict data/cpu_dcpt_seed1's r = 0.5 (seed 1)", "dcpt",
                           rows[rows["mix_ratio"] != 0.5], rows1[rows1["mix_ratio"] == 0.5], inputs, "loss", side=side)


def _schedule_case(name, folder, prefix, min_step, train_names=("constant", "cosine")):
    """lr_annealing fitted on the ``train_names`` curves (default constant + cosine) of one schedule
    sweep (runs starting with ``prefix``; every logged validation step >= ``min_step``), predicting
    the other schedules. With two fitted runs no run can be left out in the calibration (its
    SCHEDULE_SHAPE_WARNING); with three it can."""
    lrs = _read(folder)
    curves = lrs[(lrs["split"] == "val") & (lrs["step"] >= min_step)].copy()
    if prefix:
        curves = curves[curves["run"].astype(str).str.startswith(prefix)]
    curves["name"] = curves["run"].map(lambda r: r.split("_")[-2])
    warm = int(S.parse_spec(curves["schedule"].iloc[0])[1].get("warmup", 0))
    sched = {r: S.from_spec(s) for r, s in curves.groupby("run")["schedule"].first().items()}
    train = curves["name"].isin(list(train_names))
    what = f"data/{folder}{' ' + prefix if prefix else ''}"
    return Case(name, f"{what}: lr_annealing fit on {' + '.join(train_names)} (steps >= {min_step}), predict the other "
                f"{curves.loc[~train, 'name'].nunique()}", "lr_annealing", curves[train], curves[~train],
                {"step": "step"}, "loss", schedules=sched, warmup_steps=warm)


CASES = (epoch_cases, mpl_cases, dml_cases, gordon_cases, opt_cases, datablations_cases, cpu_cases)


def iter_cases(only=()):
    """Every case of :data:`CASES` whose data are here (a missing set is reported on stderr),
    restricted to the names starting with one of ``only`` when it is given."""
    for make in CASES:
        try:
            cases = list(make())
        except FileNotFoundError as err:
            print(f"skipped {make.__name__}: {err}", file=sys.stderr)
            continue
        for case in cases:
            if not only or any(case.name.startswith(o) for o in only):
                yield case


def measure(case, n_boot, seed=0, distances=(None,)):
    """One row per entry of ``distances`` (the calibration's extrapolation distance, "box" or
    "hull"; None: the library's default), all on the same fit and bootstrap draws."""
    from scalelaw.calibration import calibrate_fit

    fit = case.fit().bootstrap(n_boot, seed=seed, calibrate=distances == (None,))
    rows = []
    for dist in distances:
        if dist is not None:
            fit.calibration = calibrate_fit(fit, distance=dist)
        row = {"set": case.name, "held out": len(case.test), "backtests": fit.calibration.n_folds,
               "method": fit.calibration.method}
        for level in LEVELS:
            for kind in ("parameter", "calibrated"):
                lo, hi, y = case.intervals(fit, level, kind)
                row[(level, kind, "cover")] = float(np.mean((y >= lo) & (y <= hi)))
                row[(level, kind, "width")] = float(np.median((hi - lo) / y))
        rows.append(row)
    return rows if distances != (None,) else rows[0]


# ---- the calibration's measured reach (issue 11: where the backtests measured anything) -----------
@contextlib.contextmanager
def recording_reach():
    """Record, for every calibration built inside the block, the distances (decades) at which its
    backtest folds measured errors: yields a list that gets one dict per calibration with ``d``
    (every scored fold point's distance from its fold's training rows), ``fold_max`` (each fold's
    largest) and ``excess`` (n, k): each point's distance beyond its fold's training box along
    each coordinate separately (the box distance is its Euclidean norm). Wraps
    :func:`scalelaw.calibration.joint_distance` and :func:`~scalelaw.calibration.fit_error_model`
    (what every calibration's backtests pass through); nothing else changes."""
    import scalelaw.calibration as C

    seen, pending = [], []
    orig_fit, orig_dist = C.fit_error_model, C.joint_distance

    def dist(coords, train, kind=None):
        lo, hi = C.box(train)
        ex = np.fmax(np.fmax(coords - hi, lo - coords), 0.0)
        pending.append(np.where(np.isfinite(ex), ex, 0.0))
        return orig_dist(coords, train, kind)

    def fit_model(errors, distances, folds, **kw):
        e, d, g = (np.asarray(a) for a in (errors, distances, folds))
        ok = np.isfinite(e.astype(float)) & np.isfinite(d.astype(float))
        ex = np.concatenate(pending) if pending and sum(len(p) for p in pending) == len(e) else None
        pending.clear()
        d, g = d[ok].astype(float), g[ok]
        seen.append({"d": d, "fold_max": np.array([d[g == i].max() for i in np.unique(g)]),
                     "excess": None if ex is None else ex[ok]})
        return orig_fit(errors, distances, folds, **kw)

    C.fit_error_model, C.joint_distance = fit_model, dist
    try:
        yield seen
    finally:
        C.fit_error_model, C.joint_distance = orig_fit, orig_dist


def reach_of(record) -> tuple[float, float]:
    """(d_max, d_3): the largest distance any fold measured, and the largest that at least 3
    folds reached (the third-largest fold maximum; 0 with fewer than 3 folds)."""
    fm = np.sort(record["fold_max"])[::-1]
    return (float(fm[0]) if len(fm) else 0.0), (float(fm[2]) if len(fm) >= 3 else 0.0)


REACH_BANDS = (("within reach", 0.0, 1.0), ("1-2x reach", 1.0, 2.0), ("beyond 2x reach", 2.0, np.inf))


def reach_bands(ratio):
    """Index of each point's band in :data:`REACH_BANDS` from its distance / reach ratio."""
    return np.where(ratio <= 1.0, 0, np.where(ratio <= 2.0, 1, 2))


def reach_ratio(d, reach):
    """d / reach, 0 where d <= reach (so a reach of 0 leaves points at 0 inside and puts the rest
    at infinity); with arrays ``(n, k)`` and ``(k,)``, the largest ratio over the coordinates."""
    d, reach = np.asarray(d, dtype=float), np.asarray(reach, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(d <= reach, 0.0, d / reach)
    return r.max(axis=1) if r.ndim == 2 else r


def measure_reach(case, n_boot, seed=0):
    """Fit, bootstrap and calibrate ``case`` (recording its backtests' distances), then score the
    held-out points split by their distance relative to the measured reach: jointly (``band``:
    the box distance against d_max) and per coordinate (``band_axis``: each input's distance beyond
    the box against the largest any fold measured along that input)."""
    with recording_reach() as seen:
        fit = case.fit().bootstrap(n_boot, seed=seed)
    rec = seen[-1]
    d_max, d_3 = reach_of(rec)
    d = case.distances(fit)
    ex = case.excess(fit)
    axis_reach = rec["excess"].max(axis=0) if rec["excess"] is not None and len(rec["excess"]) else np.zeros(ex.shape[1])
    row = {"set": case.name, "held out": len(case.test), "backtests": fit.calibration.n_folds, "d_max": d_max,
           "d_3": d_3, "d_med": float(np.median(d)), "d_hi": float(np.max(d)), "slope": fit.calibration.slope,
           "coords": list(fit.calibration.coords), "axis_reach": axis_reach, "axis_hi": ex.max(axis=0),
           "band": reach_bands(reach_ratio(d, d_max)), "band_axis": reach_bands(reach_ratio(ex, axis_reach))}
    for level in LEVELS:
        lo, hi, y = case.intervals(fit, level, "calibrated")
        row[level] = (y >= lo) & (y <= hi)
    return row


def reach_markdown(rows, key="band"):
    """Per set: the reach, the held-out distances and coverage per band; then pooled over sets.
    ``key``: "band" (joint distance against d_max) or "band_axis" (per input)."""
    if key == "band":
        head = ["set", "folds", "c", "d_max", "d_3", "held-out d median / max"]
    else:
        head = ["set", "folds", "c", "reach per input (decades)", "held-out max per input", ""]
    for name, _, _ in REACH_BANDS:
        head += [f"{name}: n", "80 / 90 / 95%"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def cells(hits, band):
        out = []
        for b in range(len(REACH_BANDS)):
            m = band == b
            out += [str(int(m.sum())), " / ".join(f"{100 * hits[lv][m].mean():.0f}" for lv in LEVELS) if m.any() else "-"]
        return out

    for r in rows:
        if key == "band":
            first = [f"{r['d_max']:.3f}", f"{r['d_3']:.3f}", f"{r['d_med']:.3f} / {r['d_hi']:.3f}"]
        else:
            first = [", ".join(f"{c} {v:.2f}" for c, v in zip(r["coords"], r["axis_reach"])),
                     ", ".join(f"{c} {v:.2f}" for c, v in zip(r["coords"], r["axis_hi"])), ""]
        lines.append("| " + " | ".join([r["set"], str(r["backtests"]), f"{r['slope']:.3g}"] + first
                                        + cells(r, r[key])) + " |")
    for label, keep in (("pooled, every set", lambda r: True),
                        ("pooled, without epoch and gordon_zhen", lambda r: r["set"] not in ("epoch", "gordon_zhen"))):
        sel = [r for r in rows if keep(r)]
        if not sel:
            continue
        hits = {lv: np.concatenate([r[lv] for r in sel]) for lv in LEVELS}
        band = np.concatenate([r[key] for r in sel])
        lines.append("| " + " | ".join([f"**{label}** ({len(sel)} sets)", "", "", "", "", ""] + cells(hits, band)) + " |")
    # sets with points on both sides: per-set difference (beyond - within) at 90%, so that one
    # large set cannot carry the pooled figure
    diffs = [(r["set"], r[0.9][r[key] > 0].mean() - r[0.9][r[key] == 0].mean()) for r in rows
             if (r[key] == 0).any() and (r[key] > 0).any()]
    if diffs:
        lines.append("")
        lines.append("90% coverage beyond the reach minus within, per set with points on both sides: "
                     + ", ".join(f"{n} {100 * v:+.0f}" for n, v in diffs)
                     + f" (median {100 * np.median([v for _, v in diffs]):+.0f} points)")
    return "\n".join(lines)


def by_reach(only, n_boot):
    """The diagnostic of issue 11's remaining misses: for each set, the largest extrapolation
    distance any backtest fold measured (d_max, decades in the calibration's log input space: the
    distance of a fold's held-out point from that fold's training box), the held-out points'
    distances from the full fit's box, and the calibrated interval's coverage of the held-out
    points within d_max, between d_max and 2 d_max, and beyond. Nothing is tuned here."""
    rows = []
    for case in iter_cases(only):
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            row = measure_reach(case, n_boot)
        rows.append(row)
        print(f"{case.name}: ({time.perf_counter() - t:.1f}s) d_max {row['d_max']:.3f}, held-out d median "
              f"{row['d_med']:.3f} max {row['d_hi']:.3f}; beyond d_max {int((row['band'] > 0).sum())} of "
              f"{len(row['band'])}", file=sys.stderr, flush=True)
    print(f"Calibrated interval's coverage of held-out points by distance relative to the backtests' reach "
          f"(d_max); bootstrap {n_boot}.\n")
    print(reach_markdown(rows))
    print("\nThe same, per input: a point is beyond the reach when along some input it lies farther beyond the "
          "fitted box than any backtest fold's point lay beyond its training box along that input (the band: the "
          "largest ratio over the inputs).\n")
    print(reach_markdown(rows, "band_axis"))
    return rows


def markdown(rows):
    head = ["set", "held out", "backtests"]
    for level in LEVELS:
        head += [f"{level:g} param cover", f"{level:g} calib cover", f"{level:g} calib width"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["set"], str(r["held out"]), f"{r['backtests']}" + (" (fallback)" if r["method"] == "fallback" else "")]
        for level in LEVELS:
            cells += [f"{100 * r[(level, 'parameter', 'cover')]:.0f}%", f"{100 * r[(level, 'calibrated', 'cover')]:.0f}%",
                      f"{100 * r[(level, 'calibrated', 'width')]:.2f}%"]
        lines.append("| " + " | ".join(cells) + " |")
    big = [r for r in rows if r["held out"] >= 20]
    if big:
        cells = [f"mean over {len(big)} sets with >= 20 held out", "", ""]
        for level in LEVELS:
            cells += [f"{100 * np.mean([r[(level, 'parameter', 'cover')] for r in big]):.0f}%",
                      f"{100 * np.mean([r[(level, 'calibrated', 'cover')] for r in big]):.0f}%",
                      f"{100 * np.median([r[(level, 'calibrated', 'width')] for r in big]):.2f}%"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bootstrap", type=int, default=300, help="bootstrap resamples per fit (default 300)")
    ap.add_argument("--only", default="", help="comma-separated set names (prefixes) to run")
    ap.add_argument("--distance", choices=("box", "hull", "both"), default=None,
                    help="the calibration's extrapolation distance (default: the library's); both: one table each, "
                         "on the same fits")
    ap.add_argument("--trend", action="store_true",
                    help="step 8 diagnostic: the fitted rows' residual variance trend per set and its factor at the "
                         "held-out inputs (no bootstrap)")
    ap.add_argument("--by-reach", action="store_true",
                    help="coverage of held-out points within / beyond the largest distance any backtest measured")
    args = ap.parse_args(argv)
    only = [s for s in args.only.split(",") if s]
    if args.trend:
        return trend_report(only)
    if args.by_reach:
        return by_reach(only, args.bootstrap)
    if args.distance:
        return compare_distances(only, args.bootstrap, ("box", "hull") if args.distance == "both" else (args.distance,))
    rows = []
    for case in iter_cases(only):
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            row = measure(case, args.bootstrap)
        rows.append(row)
        print(f"{case.name}: {case.what} ({time.perf_counter() - t:.1f}s; {row['backtests']} backtests, "
              f"{row['method']})", file=sys.stderr)
    print(f"Coverage of held-out points; median full width (upper - lower) / observed loss of the calibrated "
          f"interval; bootstrap {args.bootstrap}.\n")
    print(markdown(rows))
    return rows


def held_out_coords(case, fit):
    """The held-out rows' calibration coordinates (log10), in the calibration's order."""
    from scalelaw import calibration as C

    if case.law in ("lr_annealing", "multi_power"):
        warm = case.fit_kwargs.get("warmup_steps", 0)
        feats = [fit._prediction_features(None, dict(schedule=case.fit_kwargs["schedules"][run], warmup_steps=warm,
                                                     steps=rows["step"].to_numpy(dtype=int)))
                 for run, rows in case.test.groupby("run", sort=False)]
        return np.concatenate([C.coordinates(fit.law, f)[1] for f in feats])
    feats = fit._prediction_features({n: case.test[c].to_numpy() for n, c in case.inputs.items()}, {})
    return C.coordinates(fit.law, feats)[1]


def trend_report(only):
    """Step 8 of scalelaw.calibration per set: the fitted rows' log-residual variance trend (b per
    coordinate, its likelihood-ratio statistic, whether it is significant at TREND_ALPHA) and the
    factor it puts on the error half-width at the held-out inputs (median and max). Reads the
    held-out rows' inputs only, not their losses."""
    from scalelaw import calibration as C

    print("| set | coords | b (log variance per sd) | LR | significant | factor at held-out inputs: median / max |")
    print("|---|---|---|---|---|---|")
    for case in iter_cases(only):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = case.fit()
            X, y, _ = fit._features()
            names, coords = C.coordinates(fit.law, X)
            t = C.residual_trend(coords, C.fit_log_residuals(fit, y))
            if t is None:
                print(f"| {case.name} | {', '.join(names)} | - | - | no trend | 1 / 1 |")
                continue
            lo, hi = C.box(coords)
            cal = C.Calibration(method="student-t", n_folds=3, noise=1.0, slope=0.0, residual_scale=1.0,
                                coords=names, lo=list(lo), hi=list(hi), trend=t)
            f = cal.trend_factor(held_out_coords(case, fit))
        print(f"| {case.name} | {', '.join(names)} | {', '.join(f'{v:+.2f}' for v in t['b'])} | {t['lr']:.1f} | "
              f"{'yes' if C.trend_significant(t) else 'no'} | {np.median(f):.2f} / {np.max(f):.2f} |", flush=True)


def compare_distances(only, n_boot, kinds):
    """The table for each extrapolation distance of ``kinds`` (scalelaw.calibration step 2), the
    same fits and bootstrap draws for all."""
    tables = {k: [] for k in kinds}
    for case in iter_cases(only):
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rows = measure(case, n_boot, distances=kinds)
        for k, row in zip(kinds, rows):
            tables[k].append(row)
        print(f"{case.name}: ({time.perf_counter() - t:.1f}s) " + "; ".join(
            f"{k} " + " / ".join(f"{100 * r[(lv, 'calibrated', 'cover')]:.0f}%" for lv in LEVELS)
            for k, r in zip(kinds, rows)), file=sys.stderr, flush=True)
    for k in kinds:
        print(f"\nDistance to the fitted rows' {k}: coverage of held-out points; median full width (upper - lower) / "
              f"observed loss of the calibrated interval; bootstrap {n_boot}.\n")
        print(markdown(tables[k]))
    return tables


if __name__ == "__main__":
    main()
