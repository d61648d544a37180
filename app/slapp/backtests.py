"""Should the extrapolation be trusted? Backtest (fit on the smaller runs, predict the larger)
and a comparison of several laws on the same rows, with ``scalelaw.backtest`` / ``compare``.

Both refit several times, so they run on request (a form) and are cached on their arguments;
the last request is remembered in the session so its results stay on the page.
"""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from .fitting import Outcome

_SHARED_KWARGS = ("loss", "delta", "seed")


@st.cache_data(show_spinner="Backtesting…", max_entries=16)
def backtest_cached(points: pd.DataFrame, law: str, kwargs_json: str, holdout_json: str):
    import scalelaw as sl

    kwargs = json.loads(kwargs_json)
    hold = json.loads(holdout_json)
    holdout = "loo" if hold == "loo" else (hold[0], float(hold[1]))
    bt = sl.backtest(law, points, holdout=holdout, **kwargs)
    # FitResults hold closures over their features: keep the picklable parts for the cache
    return {"law": bt.law, "holdout": bt.holdout, "table": bt.table, "summary": bt.summary,
            "fits": [f.to_dict() for f in bt.fits[:1]]}


@st.cache_data(show_spinner="Comparing laws…", max_entries=16)
def compare_cached(points: pd.DataFrame, laws: tuple, kwargs_json: str, holdout_json: str) -> pd.DataFrame:
    import scalelaw as sl

    kwargs = json.loads(kwargs_json)
    hold = json.loads(holdout_json)
    holdout = "loo" if hold == "loo" else (hold[0], float(hold[1]))
    return sl.compare(list(laws), points, holdout=holdout, **kwargs)


def _comparable_laws(law: str, points: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Laws over the same inputs (the closest comparison), and laws whose default tidy columns
    all exist in the rows (offered, not preselected: they may not be identifiable here)."""
    import scalelaw as sl

    this = sl.get_law(law)
    same, has = [], []
    for name in sl.laws():
        other = sl.get_law(name)
        if set(other.input_names) == set(this.input_names):
            same.append(name)
        elif all(i.column in points.columns for i in other.inputs) and not other.options:
            has.append(name)
    return same, has


def backtest_panel(outcome: Outcome, request: dict, scope: str) -> None:
    import scalelaw as sl
    from scalelaw.plot import plot_backtest, plot_compare
    from scalelaw.result import FitResult

    fit = outcome.fit
    points = outcome.points
    numeric = [c for c in points.columns if pd.api.types.is_numeric_dtype(points[c])]
    first_col = fit.inputs[next(i.name for i in fit.law.inputs if not i.categorical)]
    same, has = _comparable_laws(fit.law.name, points)
    same = [n for n in same if n != fit.law.name]
    with st.form(f"{scope}::backtest"):
        st.markdown("**Backtest**: hold out the largest values of a column, fit on the rest, predict them")
        c = st.columns(3)
        col = c[0].selectbox("hold out the largest", ["(leave one run out)", *numeric],
                             index=1 + numeric.index(first_col) if first_col in numeric else 0, key=f"{scope}::bt_col")
        frac = c[1].slider("fraction of its values", 0.1, 0.6, 1 / 3, 0.05, key=f"{scope}::bt_frac")
        others = c[2].multiselect("compare with", same + has, default=same[:1], key=f"{scope}::bt_laws")
        run = st.form_submit_button("Run backtest and comparison")
    state_key = f"{scope}::bt_request"
    kwargs = dict(outcome.fit_kwargs or {})
    holdout = "loo" if col.startswith("(") else [col, float(frac)]
    if run:
        st.session_state[state_key] = {"holdout": holdout, "others": others}
    asked = st.session_state.get(state_key)
    if not asked:
        st.caption("Press the button to run (it refits the law once per held-out part).")
        return
    hold_json = json.dumps(asked["holdout"])
    try:
        bt = backtest_cached(points, fit.law.name, json.dumps(kwargs, sort_keys=True), hold_json)
    except Exception as err:  # noqa: BLE001 - the page's boundary: a message, never a traceback
        st.error(f"backtest: {err}")
        return
    from scalelaw.backtesting import BacktestResult

    result = BacktestResult(bt["law"], bt["holdout"], bt["table"], bt["summary"],
                            [FitResult.from_dict(d) for d in bt["fits"]])
    s = result.summary
    c = st.columns(3)
    c[0].metric("held-out points", s["n_heldout"])
    c[1].metric("mean |relative error|", f"{s['mean_rel_err']:.2%}")
    c[2].metric("max |relative error|", f"{s['max_rel_err']:.2%}")
    if asked["holdout"] != "loo":
        st.plotly_chart(plot_backtest(result), key="backtest_figure")
    shown = [c for c in ("run", first_col, fit.target, "pred", "rel_err") if c in result.table.columns]
    st.dataframe(result.table[shown], hide_index=True)
    if asked["others"]:
        shared = {k: kwargs[k] for k in _SHARED_KWARGS if k in kwargs}
        # laws over the same inputs use the same columns; the others take their tidy defaults
        shared["inputs"] = {n: fit.inputs for n in (fit.law.name, *asked["others"])
                            if set(sl.get_law(n).input_names) == set(fit.law.input_names)}
        try:
            table = compare_cached(points, (fit.law.name, *asked["others"]), json.dumps(shared, sort_keys=True),
                                   hold_json)
        except Exception as err:  # noqa: BLE001
            st.error(f"comparison: {err}")
            return
        st.markdown("**Laws compared on the same rows**")
        st.table(table.style.format({c: "{:.4g}" for c in ("objective", "aic")}
                                    | {c: "{:.2%}" for c in ("mean_rel_err", "max_rel_err")}))
        st.plotly_chart(plot_compare(table), key="compare_figure")
