"""Form uncertainty for (N, D) laws: how far a form that contains the fitted one moves the prediction.

Why
---
A law's prediction beyond its data is uncertain for a reason the backtests inside the data cannot
see: the N x D *interaction* the form leaves out. Chinchilla's form is additive,
L = E + A/N^alpha + B/D^beta; Kaplan's [(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D couples N and D.
Inside the fitted box both fit about equally well; in an N x D corner the data never covered
(large N at short D, the largest sizes at mid D) they part. Rolling-origin backtests cut along
one input at a time and find no growth of the error there (issue 11: on Epoch's points the misses
are exactly such corners while the in-sample residuals are homoscedastic).

The nesting form
----------------
Both laws are members of one family,

    G(N, D) = E + [ (A / N^alpha)^(1/c) + (B / D^beta)^(1/c) ]^c ,

with c = 1 giving Chinchilla and E = 0, beta = c giving kaplan_nd (A = N_c^alpha_N,
B = D_c^alpha_D). c measures the interaction (c < 1: the larger term dominates, c > 1: the terms
compound). G is fitted once to the same rows as the law (its own multi-start search: Chinchilla's
variable-projection seeds for several c, and Kaplan's). Because G contains the law, it fits the rows
at least as well; the *spread* at a query point,

    s(x) = | log G(x) - log L(x) | ,

is therefore zero where the data pin the form (the two coincide on the rows up to the noise) and
grows where the data leave the interaction free, which is the N x D corners, not merely far out.
If G's search ends with a worse objective than the law's own fit (a failed search), no spread is
used (s = 0) and the calibration says so in its warnings.

How it enters the interval (:meth:`scalelaw.calibration.Calibration.interval`): the calibrated
half-width h(d) becomes max(h(d), s(x)) in log space, i.e. the interval always reaches the nesting
form's prediction. The rule (max, rather than quadrature or the sum) was chosen on synthetic
replicates only (``python benchmarks/bench_coverage_synthetic.py --forms``; see the calibration
module docstring, step 5, for the figures).
"""

from __future__ import annotations

import warnings as _warnings

import numpy as np

from .laws.base import Input, Law, Param
from .laws.chinchilla import Chinchilla
from .laws.kaplan_nd import KaplanND

#: laws whose calibrated interval carries the form spread (inputs N and D, nested in G)
LAWS = ("chinchilla", "kaplan_nd")


def nested_nd(N, D, *, E, A, alpha, B, beta, c):
    """G = E + [(A/N^alpha)^(1/c) + (B/D^beta)^(1/c)]^c, evaluated with log-sum-exp."""
    u = (np.log(A) - alpha * np.log(N)) / c
    v = (np.log(B) - beta * np.log(D)) / c
    return E + np.exp(c * np.logaddexp(u, v))


class NestedND(Law):
    def seeds(self, X, y, options, fixed, info=None):
        # Chinchilla's variable-projection seeds at several interactions c, and Kaplan's (E ~ 0,
        # c = beta = alpha_D): both fitted laws' basins are among the starts.
        out = []
        for p in Chinchilla.seeds(self, X, y, options, {}, info)[:16]:
            for c in (0.5, 0.75, 1.0, 1.5, 2.0):
                out.append({**p, "c": c})
        tiny = 1e-3 * float(np.min(y))
        for p in KaplanND.seeds(self, X, y, options, {}, info)[:16]:
            out.append({"E": tiny, "A": p["N_c"] ** p["alpha_N"], "alpha": p["alpha_N"],
                        "B": p["D_c"] ** p["alpha_D"], "beta": p["alpha_D"], "c": p["alpha_D"]})
        return out

    def start_grid(self, X, y, options):
        lo = float(np.min(y))
        return {"E": np.array([0.2, 0.6]) * lo, "A": np.exp(np.array([3.0, 9.0])), "alpha": np.array([0.3, 0.7]),
                "B": np.exp(np.array([3.0, 9.0])), "beta": np.array([0.3, 0.7]), "c": np.array([0.7, 1.0, 1.4])}


NESTED = NestedND(
    name="nested_nd",
    formula="L = E + [(A / N^alpha)^(1/c) + (B / D^beta)^(1/c)]^c",
    latex=r"L = E + \left[(A/N^\alpha)^{1/c} + (B/D^\beta)^{1/c}\right]^c",
    source="contains Hoffmann et al. 2022 (c = 1) and Kaplan et al. 2020 (E = 0, beta = c)",
    inputs=(Input("N", "parameters", column="n_params", identifies=("A", "alpha")),
            Input("D", "tokens", column="n_tokens", identifies=("B", "beta"))),
    params=(Param("E", "irreducible loss"), Param("A", "model-size coefficient"),
            Param("alpha", "model-size exponent", max=5.0), Param("B", "data coefficient"),
            Param("beta", "data exponent", max=5.0), Param("c", "interaction (1: additive)", min=0.05, max=20.0)),
    function=nested_nd,
)


def fit_nested(fit) -> tuple[dict | None, str | None]:
    """Fit G to a :class:`~scalelaw.result.FitResult`'s rows (same target, loss and weights).

    Returns ``(params, None)``, or ``(None, reason)`` when G cannot be used: the law is not one of
    :data:`LAWS`, the fit has fixed parameters (G would not contain the constrained law), or G's
    search ended worse than the law's own fit."""
    if fit.law.name not in LAWS:
        return None, None
    if fit.spec.fixed:
        return None, "form spread: not used (the law has fixed parameters; the nesting form would not contain it)"
    # through the search directly, as calibration's fold refits: scalelaw.fit sits above this layer
    from scalelaw.fitting.search import search

    weights = "_weight" if "_weight" in fit.table.columns else None
    try:
        with _warnings.catch_warnings():
            _warnings.simplefilter("ignore")
            g = type(fit)._from_search(**search(
                NESTED, fit.table, dict(fit.inputs), fit.target, loss=fit.loss, delta=fit.delta, fixed=None,
                bounds=None, weights=weights, seed=fit.seed, params=None, n_polish=8, max_grid=2000,
                options=NESTED.check_options({})))
    except Exception as err:  # noqa: BLE001 - a failed search: no spread, said in a warning
        return None, f"form spread: not used (the nesting form could not be fitted: {err})"
    # G contains the law: its optimum is at least as good; a worse one is a failed search
    if not g.objective <= fit.objective * (1 + 1e-6) + 1e-12:
        return None, ("form spread: not used (the nesting form's search ended worse than the law's own fit, "
                      f"objective {g.objective:.4g} > {fit.objective:.4g})")
    return {k: float(v) for k, v in g.params.items()}, None


def spread(params: dict, feats, pred) -> np.ndarray:
    """|log G(x) - log pred| at prediction features ``feats`` (with ``N`` and ``D``); 0 where not finite."""
    N = np.asarray(feats["N"], dtype=float).reshape(-1)
    D = np.asarray(feats["D"], dtype=float).reshape(-1)
    with np.errstate(all="ignore"):
        s = np.abs(np.log(nested_nd(N, D, **params)) - np.log(np.asarray(pred, dtype=float).reshape(-1)))
    return np.where(np.isfinite(s), s, 0.0)
