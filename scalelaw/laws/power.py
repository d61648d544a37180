"""Pure power law (Henighan et al. 2020, arXiv:2010.14701: the compute-optimal model size).

    y = k * x^a

A straight line in log-log axes; ``a`` may have either sign. Henighan et al. fit
N_opt(C) = k * C^a to the compute-efficient frontier points and found a ~ 0.7 in every domain.
Evaluated as ``exp(log k + a log x)``.
"""

from __future__ import annotations

import numpy as np

from .base import Input, Law, Param, loglog_line


def power(x, *, k, a):
    """y = k * x^a (Henighan et al. 2020)."""
    return np.exp(np.log(k) + a * np.log(x))


class Power(Law):
    def seeds(self, X, y, options, fixed, info=None):
        if np.any(y <= 0):  # a linear loss admits targets <= 0: no log-log line through them
            return []
        line = loglog_line(X["x"], y, fixed.get("a"))
        if line is None:
            return []
        a, log_k = line
        return [{"k": fixed.get("k", float(np.exp(log_k))), "a": a}]

    def start_grid(self, X, y, options):
        # a linear loss admits targets <= 0, whose log is not a number: the starts come from the
        # positive ones (k > 0, so the law predicts no others)
        pos = y > 0 if np.any(y > 0) else np.ones_like(y, dtype=bool)
        lx, ly = np.log(X["x"][pos]), np.log(np.where(y[pos] > 0, y[pos], 1.0))
        return {"k": np.exp(ly.mean() - np.array([-1.0, 0.0, 1.0]) * lx.mean()), "a": np.array([-1.0, 0.0, 1.0])}

LAW = Power(
    name="power",
    formula="y = k * x^a",
    latex=r"y = k\, x^{a}",
    source="Henighan et al. 2020, Scaling Laws for Autoregressive Generative Modeling (arXiv:2010.14701): N_opt(C)",
    inputs=(Input("x", "the scale, e.g. compute C (FLOPs)", column="flops", identifies=("a",)),),
    params=(
        Param("k", "prefactor (units of y / x^a)"),
        Param("a", "exponent, either sign", min=-np.inf, max=np.inf, log=False),
    ),
    function=power,
    target_doc="y, e.g. the compute-optimal parameter count N_opt",
)
