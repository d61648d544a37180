"""The main figure of a fit: data and fitted law on log-log axes, extrapolated, with a prediction-interval band."""

from __future__ import annotations

import numpy as np
import pandas as pd

_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
            "#bcbd22", "#17becf")


def _colour(i):
    return _PALETTE[i % len(_PALETTE)]


def _band(fig, x, lo, hi, colour, name, **kw):
    import plotly.graph_objects as go

    fig.add_trace(go.Scatter(x=np.concatenate([x, x[::-1]]), y=np.concatenate([hi, lo[::-1]]), fill="toself",
                             fillcolor=colour, opacity=0.18, line={"width": 0}, hoverinfo="skip",
                             name=name, showlegend=False, **kw))


# A browser draws ~20k markers per trace smoothly; millions hang it. Long curves are thinned for
# drawing only (every k-th row; the fit uses them all) and the legend says so.
MAX_MARKERS = 20_000


def _thin(frame, label: str, limit: int = MAX_MARKERS):
    """``(rows to draw, legend label)``: all rows, or every k-th row and a label that says so."""
    n = len(frame)
    if n <= limit:
        return frame, label
    k = -(-n // limit)
    return frame.iloc[::k], f"{label} (1 row in {k} of {n:,} drawn)"


def _curve(fit, X, level):
    pred = fit.predict(X, warn=False)
    # every draw failed (all null): no band, the curve is still drawn
    usable = fit.draws is not None and len(fit.draws.dropna()) >= 2
    band = fit.predict_interval(X, level=level, warn=False) if usable else None  # drawn as far as asked
    return pred, band


def _check_data(fit, data: pd.DataFrame) -> None:
    """Points given to draw are checked as the fit checked its own: a missing, infinite or (on a
    log axis) non-positive value would otherwise be left out of the figure without a word, or
    stretch the curves' grid to NaN and fail inside the law with a message about its inputs."""
    if len(data) == 0:
        raise ValueError("plot_fit: data has no rows; give the points to draw, or data=None for the fitted ones")
    try:
        check_columns(fit, data)
    except (KeyError, ValueError, TypeError) as err:
        raise ValueError(f"plot_fit: data: {err.args[0]}") from None


def check_columns(fit, data: pd.DataFrame) -> None:
    """The fit's target and (non-categorical) input columns of ``data`` checked as the fit checked
    its own rows (present, numeric, finite, positive where the law takes logs); raises the first
    problem (KeyError, ValueError or TypeError) naming the column and rows. Shared by
    :func:`plot_fit` and the CLI's ``plot``."""
    from scalelaw.fitting.data import numeric_column

    columns = [(fit.target, "target", True)]
    if not getattr(fit.law, "schedule_law", False):
        columns += [(fit.inputs[i.name], f"input {i.name}", i.positive) for i in fit.law.inputs if not i.categorical]
    for col, role, positive in columns:
        numeric_column(data, col, role, positive=positive and not fit.loss.endswith("_linear"))


def plot_fit(fit, data: pd.DataFrame | None = None, *, extend_to: float | None = None, level: float = 0.95,
             fig=None):
    """Data and the fitted law.

    One-input laws: y against x. Two-input laws: loss against the first input, one curve per level
    of the second. lr_annealing: loss against step per run. dcpt: loss against the mixture ratio
    per (N, D). ``extend_to`` stretches the curves to that value of the x axis (extrapolation);
    with bootstrap draws a ``level`` CI band is drawn around each curve.
    """
    import plotly.graph_objects as go

    fig = fig or go.Figure()
    law = fit.law
    if data is not None:
        _check_data(fit, data)
    table = fit.table if data is None else data
    names = [i.name for i in law.inputs if not i.categorical]
    y_col = fit.target
    if getattr(law, "schedule_law", False):
        return _plot_lr(fit, table, fig, level)
    x_name = names[0]
    x_col = fit.inputs[x_name]
    xs = table[x_col].to_numpy(float)
    hi = max(xs.max(), extend_to or 0)
    grid = np.geomspace(xs.min(), hi, 200)
    if len(names) == 1:
        groups = [(None, table)]
    else:
        other = fit.inputs[names[1]]
        groups = list(table.groupby(other, sort=True)) if other in table.columns else [(None, table)]
        if len(groups) > 10:  # too many curves to read: show the data coloured, curves for a spread of levels
            # every point stays visible (open grey); the picked levels are drawn over it in colour
            shown, name = _thin(table, f"data, all {len(groups)} levels of {names[1]}")
            fig.add_trace(go.Scatter(x=shown[x_col], y=shown[y_col], mode="markers",
                                     marker={"color": "#7f7f7f", "size": 7, "symbol": "circle-open"},
                                     name=name))
            picks = np.unique(np.linspace(0, len(groups) - 1, 6).round().astype(int))
            groups = [groups[i] for i in picks]
    for i, (level_value, sub) in enumerate(groups):
        colour = _colour(i)
        label = "data" if level_value is None else f"{names[1]}={level_value:.3g}"
        shown, name = _thin(sub, label)
        fig.add_trace(go.Scatter(x=shown[x_col], y=shown[y_col], mode="markers", marker={"color": colour, "size": 7},
                                 name=name, legendgroup=label))
        X = {x_name: grid}
        for extra in names[1:]:
            col = fit.inputs[extra]
            X[extra] = np.full_like(grid, sub[col].iloc[0] if extra == names[1] else np.median(table[col]))
        if "domain" in law.input_names:
            X["domain"] = np.full(grid.shape, str(sub[fit.inputs["domain"]].iloc[0]), dtype=object)
        pred, band = _curve(fit, X, level)
        if band is not None:
            _band(fig, grid, band[0], band[1], colour, label, legendgroup=label)
        fig.add_trace(go.Scatter(x=grid, y=pred, mode="lines", line={"color": colour}, name=f"fit {label}",
                                 legendgroup=label, showlegend=False))
    if extend_to and extend_to > xs.max():
        fig.add_vline(x=xs.max(), line_dash="dot", line_color="grey",
                      annotation_text="largest observed", annotation_position="top left")
    fig.update_xaxes(type="log", title=f"{x_name} ({x_col})")
    fig.update_yaxes(type="log", title=y_col)
    title = f"{law.name}: {law.formula}"
    if fit.draws is not None and len(fit.draws.dropna()) >= 2:
        title += f"<br><sup>bands: {fit.interval_label(level)}</sup>"
    fig.update_layout(title=title, template="plotly_white", legend_title_text="")
    return fig


def _plot_lr(fit, table, fig, level):
    import plotly.graph_objects as go

    schedules = fit.info.get("resolved_schedules") or {}
    warm = fit.options.get("warmup_steps", 0)
    for i, (run, sub) in enumerate(table.groupby("run", sort=True) if "run" in table.columns else [("run", table)]):
        colour = _colour(i)
        shown, name = _thin(sub, str(run))
        fig.add_trace(go.Scatter(x=shown["step"], y=shown[fit.target], mode="markers",
                                 marker={"color": colour, "size": 4}, name=name, legendgroup=str(run)))
        if run in schedules:
            w = warm.get(run, 0) if isinstance(warm, dict) else warm
            sched = np.asarray(schedules[run]) if not isinstance(schedules[run], str) else schedules[run]
            pred, band = _curve(fit, {"schedule": sched, "warmup_steps": w}, level)
            steps = np.arange(1, len(pred) + 1)
            if band is not None:
                _band(fig, steps, band[0], band[1], colour, str(run), legendgroup=str(run))
            fig.add_trace(go.Scatter(x=steps, y=pred, mode="lines", line={"color": colour}, name=f"fit {run}",
                                     legendgroup=str(run), showlegend=False))
    fig.update_xaxes(title="step")
    fig.update_yaxes(title=fit.target)
    fig.update_layout(title=f"{fit.law.name}: {fit.law.formula}", template="plotly_white")
    return fig


def plot_residuals(fit, fig=None):
    """Residuals (as fitted: log or linear) against the first input, with the Huber threshold."""
    import plotly.graph_objects as go

    fig = fig or go.Figure()
    res = fit.residuals()
    x_name = fit.law.input_names[0]
    x_col = fit.inputs[x_name]
    fig.add_trace(go.Scatter(x=res[x_col], y=res["residual"], mode="markers", name="residual"))
    if fit.loss.startswith("huber"):
        for s in (-1, 1):
            fig.add_hline(y=s * fit.delta, line_dash="dot", line_color="grey")
    fig.add_hline(y=0, line_color="black", line_width=1)
    fig.update_xaxes(type="log" if (res[x_col] > 0).all() else "linear", title=f"{x_name} ({x_col})")
    space = "log(pred) - log(obs)" if not fit.loss.endswith("_linear") else "pred - obs"
    fig.update_yaxes(title=space)
    fig.update_layout(title="residuals", template="plotly_white")
    return fig
