"""Kaplan's joint model-size / data law (Kaplan et al. 2020, "Scaling Laws for Neural Language
Models", arXiv:2001.08361, eq. 1.5; re-estimated on 1M-60M models by Su et al. 2024,
"Unraveling the Mystery of Scaling Laws: Part I", arXiv:2403.06563).

    L(N, D) = [ (N_c / N)^(alpha_N / alpha_D) + D_c / D ]^alpha_D

N non-embedding parameters, D tokens, L nats. Kaplan's values: alpha_N 0.076, alpha_D 0.095,
N_c 8.8e13, D_c 5.4e13 (their tokeniser and data). Evaluated with log-sum-exp in log space.
The compute-optimal allocation at C = 6 N D has no tidy closed form here, so ``optimum``
minimises over N numerically (the loss is unimodal in log N along the budget).
"""

from __future__ import annotations

import numpy as np

from .base import Input, Law, Param, as_numbers, as_scalar, cartesian, nnls_seeds


def kaplan_nd(N, D, *, N_c, alpha_N, D_c, alpha_D):
    """L = [(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D (Kaplan et al. 2020)."""
    log_t = np.logaddexp((alpha_N / alpha_D) * (np.log(N_c) - np.log(N)), np.log(D_c) - np.log(D))
    return np.exp(alpha_D * log_t)


class KaplanND(Law):
    def seeds(self, X, y, options, fixed, info=None):
        # For fixed exponents, y^(1/alpha_D) = u N^(-alpha_N/alpha_D) + D_c / D is linear in
        # (u = N_c^(alpha_N/alpha_D), D_c): variable projection on a transformed target.
        g = cartesian({
            "alpha_D": [fixed["alpha_D"]] if "alpha_D" in fixed else np.geomspace(0.02, 1.0, 14),
            "alpha_N": [fixed["alpha_N"]] if "alpha_N" in fixed else np.geomspace(0.02, 1.0, 14),
        })
        N, D = X["N"], X["D"]
        out = []
        for a_d, a_n in zip(g["alpha_D"], g["alpha_N"]):
            ratio = a_n / a_d
            target = y ** (1.0 / a_d)
            design = np.stack([N ** -ratio, 1.0 / D], axis=1)[None]
            coef, rss = nnls_seeds(design, target)
            u, d_c = coef[0]
            if np.isfinite(rss[0]) and u > 0 and d_c > 0:
                out.append((rss[0], {"N_c": u ** (1.0 / ratio), "alpha_N": a_n, "D_c": d_c, "alpha_D": a_d}))
        out.sort(key=lambda t: t[0])
        return [p for _, p in out[:64]]

    def start_grid(self, X, y, options):
        N, D = X["N"], X["D"]
        return {
            "N_c": np.geomspace(N.min(), N.max() * 1e6, 4),
            "alpha_N": np.array([0.05, 0.1, 0.3]),
            "D_c": np.geomspace(D.min(), D.max() * 1e6, 4),
            "alpha_D": np.array([0.05, 0.1, 0.3]),
        }

    def optimum(self, params, info, C=None, **kwargs):
        """Compute-optimal N, D and loss at FLOP budget C = 6 N D (numerical, 1-D in log N)."""
        from scipy.optimize import minimize_scalar

        if C is None or kwargs:
            raise ValueError("kaplan_nd optimum needs exactly C=<FLOPs>, e.g. fit.optimum(C=1e21)")
        Cs = as_numbers(C, "optimum: C")
        if np.any(~np.isfinite(Cs) | (Cs <= 0)):
            raise ValueError(f"optimum: C must be a finite number > 0 (FLOPs), got {C}")
        Ns = []
        for c in Cs:
            total = np.log(c / 6.0)
            res = minimize_scalar(lambda t: float(np.log(kaplan_nd(np.exp(t), np.exp(total - t), **params))),
                                  bounds=(0.0, total), method="bounded", options={"xatol": 1e-10})
            Ns.append(np.exp(res.x))
        N = np.asarray(Ns).reshape(np.shape(C))
        D = np.asarray(C, dtype=float) / 6.0 / N
        return {"N": as_scalar(N), "D": as_scalar(D), "loss": as_scalar(kaplan_nd(N, D, **params)), "C": as_scalar(C)}


LAW = KaplanND(
    name="kaplan_nd",
    formula="L = [(N_c / N)^(alpha_N / alpha_D) + D_c / D]^alpha_D",
    latex=r"L(N, D) = \left[\left(\frac{N_c}{N}\right)^{\alpha_N/\alpha_D} + \frac{D_c}{D}\right]^{\alpha_D}",
    source="Kaplan et al. 2020 (arXiv:2001.08361); Su et al. 2024 (arXiv:2403.06563)",
    inputs=(
        Input("N", "non-embedding parameters", column="n_params", identifies=("N_c", "alpha_N")),
        Input("D", "training tokens", column="n_tokens", identifies=("D_c",)),
    ),
    params=(
        Param("N_c", "critical model size (parameters)"),
        Param("alpha_N", "model-size exponent", max=5.0),
        Param("D_c", "critical data size (tokens)"),
        Param("alpha_D", "data exponent", max=5.0),
    ),
    function=kaplan_nd,
)
