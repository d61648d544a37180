"""Chinchilla's three approaches side by side, each backtested, and a recommended path.

Hoffmann et al. 2022 estimate the compute-optimal allocation three ways: (1) the envelope of
training curves, (2) IsoFLOP profiles, (3) the parametric law L = E + A/N^alpha + B/D^beta.
Besiroglu et al. 2024 and Porian et al. 2024 show the three disagree and why. This module runs
them on one data set and answers the question a user has before spending compute: which one
predicts the optimum loss of a budget larger than any I trained?

``compare_approaches`` fits

- ``1 envelope``: :func:`scalelaw.envelope` (training curves if given, else the points);
- ``2 isoflop``: :func:`scalelaw.isoflop` (per-budget profiles, power laws through the minima);
- ``2 isoflop recent``: the same profiles, but N_opt(C) and L_opt(C) are pure power laws through
  the minima of the ``RECENT`` largest fitted budgets only: the descent rate of the latest
  budgets carried forward. L_opt = L_inf + (C0/C)^alpha_C can only flatten with C; on ladders of
  very small models the minima's descent can *speed up* over the budgets a user has
  (``data/cpu_isoflop_bpe``: 0.026 per doubling at the smallest budgets, 0.046 at the largest),
  and then every floor fits to 0 and the full-ladder power law carries the early, slower rate
  forward. A local power law follows the latest rate either way; it costs noise (3 minima), so it
  is one candidate of the rolling backtest below, not the default;
- ``3 chinchilla``: :func:`scalelaw.fit` of ``chinchilla`` to every point (D = C / 6N);
- ``3 near-optimum``: the same law fitted only to points within a factor ``near`` of their
  budget's IsoFLOP minimum. Points far from the optimum (a 10x too small model at a budget)
  sit where the law's additive form is least accurate, and a least-squares fit spends its
  parameters on them; what a forecast of L_opt(C) needs is the valley floor.

**Backtest** (the held-out truth is each held-out budget's own IsoFLOP minimum, from its own
points): fit every approach on the budgets below the largest ``holdout`` fraction, predict the
optimum loss of the held-out ones. **Recommended path**: among the approaches, the one with the
smallest error in a *rolling-origin* backtest inside the fitted budgets (fit on the first 3, 4, ...
budgets, predict every later one), so the choice never sees the held-out budgets; with fewer than
4 fitted budgets there is no such backtest and it is ``FALLBACK`` (``3 near-optimum``; why: below). Its interval
is :mod:`scalelaw.calibration`'s prediction interval: the error model
sigma(d) = sqrt(s0^2 + (c d)^2) fitted to those rolling backtests' log errors at their distances d
(decades of C beyond the fitted budgets), combined with the bootstrap band; with fewer than 3
origins it is the module's conservative fallback, and a warning says so.

**Floor check**: every forecast of L_opt(C) here has a floor (chinchilla's E; L_inf of
L_opt(C) = L_inf + (C0/C)^alpha_C for approaches 1 and 2). Fitted on budgets that do not yet show
the minima flattening, the floor goes to its bound 0 and the forecast is a pure power law that
keeps falling at the fitted rate; if the true minima flatten beyond the budgets it is too low
(``data/cpu_isoflop``: all floors 0 on 1e11-8e11, every parametric path 3-4% low at 3.2e12;
``benchmarks/study_isoflop_floor.py``). No rule chosen on the fitted budgets fixed that there
(docs/approaches.md), so the recommended row keeps its point forecast and a warning says its floor is at 0,
with the minima's log-loss drop per doubling at the smallest and largest budgets. The miss has
either sign: on ``data/cpu_isoflop_bpe`` (BPE, 7.5e10-2.4e12) the minima's descent speeds up
(0.026 to 0.046 per doubling), every floor fitted on the 4 smaller budgets is 0 too, and the
forecasts land high (Approach 2, recommended there: +1.85% at 1.2e12, +3.36% at 2.4e12). On both
ladders the interval (the fallback width: 4 fitted budgets give one rolling origin) covered
every held-out budget (``benchmarks/study_isoflop_interval.py``).

**Counted compute** (``counted="flops_with_head"``, our trainer's logs: the LM head's 6 vocab d_model
FLOPs per token included; Porian et al. 2024, arXiv:2406.19146): budgets stay the nominal ones,
approaches 1 and 2 fit and predict in counted compute (each held-out minimum at C_nominal r(N_opt),
:mod:`scalelaw.isoflops`), Approach 3 keeps C = 6 N D. It is not the default: inside the fitted
budgets it lowered Approach 2's rolling error on ``data/cpu_isoflop_bpe`` (0.49% to 0.10%) and raised
it on ``data/cpu_isoflop`` (4.50% to 10.37%), and on synthetic ladders with the BPE ladder's geometry
it did not help (``benchmarks/study_counted_compute.py``; docs/approaches.md, "Counted compute").
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from scalelaw.fitting.data import as_frame
from scalelaw.isoflops import _columns, isoflop, ratio_at

__all__ = ["compare_approaches", "backtest_envelope", "backtest_frontier", "ApproachComparison", "APPROACHES"]

APPROACHES = ("1 envelope", "2 isoflop", "2 isoflop recent", "3 chinchilla", "3 near-optimum")
# Budgets behind ``2 isoflop recent``: the fewest that pin a power law's rate with one degree of
# freedom left to average noise. Fixed before it was scored on any held-out budget (session 6,
# before data/cpu_isoflop_bpe's 9.6e12 budget had run).
RECENT = 3
# The recommendation when the fitted budgets are too few (< 4) for a rolling backtest: the
# near-optimum parametric fit, else Approach 2. Chosen without the held-out budgets it is judged on
# (README, "Recommendation"; docs/approaches.md in full): fitted on 3 budgets in Epoch's rolling
# backtests (inside the fitted budgets), Approach 2 missed the later budgets by 7.6% / 7.2% mean
# (its parabolas through the small budgets' wide, lopsided profiles; whatever the weights), the
# near-optimum fit by 0.74% / 0.59%, the all-points fit by 0.39% / 3.34% (the far points: Besiroglu
# et al. 2024, Porian et al. 2024); on synthetic ladders of 3 budgets (known law, noise, budget
# offsets) both parametric fits beat Approach 2 in all 8 settings (mean 0.66-1.17% against
# 1.34-1.55%).
FALLBACK = ("3 near-optimum", "2 isoflop")


@dataclass
class ApproachComparison:
    """``table``: one row per approach (a, b, N_opt and loss_opt at ``C`` with intervals, backtest
    errors); ``backtest``: one row per approach and held-out budget; ``recommended``: the approach
    the rolling backtest chose; ``rolling``: its errors per approach; ``fits``: the full fits."""

    C: float
    table: pd.DataFrame
    backtest: pd.DataFrame
    recommended: str
    rolling: dict
    level: float
    fits: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)

    def report(self) -> str:
        cols = ["approach", "a", "a_lo", "a_hi", "N_opt", "N_lo", "N_hi", "loss_opt", "loss_lo", "loss_hi",
                "backtest_mean_err", "backtest_max_err", "backtest_coverage"]
        how = ("rolling backtest inside the fitted budgets" if self.rolling else
               "the fallback: too few fitted budgets for a rolling backtest")
        lines = [f"Chinchilla approaches at C={self.C:.3g} ({self.level:.0%} intervals); "
                 f"recommended: {self.recommended} ({how})",
                 self.table[[c for c in cols if c in self.table.columns]].to_string(
                     index=False, float_format=lambda v: f"{v:.4g}")]
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# One approach: fit on a subset, predict the optimum at compute C (with a parameter interval)

def _chinchilla_optimum(fit, C, level, draws=True):
    C = np.atleast_1d(np.asarray(C, dtype=float))
    opt = fit.optimum(C=C, warn=False)  # a backtest extrapolates on purpose
    out = {"N": np.asarray(opt["N"], float), "loss": np.asarray(opt["loss"], float),
           "a": fit.params["beta"] / (fit.params["alpha"] + fit.params["beta"])}
    if draws and fit.draws is not None:
        d = fit.draws.dropna()
        fixed = {n: fit.params[n] for n in fit.spec.fixed}
        Ns, Ls, As = [], [], []
        for row in d.to_dict("records"):
            o = fit.law.optimum({**row, **fixed}, fit.info, C=C)
            Ns.append(np.asarray(o["N"], float))
            Ls.append(np.asarray(o["loss"], float))
            As.append(row["beta"] / (row["alpha"] + row["beta"]))
        q = (1 - level) / 2
        for key, arr in (("N", np.array(Ns)), ("loss", np.array(Ls)), ("a", np.array(As))):
            out[key + "_lo"], out[key + "_hi"] = np.quantile(arr, q, axis=0), np.quantile(arr, 1 - q, axis=0)
    return out


def _near_points(points, optima, near):
    """Points within a factor ``near`` of their budget's minimum (budgets with a convex profile)."""
    keep = np.zeros(len(points), dtype=bool)
    for row in optima.itertuples():
        if not row.convex:
            continue
        m = np.isclose(points["budget"].to_numpy(float), row.C, rtol=1e-9)
        keep |= m & (np.abs(np.log(points["N"].to_numpy(float) / row.N_opt)) <= np.log(near))
    return points[keep]


