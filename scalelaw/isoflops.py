"""Chinchilla's Approach 2: IsoFLOP profiles, their minima, and power laws through the minima.

Hoffmann et al. 2022 (Section 3.2, Figure 3) train several model sizes N at each fixed compute
budget C = 6 N D, fit each budget's loss against log N, and read the optimum N_opt(C) off each
profile's minimum. Power laws through the minima give

    N_opt(C) = k * C^a,      D_opt(C) = C / (6 N_opt) = C^b / (6 k),  b = 1 - a,
    L_opt(C) = L_inf + (C0 / C)^alpha_C        (Henighan et al. 2020's power law plus constant).

L_opt's floor L_inf is what lets the forecast flatten: its log-slope is
-alpha_C (L - L_inf) / L, so the minima's per-doubling drop shrinks only if L_inf > 0. Fitted on
budgets whose minima do not yet flatten (or whose first budget sits on an early plateau, so the
drops grow before they shrink), L_inf goes to its bound 0 and the warnings say "collapsed"; the
forecast is then a pure power law and too low if the minima flatten later (``data/cpu_isoflop``
fitted on 1e11-8e11: -3.95% at 3.2e12; ``benchmarks/study_isoflop_floor.py``).

Profiles (``profile=``):

- ``"parabola"``: loss = c0 + c1 x + c2 x^2 in x = ln N, minimum at x* = -c1 / (2 c2)
  (Hoffmann's choice). A parabola is symmetric; the iso-FLOP curve of the law Hoffmann fit is
  not (E + A N^-alpha + B (6N/C)^beta rises at different rates on the two sides), so when a
  budget's sizes are not centred on its optimum the vertex is pulled towards the side with more
  points (Besiroglu et al. 2024 and Porian et al. 2024 discuss the bias this puts into a).
- ``"law"``: the law's own iso-FLOP curve, loss = c + A (N/N0)^-alpha + B (N/N0)^beta per
  budget, with alpha and beta shared by all budgets and c, A, B >= 0 free per budget (variable
  projection: the three are linear given the exponents). Minimum in closed form,
  N* = N0 (alpha A / (beta B))^(1 / (alpha + beta)). It is unbiased when the data follow the
  Chinchilla form and needs 4+ sizes per budget (3 linear coefficients per budget).

Budgets are grouped exactly when points share C, otherwise binned in log10 C: the densest
windows of width ``2 * tol`` decades become budgets (Epoch's points extracted from Hoffmann's
figure carry approximate C), and points in no window are reported as skipped.

Counted compute (``counted=``): the nominal C = 6 N D (N non-embedding, Kaplan's convention) leaves
out the tied LM head, ``6 vocab d_model`` FLOPs per training token, and for small models that is
most of what a step costs (BPE vocab 1024 at d_model 20: a token costs 3.6x the nominal 6N). A
small model then gets a hidden compute bonus that shrinks as the budget grows, which bends N_opt(C)
and L_opt(C) (Porian et al. 2024, "Resolving Discrepancies in Compute-Optimal Scaling of Language
Models", arXiv:2406.19146: last-layer FLOPs are a main cause of the Kaplan / Chinchilla
discrepancy). With ``counted="flops_with_head"`` (the column ``read_logs`` derives from our
trainer's headers) runs are still grouped by their nominal budget (they were planned that way;
runs of one nominal budget are not iso-counted-FLOP) and each profile is fitted over ln N as
before, but each optimum's compute is its counted compute,

    C_counted(budget) = C_nominal * r(N_opt),     r(N) = counted / nominal compute of a run of size N,

with ln r interpolated piecewise-linearly in ln N between the data's distinct sizes (each size's
ratio the geometric mean over its runs; linear extrapolation from the two end sizes beyond them).
The power laws N_opt = k C^a and L_opt(C) are fitted against C_counted, ``predict(C)`` takes
counted compute, ``D_opt = C / (6 N_opt r(N_opt))`` (the tokens that compute buys at that size), and
``b`` is the slope of ln D_opt against ln C_counted through the minima (no longer 1 - a).

Uncertainty: a bootstrap over the points within each budget (resampled with replacement,
every budget at once); each draw refits the profiles and the power laws, so the intervals of
a, k and of ``predict(C)`` carry the minima's noise. These are *parameter* intervals: they do
not include the error of the power laws' form when extrapolated (see ``backtest``).
"""

from __future__ import annotations

import json
from typing import Mapping

import numpy as np
import pandas as pd

from scalelaw.atomic import atomic_write_text
from scalelaw.fitting.data import as_frame, numeric_column
from scalelaw.integrity import INTEGRITY_KEY, SavedFitWarning, check_format, check_seal, check_version, seal

__all__ = ["isoflop", "IsoflopResult", "assign_budgets", "load_isoflop", "PROFILES", "ratio_knots", "ratio_at"]

PROFILES = ("parabola", "law")
FORMAT = "scalelaw-isoflop"
# The layout of a saved result; a file of a newer one is refused (see from_dict). 2: every section
# sealed with its sha256 (scalelaw.integrity, as saved fits are); 1 (unsealed) still loads, with a warning.
FORMAT_VERSION = 2
_SAVED_KEYS = ("approach", "profile", "inputs", "target", "loss_law", "level", "params", "warnings", "optima",
               "points", "draws")
_MIN_SIZES = {"parabola": 3, "law": 4}


# ---------------------------------------------------------------------------------------------
# Budgets

def assign_budgets(C, budgets=None, tol: float = 0.05, min_points: int = 3):
    """Budget of each point: ``(budget per point, NaN where none; the budgets)``.

    With ``budgets`` given, each point goes to the nearest one within ``tol`` decades. Without,
    exact repeats of C make the budgets when every C value repeats; otherwise the densest window
    of width ``2 * tol`` decades (at least ``min_points`` points) becomes a budget (its value the
    geometric mean of its points), its points are removed, and so on (greedy mode seeking).
    """
    C = np.asarray(C, dtype=float)
    lc = np.log10(C)
    out = np.full(len(C), np.nan)
    if budgets is not None:
        b = np.sort(np.asarray(budgets, dtype=float).ravel())
        if b.size == 0 or np.any(~np.isfinite(b)) or np.any(b <= 0):
            raise ValueError(f"budgets must be positive finite FLOP values, got {budgets!r}")
        d = np.abs(lc[:, None] - np.log10(b)[None, :])
        j = np.argmin(d, axis=1)
        ok = d[np.arange(len(C)), j] <= tol
        out[ok] = b[j[ok]]
        return out, b
    values, counts = np.unique(C, return_counts=True)
    if len(values) < len(C) and np.all(counts >= 2):
        return C.copy(), values
    free = np.ones(len(C), dtype=bool)
    found = []
    order = np.argsort(lc)
    while free.sum() >= min_points:
        idx = order[free[order]]
        x = lc[idx]
        hi = np.searchsorted(x, x + 2 * tol, side="right")
        n_in = hi - np.arange(len(x))
        best = int(np.argmax(n_in))
        if n_in[best] < min_points:
            break
        members = idx[best:hi[best]]
        value = float(10 ** np.mean(lc[members]))
        out[members] = value
        free[members] = False
        found.append(value)
    return out, np.array(sorted(found))


