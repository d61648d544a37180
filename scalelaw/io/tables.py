"""Plain tables: CSV, TSV, JSONL, a JSON list of rows, Parquet, in the tidy schema or with
other column names (mapped by ``columns=`` or guessed)."""

from __future__ import annotations

from scalelaw.io import tabular
from scalelaw.io.options import Options, Parsed
from scalelaw.io.report import Report
from scalelaw.io.sources import NotALog, Source
from scalelaw.io.tidy import table_to_tidy


def _tidy(table, source: Source, opts: Options, report: Report) -> Parsed:
    if table.frame.empty:
        columns = list(table.frame.columns)
        raise NotALog(f"{source.name}: no rows" + (f" (columns are {columns})" if columns else ""))
    return table_to_tidy(table, source.name, opts, report)


def read_csv(source: Source, opts: Options, report: Report) -> Parsed:
    return _tidy(tabular.read_delimited(source, report, ","), source, opts, report)


def read_tsv(source: Source, opts: Options, report: Report) -> Parsed:
    return _tidy(tabular.read_delimited(source, report, "\t"), source, opts, report)


def read_jsonl(source: Source, opts: Options, report: Report) -> Parsed:
    return _tidy(tabular.read_jsonl(source, report), source, opts, report)


def read_json(source: Source, opts: Options, report: Report) -> Parsed:
    return _tidy(tabular.read_json_records(source, report), source, opts, report)


def read_parquet(source: Source, opts: Options, report: Report) -> Parsed:
    return _tidy(tabular.read_parquet(source, report), source, opts, report)
