"""Chinchilla's three approaches on data that has compute budgets (IsoFLOP ladders): the
profiles figure and :func:`scalelaw.compare_approaches`' table, run on request (a few seconds)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st


def budgets_in(fit) -> int:
    """How many IsoFLOP budgets (C = 6 N D binned within 0.05 decades, 5+ points) the fit's rows have."""
    from scalelaw.isoflops import assign_budgets

    N = fit.table[fit.inputs["N"]].to_numpy(float)
    D = fit.table[fit.inputs["D"]].to_numpy(float)
    return len(assign_budgets(6.0 * N * D, None, 0.05, 5)[1])


@st.cache_data(show_spinner=False, max_entries=8)
def _compare(points: pd.DataFrame, C: float, profile: str, level: float):
    import scalelaw as sl

    cmp = sl.compare_approaches(points, inputs={"N": "N", "C": "C"}, target="loss", C=C, profile=profile,
                                n_boot=50, level=level)
    iso = cmp.fits.get("2 isoflop")
    return cmp.table, cmp.backtest, cmp.recommended, cmp.warnings, None if iso is None else iso.to_dict()


def approaches_section(fit, C: float, level: float, scope: str) -> None:
    n = budgets_in(fit)
    if n < 4:
        st.caption(f"Chinchilla approaches 1 and 2 need an IsoFLOP ladder (4+ compute budgets of 5+ sizes); "
                   f"these data have {n}.")
        return
    st.subheader(f"Chinchilla approaches 1, 2 and 3 ({n} budgets)")
    profile = st.radio("IsoFLOP profile", ["parabola", "law"], horizontal=True, key=f"{scope}::iso_profile",
                       help="parabola in log N (Hoffmann); law: the law's own asymmetric iso-FLOP curve")
    if not st.button("Compare the approaches (fit, backtest on the largest third of budgets)",
                     key=f"{scope}::iso_run"):
        return
    N = fit.table[fit.inputs["N"]].to_numpy(float)
    D = fit.table[fit.inputs["D"]].to_numpy(float)
    points = pd.DataFrame({"N": N, "C": 6.0 * N * D, "loss": fit.table[fit.target].to_numpy(float)})
    with st.spinner("fitting approaches 1, 2, 3 and their backtests"):
        table, backtest, recommended, warnings, iso_dict = _compare(points, float(C), profile, float(level))
    st.markdown(f"Recommended (smallest error in a rolling backtest inside the fitted budgets): **{recommended}**")
    # the table's N_opt and loss_opt are at the budget typed above, its _lo/_hi columns at the page's level
    st.caption(f"N_opt and loss_opt at C = {C:.4g} FLOPs (the budget above); _lo/_hi columns: {level:.0%} "
               "intervals; backtest columns: errors on the held-out budgets.")
    st.dataframe(table, hide_index=True)
    st.caption("Backtest: fitted on the smaller budgets, predicting each held-out budget's IsoFLOP minimum.")
    st.dataframe(backtest, hide_index=True)
    for w in warnings:
        st.caption(f"warning: {w}")
    if iso_dict is not None:
        from scalelaw.isoflops import IsoflopResult

        st.plotly_chart(IsoflopResult.from_dict(iso_dict).plot(at=C, level=level), key=f"{scope}::iso_fig")
