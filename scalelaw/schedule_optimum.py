"""The learning-rate schedule that a fitted schedule law (``lr_annealing``, ``multi_power``)
predicts to end lowest at a step budget: ``fit.optimal_schedule(n_steps, peak, ...)``.

Families (all with the same linear warm-up from 0 to ``peak`` over ``warmup`` steps):

- ``"wsd"``: warmup-stable-decay; the decay fraction (0..1 of the steps) and the decay shape
  (linear, cosine, exp) are searched; the decay ends at ``floor``.
- ``"cosine"``: half-cosine from ``peak``; its end LR is searched in [floor, peak].
- ``"free"``: any non-increasing schedule after warm-up that stays >= ``floor`` (Luo et al. 2025
  optimise this form, their figure of the optimal schedule): a piecewise-linear schedule on
  ``n_knots`` knots, each knot's LR ``floor + (previous - floor) * q`` with q in [0, 1], so the
  box-bounded L-BFGS-B keeps it non-increasing. Started from the best WSD schedule.

The objective is the law's loss at the last step, evaluated exactly (O(T) per schedule) for many
schedules at once. With bootstrap draws on the fit, the same draws give the loss of the optimum
and of cosine, so the gain (cosine minus optimum) has its own *paired* interval: most parameter
noise moves both losses together and cancels in the gain.

Prediction intervals: what a user will *measure*
-------------------------------------------------
The parameter band answers "how much would the predicted losses move if the fitted data were
resampled?". A user who trains the optimised schedule and cosine measures two new runs, and each
lands off the law's curve by (a) its own run-to-run (seed) noise, which moves a whole curve and
its final loss, and (b) the law's own error for that schedule (no schedule law is exact across
schedules). Neither is in the parameter band; on the CPU check of ``data/cpu_schedule_optimum``
the d4-64 cosine seeds alone differ by 0.29 nats, six times the band's width.

So by default (``interval="prediction"``) the intervals are prediction intervals for measured
final losses, with the run-level error estimated *inside the fitted data*:

1. **Leave one schedule out.** The fitted runs are grouped by schedule (runs with the same
   per-step LR and warm-up are seeds of one schedule and leave together, so a seed twin cannot
   stand in for the schedule). For each group the law is refitted on the other groups (the
   warm-started batched engine of :mod:`scalelaw.calibration`, with ``FOLD_BOOTSTRAP`` bootstrap
   refits of the fold for its parameter spread p) and predicts the held-out runs' last fitted
   points. Each gives a per-run final-loss error e = log(observed) - log(predicted): that run's
   seed deviation plus the law's error for a schedule it did not see, plus the fold's parameter
   noise.
2. **Error scale.** :func:`scalelaw.calibration.fit_error_model` fits e^2 ~ p^2 + s^2 (each
   group weighted equally; s never below the full fit's residual scale), so s keeps only what the
   full fit's own parameter band does not carry. The multiplier q is the library's: Student-t on
   F - 1 degrees of freedom for F groups (the conformal rule from 10 groups); with fewer than 3
   groups nothing can be estimated and the library's conservative fallback (2 x the residual
   scale, t on 2 degrees of freedom) is used, with a note.
3. **One new run.** ``loss_interval`` and ``cosine_interval``: the parameter band and the
   half-width q*s combined per side in quadrature in log space
   (:meth:`scalelaw.calibration.Calibration.interval`): never narrower than the parameter band.
4. **The gain of two new runs.** The two runs' errors are independent (different schedules, and
   a user's runs are separate trainings), so the gain's run-level sd is
   s*sqrt(L_cos^2 + L_opt^2) ~ sqrt(2)*s*L (log errors times the losses). Its half-width
   q*s*sqrt(L_cos^2 + L_opt^2) is combined per side in quadrature with the paired parameter
   band, so ``gain_interval`` contains ``gain_parameter_interval`` and widens with s.

``run_error=`` overrides step 1-2 with a known per-run log-loss sd (e.g. from a user's own seed
repeats; 0 gives the parameter band); the multiplier is then the normal quantile. The
intervals are for one run of each schedule; a mean over several seeds of each would scatter less
(only its seed part; the backtests cannot split it from the law's error), so for such a mean they
are conservative. ``interval="parameter"`` returns the parameter bands alone (no refits).

Caveats, said in the notes: the backtests see only as much seed noise as the fitted runs carry.
Runs trained with one seed (the same initialisation and data order, as in
``data/cpu_schedules``) share much of their noise, and then the held-out run's deviation
understates the spread between seeds, so the interval is too narrow for runs with other seeds.
With few schedules (3 groups: 2 degrees of freedom) the scale itself is uncertain, which the
Student-t multiplier (2.92 at 90%) carries.
"""

