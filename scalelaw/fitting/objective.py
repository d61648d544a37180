"""The fitting objective, in one place (Hoffmann et al. 2022; Besiroglu et al. 2024).

Default: Huber loss with delta = 1e-3 on log residuals r = log(pred) - log(obs), **summed** over
points (a mean would change where optimisers stop as the data grows). Options: ``"squared"``
(0.5 r^2 on log residuals), and linear-space variants ``"huber_linear"``, ``"squared_linear"``
where r = pred - obs. Weights multiply each point's term.

Everything is vectorised: ``pred`` may be ``(K, n)`` for K parameter sets, ``weights`` ``(n,)``
or ``(K, n)`` (bootstrap resamples as integer counts).
"""

from __future__ import annotations

import numpy as np

LOSSES = ("huber", "squared", "huber_linear", "squared_linear")

# Predictions are clipped here before logs are taken; a law can go non-positive far from its data.
_PRED_FLOOR = 1e-300


def check_loss(loss: str, delta: float) -> None:
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}; got {loss!r}")
    if isinstance(delta, (bool, str)) or not isinstance(delta, (int, float, np.number)):
        raise ValueError(f"delta (the Huber threshold) must be a number, got {delta!r}")
    if loss.startswith("huber") and not (np.isfinite(delta) and delta > 0):
        raise ValueError(f"delta (the Huber threshold) must be a finite number > 0, got {delta!r}")


_LOG_Y: list = [None, None]  # (y, log y) of the last call: solvers pass the same y hundreds of times


def _log_y(y):
    # identity, not equality: the solvers never change y in place, and a new array is a new entry
    if _LOG_Y[0] is not y:
        _LOG_Y[:] = [y, np.log(y)]
    return _LOG_Y[1]


def residuals(pred, y, loss: str):
    """log(pred) - log(y) for log-space losses, pred - y for the linear ones."""
    if loss.endswith("_linear"):
        return pred - y
    return np.log(np.maximum(pred, _PRED_FLOOR)) - _log_y(y)


def rho(r, loss: str, delta: float):
    """Per-point loss of a residual: Huber 0.5 r^2 (|r| <= delta) or delta (|r| - delta/2); squared 0.5 r^2."""
    if loss.startswith("huber"):
        c = np.clip(r, -delta, delta)  # psi(r); rho = c (r - c/2) in both zones, without np.where's two branches
        return c * (r - 0.5 * c)
    return 0.5 * r * r


def irls_weight(r, loss: str, delta: float):
    """psi(r) / r: 1 in the quadratic zone, delta/|r| in Huber's linear zone (for Gauss-Newton/IRLS)."""
    if loss.startswith("huber"):
        return delta / np.maximum(np.abs(r), delta)
    return np.ones_like(r)


def objective(pred, y, weights, loss: str = "huber", delta: float = 1e-3):
    """Sum over points of weight * rho(residual); shape ``pred.shape[:-1]``."""
    r = residuals(pred, y, loss)
    terms = weights * rho(r, loss, delta)
    # A non-finite prediction makes the whole parameter set unusable, never a silent NaN.
    out = np.sum(terms, axis=-1)
    return np.where(np.isfinite(out), out, np.inf)
