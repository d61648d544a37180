"""The work a fit worker process does: read the data, select points, fit, bootstrap, backtest.

Jobs are plain dicts (built and validated by :mod:`scalelaw.serve.requests`) and answers are
plain dicts: ``{"ok": {...}}`` or ``{"error": {"status", "error", "field", "message"}}``. Each
stage names the request field its errors are about, so a library error comes back with the
library's message and the field that caused it.
"""

from __future__ import annotations

import io
import sys
import traceback
import warnings
from contextlib import contextmanager
from pathlib import Path

from scalelaw.serve.errors import INPUT_ERRORS, ApiError, error_payload, field_for, message_of

# Suffixes read as plain tables of points, as `scalelaw fit` reads them (no read_logs reshaping).
_PLAIN_SUFFIXES = {".csv", ".tsv", ".parquet", ".pq"}


@contextmanager
def stage(field: str, *, guess: bool = True):
    """Library input errors raised inside become 400s naming ``field`` (or the field the message names)."""
    try:
        yield
    except ApiError:
        raise
    except INPUT_ERRORS as err:
        msg = message_of(err)
        raise ApiError(400, msg, field_for(msg, field) if guess else field) from None


class _Upload:
    """What read_logs takes for an upload: ``.name`` and ``.getvalue()``."""

    def __init__(self, name: str, data: bytes):
        self.name, self._data = name, data

    def getvalue(self) -> bytes:
        return self._data


def read_upload(files, read: dict):
    """A DataFrame from uploaded files: one plain table as it is, anything else via read_logs."""
    import scalelaw as sl

    read = dict(read)
    as_table = read.pop("table", None)
    if len(files) == 1 and as_table is not False:
        name, data = files[0]
        suffix = Path(name).suffix.lower()
        first = data.split(b"\n", 1)[0]
        plain_jsonl = suffix == ".jsonl" and b'"header"' not in first
        if as_table or suffix in _PLAIN_SUFFIXES or plain_jsonl:
            from scalelaw.io.plain import PLAIN_SUFFIXES, read_plain_table

            return read_plain_table(data, name, suffix if suffix in PLAIN_SUFFIXES else ".csv")
    if as_table:
        raise ValueError("read.table: several files cannot be one plain table; upload one file or read them as logs")
    return sl.read_logs([_Upload(n, d) for n, d in files], **read)


def _select(df, select: dict):
    import scalelaw as sl

    if select.get("split") is not None:
        with stage("split", guess=False):
            if "split" not in df.columns:
                raise ValueError("split given but the data have no 'split' column; columns are: "
                                 + ", ".join(map(str, df.columns)))
            kept = df[df["split"] == select["split"]]
            if kept.empty:
                raise ValueError(f"no rows with split == {select['split']!r}; splits are "
                                 f"{sorted(map(str, df['split'].dropna().unique()))}")
            df = kept
    if select.get("final_points"):
        with stage("final_points", guess=False):
            df = sl.final_points(df, split=None)
    if select.get("frontier") is not None:
        with stage("frontier", guess=False):
            df = sl.frontier(df, **select["frontier"])
    return df


def fit_job(job: dict) -> dict:
    import pandas as pd

    import scalelaw as sl
    from scalelaw.serve.summary import fit_summary

    data_field = "file" if job.get("files") else "data"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with stage(data_field, guess=False):
            if job.get("files"):
                df = read_upload(job["files"], job.get("read") or {})
            else:
                df = pd.DataFrame(job["data"])
        if len(df) > job["max_rows"]:
            raise ApiError(413, f"{len(df)} rows of data; this server takes at most {job['max_rows']} rows per fit "
                           "(SCALELAW_MAX_ROWS); select points first (final_points, split) or fit fewer rows",
                           data_field, "too_large")
        if len(df) == 0:
            raise ApiError(400, "the data have no rows", data_field)
        df = _select(df, job.get("select") or {})
        with stage("data"):
            fit = sl.fit(job["law"], df, inputs=job.get("inputs"), target=job.get("target", "loss"),
                         **job.get("fit_kwargs", {}))
        if job.get("bootstrap"):
            with stage("bootstrap", guess=False):
                fit.bootstrap(job["bootstrap"], seed=job.get("fit_kwargs", {}).get("seed", 0))
    notes = [f"{w.category.__name__}: {w.message}" for w in caught]
    return {"saved": fit.to_dict(), "summary": fit_summary(fit), "notes": notes}


def backtest_job(job: dict) -> dict:
    import pandas as pd

    import scalelaw as sl
    from scalelaw.serve.summary import jsonable

    d = job["saved"]
    law = sl.get_law(d["law"])
    table = pd.DataFrame(d["data"])
    # The stored fit's own settings, rebuilt as sl.fit arguments (as FitResult.from_dict does).
    fixed = {**{n: None for n in law.default_fixed() if n in d["free"]}, **d["fixed"]}
    options = law.options_from_info(dict(d["options"]), d["info"])
    kwargs = dict(loss=d["loss"], delta=d["delta"], fixed=fixed, seed=d["seed"],
                  bounds={n: tuple(b) for n, b in d["bounds"].items()}, **options)
    if "_weight" in table.columns:
        kwargs["weights"] = "_weight"
    if job.get("holdout") is not None:
        kwargs["holdout"] = job["holdout"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with stage("holdout"):
            bt = sl.backtest(law, table, inputs=d["inputs"], target=d["target"], **kwargs)
    notes = [f"{w.category.__name__}: {w.message}" for w in caught]
    return {"law": law.name, "holdout": bt.holdout, "summary": jsonable(bt.summary),
            "table": {str(c): jsonable(bt.table[c].to_numpy()) for c in bt.table.columns}, "notes": notes}


def optimal_schedule_job(job: dict) -> dict:
    """``fit.optimal_schedule(n_steps, peak, **options)`` of a stored schedule-law fit."""
    from scalelaw.result import FitResult
    from scalelaw.serve.summary import jsonable

    fit = FitResult.from_dict(job["saved"])
    kwargs = dict(job["kwargs"])
    with stage("body"):
        n_steps, peak = kwargs.pop("n_steps"), kwargs.pop("peak")
        return jsonable(fit.optimal_schedule(n_steps, peak, **kwargs))


def forecast_job(job: dict) -> dict:
    """``sl.forecast`` of a run in progress (``prior``: a stored fit; ``using``: finished curves)."""
    import pandas as pd

    import scalelaw as sl
    from scalelaw.result import FitResult
    from scalelaw.serve.summary import jsonable

    kwargs = dict(job["kwargs"])
    if job.get("prior_saved") is not None:
        kwargs["prior"] = FitResult.from_dict(job["prior_saved"])
    if job.get("using") is not None:
        kwargs["using"] = pd.DataFrame(job["using"])
    with stage("data"):
        out = sl.forecast(pd.DataFrame(job["data"]), **kwargs)
    fit = out.pop("fit", None)
    if fit is not None:
        out["params"] = dict(fit.params)
    return jsonable(out)


JOBS = {"fit": fit_job, "backtest": backtest_job, "optimal_schedule": optimal_schedule_job,
        "forecast": forecast_job}


def run_job(job: dict) -> dict:
    """Run one job; every failure becomes a plain error dict (no traceback leaves the process)."""
    try:
        return {"ok": JOBS[job["kind"]](job)}
    except BaseException as err:  # noqa: BLE001 - the answer must be an error dict, whatever happened
        if not isinstance(err, (ApiError,) + INPUT_ERRORS):
            traceback.print_exc(file=sys.stderr)  # the server log keeps the traceback; the client gets none
        return {"error": error_payload(err, "data")}
