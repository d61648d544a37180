"""Plain tables: CSV, TSV, JSONL, a JSON list of rows, Parquet, in the tidy schema or with
other column names (mapped by ``columns=`` or guessed); and Lightning's CSV.

PyTorch Lightning's ``CSVLogger`` (``<save_dir>/<name>/version_N/metrics.csv``) writes one row
per logging call with the columns of every metric ever logged, so training and validation
metrics sit on different rows with the other cells empty; ``step`` is the global step and
``epoch`` the epoch. ``self.log(..., on_step=True, on_epoch=True)`` adds ``<name>_step`` and
``<name>_epoch`` columns: for a training loss the per-step values are read and the epoch means
left out (and reported). ``hparams.yaml`` beside the file is read as a sidecar config.
"""

from __future__ import annotations

from scalelaw.io import tabular
from scalelaw.io.options import Options, Parsed
from scalelaw.io.report import Report
from scalelaw.io.sources import NotALog, Source
from scalelaw.io.tidy import table_to_tidy


def _tidy(table, source: Source, opts: Options, report: Report,
          note_blank: bool = True, note_unused: bool = True) -> Parsed:
    if table.frame.empty:
        columns = list(table.frame.columns)
        raise NotALog(f"{source.name}: no rows" + (f" (columns are {columns})" if columns else ""))
    return table_to_tidy(table, source.name, opts, report, note_blank=note_blank,
                         note_unused=note_unused)


def read_csv(source: Source, opts: Options, report: Report, notes: bool = True) -> Parsed:
    """``notes=False``: a writer's own bookkeeping columns and sparse rows (W&B history) are
    expected, so unused columns and rows without a loss are not reported."""
    return _tidy(tabular.read_delimited(source, report, ","), source, opts, report,
                 note_blank=notes, note_unused=notes)


def read_tsv(source: Source, opts: Options, report: Report) -> Parsed:
    return _tidy(tabular.read_delimited(source, report, "\t"), source, opts, report)


def read_jsonl(source: Source, opts: Options, report: Report) -> Parsed:
    return _tidy(tabular.read_jsonl(source, report), source, opts, report)


def read_json(source: Source, opts: Options, report: Report) -> Parsed:
    return _tidy(tabular.read_json_records(source, report), source, opts, report)


def read_parquet(source: Source, opts: Options, report: Report) -> Parsed:
    return _tidy(tabular.read_parquet(source, report), source, opts, report)


def looks_like_lightning(columns: list[str], head_text: str) -> bool:
    """Lightning's metrics.csv: ``epoch`` and ``step`` columns and sparse rows."""
    lowered = {c.strip().lower() for c in columns}
    lines = head_text.splitlines()[1:50]
    sparse = any(",," in line or line.endswith(",") or line.startswith(",") for line in lines)
    return {"epoch", "step"} <= lowered and sparse


def read_lightning(source: Source, opts: Options, report: Report) -> Parsed:
    # the generic reader already treats empty cells as "not logged on this row" (a row of
    # lr alone is normal here, so rows without a loss are not reported)
    return _tidy(tabular.read_delimited(source, report, ","), source, opts, report,
                 note_blank=False)
