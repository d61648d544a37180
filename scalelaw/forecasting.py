"""Forecasting a run in progress: the loss at the end of its planned schedule (and at every step
after the cut) from the first part of its curve, with an interval.

    fc = sl.forecast(partial_df, schedule="cosine:n_steps=24000,peak=3e-4,floor=3e-5,warmup=2160",
                     law="lr_annealing", warmup_steps=2160)
    fc["final_loss"], fc["interval"], fc["warnings"]

How: a schedule law (``lr_annealing`` by default, or ``multi_power``) is fitted to the logged part
of the curve with the run's full planned schedule, and predicts the rest. Its parameters tell how
loss falls with LR area (S1) and how it drops when the LR decays (lr_annealing's C, multi_power's
B). Borrowing strength from finished runs of the same setup:

- ``prior=fit`` (a fitted schedule law): every parameter but the level ``L0`` is taken from the
  finished runs' fit; the partial curve only sets its own level (a new seed, a new data order);
- ``using=df`` (finished curves of the same setup, with their schedules in ``schedules=``):
  one parameter set is fitted to them and the partial curve together.

What a cut cannot tell. The decay term is identified only by LR decreases that the logged part
already saw. A run cut before its LR started to fall (a WSD run cut before the decay, a constant
run) carries no information on it, and one that has seen less than a quarter of the LR's fall
(``MIN_SEEN_DECAY``) too little: with a prior or other curves the forecast borrows it; alone,
the forecast holds the decay coefficient at 0 and says so in ``warnings``: it then predicts the
run as if the LR had stayed where it was, which overstates the final loss of a run that will decay
(the interval does not cover that: it is a different question the data cannot answer).

Measured (``python examples/forecast_runs.py --law lr_annealing --boot 30``, 2026-11-29 session
5; cuts at 25/50/75% of each run; mean / worst |relative error| of the final loss): on Luo et
al.'s nine curves per size, alone 4.0/5.0%, 1.9/3.3%, 0.71/2.8% (25M) and 4.2/5.5%, 2.2/4.3%,
0.88/3.5% (100M) (before the quarter-of-the-fall rule the 25% cut was 6.5/25% and 5.6/17%:
cosine runs cut early were extrapolated); with the other eight runs as prior 0.45/0.99%,
0.19/0.85%, 0.16/0.67% (25M) and 0.32/0.80%, 0.21/0.68%, 0.19/0.54% (100M); ``using=`` the
other eight 0.28/1.0%, 0.25/0.88%, 0.19/0.65% (25M) and 0.27/0.84%, 0.24/0.73%, 0.21/0.52%
(100M). Alone, a quarter of a run does not pin the loss floor: borrow from finished runs. The 90%
parameter band covered the truth in only 0-44% of cuts: it is parameter noise only. With a prior
the calibrated interval (the default; calibrated on the prior's runs, below) covered 89% of the
cuts at each cut and size (89 / 89 / 100% when it was calibrated inside the partial run); with
``using=`` (calibrated on the finished runs, below) 89 / 89 / 100% at both sizes. Alone it
covers little: 0% of the cuts made before the LR fell (below) and 86-100% of the others.
On our CPU set data/cpu_schedules (``--sets cpu_d2-32,cpu_d4-64``: each size's seven runs, val,
steps >= 101, the other six as prior or ``using=``): alone 3.0/3.8%, 4.1/5.4%, 2.8/5.5% (d2-32)
and 6.1/7.6%, 6.8/9.4%, 3.6/7.7% (d4-64), most cuts before a quarter of the LR's fall; with a
prior 1.3/2.5%, 1.3/2.6%, 1.3/2.7% (d2-32) and 1.6/3.5%, 1.6/3.9%, 1.7/4.0% (d4-64), covered
86/86/100% and 71/71/100%; ``using=`` 1.2/2.5%, 1.2/2.5%, 1.2/2.6% and 1.5/3.7%, 1.5/3.7%,
1.6/3.8%, covered 71/86/100% and 71/71/100%. The misses there are the runs with a short fast
final decay (wsd, wsdcos: 2.0-3.7% too high with either), the schedule the laws fitted on
the other runs under-predict (data/cpu_schedules/README.md). Borrowing removes most of the
error of a forecast made alone, not the law's own error for a schedule none of the finished
runs resembles. (The figures quoted here before session 5 were from data/cpu_lr_schedules, a
byte-level set since removed.)
A WSD run cut before its decay is forecast without the decay (warned): +2.0% to +5.0% too high at 25M.
With ``law="multi_power"`` (Luo's runs and cuts, ``--boot 30``; the table in
``examples/forecast_runs.py``): alone 2.4/3.9%, 1.5/3.0%, 0.67/2.6% (25M) and 2.4/4.0%,
1.8/4.1%, 0.80/3.3% (100M); with a prior 0.28/0.54%, 0.22/0.49%, 0.19/0.45% (25M) and
0.26/0.57%, 0.25/0.53%, 0.21/0.48% (100M). Its prior interval covered 78% of the cuts at 25M
and 89% at 100M at every cut (mean 90% half-widths 0.44-0.69%; lr_annealing's 0.63-1.36%); it
covered 33-78% when calibrated inside the partial run. Alone: 0-14% of the cuts made before the
LR fell (or before a quarter of its fall, ``MIN_SEEN_DECAY``), 50-100% of the others.
multi_power with ``using=`` (``--law multi_power --ways using --boot 30``, ``--cuts 0.5`` then
``--cuts 0.25,0.75``; about 30-50 s a forecast): on Luo's curves 0.27/0.58%, 0.24/0.57%,
0.21/0.55% (25M) and 0.28/0.52%, 0.24/0.52%, 0.22/0.50% (100M), covering 89 / 89 / 100% and
89 / 100 / 100% (mean 90% half-widths 0.67-0.80%); on data/cpu_schedules 0.46/0.81%, 0.47/0.82%,
0.47/0.81% (d2-32) and 1.9/3.3%, 1.9/3.3%, 1.9/3.4% (d4-64), covering 100% at every cut and 86%
(the miss: d4-64's wsdcos, +3.3%, at every cut).

The interval (default ``interval="calibrated"``) is a prediction interval for the logged loss;
``interval="parameter"`` gives the bare bootstrap band (block bootstrap over the logged steps),
which is too narrow for a forecast. Alone it is the library's calibrated
interval (:mod:`scalelaw.calibration`: the bootstrap band widened by rolling-origin backtests
inside the logged part). With ``prior=`` that is the wrong question: only L0 is refitted, so the
backtests inside the partial run see the level's error and not the prior's own error for this
run's schedule, which is most of a prior forecast's error. It was why multi_power's prior
intervals covered only 33-78% although its errors were as small as lr_annealing's (0.19-0.28%
mean): its shape fits each partial curve closely, its in-run backtests err little, its intervals
came out narrow. So a forecast with a prior is calibrated on **forecast backtests inside the
prior's own runs** (:func:`_prior_calibration`): each run j the prior was fitted on is left out,
the prior refitted without it (warm-started, batched), j cut at the same fraction of its steps as
this forecast's cut, its level fitted on the part before the cut and its rest predicted. These
errors hold all three terms: the prior's error for a schedule it did not see, the prior's
parameter uncertainty (every fold's prior differs) and the level's. They are modelled by
:func:`scalelaw.calibration.fit_error_model` (one fold per run; sigma(u)^2 = s0^2 + (c u)^2,
s0 never below the forecast fit's residual scale, a Student-t quantile on F - 1 degrees of
freedom below 10 folds) against the horizon fraction u = (step - cut) / (end - cut), not against
the distance in log S1: in those backtests the error builds up over the rest of the run whatever
its LR area (on the published 100M curves a cosine_24000 cut at 75%, 0.03 decades of S1 left,
ends 0.18% off, as much as runs with 0.3 decades left), because it comes from the decay the prior
mispredicts. It is then combined with the forecast's own bootstrap band as every calibrated
interval is (``fc["calibration"]`` holds it). The rule was chosen on those in-prior backtests
and on synthetic runs whose decay coefficient differs per run (tests/test_forecast.py), not on
the held-out runs it is scored on; leaving one of a prior's own forecast backtests out and
calibrating on the rest covered the left-out run's end in 99 of 108 cases at 90% (both laws,
nine-run priors at 25M and 100M, three cuts: ``benchmarks/bench_forecast_prior_insample.py``); it needs a prior of at least 3 runs (fewer: the in-run
calibration, as before). Cost: one batched refit per prior run, once per prior object.

With ``using=`` (since session 5) the interval is calibrated the same way, on **forecast
backtests inside the finished runs** (:func:`_using_backtests`, :func:`_using_calibration`):
each finished run j is cut at the same fraction of its steps as this forecast's cut, the joint
fit redone on everything but j's rest (the other finished runs whole, the partial curve, j's
first part; warm-started at the forecast's fit, one batched Levenberg-Marquardt member per run)
and j's rest predicted; its log errors against the horizon fraction are one fold of the same
error model, combined with the forecast's own bootstrap band. Before, ``using=`` took the
library's calibration of the joint fit (leave-one-run-out and rolling folds, distance in log10
S1, 30 bootstrap refits a fold). That asks another question: the forecast run's remaining steps
mostly lie inside the finished runs' S1 range (distance 0), so its width was the interpolation
floor, the same from every cut and at every step. That floor comes from leave-one-run-out errors
over all of a left-out run's points, most of which any fit predicts well (a law's miss for a
schedule sits at the end of its decay), pooled with rolling folds along S1 that err little: on
data/cpu_schedules' d2-32 wsd run cut at 50%, 15 folds gave a 90% half-width of 0.90% at
distance 0 (1.6% with the bootstrap band) for a forecast 2.5% off at the end. And with multi_power it took about 8 minutes a forecast on
Luo's curves (17 folds x 31 refits of nine long curves; the backtests here add a few seconds).
It covered 89 / 100 / 100% of Luo's cuts at both sizes (lr_annealing, mean half-widths
0.45-0.56%), but 57% at every cut on data/cpu_schedules (both sizes) and 67 / 67 / 71% on
synthetic sets whose runs' decay coefficient differs by ~10%. The rule was chosen on evidence
that holds nothing scored out (``benchmarks/bench_forecast_using.py``): leaving one of the
finished runs' own forecast backtests out and calibrating on the rest covered the left-out
run's end in 84 of 96 cases (lr_annealing) and 86 of 96 (multi_power) at 90% (``--insample``:
Luo's two sizes and data/cpu_schedules' two, three cuts); on the synthetic sets
(``--synthetic 4``, 6 runs each) it covered 79 / 79 / 92% against the library's 67 / 67 / 71%,
with wider intervals (mean half-widths 3.1-3.8% against 1.3%). On the held-out forecasts
(lr_annealing, above) it then covered 81 of 96 cuts against 76 of 96 with the library's. Known
limit: the horizon-fraction model cannot see an extrapolation in LR area beyond every finished
run (on Luo's curves constant_72000, 1.8x the area of any other run, was forecast +0.73% to
+1.01% too high from 25% and 50% and missed); the forecast says so in ``warnings`` when the
run's planned LR area exceeds every finished run's (:func:`_area_beyond`). Fewer than 3
finished runs: the library's calibration, as before.
"""

