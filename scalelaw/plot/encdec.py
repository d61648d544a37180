"""The encoder-decoder law over both sizes: a loss contour, the optimal split, a budget's optimum.

Ghorbani et al. 2021: for a parameter budget B = N_e + N_d the optimum has N_e / N_d = p_e / p_d,
a straight line through the origin (of slope 1 in log-log axes); where it crosses the budget's
line N_e + N_d = B is the best split.
"""

from __future__ import annotations

import numpy as np


def plot_encdec(fit, budget: float | None = None, *, grid: int = 70, fig=None):
    """Contour of the predicted loss over encoder and decoder size, with the data and the optimal split.

    Parameters
    ----------
    fit : FitResult
        An ``encdec`` fit.
    budget : float, optional
        Total parameters N_e + N_d: its line is drawn and its optimum (``fit.optimum(budget=)``)
        marked.
    grid : int
        Points per axis of the contour.
    """
    import plotly.graph_objects as go

    if fit.law.name != "encdec":
        raise ValueError(f"plot_encdec needs an encdec fit, got {fit.law.name!r}")
    ne_col, nd_col = fit.inputs["N_e"], fit.inputs["N_d"]
    ne, nd = fit.table[ne_col].to_numpy(float), fit.table[nd_col].to_numpy(float)
    lo = min(ne.min(), nd.min()) / 2.0
    hi = max(ne.max(), nd.max(), budget or 0.0) * 2.0
    axis = np.geomspace(lo, hi, grid)
    E, Dd = np.meshgrid(axis, axis)  # rows: decoder size (y), columns: encoder size (x)
    Z = fit.predict({"N_e": E.ravel(), "N_d": Dd.ravel()}, warn=False).reshape(E.shape)
    fig = fig or go.Figure()
    # contour on log10 coordinates: plotly draws contours on a linear index, so log axes would
    # bunch the levels; the tick labels below show the sizes themselves
    fig.add_trace(go.Contour(x=np.log10(axis), y=np.log10(axis), z=Z, colorscale="Viridis_r",
                             colorbar={"title": {"text": fit.target}}, contours={"showlabels": True},
                             hovertemplate="N_e=10^%{x:.2f}<br>N_d=10^%{y:.2f}<br>loss=%{z:.4g}<extra></extra>",
                             name="predicted loss"))
    fig.add_trace(go.Scatter(x=np.log10(ne), y=np.log10(nd), mode="markers",
                             marker={"color": "white", "size": 9, "line": {"color": "black", "width": 1}},
                             customdata=np.stack([ne, nd, fit.table[fit.target].to_numpy(float)], axis=1),
                             hovertemplate="N_e=%{customdata[0]:.3g}<br>N_d=%{customdata[1]:.3g}"
                                           "<br>observed=%{customdata[2]:.4g}<extra></extra>",
                             name="runs"))
    ratio = fit.params["p_e"] / fit.params["p_d"]
    line = axis[(axis * ratio >= lo) & (axis * ratio <= hi)]
    fig.add_trace(go.Scatter(x=np.log10(line * ratio), y=np.log10(line), mode="lines",
                             line={"color": "red", "dash": "dash"},
                             name=f"optimal split N_e/N_d = p_e/p_d = {ratio:.3g}"))
    if budget:
        opt = fit.optimum(budget=budget, warn=False)
        share = np.linspace(0.001, 0.999, 999)
        share = share[(budget * share >= lo) & (budget * (1 - share) >= lo)]  # inside the contour
        fig.add_trace(go.Scatter(x=np.log10(budget * share), y=np.log10(budget * (1 - share)), mode="lines",
                                 line={"color": "black", "dash": "dot"}, name=f"budget N_e + N_d = {budget:.3g}"))
        fig.add_trace(go.Scatter(x=[np.log10(opt["N_e"])], y=[np.log10(opt["N_d"])], mode="markers",
                                 marker={"color": "red", "size": 14, "symbol": "star",
                                         "line": {"color": "black", "width": 1}},
                                 name=f"optimum: N_e={opt['N_e']:.3g}, N_d={opt['N_d']:.3g}, loss={opt['loss']:.4g}"))
    ticks = np.arange(np.floor(np.log10(lo)), np.ceil(np.log10(hi)) + 1)
    tick_text = [f"1e{int(t)}" for t in ticks]
    fig.update_xaxes(title=f"encoder parameters N_e ({ne_col})", tickvals=ticks, ticktext=tick_text,
                     range=[np.log10(lo), np.log10(hi)])
    fig.update_yaxes(title=f"decoder parameters N_d ({nd_col})", tickvals=ticks, ticktext=tick_text,
                     range=[np.log10(lo), np.log10(hi)])
    fig.update_layout(template="plotly_white", title="encdec: loss over encoder and decoder size",
                      legend={"orientation": "h", "y": -0.2})
    return fig