from __future__ import annotations

import numpy as np

from scalelaw import schedules as S

FAMILIES = ("wsd", "cosine", "free")
_SHAPES = ("linear", "cosine", "exp")


def _check(fit, n_steps, peak, warmup, floor, family):
    if not getattr(fit.law, "schedule_law", False):
        raise ValueError(f"optimal_schedule needs a schedule law (lr_annealing, multi_power), got {fit.law.name!r}")
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {', '.join(FAMILIES)}; got {family!r}")
    if int(n_steps) != n_steps or n_steps < 2:
        raise ValueError(f"n_steps must be an integer >= 2, got {n_steps!r}")
    if not (np.isfinite(peak) and peak > 0):
        raise ValueError(f"peak must be a learning rate > 0, got {peak!r}")
    if not (0 <= floor <= peak):
        raise ValueError(f"floor must lie in [0, peak={peak:g}], got {floor!r}")
    if int(warmup) != warmup or not 0 <= warmup < n_steps:
        raise ValueError(f"warmup must be an integer in [0, n_steps), got {warmup!r}")


def _law_warmup(fit, warmup):
    """The law's ``warmup_steps`` for a new schedule with ``warmup`` warm-up steps.

    lr_annealing: the warm-up steps (counted at the peak LR). multi_power: the steps left out of
    the loss-drop sum, so a fit made with ``warmup_steps=0`` (the authors' code: the ramp's
    increases are in the sum) predicts with 0 too, and a fit that left its warm-ups out leaves
    the new warm-up out.
    """
    if fit.law.name != "multi_power":
        return warmup
    w = fit.options.get("warmup_steps", 0)
    used = any(int(v) > 0 for v in w.values()) if isinstance(w, dict) else int(w or 0) > 0
    return warmup if used else 0


def _final(fit, lrs, warmup, P=None):
    """(K, M) final losses of schedules ``lrs`` (warm-up ``warmup`` steps) under parameter sets P."""
    return fit.law.final_loss(np.atleast_2d(lrs), fit.params if P is None else P, _law_warmup(fit, warmup))


def _draw_params(fit):
    if fit.draws is None:
        return None
    d = fit.draws.dropna()
    if len(d) < 2:
        return None
    return {n: d[n].to_numpy()[:, None] for n in fit.law.param_names}


def _wsd(n_steps, peak, warmup, floor, frac, shape):
    return S.wsd(n_steps, peak, floor, warmup=warmup, decay_frac=float(frac), shape=shape)


def _best_wsd(fit, n_steps, peak, warmup, floor):
    shapes = [s for s in _SHAPES if s != "exp" or floor > 0]
    lo = 1.0 / n_steps
    hi = (n_steps - warmup) / n_steps
    fracs = np.unique(np.clip(np.r_[np.linspace(0.02, 1.0, 50), lo, hi], lo, hi))
    best = (np.inf, None, None)
    for shape in shapes:
        lrs = np.stack([_wsd(n_steps, peak, warmup, floor, f, shape) for f in fracs])
        L = _final(fit, lrs, warmup)[0]
        i = int(np.argmin(L))
        # refine between the neighbours of the best grid point (golden section on the fraction)
        a, b = fracs[max(i - 1, 0)], fracs[min(i + 1, len(fracs) - 1)]
        f_best, l_best = fracs[i], L[i]
        for _ in range(30):
            c1, c2 = b - 0.618 * (b - a), a + 0.618 * (b - a)
            l1, l2 = _final(fit, np.stack([_wsd(n_steps, peak, warmup, floor, c, shape) for c in (c1, c2)]), warmup)[0]
            if l1 < l2:
                b = c2
                if l1 < l_best:
                    f_best, l_best = c1, l1
            else:
                a = c1
                if l2 < l_best:
                    f_best, l_best = c2, l2
            if b - a < 1e-4:
                break
        if l_best < best[0]:
            best = (l_best, round(float(f_best), 4), shape)
    _, frac, shape = best
    lr = _wsd(n_steps, peak, warmup, floor, frac, shape)
    spec = S.to_spec("wsd", n_steps=int(n_steps), peak=peak, floor=floor, warmup=int(warmup), decay_frac=frac,
                     shape=shape)
    return lr, spec, {"decay_frac": frac, "shape": shape}