# ---------------------------------------------------------------------------------------------
# Profile fits: every function takes per-point weights W (B, n) so that bootstrap resamples
# (integer counts) and the plain fit (W = 1) are one computation.

def _wls(Phi, y, W):
    """Weighted least squares for a batch. Phi (B' or 1, K, n, p), y (n,), W (B, n) ->
    theta (B, K, p) and SSE (B, K); singular systems give NaN."""
    Bn = W.shape[0]
    Phi = np.broadcast_to(Phi, (Bn,) + Phi.shape[1:])
    G = np.einsum("bn,bkni,bknj->bkij", W, Phi, Phi)
    h = np.einsum("bn,bkni,n->bki", W, Phi, y)
    p = Phi.shape[-1]
    scale = np.sqrt(np.maximum(np.einsum("...ii->...i", G), 1e-300))
    Gs = G / scale[..., :, None] / scale[..., None, :]
    with np.errstate(all="ignore"):
        # unit-diagonal Gram matrix: its determinant is ~0 when the columns are collinear
        ok = np.linalg.det(Gs) > 1e-10
        Gs = np.where(ok[..., None, None], Gs, np.eye(p))
        theta = np.linalg.solve(Gs, (h / scale)[..., None])[..., 0] / scale
    theta = np.where(ok[..., None], theta, np.nan)
    yy = np.einsum("bn,n->b", W, y * y)[:, None]
    return theta, yy - np.sum(theta * h, axis=-1)


def _parabola(x, y, W):
    """Minimum of loss = c0 + c1 u + c2 u^2 (u = x - mean x) per resample: (x*, loss*, convex)."""
    xm = x.mean()
    u = x - xm
    Phi = np.stack([np.ones_like(u), u, u * u], axis=1)[None, None]
    theta, _ = _wls(Phi, y, W)
    c0, c1, c2 = theta[:, 0, 0], theta[:, 0, 1], theta[:, 0, 2]
    convex = c2 > 0
    with np.errstate(all="ignore"):
        us = np.where(convex, -c1 / (2 * c2), np.nan)
    return xm + us, c0 + c1 * us + c2 * us * us, convex


def _window_mask(x, y, window):
    """1 for the points at the ``window`` sizes nearest (in ln N) the budget's best run, else 0
    (all 1 when ``window`` is None or covers every size). A parabola is the second-order Taylor
    expansion of the profile about its minimum: far from it, on an asymmetric valley, its points
    tilt the vertex towards the flatter side and lift its loss (docs/approaches.md, issue 18)."""
    sizes = np.unique(x)
    if window is None or len(sizes) <= window:
        return np.ones(len(x))
    best = x[np.argmin(y)]
    near = sizes[np.argsort(np.abs(sizes - best), kind="stable")[:window]]
    return np.isin(x, near).astype(float)


# subsets of the linear terms (c, A, B) tried when the full solution has A < 0 or B < 0
_SUBSETS = ((0, 1, 2), (0, 1), (0, 2), (0,))


def _law_budget(x, y, W, alpha, beta):
    """Least squares of c + A e^(-alpha x) + B e^(beta x) with A, B >= 0, for exponent pairs
    ``alpha``, ``beta`` of shape (B' or 1, K): coefficients (B, K, 3) and SSE (B, K)."""
    a, b = np.asarray(alpha)[..., None], np.asarray(beta)[..., None]
    Phi = np.stack(np.broadcast_arrays(np.ones_like(a * x), np.exp(-a * x), np.exp(b * x)), axis=-1)
    shape = (W.shape[0], Phi.shape[1])
    best_sse, best = np.full(shape, np.inf), np.full(shape + (3,), np.nan)
    for cols in _SUBSETS:
        theta, sse = _wls(Phi[..., list(cols)], y, W)
        ok = np.all(np.isfinite(theta), axis=-1)
        for j, c in enumerate(cols):
            if c > 0:
                ok &= theta[..., j] >= 0
        better = ok & (sse < best_sse - 1e-15)
        full = np.zeros(shape + (3,))
        full[..., list(cols)] = theta
        best = np.where(better[..., None], full, best)
        best_sse = np.where(better, sse, best_sse)
    return best, best_sse


_GRID = np.geomspace(0.03, 3.0, 24)


def _law_fit(groups, Ws, polish: bool):
    """Shared (alpha, beta) and per-budget (c, A, B >= 0) for B resamples (variable projection):
    a coarse grid over the exponents, then finer grids around each resample's best (``polish``:
    two more, to 1/256 of the coarse step, for the point estimate)."""

    def total(alpha, beta, Wl):
        s = 0.0
        for (x, y), W in zip(groups, Wl):
            s = s + _law_budget(x, y, W, alpha, beta)[1]
        return s  # (B, K)

    B = Ws[0].shape[0]
    aa, bb = np.meshgrid(_GRID, _GRID, indexing="ij")
    sse = total(aa.ravel()[None], bb.ravel()[None], Ws)
    j = np.argmin(sse, axis=1)
    la, lb = np.log(aa.ravel()[j]), np.log(bb.ravel()[j])
    step = np.log(_GRID[1] / _GRID[0])
    for width in ((step, step / 4, step / 16, step / 64) if polish else (step, step / 4)):
        off = np.linspace(-width, width, 9)
        oa, ob = np.meshgrid(off, off, indexing="ij")
        ca, cb = la[:, None] + oa.ravel()[None], lb[:, None] + ob.ravel()[None]
        sse = total(np.exp(ca), np.exp(cb), Ws)
        j = np.argmin(sse, axis=1)
        la, lb = ca[np.arange(B), j], cb[np.arange(B), j]
    alpha, beta = np.exp(la), np.exp(lb)
    coefs = [_law_budget(x, y, W, alpha[:, None], beta[:, None])[0][:, 0] for (x, y), W in zip(groups, Ws)]
    return alpha, beta, coefs


def _law_minimum(alpha, beta, coef):
    """Closed-form minimum of c + A e^(-alpha x) + B e^(beta x): (x*, loss*, convex)."""
    c, A, Bc = coef[:, 0], coef[:, 1], coef[:, 2]
    convex = (A > 0) & (Bc > 0)
    with np.errstate(all="ignore"):
        xs = np.where(convex, np.log(alpha * A / (beta * Bc)) / (alpha + beta), np.nan)
        ls = c + A * np.exp(-alpha * xs) + Bc * np.exp(beta * xs)
    return xs, ls, convex


# ---------------------------------------------------------------------------------------------
# Power laws through the minima

def ratio_knots(N, ratio):
    """(ln N knots, ln r knots) of the counted/nominal compute ratio: one knot per distinct size
    (the geometric mean of its runs' ratios), sorted by N."""
    N, ratio = np.asarray(N, float), np.asarray(ratio, float)
    sizes = np.unique(N)
    lr = np.array([np.mean(np.log(ratio[N == n])) for n in sizes])
    return np.log(sizes), lr


