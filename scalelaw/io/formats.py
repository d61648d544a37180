"""Log formats: their names, recognising one from a file's content, and the reader of each.

Adding a format is one reader module and one line in :data:`READERS` (plus its test in
:func:`detect`). Detection checks, in this order: empty; Parquet (``PAR1`` magic); TensorBoard
(a TFRecord header whose length checksum matches); JSON (our trainer's header line, other JSONL,
HF ``trainer_state.json``, a list of rows, or a config dict); YAML configs by extension; nanoGPT
text lines; CSV/TSV (then W&B and Lightning by their columns). Documents (``.md``, ``.rst``
...) are never logs; the name only breaks ties.
"""

from __future__ import annotations

import csv
import io
import json

from scalelaw.io import hf, nanogpt, tables, tensorboard, tfrecord, trainer_jsonl, wandb
from scalelaw.io.sources import Source
from scalelaw.io.tabular import keep_nonfinite, semicolon_table

EMPTY = "empty"
CONFIG = "config"      # a JSON/YAML dict: a sidecar if it sits beside a log, else skipped
DOCUMENT_SUFFIXES = (".md", ".rst", ".html", ".htm", ".ipynb", ".py", ".pdf", ".png", ".jpg",
                     ".svg", ".pt", ".bin", ".safetensors", ".ckpt", ".npy", ".npz", ".pkl")


# half-written copies (atomic writes, editors, downloads): never the log itself
TEMPORARY_SUFFIXES = (".tmp", ".temp", ".swp", ".part", ".partial", ".lock", "~")


def _text(head: bytes) -> str | None:
    try:
        return head.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        # the 64 KiB head may cut a multi-byte character in two
        if err.start >= len(head) - 4:
            return head[:err.start].decode("utf-8-sig", errors="strict")
        if b"\x00" in head:
            return None
        # text with a few bad bytes (a damaged copy, a stray Latin-1 character): the readers
        # read the lines that decode and name the others
        text = head.decode("utf-8-sig", errors="replace")
        lines = text.splitlines()
        return text if sum("\ufffd" in line for line in lines) * 2 < len(lines) else None


def _legacy_text(head: bytes) -> bool:
    """Whether bytes that are not UTF-8 read as Windows-1252 text: no control characters other than
    tab and line ends (binary data has them)."""
    try:
        text = head.decode("cp1252")
    except UnicodeDecodeError:
        return False
    return not any(ord(c) < 32 and c not in "\t\r\n" for c in text)


def detect(source: Source) -> tuple[str | None, str]:
    """Return ``(format, why)``; format None when nothing matched, with the reason."""
    filename = source.filename.lower()
    if filename.endswith(TEMPORARY_SUFFIXES):
        return None, "a temporary file"
    head = source.head()
    if not head.strip():
        return EMPTY, "empty file"
    if head[:4] == b"PAR1":
        return "parquet", "Parquet magic bytes"
    if tfrecord.looks_like_tfrecord(head):
        return "tensorboard", "TFRecord framing"
    if filename.endswith(DOCUMENT_SUFFIXES):
        return None, "a document or binary file, not a log"
    text = _text(head)
    if text is None and b"\x00" not in head and _legacy_text(head):
        # most lines are not UTF-8 but read as Windows-1252: Excel's plain "CSV" in western
        # locales; "binary content" sent the user looking for the wrong problem
        return None, ("text that is not UTF-8 (most lines; Windows-1252 / Latin-1, as Excel's plain 'CSV' "
                      "saves?): save it as UTF-8 (Excel: 'CSV UTF-8')")
    if text is None:
        return None, "binary content that is not Parquet or a TensorBoard event file"
    stripped = text.lstrip()
    if stripped[:1] in "{[" or _mostly_json_lines(stripped):
        return _detect_json(source, stripped)
    if filename.endswith((".yaml", ".yml")):
        return CONFIG, "YAML"
    if nanogpt.looks_like(text):
        return "nanogpt", "nanoGPT 'step N: train loss ...' / 'iter N: loss ...' lines"
    return _detect_delimited(text)


def own_file(source: Source, kind: str | None) -> str | None:
    """What a file is when scalelaw itself puts it beside logs, else None.

    ``read_logs`` skips these without a warning (they are not a user's data it failed to read):
    a README (every bundled data set has one), a sweep's index (``scalelaw sweep`` writes
    ``index.csv`` and ``index.shard<k>of<n>.csv``; its header has ``run``, ``status`` and
    ``log``), a sweep spec (YAML or JSON with a ``grid``) and a saved fit or IsoFLOP result
    (``scalelaw fit ... -o``, ``scalelaw isoflop ... -o``).
    """
    name = source.filename.lower()
    if name.startswith("readme") and name.endswith((".md", ".txt", ".rst", "readme")):
        return "the folder's README"
    if name.startswith("index") and name.endswith(".csv") and kind in ("csv", "lightning", "wandb"):
        text = _text(source.head()) or ""
        header = next(csv.reader(io.StringIO(text.split("\n", 1)[0])), [])
        if {"run", "status", "log"} <= {c.strip() for c in header}:
            return "a sweep index (scalelaw sweep)"
    if kind == CONFIG:
        from scalelaw.io import sidecar
        from scalelaw.io.report import Report

        spec = source.json if isinstance(source.json, dict) else sidecar.load(source, Report())
        if isinstance(spec, dict) and isinstance(spec.get("grid"), (dict, list)):
            return "a sweep spec"
        # `scalelaw fit LOGS -o LOGS/fit.json` saves a fit beside the logs it read; on the next
        # read it was skipped as "a config file that is not beside any log (a sweep spec?)"
        if isinstance(spec, dict) and spec.get("format") == "scalelaw-isoflop":
            return "a saved IsoFLOP result (sl.load_isoflop)"
        if isinstance(spec, dict) and "scalelaw_version" in spec and ("law" in spec or "grouped_by" in spec):
            return "a saved scalelaw fit (sl.load_fit)"
    return None