from __future__ import annotations

import warnings as _warnings
import weakref

import numpy as np
import pandas as pd

from scalelaw.laws.lr_annealing import _as_schedule

_DECAY_PARAM = {"lr_annealing": "C", "multi_power": "B"}
_RUN = "__forecast__"
_OFF = 1e-12
# a prior's leave-one-run-out refits, computed once per prior object (they do not depend on the cut)
_LORO = weakref.WeakKeyDictionary()


def _one_curve(partial, step, target, split):
    df = partial if isinstance(partial, pd.DataFrame) else pd.DataFrame(partial)
    for col in (step, target):
        if col not in df.columns:
            raise ValueError(f"forecast: the partial curve has no column {col!r}; columns: {', '.join(map(str, df.columns))}")
    if "split" in df.columns and df["split"].nunique() > 1:
        if split is None:
            split = "val" if "val" in set(df["split"]) else None
        if split is None:
            raise ValueError(f"forecast: the curve has splits {sorted(df['split'].unique())}; choose one with split=")
        df = df[df["split"] == split]
    elif split is not None and "split" in df.columns:
        df = df[df["split"] == split]
    if "run" in df.columns and df["run"].nunique() > 1:
        raise ValueError(f"forecast: the partial curve holds {df['run'].nunique()} runs; pass one run's rows")
    df = df[[step, target]]
    missing = df.isna().any(axis=1)
    if missing.any():
        # the trainer logs a diverged loss as null: dropping those rows quietly would forecast
        # the final loss of a run that has already failed from the points before it failed
        where = [f"step {s:g}" if s == s else f"row {i}" for i, s in zip(df.index[missing], df[step][missing])]
        shown = ", ".join(where[:5]) + (f" and {len(where) - 5} more" if len(where) > 5 else "")
        raise ValueError(f"forecast: {int(missing.sum())} row(s) of the partial curve have no {target!r} or "
                         f"{step!r} (NaN/null): {shown}; a diverged run cannot be forecast, drop those rows "
                         "to forecast from the rest")
    df = df[df[step] >= 1].sort_values(step)
    if len(df) < 3:
        raise ValueError(f"forecast: need at least 3 logged points at step >= 1, got {len(df)}")
    return pd.DataFrame({"run": _RUN, "step": df[step].to_numpy(np.int64), "loss": df[target].to_numpy(float)}), split


