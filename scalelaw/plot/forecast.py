"""A run in progress and its forecast (:func:`scalelaw.forecast`): the logged curve, the law's
forecast of every later step with its interval, and the predicted final loss."""

from __future__ import annotations

import numpy as np

from ._bands import band
from .core import _colour

_MAX_POINTS = 1500  # forecast steps drawn (thinned for drawing only; the last step always kept)


def plot_forecast(fc: dict, logged=None, *, name: str = "run", fig=None):
    """Loss against step: the logged part (markers), the forecast after the cut (line, with the
    interval as a band when the forecast has one) and the final loss with its interval.

    Parameters
    ----------
    fc : dict
        What :func:`scalelaw.forecast` returned.
    logged : DataFrame, optional
        The logged part with ``step`` and ``loss`` columns; default: the rows the forecast was
        fitted to (the partial run's own, not the ``using=`` curves).
    """
    import plotly.graph_objects as go

    if logged is None:
        from scalelaw.forecasting import _RUN

        table = fc["fit"].table
        logged = table[table["run"].astype(str) == _RUN] if "run" in table.columns else table
    fig = fig or go.Figure()
    colour = _colour(0)
    fig.add_trace(go.Scatter(x=np.asarray(logged["step"]), y=np.asarray(logged["loss"]), mode="markers",
                             marker={"color": colour, "size": 4}, name=f"{name}: logged"))
    steps = np.asarray(fc["steps"])
    idx = np.unique(np.linspace(0, len(steps) - 1, min(len(steps), _MAX_POINTS)).round().astype(int))
    if fc.get("lower") is not None:
        band(fig, steps[idx], np.asarray(fc["lower"])[idx], np.asarray(fc["upper"])[idx], colour)
    fig.add_trace(go.Scatter(x=steps[idx], y=np.asarray(fc["loss"])[idx], mode="lines",
                             line={"color": colour, "dash": "dash"}, name=f"{name}: {fc['law']} forecast"))
    err = None
    if fc.get("interval"):
        lo, hi = fc["interval"]
        err = {"type": "data", "symmetric": False, "array": [hi - fc["final_loss"]],
               "arrayminus": [fc["final_loss"] - lo]}
    fig.add_trace(go.Scatter(x=[fc["n_steps"]], y=[fc["final_loss"]], mode="markers", error_y=err,
                             marker={"color": colour, "size": 10, "symbol": "diamond"},
                             name=f"forecast final loss {fc['final_loss']:.4g}"))
    fig.add_vline(x=fc["cut_step"], line={"color": "grey", "dash": "dot"})
    fig.update_layout(xaxis_title="step", yaxis_title="loss (nats)",
                      title=f"{name}: logged to step {fc['cut_step']:,} of {fc['n_steps']:,}; forecast to the end")
    return fig
