"""Compute-optimal allocation of a chinchilla or kaplan_nd fit: iso-FLOP curves and the frontier.

Left panel: predicted loss against model size N along fixed budgets C = 6 N D (Hoffmann et al.
2022's iso-FLOP profiles, approach 2, drawn from the fitted law of approach 3), each curve's
minimum marked. Right panel: the compute-optimal N_opt(C) and D_opt(C) with the fitted runs
placed at their own compute, and the user's budget marked.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._bands import band
from .core import _colour

_MAX_BAND_DRAWS = 200  # kaplan_nd's optimum is a 1-D minimisation per draw: bound the cost


def _data_compute(fit):
    N = fit.table[fit.inputs["N"]].to_numpy(float)
    D = fit.table[fit.inputs["D"]].to_numpy(float)
    return N, D, 6.0 * N * D


def _optimum_band(fit, C, level):
    """Percentile band of N_opt(C) and D_opt(C) over the bootstrap draws (None without draws)."""
    if fit.draws is None:
        return None
    draws = fit.draws.dropna().iloc[:_MAX_BAND_DRAWS]
    if len(draws) < 2:
        return None
    fixed = {n: fit.params[n] for n in fit.spec.fixed}
    Ns = np.array([np.asarray(fit.law.optimum({**row, **fixed}, fit.info, C=C)["N"], float)
                   for row in draws.to_dict("records")])
    a = (1 - level) / 2
    n_lo, n_hi = np.quantile(Ns, a, axis=0), np.quantile(Ns, 1 - a, axis=0)
    return n_lo, n_hi, C / 6.0 / n_hi, C / 6.0 / n_lo


def plot_isoflop(fit, budget: float | None = None, *, budgets=None, n_curves: int = 5, level: float = 0.95,
                 fig=None):
    """Iso-FLOP curves and the compute-optimal frontier of a ``chinchilla`` or ``kaplan_nd`` fit.

    Parameters
    ----------
    fit : FitResult
        A fit of a law with ``optimum(C=...)`` over inputs N and D.
    budget : float, optional
        The FLOP budget to answer for: its iso-FLOP curve is drawn bold and its optimum marked.
    budgets : sequence of float, optional
        Budgets of the iso-FLOP curves; default: ``n_curves`` spread over the data's compute
        (6 N D of each fitted row); the budget's own curve is drawn on top of them.
    level : float
        Level of the bootstrap band on N_opt and D_opt (drawn when the fit has draws).

    Returns
    -------
    plotly Figure with two panels.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    if set(fit.law.input_names) != {"N", "D"}:
        raise ValueError(f"plot_isoflop needs a law over N and D (chinchilla, kaplan_nd), got {fit.law.name!r}")
    N_data, D_data, C_data = _data_compute(fit)
    top = max(C_data.max(), budget or 0.0)
    if budgets is None:
        budgets = np.geomspace(C_data.min(), C_data.max(), n_curves)
    budgets = np.asarray(budgets, dtype=float)
    fig = fig or make_subplots(rows=1, cols=2, horizontal_spacing=0.1,
                               subplot_titles=("iso-FLOP curves: loss along C = 6ND",
                                               "compute-optimal N and D"))
    for i, C in enumerate(budgets):
        opt = fit.optimum(C=C, warn=False)  # a figure extrapolates on purpose
        Ns = np.geomspace(opt["N"] / 30.0, opt["N"] * 30.0, 120)
        loss = fit.predict({"N": Ns, "D": C / 6.0 / Ns}, warn=False)
        colour = _colour(i)
        fig.add_trace(go.Scatter(x=Ns, y=loss, mode="lines", line={"color": colour}, name=f"C={C:.2g}",
                                 legendgroup=f"C{i}"), row=1, col=1)
        fig.add_trace(go.Scatter(x=[opt["N"]], y=[opt["loss"]], mode="markers", marker={"color": colour, "size": 9},
                                 name=f"optimum C={C:.2g}", legendgroup=f"C{i}", showlegend=False,
                                 hovertemplate="N_opt=%{x:.3g}<br>loss=%{y:.4g}<extra></extra>"), row=1, col=1)
    if budget:
        opt = fit.optimum(C=budget, warn=False)
        Ns = np.geomspace(opt["N"] / 30.0, opt["N"] * 30.0, 120)
        fig.add_trace(go.Scatter(x=Ns, y=fit.predict({"N": Ns, "D": budget / 6.0 / Ns}, warn=False), mode="lines",
                                 line={"color": "black", "width": 3}, name=f"budget C={budget:.3g}",
                                 legendgroup="budget"), row=1, col=1)
        fig.add_trace(go.Scatter(x=[opt["N"]], y=[opt["loss"]], mode="markers",
                                 marker={"color": "black", "size": 12, "symbol": "star"},
                                 hovertemplate="N_opt=%{x:.3g}<br>loss=%{y:.4g}<extra></extra>",
                                 name="optimum at budget", legendgroup="budget", showlegend=False), row=1, col=1)

    C_grid = np.geomspace(C_data.min() / 10.0, top * 10.0, 60)
    opt = fit.optimum(C=C_grid, warn=False)
    C_band = C_grid[::6]  # N_opt(C) is near a power law: a coarse band is smooth enough, and cheap
    spread = _optimum_band(fit, C_band, level)
    for name, values, colour, lo_hi in (("N_opt", opt["N"], "#1f77b4", spread[:2] if spread else None),
                                        ("D_opt", opt["D"], "#ff7f0e", spread[2:] if spread else None)):
        if lo_hi is not None:
            band(fig, C_band, lo_hi[0], lo_hi[1], colour, legendgroup=name, row=1, col=2)
        fig.add_trace(go.Scatter(x=C_grid, y=values, mode="lines", line={"color": colour}, name=name,
                                 legendgroup=name), row=1, col=2)
    fig.add_trace(go.Scatter(x=C_data, y=N_data, mode="markers", marker={"color": "#1f77b4", "symbol": "circle-open"},
                             name="runs: N", legendgroup="N_opt"), row=1, col=2)
    fig.add_trace(go.Scatter(x=C_data, y=D_data, mode="markers", marker={"color": "#ff7f0e", "symbol": "circle-open"},
                             name="runs: D", legendgroup="D_opt"), row=1, col=2)
    if budget:
        at = fit.optimum(C=budget, warn=False)
        fig.add_trace(go.Scatter(x=[budget, budget], y=[at["N"], at["D"]], mode="markers",
                                 marker={"color": "black", "size": 12, "symbol": "star"},
                                 name=f"N={at['N']:.3g}, D={at['D']:.3g}", legendgroup="budget"), row=1, col=2)
        fig.add_vline(x=budget, line_dash="dot", line_color="grey", row=1, col=2)
    fig.update_xaxes(type="log", title_text=f"N ({fit.inputs['N']})", row=1, col=1)
    fig.update_yaxes(type="log", title_text=fit.target, row=1, col=1)
    fig.update_xaxes(type="log", title_text="compute C = 6ND (FLOPs)", row=1, col=2)
    fig.update_yaxes(type="log", title_text="parameters / tokens", row=1, col=2)
    fig.update_layout(template="plotly_white", title=f"{fit.law.name}: compute-optimal allocation")
    return fig


