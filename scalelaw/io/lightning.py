"""PyTorch Lightning ``CSVLogger`` output (``<save_dir>/<name>/version_N/metrics.csv``).

Lightning writes one row per logging call with the columns of every metric ever logged, so
training and validation metrics sit on different rows with the other cells empty; ``step`` is
the global step and ``epoch`` the epoch. ``self.log(..., on_step=True, on_epoch=True)`` adds
``<name>_step`` and ``<name>_epoch`` columns: for a training loss the per-step values are read
and the epoch means left out (and reported). ``hparams.yaml`` beside the file is read as a
sidecar config.
"""

from __future__ import annotations

from scalelaw.io.options import Options, Parsed
from scalelaw.io.report import Report
from scalelaw.io.sources import Source
from scalelaw.io.tables import read_csv


def looks_like(columns: list[str], head_text: str) -> bool:
    """Lightning's metrics.csv: ``epoch`` and ``step`` columns and sparse rows."""
    lowered = {c.strip().lower() for c in columns}
    lines = head_text.splitlines()[1:50]
    sparse = any(",," in line or line.endswith(",") or line.startswith(",") for line in lines)
    return {"epoch", "step"} <= lowered and sparse


def read(source: Source, opts: Options, report: Report) -> Parsed:
    # the generic reader already treats empty cells as "not logged on this row"
    return read_csv(source, opts, report)
