"""Backtests drawn: the points a law was fitted on, the held-out ones it predicted, the errors;
and several laws' backtest errors side by side (:func:`scalelaw.compare`)."""

from __future__ import annotations

import numpy as np


def plot_backtest(bt, *, fig=None):
    """Left: observed loss against the first input, fitted rows and held-out rows with their
    predictions. Right: the relative error (pred/obs - 1) of each held-out row.

    ``bt`` is what :func:`scalelaw.backtest` returns.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fit = bt.fits[0]
    x_name = fit.law.input_names[0]
    x_col = fit.inputs[x_name]
    y_col = fit.target
    table = bt.table
    fig = fig or make_subplots(rows=1, cols=2, horizontal_spacing=0.1,
                               subplot_titles=(f"held out: {bt.holdout}", "relative error of the prediction"))
    fitted = fit.table
    fig.add_trace(go.Scatter(x=fitted[x_col], y=fitted[y_col], mode="markers", marker={"color": "#1f77b4", "size": 7},
                             name="fitted on"), row=1, col=1)
    fig.add_trace(go.Scatter(x=table[x_col], y=table[y_col], mode="markers",
                             marker={"color": "#d62728", "size": 9, "symbol": "circle-open", "line": {"width": 2}},
                             name="held out: observed"), row=1, col=1)
    fig.add_trace(go.Scatter(x=table[x_col], y=table["pred"], mode="markers",
                             marker={"color": "#d62728", "size": 7, "symbol": "x"}, name="held out: predicted"),
                  row=1, col=1)
    labels = table["run"].astype(str) if "run" in table.columns else table.index.astype(str)
    logx = bool(np.all(np.asarray(fitted[x_col], dtype=float) > 0))
    if labels.is_unique:  # one held-out point per run: a bar each
        fig.add_trace(go.Bar(x=labels, y=table["rel_err"], marker={"color": "#d62728"}, name="pred / obs - 1",
                             showlegend=False, hovertemplate="%{x}: %{y:.2%}<extra></extra>"), row=1, col=2)
    else:  # whole held-out curves: the error along the held-out input
        fig.add_trace(go.Scatter(x=table[x_col], y=table["rel_err"], mode="markers", text=labels,
                                 marker={"color": "#d62728", "size": 5}, name="pred / obs - 1", showlegend=False,
                                 hovertemplate="%{text}: %{y:.2%}<extra></extra>"), row=1, col=2)
        fig.update_xaxes(type="log" if logx else "linear", title_text=f"{x_name} ({x_col})", row=1, col=2)
    fig.update_xaxes(type="log" if logx else "linear", title_text=f"{x_name} ({x_col})", row=1, col=1)
    fig.update_yaxes(type="log", title_text=y_col, row=1, col=1)
    fig.update_yaxes(tickformat=".1%", title_text="relative error", row=1, col=2)
    s = bt.summary
    fig.update_layout(template="plotly_white",
                      title=f"backtest of {bt.law}: mean |error| {s['mean_rel_err']:.2%}, max {s['max_rel_err']:.2%}")
    return fig


def plot_compare(table, *, fig=None):
    """Mean and max absolute backtest error per law, from :func:`scalelaw.compare`'s table."""
    import plotly.graph_objects as go

    fig = fig or go.Figure()
    laws = list(table.index)
    fig.add_trace(go.Bar(x=laws, y=table["mean_rel_err"], name="mean |rel. error|"))
    fig.add_trace(go.Bar(x=laws, y=table["max_rel_err"], name="max |rel. error|"))
    fig.update_yaxes(tickformat=".1%", title="backtest error on held-out points")
    fig.update_layout(template="plotly_white", barmode="group", title="laws compared on the same data")
    return fig