def _best_cosine(fit, n_steps, peak, warmup, floor):
    ends = np.unique(np.r_[floor, np.geomspace(max(floor, peak * 1e-3), peak, 60)])
    L = _final(fit, np.stack([S.cosine(n_steps, peak, e, warmup=warmup) for e in ends]), warmup)[0]
    i = int(np.argmin(L))
    a, b = ends[max(i - 1, 0)], ends[min(i + 1, len(ends) - 1)]
    grid = np.linspace(a, b, 41)
    L2 = _final(fit, np.stack([S.cosine(n_steps, peak, e, warmup=warmup) for e in grid]), warmup)[0]
    end = float(f"{grid[int(np.argmin(L2))]:.6g}")
    spec = S.to_spec("cosine", n_steps=int(n_steps), peak=peak, floor=end, warmup=int(warmup))
    return S.cosine(n_steps, peak, end, warmup=warmup), spec, {"floor": end}


def _knot_schedule(q, n_steps, peak, warmup, floor, knots):
    """Per-step LR from knot ratios q (n_knots,) or (B, n_knots): non-increasing after warm-up."""
    q = np.atleast_2d(q)
    levels = np.empty((q.shape[0], q.shape[1] + 1))
    levels[:, 0] = peak
    for j in range(q.shape[1]):
        levels[:, j + 1] = floor + (levels[:, j] - floor) * q[:, j]
    post = np.arange(warmup + 1, n_steps + 1)
    body = np.stack([np.interp(post, knots, lv) for lv in levels])
    head = np.broadcast_to(S.constant(n_steps, peak, warmup=warmup)[:warmup], (q.shape[0], warmup))
    return np.concatenate([head, body], axis=1)


def _q_from_schedule(lr, knots, peak, floor):
    levels = np.interp(knots, np.arange(1, len(lr) + 1), lr)
    levels[0] = peak
    q = np.ones(len(knots) - 1)
    for j in range(1, len(knots)):
        span = levels[j - 1] - floor
        q[j - 1] = 1.0 if span <= 0 else np.clip((levels[j] - floor) / span, 0.0, 1.0)
    return q


def _best_free(fit, n_steps, peak, warmup, floor, n_knots, start_lr):
    from scipy.optimize import minimize

    knots = np.linspace(warmup + 1, n_steps, n_knots + 1)
    q0 = _q_from_schedule(start_lr, knots, peak, floor)
    h = 1e-4

    def fun(q):
        # value and forward-difference gradient from one batched evaluation of n_knots + 1 schedules
        qq = np.repeat(q[None, :], len(q) + 1, axis=0)
        idx = np.arange(len(q))
        step = np.where(q + h > 1.0, -h, h)
        qq[idx + 1, idx] += step
        L = _final(fit, _knot_schedule(qq, n_steps, peak, warmup, floor, knots), warmup)[0]
        return float(L[0]), (L[1:] - L[0]) / step

    res = minimize(fun, q0, jac=True, method="L-BFGS-B", bounds=[(0.0, 1.0)] * len(q0),
                   options={"maxiter": 500, "ftol": 1e-13, "gtol": 1e-10})
    q = res.x if res.fun <= fun(q0)[0] else q0
    return _knot_schedule(q, n_steps, peak, warmup, floor, knots)[0], None, {"n_knots": int(n_knots),
                                                                              "knot_steps": knots.tolist()}


