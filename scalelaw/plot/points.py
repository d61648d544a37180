"""Which rows a law saw, shown against all the rows it could have seen."""

from __future__ import annotations


def plot_candidates(fit, frame, *, name: str = "rows not fitted", fig=None):
    """Grey markers of ``frame`` (e.g. every step of every run) on the axes :func:`plot_fit` uses.

    Draw this first and pass the figure to ``plot_fit(fit, fig=...)``: the fitted points then sit
    on top, so the figure shows what :func:`scalelaw.final_points` or :func:`scalelaw.frontier`
    kept out of everything logged.
    """
    import plotly.graph_objects as go

    fig = fig or go.Figure()
    x_name = next(i.name for i in fit.law.inputs if not i.categorical)
    x_col = fit.inputs[x_name]
    if x_col not in frame.columns or fit.target not in frame.columns:
        return fig
    hover = frame["run"].astype(str) if "run" in frame.columns else None
    fig.add_trace(go.Scatter(x=frame[x_col], y=frame[fit.target], mode="markers", text=hover,
                             marker={"color": "lightgrey", "size": 5}, name=name,
                             hovertemplate="%{text}<br>%{x:.4g}, %{y:.4g}<extra></extra>" if hover is not None
                             else None))
    return fig
