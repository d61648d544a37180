"""Runs in progress: a run whose logs stop short of its planned schedule (its ``schedule`` says
more steps than it logged, or the user gives the plan) shows ``scalelaw.forecast``: the predicted
final loss with its interval, and the forecast curve after the last logged step."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import streamlit as st

from .sources import Loaded, error_text

LAWS = ("lr_annealing", "multi_power")
N_BOOT = 100      # bootstrap resamples per forecast (the measured coverage in scalelaw.forecasting used 100)
MAX_SHOWN = 4     # forecasts drawn at once (each is a fit and a calibrated bootstrap)


def _split(df: pd.DataFrame):
    """The split a run in progress is forecast from: the one the fit panel would pick (``val``,
    else ``validation``/``eval``/another ``val*`` split, else the first), so a log that names its
    held-out split ``validation`` is not forecast from its training loss."""
    from .defaults import default_split

    splits = [str(s) for s in pd.unique(df["split"].dropna())] if "split" in df.columns else []
    return default_split(splits, "lr_annealing") if splits else None


def _curve(df: pd.DataFrame, run: str, split) -> pd.DataFrame:
    rows = df[df["run"].astype(str) == run]
    if split is not None and "split" in rows.columns:
        rows = rows[rows["split"] == split]
    return rows.dropna(subset=["step", "loss"]).sort_values("step")


def runs_in_progress(df: pd.DataFrame, split=None) -> list[dict]:
    """Runs whose ``schedule`` plans more steps than they logged: ``{"run", "schedule", "last_step",
    "n_steps"}`` each. A run counts as stopped short when at least one more logging interval (the
    median gap between its logged steps) would fit before the schedule's end, so a finished run
    that logs every k steps is not taken for one in progress."""
    from scalelaw.schedules import from_spec

    if "schedule" not in df.columns or "run" not in df.columns:
        return []
    split = _split(df) if split is None else split
    out = []
    for run, spec in df.dropna(subset=["schedule"]).groupby("run", sort=False)["schedule"].first().items():
        rows = _curve(df, str(run), split)
        if len(rows) < 3:
            continue
        try:
            n_steps = len(from_spec(str(spec)))
        except ValueError:
            continue  # an unparsable schedule: the fit's own checks report it
        steps = rows["step"].to_numpy(dtype=float)
        gap = float(np.median(np.diff(np.unique(steps)))) if len(np.unique(steps)) > 1 else 1.0
        if n_steps - steps.max() >= max(gap, 1.0):
            out.append({"run": str(run), "schedule": str(spec), "last_step": int(steps.max()), "n_steps": n_steps})
    return out


def law_warmup(law: str, spec: str) -> int:
    """lr_annealing counts the warm-up steps at the peak LR; multi_power keeps the authors' code
    convention (warm-up increases inside the loss-drop sum, ``warmup_steps=0``)."""
    from scalelaw.schedules import parse_spec

    return int(parse_spec(spec)[1].get("warmup", 0)) if law == "lr_annealing" else 0


@st.cache_data(show_spinner="Forecasting the run in progress…", max_entries=32)
def forecast_cached(curve: pd.DataFrame, spec: str, law: str, using: pd.DataFrame | None, schedules_json: str,
                    level: float, min_step: int) -> dict:
    """``scalelaw.forecast`` of one run's logged rows (the result without its fit object)."""
    import scalelaw as sl

    curve = curve[curve["step"] >= min_step]
    kw = {}
    if using is not None and len(using):
        kw = {"using": using[using["step"] >= min_step], "schedules": json.loads(schedules_json)}
    fc = sl.forecast(curve[["step", "loss"]], schedule=spec, law=law, warmup_steps=law_warmup(law, spec),
                     level=level, n_boot=N_BOOT, **kw)
    fc.pop("fit", None)
    return fc


def _finished_of_same_setup(df, split, run, in_progress) -> pd.DataFrame:
    """Finished runs with schedules, of the same model size as ``run`` when sizes are logged."""
    busy = {r["run"] for r in in_progress} | {run}
    rows = df.dropna(subset=["schedule"]) if "schedule" in df.columns else df.iloc[:0]
    if split is not None and "split" in rows.columns:
        rows = rows[rows["split"] == split]
    rows = rows[~rows["run"].astype(str).isin(busy)]
    if "n_params" in df.columns and len(rows):
        size = df.loc[df["run"].astype(str) == run, "n_params"].dropna()
        if len(size):
            rows = rows[rows["n_params"] == size.iloc[0]]
    return rows