def _recent_points(points, k):
    """The points of the ``k`` largest budgets (all points when there are no more than ``k``)."""
    b = points["budget"].to_numpy(float)
    budgets = np.unique(b[~np.isnan(b)])
    if len(budgets) <= k:
        return points
    return points[b >= budgets[-k] * (1 - 1e-9)]


def _fit_one(name, pts, curves, opts, n_boot, seed):
    """The fitted object of one approach on ``pts`` (columns N, C, loss, budget; C_counted with
    ``counted=``) and ``curves``."""
    from scalelaw.api import fit as fit_law
    from scalelaw.envelopes import envelope

    if name == "1 envelope":
        if curves is not None:
            return envelope(curves, x=opts["x"], y=opts["y"], n=opts["n"], split=opts["split"],
                            n_boot=n_boot, seed=seed)
        x = opts.get("counted") or "C"
        frame = pts.assign(run=np.arange(len(pts)).astype(str))
        return envelope(frame, x=x, y="loss", n="N", split=None, min_x=float(pts[x].min()),
                        n_boot=n_boot, seed=seed)
    if name in ("2 isoflop", "2 isoflop recent"):
        recent = name == "2 isoflop recent"  # pure power laws through the RECENT largest budgets
        return isoflop(_recent_points(pts, RECENT) if recent else pts, inputs={"N": "N", "C": "C"},
                       target="loss", budgets=opts["budgets"], tol=opts["tol"], profile=opts["profile"],
                       n_boot=n_boot, seed=seed, counted=opts.get("counted"),
                       loss_law="power" if recent else "power_law")
    if name == "3 near-optimum":
        iso = isoflop(pts, inputs={"N": "N", "C": "C"}, target="loss", budgets=opts["budgets"],
                      tol=opts["tol"], profile=opts["profile"], n_boot=0)
        pts = _near_points(iso.points, iso.optima, opts["near"])
    frame = pts.assign(D=pts["C"] / (6 * pts["N"]))
    f = fit_law("chinchilla", frame, inputs={"N": "N", "D": "D"}, target="loss", seed=seed)
    if n_boot:
        f.bootstrap(n_boot, seed=seed)
    return f


