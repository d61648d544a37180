"""Settings read from the environment, so tests and deployments can point the app elsewhere."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_MAX_UPLOAD_MB = 50.0


def data_dir() -> Path:
    """Where the bundled data sets live: ``$SCALELAW_DATA_DIR``, else ``<repo>/data``."""
    return Path(os.environ.get("SCALELAW_DATA_DIR") or REPO / "data")


def max_upload_bytes() -> int:
    """Largest upload the app reads (all files together): ``$SCALELAW_MAX_UPLOAD_MB`` megabytes.

    Everything is parsed in memory on the server, so a cap keeps one user's huge export from
    stalling the app; the Python library has no such limit.
    """
    raw = os.environ.get("SCALELAW_MAX_UPLOAD_MB")
    try:
        mb = float(raw) if raw else DEFAULT_MAX_UPLOAD_MB
    except ValueError:
        mb = DEFAULT_MAX_UPLOAD_MB
    return int(mb * 1024 * 1024)
