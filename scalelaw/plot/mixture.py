"""D-CPT: domain and general loss against the mixture ratio r, with the optimum under a cap.

Que et al. 2024 read off the largest domain share r whose general loss stays within a cap (3% in
their worked example) of the base model's general loss; :func:`scalelaw.mixture_optimum` does
the reading, this module draws it.
"""

from __future__ import annotations

import numpy as np

from ._bands import band


def _curve(fit, X, level):
    pred = fit.predict(X, warn=False)
    interval = fit.predict_interval(X, level=level, warn=False) if fit.draws is not None else None
    return pred, interval


def plot_mixture(dom, gen, N: float, D: float, *, max_general_increase: float | None = 0.03,
                 general_baseline: float | None = None, domain: str | None = None, level: float = 0.95,
                 fig=None):
    """Domain loss (top) and general loss (bottom) against the domain share r at fixed N and D.

    Parameters
    ----------
    dom, gen : FitResult
        ``dcpt`` (or ``dcpt_cross``) fits to the domain and the general validation loss
        (``side="general"``).
    N, D : float
        Model size and continual-pre-training tokens to draw the curves at.
    max_general_increase : float or None
        The cap on the general loss relative to its baseline; ``None`` draws the curves only.
    general_baseline : float, optional
        The base model's general loss; default: the general fit's step-0 rows at this N.
    domain : str, optional
        The domain to mix in (``dcpt_cross`` fits only).

    Returns
    -------
    plotly Figure (the optimum's numbers: :func:`scalelaw.mixture_optimum` with the same arguments).
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from scalelaw.laws.dcpt import mixture_optimum

    r = np.linspace(0.005, 1.0, 200)
    X = {"N": np.full_like(r, N), "D": np.full_like(r, D), "r": r}
    if dom.law.name == "dcpt_cross":
        X["domain"] = np.full(r.shape, domain, dtype=object)
    fig = fig or make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                               subplot_titles=("domain loss", "general loss"))
    observed_r = dom.table[dom.inputs["r"]].to_numpy(float)
    inside = (r >= observed_r.min() / 2) & (r <= (1.0 + observed_r.max()) / 2)
    for row, (fit, colour, name) in enumerate(((dom, "#d62728", "domain"), (gen, "#1f77b4", "general")), start=1):
        pred, interval = _curve(fit, X, level)
        # both losses blow up at an edge (domain as r -> 0, general as r -> 1); scale the axis to
        # the mixtures the data covers so the band there stays readable
        seen = list(pred[inside]) + list(fit.table[fit.target].to_numpy(float))
        fig.update_yaxes(range=[0.97 * min(seen), 1.08 * max(seen)], row=row, col=1)
        if interval is not None:
            band(fig, r, interval[0], interval[1], colour, row=row, col=1)
        fig.add_trace(go.Scatter(x=r, y=pred, mode="lines", line={"color": colour}, name=f"{name} loss (fit)"),
                      row=row, col=1)
        t = fit.table
        near = np.isclose(t[fit.inputs["N"]].to_numpy(float), N) & np.isclose(t[fit.inputs["D"]].to_numpy(float), D)
        if near.any():
            fig.add_trace(go.Scatter(x=t.loc[near, fit.inputs["r"]], y=t.loc[near, fit.target], mode="markers",
                                     marker={"color": colour, "size": 8}, name=f"{name} loss (runs at N, D)"),
                          row=row, col=1)
    if max_general_increase is not None:
        opt = mixture_optimum(dom, gen, N=N, D=D, max_general_increase=max_general_increase,
                              general_baseline=general_baseline, domain=domain)
        fig.add_hline(y=opt["general_baseline"], line_color="grey", row=2, col=1,
                      annotation_text="base model", annotation_position="bottom right")
        fig.add_hline(y=opt["cap"], line_dash="dash", line_color="black", row=2, col=1,
                      annotation_text=f"cap +{max_general_increase:.1%}", annotation_position="top right")
        if opt["feasible"]:
            for row in (1, 2):
                fig.add_vline(x=opt["r"], line_dash="dot", line_color="green", row=row, col=1)
            for row, loss, legend in ((1, opt["domain_loss"], True), (2, opt["general_loss"], False)):
                fig.add_trace(go.Scatter(x=[opt["r"]], y=[loss], mode="markers", legendgroup="optimum",
                                         marker={"color": "green", "size": 12, "symbol": "star"},
                                         name=f"optimum r={opt['r']:.3f}", showlegend=legend), row=row, col=1)
    fig.update_xaxes(title_text=f"domain share r ({dom.inputs['r']})", row=2, col=1)
    fig.update_yaxes(title_text=dom.target, row=1, col=1)
    fig.update_yaxes(title_text=gen.target, row=2, col=1)
    fig.update_layout(template="plotly_white",
                      title=f"D-CPT: losses against the mixture at N={N:.3g}, D={D:.3g}")
    return fig