def _to_nominal(fit, C, knots):
    """The nominal budget C_nom = 6 N D whose optimum (of the chinchilla ``fit``) has counted compute
    ``C``: C_nom = C / r(N_opt(C_nom)), by fixed-point iteration (r varies slowly with N, so it
    contracts: d ln r / d ln C_nom is about -a / 2 for our trainer's models)."""
    C = np.atleast_1d(np.asarray(C, dtype=float))
    Cn = C / ratio_at(knots, np.asarray(fit.optimum(C=C, warn=False)["N"], float))
    for _ in range(50):
        new = C / ratio_at(knots, np.asarray(fit.optimum(C=Cn, warn=False)["N"], float))
        if np.allclose(new, Cn, rtol=1e-10):
            break
        Cn = new
    return Cn


def _predict_one(obj, C, level, nominal=None, knots=None):
    """{"N", "loss", "a", and _lo/_hi where there are draws} at compute C (arrays): C on the power
    laws' axis (counted compute with ``counted=``). Approach 3 keeps the nominal C = 6 N D
    constraint: it takes ``nominal`` (the budgets' own), else C converted by :func:`_to_nominal`
    with the ratio ``knots`` (or C itself without them)."""
    if hasattr(obj, "approach"):
        p = obj.predict(np.atleast_1d(C), level=level, kind="parameter", warn=False)  # calibrated once, here
        out = {"N": p["N"], "loss": p["loss"], "a": obj.params["a"]}
        for k in ("N", "loss"):
            if k + "_lo" in p:
                out[k + "_lo"], out[k + "_hi"] = p[k + "_lo"], p[k + "_hi"]
        if obj.draws is not None:
            q = (1 - level) / 2
            out["a_lo"], out["a_hi"] = obj.draws["a"].quantile(q), obj.draws["a"].quantile(1 - q)
        return out
    if nominal is None:
        nominal = C if knots is None else _to_nominal(obj, C, knots)
    return _chinchilla_optimum(obj, nominal, level)


# ---------------------------------------------------------------------------------------------

def _budget_split(optima, frac):
    """Threshold C: budgets at or above it (the largest ``frac`` of usable budgets) are held out."""
    usable = optima[optima["convex"] & ~optima["edge"]].sort_values("C")
    if len(usable) < 4:
        raise ValueError(f"compare_approaches: {len(usable)} budget(s) with an interior minimum; a "
                         "backtest needs 4+ (2+ to fit, 1+ to hold out)")
    n_hold = max(1, int(round(frac * len(usable))))
    n_hold = min(n_hold, len(usable) - 3)
    return usable.iloc[-n_hold:], float(usable["C"].iloc[-n_hold])


def _subset(pts, curves, thr, opts):
    """Points of budgets below ``thr`` (and unbinned points below it), and curves of runs that
    end below it (a run of a held-out budget is one the user would not have trained). With
    ``counted=`` the curves' compute is counted: a run's end is brought back to its nominal budget
    by its size's ratio r(N) before it is compared with the nominal ``thr``."""
    tol = 10 ** (-opts["tol"])
    b = pts["budget"].to_numpy(float)
    keep = np.where(np.isnan(b), pts["C"].to_numpy(float) < thr * tol, b < thr * (1 - 1e-9))
    cur = None
    if curves is not None:
        ends = curves.groupby("run")[opts["x"]].transform("max")
        if opts.get("knots") is not None:
            ends = ends / ratio_at(opts["knots"], curves[opts["n"]].to_numpy(float))
        cur = curves[ends < thr * tol]
    return pts[keep], cur