def _mostly_json_lines(text: str) -> bool:
    # a JSONL file whose first line is damaged is still JSONL
    lines = [line.strip() for line in text.splitlines()[:20] if line.strip()]
    return len(lines) >= 2 and sum(line.startswith("{") for line in lines) * 2 >= len(lines)


def _detect_json(source: Source, text: str) -> tuple[str | None, str]:
    if not text.startswith(("{", "[")):
        return "jsonl", "JSON lines (the first is damaged)"
    first = text.split("\n", 1)[0].strip()
    if first.startswith("{"):
        try:
            obj = json.loads(first, parse_constant=keep_nonfinite)
        except (ValueError, RecursionError):
            obj = None
        if isinstance(obj, dict):
            if len(obj) == 1 and isinstance(obj.get("header"), dict):
                return "scalelaw", "scalelaw trainer JSONL header line"
            rest = text.split("\n", 1)[1].strip() if "\n" in text else ""
            if rest.startswith("{"):
                return "jsonl", "one JSON object per line"
            if source.filename.lower().endswith((".jsonl", ".ndjson")):
                return "jsonl", "a one-line JSONL file"  # one dict: the name breaks the tie
    # a single JSON document (pretty-printed trainer_state.json, a list of rows, a config)
    try:
        data = json.loads(source.read_text(), parse_constant=keep_nonfinite)
    except RecursionError:
        return None, "JSON nested too deeply to be a log"
    except ValueError:
        if first.startswith("{"):
            return "jsonl", "JSON lines (some malformed)"
        return None, "text that starts like JSON but does not parse"
    source.json = data
    if isinstance(data, dict):
        if isinstance(data.get("log_history"), list):
            return "hf", "Hugging Face trainer_state.json (log_history)"
        return CONFIG, "a JSON object without log rows"
    if isinstance(data, list) and any(isinstance(item, dict) for item in data):
        return "json", "a JSON list of rows"
    return None, f"a JSON {type(data).__name__}, not a log"


def _detect_delimited(text: str) -> tuple[str | None, str]:
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return None, "no text lines"
    header = lines[0]
    sep = "\t" if "\t" in header else "," if "," in header else None
    if sep is None and semicolon_table(lines):
        # a spreadsheet export in a locale whose decimal mark is the comma (the CLI's plain-table
        # reader took these already; read_logs, and so the app's upload, called them unrecognised)
        return "csv", "CSV separated by ';'"
    if sep is None:
        return None, "not CSV/TSV (no comma, tab or semicolon-separated columns in the first line) and no known log lines"
    columns = next(csv.reader(io.StringIO(header), delimiter=sep))
    columns = [c.strip() for c in columns]
    if len(columns) < 2:
        return None, "a single column"
    if sep == ",":
        if wandb.is_wide(columns):
            return "wandb", "W&B export (run - metric columns)"
        if wandb.is_history(columns):
            return "wandb", "W&B run history (_step column)"
        if tables.looks_like_lightning(columns, text):
            return "lightning", "Lightning CSVLogger metrics (epoch, step, sparse rows)"
        return "csv", "CSV"
    return "tsv", "TSV"


READERS = {
    "csv": tables.read_csv,
    "tsv": tables.read_tsv,
    "jsonl": tables.read_jsonl,
    "json": tables.read_json,
    "parquet": tables.read_parquet,
    "tensorboard": tensorboard.read,
    "hf": hf.read,
    "lightning": tables.read_lightning,
    "wandb": wandb.read,
    "nanogpt": nanogpt.read,
    "scalelaw": trainer_jsonl.read,
}
ALIASES = {
    "tb": "tensorboard", "tfevents": "tensorboard", "events": "tensorboard",
    "trainer_state": "hf", "huggingface": "hf", "transformers": "hf", "pl": "lightning",
    "pytorch_lightning": "lightning", "w&b": "wandb", "text": "nanogpt", "log": "nanogpt",
    "trainer": "scalelaw", "scalelaw_jsonl": "scalelaw", "ndjson": "jsonl",
}
FORMATS = tuple(READERS)


def canonical(fmt: str) -> str:
    """The reader name for ``fmt`` ("auto" stays "auto"); ValueError for unknown names."""
    key = str(fmt).strip().lower()
    if key == "auto":
        return key
    key = ALIASES.get(key, key)
    if key not in READERS:
        raise ValueError(f"format={fmt!r} is not known; expected 'auto' or one of "
                         f"{list(FORMATS)}")
    return key
