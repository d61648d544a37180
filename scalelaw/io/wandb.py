"""Weights & Biases CSV exports.

Two shapes:

* the wide export of a chart ("Export panel data as CSV"): an x-axis column (``Step``, or
  ``trainer/global_step`` when the chart used it) and one column per run and metric named
  ``<run> - <metric>``, each with ``<run> - <metric>__MIN`` / ``__MAX`` companions (the band of
  a smoothed or grouped line), which are ignored;
* a run's history (``run.history()`` written to CSV, or the run page export): one row per
  logging call with W&B's ``_step``, ``_runtime``, ``_timestamp`` and the logged keys, sparse
  like Lightning's. ``train/global_step`` (HF) or ``trainer/global_step`` (Lightning) is preferred
  over ``_step``, which counts logging calls rather than optimiser steps.
"""

from __future__ import annotations

import re

import pandas as pd

from scalelaw.io.columns import field_of
from scalelaw.io.options import Options, Parsed
from scalelaw.io.report import Report
from scalelaw.io.sources import NotALog, Source
from scalelaw.io.tabular import Table, read_delimited
from scalelaw.io.tables import read_csv
from scalelaw.io.tidy import table_to_tidy

# greedy: a run name may itself contain " - ", metric names do not
_RUN_METRIC = re.compile(r"^(.+) - (.+)$")
_COMPANION = re.compile(r"__(MIN|MAX)$")
_HISTORY_MARKERS = {"_step", "_runtime", "_timestamp"}


def split_column(name: str) -> tuple[str, str] | None:
    """``"run-a - train/loss"`` -> ``("run-a", "train/loss")``; None if not that shape."""
    match = _RUN_METRIC.match(name)
    return (match[1].strip(), match[2].strip()) if match else None


def is_wide(columns: list[str]) -> bool:
    metric_columns = [c for c in columns if split_column(c) and not _COMPANION.search(c)]
    return bool(metric_columns) and any(field_of(c) == "step" or c == "Step" for c in columns)


def is_history(columns: list[str]) -> bool:
    return bool(_HISTORY_MARKERS & set(columns))


def read(source: Source, opts: Options, report: Report) -> Parsed:
    table = read_delimited(source, report, ",")
    columns = list(table.frame.columns)
    if not is_wide(columns):
        return read_csv(source, opts, report, notes=False) if not table.frame.empty else _empty(source)
    if table.frame.empty:
        _empty(source)
    return _read_wide(table, source, opts, report)


def _empty(source: Source):
    raise NotALog(f"{source.name}: no rows")


def _read_wide(table: Table, source: Source, opts: Options, report: Report) -> Parsed:
    frame = table.frame
    columns = list(frame.columns)
    x_axis = [c for c in columns if not split_column(c)]
    by_run: dict[str, dict[str, str]] = {}
    for column in columns:
        parts = split_column(column)
        if parts is None or _COMPANION.search(column):
            continue
        run, metric = parts
        # the user may map either the full column or just the metric name
        if column in opts.columns:
            opts.seen.add(column)
            metric = column
        by_run.setdefault(run, {})[column] = metric
    pieces, used = [], {}
    for run, metrics in by_run.items():
        sub = frame[x_axis + list(metrics)].rename(columns=metrics)
        nulls = None
        if table.nulls is not None:
            nulls = {metrics.get(c, c): m for c, m in table.nulls.items()}
        parsed = table_to_tidy(Table(sub, nulls), f"{source.name} (run {run!r})", opts,
                               report, run=run)
        pieces.append(parsed.frame)
        used.update({c: parsed.columns.get(m, None) for c, m in metrics.items()
                     if parsed.columns.get(m)})
        used.update({c: t for c, t in parsed.columns.items() if c in x_axis})
    out = pd.concat(pieces, ignore_index=True)
    return Parsed(out, columns=used)