def _schedule_groups(fit, runs):
    """A group label per fitted run: runs with the same per-step LR and warm-up share one."""
    from scalelaw.laws.lr_annealing import _as_schedule

    resolved = fit.info.get("resolved_schedules", {})
    w = fit.options.get("warmup_steps", 0)
    keys, label = {}, {}
    for r in runs:
        if r not in resolved:
            label[r] = r
            continue
        lr = np.ascontiguousarray(_as_schedule(resolved[r], r), dtype=np.float64)
        warm = int(w.get(r, 0)) if isinstance(w, dict) else int(w or 0)
        key = (lr.tobytes(), warm)
        label[r] = keys.setdefault(key, r)
    return label


def run_level_error(fit, n_boot=None):
    """The law's per-run final-loss error across schedules, from leave-one-schedule-out backtests
    inside the fitted runs (module docstring, steps 1-2).

    Returns a dict: ``scale`` (s, the per-run sd of log final loss beyond the parameter band),
    ``calibration`` (the :class:`~scalelaw.calibration.Calibration`, distances all 0; its
    ``multiplier(level)`` is q), ``errors`` (per held-out run: log observed - log predicted at its
    last fitted step), ``n_groups`` and ``notes``.
    """
    from scalelaw.calibration import FOLD_BOOTSTRAP, _warm_fit_fn, coordinates, fit_error_model, fit_residual_scale

    n_boot = FOLD_BOOTSTRAP if n_boot is None else int(n_boot)
    X, y, w = fit._features()
    table = fit.table.reset_index(drop=True)
    step_col = fit.inputs.get("step", "step")
    notes = []
    errors, sds, folds, names, per_run = [], [], [], [], {}
    if "run" in table.columns:
        runs = table["run"].astype(str).to_numpy()
        label = _schedule_groups(fit, list(dict.fromkeys(runs)))
        groups = np.array([label[r] for r in runs])
        uniq = list(dict.fromkeys(groups))
        if len(uniq) >= 2:
            _, coords = coordinates(fit.law, X)
            fit_fn = _warm_fit_fn(fit, X, y, w, n_boot, coords)
            fit_fn.prepare([groups != g for g in uniq])
            steps = table[step_col].to_numpy(dtype=float)
            for gi, g in enumerate(uniq):
                test = groups == g
                last = [int(np.flatnonzero(test & (runs == r))[np.argmax(steps[test & (runs == r)])])
                        for r in dict.fromkeys(runs[test])]
                try:
                    predict = fit_fn(table.loc[~test])
                except ValueError:  # a fold the law cannot be fitted on: skip it (counted below)
                    continue
                out = predict(table.loc[last])
                pred, sd = out if isinstance(out, tuple) else (out, np.zeros(len(last)))
                with np.errstate(divide="ignore", invalid="ignore"):
                    e = np.log(y[last]) - np.log(np.asarray(pred, dtype=float))
                for k, i in enumerate(last):
                    per_run[str(runs[i])] = float(e[k])
                errors.append(e)
                sds.append(np.asarray(sd, dtype=float))
                folds.append(np.full(len(last), gi))
                names.append(f"leave schedule of {g} out")
            if len(names) < len(uniq):
                notes.append(f"{len(uniq) - len(names)} of {len(uniq)} leave-one-schedule-out refits could not "
                             "be fitted and were skipped")
    noise = fit_residual_scale(fit, y)
    e = np.concatenate(errors) if errors else np.array([])
    cal = fit_error_model(e, np.zeros(len(e)), np.concatenate(folds) if folds else np.array([]),
                          noise_floor=noise, param_sd=np.concatenate(sds) if sds else None, fold_names=names)
    if cal.method == "fallback":
        cal.warnings = []
        notes.append(f"run-level error: only {cal.n_folds} schedule(s) could be left out (3 are needed to "
                     "estimate it); using the conservative fallback, 2 x the fit's residual scale with a "
                     "Student-t multiplier on 2 degrees of freedom: not an estimate")
    return {"scale": float(cal.noise), "calibration": cal, "errors": per_run, "n_groups": int(cal.n_folds),
            "notes": notes}


