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


def polish_lbfgsb(pred_fn, theta, y, w, loss, delta, lo, hi, *, ftol=1e-15, gtol=1e-12):
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
    res = minimize(fun, theta, jac=True, method="L-BFGS-B", bounds=bounds,
                   options={"maxiter": 1000, "ftol": ftol, "gtol": gtol})
    return res.x, float(res.fun), res


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
                       close=1e-3, lm_iter=5, ftol=1e-12) -> SearchResult:
    """Finish a search done on a subset of the rows: polish its best candidate (and up to ``max_extra``
    distinct ones within ``close`` relative objective of it) on every row, one at a time (memory
    ~ p x rows). Start agreement stays as the subset measured it: the other candidates keep their
    objective gap to the best, rescaled to the full data."""
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
        t2, f2, _ = polish_lbfgsb(pred_fn, t, y, w, loss, delta, lo, hi, ftol=ftol, gtol=1e-10)
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


def multistart(pred_fn, starts, y, w, loss, delta, lo, hi, *, n_polish=16, n_scipy=3) -> SearchResult:
    """Vectorised start evaluation, batched LM on the best ``n_polish``, L-BFGS-B on the best few."""
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
        t, f, _ = polish_lbfgsb(pred_fn, lm.theta[i], y, w, loss, delta, lo, hi)
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