def _rolling_errors(train_pts, train_cur, inner_opt, opts, n_boot, seed, level, fc) -> pd.DataFrame:
    """The rolling-origin backtest inside the fitted budgets: for every origin m = 3 .. n-1 of the
    ``inner_opt`` budgets (sorted by C), fit every approach on the first m budgets and predict the
    optimum loss of every later one. One row per (approach, origin, predicted budget): ``log_err``
    = log(observed / predicted), ``d`` = decades of C beyond the origin's largest budget, ``origin``
    = m, ``C`` = the predicted budget. These errors choose the approach and calibrate its band."""
    rows = []
    for m in range(3, len(inner_opt)):
        inner_thr = float(inner_opt["C"].iloc[m])
        inner_held = inner_opt.iloc[m:]
        inner_pts, inner_cur = _subset(train_pts, train_cur, inner_thr, opts)
        cmax = float(fc(inner_opt)[m - 1])
        for name in APPROACHES:
            try:
                # approach 2 weighs its minima by their bootstrap spread: it needs draws here too
                obj = _fit_one(name, inner_pts, inner_cur, opts, min(n_boot, 50) if name.startswith("2 isoflop") else 0,
                               seed)
                p = _predict_one(obj, fc(inner_held), level, nominal=inner_held["C"].to_numpy(float))
            except (ValueError, KeyError):
                continue
            e = np.log(inner_held["loss_opt"].to_numpy(float) / p["loss"])
            d = np.log10(fc(inner_held) / cmax)
            for j in range(len(e)):
                rows.append({"approach": name, "origin": m, "C": float(inner_held["C"].iloc[j]),
                             "d": float(d[j]), "log_err": float(e[j])})
    return pd.DataFrame(rows, columns=["approach", "origin", "C", "d", "log_err"])


def rolling_scores(inner: pd.DataFrame) -> dict:
    """Each approach's rolling-backtest score: mean |relative error| over every (origin, later
    fitted budget) pair of :func:`_rolling_errors`; the lowest is recommended.

    It weighs the short horizons and small origins most, though the user's question is the longest
    horizon, so scores aimed there were tried (``benchmarks/study_approach_selection.py``: each
    origin's longest horizon only, pairs weighted by distance, the latest 2 origins, each path's
    error per decade extrapolated across origins): on 30 synthetic ladders of known law each
    recommended worse paths (0.80-0.93% mean error at the targets against this score's 0.77%),
    and on Epoch's points and nested backtests inside our ladders' fitted budgets none was
    better in both, so this score stays (the decision rule was fixed before they were run)."""
    out = {}
    for name in APPROACHES:
        e = inner.loc[inner["approach"] == name, "log_err"].to_numpy(float)
        if len(e):
            out[name] = float(np.mean(np.abs(np.expm1(e))))
    return out


def _choose(rolling: dict) -> str:
    """The approach with the lowest score; ties (within 1e-4, 0.01 percentage points) go to the
    first in APPROACHES order: with one origin on 3 budgets, "2 isoflop" and "2 isoflop recent"
    fit the same 3 minima, and the full-ladder fit should not lose to its local variant on rounding."""
    best = min(rolling.values())
    return next(n for n in APPROACHES if n in rolling and rolling[n] <= best + 1e-4)


def _errors(obj_pred, truth):
    return obj_pred / truth - 1