def _gain_interval(gain, glo, ghi, h):
    """The paired parameter band [glo, ghi] around ``gain`` widened per side, in quadrature, by ``h``."""
    lo = gain - np.sqrt(max(gain - glo, 0.0) ** 2 + h ** 2)
    hi = gain + np.sqrt(max(ghi - gain, 0.0) ** 2 + h ** 2)
    return [float(min(lo, glo)), float(max(hi, ghi))]


def paired_intervals(fit, schedule, reference, *, warmup=0, level=0.9, interval="prediction", run_error=None):
    """Intervals for the final losses of ``schedule`` and ``reference`` (per-step LR arrays of one
    length, the same warm-up) and for the gain ``reference - schedule``, from the same bootstrap
    draws (paired), as :func:`optimal_schedule` reports them (module docstring).

    Returns ``loss_interval``, ``cosine_interval`` (the reference's), ``gain_interval``, the
    ``*_parameter_interval`` bands, ``run_error`` and ``notes``; all None with a note when the
    fit has no bootstrap draws.
    """
    out = {"loss_interval": None, "cosine_interval": None, "gain_interval": None, "loss_parameter_interval": None,
           "cosine_parameter_interval": None, "gain_parameter_interval": None, "run_error": None, "notes": []}
    P = _draw_params(fit)
    if P is None:
        out["notes"].append("no bootstrap draws on the fit: call fit.bootstrap(n) first for intervals")
        return out
    lrs = np.stack([np.asarray(schedule, dtype=float), np.asarray(reference, dtype=float)])
    pred = _final(fit, lrs, warmup)[0]
    draws = _final(fit, lrs, warmup, P)
    a = (1 - level) / 2
    q = lambda v: [float(np.quantile(v, a)), float(np.quantile(v, 1 - a))]  # noqa: E731
    par = {"loss": q(draws[:, 0]), "cosine": q(draws[:, 1]), "gain": q(draws[:, 1] - draws[:, 0])}
    for k, v in par.items():
        out[f"{k}_parameter_interval"] = v
    out["n_draws"] = int(draws.shape[0])
    if interval == "parameter":
        out["loss_interval"], out["cosine_interval"], out["gain_interval"] = par["loss"], par["cosine"], par["gain"]
        out["notes"].append(f"paired {level:.0%} bootstrap intervals over {draws.shape[0]} parameter draws "
                            "(parameter noise only: seed noise and the law's error across schedules are not in them)")
        return out
    if run_error is None:
        # the backtests depend on the fitted rows and parameters only: an app or service asking
        # again (another family, budget or level) reuses them
        key = (tuple(sorted(fit.params.items())), fit.n_points, fit.seed)
        cached = fit.__dict__.get("_run_level_error")
        if cached is None or cached[0] != key:
            cached = (key, run_level_error(fit))
            fit.__dict__["_run_level_error"] = cached
        err = cached[1]
        scale, mult = err["scale"], err["calibration"].multiplier(level)
        out["notes"] += err["notes"]
        out["run_error"] = {"scale": scale, "multiplier": mult, "source": "leave-one-schedule-out backtests",
                            "n_groups": err["n_groups"], "errors": err["errors"], "method": err["calibration"].method}
        how = (f"the run-level error s = {scale:.3g} (log loss) from {err['n_groups']} leave-one-schedule-out "
               f"backtests of the fitted runs, x {mult:.3g}")
    else:
        from scipy import stats

        scale, mult = float(run_error), float(stats.norm.ppf(0.5 + level / 2))
        out["run_error"] = {"scale": scale, "multiplier": mult, "source": "given", "n_groups": None, "errors": {},
                            "method": "normal"}
        how = f"the given run-level error {scale:.3g} (log loss), x {mult:.3g}"
    h = mult * scale
    for k, p in (("loss", pred[0]), ("cosine", pred[1])):
        lo, hi = par[k]
        # the library's combination: per side, in quadrature in log space, never inside the band
        lo = min(lo, p * np.exp(-np.sqrt(max(np.log(p / lo), 0.0) ** 2 + h ** 2)))
        hi = max(hi, p * np.exp(np.sqrt(max(np.log(hi / p), 0.0) ** 2 + h ** 2)))
        out[f"{k}_interval"] = [float(lo), float(hi)]
    out["gain_interval"] = _gain_interval(float(pred[1] - pred[0]), *par["gain"], h * np.hypot(pred[0], pred[1]))
    out["notes"].append(f"{level:.0%} prediction intervals for one new run of each schedule: the paired parameter "
                        f"band over {draws.shape[0]} draws widened by {how}; the gain's by sqrt(L_opt^2 + L_cos^2) "
                        "times that (two independent runs)")
    return out


