"""Per-run locks: at most one process trains a run at a time.

Two trainers pointed at one output folder (two ``--shard``s of overlapping specs, a sweep
launched again while the first still runs, ``scalelaw train`` beside a sweep) would otherwise
both train a run and both write its ``<run>.jsonl``, ``<run>.pt`` and index row, each
truncating or renaming over the other's. So a run is trained only under an exclusive OS
advisory lock on ``<out>/<run>.lock``, taken before any of its files is read or written and
held until its training ends; a process that finds the lock taken leaves the run alone.

Why this shape:

- ``fcntl.flock``: the kernel drops the lock when its holder's process ends in any way
  (``kill -9``, a lost Slurm job, an out-of-memory kill), so there is never a stale lock to
  clean up and no PID to check for liveness.
- flock rather than ``fcntl.lockf``/``F_SETLK``: POSIX record locks belong to the *process*
  and vanish when any descriptor of the file is closed in it, and they never conflict within
  one process; flock locks belong to the open file, so two trainers in one process exclude
  each other as well. On NFS, Linux maps flock to NFS byte-range locks, which all clients see.
- The lock file is never deleted: a process that deleted it while another held it would let a
  third create a fresh file, lock that one and train beside the holder. It is left empty when
  no one holds it; while held it names the holder (host, pid, start time) for messages only.
  The flock is the lock; the text is never trusted for anything.
- Without ``fcntl`` (Windows) there is no locking: :func:`acquire` returns a lock that holds
  nothing, and two processes can again write one run. The trainer targets Linux machines.
- A file system without flock (Lustre mounted without ``-o flock`` answers ENOSYS) cannot lock
  either: a warning says so once and training goes on unlocked rather than not at all.
"""

from __future__ import annotations

import datetime as _dt
import errno
import os
import socket
import warnings
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no flock; locks degrade to no locking (module docstring)
    fcntl = None

__all__ = ["FileLock", "LockHeld", "RunHeldError", "acquire", "locked", "holder"]

# errors by which a file system says it has no locks at all (as opposed to "held by another")
_UNSUPPORTED = {errno.ENOSYS, errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL}
_warned: set[str] = set()


class LockHeld(Exception):
    """The lock at ``path`` is held by another open file (another process, usually)."""

    def __init__(self, path, holder: str | None):
        self.path, self.holder = Path(path), holder
        super().__init__(f"{self.path} is held by {holder or 'another process'}")


class RunHeldError(RuntimeError):
    """A run that another process is training: raised by ``train`` (``held="raise"``) before
    anything of the run was read or written."""

    def __init__(self, run: str, path, holder: str | None):
        self.run, self.path, self.holder = run, Path(path), holder
        who = f"another process ({holder})" if holder else "another process"
        super().__init__(f"run {run!r} is being trained by {who}, which holds its lock {self.path}; "
                         "nothing was written. Wait for that process to end (or stop it), then run "
                         "this again")


class FileLock:
    """A held lock; :meth:`release` (or the end of the process) frees it."""

    def __init__(self, path: Path, fd: int | None):
        self.path, self._fd = path, fd

    @property
    def held(self) -> bool:
        """False once released, and for the no-op lock of a system without flock."""
        return self._fd is not None

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)  # ours while we hold it: clear the holder's line
        except OSError:
            pass
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)  # closing alone would release it too

    def __enter__(self) -> "FileLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def holder(path) -> str | None:
    """The holder's line from a lock file (for messages), or None."""
    try:
        text = Path(path).read_text(errors="replace").strip()
    except OSError:
        return None
    return text.splitlines()[0] if text else None


def acquire(path, *, wait: bool = False) -> FileLock:
    """Lock ``path`` (created if missing, with its folder; never truncated by a waiter).

    ``wait=False`` raises :class:`LockHeld` at once when another holds it (runs: skip or
    refuse); ``wait=True`` blocks until it is free (short critical sections, e.g. the index).
    """
    path = Path(path)
    if fcntl is None:
        return FileLock(path, None)
    path.parent.mkdir(parents=True, exist_ok=True)
    # no O_TRUNC: the file may be another process's, holding its holder line
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        os.close(fd)
        raise LockHeld(path, holder(path)) from None
    except OSError as err:
        os.close(fd)
        if err.errno not in _UNSUPPORTED:
            raise
        key = str(path.parent)
        if key not in _warned:
            _warned.add(key)
            warnings.warn(f"{path.parent}: this file system has no file locks ({err}); "
                          "training without them, so two processes given this folder could write "
                          "the same run", RuntimeWarning, stacklevel=2)
        return FileLock(path, None)
    try:
        os.ftruncate(fd, 0)
        since = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()} since {since}\n".encode())
    except OSError:
        pass  # the text is only for messages; the flock is held either way
    return FileLock(path, fd)


@contextmanager
def locked(path):
    """Hold ``path``'s lock (waiting for it) for the ``with`` block."""
    lock = acquire(path, wait=True)
    try:
        yield lock
    finally:
        lock.release()
