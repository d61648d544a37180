"""The fit store: one SQLite file (stdlib ``sqlite3``, WAL mode) holding every served fit.

Each row is one fit: the exact JSON ``fit.save`` writes (``FitResult.to_dict()`` dumped with
``indent=1``), its sha256, and metadata to list and search by (law, created, data hash, name,
tags). Fits are immutable: there is no UPDATE; a re-fit is a new id.

Why nothing acknowledged is lost and nothing half-written is ever read:

- one fit is one transaction (the row and its tags), committed before the server answers 201;
  SQLite's commit is atomic, so after a ``kill -9`` at any instant the file holds either the
  whole fit or none of it;
- ``journal_mode=WAL`` with ``synchronous=FULL``: a commit returns only after the write-ahead
  log is fsynced, so an acknowledged fit survives even a power cut, not only a process crash;
- readers use their own connections and, in WAL mode, never wait for the writer; writers take
  ``BEGIN IMMEDIATE`` (one at a time, across processes too) with a busy timeout;
- every read checks the stored JSON against its sha256, so corruption is an error, not a
  silently different fit.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import sqlite3
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS fits (
    id          TEXT PRIMARY KEY,
    law         TEXT NOT NULL,
    created     REAL NOT NULL,          -- unix seconds (UTC)
    data_hash   TEXT NOT NULL,
    name        TEXT,
    n_points    INTEGER NOT NULL,
    fit_json    TEXT NOT NULL,          -- exactly what fit.save writes
    json_sha256 TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tags (
    fit_id TEXT NOT NULL REFERENCES fits(id) ON DELETE CASCADE,
    tag    TEXT NOT NULL,
    PRIMARY KEY (fit_id, tag)
);
CREATE INDEX IF NOT EXISTS fits_law ON fits(law, created);
CREATE INDEX IF NOT EXISTS fits_created ON fits(created);
CREATE INDEX IF NOT EXISTS fits_hash ON fits(data_hash);
CREATE INDEX IF NOT EXISTS fits_name ON fits(name);
CREATE INDEX IF NOT EXISTS tags_tag ON tags(tag);
"""

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_META_COLUMNS = "id, law, created, data_hash, name, n_points"


class StoreError(Exception):
    """The store file is unreadable or a stored fit fails its checksum."""


class ConflictError(Exception):
    """An id already holds a different fit (fits are immutable)."""