def ratio_at(knots, N):
    """r(N) from :func:`ratio_knots`: ln r piecewise linear in ln N, linearly extrapolated from the
    two end knots beyond them (constant with one knot); NaN where N is NaN."""
    x, lr = np.asarray(knots[0], float), np.asarray(knots[1], float)
    with np.errstate(all="ignore"):
        u = np.log(np.asarray(N, float))
    if len(x) == 1:
        return np.where(np.isfinite(u), np.exp(lr[0]), np.nan)
    out = np.interp(u, x, lr)
    lo_slope = (lr[1] - lr[0]) / (x[1] - x[0])
    hi_slope = (lr[-1] - lr[-2]) / (x[-1] - x[-2])
    out = np.where(u < x[0], lr[0] + lo_slope * (u - x[0]), out)
    out = np.where(u > x[-1], lr[-1] + hi_slope * (u - x[-1]), out)
    return np.where(np.isfinite(u), np.exp(out), np.nan)


def _power_fit(C, N, weights=None):
    """(Weighted) least squares in log-log: ln N = ln k + a ln C. Arrays (B, m) -> a (B,),
    ln k (B,); NaN minima (non-convex profiles of a draw) are left out of that draw's fit."""
    with np.errstate(all="ignore"):
        lc, ln = np.log(C), np.log(N)
    ok = np.isfinite(ln) & np.isfinite(lc)
    w = np.where(ok, 1.0 if weights is None else np.broadcast_to(weights, ok.shape), 0.0)
    n = ok.sum(axis=1)
    sw = w.sum(axis=1)
    with np.errstate(all="ignore"):
        mc = np.sum(w * np.where(ok, lc, 0.0), axis=1) / sw
        mn = np.sum(w * np.where(ok, ln, 0.0), axis=1) / sw
        dc = np.where(ok, lc - mc[:, None], 0.0)
        dn = np.where(ok, ln - mn[:, None], 0.0)
        a = np.sum(w * dc * dn, axis=1) / np.sum(w * dc * dc, axis=1)
    a = np.where(n >= 2, a, np.nan)
    return a, mn - a * mc


def _loss_law_fit(C, L, loss_law: str, start=None, weights=None):
    """L_opt(C) by ``scalelaw.fit`` (the library's ``power_law`` or ``power``, squared log error,
    ``weights`` per budget); warm-started ``least_squares`` from ``start`` for bootstrap draws
    (the same objective)."""
    ok = np.isfinite(L) & np.isfinite(C)
    if ok.sum() < (3 if loss_law == "power_law" else 2):
        return None
    C, L = C[ok], L[ok]
    sw = np.ones(len(C)) if weights is None else np.sqrt(np.asarray(weights, float)[ok])
    if start is None:
        from scalelaw.api import fit

        f = fit(loss_law, {"C": C, "loss": L}, inputs={"x": "C"}, target="loss", loss="squared",
                weights=None if weights is None else sw ** 2)
        return _loss_params(loss_law, f.params), list(f.warnings)
    from scipy.optimize import least_squares

    from scalelaw.laws.power import power
    from scalelaw.laws.power_law import power_law

    if loss_law == "power_law":
        t0 = [np.log(max(start["L_inf"], 1e-9)), np.log(start["C0"]), np.log(start["alpha_C"])]
        fn = lambda t: sw * (np.log(power_law(C, L_inf=np.exp(t[0]), x0=np.exp(t[1]), alpha=np.exp(t[2])))  # noqa: E731
                             - np.log(L))
        r = least_squares(fn, t0, method="lm")
        return {"L_inf": float(np.exp(r.x[0])), "C0": float(np.exp(r.x[1])), "alpha_C": float(np.exp(r.x[2]))}, []
    t0 = [np.log(start["k_L"]), start["a_L"]]
    fn = lambda t: sw * (np.log(power(C, k=np.exp(t[0]), a=t[1])) - np.log(L))  # noqa: E731
    r = least_squares(fn, t0, method="lm")
    return {"k_L": float(np.exp(r.x[0])), "a_L": float(r.x[1])}, []


def _loss_params(loss_law, p):
    if loss_law == "power_law":
        return {"L_inf": float(p["L_inf"]), "C0": float(p["x0"]), "alpha_C": float(p["alpha"])}
    return {"k_L": float(p["k"]), "a_L": float(p["a"])}


def loss_at(params: Mapping, C, loss_law: str):
    """L_opt(C) from the fitted parameters."""
    C = np.asarray(C, dtype=float)
    if loss_law == "power_law":
        return params["L_inf"] + np.exp(params["alpha_C"] * (np.log(params["C0"]) - np.log(C)))
    return np.exp(np.log(params["k_L"]) + params["a_L"] * np.log(C))


# ---------------------------------------------------------------------------------------------
# The result

