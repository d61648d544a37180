"""Step 5, take it away: the fit as JSON (``scalelaw.load_fit`` reads it), the figure as a
self-contained HTML page, the predictions as CSV, and the Python that reproduces the fit."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import streamlit as st

from .fitting import Outcome
from .sources import Loaded


def fit_json(fit) -> str:
    return json.dumps(fit.to_dict(), indent=1)


def predictions_csv(fit, at: dict, level: float) -> str:
    """The fitted rows with prediction, residual and relative error, then the extrapolation target."""
    table = fit.residuals()
    table.insert(0, "kind", "fitted")
    names = [i.name for i in fit.law.inputs if not i.categorical]
    if at and set(at) == set(names):
        X = {k: np.array([v]) for k, v in at.items()}
        if "domain" in fit.law.input_names:
            X["domain"] = np.array([str(fit.table[fit.inputs["domain"]].iloc[0])], dtype=object)
        row = {"kind": "target", **{fit.inputs[k]: v for k, v in at.items()}, "pred": float(fit.predict(X, warn=False)[0])}
        if fit.draws is not None:
            lo, hi = fit.predict_interval(X, level=level, warn=False)  # the page shows the reach warning
            row[f"pred_lower_{level:g}"], row[f"pred_upper_{level:g}"] = float(lo[0]), float(hi[0])
        table = pd.concat([table, pd.DataFrame([row])], ignore_index=True)
    return table.to_csv(index=False)


def snippet(loaded: Loaded, request: dict, outcome: Outcome) -> str:
    from scalelaw.codegen import fit_snippet

    if loaded.source["kind"] == "bundled":
        source, note = loaded.source["path"], f"Reproduces the app's {request['law']} fit on {loaded.source['path']}."
    else:
        names = loaded.source["names"]
        source = names[0] if len(names) == 1 else names
        note = f"Reproduces the app's {request['law']} fit; put the uploaded file(s) beside this script."
    return fit_snippet(request["law"], source, read_kwargs=loaded.read_kwargs,
                       points={**request["points"]}, fit_kwargs=dict(outcome.fit_kwargs or {}),
                       bootstrap=request["bootstrap"], bootstrap_seed=request["seed"],
                       general_split=request.get("general_split"), note=note)


def export_panel(loaded: Loaded, request: dict, outcome: Outcome, figure, at: dict) -> None:
    fit = outcome.fit
    law = fit.law.name
    st.markdown("**Report**")
    st.code(fit.report(request["level"]), language=None)
    c = st.columns(4)
    c[0].download_button("Fit (JSON)", fit_json(fit), file_name=f"{law}_fit.json", mime="application/json",
                         key="dl_fit_json", help="loads with scalelaw.load_fit")
    # the page is ~4 MB with plotly.js inlined (so it opens offline): build it only when asked
    c[1].download_button("Figure (HTML)", lambda: figure.to_html(include_plotlyjs=True, full_html=True),
                         file_name=f"{law}_fit.html", mime="text/html", key="dl_plot_html")
    c[2].download_button("Predictions (CSV)", predictions_csv(fit, at, request["level"]),
                         file_name=f"{law}_predictions.csv", mime="text/csv", key="dl_predictions")
    code = snippet(loaded, request, outcome)
    c[3].download_button("Python snippet", code, file_name=f"fit_{law}.py", mime="text/x-python", key="dl_snippet")
    if outcome.gen is not None:
        st.download_button("General-loss fit (JSON)", fit_json(outcome.gen), file_name=f"{law}_general_fit.json",
                           mime="application/json", key="dl_general_json")
    st.markdown("**Python that reproduces this fit**")
    st.code(code, language="python")
