"""One input to ``read_logs``: a path on disk, or bytes with a name (an upload).

Readers only see :class:`Source`, so a Streamlit ``UploadedFile``, a ``BytesIO`` or raw bytes
read exactly like the file they came from.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

HEAD_BYTES = 64 * 1024  # enough to detect any format we read

# file names that say nothing about the run: such a log takes its run name from its directory
GENERIC_STEMS = {
    "metrics", "trainer_state", "log", "logs", "train", "training", "history", "progress",
    "output", "out", "stdout", "scalars", "results", "loss", "losses", "train_log",
    "training_log", "events", "run",
}


# folder names that say nothing about the run either: checkpoint copies, logger versions, split
# folders (Keras writes train/ and validation/); a generic log is named after the folder above
GENERIC_DIRS = re.compile(r"^(checkpoint[-_]?\d+|version_\d+|lightning_logs|tb_logs|tensorboard|logs?|"
                          r"train|training|val|valid|validation|eval|evaluation)$", re.IGNORECASE)


class NotALog(ValueError):
    """The input is not a log we can read (empty, unknown format, no step or loss column).

    Raised for an input the user named; for a file found while reading a directory it means
    "skip this file and say so".
    """


class Source:
    """A named blob of log data.

    Parameters
    ----------
    name : str
        How messages name it: the path as given, or the upload's file name.
    path : Path, optional
        Where it lives on disk (None for uploads and bytes).
    data : bytes, optional
        The content, for inputs that are not files.
    """

    def __init__(self, name: str, path: Path | None = None, data: bytes | None = None):
        self.name = name
        self.path = path
        self._data = data
        self._head: bytes | None = None
        self.json = None  # parsed JSON, cached by detection so it is parsed once

    @property
    def filename(self) -> str:
        return self.path.name if self.path is not None else os.path.basename(self.name)

    @property
    def stem(self) -> str:
        name = self.filename
        for suffix in (".csv.gz", ".jsonl", ".json", ".csv", ".tsv", ".parquet", ".txt", ".log",
                       ".yaml", ".yml", ".out", ".pq"):
            if name.lower().endswith(suffix):
                return name[: -len(suffix)]
        return Path(name).stem

    @property
    def is_tensorboard_name(self) -> bool:
        return "tfevents" in self.filename

    @property
    def is_generic(self) -> bool:
        """True when the file name does not name a run (``metrics.csv``, event files)."""
        return self.is_tensorboard_name or self.stem.lower() in GENERIC_STEMS

    def head(self) -> bytes:
        if self._head is None:
            if self._data is not None:
                self._head = bytes(self._data[:HEAD_BYTES])
            else:
                with open(self.path, "rb") as f:
                    self._head = f.read(HEAD_BYTES)
        return self._head

    def read_bytes(self) -> bytes:
        if self._data is not None:
            return bytes(self._data)
        with open(self.path, "rb") as f:
            return f.read()

    def read_text(self) -> str:
        # utf-8-sig: spreadsheet exports often start with a byte-order mark
        return self.read_bytes().decode("utf-8-sig", errors="replace")

    def open(self):
        """A binary file object (what pandas and pyarrow read fastest)."""
        if self._data is not None:
            return io.BytesIO(self._data)
        return open(self.path, "rb")

    def __repr__(self) -> str:
        return f"Source({self.name!r})"


def from_object(obj, index: int) -> Source:
    """A :class:`Source` for bytes or a file-like object (``UploadedFile``, ``BytesIO``).

    The name comes from ``obj.name`` when it has one (uploads do), else ``upload-<index>``.
    """
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return Source(f"upload-{index}", data=bytes(obj))
    name = getattr(obj, "name", None)
    name = os.path.basename(str(name)) if name else f"upload-{index}"
    if hasattr(obj, "getvalue"):
        data = obj.getvalue()
    elif hasattr(obj, "read"):
        data = obj.read()
    else:
        raise TypeError(f"cannot read logs from {type(obj).__name__!r}; pass a path, "
                        "bytes, or a file-like object with .read() or .getvalue()")
    if isinstance(data, str):
        data = data.encode("utf-8")
    return Source(name, data=bytes(data))
