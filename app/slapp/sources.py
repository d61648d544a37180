"""Step 1, the data: uploaded logs or a bundled data set, read with ``scalelaw.read_logs``.

Reading is cached on the uploaded bytes (or the bundled files' sizes and times) and the reading
options. A bad file never stops the page: its message is shown and the other files are read.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import streamlit as st

from . import config

DATA_SUFFIXES = (".csv", ".tsv", ".jsonl", ".json", ".parquet")


@dataclass
class Loaded:
    """The tidy frame the rest of the page works on (None: an upload nothing could be read from),
    and where it came from."""

    df: pd.DataFrame | None
    data_id: str  # stable identity: widget keys and corrections are scoped to it
    label: str
    source: dict  # for the reproducing snippet: {"kind": "bundled", "path": ...} or {"kind": "upload", "names": [...]}
    read_kwargs: dict = field(default_factory=dict)
    errors: tuple = ()
    uploaded: bool = False


class _Upload:
    """The upload interface ``read_logs`` accepts (``.name``, ``.getvalue()``), built from cached bytes."""

    def __init__(self, name: str, data: bytes):
        self.name = name
        self._data = data

    def getvalue(self) -> bytes:
        return self._data


def error_text(err: BaseException) -> str:
    """One line for the page. ValueError (the library's "bad input") speaks for itself; anything
    else keeps its type so a reader bug is still recognisable."""
    msg = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
    return str(msg) if isinstance(err, (ValueError, FileNotFoundError)) else f"{type(err).__name__}: {msg}"


class ReadFailed(ValueError):
    """Reading failed; the message carries what the reader skipped on the way (a JSON file cut
    mid-way reads as "no rows": the skipped line is the reason)."""


def _read(items, kwargs: dict) -> pd.DataFrame:
    import scalelaw as sl
    from scalelaw.io import ReadLogsWarning

    with warnings.catch_warnings(record=True) as caught:
        # every skipped file or line is also in df.attrs["skipped"], which the page shows; when
        # reading fails there is no frame, so the notes go into the error instead
        warnings.simplefilter("always", ReadLogsWarning)
        try:
            return sl.read_logs(items, **kwargs)
        except Exception as err:
            first = error_text(err)
            notes = [str(w.message) for w in caught
                     if issubclass(w.category, ReadLogsWarning) and str(w.message) not in first]
            if not notes:
                raise
            more = f" (+{len(notes) - 5} more)" if len(notes) > 5 else ""
            raise ReadFailed(f"{first}; while reading: " + "; ".join(notes[:5]) + more) from err


@st.cache_data(show_spinner="Reading the uploaded logs…", max_entries=16)
def read_uploads(files: tuple, kwargs_json: str) -> tuple:
    """Read ``((name, bytes), ...)`` together; on failure find the bad files and read the rest.

    Returns ``(frame or None, error messages)``.
    """
    kwargs = json.loads(kwargs_json)
    try:
        return _read([_Upload(n, b) for n, b in files], kwargs), ()
    # the page's boundary: any failure of reading becomes a message, never a traceback
    except Exception as err:  # noqa: BLE001
        if len(files) == 1:
            return None, (error_text(err),)
        first = error_text(err)
    errors, good = [], []
    for name, data in files:
        try:
            _read([_Upload(name, data)], kwargs)
            good.append((name, data))
        except Exception as err:  # noqa: BLE001
            errors.append(error_text(err))
    if not good:
        return None, tuple(errors or [first])
    try:
        return _read([_Upload(n, b) for n, b in good], kwargs), tuple(errors or [first])
    except Exception as err:  # noqa: BLE001
        return None, tuple(errors + [error_text(err)])


@st.cache_data(show_spinner="Reading the bundled data set…", max_entries=8)
def read_bundled(path: str, signature: tuple, kwargs_json: str) -> tuple:
    """Read a bundled set's directory; ``signature`` (file sizes and times) refreshes the cache
    when the files change."""
    try:
        return _read(path, json.loads(kwargs_json)), ()
    except Exception as err:  # noqa: BLE001
        return None, (error_text(err),)


def bundled_sets(root: Path) -> list[dict]:
    """Sub-directories of ``root`` holding a README and at least one CSV/JSONL/... file."""
    sets = []
    if not root.is_dir():
        return sets
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        readmes = sorted(sub.glob("README*"))
        files = [p for p in sub.rglob("*") if p.is_file() and p.suffix.lower() in DATA_SUFFIXES]
        if readmes and files:
            readme = readmes[0].read_text(errors="replace")
            sets.append({"name": sub.name, "path": str(sub), "readme": readme,
                         "description": describe(sub.name, readme), "partial": is_partial(readme),
                         "signature": tuple((str(p.relative_to(sub)), p.stat().st_size, p.stat().st_mtime_ns)
                                            for p in sorted(files))})
    return sets


# The sets the app opens on, best first: the decoder size ladders (issue 17: "the app opens on
# the decoder size set"). A set still being trained (its README says PARTIAL) is skipped, so the
# app never opens on a fit of half a ladder.
PREFERRED_SETS = ("cpu_ladder", "cpu_decoder_sizes")


def is_partial(readme: str) -> bool:
    """Whether a set's README says its sweep is unfinished (``Status: PARTIAL`` / ``planned``)."""
    head = readme.lower()[:2000]
    return "status: partial" in head or "status: planned" in head


def describe(name: str, readme: str) -> str:
    """The picker's one-line description: the README's title without the set's own name."""
    title = next((line.strip("# ").strip() for line in readme.splitlines() if line.startswith("#")), "")
    if title.lower().startswith(name.lower()):
        title = title[len(name):].lstrip(" :-—").strip()
    if is_partial(readme):
        title = f"{title} (partial: still being trained)" if title else "partial: still being trained"
    return title


def picker_label(s: dict) -> str:
    """``name — description`` for the bundled-set picker."""
    return f"{s['name']} — {s['description']}" if s.get("description") else s["name"]


def default_set(sets: list[dict]) -> int:
    """The first complete set of :data:`PREFERRED_SETS`; else the first complete set whose README
    says it is meant for chinchilla-style fits; else the first set."""
    for name in PREFERRED_SETS:
        for i, s in enumerate(sets):
            if s["name"] == name and not s.get("partial"):
                return i
    for i, s in enumerate(sets):
        if "chinchilla" in s["readme"].lower() and not s.get("partial"):
            return i
    return 0


def _clean_kwargs(kwargs: dict) -> dict:
    return {k: v for k, v in kwargs.items() if v not in (None, {}, "")}


def overrides(data_id: str) -> dict:
    """The user's corrections (column mapping, run metadata) for one data set."""
    return st.session_state.setdefault("read_overrides", {}).setdefault(data_id, {})


def data_input() -> Loaded | None:
    """The sidebar's data step. Returns the loaded data, or None (with a message shown)."""
    st.header("1 · Data")
    cap_mb = max(1, math.ceil(config.max_upload_bytes() / 2**20))
    files = st.file_uploader(
        "Upload loss logs", accept_multiple_files=True, key="uploads", max_upload_size=cap_mb,
        help="CSV/TSV, JSONL, Parquet, TensorBoard event files, Hugging Face trainer_state.json, "
             "Lightning metrics.csv, W&B exports, nanoGPT logs, scalelaw trainer JSONL. One run per file, "
             "or a table with a run column.")
    with st.expander("Reading options"):
        from scalelaw.io import FORMATS, UNITS

        fmt = st.selectbox("Format", ["auto", *FORMATS], key="read_format",
                           help="auto: detected from each file's content")
        unit = st.selectbox("Loss unit in the logs", list(UNITS), key="read_unit",
                            help="converted to nats per token; never guessed")
        bpt = st.text_input("Bytes per token (per-byte units only)", key="read_bpt", placeholder="e.g. 1")
    base = {"format": fmt, "loss_unit": unit}
    if bpt.strip():
        try:
            base["bytes_per_token"] = float(bpt)
        except ValueError:
            st.error(f"Bytes per token: {bpt!r} is not a number")
    if files:
        return _from_uploads(files, base)
    return _from_bundled(base)


def _from_uploads(files, base: dict) -> Loaded | None:
    cap = config.max_upload_bytes()
    kept, errors = [], []
    for f in files:
        data = f.getvalue()
        if len(data) > cap:
            errors.append(f"{f.name}: {len(data) / 2**20:.1f} MB is over the app's limit of {cap / 2**20:.0f} MB "
                          "(SCALELAW_MAX_UPLOAD_MB); read big logs with scalelaw.read_logs in Python")
        else:
            kept.append((f.name, data))
    digest = hashlib.sha1()
    for name, data in kept:
        digest.update(name.encode() + b"\0" + hashlib.sha1(data).digest())
    data_id = "upload:" + digest.hexdigest()[:16]
    kwargs = _clean_kwargs({**base, **overrides(data_id)})
    df = None
    if kept:
        df, read_errors = read_uploads(tuple(kept), json.dumps(kwargs, sort_keys=True))
        errors += list(read_errors)
    for e in errors:
        st.error(e)
    if df is None:
        st.info("Nothing could be read from the upload: see the message(s) above. Correct the column mapping "
                "on the page, fix the file(s), or remove them to use a bundled data set.")
    else:
        st.caption(f"Using {len(kept)} uploaded file(s); remove them to go back to the bundled data.")
    n_read = len(df.attrs.get("sources") or {}) if df is not None else 0
    # a file that could not be read is named in an error above; the label counts what was read
    label = f"{n_read} of {len(kept)} uploaded files" if 0 < n_read < len(kept) else f"{len(kept)} uploaded file(s)"
    return Loaded(df=df, data_id=data_id, label=label,
                  source={"kind": "upload", "names": [n for n, _ in kept]}, read_kwargs=kwargs,
                  errors=tuple(errors), uploaded=True)


def _from_bundled(base: dict) -> Loaded | None:
    root = config.data_dir()
    sets = bundled_sets(root)
    if not sets:
        st.info(f"No bundled data set found in {root} (a folder with a README and CSV/JSONL files). "
                "Upload your logs above to start.")
        return None
    names = [s["name"] for s in sets]
    labels = {s["name"]: picker_label(s) for s in sets}
    name = st.selectbox("Bundled data set", names, index=default_set(sets), key="bundled_set",
                        format_func=labels.get, help="data/<set>: each set's README (below) says how it was made")
    chosen = sets[names.index(name)]
    data_id = "bundled:" + name
    kwargs = _clean_kwargs({**base, **overrides(data_id)})
    df, errors = read_bundled(chosen["path"], chosen["signature"], json.dumps(kwargs, sort_keys=True))
    for e in errors:
        st.error(e)
    if df is None:
        return None
    with st.expander("About this data set"):
        st.markdown(chosen["readme"])
    path = Path(chosen["path"])
    try:
        shown = str(path.resolve().relative_to(config.REPO))
    except ValueError:
        shown = str(path)
    return Loaded(df=df, data_id=data_id, label=f"bundled set {name}", source={"kind": "bundled", "path": shown},
                  read_kwargs=kwargs, errors=tuple(errors))