def _run_name(partial):
    """The partial curve's run name, if it has a ``run`` column with one value."""
    if isinstance(partial, pd.DataFrame) and "run" in partial.columns:
        names = pd.unique(partial["run"].dropna().astype(str))
        if len(names) == 1:
            return names[0]
    return None


def _area_beyond(lr, other, sched):
    """A note when the forecast run's planned LR area (the sum of its per-step LR) exceeds every
    finished run's logged one: its end lies beyond the LR area the using= runs cover, and
    :func:`_using_calibration`'s backtests (each a finished run inside that range) did not
    measure such an extrapolation. None otherwise (or when an area cannot be computed)."""
    try:
        last = other.groupby("run")["step"].max()
        areas = {r: float(np.sum(_as_schedule(sched[str(r)], str(r))[:int(n)])) for r, n in last.items()}
    except (KeyError, ValueError, TypeError):
        return None
    top = max(areas.values(), default=0.0)
    mine = float(np.sum(lr))
    if top <= 0 or mine <= top * 1.01:  # 1%: a rounding of the same budget is not beyond it
        return None
    return (f"this run's planned LR area (sum of its LR over steps, {mine:.4g}) is {mine / top:.2f}x the largest "
            f"of the finished runs' ({top:.4g}): its end is an extrapolation in LR area that the finished runs' "
            "backtests did not make, so the interval may be too narrow there; finish a run that goes as far "
            "to borrow from")


