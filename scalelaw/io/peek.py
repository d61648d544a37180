"""The names a log offers for mapping (table columns, TensorBoard tags, W&B metrics), so an
app can show them next to :func:`~scalelaw.io.columns.guess_columns` before reading."""

from __future__ import annotations

import os
from pathlib import Path

from scalelaw.io import formats, hf, tabular, tensorboard, tfrecord, wandb
from scalelaw.io.formats import detect
from scalelaw.io.inputs import as_list
from scalelaw.io.report import Report
from scalelaw.io.sources import NotALog, Source, from_object


def columns_in(path_or_upload, format: str = "auto") -> list[str]:
    """The column names (or tags, or metric names) of one log, in file order.

    Parameters
    ----------
    path_or_upload : path, bytes or file-like
        One file, as :func:`~scalelaw.io.read_logs` accepts it.
    format : str
        As in ``read_logs``.

    Returns
    -------
    list of str
        For W&B wide exports the metric names (``train/loss``), without run names and
        ``__MIN``/``__MAX`` companions; for nanoGPT logs, the fixed names it parses.

    Examples
    --------
    >>> from scalelaw.io import columns_in, guess_columns
    >>> guess_columns(columns_in(b"global_step,eval_loss\\n1,2.0\\n"))
    {'global_step': 'step', 'eval_loss': 'val/loss'}
    """
    items = as_list(path_or_upload)
    if len(items) != 1:
        raise ValueError(f"columns_in reads one log, got {len(items)} inputs")
    item = items[0]
    if isinstance(item, (str, os.PathLike)):
        path = Path(os.path.expanduser(os.fspath(item)))
        if not path.is_file():
            raise FileNotFoundError(f"{item}: no such file")
        source = Source(os.fspath(item), path)
    else:
        source = from_object(item, 1)
    kind = formats.canonical(format)
    if kind == "auto":
        kind, why = detect(source)
        if kind not in formats.READERS:
            raise NotALog(f"{source.name}: {why}")
    report = Report()
    if kind == "tensorboard":
        spans, _ = tfrecord.records(source.read_bytes())
        _, tags, _ = tensorboard.decode(source.read_bytes(), spans, report, source.name)
        return list(dict.fromkeys(tags))
    if kind == "hf":
        entries = [e for e in hf.load_state(source)["log_history"]
                   if isinstance(e, dict) and not hf.is_summary(e)]
        return list(dict.fromkeys(k for e in entries for k in e))
    if kind == "nanogpt":
        return ["step N: train loss", "step N: val loss", "iter N: loss"]
    readers = {"csv": lambda: tabular.read_delimited(source, report, ","),
               "lightning": lambda: tabular.read_delimited(source, report, ","),
               "wandb": lambda: tabular.read_delimited(source, report, ","),
               "tsv": lambda: tabular.read_delimited(source, report, "\t"),
               "jsonl": lambda: tabular.read_jsonl(source, report),
               "scalelaw": lambda: tabular.read_jsonl(source, report),
               "json": lambda: tabular.read_json_records(source, report),
               "parquet": lambda: tabular.read_parquet(source, report)}
    names = [str(c) for c in readers[kind]().frame.columns]
    if kind == "wandb" and wandb.is_wide(names):
        metrics = [wandb.split_column(c) for c in names]
        names = [c for c, m in zip(names, metrics) if m is None] + list(dict.fromkeys(
            m[1] for c, m in zip(names, metrics) if m is not None and not c.endswith(
                ("__MIN", "__MAX"))))
    if kind == "scalelaw":
        names = [n for n in names if n != "header"]
    return names