class IsoflopResult:
    """Approach 1 or 2: per-budget optima, power laws through them, predictions with intervals.

    ``optima``: one row per budget (C, N_opt, D_opt, loss_opt with ``_lo``/``_hi`` bootstrap
    bounds, sizes, edge/convex flags); ``params``: a, b, k and L_opt(C)'s parameters;
    ``predict(C=...)``; ``warnings``; ``save``/``load_isoflop``; ``plot``.
    """

    def __init__(self, *, approach, profile, inputs, target, loss_law, points, optima, params,
                 draws=None, warnings=None, level=0.9, options=None, version=None, fit_warnings=None,
                 calibration=None):
        self.approach = approach
        self.calibration = calibration  # scalelaw.calibration.Calibration of L_opt(C), or None
        self.profile = profile
        self.inputs = dict(inputs)
        self.target = target
        self.loss_law = loss_law
        self.points = points
        self.optima = optima
        self.params = dict(params)
        self.draws = draws
        self.warnings = list(warnings or [])
        self.level = float(level)
        self.options = dict(options or {})
        from scalelaw import __version__

        self.version = version or __version__

    def __repr__(self):
        ps = ", ".join(f"{k}={v:.4g}" for k, v in self.params.items())
        return f"<IsoflopResult approach {self.approach} ({self.profile}): {ps}; {len(self.optima)} budgets>"

    # ---- prediction ---------------------------------------------------------------------
    @property
    def counted(self):
        """The counted-compute column the power laws are in (None: the nominal C)."""
        return (self.options.get("counted") or {}).get("column")

    @property
    def fit_C(self) -> pd.Series:
        """Each optimum's compute on the power laws' axis: ``C_counted`` with ``counted=``, else ``C``."""
        return self.optima["C_counted"] if self.counted else self.optima["C"]

    def _ratio(self, N):
        """r(N), compute per token over 6N: ``counted=``'s ratio (Approach 2), or the envelope's
        ``tokens_ratio`` when its compute column is not 6 N D (Approach 1); else 1."""
        c = self.options.get("counted") or self.options.get("tokens_ratio")
        return 1.0 if not c else ratio_at((c["ln_N"], c["ln_r"]), N)

    def _predict_params(self, P, C):
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):  # a wild draw's k of 0 or inf
            N = np.exp(np.log(P["k"]) + P["a"] * np.log(C))
            return N, C / (6.0 * N * self._ratio(N)), loss_at(P, C, self.loss_law)

    def predict(self, C, level: float | None = None, kind: str = "prediction", *, warn: bool = True) -> dict:
        """N_opt, D_opt = C / (6 N_opt) and L_opt at compute ``C`` (scalar or array), with
        intervals at ``level`` (``N_lo``, ``N_hi``, ...). A result fitted with ``counted=`` takes
        counted compute and gives D_opt = C / (6 N_opt r(N_opt)) (module docstring).

        N and D: percentile bootstrap intervals (when there are draws). loss: with
        ``kind="prediction"`` (default) and a calibration, :mod:`scalelaw.calibration`'s prediction
        interval (the error of L_opt(C) measured by rolling-origin backtests over the budgets,
        growing with the decades beyond the largest budget, combined with the bootstrap band);
        ``kind="parameter"``: the bootstrap band only. ``out["interval"]`` says which. A budget
        beyond the largest fitted one gives an :class:`~scalelaw.result.ExtrapolationWarning` saying
        how far, as ``fit.predict`` does (``warn=False`` to extrapolate on purpose).
        """
        if kind not in ("prediction", "parameter"):
            raise ValueError(f"predict: kind must be 'prediction' or 'parameter', got {kind!r}")
        scalar = np.ndim(C) == 0
        Cv = np.atleast_1d(np.asarray(C, dtype=float))
        if Cv.size == 0:  # numpy's max() of nothing said only "zero-size array to reduction operation"
            raise ValueError(f"predict: C holds no budgets, got {C!r}; give one or more FLOP budgets")
        if np.any(~np.isfinite(Cv)) or np.any(Cv <= 0):
            raise ValueError(f"predict: C must be positive FLOPs, got {C!r}")
        if level is not None and not (isinstance(level, (int, float, np.number)) and not isinstance(level, bool)
                                      and 0 < float(level) < 1):
            # checked before any work: 1.5 reached numpy's quantile ("Quantiles must be in the range [0, 1]")
            raise ValueError(f"predict: level must be a number in (0, 1), e.g. 0.9, got {level!r}")
        N, D, L = self._predict_params(self.params, Cv)
        out = {"C": Cv, "N": N, "D": D, "loss": L}
        largest = float(self.fit_C[self.optima["used"].astype(bool)].max())
        if warn and Cv.max() > largest * (1 + 1e-9):
            import warnings

            from scalelaw.result import ExtrapolationWarning

            warnings.warn(f"extrapolating: C {Cv.max() / largest:.3g}x beyond the largest fitted budget "
                          f"({largest:.3g} FLOPs)", ExtrapolationWarning, stacklevel=2)
        level = self.level if level is None else float(level)
        if self.draws is not None and len(self.draws.dropna()) >= 2:
            d = self.draws.dropna()
            P = {k: d[k].to_numpy()[:, None] for k in d.columns}
            Nd, Dd, Ld = self._predict_params(P, Cv[None, :])
            q = (1 - level) / 2
            for name, arr in (("N", Nd), ("D", Dd), ("loss", Ld)):
                out[name + "_lo"] = np.quantile(arr, q, axis=0)
                out[name + "_hi"] = np.quantile(arr, 1 - q, axis=0)
            out["level"] = level
            # the same words as FitResult.interval_label(kind="parameter"): printed as "(parameter)"
            # it did not say that the band carries parameter noise only (audit12)
            out["interval"] = f"{100 * level:g}% parameter band (bootstrap only)"
        if kind == "prediction" and self.calibration is not None:
            with np.errstate(divide="ignore"):
                dist = np.maximum(np.log10(Cv / float(self.fit_C[self.optima["used"].astype(bool)].max())), 0.0)
            lo, hi = self.calibration.interval(L, dist, level, out.get("loss_lo"), out.get("loss_hi"))
            out.update(loss_lo=lo, loss_hi=hi, level=level, interval=self.calibration.describe(level))
        if scalar:
            out = {k: (float(v[0]) if isinstance(v, np.ndarray) else v) for k, v in out.items()}
        return out

    def ci(self, level: float | None = None) -> pd.DataFrame:
        """Percentile bootstrap intervals of the parameters (value, lower, upper)."""
        if self.draws is None:
            raise ValueError("no bootstrap draws: fit with n_boot >= 2")
        level = self.level if level is None else float(level)
        d = self.draws.dropna()
        q = (1 - level) / 2
        return pd.DataFrame({"value": pd.Series(self.params), "lower": d.quantile(q),
                             "upper": d.quantile(1 - q)}).loc[list(self.params)]

    def report(self) -> str:
        what = (f"IsoFLOP profiles ({self.profile}): {len(self.optima)} budgets" if self.approach == 2
                else f"envelope of training curves: {len(self.optima)} points")
        lines = [f"Approach {self.approach}, {what}"]
        ci = self.ci() if self.draws is not None else None
        for k, v in self.params.items():
            extra = f"  [{ci.loc[k, 'lower']:.4g}, {ci.loc[k, 'upper']:.4g}]" if ci is not None else ""
            lines.append(f"  {k:<8} {v:.6g}{extra}")
        if self.counted:
            lines.append(f"  C: counted compute ({self.counted}) of each nominal budget's optimum, C_counted = "
                         "C_nominal r(N_opt); D_opt = C / (6 N_opt r(N_opt)); b: the slope of D_opt")
        else:
            lines.append(f"  N_opt = k C^a, D_opt = C / (6 N_opt); L_opt(C): {self.loss_law}")
        cols = [c for c in ("C", "C_counted", "n_sizes", "N_opt", "N_opt_lo", "N_opt_hi", "D_opt", "loss_opt",
                            "loss_opt_lo", "loss_opt_hi", "edge", "convex") if c in self.optima.columns]
        table = self.optima[cols]
        if len(table) > 20:  # an envelope: every ~len/12-th row and the last
            table = table.iloc[sorted(set(range(0, len(table), len(table) // 12)) | {len(table) - 1})]
        lines.append(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        for w in self.warnings:
            lines.append(f"  warning: {w}")
        return "\n".join(lines)

    # ---- persistence ----------------------------------------------------------------------
    def to_dict(self) -> dict:
        def cols(frame):
            return {c: [None if (isinstance(v, float) and not np.isfinite(v)) else
                        (v.item() if isinstance(v, np.generic) else v) for v in frame[c].tolist()]
                    for c in frame.columns}
        out = {"format": FORMAT, "version": FORMAT_VERSION, "scalelaw_version": self.version,
               "approach": self.approach, "profile": self.profile, "inputs": self.inputs,
               "target": self.target, "loss_law": self.loss_law, "level": self.level,
               "options": self.options, "params": self.params, "warnings": self.warnings,
               "optima": cols(self.optima), "points": cols(self.points),
               "draws": None if self.draws is None else cols(self.draws),
               "calibration": None if self.calibration is None else self.calibration.to_dict()}
        # Sealed after a JSON round trip, so the hashes are of exactly what the file holds (tuples
        # become lists, numpy scalars plain numbers), and load recomputes the same ones.
        return seal(json.loads(json.dumps(out, allow_nan=True)))

    def save(self, path) -> None:
        """JSON, written atomically (:mod:`scalelaw.atomic`): an existing file is replaced only once
        the new one is whole. Every section carries its sha256 (:mod:`scalelaw.integrity`)."""
        atomic_write_text(path, json.dumps(self.to_dict(), indent=1), "IsoFLOP result file", "iso.json")

    @classmethod
    def from_dict(cls, d: dict) -> "IsoflopResult":
        """Rebuild a result from :meth:`to_dict`'s dictionary.

        Refused (ValueError): a newer layout version; a version >= 2 file whose sections no longer
        match their stored sha256 (the error names them: an edited ``params`` or ``optima`` would
        otherwise predict from the edited numbers); a missing section. A version-1 file (written
        before results were sealed) loads with a :class:`~scalelaw.integrity.SavedFitWarning`.
        """
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise ValueError("not a saved IsoFLOP result (format != 'scalelaw-isoflop')")
        where = "saved IsoFLOP result"
        version = check_format(d, where, key="version", current=FORMAT_VERSION, label="layout version")
        missing = [k for k in _SAVED_KEYS if k not in d]  # named as such, before the seal would name them too
        if missing:
            raise ValueError(f"{where}: missing key(s) {', '.join(missing)}")
        check_version(d, where)  # written by a newer scalelaw: warn, as for fits
        if version >= 2:
            check_seal(d, where)
        elif INTEGRITY_KEY in d:  # a sealed file whose version was edited down to skip the check
            raise ValueError(f"{where}: layout version 1 carries no integrity record, but this file has one; "
                             "its 'version' was edited; refit and save again")
        else:
            import warnings

            warnings.warn(f"{where}: written in layout version 1, which carries no seal (no sha256 of its "
                          "sections): it loads unchecked, so an edit to it would go unnoticed; save it again "
                          "to seal it", SavedFitWarning, stacklevel=3)

        def frame(x):
            return None if x is None else pd.DataFrame({k: [np.nan if v is None else v for v in vals]
                                                        for k, vals in x.items()})
        cal = None
        if d.get("calibration"):
            from scalelaw.calibration import Calibration

            cal = Calibration.from_dict(d["calibration"])
        return cls(approach=d["approach"], profile=d["profile"], inputs=d["inputs"], target=d["target"],
                   loss_law=d["loss_law"], points=frame(d["points"]), optima=frame(d["optima"]),
                   params=d["params"], draws=frame(d["draws"]), warnings=d["warnings"], level=d["level"],
                   options=d.get("options"), version=d.get("scalelaw_version"), calibration=cal)

    def profile_curve(self, C, N) -> np.ndarray:
        """The fitted profile of budget ``C`` (a value in ``optima["C"]``) at sizes ``N``."""
        if self.approach != 2:
            raise ValueError("profile_curve: only IsoFLOP profiles (approach 2) have profiles")
        pts = self.points[np.isclose(self.points["budget"], C, rtol=1e-9)]
        if pts.empty:
            raise ValueError(f"profile_curve: no budget C={C:g}; budgets are {self.optima['C'].tolist()}")
        N0 = self.options["N0"]
        x, y = np.log(pts["N"].to_numpy(float) / N0), pts["loss"].to_numpy(float)
        xg = np.log(np.asarray(N, dtype=float) / N0)
        W = np.ones((1, len(x)))
        if self.profile == "parabola":
            xm = x.mean()
            u = x - xm
            theta = _wls(np.stack([np.ones_like(u), u, u * u], axis=1)[None, None], y, W)[0][0, 0]
            ug = xg - xm
            return theta[0] + theta[1] * ug + theta[2] * ug * ug
        al, be = self.options["profile_alpha"], self.options["profile_beta"]
        c = _law_budget(x, y, W, np.array([[al]]), np.array([[be]]))[0][0, 0]
        return c[0] + c[1] * np.exp(-al * xg) + c[2] * np.exp(be * xg)

    def plot(self, **kwargs):
        from scalelaw.plot.isoflop import plot_profiles

        return plot_profiles(self, **kwargs)


def load_isoflop(path) -> IsoflopResult:
    """Load a result saved with ``IsoflopResult.save``."""
    from scalelaw.result import read_saved_json

    # the same checks as load_fit: a folder, a missing file, a FIFO (open() would hang), not JSON
    d = read_saved_json(path, "a saved IsoFLOP result", "a result saved with iso.save / scalelaw isoflop -o")
    try:
        return IsoflopResult.from_dict(d)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None


# ---------------------------------------------------------------------------------------------
# Approach 2

def _columns(frame, inputs, target):
    if not isinstance(inputs, Mapping) or "N" not in inputs or not ({"C", "D"} & set(inputs)):
        raise ValueError("isoflop: inputs must map 'N' and 'C' (compute, FLOPs) or 'D' (tokens; C = 6 N D) "
                         f"to columns, e.g. {{'N': 'n_params', 'C': 'flops'}}; got {inputs!r}")
    unknown = set(inputs) - {"N", "C", "D"}
    if unknown:
        raise ValueError(f"isoflop: unknown input(s) {sorted(unknown)}; give N and C (or D)")
    N = numeric_column(frame, inputs["N"], "input N", positive=True)
    if "C" in inputs:
        C = numeric_column(frame, inputs["C"], "input C", positive=True)
    else:
        C = 6.0 * N * numeric_column(frame, inputs["D"], "input D", positive=True)
    y = numeric_column(frame, target, "target", positive=True)
    return N, C, y


def _summarise(draw_values, q):
    return np.nanquantile(draw_values, q, axis=0), np.nanquantile(draw_values, 1 - q, axis=0)


# A profile minimum further than this (relative) from the budget's best observed loss is flagged:
# past the 0.1-0.9% by which most budgets' parabola minimum differs from their best run (all 10 of
# data/cpu_isoflop_bpe's but one, 8 of Hoffmann's 9 budgets in Epoch's points): a larger gap is
# a misfit, not noise.
_MINIMUM_GAP = 0.01


def isoflop(df, inputs=None, target: str = "loss", *, budgets=None, tol: float = 0.05,
            profile: str = "parabola", loss_law: str = "power_law", n_boot: int = 200,
            level: float = 0.9, seed: int = 0, min_sizes: int | None = None,
            drop_edge: bool = False, weight: bool | str = True, calibrate: bool = True,
            window: int | None = None, counted: str | None = None) -> IsoflopResult:
    """Approach 2 of Hoffmann et al. 2022: IsoFLOP profiles, minima, power laws through them.

    Parameters
    ----------
    df : DataFrame or dict of columns
        One row per run (its final loss): ``inputs["N"]`` parameters, ``inputs["C"]`` compute
        (or ``inputs["D"]`` tokens, C = 6 N D), ``target`` the loss.
    budgets : sequence of float, optional
        Nominal budgets: each point joins the nearest within ``tol`` decades. Default: exact
        repeats of C, else the densest ``2 * tol``-decade windows (see :func:`assign_budgets`).
    tol : float
        Half-width of a budget's bin in decades of C (0.05: within 12%).
    profile : {"parabola", "law"}
        The profile fitted to each budget (see the module docstring).
    loss_law : {"power_law", "power"}
        L_opt(C) = L_inf + (C0/C)^alpha_C, or a pure power k_L C^a_L.
    n_boot : int
        Bootstrap resamples of the points within each budget (0: none).
    level : float
        Level of the intervals in ``optima`` and ``predict``.
    min_sizes : int, optional
        Fewest distinct sizes a budget needs (default 3 for a parabola, 4 for the law profile);
        budgets with fewer are skipped with a warning.
    drop_edge : bool
        Leave budgets whose minimum is at or beyond the edge of their sizes out of the power-law
        fits (they are always flagged in ``optima`` and ``warnings``).
    weight : bool or {"inverse_variance", "random"}
        With a bootstrap (``n_boot >= 2``), weight each budget in the fit of L_opt(C) by how well
        its minimum loss is pinned (``optima["weight"]``); ``False``: all weigh the same.
        ``True`` = ``"inverse_variance"``: 1 / s_i^2, s_i the bootstrap spread of the budget's
        minimum (in Epoch's rolling backtests inside the fitted budgets it beat equal weights at
        every origin: a wide spread flags a parabola that misfits its profile, so a biased
        minimum); ``"random"``: 1 / (s_i^2 + tau^2), tau the between-budget scatter the spreads do
        not explain (Paule-Mandel, ``optima["tau"]``), better when every run of a budget shares an
        offset a bootstrap within it cannot see (synthetic study in docs/approaches.md). N_opt(C) = k C^a
        keeps equal weights, as Hoffmann et al. fitted it.
    window : int, optional
        Parabola only: fit each budget's parabola to the ``window`` sizes nearest its best run
        (at least 3); None: every size (Hoffmann's choice).
    counted : str, optional
        A column of each run's counted compute (e.g. ``"flops_with_head"``, which ``read_logs``
        derives for our trainer's logs: LM head included). Budgets stay grouped by the nominal C
        and profiles are fitted over ln N as without it, but each optimum's compute becomes
        C_nominal * r(N_opt) (``optima["C_counted"]``, ``optima["ratio"]``) and the power laws,
        ``predict`` and the calibration are in counted compute (module docstring; Porian et al.
        2024). None: the nominal C throughout.
    calibrate : bool
        Calibrate ``predict``'s loss interval on rolling-origin backtests over the budgets: fit
        L_opt(C) on the first 3, 4, ... budgets, predict the later ones, and fit
        :func:`scalelaw.calibration.fit_error_model` to those errors (fewer than 3 origins give
        that module's conservative fallback, with a warning).

    Returns
    -------
    IsoflopResult

    Examples
    --------
    >>> import numpy as np, pandas as pd, scalelaw as sl
    >>> N, C = np.meshgrid(np.geomspace(1e7, 1e10, 12), [1e18, 1e19, 1e20, 1e21])
    >>> L = 1.69 + 406.4 / N**0.34 + 410.7 / (C / (6 * N))**0.28
    >>> df = pd.DataFrame({"N": N.ravel(), "C": C.ravel(), "loss": L.ravel()})
    >>> iso = sl.isoflop(df, inputs={"N": "N", "C": "C"}, profile="law", n_boot=0)
    >>> round(iso.params["a"], 3)  # beta / (alpha + beta) = 0.28 / 0.62
    0.452
    """
    if profile not in PROFILES:
        raise ValueError(f"isoflop: profile must be one of {PROFILES}, got {profile!r}")
    if loss_law not in ("power_law", "power"):
        raise ValueError(f"isoflop: loss_law must be 'power_law' or 'power', got {loss_law!r}")
    if not 0 < level < 1:
        raise ValueError(f"isoflop: level must be in (0, 1), got {level!r}")
    if int(n_boot) != n_boot or n_boot < 0 or n_boot == 1:
        raise ValueError(f"isoflop: n_boot must be 0 or an integer >= 2, got {n_boot!r}")
    if window is not None and (int(window) != window or window < 3):
        raise ValueError(f"isoflop: window must be None or an integer >= 3 (sizes per parabola), got {window!r}")
    if not tol > 0:
        raise ValueError(f"isoflop: tol (decades) must be > 0, got {tol!r}")
    frame = as_frame(df)
    if len(frame) == 0:
        raise ValueError("isoflop: data has no rows")
    inputs = inputs or {"N": "n_params", "C": "flops"}
    N, C, y = _columns(frame, inputs, target)
    min_sizes = _MIN_SIZES[profile] if min_sizes is None else int(min_sizes)
    warnings: list[str] = []
    knots = None
    if counted is not None:
        if not isinstance(counted, str):
            raise TypeError(f"isoflop: counted must be a column name (e.g. 'flops_with_head'), got {counted!r}")
        ratio = numeric_column(frame, counted, "counted compute", positive=True) / C
        knots = ratio_knots(N, ratio)
        spread = max((np.ptp(np.log(ratio[N == n])) for n in np.unique(N)), default=0.0)
        if spread > 0.01:
            warnings.append(f"counted compute {counted!r}: runs of one size differ by up to {np.expm1(spread):.1%} "
                            "in counted/nominal compute; r(N) is their geometric mean")

    budget_of, found = assign_budgets(C, budgets, tol, max(min_sizes, 5))
    skipped = int(np.isnan(budget_of).sum())
    if skipped:
        warnings.append(f"{skipped} of {len(C)} points are in no budget (none within {tol} decades of "
                        f"{'a given budget' if budgets is not None else f'a cluster of {max(min_sizes, 5)}+ points'}) and were skipped")
    groups, kept = [], []
    for b in found:
        m = budget_of == b
        n_sizes = len(np.unique(N[m]))
        if n_sizes < min_sizes:
            if m.any():
                warnings.append(f"budget C={b:.3g}: {n_sizes} distinct size(s), fewer than {min_sizes} "
                                f"for a {profile} profile; skipped")
            continue
        if n_sizes < 5:
            warnings.append(f"budget C={b:.3g}: only {n_sizes} sizes (< 5): its minimum is weakly determined")
        groups.append(np.flatnonzero(m))
        kept.append(b)
    if len(groups) < 2:
        raise ValueError(f"isoflop: {len(groups)} usable budget(s) (need 2+ with {min_sizes}+ sizes each); "
                         f"budgets found: {[f'{b:.3g}' for b in found]}; pass budgets= or a wider tol=")
    N0 = float(np.exp(np.mean(np.log(N))))
    xs_groups = [(np.log(N[g] / N0), y[g]) for g in groups]

    rng = np.random.default_rng(seed)
    n_draw = int(n_boot)
    Ws = []
    for g in groups:
        w = np.ones((1 + n_draw, len(g)))
        if n_draw:
            w[1:] = rng.multinomial(len(g), np.full(len(g), 1.0 / len(g)), size=n_draw)
        Ws.append(w)

    if profile == "parabola":
        mins = [_parabola(x, yy, W * _window_mask(x, yy, window)) for (x, yy), W in zip(xs_groups, Ws)]
        shape = {}
    else:
        alpha, beta, coefs = _law_fit(xs_groups, [W[:1] for W in Ws], polish=True)
        if n_draw:
            a_d, b_d, c_d = _law_fit(xs_groups, [W[1:] for W in Ws], polish=False)
            alpha, beta = np.concatenate([alpha, a_d]), np.concatenate([beta, b_d])
            coefs = [np.concatenate([c0, c1]) for c0, c1 in zip(coefs, c_d)]
        mins = [_law_minimum(alpha, beta, c) for c in coefs]
        shape = {"profile_alpha": float(alpha[0]), "profile_beta": float(beta[0])}

    rows = []
    x_star = np.stack([m[0] for m in mins], axis=1)  # (1 + B, budgets)
    l_star = np.stack([m[1] for m in mins], axis=1)
    convex = np.stack([m[2] for m in mins], axis=1)
    q = (1 - level) / 2
    Nopt_all = N0 * np.exp(x_star)
    Cb = np.array(kept)
    # each optimum's compute on the power laws' axis: the budget, or its counted compute at N_opt
    r_all = np.ones_like(Nopt_all) if knots is None else ratio_at(knots, Nopt_all)
    Cfit = Cb[None, :] * r_all
    for j, (b, g) in enumerate(zip(kept, groups)):
        sizes = np.unique(N[g])
        ok = bool(convex[0, j])
        lo_edge, hi_edge = np.log(sizes.min() / N0), np.log(sizes.max() / N0)
        edge = (not ok) or not (lo_edge < x_star[0, j] < hi_edge)
        if not ok:
            warnings.append(f"budget C={b:.3g}: the {profile} profile is not convex (loss falls monotonically "
                            "across its sizes): no interior minimum")
        elif edge:
            side = "below the smallest" if x_star[0, j] <= lo_edge else "above the largest"
            warnings.append(f"budget C={b:.3g}: the minimum (N={Nopt_all[0, j]:.3g}) is {side} size "
                            f"({sizes.min():.3g}-{sizes.max():.3g}): extrapolated; add sizes on that side")
        best = float(y[g].min())
        gap = float(l_star[0, j]) / best - 1
        if ok and not edge and abs(gap) > _MINIMUM_GAP:
            # A profile's minimum cannot lie far from what its best run reached: beyond run-to-run
            # noise, a gap says the fitted curve misfits a lopsided valley (its far sizes, whose
            # losses rise steeply on one side, drag a parabola: Porian et al. 2024's critique).
            # On data/cpu_isoflop_bpe's 3.84e13 budget the 6-size parabola's minimum is 3.0% below
            # every run; fitted to the 5 sizes nearest the best run it is 0.1% below.
            hint = ("try window=5 (the sizes nearest the best run) or profile='law'" if profile == "parabola"
                    else "compare profile='parabola' with a window")
            warnings.append(f"budget C={b:.3g}: the {profile} profile's minimum ({l_star[0, j]:.4g}) is "
                            f"{abs(gap):.1%} {'below' if gap < 0 else 'above'} the budget's best run "
                            f"({best:.4g}): the profile misfits a lopsided valley, so its minimum is biased; {hint}")
        row = {"C": float(b), "n_points": len(g), "n_sizes": len(sizes), "N_min": float(sizes.min()),
               "N_max": float(sizes.max()), "N_opt": float(Nopt_all[0, j]),
               "D_opt": float(b / (6 * Nopt_all[0, j])), "loss_opt": float(l_star[0, j]),
               **({"C_counted": float(Cfit[0, j]), "ratio": float(r_all[0, j])} if knots is not None else {}),
               "best_loss": best, "N_best": float(N[g][np.argmin(y[g])]),
               "edge": bool(edge), "convex": ok}
        if n_draw:
            bad = ~convex[1:, j]
            nlo, nhi = _summarise(np.where(bad, np.nan, Nopt_all[1:, j]), q)
            llo, lhi = _summarise(np.where(bad, np.nan, l_star[1:, j]), q)
            row.update(N_opt_lo=float(nlo), N_opt_hi=float(nhi), D_opt_lo=float(b / (6 * nhi)),
                       D_opt_hi=float(b / (6 * nlo)), loss_opt_lo=float(llo), loss_opt_hi=float(lhi),
                       n_nonconvex_draws=int(bad.sum()))
        rows.append(row)
    optima = pd.DataFrame(rows)

    use = optima["convex"].to_numpy(dtype=bool).copy()
    if drop_edge:
        use &= ~optima["edge"].to_numpy(dtype=bool)
    if use.sum() < 2:
        raise ValueError(f"isoflop: {int(use.sum())} budget(s) with an interior minimum; cannot fit N_opt(C)")
    if drop_edge and (~use).any():
        warnings.append(f"{int((~use).sum())} budget(s) with their minimum at an edge left out of the power laws")
    optima["used"] = use
    if loss_law == "power_law" and use.sum() < 3:
        warnings.append(f"{int(use.sum())} budgets cannot fit L_opt(C) = L_inf + (C0/C)^alpha_C (3 parameters): "
                        "fitted a pure power law k_L C^a_L instead")
        loss_law = "power"
    wL = None
    scheme = _weight_scheme(weight)
    if scheme and n_draw:
        # weights for L_opt(C) from each budget's bootstrap: a budget whose minimum loss is
        # poorly pinned (few sizes, a flat valley, noise, a parabola that misfits a lopsided
        # profile) should not pull the extrapolation as much as one whose minimum is sharp.
        # "inverse_variance" (the default): 1 / s_i^2. "random": 1 / (s_i^2 + tau^2), tau^2 the
        # between-budget variance the spreads do not explain (what all of a budget's runs share:
        # seed, schedule), estimated from the minima's scatter about the law (Paule-Mandel); it
        # flattens the weights towards equal when that scatter exceeds the spreads. Which is
        # better depends on why the minima scatter (docs/approaches.md: the evidence). The spread s_i is the
        # bootstrap's half-width in log space over z. N_opt(C) keeps equal weights, as Hoffmann's.
        with np.errstate(all="ignore"):
            sL = np.log(optima["loss_opt_hi"] / optima["loss_opt_lo"]).to_numpy(float)[use] / 2 / _z(level)
        if scheme == "random":
            wL, tau = _random_effects_weights(Cfit[0, use], l_star[0, use], sL, loss_law)
            optima["tau"] = tau
        else:
            wL = _inverse_variance(sL, 1e-4)
        optima.loc[use, "weight"] = wL
    with np.errstate(divide="ignore", invalid="ignore"):  # a non-convex bootstrap draw has N_opt 0 or NaN
        Dopt = (Cb[None, :] / (6 * Nopt_all))[:, use] if knots is not None else None
    params, draws = _fit_power_laws(Cfit[:, use] if knots is not None else Cb[use], Nopt_all[:, use],
                                    l_star[:, use], loss_law, warnings, None, wL, Dopt=Dopt)
    calibration = _calibrate_loss(Cfit[0, use], l_star[0, use], loss_law, wL, params) if calibrate else None
    if calibration is not None:
        warnings.extend(calibration.warnings)

    pts = pd.DataFrame({"N": N, "C": C, "loss": y, "budget": budget_of})
    if knots is not None:
        pts["C_counted"] = C * ratio
    return IsoflopResult(approach=2, profile=profile, inputs=inputs, target=target, loss_law=loss_law,
                         points=pts, optima=optima, params=params, draws=draws, warnings=warnings,
                         level=level, options={"tol": tol, "budgets": None if budgets is None else
                                               [float(b) for b in np.ravel(budgets)], "n_boot": n_draw,
                                               "seed": seed, "min_sizes": min_sizes, "drop_edge": drop_edge, "window": window,
                                               "weight": (scheme if n_draw else None),
                                               "N0": N0, **shape,
                                               "counted": None if knots is None else
                                               {"column": counted, "ln_N": knots[0].tolist(),
                                                "ln_r": knots[1].tolist()}}, calibration=calibration)


def _calibrate_loss(C, L, loss_law, weights, params):
    """Rolling-origin backtests of L_opt(C) over the budgets (sorted by C): each origin m fits the
    first m minima and predicts the later ones. Their log errors and distances (decades beyond
    the origin's largest budget) make a :class:`scalelaw.calibration.Calibration`."""
    from scalelaw.calibration import fit_error_model, residual_scale

    order = np.argsort(C)
    C, L = C[order], L[order]
    w = None if weights is None else np.asarray(weights, float)[order]
    first = 3 if loss_law == "power_law" else 2
    errors, dists, folds = [], [], []
    for m in range(first, len(C)):
        try:
            with np.errstate(all="ignore"):
                fitted = _loss_law_fit(C[:m], L[:m], loss_law, start=params,
                                       weights=None if w is None else w[:m])
        except (ValueError, FloatingPointError):
            continue
        if fitted is None:
            continue
        pred = loss_at(fitted[0], C[m:], loss_law)
        errors.extend(np.log(L[m:] / pred))
        dists.extend(np.log10(C[m:] / C[m - 1]))
        folds.extend([m] * (len(C) - m))
    n_free = 3 if loss_law == "power_law" else 2
    floor = residual_scale(np.log(L / loss_at(params, C, loss_law)), n_free)
    return fit_error_model(errors, dists, folds, noise_floor=floor)


WEIGHTS = ("random", "inverse_variance")


def _weight_scheme(weight):
    """``weight=`` -> "random", "inverse_variance" or None (equal weights)."""
    if weight is True:
        return "inverse_variance"
    if weight is False or weight is None:
        return None
    if weight in WEIGHTS:
        return weight
    raise ValueError(f"isoflop: weight must be True, False or one of {WEIGHTS}, got {weight!r}")


def _z(level):
    from scipy.stats import norm

    return float(norm.ppf(0.5 + level / 2))


def _clean_spread(spread):
    s = np.asarray(spread, dtype=float)
    s = np.where(np.isfinite(s) & (s > 0), s, np.nan)
    if np.all(np.isnan(s)):
        return None
    return np.where(np.isnan(s), np.nanmedian(s), s)  # a missing spread gets the median's


def _loglog_line(lc, ly, w):
    """Weighted line ln L = c + s ln C: fitted values."""
    W = w / w.sum()
    mc, my = np.sum(W * lc), np.sum(W * ly)
    slope = np.sum(W * (lc - mc) * (ly - my)) / np.sum(W * (lc - mc) ** 2)
    return my + slope * (lc - mc)


def _random_effects_weights(C, L, spread, loss_law):
    """Random-effects weights 1 / (s_i^2 + tau^2) for the minima's log losses (mean 1) and tau.

    tau^2 is the Paule-Mandel estimate (as in random-effects meta-analysis, DerSimonian & Kacker
    2007): the between-budget variance at which the weighted residuals of the fit have their
    expected chi-square, sum w_i r_i^2 = m - p; 0 when the spreads alone explain the scatter.
    The fit is the L_opt law itself when it leaves a degree of freedom (m >= 4 budgets for the
    3-parameter ``power_law``), else a line in log-log (m = 3); with fewer, equal weights.
    """
    s = _clean_spread(spread)
    m = len(C)
    if s is None or m < 3:
        return np.ones(m), float("nan")
    lc, ly = np.log(C), np.log(L)
    n_par = 3 if loss_law == "power_law" else 2
    use_law = m - n_par >= 1
    dof = m - (n_par if use_law else 2)
    start = None
    if use_law:
        try:
            start = _loss_law_fit(C, L, loss_law)[0]
        except (ValueError, RuntimeError, TypeError):
            use_law, dof = False, m - 2

    def q(tau2):
        w = 1.0 / (s ** 2 + tau2)
        fitted = None
        if use_law:
            try:
                with np.errstate(all="ignore"):
                    p, _ = _loss_law_fit(C, L, loss_law, start=start, weights=w / w.mean())
                fitted = np.log(loss_at(p, C, loss_law))
            except (ValueError, FloatingPointError):
                fitted = None
        if fitted is None or not np.all(np.isfinite(fitted)):
            fitted = _loglog_line(lc, ly, w)
        return float(np.sum(w * (ly - fitted) ** 2)) - dof

    if q(0.0) <= 0:
        tau2 = 0.0
    else:
        lo, hi = -30.0, float(np.log(max(np.var(ly), 1e-12) * 10 + np.max(s) ** 2))
        if q(np.exp(hi)) > 0:
            tau2 = float(np.exp(hi))
        else:
            for _ in range(40):  # bisection in ln tau^2: q falls as tau^2 grows
                mid = 0.5 * (lo + hi)
                lo, hi = (mid, hi) if q(np.exp(mid)) > 0 else (lo, mid)
            tau2 = float(np.exp(0.5 * (lo + hi)))
    w = 1.0 / (s ** 2 + tau2)
    return w / w.mean(), float(np.sqrt(tau2))


def _inverse_variance(spread, floor):
    """1 / spread^2 normalised to mean 1; a missing spread gets the median's weight."""
    s = np.where(np.isfinite(spread) & (spread > 0), np.maximum(spread, floor), np.nan)
    if np.all(np.isnan(s)):
        return np.ones(len(s))
    s = np.where(np.isnan(s), np.nanmedian(s), s)
    w = 1.0 / s ** 2
    return w / w.mean()


def _fit_power_laws(C, Nopt, Lopt, loss_law, warnings, wN=None, wL=None, Dopt=None):
    """Row 0 of ``Nopt``/``Lopt`` (and of ``C``, which may be one row for all) is the fit, rows
    1.. bootstrap draws (NaN pads unequal lengths): params and a frame of draws. ``wN``, ``wL``:
    weights per budget (one row, shared by the fit and every draw). ``Dopt`` (counted compute):
    b is the slope of ln D_opt against ln C, fitted as a is; without it b = 1 - a (C = 6 N D)."""
    C = np.broadcast_to(C, Nopt.shape)
    a, lk = _power_fit(C, Nopt, wN)
    b = 1 - a if Dopt is None else _power_fit(C, Dopt, wN)[0]
    params = {"a": float(a[0]), "b": float(b[0]), "k": float(np.exp(lk[0]))}
    fitted = _loss_law_fit(C[0], Lopt[0], loss_law, weights=wL)
    if fitted is None:
        raise ValueError(f"too few optima to fit L_opt(C) with {loss_law}")
    lp, notes = fitted
    params.update(lp)
    warnings.extend(f"L_opt(C) fit: {n}" for n in notes)
    draws = None
    if Nopt.shape[0] > 1:
        rows = []
        for i in range(1, Nopt.shape[0]):
            with np.errstate(over="ignore"):  # a draw's wild slope gives k = inf, not a warning
                row = {"a": a[i], "b": b[i], "k": np.exp(lk[i])}
            try:
                with np.errstate(all="ignore"):
                    f = _loss_law_fit(C[i], Lopt[i], loss_law, start=lp, weights=wL)
            except (ValueError, FloatingPointError):
                f = None
            row.update(f[0] if f else {k: np.nan for k in lp})
            rows.append(row)
        draws = pd.DataFrame(rows, columns=list(params))
        n_bad = int(draws.isna().any(axis=1).sum())
        if n_bad:
            warnings.append(f"bootstrap: {n_bad} of {len(draws)} draws had a non-convex profile or failed "
                            "to fit and were dropped")
    return params, draws
