"""Minimising the objective: vectorised multi-start search, batched Levenberg-Marquardt, scipy polish.

Local minima are the known failure of scaling-law fits (Hoffmann et al. ran a 4,500-start grid,
one L-BFGS-B each). We instead

1. evaluate the objective at every start at once (numpy broadcasting over a ``(K, n)`` array),
   starts = the law's grid plus data-driven seeds (variable projection) plus user starts;
2. polish the best few *together* with a batched Levenberg-Marquardt / IRLS iteration
   (one ``(K, p, p)`` solve per iteration, forward-difference Jacobians evaluated in one call);
3. finish the best distinct candidates with scipy's L-BFGS-B and report how many starts agreed.

The same batched iteration refits bootstrap resamples (integer weights per point) all at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from scalelaw.blas_threads import one_blas_thread

from .objective import irls_weight, objective, residuals, rho

PredFn = Callable[[np.ndarray], np.ndarray]  # (K, p) thetas -> (K, n) predictions

# Cap on K * n elements per vectorised evaluation (bounds memory at a few tens of MB).
_CHUNK_ELEMENTS = 2_000_000


def evaluate_starts(pred_fn: PredFn, thetas: np.ndarray, y, w, loss, delta) -> np.ndarray:
    """Objective at every start, in memory-bounded chunks."""
    K = len(thetas)
    n = max(len(y), 1)
    step = max(1, _CHUNK_ELEMENTS // n)
    out = np.empty(K)
    with np.errstate(all="ignore"):
        for i in range(0, K, step):
            out[i:i + step] = objective(pred_fn(thetas[i:i + step]), y, w, loss, delta)
    return out


def _clip(theta, lo, hi):
    return np.minimum(np.maximum(theta, lo), hi)


def _jacobian(pred_fn, theta, r, y, loss, lo, hi):
    """Forward-difference Jacobian of the residuals, all members and parameters in one call.

    Returns ``(K, p, n)`` (parameter axis first). Steps go backwards at an upper bound.
    """
    K, p = theta.shape
    h = 1e-7 * np.maximum(1.0, np.abs(theta))
    h = np.where(theta + h > hi, -h, h)
    pert = np.repeat(theta[:, None, :], p, axis=1)
    idx = np.arange(p)
    pert[:, idx, idx] += h
    rp = residuals(pred_fn(pert.reshape(K * p, p)), y, loss).reshape(K, p, -1)
    return (rp - r[:, None, :]) / h[:, :, None]


@dataclass
class LMResult:
    theta: np.ndarray      # (K, p)
    objective: np.ndarray  # (K,)
    n_iter: int
    converged: np.ndarray  # (K,) bool


def batched_lm(
    pred_fn: PredFn,
    theta0: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    loss: str,
    delta: float,
    lo: np.ndarray,
    hi: np.ndarray,
    *,
    max_iter: int = 200,
    ftol: float = 1e-13,
) -> LMResult:
    """Minimise ``sum w * rho(r(theta))`` for K problems at once (IRLS + Levenberg-Marquardt).

    ``w`` is ``(n,)`` (shared) or ``(K, n)`` (one weight vector per member: bootstrap resamples).
    Each member keeps its own damping; a step is taken only if it lowers that member's objective.
    """
    theta = _clip(np.array(theta0, dtype=float), lo, hi)
    # BLAS on one thread for the (K, p, n) @ (K, n, p) products and (K, p, p) solves (scalelaw.blas_threads);
    # callers outside a fit (the bootstrap's, calibration's and forecasting's refits) get it here
    with one_blas_thread(cells=len(y) * theta.shape[1]):
        return _batched_lm(pred_fn, theta, y, w, loss, delta, lo, hi, max_iter, ftol)


def _batched_lm(pred_fn, theta, y, w, loss, delta, lo, hi, max_iter, ftol) -> LMResult:
    K, p = theta.shape
    W = np.broadcast_to(w, (K, len(y)))
    with np.errstate(all="ignore"):
        r = residuals(pred_fn(theta), y, loss)
        f = np.sum(W * rho(r, loss, delta), axis=-1)
    f = np.where(np.isfinite(f), f, np.inf)
    mu = np.full(K, 1e-3)
    active = np.isfinite(f)
    converged = np.zeros(K, dtype=bool)
    J = np.zeros((K, p, len(y)))
    need_J = active.copy()
    it = 0
    for it in range(1, max_iter + 1):
        if not active.any() or p == 0:
            break
        with np.errstate(all="ignore"):
            if need_J.any():
                sel = np.flatnonzero(need_J)
                J[sel] = _jacobian(pred_fn, theta[sel], r[sel], y, loss, lo, hi)
            a = np.flatnonzero(active)
            Ja, ra = J[a], r[a]
            omega = W[a] * irls_weight(ra, loss, delta)
            JtW = Ja * omega[:, None, :]
            H = JtW @ np.swapaxes(Ja, 1, 2)
            g = np.einsum("kpn,kn->kp", JtW, ra)
            diag = np.maximum(np.einsum("kii->ki", H), 1e-12)
            A = H + (mu[a, None] * diag)[:, :, None] * np.eye(p)[None]
            bad = ~np.all(np.isfinite(A), axis=(1, 2)) | ~np.all(np.isfinite(g), axis=1)
            A[bad] = np.eye(p)
            g[bad] = 0.0
            try:
                step = -np.linalg.solve(A, g[:, :, None])[:, :, 0]
            except np.linalg.LinAlgError:
                step = -np.stack([np.linalg.lstsq(A[i], g[i], rcond=None)[0] for i in range(len(a))])
            trial = _clip(theta[a] + step, lo, hi)
            r_trial = residuals(pred_fn(trial), y, loss)
            f_trial = np.sum(W[a] * rho(r_trial, loss, delta), axis=-1)
        f_trial = np.where(np.isfinite(f_trial), f_trial, np.inf)
        better = f_trial < f[a]
        gain = np.where(better, f[a] - f_trial, 0.0)
        acc = a[better]
        theta[acc], r[acc] = trial[better], r_trial[better]
        f[acc] = f_trial[better]
        mu[acc] = np.maximum(mu[acc] * 0.2, 1e-12)
        rej = a[~better]
        mu[rej] *= 8.0
        need_J[:] = False
        need_J[acc] = True
        small_gain = better & (gain <= ftol * np.maximum(f[a], 1e-300))
        stuck = mu[a] > 1e10
        done = a[small_gain | stuck | bad]
        converged[a[small_gain | stuck]] = True
        active[done] = False
    return LMResult(theta, f, it, converged)


def _fun_on_distinct(distinct, y, w, loss, delta, hi):
    """Objective and gradient when the law is evaluated on distinct input rows (``pred_fn.distinct``).

    The Jacobian is taken on the m distinct rows and the per-row terms are summed into them with
    one ``bincount``: grad = J_u^T (sum over the rows i of u of w_i psi(r_i)), exact, so a pass
    over the n rows costs a gather and a few element-wise operations instead of p + 1 evaluations.
    """
    on_distinct, inv, m = distinct
    log_loss = not loss.endswith("_linear")
    target = np.log(y) if log_loss else y
    huber = loss.startswith("huber")
    w = None if np.all(w == 1) else w

    def fun(t):
        p = len(t)
        h = 1e-7 * np.maximum(1.0, np.abs(t))
        h = np.where(t + h > hi, -h, h)
        pert = np.repeat(t[None, :], p + 1, axis=0)
        pert[np.arange(1, p + 1), np.arange(p)] += h
        with np.errstate(all="ignore"):
            Fu = on_distinct(pert)
            if log_loss:
                Fu = np.log(np.maximum(Fu, 1e-300))
            r = Fu[0][inv] - target
            psi = np.clip(r, -delta, delta) if huber else r  # rho = psi (r - psi/2) for both losses
            terms = psi * (r - 0.5 * psi)
            f = float(np.sum(terms if w is None else w * terms))
            if not np.isfinite(f):
                return np.inf, np.zeros_like(t)
            agg = np.bincount(inv, weights=psi if w is None else w * psi, minlength=m)
            grad = ((Fu[1:] - Fu[0]) / h[:, None]) @ agg
        return f, grad

    return fun


def _lbfgsb(pred_fn, theta, y, w, loss, delta, lo, hi, ftol, gtol):
    """scipy L-BFGS-B from ``theta`` with the exact gradient J^T (w psi(r)) of our objective."""
    from scipy.optimize import minimize

    def fun(t):
        t2 = t[None, :]
        with np.errstate(all="ignore"):
            r = residuals(pred_fn(t2), y, loss)
            f = float(np.sum(w * rho(r, loss, delta)))
            if not np.isfinite(f):
                return np.inf, np.zeros_like(t)
            J = _jacobian(pred_fn, t2, r, y, loss, lo, hi)[0]
            grad = J @ (w * irls_weight(r[0], loss, delta) * r[0])
        return f, grad

    distinct = getattr(pred_fn, "distinct", None)
    if distinct is not None:
        fun = _fun_on_distinct(distinct, y, w, loss, delta, hi)  # noqa: F811 - same function, fewer passes
    bounds = [(None if not np.isfinite(a) else a, None if not np.isfinite(b) else b) for a, b in zip(lo, hi)]
    return minimize(fun, theta, jac=True, method="L-BFGS-B", bounds=bounds,
                    options={"maxiter": 1000, "ftol": ftol, "gtol": gtol})


# A floor that the polish leaves at its bound 0 gets a finite theta (exp(theta) > 0): the largest
# of 1e-3, 1e-4, ..., 1e-30 x the smallest |target| whose objective is within _FLOOR_SLACK
# (relative) of the objective at 0 (1e-30 changes no prediction in float64). Not simply the
# smallest: the bootstrap's Levenberg-Marquardt refits start there in log space, and from 1e-30
# no resample could move the floor (d2-32's L0 interval became the point [4.1e-30, 4.1e-30]; the old polish's 1.3e-8 gave
# [4e-181, 0.058]).
_FLOOR_SLACK = 1e-12
# The value-space polish measures a floor in units of its start value, but never of less than this
# fraction of the smallest |target| (scalelaw.laws.base.FLOOR_COLLAPSE: below it a floor counts
# as collapsed).
_SCALE_MIN = 1e-3
# At most this many value-space runs, each restarted (fresh L-BFGS-B memory, re-scaled) where the
# last stopped while still gaining.
_VALUE_RUNS = 3


def _in_value_space(pred_fn, base, cols):
    """``pred_fn`` on thetas whose ``cols`` hold u = value / exp(base) (>= 0) instead of log(value)."""
    def to_theta(U):
        T = np.array(U, dtype=float)
        with np.errstate(divide="ignore"):
            T[..., cols] = base + np.log(np.maximum(T[..., cols], 0.0))  # u = 0 -> theta -inf -> value 0
        return T

    def pred(U):
        return pred_fn(to_theta(np.atleast_2d(U)))

    distinct = getattr(pred_fn, "distinct", None)
    if distinct is not None:
        on_distinct, inv, m = distinct
        pred.distinct = (lambda U: on_distinct(to_theta(np.atleast_2d(U))), inv, m)
    return pred


def _finite_floor(pred_fn, theta, f0, scale, y, w, loss, delta):
    """``theta`` with its -inf entries (floors at 0, objective ``f0``) set finite: see _FLOOR_SLACK."""
    zero = ~np.isfinite(theta)
    out = theta.copy()
    for k in range(3, 31):  # 1e-3 (_SCALE_MIN, FLOOR_COLLAPSE) ... 1e-30
        out[zero] = np.log(10.0 ** -k * scale)
        with np.errstate(all="ignore"):
            f = float(objective(pred_fn(out[None, :]), y, w, loss, delta)[0])
        if f <= f0 + _FLOOR_SLACK * abs(f0):
            return out
    return out  # 1e-30 x scale


def polish_lbfgsb(pred_fn, theta, y, w, loss, delta, lo, hi, *, ftol=1e-15, gtol=1e-12, floor_cols=()):
    """scipy L-BFGS-B from ``theta`` with the exact gradient J^T (w psi(r)) of our objective.

    ``floor_cols``: the columns of log-scaled loss floors (E, L0, L_inf). Those whose range starts
    at 0 (theta's lower bound -inf) are polished in value space, u = value / s on [0, max / s]
    with s the floor's start value (at least ``_SCALE_MIN`` of the smallest |target|), and mapped
    back to theta = log(value).

    Why: a floor the data do not support collapses toward 0 (a pure power law fits the curve
    better as L0 -> 0). In log space that optimum lies at theta = -inf, infinitely far, and the
    gradient along theta, value x dF/dvalue, vanishes on the way: L-BFGS-B crawled there along the
    valley L0 + A S^-alpha ~ const (multi_power on data/cpu_schedules d2-32 constant + cosine:
    three polishes of ~1,100 evaluations, stopped by ftol at L0 ~ 1e-8, not at the optimum). In
    value space the optimum is the bound u = 0, an active constraint that L-BFGS-B's projected
    gradient reaches in a few hundred evaluations, at a lower objective (benchmarks/
    bench_polish_stall.py). A stall criterion was no answer: the objective was still falling
    ~3e-5 relative over the crawl's last 100 evaluations, so any stop that keeps the objective
    within 1e-9 of the crawl's end stops at its end.

    Scale: at u = 1 (the start) du = dtheta, so an ordinary floor's first steps are log space's.
    Scaled by the data instead (u = value / smallest loss) the first step of a floor that starts
    high could leap: on a power law from L_inf = 1.5 above losses of 0.2-0.58 it jumped to a
    plateau (alpha at its bound 10, the prediction flat) 60x above the optimum. A floor that
    starts tiny is measured in units of ``_SCALE_MIN`` x the smallest loss instead of itself,
    else its gradient in u would vanish as in log space.

    A floor left at 0 is reported at the largest power of ten below 1e-3 x the smallest |target|
    that costs at most ``_FLOOR_SLACK`` of the objective (theta must be finite for the Jacobians
    and bootstrap that follow); the fit's warnings name it as collapsed (scalelaw.result).

    Up to ``_VALUE_RUNS`` value-space runs (restarted while they still gain) and a final log-space
    polish guard against an early stop (below); ``res`` is the final run's result, its ``nfev``
    counting every run's evaluations.
    """
    cols = [j for j in floor_cols if not np.isfinite(lo[j])]
    if not cols:
        res = _lbfgsb(pred_fn, theta, y, w, loss, delta, lo, hi, ftol, gtol)
        return res.x, float(res.fun), res
    theta = np.asarray(theta, dtype=float)
    mag = np.abs(np.asarray(y, dtype=float))
    scale = float(np.min(mag[mag > 0])) if np.any(mag > 0) else 1.0  # the smallest |target|: a floor's size
    out, nfev = theta.copy(), 0
    with np.errstate(all="ignore"):
        f = float(objective(pred_fn(out[None, :]), y, w, loss, delta)[0])
    for _ in range(_VALUE_RUNS):
        # u = value / start value, or / (_SCALE_MIN x scale) for a floor that starts below that
        base = np.maximum(out[cols], np.log(_SCALE_MIN * scale))
        u0, lo_u, hi_u = out.copy(), np.array(lo, dtype=float), np.array(hi, dtype=float)
        with np.errstate(over="ignore"):
            u0[cols] = np.exp(out[cols] - base)
            hi_u[cols] = np.exp(hi_u[cols] - base)
        lo_u[cols] = 0.0
        res = _lbfgsb(_in_value_space(pred_fn, base, cols), u0, y, w, loss, delta, lo_u, hi_u, ftol, gtol)
        nfev += res.nfev
        if not np.isfinite(res.fun) or res.fun >= f:
            break
        gain, f = f - float(res.fun), float(res.fun)
        u = np.maximum(res.x[cols], 0.0)
        out = res.x.copy()
        with np.errstate(divide="ignore"):
            out[cols] = np.where(u > 0, base + np.log(u), -np.inf)
        if np.any(u == 0):
            out = _finite_floor(pred_fn, out, f, scale, y, w, loss, delta)
        # done when the floor reached 0 or the run gained no more than L-BFGS-B's own ftol;
        # else a fresh run, re-scaled at the new value (an early stop: see the final polish)
        if np.all(u == 0) or gain <= ftol * max(abs(f), 1.0):
            break
    # One final polish in log space from there. L-BFGS-B's ftol stop is absolute below f = 1 (it
    # divides by max(|f|, 1)), so one poor step can end a run early: on a power law whose best
    # floor is 0, a value-space run from L_inf = 2 stopped at L_inf = 0.0025, 33% above the optimum
    # (the restart above then reaches 0). The log-space polish continues from any such point; from
    # a floor at 0 (reported at ~1e-11 x the loss) with the rest polished it finishes in a few
    # evaluations: the floor's log-space gradient, value x dF/dvalue, is negligible there.
    fin = _lbfgsb(pred_fn, out, y, w, loss, delta, lo, hi, ftol, gtol)
    with np.errstate(all="ignore"):
        f = float(objective(pred_fn(out[None, :]), y, w, loss, delta)[0])  # where the fit reports it
    fin.nfev += nfev  # all runs' evaluations (benchmarks and tests count them)
    if np.isfinite(fin.fun) and fin.fun <= f:
        return fin.x, float(fin.fun), fin
    return out, f, fin


@dataclass
class SearchResult:
    theta: np.ndarray
    objective: float
    n_starts: int
    n_polished: int
    n_agree: int
    candidates: list = field(default_factory=list)  # (objective, theta) of polished starts, best first
    n_failed_starts: int = 0


def _distinct_best(thetas, objs, k, min_dist=1e-3):
    order = np.argsort(objs)
    chosen = []
    for i in order:
        if not np.isfinite(objs[i]):
            break
        if all(np.max(np.abs(thetas[i] - thetas[j])) > min_dist for j in chosen):
            chosen.append(i)
        if len(chosen) == k:
            break
    return chosen


def polish_on_all_rows(pred_fn, sub: SearchResult, y, w, loss, delta, lo, hi, *, max_extra=1,
                       close=1e-3, lm_iter=5, ftol=1e-12, floor_cols=()) -> SearchResult:
    """Finish a search done on a subset of the rows: polish its best candidate (and up to ``max_extra``
    distinct ones within ``close`` relative objective of it) on every row, one at a time (memory
    ~ p x rows). Start agreement stays as the subset measured it: the other candidates keep their
    objective gap to the best, rescaled to the full data. ``floor_cols``: see :func:`polish_lbfgsb`."""
    best_sub = sub.candidates[0][0]
    picked = [sub.candidates[0][1]]
    for f, t in sub.candidates[1:]:
        if len(picked) > max_extra or f - best_sub > close * abs(best_sub):
            break
        if all(np.max(np.abs(t - p)) > 0.05 for p in picked):
            picked.append(t)
    finished = []
    if getattr(pred_fn, "distinct", None) is not None:
        lm_iter = 0  # L-BFGS-B's passes are cheap on distinct rows; LM's are not
    for t0 in picked:
        # a few Levenberg-Marquardt steps move the subset's optimum close to the full data's; L-BFGS-B
        # finishes (Huber's IRLS creeps near the optimum, L-BFGS-B does not). ftol 1e-12 leaves the
        # objective within ~1e-12 relative of a 1e-15 polish at a third of the passes over the rows.
        if lm_iter:
            lm = batched_lm(pred_fn, t0[None, :], y, w, loss, delta, lo, hi, max_iter=lm_iter)
            t, f = lm.theta[0], float(lm.objective[0])
        else:
            t, f = t0, float(objective(pred_fn(t0[None, :]), y, w, loss, delta)[0])
        t2, f2, _ = polish_lbfgsb(pred_fn, t, y, w, loss, delta, lo, hi, ftol=ftol, gtol=1e-10,
                                  floor_cols=floor_cols)
        finished.append((f2, t2) if f2 <= f else (f, t))
    finished.sort(key=lambda c: c[0])
    best_f, best_t = finished[0]
    scale = best_f / best_sub if best_sub > 0 else 1.0
    cands = [(best_f, best_t)] + [(best_f + (f - best_sub) * scale, t) for f, t in sub.candidates[1:]]
    return SearchResult(best_t, best_f, sub.n_starts, sub.n_polished, sub.n_agree, cands, sub.n_failed_starts)


def evaluate_only(pred_fn, y, w, loss, delta) -> SearchResult:
    """No free parameter (all fixed): the objective at the given values, reported like a search."""
    theta = np.empty(0)
    with np.errstate(all="ignore"):
        f = float(objective(pred_fn(theta[None, :]), y, w, loss, delta)[0])
    if not np.isfinite(f):
        raise ValueError("every parameter is fixed and the law gives a non-finite objective at those values; "
                         "check the fixed values against the data")
    return SearchResult(theta, f, 0, 0, 1, [(f, theta)], 0)


def multistart(pred_fn, starts, y, w, loss, delta, lo, hi, *, n_polish=16, n_scipy=3,
               floor_cols=()) -> SearchResult:
    """Vectorised start evaluation, batched LM on the best ``n_polish``, L-BFGS-B on the best few
    (``floor_cols``, the loss floors' columns, are polished in value space: :func:`polish_lbfgsb`)."""
    starts = _clip(np.asarray(starts, dtype=float), lo, hi)
    objs = evaluate_starts(pred_fn, starts, y, w, loss, delta)
    n_failed = int(np.sum(~np.isfinite(objs)))
    chosen = _distinct_best(starts, objs, n_polish)
    if not chosen:
        raise RuntimeError(
            f"all {len(starts)} starts gave a non-finite objective; check the data's scale or give "
            "starting values (params=) or bounds="
        )
    lm = batched_lm(pred_fn, starts[chosen], y, w, loss, delta, lo, hi)
    order = np.argsort(lm.objective)
    cands = []
    for i in order[:n_scipy]:
        if not np.isfinite(lm.objective[i]):
            continue
        t, f, _ = polish_lbfgsb(pred_fn, lm.theta[i], y, w, loss, delta, lo, hi, floor_cols=floor_cols)
        if f <= lm.objective[i]:
            cands.append((f, t))
        else:
            cands.append((float(lm.objective[i]), lm.theta[i]))
    cands += [(float(lm.objective[i]), lm.theta[i]) for i in order[n_scipy:] if np.isfinite(lm.objective[i])]
    cands.sort(key=lambda c: c[0])
    best_f, best_t = cands[0]
    tol = 1e-5 * abs(best_f) + 1e-12
    n_agree = sum(1 for f, _ in cands if f - best_f <= tol)
    return SearchResult(best_t, best_f, len(starts), len(chosen), n_agree, cands, n_failed)