def _decayed(lr, cut, warmup):
    """Has the LR fallen anywhere in steps warmup+1..cut?"""
    seg = np.asarray(lr[max(int(warmup), 0):int(cut)], dtype=float)
    return seg.size > 1 and bool(np.any(np.diff(seg) < -1e-12 * max(seg.max(), 1e-300)))


# A decay counts as identified from the run alone only once this share of the LR's whole fall
# (peak after warm-up to the schedule's lowest LR) has happened by the cut. Chosen a priori, not
# on scored forecasts: a decay strength fitted from the first tenth of a fall is extrapolated ten
# times over, and one seen run could put it anywhere (data/cpu_schedules' wsdcos cut at 75%, 7%
# of its cosine fall seen, forecast 1.00 for a run that ended at 4.04).
MIN_SEEN_DECAY = 0.25


def _decay_seen(lr, cut, warmup):
    """Share of the LR's fall (from its peak, after any warm-up ramp, to the lowest LR after it) that
    has happened by step ``cut``: 0 before any decay, 1 once the LR is at its floor. Measured from
    the peak, not from ``warmup``, so a ramp counted in the law's own convention (multi_power's
    ``warmup_steps=0``) is not taken for a fall."""
    lr = np.asarray(lr, dtype=float)
    start = max(int(warmup), 0)
    if lr.size - start < 2:
        return 1.0
    top = start + int(np.argmax(lr[start:]))
    peak, floor = float(lr[top]), float(lr[top:].min())
    if peak - floor <= 1e-12 * max(peak, 1e-300):
        return 1.0
    seen = lr[top:int(cut)]
    return float((peak - seen.min()) / (peak - floor)) if seen.size else 0.0