def optimal_schedule(fit, n_steps, peak, *, warmup=0, floor=0.0, family="wsd", level=0.9, n_knots=48,
                     interval="prediction", run_error=None):
    """The schedule of a family that the fitted law predicts to end lowest after ``n_steps``.

    Returns a dict: ``schedule`` (per-step LR, steps 1..n_steps), ``spec`` (its string form; None
    for ``free``), ``family``, ``choice`` (the family's chosen parameters), ``loss`` (predicted
    final loss), ``cosine_loss`` (cosine from ``peak`` to ``floor`` with the same warm-up and
    budget), ``gain`` (cosine_loss - loss). With bootstrap draws on the fit, intervals at
    ``level``: ``loss_interval``, ``cosine_interval`` and ``gain_interval`` are prediction
    intervals for what one new run of each schedule will measure (``interval="prediction"``,
    the default: the paired parameter band widened by the run-level error of leave-one-schedule-out
    backtests, see the module docstring; ``run_error=`` a known per-run log-loss sd instead) or the
    parameter bands (``interval="parameter"``); ``*_parameter_interval`` always hold the parameter
    bands and ``run_error`` the run-level error used. Without draws the intervals are None, with
    a note.
    """
    _check(fit, n_steps, peak, warmup, floor, family)
    if interval not in ("prediction", "parameter"):
        raise ValueError(f"interval must be 'prediction' or 'parameter', got {interval!r}")
    if run_error is not None and not (np.isfinite(run_error) and run_error >= 0):
        raise ValueError(f"run_error must be a per-run sd of log final loss >= 0 (or None: estimate it), "
                         f"got {run_error!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    n_steps, warmup = int(n_steps), int(warmup)
    if family == "cosine":
        lr, spec, choice = _best_cosine(fit, n_steps, peak, warmup, floor)
    else:
        lr, spec, choice = _best_wsd(fit, n_steps, peak, warmup, floor)
        if family == "free":
            lr, spec, choice = _best_free(fit, n_steps, peak, warmup, floor, n_knots, lr)
    cos = S.cosine(n_steps, peak, floor, warmup=warmup)
    both = _final(fit, np.stack([lr, cos]), warmup)[0]
    out = {"family": family, "schedule": lr, "law_warmup_steps": _law_warmup(fit, warmup), "spec": spec,
           "choice": choice, "n_steps": n_steps, "peak": peak,
           "warmup": warmup, "floor": floor, "loss": float(both[0]), "cosine_loss": float(both[1]),
           "gain": float(both[1] - both[0]), "cosine_spec": S.to_spec("cosine", n_steps=n_steps, peak=peak,
                                                                      floor=floor, warmup=warmup),
           "level": level, "interval": interval}
    out.update(paired_intervals(fit, lr, cos, warmup=warmup, level=level, interval=interval, run_error=run_error))
    # a family member where the law falls below zero "ends" at the clip value, 1e-12, and wins the
    # search without a word: say so (the law holds nowhere near it)
    from scalelaw.laws.base import clipped_note

    note = clipped_note(fit.law, both, "optimal_schedule", lambda i: ("the chosen schedule's last step", "the cosine "
                                                                      "reference's last step")[i])
    if note:
        import warnings

        warnings.warn(note + "; the optimum found is not a prediction", UserWarning, stacklevel=2)
    return out
