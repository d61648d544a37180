"""Running a request: choose the points, call ``scalelaw.fit`` (and the bootstrap), cache the result.

The cache key is the selected rows (which derive from the uploaded bytes) plus the options as
JSON; the cached value is the fit's own JSON (``FitResult.to_dict``), the form it is saved and
exported in, so what the page shows is exactly what a download reloads.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from .selection import MODES, select_points


@dataclass
class Outcome:
    """A fitted request: the fit (and dcpt's general-loss fit), the rows they saw, the candidates."""

    fit: object
    points: pd.DataFrame
    candidates: pd.DataFrame
    gen: object = None
    gen_points: pd.DataFrame | None = None
    fit_kwargs: dict | None = None


@st.cache_data(show_spinner="Fitting…", max_entries=64)
def fit_cached(points: pd.DataFrame, law: str, kwargs_json: str, n_boot: int, seed: int) -> dict:
    """``scalelaw.fit`` then ``bootstrap``; returns ``FitResult.to_dict()``.

    The progress bar is created in here, so Streamlit replays its final state on a cache hit
    rather than pointing at a bar from another run.
    """
    import scalelaw as sl

    kwargs = json.loads(kwargs_json)
    fit = sl.fit(law, points, **kwargs)
    if n_boot:
        what = law + (f", {kwargs['side']} loss" if "side" in kwargs else "")
        bar = st.progress(0.0, text=f"Bootstrap ({what}): 0 / {n_boot} resamples")

        def progress(done, total):
            bar.progress(done / total, text=f"Bootstrap ({what}): {done} / {total} resamples")

        try:
            fit.bootstrap(n=n_boot, seed=seed, progress=progress)
        except ValueError as err:  # e.g. nothing to resample by: keep the fit, say why there is no CI
            fit.warnings.append(f"bootstrap not possible: {err}")
    return fit.to_dict()


def warmup_from_schedules(df: pd.DataFrame) -> dict:
    """Each run's warm-up from its schedule string (``warmup=``), for lr_annealing's S1/S2."""
    from scalelaw.schedules import parse_spec

    if "schedule" not in df.columns:
        return {}
    out = {}
    for run, spec in df.dropna(subset=["schedule"]).groupby("run")["schedule"].first().items():
        try:
            out[str(run)] = int(parse_spec(str(spec))[1].get("warmup", 0))
        except ValueError:
            continue  # an unparsable schedule string: lr_annealing itself reports it
    return out


def fit_kwargs(request: dict, points: pd.DataFrame, side: str | None = None) -> dict:
    """The keyword arguments of ``scalelaw.fit`` a request stands for (JSON-ready)."""
    options = dict(request["options"])
    if request["law"] == "lr_annealing" and "warmup_steps" not in options:
        warm = warmup_from_schedules(points)
        if warm:
            options["warmup_steps"] = warm
    if side is not None:
        options["side"] = side
    return {"inputs": request["inputs"], "target": request["target"], "loss": request["loss"],
            "delta": request["delta"], "fixed": request["fixed"] or None, "bounds": request["bounds"] or None,
            "seed": request["seed"], **options}


def _fit(points, request, side=None):
    from scalelaw.result import FitResult

    kwargs = fit_kwargs(request, points, side)
    d = fit_cached(points, request["law"], json.dumps(kwargs, sort_keys=True), request["bootstrap"], request["seed"])
    return FitResult.from_dict(d), kwargs


def run(df: pd.DataFrame, request: dict) -> Outcome:
    """Select the points and fit; raises the library's errors (the page shows them)."""
    from scalelaw.points import UnfinishedRunWarning

    p = request["points"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnfinishedRunWarning)
        points, candidates = select_points(df, mode=p["mode"], split=p["split"], warmup=p["warmup"],
                                           smooth=p["smooth"], x=p["x"], y=request["target"],
                                           n_params=p.get("n_params"))
    # runs stopped before their schedule's end: the page lists it with the fit's own warnings
    unfinished = [str(w.message) for w in caught if issubclass(w.category, UnfinishedRunWarning)]
    for w in caught:
        if not issubclass(w.category, UnfinishedRunWarning):
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    if request["law"] in ("dcpt", "dcpt_cross"):
        fit, kwargs = _fit(points, request, side="domain")
        gen_points, _ = select_points(df, mode=p["mode"], split=request["general_split"], warmup=p["warmup"],
                                      smooth=p["smooth"], x=p["x"], y=request["target"],
                                      n_params=p.get("n_params"))
        gen, _ = _fit(gen_points, request, side="general")
        fit.warnings[:0] = unfinished
        return Outcome(fit=fit, points=points, candidates=candidates, gen=gen, gen_points=gen_points,
                       fit_kwargs=kwargs)
    try:
        fit, kwargs = _fit(points, request)
    except ValueError as err:
        # the selection, not the upload, left the law this few rows (a final point per run is by
        # design one row a run: the hint is for too few rows, or a frontier that kept one level)
        few = "too few points" in str(err) or (p["mode"] == "frontier" and "distinct value" in str(err))
        if few and len(points) < len(candidates):
            raise ValueError(f"{err} [the law saw {len(points)} of the {len(candidates)} rows of split "
                             f"{p['split']!r}: {MODES[p['mode']]}; change 'Rows' in the fit options to use more]") from err
        raise
    fit.warnings[:0] = unfinished
    return Outcome(fit=fit, points=points, candidates=candidates, fit_kwargs=kwargs)