def _masked_refits(fit, masks):
    """Refits of ``fit`` on the rows each boolean mask keeps, all at once: the batched
    Levenberg-Marquardt engine warm-started at ``fit``'s parameters (one member per mask; the
    same refits :mod:`scalelaw.calibration` makes for its folds). Returns the solver's result
    and the predictions of every refit at every fitted row (one row per mask)."""
    from scalelaw.fitting.search import make_pred_fn
    from scalelaw.fitting.solver import batched_lm

    X, y, w = fit._features()
    spec = fit.spec
    pred_fn = make_pred_fn(fit.law, X, fit.info, spec)
    theta = spec.to_theta({k: np.array([v]) for k, v in fit.params.items()})
    lo, hi = spec.theta_bounds()
    M = np.stack(masks).astype(float)
    with np.errstate(all="ignore"):
        res = batched_lm(pred_fn, np.repeat(theta, len(M), axis=0), y, w[None, :] * M, fit.loss, fit.delta, lo, hi)
        P = np.asarray(pred_fn(res.theta), dtype=float)
    return res, P


def _horizon_error_model(errors, fractions, names, fit):
    """:func:`scalelaw.calibration.fit_error_model` of forecast backtests against the horizon
    fraction u (one fold per entry of ``errors``; sigma(u)^2 = s0^2 + (c u)^2), its floor never
    below ``fit``'s own residual scale: the interval model of ``prior=`` and ``using=`` forecasts."""
    from scalelaw.calibration import fit_error_model, fit_residual_scale

    _, y, _ = fit._features()
    return fit_error_model(np.concatenate(errors), np.concatenate(fractions),
                           np.concatenate([np.full(len(e), k) for k, e in enumerate(errors)]),
                           noise_floor=fit_residual_scale(fit, y), coords=["horizon fraction"], lo=[0.0],
                           hi=[0.0], fold_names=list(names))


def _prior_loro(prior):
    """Leave-one-run-out refits of ``prior``: {run: (prediction at every fitted row, L0)}.

    Each refit is the batched Levenberg-Marquardt engine warm-started at the prior (the same
    refits :mod:`scalelaw.calibration` makes for its leave-one-run-out folds); fewer than 3 runs
    give none. Cached per prior object."""
    try:
        return _LORO[prior]
    except (KeyError, TypeError):
        pass
    runs = prior.table["run"].astype(str).to_numpy() if "run" in prior.table.columns else np.array([])
    names = list(pd.unique(runs))
    out = {}
    if len(names) >= 3 and "L0" in prior.spec.free:
        res, P = _masked_refits(prior, [runs != r for r in names])
        for k, r in enumerate(names):
            if np.isfinite(res.objective[k]) and np.all(np.isfinite(P[k])):
                out[r] = (P[k].copy(), prior.spec.values(res.theta[k])["L0"])
    try:
        _LORO[prior] = out
    except TypeError:
        pass
    return out


def _fit_level(shape, y, loss, delta):
    """The level L0 minimising the fit's objective for ``L0 + shape`` against ``y`` (every other
    parameter held): what ``forecast(prior=...)`` fits on a partial curve, in one dimension."""
    from scipy.optimize import minimize_scalar

    from scalelaw.fitting.objective import objective

    start = float(np.median(y - shape))
    span = max(abs(start), float(np.max(y)))
    a = max(start - span, -float(np.min(shape)) + 1e-9 * span)
    res = minimize_scalar(lambda L0: float(objective(L0 + shape, y, np.ones_like(y), loss, delta)),
                          bounds=(a, start + span), method="bounded", options={"xatol": 1e-10 * span})
    return float(res.x)


