"""One plain table of points from a file's bytes: the reader the CLI and the service share.

A plain table (CSV/TSV/JSONL/JSON/Parquet of points, no ``run``/``step`` reshaping) is read as
it is, with the same care as :func:`scalelaw.read_logs`: a byte-order mark is dropped, the
separator (``,``, ``;`` or tab) is taken from the header line, and lines that cannot be read
(bytes that are not UTF-8, a JSON line cut off mid-write) are skipped with a warning that names
the file and the lines, never silently. Errors name the file and say what was expected.
"""

from __future__ import annotations

import io
import json
import warnings

import pandas as pd

from scalelaw.io.report import preview

PLAIN_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq", ".jsonl", ".json")


def _lines(data: bytes, name: str) -> list[str]:
    lines, bad = [], []
    for lineno, raw in enumerate(data.splitlines(), start=1):
        try:
            # utf-8-sig: spreadsheet exports often start with a byte-order mark
            lines.append(raw.decode("utf-8-sig" if lineno == 1 else "utf-8"))
        except UnicodeDecodeError:
            bad.append(lineno)
            lines.append("")  # keep line numbers aligned with the file's
    if bad:
        # most lines: the file is in another encoding (Excel's plain 'CSV' is Windows-1252), not damaged
        hint = ("; the file looks like Windows-1252 / Latin-1 text (Excel's plain 'CSV'?): save it as UTF-8 "
                "(Excel: 'CSV UTF-8')" if len(bad) * 2 > len(lines) else "")
        warnings.warn(f"{name}: line(s) {preview(bad, limit=10)} are not UTF-8 text; skipped{hint}", stacklevel=3)
    return lines


def _csv(lines: list[str], name: str, suffix: str) -> pd.DataFrame:
    header = next((line for line in lines if line.strip()), None)
    if header is None:
        raise ValueError(f"{name}: empty file (expected a header line and rows)")
    sep = "\t" if suffix == ".tsv" or ("\t" in header and "," not in header) else \
        ";" if ";" in header and "," not in header else ","
    try:
        frame = pd.read_csv(io.StringIO("\n".join(lines)), sep=sep, skip_blank_lines=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise ValueError(f"{name}: not a readable {'TSV' if sep == chr(9) else 'CSV'} table ({err})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if sep == ";":
        _decimal_commas(frame, name)
    return frame


def _decimal_commas(frame: pd.DataFrame, name: str) -> None:
    """Semicolon-separated exports (European spreadsheets) write 7,81 for 7.81: such text
    columns become numbers, and a warning names them."""
    converted = []
    for col in frame.columns:
        if pd.api.types.is_numeric_dtype(frame[col]):
            continue
        text = frame[col].dropna().astype(str).str.strip()
        if len(text) and text.str.contains(",").any() and text.str.fullmatch(_DECIMAL_COMMA).all():
            dotted = frame[col].astype("string").str.strip().str.replace(",", ".", regex=False)
            frame[col] = pd.to_numeric(dotted).astype("float64")
            converted.append(str(col))
    if converted:
        warnings.warn(f"{name}: column(s) {', '.join(converted)} use a decimal comma (7,81 for 7.81); read as "
                      "numbers", stacklevel=4)


_DECIMAL_COMMA = r"[-+]?\d+(?:,\d+)?(?:[eE][-+]?\d+)?"


def _jsonl(lines: list[str], name: str) -> pd.DataFrame:
    records, bad = [], []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):
            bad.append(lineno)
            continue
        if not isinstance(obj, dict):
            bad.append(lineno)
            continue
        records.append(obj)
    if bad:
        warnings.warn(f"{name}: line(s) {preview(bad, limit=10)} are not one JSON object each (malformed or "
                      "cut off mid-line); skipped", stacklevel=3)
    if not records and not bad:
        raise ValueError(f"{name}: empty file (expected one JSON object per line)")
    return pd.DataFrame.from_records(records)


def read_plain_table(data: bytes, name: str, suffix: str | None = None) -> pd.DataFrame:
    """The table in ``data`` (the bytes of file ``name``); ``suffix`` defaults to the name's."""
    suffix = (suffix or ("." + name.rsplit(".", 1)[-1] if "." in name else "")).lower()
    if suffix in (".parquet", ".pq"):
        try:
            frame = pd.read_parquet(io.BytesIO(data))
        except ImportError:
            raise
        except Exception as err:  # pyarrow raises its own types for a damaged file
            raise ValueError(f"{name}: not a readable Parquet file ({err})") from None
    elif suffix == ".json":
        try:
            frame = pd.read_json(io.BytesIO(data))
        except ValueError as err:
            raise ValueError(f"{name}: not a readable JSON table ({err})") from None
    elif suffix == ".jsonl":
        frame = _jsonl(_lines(data, name), name)
    else:
        frame = _csv(_lines(data, name), name, suffix)
    if frame.empty:
        cols = ", ".join(map(str, frame.columns))
        raise ValueError(f"{name}: the table has no rows" + (f" (only a header: {cols})" if cols else ""))
    return frame


__all__ = ["read_plain_table", "PLAIN_SUFFIXES"]
