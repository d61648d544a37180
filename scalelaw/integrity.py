"""Integrity of saved fits and results: a hash of every section their answers depend on, and a format check.

A saved fit is JSON that people can open and edit. The answers it gives (predictions, intervals,
optima) depend on the parameters, the fixed values, the bounds, the options and law info, the
bootstrap draws and the fitted rows, so each top-level section of the saved dictionary gets its
own sha256 (of its canonical JSON: sorted keys, no spaces), stored under ``"integrity"``. On load
every section is hashed again; a mismatch names the sections that changed, so an edited
``params`` can never give a point prediction outside its own interval without anyone knowing.

Saved IsoFLOP and envelope results (:mod:`scalelaw.isoflops`, layout version 2 on) are sealed
the same way, by the same :func:`seal` and :func:`check_seal`: their answers depend on ``params``,
``optima``, ``draws`` and ``calibration`` just as a fit's do.

File format: ``FORMAT_VERSION`` counts changes to the layout. A file from a newer format is
refused (this version cannot know what its new fields mean); a file from a newer scalelaw
version of the same format loads with a warning.
"""

from __future__ import annotations

import hashlib
import json
import warnings

FORMAT_VERSION = 2
INTEGRITY_KEY = "integrity"


class SavedFitWarning(UserWarning):
    """A saved fit or result loads, but something about it deserves attention (older/newer writer, no seal)."""


def _canonical(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=True).encode()


def section_hashes(d: dict) -> dict:
    """sha256 of every top-level section of a saved dict except the integrity record itself."""
    return {k: hashlib.sha256(_canonical(v)).hexdigest() for k, v in sorted(d.items()) if k != INTEGRITY_KEY}


def seal(d: dict) -> dict:
    """``d`` with its integrity record added (``d`` must already be plain JSON data)."""
    out = {k: v for k, v in d.items() if k != INTEGRITY_KEY}
    out[INTEGRITY_KEY] = section_hashes(out)
    return out


def _version_tuple(text) -> tuple:
    parts = []
    for piece in str(text).split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def check_format(d: dict, where: str = "saved fit", *, key: str = "format", current: int = FORMAT_VERSION,
                 label: str = "file format") -> int:
    """The file's layout number ``d[key]``; a ValueError for a missing, malformed or newer one
    (newer than ``current``: its new fields would be ignored or misread, silently). Saved fits
    keep it under "format"; saved IsoFLOP results under "version" (``label`` names it)."""
    fmt = d.get(key)
    if isinstance(fmt, bool) or not isinstance(fmt, int) or fmt < 1:
        raise ValueError(f"{where}: '{key}' must be a positive integer (the file layout version), got {fmt!r}")
    if fmt > current:
        raise ValueError(f"{where}: written in {label} {fmt}, newer than this scalelaw reads ({current}; file "
                         f"written by scalelaw {d.get('scalelaw_version', '?')}); upgrade scalelaw to load it")
    return fmt


def check_version(d: dict, where: str = "saved fit") -> None:
    """Warn when the file was written by a newer scalelaw than this one."""
    from scalelaw import __version__

    saved = d.get("scalelaw_version")
    if saved is not None and _version_tuple(saved) > _version_tuple(__version__):
        warnings.warn(f"{where}: written by scalelaw {saved}, newer than this one ({__version__}); "
                      "its answers may differ from what that version gives", SavedFitWarning, stacklevel=3)


def verify(d: dict, where: str = "saved fit") -> None:
    """Check the integrity record of a format >= 2 file; ValueError naming what changed."""
    fmt = check_format(d, where)
    if fmt < 2:
        warnings.warn(f"{where}: written in file format {fmt}, before saved fits carried a hash of their "
                      "parameters and draws; only its data can be checked (save it again to seal it)",
                      SavedFitWarning, stacklevel=3)
        return
    check_seal(d, where)


def check_seal(d: dict, where: str) -> None:
    """Hash every section of ``d`` again and compare with its integrity record (written by :func:`seal`).

    A ValueError when the record is missing, or naming every section whose hash differs (an edited,
    added or removed section). Shared by saved fits (:func:`verify`) and saved IsoFLOP results.
    """
    record = d.get(INTEGRITY_KEY)
    if not isinstance(record, dict):
        raise ValueError(f"{where}: the integrity record ('{INTEGRITY_KEY}') is missing; the file was "
                         "edited or not written by scalelaw")
    now = section_hashes(d)
    changed = sorted(k for k in set(now) | set(record) if now.get(k) != record.get(k))
    if changed:
        raise ValueError(f"{where} is corrupted or was edited: section(s) {', '.join(changed)} no longer "
                         "match the hash stored when it was saved; refit and save again")
