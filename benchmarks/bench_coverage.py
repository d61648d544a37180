"""Do the intervals tell the truth? Coverage of held-out points on real extrapolations (issue 11).

For every real data set we have (../shared/validation, published; data/cpu_*, our trainer's), fit
on the part a user would have, bootstrap, and predict the held-out rest. For each level (0.8, 0.9,
0.95) and each interval kind (``kind="parameter"``: bootstrap only; ``"calibrated"``: the default
prediction interval of :mod:`scalelaw.calibration`) print the share of held-out points inside the
interval and the median full width (upper - lower) / observed loss, as a markdown table.

Honesty: each fit (and so its calibration) sees only its training rows; held-out points are only
scored. No constant of the method was tuned on these held-out points.

Usage: python benchmarks/bench_coverage.py [--bootstrap 300] [--only epoch,mpl_25M,...] [--quick]
"""

from __future__ import annotations

import argparse
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
    args = ap.parse_args(argv)
    only = [s for s in args.only.split(",") if s]
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