def _prior_calibration(prior, frac, fit):
    """The error model of a forecast with ``prior=``: forecast backtests inside the prior's runs.

    For each run j the prior was fitted on: refit the prior without j (:func:`_prior_loro`), cut
    j at the same fraction ``frac`` of its logged steps as the forecast's cut, fit j's level L0 on
    the part before the cut (every other parameter from the refit, as the forecast does) and
    predict j's rest. Its log errors, each at its horizon fraction u = (step - cut) / (end - cut)
    (0 at the cut, 1 at the run's last step), are one fold of
    :func:`scalelaw.calibration.fit_error_model` (sigma(u)^2 = s0^2 + (c u)^2; the floor never
    below the forecast fit's own residual scale). The errors carry what a prior forecast can get
    wrong: the prior's error for a schedule it did not see, its parameters' own uncertainty (each
    fold's prior differs) and the level set from a partial curve. Returns None with fewer than 3
    usable runs (the forecast then calibrates inside the partial curve, as without a prior).
    """
    loro = _prior_loro(prior)
    if len(loro) < 3:
        return None
    _, y, _ = prior._features()
    table = prior.table.reset_index(drop=True)
    runs = table["run"].astype(str).to_numpy()
    steps = table[prior.inputs.get("step", "step")].to_numpy(dtype=float)
    errors, dists, names = [], [], []
    for r, (pred, L0) in loro.items():
        idx = np.flatnonzero(runs == r)
        st = steps[idx]
        end = st.max()
        cut = frac * end
        part, rest = idx[st <= cut], idx[st > cut]
        if len(part) < 3 or len(rest) == 0:
            continue
        shape = pred - L0
        level = _fit_level(shape[part], y[part], prior.loss, prior.delta)
        with np.errstate(all="ignore"):
            e = np.log(y[rest]) - np.log(level + shape[rest])
        if not np.all(np.isfinite(e)):
            continue
        errors.append(e)
        dists.append((steps[rest] - cut) / (end - cut))
        names.append(f"forecast run {r} from {frac:.0%} of it, the prior refitted without it")
    if len(errors) < 3:
        return None
    return _horizon_error_model(errors, dists, names, fit)


def _using_backtests(fit, frac):
    """The forecast backtests inside ``using=``'s finished runs: {run: (log errors, horizon fractions)}.

    ``fit`` is the forecast's own joint fit (the finished runs and the partial curve, one
    parameter set). For each finished run j: refit on every row but j's after the same fraction
    ``frac`` of its logged steps as the forecast's cut (the other runs whole, the partial curve,
    j's first part), warm-started at ``fit`` (one batched Levenberg-Marquardt member per run),
    and predict j's rest: the forecast itself, made for a run whose end is known. Errors are
    log(observed) - log(predicted) at u = (step - cut) / (end - cut). Runs with fewer than 3
    logged points before their cut, or whose refit fails, give none."""
    _, y, _ = fit._features()
    table = fit.table.reset_index(drop=True)
    runs = table["run"].astype(str).to_numpy()
    steps = table[fit.inputs.get("step", "step")].to_numpy(dtype=float)
    masks, rests, us, names = [], [], [], []
    for r in pd.unique(runs):
        if r == _RUN:
            continue
        idx = np.flatnonzero(runs == r)
        end = steps[idx].max()
        cut = frac * end
        rest = idx[steps[idx] > cut]
        if np.count_nonzero(steps[idx] <= cut) < 3 or len(rest) == 0:
            continue
        m = np.ones(len(y), dtype=bool)
        m[rest] = False
        masks.append(m)
        rests.append(rest)
        us.append((steps[rest] - cut) / (end - cut))
        names.append(r)
    if not masks:
        return {}
    res, P = _masked_refits(fit, masks)
    out = {}
    for k, rest in enumerate(rests):
        with np.errstate(all="ignore"):
            e = np.log(y[rest]) - np.log(P[k, rest])
        if np.isfinite(res.objective[k]) and np.all(np.isfinite(e)):
            out[names[k]] = (e, us[k])
    return out


def _using_calibration(fit, frac):
    """The error model of a forecast with ``using=``: the forecast backtests of
    :func:`_using_backtests`, one fold per finished run, modelled by
    :func:`scalelaw.calibration.fit_error_model` against the horizon fraction as with ``prior=``
    (:func:`_prior_calibration`). None with fewer than 3 usable runs (the library's calibration
    is used then)."""
    folds = _using_backtests(fit, frac)
    if len(folds) < 3:
        return None
    return _horizon_error_model([e for e, _ in folds.values()], [u for _, u in folds.values()],
                                [f"forecast run {r} from {frac:.0%} of it, with the other runs" for r in folds], fit)


