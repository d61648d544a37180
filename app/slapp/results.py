"""Step 4, the results: parameters with intervals, warnings, the extrapolated prediction, the
main figure (data, fitted law, CI band, extrapolation) and the residuals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from .fitting import Outcome


def params_table(fit, level: float) -> pd.DataFrame:
    """One row per parameter: value, bootstrap interval, whether fixed or at a bound, meaning."""
    ci = fit.ci(level) if fit.draws is not None and len(fit.draws.dropna()) >= 2 else None
    rows = []
    for p in fit.law.params:
        status = "fixed" if p.name in fit.spec.fixed else ("at bound" if p.name in fit.at_bound else "free")
        row = {"parameter": p.name, "value": fit.params[p.name]}
        if ci is not None:
            free = p.name not in fit.spec.fixed
            row[f"{level:.0%} CI low"] = ci.loc[p.name, "lower"] if free else np.nan
            row[f"{level:.0%} CI high"] = ci.loc[p.name, "upper"] if free else np.nan
        row["status"] = status
        row["meaning"] = p.doc
        rows.append(row)
    return pd.DataFrame(rows)


def fmt(value: float) -> str:
    return f"{value:.4g}" if np.isfinite(value) else str(value)


def show_fit_summary(fit, level: float, title: str = "Fitted parameters") -> None:
    st.subheader(title)
    for w in fit.warnings:
        st.warning(w)
    table = params_table(fit, level)
    numbers = [c for c in table.columns if c not in ("parameter", "status", "meaning")]
    # a static table: small, and its text is in the page (selectable, and visible to a browser test)
    st.table(table.style.format({c: "{:.5g}" for c in numbers}, na_rep="").hide(axis="index"))
    c = st.columns(4)
    c[0].metric("points fitted", fit.n_points)
    c[1].metric("objective", f"{fit.objective:.4g}")
    c[2].metric("AIC", f"{fit.aic:.4g}")
    c[3].metric("starts agreeing", f"{fit.starts['n_agree']} / {fit.starts['n_polished']}")
    derived = fit.derived()
    if derived:
        st.caption("Derived: " + ", ".join(f"{k} = {fmt(v)}" for k, v in derived.items()))
    if fit.bootstrap_info:
        b = fit.bootstrap_info
        st.caption(f"Bootstrap: {b['n']} resamples by {b['method']}, {b['n_failed']} failed, seed {b['seed']}.")


def show_prediction(fit, at: dict, level: float) -> None:
    """The law's prediction at the extrapolation target, its interval and how far it reaches."""
    if not at or set(at) != {i.name for i in fit.law.inputs if not i.categorical}:
        return
    X = {k: np.array([v]) for k, v in at.items()}
    if "domain" in fit.law.input_names:
        X["domain"] = np.array([str(fit.table[fit.inputs["domain"]].iloc[0])], dtype=object)
    pred = float(fit.predict(X, warn=False)[0])  # the extrapolation is shown beside it
    where = ", ".join(f"{k} = {v:.3g}" for k, v in at.items())
    band = ""
    if fit.draws is not None:
        lo, hi = fit.predict_interval(X, level=level, warn=False)  # its reach warning is shown below
        band = f"{fit.interval_label(level)}: [{lo[0]:.4g}, {hi[0]:.4g}]"
    reach = fit.extrapolation(at)
    far = max(reach.values()) if reach else 1.0
    c = st.columns([2, 3])
    c[0].metric(f"predicted {fit.target} at {where}", f"{pred:.4g}", help=band or None)
    c[1].markdown(f"{band or 'no interval: set bootstrap resamples > 0'}  \n"
                  f"extrapolation: {far:.3g}x beyond the observed range "
                  + ("(far: trust it only as far as a backtest supports)" if far > 10 else ""))
    beyond = fit.beyond_reach(X) if band else None
    if beyond:
        st.warning(beyond)


def main_figure(outcome: Outcome, at: dict, level: float):
    """Data (grey: rows not fitted) and the fitted law on log-log axes, stretched to the target."""
    from scalelaw.plot import plot_candidates, plot_fit

    fit = outcome.fit
    first = next(i.name for i in fit.law.inputs if not i.categorical)
    base = plot_candidates(fit, outcome.candidates)
    fig = plot_fit(fit, extend_to=at.get(first), level=level, fig=base)
    fig.update_layout(height=520)
    return fig


def show_figures(outcome: Outcome, at: dict, level: float):
    """The main figure and the residuals; returns the main figure (for export)."""
    from scalelaw.plot import plot_residuals

    fig = main_figure(outcome, at, level)
    st.plotly_chart(fig, key="main_figure")
    res = plot_residuals(outcome.fit)
    res.update_layout(height=320)
    st.plotly_chart(res, key="residuals_figure")
    if outcome.gen is not None:
        st.markdown("**General-loss fit** (the same law in the general share 1 - r)")
        gen = Outcome(fit=outcome.gen, points=outcome.gen_points, candidates=outcome.gen_points)
        st.plotly_chart(main_figure(gen, at, level), key="general_figure")
    return fig
