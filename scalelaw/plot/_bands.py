"""A shaded confidence band that works on subplot figures too (core's ``_band`` takes no row/col)."""

from __future__ import annotations

import numpy as np


def band(fig, x, lo, hi, colour, *, legendgroup=None, row=None, col=None):
    """Fill between ``lo`` and ``hi`` along ``x``; drawn without a legend entry or hover."""
    import plotly.graph_objects as go

    x = np.asarray(x)
    trace = go.Scatter(x=np.concatenate([x, x[::-1]]), y=np.concatenate([np.asarray(hi), np.asarray(lo)[::-1]]),
                       fill="toself", fillcolor=colour, opacity=0.18, line={"width": 0}, hoverinfo="skip",
                       showlegend=False, legendgroup=legendgroup)
    if row is None:
        fig.add_trace(trace)
    else:
        fig.add_trace(trace, row=row, col=col)