def fit_json_text(saved: dict) -> str:
    """The text ``fit.save`` writes for this saved-fit dict."""
    return json.dumps(saved, indent=1)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class FitStore:
    """Fits in ``DIR/fits.sqlite3``. Thread-safe: one connection per thread.

    >>> import tempfile
    >>> store = FitStore(tempfile.mkdtemp())
    >>> store.count()
    0
    """

    def __init__(self, directory, *, busy_timeout_s: float = 30.0):
        self.directory = Path(directory).expanduser()
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StoreError(f"store: cannot create directory {self.directory}: {err}") from None
        self.path = self.directory / "fits.sqlite3"
        self.busy_timeout_s = busy_timeout_s
        self._local = threading.local()
        self._write_lock = threading.Lock()
        try:
            conn = self._conn()
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise StoreError(f"store {self.path}: SQLite refused WAL mode (got {mode!r}); "
                                 "is the directory on a network file system?")
            with self._write_lock:
                conn.executescript(SCHEMA)
            ok = conn.execute("PRAGMA quick_check").fetchone()[0]
        except sqlite3.OperationalError as err:
            # a read-only file or folder is not a damaged store: saying "not readable" there
            # would send people to delete a good file
            raise StoreError(f"store {self.path}: cannot open it for writing ({err}); the service writes "
                             f"every fit there (and SQLite its -wal and -shm files beside it): make the file "
                             f"and the folder {self.directory} writable, or give --store another folder") from None
        except sqlite3.DatabaseError as err:
            raise StoreError(f"store {self.path}: not a readable SQLite database ({err})") from None
        if ok != "ok":
            raise StoreError(f"store {self.path}: integrity check failed: {ok}")

    # ---- connections ----------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a write is exactly one transaction
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None,
                                   check_same_thread=True)
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    def checkpoint(self) -> bool:
        """Copy every committed write from the write-ahead log into ``fits.sqlite3`` and empty the
        log (``wal_checkpoint(TRUNCATE)``); True when it completed.

        Until a checkpoint, acknowledged fits may live only in ``fits.sqlite3-wal`` (SQLite moves
        them over every ~4 MB of log, and when the *last* connection closes, which a server
        whose threads each hold one never does). They are safe there, but a person who stops
        the server and copies or backs up ``fits.sqlite3``, the one file the store is said to
        be, would take an empty or stale store. The server checkpoints when it shuts down.
        """
        with self._write_lock:
            busy, _, _ = self._conn().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return busy == 0

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # ---- writes -------------------------------------------------------------------------------
    @contextmanager
    def _writing(self, what: str):
        """SQLite's own write failures (a read-only file or folder, a full disk, a lock held past
        the busy timeout) as a StoreError naming the file, not a bare 'internal error'. SQLite
        opens a read-only file of an existing store without complaint, so this is where a
        read-only store shows."""
        try:
            yield
        except sqlite3.OperationalError as err:
            raise StoreError(f"store {self.path}: cannot {what}: {err} (is the file or its folder read-only, "
                             "or the disk full?); reads still work") from None

    def add(self, saved: dict, *, fit_id: str | None = None, name: str | None = None,
            tags=(), created: float | None = None) -> dict:
        """Store one saved fit (a ``FitResult.to_dict()``) and return its metadata.

        With ``fit_id`` given (PUT), storing the same JSON again is a no-op and a different fit
        under that id raises :class:`ConflictError`. Returns after the commit is durable.
        """
        text = fit_json_text(saved)
        digest = hashlib.sha256(text.encode()).hexdigest()
        created = time.time() if created is None else created
        tags = sorted(set(tags))
        conn = self._conn()
        with self._write_lock, self._writing("store the fit"):
            for attempt in range(5):
                new_id = fit_id or secrets.token_hex(8)
                conn.execute("BEGIN IMMEDIATE")
                try:
                    row = conn.execute("SELECT json_sha256 FROM fits WHERE id = ?", (new_id,)).fetchone()
                    if row is not None:
                        conn.execute("ROLLBACK")
                        if fit_id is None:
                            continue  # a random id collided: draw another
                        if row[0] == digest:
                            return {**self.meta(new_id), "created_now": False}
                        raise ConflictError(f"fit {new_id!r} already exists with different content; "
                                            "fits are immutable: store the new fit under another id")
                    conn.execute("INSERT INTO fits (id, law, created, data_hash, name, n_points, fit_json, "
                                 "json_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                 (new_id, saved["law"], created, saved["data_hash"], name,
                                  int(saved.get("n_points", 0)), text, digest))
                    conn.executemany("INSERT INTO tags (fit_id, tag) VALUES (?, ?)", [(new_id, t) for t in tags])
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                return {"id": new_id, "law": saved["law"], "created": _iso(created), "data_hash": saved["data_hash"],
                        "name": name, "tags": tags, "n_points": int(saved.get("n_points", 0)), "created_now": True}
        raise StoreError("store: could not draw a free id in 5 tries")

    def delete(self, fit_id: str) -> bool:
        """Remove a fit (and its tags); False if there was none."""
        conn = self._conn()
        with self._write_lock, self._writing("delete the fit"):
            conn.execute("BEGIN IMMEDIATE")
            try:
                cur = conn.execute("DELETE FROM fits WHERE id = ?", (fit_id,))
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        return cur.rowcount > 0

    # ---- reads -------------------------------------------------------------------------------
    def _tags(self, ids) -> dict:
        out = {i: [] for i in ids}
        if not ids:
            return out
        q = f"SELECT fit_id, tag FROM tags WHERE fit_id IN ({','.join('?' * len(ids))}) ORDER BY tag"
        for fid, tag in self._conn().execute(q, list(ids)):
            out[fid].append(tag)
        return out

    @staticmethod
    def _meta_row(row, tags) -> dict:
        fid, law, created, data_hash, name, n_points = row
        return {"id": fid, "law": law, "created": _iso(created), "data_hash": data_hash, "name": name,
                "tags": tags, "n_points": n_points}

    def exists(self, fit_id: str) -> bool:
        return self._conn().execute("SELECT 1 FROM fits WHERE id = ?", (fit_id,)).fetchone() is not None

    def digest(self, fit_id: str) -> str | None:
        """The sha256 of the fit stored under ``fit_id`` now (None: no such fit).

        An id names one fit at a time, not forever: after a DELETE, a PUT may store another fit
        under the same id (through any server process), so whoever caches a loaded fit by id
        compares this digest before trusting the copy.
        """
        row = self._conn().execute("SELECT json_sha256 FROM fits WHERE id = ?", (fit_id,)).fetchone()
        return None if row is None else row[0]

    def meta(self, fit_id: str) -> dict | None:
        row = self._conn().execute(f"SELECT {_META_COLUMNS} FROM fits WHERE id = ?", (fit_id,)).fetchone()
        if row is None:
            return None
        return self._meta_row(row, self._tags([fit_id])[fit_id])

    def get_text(self, fit_id: str) -> str | None:
        """The stored JSON text (exactly what fit.save writes), checked against its sha256."""
        row = self._conn().execute("SELECT fit_json, json_sha256 FROM fits WHERE id = ?", (fit_id,)).fetchone()
        if row is None:
            return None
        text, digest = row
        if hashlib.sha256(text.encode()).hexdigest() != digest:
            raise StoreError(f"store: fit {fit_id!r} fails its checksum (the file was damaged)")
        return text

    def list(self, *, law=None, name=None, tag=None, data_hash=None, limit: int = 100, offset: int = 0) -> dict:
        """Metadata of stored fits, newest first, filtered by exact law/name/tag/data hash."""
        where, args = [], []
        for col, value in (("law", law), ("name", name), ("data_hash", data_hash)):
            if value is not None:
                where.append(f"{col} = ?")
                args.append(value)
        if tag is not None:
            where.append("id IN (SELECT fit_id FROM tags WHERE tag = ?)")
            args.append(tag)
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        conn = self._conn()
        total = conn.execute(f"SELECT COUNT(*) FROM fits{clause}", args).fetchone()[0]
        rows = conn.execute(f"SELECT {_META_COLUMNS} FROM fits{clause} ORDER BY created DESC, id "
                            "LIMIT ? OFFSET ?", args + [int(limit), int(offset)]).fetchall()
        tags = self._tags([r[0] for r in rows])
        return {"total": total, "fits": [self._meta_row(r, tags[r[0]]) for r in rows]}

    def count(self) -> int:
        return self._conn().execute("SELECT COUNT(*) FROM fits").fetchone()[0]

    def ids(self) -> list[str]:
        return [r[0] for r in self._conn().execute("SELECT id FROM fits ORDER BY id")]


def default_store_dir() -> str:
    """``$SCALELAW_STORE``, else ``~/.scalelaw/store``."""
    return os.environ.get("SCALELAW_STORE") or str(Path("~/.scalelaw/store").expanduser())
