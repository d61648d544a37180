"""Chinchilla's parametric loss (Hoffmann et al. 2022, "Training Compute-Optimal Large Language
Models", arXiv:2203.15556, approach 3).

    L(N, D) = E + A / N^alpha + B / D^beta

N non-embedding parameters, D training tokens, L in nats. E is the entropy of text, A/N^alpha
the shortfall of a finite model, B/D^beta of finite data. For C = 6 N D FLOPs the optimum is
N_opt = G (C/6)^a, D_opt = G^-1 (C/6)^b with a = beta/(alpha+beta), b = alpha/(alpha+beta),
G = (alpha A / (beta B))^(1/(alpha+beta)).

Fitted, as Hoffmann and Epoch (Besiroglu et al. 2024, arXiv:2404.10102) do, to one point per run
(the final loss of a run whose schedule ended at D; see :func:`scalelaw.final_points`), with a
Huber loss (delta 1e-3) on log residuals. Evaluated as E + exp(log A - alpha log N) + ...
"""

from __future__ import annotations

import numpy as np

from .base import Input, Law, Param, as_numbers, as_scalar as _scalar, cartesian, nnls_seeds


def chinchilla(N, D, *, E, A, alpha, B, beta):
    """L = E + A/N^alpha + B/D^beta (Hoffmann et al. 2022)."""
    return E + np.exp(np.log(A) - alpha * np.log(N)) + np.exp(np.log(B) - beta * np.log(D))


class Chinchilla(Law):
    def seeds(self, X, y, options, fixed, info=None):
        # Variable projection: for each (alpha, beta) the law is linear in (E, A, B) >= 0.
        grid = {
            "alpha": np.array([fixed["alpha"]]) if "alpha" in fixed else np.linspace(0.05, 1.5, 20),
            "beta": np.array([fixed["beta"]]) if "beta" in fixed else np.linspace(0.05, 1.5, 20),
        }
        g = cartesian(grid)
        N, D = X["N"], X["D"]
        ones = np.ones_like(N)
        designs = np.stack([np.stack([ones, N ** -a, D ** -b], axis=1) for a, b in zip(g["alpha"], g["beta"])])
        coefs, rss = nnls_seeds(designs, y)
        order = np.argsort(rss)[:64]
        out = []
        for i in order:
            E, A, B = coefs[i]
            if np.all(np.isfinite(coefs[i])):
                tiny = 1e-6 * float(y.min())
                out.append({"E": max(E, tiny), "A": max(A, tiny), "alpha": g["alpha"][i],
                            "B": max(B, tiny), "beta": g["beta"][i]})
        return out

    def start_grid(self, X, y, options):
        # Hoffmann et al.'s grid (their appendix D.2), exponent 0 replaced by 0.05 (log-space fit).
        return {
            "E": np.exp(np.array([-1.0, -0.5, 0.0, 0.5, 1.0])),
            "A": np.exp(np.arange(0.0, 26.0, 5.0)),
            "alpha": np.array([0.05, 0.5, 1.0, 1.5, 2.0]),
            "B": np.exp(np.arange(0.0, 26.0, 5.0)),
            "beta": np.array([0.05, 0.5, 1.0, 1.5, 2.0]),
        }

    def derived(self, params, info=None):
        a, b = params["alpha"], params["beta"]
        return {"a": b / (a + b), "b": a / (a + b)}

    def optimum(self, params, info, C=None, **kwargs):
        """Compute-optimal N, D and loss at FLOP budget C = 6 N D (closed form)."""
        if C is None or kwargs:
            raise ValueError("chinchilla optimum needs exactly C=<FLOPs>, e.g. fit.optimum(C=1e21)")
        C = as_numbers(C, "optimum: C").reshape(np.shape(C))
        if np.any(~np.isfinite(C) | (C <= 0)):
            raise ValueError(f"optimum: C must be a finite number > 0 (FLOPs), got {C}")
        p = params
        s = p["alpha"] + p["beta"]
        G = (p["alpha"] * p["A"] / (p["beta"] * p["B"])) ** (1.0 / s)
        N = G * (C / 6.0) ** (p["beta"] / s)
        D = (C / 6.0) / N
        loss = chinchilla(N, D, **p)
        return {"N": _scalar(N), "D": _scalar(D), "loss": _scalar(loss), "C": _scalar(C)}


LAW = Chinchilla(
    name="chinchilla",
    formula="L = E + A / N^alpha + B / D^beta",
    latex=r"L(N, D) = E + \frac{A}{N^{\alpha}} + \frac{B}{D^{\beta}}",
    source="Hoffmann et al. 2022, Training Compute-Optimal Large Language Models (arXiv:2203.15556)",
    inputs=(
        Input("N", "non-embedding parameters", column="n_params", identifies=("A", "alpha")),
        Input("D", "training tokens", column="n_tokens", identifies=("B", "beta")),
    ),
    params=(
        Param("E", "irreducible loss (nats)", floor=True),
        Param("A", "model-size coefficient"),
        Param("alpha", "model-size exponent", max=5.0),
        Param("B", "data coefficient"),
        Param("beta", "data exponent", max=5.0),
    ),
    function=chinchilla,
)
