"""Turning a user's table into validated arrays for a law: every problem named, nothing dropped silently."""

from __future__ import annotations

import re
from typing import Mapping

import numpy as np
import pandas as pd

from scalelaw.laws.base import Law


def as_frame(data, what: str = "data") -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, Mapping):
        try:
            return pd.DataFrame({k: np.atleast_1d(v) for k, v in data.items()})
        except ValueError as err:
            raise ValueError(f"{what}: columns of a dict must have equal lengths ({err})") from None
    raise TypeError(f"{what} must be a pandas DataFrame or a dict of columns, got {type(data).__name__}")


def resolve_inputs(law: Law, inputs, frame: pd.DataFrame) -> dict:
    """Law input name -> column name, from the user's mapping and the tidy-schema defaults."""
    if inputs is None:
        inputs = {}
    if not isinstance(inputs, Mapping):
        raise TypeError(f"inputs must be a dict mapping law inputs to columns, e.g. {{'N': 'n_params'}}; got {inputs!r}")
    unknown = [k for k in inputs if k not in law.input_names]
    if unknown:
        raise ValueError(
            f"inputs: law {law.name!r} has no input(s) {', '.join(map(repr, unknown))}; its inputs: {', '.join(law.input_names)}"
        )
    mapping = {}
    for inp in law.inputs:
        col = inputs.get(inp.name, inp.column)
        if col is None:
            raise ValueError(f"inputs: give a column for law input {inp.name!r} ({inp.doc})")
        mapping[inp.name] = col
    return mapping


def column(frame: pd.DataFrame, col: str, role: str) -> pd.Series:
    """The column, or a KeyError that lists the columns there are."""
    if col not in frame.columns:
        raise KeyError(
            f"column {col!r} ({role}) not found in the data; columns are: {', '.join(map(str, frame.columns))}"
        )
    return frame[col]


def numeric_column(frame: pd.DataFrame, col: str, role: str, *, positive: bool) -> np.ndarray:
    series = column(frame, col, role)
    if not (pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)):
        raise TypeError(f"column {col!r} ({role}) must be numeric, got dtype {series.dtype}{_first_non_number(series)}")
    values = series.to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        rows = list(frame.index[bad][:5])
        raise ValueError(
            f"column {col!r} ({role}) has {int(bad.sum())} NaN/inf value(s), e.g. at rows {rows}; "
            "drop or fix those rows first (e.g. df.dropna(subset=[...]))"
        )
    if positive:
        nonpos = values <= 0
        if nonpos.any():
            rows = list(frame.index[nonpos][:5])
            raise ValueError(
                f"column {col!r} ({role}) must be > 0 (logs and powers are taken) but has {int(nonpos.sum())} "
                f"value(s) <= 0, e.g. {values[nonpos][0]:g} at rows {rows}"
            )
    return values


def _first_non_number(series: pd.Series) -> str:
    """Where a column stops being numeric: the first value that is not a number, and its row."""
    if series.dtype == bool:
        return f" (booleans, e.g. {series.iloc[0]!r})" if len(series) else ""
    numbers = pd.to_numeric(series, errors="coerce")
    bad = numbers.isna() & series.notna()
    if not bad.any():
        return ""
    row = series.index[bad.to_numpy()][0]
    value = series.loc[row]
    hint = ""
    if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d{1,3}(?:,\d{3})+\s*", value):
        # 24,736 or 1,000,000: digit groups; decimal=',' (the other hint) would read 24,736 as 24.736
        hint = (" (a thousands separator? write plain digits, e.g. pd.read_csv(..., thousands=','); "
                "only if the comma is a decimal mark, decimal=',')")
    elif isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+,\d+(?:[eE][-+]?\d+)?\s*", value):
        hint = " (a decimal comma? write numbers with '.', e.g. pd.read_csv(..., decimal=','))"
    return f": {value!r} at row {row!r} is not a number{hint}"


def check_domain(frame: pd.DataFrame, col: str, inp, values: np.ndarray) -> None:
    """A ValueError naming the rows whose values lie outside the law input's domain (beyond > 0)."""
    bad = inp.outside(values)
    if bad.any():
        rows = list(frame.index[bad][:5])
        raise ValueError(f"column {col!r} (input {inp.name}) must be {inp.domain()} but has {int(bad.sum())} "
                         f"value(s) outside, e.g. {values[bad][0]:g} at rows {rows}")


def weights_array(frame: pd.DataFrame, weights) -> np.ndarray:
    n = len(frame)
    if weights is None:
        return np.ones(n)
    if isinstance(weights, str):
        w = numeric_column(frame, weights, "weights", positive=False)
    else:
        w = np.asarray(weights, dtype=np.float64).ravel()
        if w.shape != (n,):
            raise ValueError(f"weights must have one value per row ({n}), got shape {np.shape(weights)}")
        if not np.all(np.isfinite(w)):
            raise ValueError("weights must be finite")
    if np.any(w < 0):
        raise ValueError("weights must be >= 0")
    if not np.any(w > 0):
        raise ValueError("weights are all zero: nothing to fit")
    return w


def check_levels(law: Law, X_cols: Mapping[str, np.ndarray], mapping: Mapping[str, str], fixed) -> list[str]:
    """Error when an input has < 2 distinct values (no exponent is identifiable), warn below 5."""
    notes = []
    for inp in law.inputs:
        if not inp.identifies or all(p in fixed for p in inp.identifies):
            continue
        n_levels = len(np.unique(np.asarray(X_cols[inp.name]).astype(str) if inp.categorical else X_cols[inp.name]))
        who = f"input {inp.name!r} (column {mapping[inp.name]!r})"
        if n_levels < 2:
            raise ValueError(
                f"{who} has {n_levels} distinct value(s): {', '.join(inp.identifies)} cannot be identified. "
                f"Add data at other levels or pin them with fixed={{{', '.join(repr(p) + ': ...' for p in inp.identifies)}}}"
            )
        if n_levels < 5:
            notes.append(f"{who} has only {n_levels} distinct values (< 5): {', '.join(inp.identifies)} are weakly determined")
    return notes