def compare_approaches(df, inputs=None, target: str = "loss", *, curves=None, C: float | None = None,
                       holdout: float = 1 / 3, budgets=None, tol: float = 0.05, profile: str = "parabola",
                       near: float = 3.0, n_boot: int = 100, level: float = 0.9, seed: int = 0,
                       curve_columns: dict | None = None, counted: str | None = None) -> ApproachComparison:
    """Approaches 1, 2 and 3 (and 3 near the optimum) side by side, each backtested.

    Parameters
    ----------
    df : DataFrame
        Final points of an IsoFLOP ladder: ``inputs`` maps N and C (or D) to columns.
    curves : DataFrame, optional
        Training curves (tidy schema) for Approach 1; default: the points themselves.
    C : float, optional
        Compute at which a, N_opt and loss_opt are compared; default 10x the largest budget.
    holdout : float
        Fraction of the budgets (the largest) held out in the backtest.
    budgets, tol, profile : see :func:`scalelaw.isoflop`.
    near : float
        ``3 near-optimum`` keeps points within this factor of their budget's minimum in N.
    n_boot : int
        Bootstrap resamples for the intervals.
    curve_columns : dict, optional
        ``{"x": "flops", "y": "loss", "n": "n_params", "split": "val"}`` for ``curves`` (with
        ``counted=``, ``x`` defaults to that column).
    counted : str, optional
        A column of each run's counted compute (``"flops_with_head"`` in our trainer's logs: LM
        head included; :func:`scalelaw.isoflop`'s ``counted``). Budgets stay the nominal ones (the
        held-out truth is each nominal budget's own minimum), but approaches 1 and 2 fit and predict
        against counted compute, ``C`` is counted compute, and every held-out minimum is predicted at
        its counted compute C_nominal r(N_opt). Approach 3 keeps the nominal constraint C = 6 N D:
        it predicts each held-out budget at its nominal C, and a counted ``C`` is converted by
        C_nom = C / r(N_opt(C_nom)).
    """
    if not 0 < holdout < 1:
        raise ValueError(f"compare_approaches: holdout must be in (0, 1), got {holdout!r}")
    if not near > 1:
        raise ValueError(f"compare_approaches: near must be > 1 (a factor in N), got {near!r}")
    frame = as_frame(df)
    inputs = inputs or {"N": "n_params", "C": "flops"}
    N, Cc, y = _columns(frame, inputs, target)
    base = pd.DataFrame({"N": N, "C": Cc, "loss": y})
    if counted is not None:
        from scalelaw.fitting.data import numeric_column

        base["C_counted"] = numeric_column(frame, counted, "counted compute", positive=True)
    opts = {"budgets": budgets, "tol": tol, "profile": profile, "near": near,
            "counted": None if counted is None else "C_counted",
            **{"x": counted or "flops", "y": "loss", "n": "n_params", "split": "val", **(curve_columns or {})}}
    full_iso = isoflop(base, inputs={"N": "N", "C": "C"}, budgets=budgets, tol=tol, profile=profile, n_boot=0,
                       counted=opts.get("counted"))
    c = full_iso.options.get("counted")
    opts["knots"] = None if c is None else (np.asarray(c["ln_N"]), np.asarray(c["ln_r"]))
    knots = opts["knots"]

    def fc(rows):
        """The rows' compute on the power laws' axis (counted with ``counted=``)."""
        return rows["C_counted" if counted is not None else "C"].to_numpy(float)

    pts = full_iso.points
    warnings = list(full_iso.warnings)
    if curves is not None:
        curves = as_frame(curves, "curves")
        if "run" not in curves.columns:
            raise KeyError("compare_approaches: curves need a 'run' column (one curve per run)")
    held, thr = _budget_split(full_iso.optima, holdout)
    target_C = float(C) if C is not None else 10 * float(np.nanmax(fc(full_iso.optima)))

    # ---- backtest: fit below thr, predict the held-out budgets' minima ------------------------
    train_pts, train_cur = _subset(pts, curves, thr, opts)
    truth = held["loss_opt"].to_numpy(float)
    rows, bt_fits = [], {}
    for name in APPROACHES:
        try:
            obj = _fit_one(name, train_pts, train_cur, opts, n_boot, seed)
            p = _predict_one(obj, fc(held), level, nominal=held["C"].to_numpy(float))
        except (ValueError, KeyError) as err:
            warnings.append(f"backtest of {name}: {err}")
            continue
        bt_fits[name] = obj
        for j, c in enumerate(held["C"]):
            lo, hi = p.get("loss_lo", [np.nan] * len(truth))[j], p.get("loss_hi", [np.nan] * len(truth))[j]
            rows.append({"approach": name, "C": float(c), "C_fit": float(fc(held)[j]), "truth": truth[j],
                         "best_run": float(held["best_loss"].iloc[j]),
                         "pred": float(p["loss"][j]), "rel_err": float(p["loss"][j] / truth[j] - 1),
                         "lo": float(lo), "hi": float(hi), "covered": bool(lo <= truth[j] <= hi)})

    # ---- rolling backtest inside the fitted budgets: choose, and calibrate -------------------
    inner_opt = full_iso.optima[(full_iso.optima["C"] < thr) & full_iso.optima["convex"]
                                & ~full_iso.optima["edge"]].sort_values("C")
    n_in = len(inner_opt)
    if n_in < 4:
        warnings.append(f"rolling backtest inside the fitted budgets: {n_in} fitted budget(s), need 4+; "
                        f"recommending the fallback, {FALLBACK[0]} (README: why), with a conservative "
                        "uncalibrated interval")
    inner = _rolling_errors(train_pts, train_cur, inner_opt, opts, n_boot, seed, level, fc)
    rolling = rolling_scores(inner)
    inner_errs = {name: (g["log_err"].to_numpy(), g["d"].to_numpy(), g["origin"].to_numpy())
                  for name, g in inner.groupby("approach", sort=False)}
    if rolling:
        recommended = _choose(rolling)
    else:  # too few budgets to choose by backtest: the first of FALLBACK that could be fitted
        recommended = next((n for n in FALLBACK if n in bt_fits), FALLBACK[-1])
    z = _z(level)

    fitted = full_iso.optima[full_iso.optima["C"] < thr]

    def error_model(name, obj):
        """scalelaw.calibration's error model fitted to this approach's rolling-backtest errors;
        its noise floor is the approach's own log misfit at the fitted budgets' minima."""
        from scalelaw.calibration import fit_error_model, residual_scale

        try:
            ok = np.isfinite(fc(fitted))  # a non-convex budget has no optimum, so no counted C
            p_in = _predict_one(obj, fc(fitted)[ok], level, nominal=fitted["C"].to_numpy(float)[ok])["loss"]
            floor = residual_scale(np.log(fitted["loss_opt"].to_numpy(float)[ok] / p_in))
        except (ValueError, KeyError):
            floor = 0.0
        # no rolling backtest (too few budgets): calibration's conservative fallback, with its warning
        e, d, g = inner_errs.get(name, ([], [], []))
        return fit_error_model(e, d, g, noise_floor=floor)

    calibration = error_model(recommended, bt_fits.get(recommended)) if recommended in bt_fits else None
    if calibration is not None:
        warnings.extend(calibration.warnings)

    bt = pd.DataFrame(rows)
    if not bt.empty and recommended in bt["approach"].values:
        rec = bt[bt["approach"] == recommended].copy()
        if calibration is not None:
            cmax_train = float(np.nanmax(fc(fitted)))
            lo, hi = calibration.interval(rec["pred"].to_numpy(), np.log10(rec["C_fit"].to_numpy() / cmax_train),
                                          level, rec["lo"].to_numpy(), rec["hi"].to_numpy())
            rec["lo"], rec["hi"] = lo, hi
        rec["covered"] = (rec["lo"] <= rec["truth"]) & (rec["truth"] <= rec["hi"])
        rec["approach"] = "recommended: " + recommended
        bt = pd.concat([bt, rec], ignore_index=True)

    # ---- full fits at the target compute -----------------------------------------------------
    table, fits = [], {}
    for name in APPROACHES:
        try:
            obj = _fit_one(name, pts, curves, opts, n_boot, seed)
            p = _predict_one(obj, target_C, level, knots=knots)
        except (ValueError, KeyError) as err:
            warnings.append(f"{name} on all budgets: {err}")
            continue
        fits[name] = obj
        row = {"approach": name, "a": float(p["a"]), "b": float(1 - p["a"]),
               "a_lo": float(p.get("a_lo", np.nan)), "a_hi": float(p.get("a_hi", np.nan)),
               "N_opt": float(p["N"][0]), "N_lo": float(p.get("N_lo", [np.nan])[0]),
               "N_hi": float(p.get("N_hi", [np.nan])[0]), "loss_opt": float(p["loss"][0]),
               "loss_lo": float(p.get("loss_lo", [np.nan])[0]), "loss_hi": float(p.get("loss_hi", [np.nan])[0])}
        sub = bt[bt["approach"] == name] if not bt.empty else bt
        if len(sub):
            row.update(backtest_mean_err=float(sub["rel_err"].abs().mean()),
                       backtest_max_err=float(sub["rel_err"].abs().max()),
                       backtest_coverage=float(sub["covered"].mean()))
        row["rolling_err"] = rolling.get(name, np.nan)
        table.append(row)
    table = pd.DataFrame(table)
    rec_floor = _floor(fits.get(recommended))
    if rec_floor is not None and rec_floor[1] <= _FLOOR_TOL * float(full_iso.optima["loss_opt"].min()):
        warnings.append(
            (f"recommended path ({recommended}): its L_opt(C) is a pure power law (by construction: the latest "
             "budgets' rate carried forward), which cannot flatten" if rec_floor[0].startswith("L_inf (a pure") else
             f"recommended path ({recommended}): its fitted floor {rec_floor[0]} = {rec_floor[1]:.3g} is at its "
             "bound 0, so its L_opt(C) is a pure power law that cannot flatten")
            + _descent(full_iso.optima) + "; if the true "
            "minima flatten beyond the budgets (a floor the budgets cannot see yet), its forecast is too low "
            "(data/cpu_isoflop: every parametric path 3-4% low two doublings out; data/cpu_isoflop_bpe's local "
            "law: 2.0% low at 1.92e13, where the descent slowed; README); if their descent "
            "keeps speeding up, too high (data/cpu_isoflop_bpe: +3.4% at 2.4e12). Trust the interval, not the "
            "point, and add a budget")
    if recommended in fits:
        r = table[table["approach"] == recommended].iloc[0].to_dict()
        # the same error model, refitted around the full fit (its noise floor at all budgets)
        fitted = full_iso.optima
        cal = error_model(recommended, fits[recommended])
        if cal is not None:
            lo, hi = cal.interval(np.array([r["loss_opt"]]),
                                  np.array([max(np.log10(target_C / float(np.nanmax(fc(fitted)))), 0.0)]), level,
                                  np.array([r["loss_lo"]]), np.array([r["loss_hi"]]))
            r.update(loss_lo=float(lo[0]), loss_hi=float(hi[0]))
        r.update(approach="recommended: " + recommended)
        sub = bt[bt["approach"] == "recommended: " + recommended] if not bt.empty else bt
        if len(sub):
            r.update(backtest_mean_err=float(sub["rel_err"].abs().mean()),
                     backtest_max_err=float(sub["rel_err"].abs().max()),
                     backtest_coverage=float(sub["covered"].mean()))
        table = pd.concat([table, pd.DataFrame([r])], ignore_index=True)
    return ApproachComparison(C=target_C, table=table, backtest=bt, recommended=recommended, rolling=rolling,
                              level=level, fits=fits, warnings=warnings)


