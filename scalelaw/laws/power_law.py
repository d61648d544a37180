"""Power law plus constant (Henighan et al. 2020, "Scaling Laws for Autoregressive Generative
Modeling", arXiv:2010.14701).

    L(x) = L_inf + (x0 / x)^alpha

x is a scale: non-embedding parameters N, tokens D or compute C (FLOPs; Henighan fit L(C) to the
compute-efficient frontier, see :func:`scalelaw.frontier`). L_inf is the irreducible loss (nats),
x0 the scale at which the reducible loss is 1 nat, alpha the exponent.

Numerics: evaluated as ``L_inf + exp(alpha * (log x0 - log x))`` so x ~ 1e21 FLOPs is safe.
"""

from __future__ import annotations

import numpy as np

from .base import Input, Law, Param, nnls_seeds


def power_law(x, *, L_inf, x0, alpha):
    """L = L_inf + (x0/x)^alpha (Henighan et al. 2020)."""
    # x0 = 0 is the term's collapse (data with no fall toward a floor): log 0 = -inf, exp(-inf) = 0,
    # the right limit, without numpy's "divide by zero encountered in log" on every evaluation
    with np.errstate(divide="ignore"):
        return L_inf + np.exp(alpha * (np.log(x0) - np.log(x)))


class PowerLaw(Law):
    def seeds(self, X, y, options, fixed, info=None):
        # Given alpha the law is linear in (L_inf, K = x0^alpha): solve those exactly (variable projection).
        alphas = np.geomspace(0.02, 2.0, 40) if "alpha" not in fixed else np.array([fixed["alpha"]])
        x = X["x"]
        designs = np.stack([np.stack([np.ones_like(x), x ** -a], axis=1) for a in alphas])
        coefs, rss = nnls_seeds(designs, y)
        out = []
        for a, (l_inf, k) in zip(alphas, coefs):
            if np.isfinite(l_inf) and k > 0:
                out.append({"L_inf": max(l_inf, 1e-3 * y.min()), "x0": k ** (1.0 / a), "alpha": a})
        return out

    def start_grid(self, X, y, options):
        x = X["x"]
        return {
            "L_inf": y.min() * np.array([0.3, 0.6, 0.9]),
            "x0": np.geomspace(x.min() * 1e-3, x.max(), 5),
            "alpha": np.array([0.05, 0.1, 0.3, 0.7, 1.5]),
        }

LAW = PowerLaw(
    name="power_law",
    formula="L = L_inf + (x0 / x)^alpha",
    latex=r"L(x) = L_\infty + \left(\frac{x_0}{x}\right)^{\alpha}",
    source="Henighan et al. 2020, Scaling Laws for Autoregressive Generative Modeling (arXiv:2010.14701)",
    inputs=(Input("x", "scale: parameters N, tokens D or compute C (FLOPs)", column="flops",
                  identifies=("x0", "alpha")),),
    params=(
        Param("L_inf", "irreducible loss (nats)", floor=True),
        Param("x0", "scale where the reducible loss is 1 nat (units of x)"),
        Param("alpha", "exponent", max=10.0),
    ),
    function=power_law,
)
