"""The run log: one JSONL file per run in the tidy schema (DESIGN §4).

Line 1 is ``{"header": {...}}``: run name, full config, parameter counts, device, seed, torch
version, and the run-level results ``status``, ``tokens_per_s``, ``mfu``, ``wall_time_s``.
Every other line is one tidy row, ``{"run", "step", "split", "loss", "lr", "n_tokens", ...}``.

The header is written when the run starts (``status: "running"``, throughput fields null) so an
unfinished log is still readable, and **rewritten in place when the run ends**: the whole file
is written to a temporary file beside it and renamed over it (atomic on POSIX), so there is
never a footer line for readers to learn, and a reader never sees a half-written file.
``status`` is then ``"complete"`` (the sweep runner skips such runs), or ``"stopped"`` when the
run paused at ``stop_at`` to be resumed. Rows are appended and flushed as they come.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

__all__ = ["RunLog", "read_header", "is_complete", "ROW_KEYS"]

# Tidy columns in the order they are written; encdec and CPT runs add theirs after these.
ROW_KEYS = ("run", "step", "split", "loss", "lr", "n_tokens", "n_params", "n_params_total",
            "flops", "epoch", "schedule", "batch_size", "seq_len")


def _clean(value):
    """JSON has no NaN/inf: write them as null (a diverged run's loss stays visible as null)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _atomic_write(path: Path, lines: list[str]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        f.writelines(lines)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_header(path) -> dict | None:
    """The header dict of a run log, or None if the file is missing or has no header line."""
    path = Path(path)
    if not path.is_file():
        return None
    with open(path) as f:
        first = f.readline()
    try:
        return json.loads(first)["header"]
    except (ValueError, KeyError, TypeError):
        return None


def is_complete(path) -> bool:
    """True when the log at ``path`` is of a run that reached its last step."""
    header = read_header(path)
    return bool(header) and header.get("status") == "complete"


def _rows_up_to(path: Path, step: int) -> list[str]:
    """The row lines of an existing log up to ``step`` (a resumed run keeps them, retrains the rest).

    A run killed while appending (SIGKILL, a node lost, a full disk) leaves its last line cut
    off; that row is after the checkpoint being resumed from (rows of a step are written before
    its checkpoint), so it is retrained and dropped here. A line that does not parse anywhere
    else is damage this run did not do: refused, naming the file and the line.
    """
    with open(path) as f:
        lines = f.readlines()[1:]
    kept = []
    for i, line in enumerate(lines):
        try:
            row = json.loads(line)
        except ValueError:
            if i == len(lines) - 1 and not line.endswith("\n"):
                break  # the cut-off last line of a killed run
            raise ValueError(f"{path}: line {i + 2} is not a JSON row ({line[:60].strip()!r}...); "
                             "the log was damaged: move it away to train the run from its start") from None
        if isinstance(row, dict) and "step" in row and row["step"] <= step:
            kept.append(line if line.endswith("\n") else line + "\n")
    return kept


class RunLog:
    """Append-only writer of one run's JSONL, whose header is finalised by :meth:`close`.

    Parameters
    ----------
    path : path
        The ``<run>.jsonl`` file.
    header : dict
        Written as line 1 now, and again (updated) at :meth:`close`.
    resume_step : int, optional
        Keep the existing file's rows up to this step (a resumed run) instead of starting anew.
    """

    def __init__(self, path, header: dict, resume_step: int | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.header = dict(header)
        kept = []
        if resume_step is not None and self.path.is_file():
            kept = _rows_up_to(self.path, resume_step)
        _atomic_write(self.path, [self._header_line()] + kept)
        self._file = open(self.path, "a")

    def _header_line(self) -> str:
        return json.dumps({"header": {k: _clean(v) for k, v in self.header.items()}}) + "\n"

    def write(self, row: dict) -> None:
        self._file.write(json.dumps({k: _clean(v) for k, v in row.items()}) + "\n")

    def flush(self) -> None:
        self._file.flush()

    def close(self, **updates) -> None:
        """Close the file and rewrite its header with ``updates`` (status, tokens_per_s...)."""
        if self._file.closed:
            return
        self._file.close()
        self.header.update(updates)
        with open(self.path) as f:
            lines = f.readlines()
        _atomic_write(self.path, [self._header_line()] + lines[1:])