# a floor (E, L_inf) below this fraction of the smallest budget minimum counts as collapsed to 0
# (a floor the data support is a sizeable part of the loss: 1.69 of 2-3 nats in Hoffmann's fit)
_FLOOR_TOL = 1e-3


def _floor(obj):
    """(name, value) of a fitted approach's floor: E of the parametric law, L_inf of an L_opt(C)
    power law plus constant, 0.0 for a pure power law (no floor); None when there is no fit."""
    if obj is None:
        return None
    params = obj.params
    if "E" in params:
        return "E", float(params["E"])
    if "L_inf" in params:
        return "L_inf", float(params["L_inf"])
    return "L_inf (a pure power law)", 0.0


def _descent(optima) -> str:
    """The budgets' minima's log-loss drop per doubling of C, first and last pair (usable budgets),
    in words: whether the descent the power law extrapolates is slowing or speeding up."""
    o = optima[optima["convex"] & ~optima["edge"]].sort_values("C")
    if len(o) < 3:
        return ""
    lc, ll = np.log2(o["C"].to_numpy(float)), np.log(o["loss_opt"].to_numpy(float))
    drops = -np.diff(ll) / np.diff(lc)
    how = "speeding up" if drops[-1] > drops[0] else "slowing"
    # a turn inside the ladder (data/cpu_isoflop_bpe: 0.026 -> 0.046, then 0.031) is what decides
    # which local rate a forecast carries forward, so say where the descent was fastest or slowest
    C = o["C"].to_numpy(float)
    for j, word, other in ((int(np.argmax(drops)), "fastest", "slowing"), (int(np.argmin(drops)), "slowest", "speeding up")):
        if 0 < j < len(drops) - 1:
            how = (f"{word}, {drops[j]:.3f}, between {C[j]:.3g} and {C[j + 1]:.3g}, then {other}")
            break
    return (f" (the minima fall {drops[0]:.3f} in log loss per doubling of C at the smallest budgets, "
            f"{drops[-1]:.3f} at the largest: {how})")


