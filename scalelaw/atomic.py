"""Writing output files so that a failure never leaves a user's existing file empty or half written.

The content is written to a temporary file in the destination's own folder (so the final rename
stays on one file system and is atomic on POSIX and Windows), flushed to disk, then
``os.replace``-d over the destination. If anything fails before the rename, the old file is
untouched and the temporary file is removed.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_write_text", "atomic_path", "check_output_path"]


def check_output_path(path, what: str = "output", example: str = "fit.json") -> Path:
    """The path as a ``Path``, or a ValueError when it names a folder or its folder is missing.
    ``example``: the file name the message suggests inside that folder (a plot is no fit.json)."""
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"{what} {str(path)!r} is a directory; give a file name (e.g. {str(p / example)!r})")
    if not p.parent.is_dir():
        raise ValueError(f"{what} {str(path)!r}: folder {str(p.parent)!r} does not exist")
    return p


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path, what: str = "output", example: str = "fit.json"):
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on error it is removed."""
    p = check_output_path(path, what, example)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the permissions open() would
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_text(path, text: str, what: str = "output", example: str = "fit.json") -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path, what, example) as tmp:
        tmp.write_text(text, encoding="utf-8")