def plot_profiles(result, *, at=None, level=None, fig=None):
    """Hoffmann et al.'s Figure 3 for an :class:`~scalelaw.isoflops.IsoflopResult`.

    Approach 2: left, each budget's points against N with its fitted profile and its minimum
    (bootstrap interval as a horizontal bar); middle, N_opt(C) with the power law k C^a;
    right, L_opt(C) with its fit. Approach 1: left, the loss against compute of every run with
    the envelope marked. ``at``: a compute to mark on the fitted laws with its interval.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    opt = result.optima
    left = "IsoFLOP profiles" if result.approach == 2 else "training curves and their envelope"
    fig = fig or make_subplots(rows=1, cols=3, horizontal_spacing=0.08,
                               subplot_titles=(left, "N_opt(C) = k C^a", "L_opt(C)"))
    pts = result.points
    if result.approach == 2:
        for i, row in enumerate(opt.itertuples()):
            colour = _colour(i)
            sub = pts[np.isclose(pts["budget"], row.C, rtol=1e-9)]
            grp = f"C{i}"
            fig.add_trace(go.Scatter(x=sub["N"], y=sub["loss"], mode="markers", marker={"color": colour},
                                     name=f"C={row.C:.2g}", legendgroup=grp), row=1, col=1)
            Ng = np.geomspace(sub["N"].min() / 1.5, sub["N"].max() * 1.5, 80)
            fig.add_trace(go.Scatter(x=Ng, y=result.profile_curve(row.C, Ng), mode="lines",
                                     line={"color": colour}, legendgroup=grp, showlegend=False,
                                     hoverinfo="skip"), row=1, col=1)
            err = {}
            if hasattr(row, "N_opt_lo") and np.isfinite(row.N_opt_lo):
                err = {"error_x": {"type": "data", "symmetric": False, "array": [row.N_opt_hi - row.N_opt],
                                   "arrayminus": [row.N_opt - row.N_opt_lo], "color": colour}}
            fig.add_trace(go.Scatter(x=[row.N_opt], y=[row.loss_opt], mode="markers", legendgroup=grp,
                                     marker={"color": colour, "size": 12, "symbol": "diamond",
                                             "line": {"color": "black", "width": 1}},
                                     showlegend=False, **err,
                                     hovertemplate="N_opt=%{x:.3g}<br>loss=%{y:.4g}<extra></extra>"),
                          row=1, col=1)
        fig.update_xaxes(type="log", title_text="parameters N", row=1, col=1)
    else:
        for i, (run, sub) in enumerate(pts.groupby("run", sort=False)):
            fig.add_trace(go.Scatter(x=sub["C"], y=sub["loss"], mode="lines", line={"color": "#bbbbbb", "width": 1},
                                     name="runs", legendgroup="runs", showlegend=i == 0, hoverinfo="skip"),
                          row=1, col=1)
        fig.add_trace(go.Scatter(x=opt["C"], y=opt["loss_opt"], mode="markers", marker={"color": "black", "size": 5},
                                 name="envelope"), row=1, col=1)
        fig.update_xaxes(type="log", title_text="compute C (FLOPs)", row=1, col=1)
    fig.update_yaxes(type="log", title_text=result.target, row=1, col=1)

    # the power laws' axis: counted compute when the result was fitted with counted=
    Cx = result.fit_C if result.approach == 2 else opt["C"]
    lo_c = float(Cx.min())
    hi_c = max(float(Cx.max()), float(at) if at else 0.0) * 3
    Cg = np.geomspace(lo_c / 3, hi_c, 80)
    pred = result.predict(Cg, level=level, warn=False)
    for col, key, obs in ((2, "N", "N_opt"), (3, "loss", "loss_opt")):
        if key + "_lo" in pred:
            band(fig, Cg, pred[key + "_lo"], pred[key + "_hi"], "#1f77b4", legendgroup="fit", row=1, col=col)
        fig.add_trace(go.Scatter(x=Cg, y=pred[key], mode="lines", line={"color": "#1f77b4"},
                                 name="fit" if col == 2 else None, showlegend=col == 2, legendgroup="fit"),
                      row=1, col=col)
        used = opt.get("used", pd.Series(True, index=opt.index)).astype(bool)
        fig.add_trace(go.Scatter(x=Cx[used], y=opt[obs][used], mode="markers",
                                 marker={"color": "black", "size": 7}, name="optima",
                                 showlegend=col == 2, legendgroup="optima"), row=1, col=col)
        if (~used).any():
            fig.add_trace(go.Scatter(x=Cx[~used], y=opt[obs][~used], mode="markers",
                                     marker={"color": "black", "size": 7, "symbol": "x"}, name="not used",
                                     showlegend=col == 2, legendgroup="unused"), row=1, col=col)
        if at:
            p = result.predict(C=float(at), level=level, warn=False)
            fig.add_trace(go.Scatter(x=[at], y=[p[key]], mode="markers", legendgroup="at", showlegend=col == 2,
                                     marker={"color": "black", "size": 13, "symbol": "star"},
                                     name=f"at C={float(at):.3g}"), row=1, col=col)
        fig.update_xaxes(type="log", title_text="compute C (FLOPs)", row=1, col=col)
        fig.update_yaxes(type="log", row=1, col=col)
    fig.update_yaxes(title_text="N_opt", row=1, col=2)
    fig.update_yaxes(title_text="L_opt", row=1, col=3)
    name = {1: "Approach 1 (envelope)", 2: f"Approach 2 (IsoFLOP, {result.profile})"}[result.approach]
    fig.update_layout(template="plotly_white",
                      title=f"{name}: a={result.params['a']:.3f}, b={result.params['b']:.3f}")
    return fig