def _z(level):
    from scipy.stats import norm

    return float(norm.ppf(0.5 + level / 2))


def backtest_envelope(curves, x: str = "flops", y: str = "loss", *, n: str = "n_params", d: str = "n_tokens",
                      split: str | None = "val", holdout: float = 1 / 3, loss_law: str = "power_law",
                      n_boot: int = 100, level: float = 0.9, seed: int = 0) -> pd.DataFrame:
    """Approach 1 and the parametric law on a ladder of training curves with no IsoFLOP budgets.

    The runs whose curves end at the largest compute (the largest ``holdout`` fraction of runs)
    are held out; approach 1 (:func:`scalelaw.envelope` of the other runs) predicts L_opt(C) at
    every point of the full envelope beyond the fitted runs' compute, and ``chinchilla`` fitted
    to the other runs' rows predicts the loss of the same envelope points (their own N and D).
    Returns one row per held-out envelope point: C, N, D, truth, and each forecast with its
    relative error (approach 1 also with its bootstrap interval and whether it covers).
    """
    from scalelaw.api import fit as fit_law
    from scalelaw.envelopes import envelope

    frame = as_frame(curves, "curves")
    if "run" not in frame.columns:
        raise KeyError("backtest_envelope: curves need a 'run' column (one curve per run)")
    if split is not None and "split" in frame.columns:
        frame = frame[frame["split"] == split]
    full = envelope(frame, x=x, y=y, n=n, d=d, split=None, n_boot=0, loss_law=loss_law)
    ends = frame[frame[x] > 0].groupby("run")[x].max().sort_values()
    n_hold = max(1, int(round(holdout * len(ends))))
    if len(ends) - n_hold < 2:
        raise ValueError(f"backtest_envelope: {len(ends)} runs; holding out {n_hold} leaves fewer than 2")
    kept = ends.index[:-n_hold]
    train = frame[frame["run"].isin(kept)]
    c_fit = float(ends.iloc[:-n_hold].max())
    env = envelope(train, x=x, y=y, n=n, d=d, split=None, n_boot=n_boot, seed=seed, loss_law=loss_law)
    truth = full.optima[full.optima["C"] > c_fit]
    if truth.empty:
        raise ValueError("backtest_envelope: the full envelope has no point beyond the fitted runs")
    p = env.predict(truth["C"].to_numpy(float), level=level, warn=False)
    out = pd.DataFrame({"C": truth["C"].to_numpy(float), "N": truth["N_opt"].to_numpy(float),
                        "D": truth["D_opt"].to_numpy(float), "truth": truth["loss_opt"].to_numpy(float)})
    out["approach1"] = p["loss"]
    out["approach1_err"] = out["approach1"] / out["truth"] - 1
    if "loss_lo" in p:
        out["approach1_lo"], out["approach1_hi"] = p["loss_lo"], p["loss_hi"]
        out["approach1_covered"] = (out["approach1_lo"] <= out["truth"]) & (out["truth"] <= out["approach1_hi"])
    pts = train[(train[x] > 0) & (train[d] > 0)] if d in train.columns else None
    if pts is not None and len(pts) >= 5:
        import warnings as _w

        from scalelaw.result import ExtrapolationWarning

        f = fit_law("chinchilla", pts, inputs={"N": n, "D": d}, target=y, seed=seed)
        with _w.catch_warnings():
            _w.simplefilter("ignore", ExtrapolationWarning)  # extrapolating is what a backtest does
            out["chinchilla"] = f.predict({"N": out["N"].to_numpy(), "D": out["D"].to_numpy()})
        out["chinchilla_err"] = out["chinchilla"] / out["truth"] - 1
    out.attrs["fitted_runs"] = list(map(str, kept))
    out.attrs["max_fitted_C"] = c_fit
    return out


