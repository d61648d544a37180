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


def optimal_schedule(fit, n_steps, peak, *, warmup=0, floor=0.0, family="wsd", level=0.9, n_knots=48):
    """The schedule of a family that the fitted law predicts to end lowest after ``n_steps``.

    Returns a dict: ``schedule`` (per-step LR, steps 1..n_steps), ``spec`` (its string form; None
    for ``free``), ``family``, ``choice`` (the family's chosen parameters), ``loss`` (predicted
    final loss), ``cosine_loss`` (cosine from ``peak`` to ``floor`` with the same warm-up and
    budget), ``gain`` (cosine_loss - loss), and with bootstrap draws on the fit the paired
    intervals ``loss_interval``, ``cosine_interval``, ``gain_interval`` at ``level`` (else None,
    with a note).
    """
    _check(fit, n_steps, peak, warmup, floor, family)
    n_steps, warmup = int(n_steps), int(warmup)
    if family == "cosine":
        lr, spec, choice = _best_cosine(fit, n_steps, peak, warmup, floor)
    else:
        lr, spec, choice = _best_wsd(fit, n_steps, peak, warmup, floor)
        if family == "free":
            lr, spec, choice = _best_free(fit, n_steps, peak, warmup, floor, n_knots, lr)
    cos = S.cosine(n_steps, peak, floor, warmup=warmup)
    both = _final(fit, np.stack([lr, cos]), warmup)[0]
    out = {"family": family, "schedule": lr, "law_warmup_steps": _law_warmup(fit, warmup), "spec": spec, "choice": choice, "n_steps": n_steps, "peak": peak,
           "warmup": warmup, "floor": floor, "loss": float(both[0]), "cosine_loss": float(both[1]),
           "gain": float(both[1] - both[0]), "cosine_spec": S.to_spec("cosine", n_steps=n_steps, peak=peak,
                                                                      floor=floor, warmup=warmup),
           "loss_interval": None, "cosine_interval": None, "gain_interval": None, "level": level, "notes": []}
    P = _draw_params(fit)
    if P is None:
        out["notes"].append("no bootstrap draws on the fit: call fit.bootstrap(n) first for intervals")
        return out
    draws = _final(fit, np.stack([lr, cos]), warmup, P)
    a = (1 - level) / 2
    q = lambda v: [float(np.quantile(v, a)), float(np.quantile(v, 1 - a))]  # noqa: E731
    out["loss_interval"] = q(draws[:, 0])
    out["cosine_interval"] = q(draws[:, 1])
    out["gain_interval"] = q(draws[:, 1] - draws[:, 0])
    out["n_draws"] = int(draws.shape[0])
    out["notes"].append(f"paired {level:.0%} bootstrap intervals over {draws.shape[0]} parameter draws "
                        "(parameter noise only; the law's own error across schedules is not in them)")
    return out
