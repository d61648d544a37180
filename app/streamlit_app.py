"""scalelaw's web app: upload loss logs (or open a bundled set), pick a law, fit, extrapolate
with confidence bands, compare, export.

Run: ``streamlit run app/streamlit_app.py`` (or ``scalelaw app``). ``SCALELAW_DATA_DIR`` points it
at another folder of data sets; ``SCALELAW_MAX_UPLOAD_MB`` caps uploads.

The page is widgets plus library calls; each step lives in ``app/slapp/``.
"""

from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run` puts this folder on sys.path, AppTest does not always: make `slapp` importable
sys.path.insert(0, str(Path(__file__).resolve().parent))

import streamlit as st  # noqa: E402

from slapp import backtests, datapanel, export, fitform, fitting, forecast_panel, panels, results, sources  # noqa: E402
from slapp.sources import error_text  # noqa: E402


def main() -> None:
    st.set_page_config(page_title="scalelaw", page_icon="📉", layout="wide")
    st.title("scalelaw: fit scaling laws to your loss curves")

    with st.sidebar:
        loaded = sources.data_input()
    if loaded is None:
        st.info("Upload loss logs in the sidebar (CSV, JSONL, TensorBoard, Hugging Face, Lightning, W&B, nanoGPT "
                "or scalelaw trainer logs), or add a bundled data set under data/.")
        return
    if loaded.df is None:
        datapanel.repair_section(loaded)
        return
    datapanel.data_section(loaded)
    forecast_panel.forecast_section(loaded)  # runs that stop short of their schedule

    with st.sidebar:
        law = fitform.law_picker(loaded.df, loaded.data_id)
        request = fitform.fit_form(loaded.df, law, loaded.data_id)
    fitform.law_header(law)
    if request is None:
        st.warning("Fix the fit options marked in the sidebar, then press Fit.")
        return
    try:
        outcome = fitting.run(loaded.df, request)
    except Exception as err:  # noqa: BLE001 - the page's boundary: the library's message, never a traceback
        st.error(f"Could not fit {law}: {error_text(err)}")
        return

    level = request["level"]
    at = fitform.auto_targets(request, outcome.points)
    results.show_fit_summary(outcome.fit, level,
                             "Fitted parameters" + (" (domain loss)" if outcome.gen is not None else ""))
    if outcome.gen is not None:
        results.show_fit_summary(outcome.gen, level, "Fitted parameters (general loss)")
    results.show_prediction(outcome.fit, at, level)

    scope = f"{loaded.data_id}::{law}"
    tabs = st.tabs(["Fit and residuals", panels.title(law), "Backtest and compare", "Report and export"])
    with tabs[0]:
        figure = results.show_figures(outcome, at, level)
    with tabs[1]:
        panels.law_panel(outcome, level, scope)
    with tabs[2]:
        backtests.backtest_panel(outcome, request, scope)
    with tabs[3]:
        export.export_panel(loaded, request, outcome, figure, at)


main()
