"""Make rows obey the tidy schema: whole-number steps, finite losses, one row per
(run, step, split), sorted, with the documented dtypes. Every row removed is reported.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from scalelaw.io.columns import SCHEMA_COLUMNS, STRING_COLUMNS
from scalelaw.io.report import Report, preview

_SUFFIX = {"k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}
_HUMAN = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([kKmMbBgGtT])\s*$")


def to_number(series: pd.Series) -> pd.Series:
    """Numbers as float64; text such as ``"70M"`` or ``"1.5B"`` (model sizes) is understood,
    anything else that is not a number becomes NaN."""
    if pd.api.types.is_bool_dtype(series):
        return series.astype("float64")
    if pd.api.types.is_numeric_dtype(series):
        return series.astype("float64")
    values = pd.to_numeric(series, errors="coerce")
    text = series[values.isna() & series.notna()]
    if len(text):
        def human(value):
            match = _HUMAN.match(str(value))
            return float(match[1]) * _SUFFIX[match[2].lower()] if match else np.nan
        values = values.astype("float64")
        values[text.index] = text.map(human).astype("float64")
    return values.astype("float64")


def map_values(keys: pd.Series, values: dict) -> pd.Series:
    """``keys.map(values)``, fast for long columns with few distinct keys (run names)."""
    codes, uniques = pd.factorize(keys)
    if not values:
        return pd.Series(np.nan, index=keys.index, dtype="float64")
    looked_up = [values.get(u, np.nan) for u in uniques]
    numeric = all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool)
                  for v in looked_up)
    table = np.asarray(looked_up, dtype="float64" if numeric else object)
    out = table[codes] if len(table) else np.full(len(keys), np.nan)
    if (codes < 0).any():  # NA keys
        out = out.astype(object) if not numeric else out
        out[codes < 0] = np.nan
    return pd.Series(out, index=keys.index)


def clean_rows(frame: pd.DataFrame, source: str, report: Report) -> pd.DataFrame:
    """Drop rows without a usable step or loss, saying how many and where.

    Raises
    ------
    ValueError
        When steps are not whole numbers (rounding them would move points silently).
    """
    step = to_number(frame["step"])
    missing = step.isna().to_numpy()
    if missing.any():
        report.skip(f"{source}: {int(missing.sum())} rows have a loss but no step; dropped")
        frame, step = frame[~missing], step[~missing]
    values = step.to_numpy()
    fractional = values != np.floor(values)
    if fractional.any():
        raise ValueError(f"{source}: step values must be whole numbers, found "
                         f"{preview(values[fractional])}; map another column with "
                         "columns={'yourcol': 'step'}")
    frame = frame.assign(step=values.astype("int64"))
    loss = frame["loss"].to_numpy(dtype="float64")
    bad = ~np.isfinite(loss)
    if bad.any():
        rows = frame[bad]
        kinds = []
        n_nan, n_inf = int(np.isnan(loss[bad]).sum()), int(np.isinf(loss[bad]).sum())
        if n_nan:
            kinds.append(f"{n_nan} NaN or non-numeric")
        if n_inf:
            kinds.append(f"{n_inf} infinite")
        where = "; ".join(
            f"split {split}: steps {preview(group['step'].tolist())}"
            for split, group in rows.groupby("split", sort=True))
        report.skip(f"{source}: {int(bad.sum())} rows dropped for a loss that is not a finite "
                    f"number ({', '.join(kinds)}) at {where}")
        frame = frame[~bad]
    _warn_negative(frame, source, report)
    return frame


def _warn_negative(frame: pd.DataFrame, source: str, report: Report) -> None:
    """Steps and cross-entropy losses are never negative: keep such rows (the user decides) but say so."""
    for col, what in (("step", "negative step"), ("loss", "negative loss")):
        values = frame[col].to_numpy(dtype="float64")
        neg = values < 0
        if neg.any():
            report.skip(f"{source}: {int(neg.sum())} row(s) with a {what} (e.g. {values[neg][0]:g} at "
                        f"step {preview(frame['step'].to_numpy()[neg].tolist())}); kept, but check the log")


def dedupe_and_sort(frame: pd.DataFrame, sources: list[str], report: Report) -> pd.DataFrame:
    """Keep the last logged row of each (run, step, split) and sort by run, split, step.

    A resumed run logs some steps twice; the later value is the one the run continued from.
    ``frame`` carries ``_src`` (index into ``sources``) and ``_row`` (order within the file);
    files are in reading order, so (``_src``, ``_row``) is logging order.
    """
    run_codes, runs = pd.factorize(frame["run"], sort=True)
    split_codes, _ = pd.factorize(frame["split"], sort=True)
    step = frame["step"].to_numpy()
    src = frame["_src"].to_numpy()
    row = frame["_row"].to_numpy()
    order = np.lexsort((row, src, step, split_codes, run_codes))
    same_as_next = np.zeros(len(order), bool)
    if len(order) > 1:
        o_run, o_split, o_step = run_codes[order], split_codes[order], step[order]
        same_as_next[:-1] = ((o_run[:-1] == o_run[1:]) & (o_split[:-1] == o_split[1:])
                             & (o_step[:-1] == o_step[1:]))
    if same_as_next.any():
        dropped = frame.iloc[order[same_as_next]]
        for run, group in dropped.groupby("run", sort=True):
            files = sorted({sources[i] for i in group["_src"]})
            report.skip(
                f"{', '.join(files)}: run {run!r}: {len(group)} rows repeat an earlier "
                f"(step, split) (steps {preview(sorted(set(group['step'].tolist())))}); kept "
                "the last logged value of each (a resumed run logs steps again)")
        order = order[~same_as_next]
    already = len(order) == len(frame) and bool(np.all(order[1:] > order[:-1]))
    if not already:  # skip the copy when the file was sorted and free of repeats
        frame = frame.iloc[order]
    return frame.reset_index(drop=True)


def finish(frame: pd.DataFrame) -> pd.DataFrame:
    """Schema column order and dtypes; internal columns removed."""
    frame = frame.drop(columns=[c for c in frame.columns if c.startswith("_")])
    for name in STRING_COLUMNS:
        if name in frame.columns:
            frame[name] = frame[name].astype("str").where(frame[name].notna())
    frame["run"] = frame["run"].astype("str")
    frame["split"] = frame["split"].astype("str")
    frame["loss"] = frame["loss"].astype("float64")
    frame["step"] = frame["step"].astype("int64")
    for name in SCHEMA_COLUMNS:
        if name in frame.columns and name not in STRING_COLUMNS and name not in ("step", "loss"):
            frame[name] = to_number(frame[name])
    ordered = [c for c in SCHEMA_COLUMNS if c in frame.columns]
    return frame[ordered + [c for c in frame.columns if c not in ordered]]
