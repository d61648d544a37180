"""Kaplan's model-size / steps law (Kaplan et al. 2020, arXiv:2001.08361, eq. 1.6; Su et al. 2024,
arXiv:2403.06563).

    L(N, S_min) = (N_c / N)^alpha_N + (S_c / S_min)^alpha_S

N non-embedding parameters, S_min the steps a run would need at the critical batch size
(``scalelaw.laws.critical_batch.s_min(S, B, B_crit)`` converts steps taken at batch B), L nats.
Kaplan's values: alpha_N 0.076, alpha_S 0.76, N_c 8.8e13, S_c 2.1e3.
"""

from __future__ import annotations

import numpy as np

from .base import Input, Law, Param, cartesian, nnls_seeds


def kaplan_ns(N, S_min, *, N_c, alpha_N, S_c, alpha_S):
    """L = (N_c/N)^alpha_N + (S_c/S_min)^alpha_S (Kaplan et al. 2020)."""
    return np.exp(alpha_N * (np.log(N_c) - np.log(N))) + np.exp(alpha_S * (np.log(S_c) - np.log(S_min)))


class KaplanNS(Law):
    def seeds(self, X, y, options, fixed, info=None):
        # Linear in (N_c^alpha_N, S_c^alpha_S) once the exponents are fixed: variable projection.
        g = cartesian({
            "alpha_N": [fixed["alpha_N"]] if "alpha_N" in fixed else np.geomspace(0.02, 1.5, 16),
            "alpha_S": [fixed["alpha_S"]] if "alpha_S" in fixed else np.geomspace(0.02, 1.5, 16),
        })
        N, S = X["N"], X["S_min"]
        designs = np.stack([np.stack([N ** -a, S ** -b], axis=1) for a, b in zip(g["alpha_N"], g["alpha_S"])])
        coefs, rss = nnls_seeds(designs, y)
        out = []
        for i in np.argsort(rss)[:64]:
            u, v = coefs[i]
            if u > 0 and v > 0:
                a, b = g["alpha_N"][i], g["alpha_S"][i]
                out.append({"N_c": u ** (1 / a), "alpha_N": a, "S_c": v ** (1 / b), "alpha_S": b})
        return out

    def start_grid(self, X, y, options):
        return {
            "N_c": np.geomspace(X["N"].min(), X["N"].max() * 1e6, 4),
            "alpha_N": np.array([0.05, 0.1, 0.3]),
            "S_c": np.geomspace(X["S_min"].min() * 1e-2, X["S_min"].max(), 4),
            "alpha_S": np.array([0.1, 0.5, 1.0]),
        }


LAW = KaplanNS(
    name="kaplan_ns",
    formula="L = (N_c / N)^alpha_N + (S_c / S_min)^alpha_S",
    latex=r"L(N, S_{\min}) = \left(\frac{N_c}{N}\right)^{\alpha_N} + \left(\frac{S_c}{S_{\min}}\right)^{\alpha_S}",
    source="Kaplan et al. 2020 (arXiv:2001.08361); Su et al. 2024 (arXiv:2403.06563)",
    inputs=(
        Input("N", "non-embedding parameters", column="n_params", identifies=("N_c", "alpha_N")),
        Input("S_min", "steps at the critical batch size", column="step", identifies=("S_c", "alpha_S")),
    ),
    params=(
        Param("N_c", "critical model size (parameters)"),
        Param("alpha_N", "model-size exponent", max=5.0),
        Param("S_c", "critical steps"),
        Param("alpha_S", "steps exponent", max=5.0),
    ),
    function=kaplan_ns,
)