def forecast(partial, schedule, law="lr_annealing", *, prior=None, using=None, schedules=None,
             warmup_steps=0, step="step", target="loss", split=None, level=0.9, n_boot=200,
             interval="calibrated", seed=0):
    """Forecast the rest of one run from its first part. Returns a dict:

    ``final_loss`` (predicted loss at the schedule's last step), ``interval`` ((lower, upper) at
    ``level``), ``steps``/``loss``/``lower``/``upper`` (every step after the cut), ``cut_step``,
    ``n_steps``, ``decay_identified`` (the logged part saw the LR fall, or strength was borrowed),
    ``warnings``, ``fit`` (the FitResult used) and, with ``prior=`` and a calibrated interval,
    ``calibration`` (the error model from the prior's forecast backtests; see the module docstring).
    """
    import scalelaw as sl

    if interval not in ("parameter", "calibrated"):
        raise ValueError(f"interval must be 'parameter' or 'calibrated', got {interval!r}")
    lr = _as_schedule(schedule, "schedule")
    curve, split = _one_curve(partial, step, target, split)
    if prior is not None:
        if isinstance(prior, dict) and hasattr(prior, "by"):  # a GroupedFit: its attribute error was a traceback
            raise ValueError(f"prior is a grouped fit (one fit per {prior.by!r}: {list(prior)}): give one group's "
                             f"fit, e.g. prior=grouped[{next(iter(prior), None)!r}] (CLI: a fit saved without --by)")
        if not hasattr(prior, "law") or not hasattr(prior, "params"):
            raise TypeError(f"prior must be a FitResult of a schedule law (sl.fit or sl.load_fit), got "
                            f"{type(prior).__name__}")
        law = prior.law.name
    if law not in _DECAY_PARAM:
        raise ValueError(f"forecast needs a schedule law ({', '.join(_DECAY_PARAM)}), got {law!r}")
    cut = int(curve["step"].max())
    if cut > len(lr):
        raise ValueError(f"forecast: the curve reaches step {cut} but the schedule has only {len(lr)} steps")
    notes = []
    if cut >= len(lr):
        notes.append("the curve already reaches the schedule's last step: nothing to forecast beyond it")
    decay = _DECAY_PARAM[law]
    identified = _decayed(lr, cut, warmup_steps)
    # no decay seen and none ahead (a constant run): the decay term is switched off, nothing is lost
    ahead = _decayed(lr, len(lr), max(cut - 1, int(warmup_steps)))
    fixed = {}
    data, sched = curve, {_RUN: lr}
    warm = warmup_steps
    if prior is not None:
        if not getattr(prior.law, "schedule_law", False):
            raise ValueError(f"prior must be a fitted schedule law, got {prior.law.name!r}")
        fixed = {k: v for k, v in prior.params.items() if k != "L0"}
        warm = prior.options.get("warmup_steps", warmup_steps) if law == "multi_power" else warmup_steps
        if isinstance(warm, dict):
            warm = warmup_steps
        identified = True
    elif using is not None:
        for col in ("run", step, target):
            if col not in using.columns:
                raise ValueError(f"forecast(using=...): the finished curves have no column {col!r}; columns: "
                                 f"{', '.join(map(str, using.columns))}")
        if schedules is None and "schedule" in using.columns:
            # our trainer logs each run's schedule string: read it as fit() would
            schedules = {str(r): s for r, s in using.dropna(subset=["schedule"]).groupby("run")["schedule"].first().items()}
        if schedules is None:
            raise ValueError("forecast(using=...) needs schedules={run: schedule} for the finished curves "
                             "(or a 'schedule' column in them)")
        other = using[using["split"] == split] if (split is not None and "split" in using.columns) else using
        other = other[["run", step, target]].rename(columns={step: "step", target: "loss"})
        own = _run_name(partial)
        if own is not None and own in set(other["run"].astype(str)):
            # the run being forecast is not a finished run: its own end would leak into the fit
            other = other[other["run"].astype(str) != own]
            notes.append(f"using= held the run being forecast ({own!r}); its rows there were left out (a forecast "
                         "borrows from the other runs only)")
        data = pd.concat([other, curve], ignore_index=True)
        sched = {**{str(k): v for k, v in schedules.items()}, _RUN: lr}
        data["run"] = data["run"].astype(str)
        identified = True
        beyond = _area_beyond(lr, other, sched)
        if beyond is not None:
            notes.append(beyond)
    seen = _decay_seen(lr, cut, warmup_steps)
    weak = prior is None and using is None and identified and ahead and seen < MIN_SEEN_DECAY
    if weak:
        identified = False
        notes.append(f"only {seen:.0%} of the LR's fall had happened by step {cut}: too little of the decay to "
                     f"tell from this run how much the rest will lower the loss ({law}'s {decay} is weakly "
                     f"identified; below {MIN_SEEN_DECAY:.0%} it is held at ~0 rather than extrapolated, which "
                     "can put the forecast anywhere). Pass prior= or using= to borrow it.")
    if not identified:
        fixed[decay] = _OFF  # log-scaled parameters must stay > 0; this switches the term off
        if law == "multi_power":
            fixed["C"] = 1.0  # with B off, C has nothing to fit
    if prior is None and using is None and ahead and cut < len(lr):
        # measured, not assumed: see the module docstring (examples/forecast_runs.py)
        notes.append("forecast from this run alone: how much the LR decay still to come will lower the loss is "
                     "extrapolated from the logged part only, and the interval cannot see that error (on Luo et "
                     "al.'s published curves, 90% intervals of forecasts made alone covered 50-100% of the cuts "
                     "that had seen a quarter of the LR's fall: 50-100% from a quarter or half of a run, 71-100% "
                     "from three quarters; and 0-14% of those that had not; with finished runs borrowed as "
                     "prior=, 78-89%). Pass prior= (a fit of finished runs) or using= (their curves) for a "
                     "forecast you can size compute on.")
    if not identified and not ahead:
        identified = True  # nothing to identify: the LR never falls
    elif not identified and not weak:
        notes.append(f"the LR has not decayed by step {cut}: this part of the run cannot tell how much a decay "
                     f"will lower the loss ({law}'s {decay} is unidentified); {decay} is held at ~0, so the "
                     "forecast continues the run as if the LR stayed put and overstates the loss after a "
                     "decay (on Luo et al.'s published curves such forecasts were 1.5-5.5% too high and their 90% "
                     "interval covered 0-14% of the cuts). Pass prior= (a fit of finished runs) or using= (their "
                     "curves) to borrow it.")
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")
        fit = sl.fit(law, data, inputs={"step": "step"}, target="loss", schedules=sched, warmup_steps=warm,
                     fixed=fixed or None, seed=seed)
    steps = np.arange(cut + 1, len(lr) + 1) if cut < len(lr) else np.array([len(lr)])
    pred = fit.predict(schedule=lr, warmup_steps=warm, steps=steps)
    out = {"law": law, "cut_step": cut, "n_steps": len(lr), "steps": steps, "loss": pred,
           "final_loss": float(pred[-1]), "decay_identified": identified, "level": level, "split": split,
           "interval": None, "lower": None, "upper": None, "warnings": notes + [w for w in fit.warnings
                                 # with a prior only L0 is fitted: one schedule is all it needs
                                 if not (prior is not None and w.startswith("only one schedule"))], "fit": fit}
    if n_boot:
        n_free = len(fit.spec.free)
        if n_free == 0:
            return out
        with _warnings.catch_warnings():
            _warnings.simplefilter("ignore")
            cal = None
            if prior is not None and interval == "calibrated" and cut < len(lr):
                cal = _prior_calibration(prior, cut / len(lr), fit)
            elif using is not None and interval == "calibrated" and cut < len(lr):
                cal = _using_calibration(fit, cut / len(lr))
            fit.bootstrap(n_boot, seed=seed, calibrate=(interval == "calibrated" and cal is None))
            if cal is None:
                lo, hi = fit.predict_interval(schedule=lr, warmup_steps=warm, steps=steps, level=level, kind=interval)
            else:  # the forecast backtests inside the prior's or using='s runs, at each step's horizon fraction
                lo, hi = fit.predict_interval(schedule=lr, warmup_steps=warm, steps=steps, level=level,
                                              kind="parameter")
                lo, hi = cal.interval(pred, (steps - cut) / (len(lr) - cut), level, lo, hi)
                out["calibration"] = cal
        out.update(lower=lo, upper=hi, interval=(float(lo[-1]), float(hi[-1])))
    return out
