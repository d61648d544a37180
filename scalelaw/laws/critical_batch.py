"""Critical batch size as a function of loss (Kaplan et al. 2020, arXiv:2001.08361, eq. 1.4;
re-estimated by Su et al. 2024, arXiv:2403.06563).

    B_crit(L) = B_star / L^(1/alpha_B)

L the loss in nats, B_crit in tokens, B_star in tokens (Kaplan: 2e8 tokens, alpha_B 0.21).
With it, training at batch B trades steps against data (Kaplan's eq. 5.4):
S_min = S / (1 + B_crit / B) and C_min = C / (1 + B / B_crit), see :func:`s_min`, :func:`c_min`.
"""

from __future__ import annotations

import numpy as np

from .base import Input, Law, Param, loglog_line


def critical_batch(L, *, B_star, alpha_B):
    """B_crit = B_star / L^(1/alpha_B) (Kaplan et al. 2020)."""
    return np.exp(np.log(B_star) - np.log(L) / alpha_B)


def s_min(S, B, B_crit):
    """Minimum steps to the same loss at a very large batch: S / (1 + B_crit / B) (Kaplan eq. 5.4)."""
    return np.asarray(S, dtype=float) / (1.0 + np.asarray(B_crit, dtype=float) / np.asarray(B, dtype=float))


def c_min(C, B, B_crit):
    """Minimum compute to the same loss at a very small batch: C / (1 + B / B_crit) (Kaplan eq. 5.4)."""
    return np.asarray(C, dtype=float) / (1.0 + np.asarray(B, dtype=float) / np.asarray(B_crit, dtype=float))


class CriticalBatch(Law):
    def seeds(self, X, y, options, fixed, info=None):
        # log B = log B_star - (1/alpha_B) log L: a straight line in log-log axes.
        if np.any(y <= 0):  # a linear loss admits targets <= 0: no log-log line through them
            return []
        line = loglog_line(X["L"], y)
        if line is None or line[0] >= 0:
            return []
        slope, intercept = line
        return [{"B_star": float(np.exp(intercept)), "alpha_B": float(-1.0 / slope)}]

    def start_grid(self, X, y, options):
        # a linear loss (loss="squared_linear") admits targets <= 0, where geomspace fails; B_star is
        # positive, so its starts come from the positive targets (the law predicts no others)
        pos = y[y > 0] if np.any(y > 0) else np.array([1.0])
        return {"B_star": np.geomspace(pos.min(), pos.max() * 1e3, 4), "alpha_B": np.array([0.1, 0.2, 0.5, 1.0])}


LAW = CriticalBatch(
    name="critical_batch",
    formula="B_crit = B_star / L^(1/alpha_B)",
    latex=r"B_{\mathrm{crit}}(L) = \frac{B_*}{L^{1/\alpha_B}}",
    source="Kaplan et al. 2020 (arXiv:2001.08361); Su et al. 2024 (arXiv:2403.06563)",
    inputs=(Input("L", "loss (nats)", column="loss", identifies=("alpha_B",)),),
    params=(
        Param("B_star", "batch-size scale (tokens)"),
        Param("alpha_B", "exponent", max=10.0),
    ),
    function=critical_batch,
    target_doc="critical batch size B_crit (tokens)",
)