def forecast_section(loaded: Loaded, level: float = 0.9) -> None:
    """The runs that stop short of their schedule, each with its forecast; and a form to give a
    run's planned schedule when its logs do not say it."""
    df = loaded.df
    if df is None or not {"run", "step", "loss"} <= set(df.columns):
        return
    split = _split(df)
    found = runs_in_progress(df, split)
    scope = f"forecast::{loaded.data_id}"
    given = st.session_state.setdefault(scope + "::given", {})
    for run, spec in given.items():
        rows = _curve(df, run, split)
        if len(rows):
            found = [f for f in found if f["run"] != run] + [{"run": run, "schedule": spec,
                                                             "last_step": int(rows["step"].max()), "n_steps": None}]
    with st.expander("Runs in progress: forecast the final loss of a run that stops short of its schedule",
                     expanded=bool(found)):
        with st.form(scope + "::form"):
            c = st.columns([2, 3, 1])
            runs = [str(r) for r in pd.unique(df["run"])]
            run = c[0].selectbox("run", runs, key=scope + "::run")
            spec = c[1].text_input("its planned schedule", key=scope + "::spec",
                                   placeholder="e.g. cosine:n_steps=24000,peak=3e-4,floor=3e-5,warmup=2160")
            submitted = c[2].form_submit_button("Forecast")
        if submitted and spec.strip():
            from scalelaw.schedules import from_spec

            try:
                from_spec(spec.strip())
            except (ValueError, MemoryError) as err:  # MemoryError: a schedule too long to build
                st.error(f"planned schedule: {err}")
            else:
                given[run] = spec.strip()
                st.rerun()
        if not found:
            st.caption("No run stops short of its logged schedule. Give a run's planned schedule above to "
                       "forecast where it will end.")
            return
        c = st.columns(3)
        law = c[0].selectbox("law", LAWS, key=scope + "::law",
                             help="lr_annealing (Tissue et al. 2024) forecasts in seconds; multi_power (Luo et "
                                  "al. 2025) takes a minute or more per run")
        min_step = c[1].number_input("ignore steps before", min_value=0, value=0, step=100, key=scope + "::min",
                                     help="e.g. an early plateau the schedule laws have no term for")
        borrow = c[2].checkbox("borrow from finished runs of the same size", value=True, key=scope + "::borrow",
                               help="fit one parameter set to the finished runs and the partial one together "
                                    "(forecast(using=...)): much better early in a run")
        if len(found) > MAX_SHOWN:
            st.caption(f"{len(found)} runs stop short; the first {MAX_SHOWN} are forecast: "
                       + ", ".join(f["run"] for f in found[MAX_SHOWN:]) + " are not.")
        for item in found[:MAX_SHOWN]:
            _show(df, split, item, found, law, int(min_step), borrow, level, scope)


def _show(df, split, item, found, law, min_step, borrow, level, scope):
    from scalelaw.plot import plot_forecast

    run, spec = item["run"], item["schedule"]
    curve = _curve(df, run, split)
    using, schedules = None, {}
    if borrow:
        using = _finished_of_same_setup(df, split, run, found)
        schedules = {str(r): str(s) for r, s in using.groupby("run")["schedule"].first().items()} if len(using) else {}
        using = using[["run", "step", "loss"]].assign(run=lambda t: t["run"].astype(str)) if len(using) else None
    try:
        fc = forecast_cached(curve[["step", "loss"]].reset_index(drop=True), spec, law, using,
                             json.dumps(schedules, sort_keys=True), float(level), min_step)
    except Exception as err:  # noqa: BLE001 - the page's boundary: the library's message
        st.error(f"Could not forecast {run}: {error_text(err)}")
        return
    borrowed = f"; borrowing from {len(schedules)} finished run(s)" if schedules else "; from this run alone"
    iv = fc["interval"]
    st.metric(f"{run}: forecast final loss (step {fc['n_steps']:,})", f"{fc['final_loss']:.4g}",
              help=(f"{fc['level']:.0%} prediction interval [{iv[0]:.4g}, {iv[1]:.4g}]" if iv else None))
    st.caption(f"Logged to step {fc['cut_step']:,} of {fc['n_steps']:,} ({spec}); {law}{borrowed}. "
               + (f"{fc['level']:.0%} calibrated prediction interval: [{iv[0]:.4g}, {iv[1]:.4g}]." if iv else
                  "No interval (nothing to resample)."))
    for w in fc["warnings"]:
        st.warning(w)
    fig = plot_forecast(fc, curve[curve["step"] >= min_step], name=run)
    st.plotly_chart(fig, key=f"{scope}::figure::{run}")
