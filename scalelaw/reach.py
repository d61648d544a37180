"""What reaches a target loss: solve a fitted law for the one input the user did not give.

Laws are monotone in each size-like input (more parameters, tokens or steps never raise the
predicted loss), so the answer is a root in log space found by Brent's method. With nothing given,
laws that have a compute optimum (chinchilla, kaplan_nd) answer with the smallest compute-optimal
budget C = 6 N D that reaches the loss.
"""

from __future__ import annotations

import numpy as np

_LOG_LO, _LOG_HI = np.log(1e-6), np.log(1e60)


class AlreadyReached(ValueError):
    """The loss asked for is above the prediction at the smallest value searched: every value
    reaches it, so there is no smallest one to give."""


def _solve_log(fn, lo: float = _LOG_LO):
    """exp(t) where fn(t) = prediction - loss changes sign in [lo, log 1e60]; inf when the loss is
    never reached there (at or below the asymptote); AlreadyReached when the prediction is already
    below the loss at ``lo`` (the loss is above every prediction: both ends negative used to read as
    "never reached", the opposite of the truth)."""
    from scipy.optimize import brentq

    a, b = fn(lo), fn(_LOG_HI)
    if np.isfinite(a) and a < 0:
        raise AlreadyReached(float(np.exp(lo)), float(a))
    if not (np.isfinite(a) and np.isfinite(b)) or a * b > 0:
        return float("inf")  # the loss is never reached within 1e60: it is at or below the asymptote
    return float(np.exp(brentq(fn, lo, _LOG_HI, xtol=1e-12, rtol=1e-12)))


def reach(fit, loss: float, **given) -> dict:
    from scalelaw.laws.base import as_numbers

    law = fit.law
    values = as_numbers(loss, "reach: loss")
    if values.size != 1 or not np.isfinite(values[0]) or values[0] <= 0:
        raise ValueError(f"reach: loss must be one number > 0 (nats), got {loss!r}")
    loss = float(values[0])
    unknown = [k for k in given if k not in law.input_names]
    if unknown:
        raise ValueError(f"reach: law {law.name!r} has no input(s) {unknown}; inputs: {list(law.input_names)}")
    numeric = [i.name for i in law.inputs if not i.categorical]
    missing = [n for n in numeric if n not in given]
    if not missing and len(given) >= len(numeric):
        raise ValueError("reach: leave one input out; it is what gets solved for")
    if len(missing) == len(numeric) and not given:
        try:
            law.optimum(fit.params, fit.info, C=1e20)
        except (NotImplementedError, ValueError, TypeError):
            if len(numeric) != 1:
                raise ValueError(f"reach: give all but one of {numeric}") from None
        else:
            # from C = 6 (one parameter, one token): kaplan_nd's numerical optimum needs N, D >= 1
            try:
                C = _solve_log(lambda t: law.optimum(fit.params, fit.info, C=np.exp(t))["loss"] - loss,
                               lo=np.log(6.0))
            except AlreadyReached as hit:
                raise AlreadyReached(
                    f"reach: loss {loss:g} is above the compute-optimal loss at every budget: at the smallest "
                    f"searched, C = 6 FLOPs, the compute-optimal model is predicted at {loss + hit.args[1]:.4g}; "
                    "every budget reaches it, so there is no smallest one (ask for a loss below that)") from None
            if not np.isfinite(C):
                return {"C": C, "loss": loss, "reachable": False}
            return {**law.optimum(fit.params, fit.info, C=C), "reachable": True}
    if len(missing) != 1:
        raise ValueError(f"reach: give all but one of {numeric}; missing {missing}")
    name = missing[0]

    def gap(t):
        X = {**given, name: np.exp(t)}
        return float(fit.predict(X, warn=False)[0]) - loss

    try:
        value = _solve_log(gap)
    except AlreadyReached as hit:
        raise AlreadyReached(
            f"reach: loss {loss:g} is above the prediction at every {name} given {given}: at the smallest "
            f"{name} searched, {hit.args[0]:.3g}, the law predicts {loss + hit.args[1]:.4g}; every {name} "
            "reaches it, so there is no smallest one (ask for a lower loss)") from None
    return {**{k: v for k, v in given.items()}, name: value, "loss": loss, "reachable": bool(np.isfinite(value))}