def compute_frontier(C, loss) -> np.ndarray:
    """Mask of the points on the compute frontier: lower loss than every point of smaller compute
    (ties in C: the lowest loss of the tie); the rule of :func:`scalelaw.frontier` before its hull."""
    from scalelaw.points import below_all_before

    C, loss = np.asarray(C, float), np.asarray(loss, float)
    order = np.lexsort((loss, C))
    keep = np.zeros(len(C), dtype=bool)
    keep[order] = below_all_before(loss[order])
    return keep


def backtest_frontier(points, *, n: str = "n_params", d: str = "n_tokens", y: str = "loss",
                      holdout: float = 1 / 3, laws=("chinchilla", "kaplan_nd"), seed: int = 0) -> pd.DataFrame:
    """The parametric laws on a size ladder that is not an IsoFLOP design (each size trained for
    several fixed token budgets, so no two runs share a compute budget): fit each law on the
    smaller sizes' final points, predict the compute-frontier points of the held-out largest
    ``holdout`` fraction of sizes.

    The frontier (:func:`compute_frontier`, C = 6 N D) is what a compute-optimal forecast must
    get right: the lowest loss reached at each compute. Returns one row per held-out frontier
    point: N, D, C, truth and, per law, its forecast and relative error. ``attrs``: the fitted
    and held-out sizes.
    """
    import warnings as _w

    from scalelaw.api import fit as fit_law
    from scalelaw.result import ExtrapolationWarning

    frame = as_frame(points, "points")
    if not 0 < holdout < 1:
        raise ValueError(f"backtest_frontier: holdout must be in (0, 1), got {holdout!r}")
    for col in (n, d, y):
        if col not in frame.columns:
            raise KeyError(f"backtest_frontier: points need a {col!r} column (N, D and loss of each run's final point)")
    frame = frame[[n, d, y]].astype(float)
    sizes = np.sort(frame[n].unique())
    n_hold = max(1, int(round(holdout * len(sizes))))
    if len(sizes) - n_hold < 3:
        raise ValueError(f"backtest_frontier: {len(sizes)} sizes; holding out {n_hold} leaves fewer than 3 to fit")
    held_sizes = sizes[-n_hold:]
    C = 6 * frame[n].to_numpy() * frame[d].to_numpy()
    front = compute_frontier(C, frame[y].to_numpy())
    held = frame[front & frame[n].isin(held_sizes).to_numpy()]
    if held.empty:
        raise ValueError("backtest_frontier: no held-out size reaches the compute frontier")
    train = frame[~frame[n].isin(held_sizes)]
    out = pd.DataFrame({"N": held[n].to_numpy(), "D": held[d].to_numpy(),
                        "C": 6 * held[n].to_numpy() * held[d].to_numpy(), "truth": held[y].to_numpy()})
    for law in laws:
        f = fit_law(law, train, inputs={"N": n, "D": d}, target=y, seed=seed)
        with _w.catch_warnings():
            _w.simplefilter("ignore", ExtrapolationWarning)  # extrapolating is what a backtest does
            out[law] = f.predict({"N": out["N"].to_numpy(), "D": out["D"].to_numpy()})
        out[law + "_err"] = out[law] / out["truth"] - 1
    out = out.sort_values("C", ignore_index=True)
    out.attrs["fitted_sizes"] = [float(v) for v in sizes[:-n_hold]]
    out.attrs["held_sizes"] = [float(v) for v in held_sizes]
    return out
