"""Read CSV/TSV, JSONL, JSON records and Parquet into a table, keeping "empty" apart from
"NaN".

Sparse logs (Lightning, W&B, HF) leave a cell empty when a metric was not logged at that row,
while a logged NaN loss is a bad value the user must hear about. So an empty CSV cell, a JSON
``null`` or missing key and a Parquet null are *blank*; the text ``nan``/``inf`` or a JSON
``NaN`` is a value (reported later as not finite).
"""

from __future__ import annotations

import csv
import io
import json
import re
import warnings

import numpy as np
import pandas as pd

from scalelaw.io.report import Report
from scalelaw.io.sources import NotALog, Source


class Table:
    """A table read from one file.

    Parameters
    ----------
    frame : DataFrame
    nulls : dict, optional
        Column -> boolean mask of blank cells, for readers whose frame cannot show blanks
        apart from NaN (Parquet). Without it a cell is blank when it is NA in ``frame``.
    """

    def __init__(self, frame: pd.DataFrame, nulls: dict | None = None):
        self.frame = frame
        self.nulls = nulls

    def blank(self, column: str) -> np.ndarray:
        if self.nulls is not None:
            mask = self.nulls.get(column)
            return np.zeros(len(self.frame), bool) if mask is None else mask
        return self.frame[column].isna().to_numpy()


_BAD_LINE = re.compile(r"Skipping line (\d+): (.*)")


def read_delimited(source: Source, report: Report, sep: str = ",") -> Table:
    """CSV or TSV. Rows with too many fields are skipped and reported by line number.

    A "CSV" whose header is separated by ';' (a spreadsheet export where the comma is the decimal
    mark) is read with ';', and its columns of decimal-comma numbers (7,81) as numbers, said in a
    note: the same rule as the CLI's plain tables (:mod:`scalelaw.io.plain`)."""
    if sep == "," and _semicolon_header(source):
        sep = ";"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with _decodable(source, report) as f:
            try:
                frame = pd.read_csv(f, sep=sep, keep_default_na=False, na_values=[""],
                                    on_bad_lines="warn")
            except pd.errors.EmptyDataError:
                raise NotALog(f"{source.name}: empty file (expected a header line)") from None
            except (pd.errors.ParserError, UnicodeDecodeError) as err:
                raise NotALog(f"{source.name}: not a readable {'TSV' if sep == chr(9) else 'CSV'}"
                              f" file ({err})") from None
    for w in caught:
        # pandas reports bad lines as one warning holding "Skipping line N: ..." lines
        for lineno, why in _BAD_LINE.findall(str(w.message)):
            report.skip(f"{source.name}:{lineno}: {why.strip().rstrip('.')}; line skipped")
    frame.columns = [str(c).strip() for c in frame.columns]
    if sep == ";":
        _decimal_commas(frame, source.name, report)
    return Table(frame)


def semicolon_table(lines: list[str]) -> bool:
    """Whether non-blank ``lines`` (the first is the header) read as a ';'-separated table: no comma
    or tab in the header, 2+ columns, and the next line (if any) has as many fields, so that a
    text file with a stray ';' in its first line is not taken for a table."""
    header = lines[0] if lines else ""
    if "," in header or "\t" in header or ";" not in header:
        return False
    width = len(next(csv.reader(io.StringIO(header), delimiter=";")))
    if width < 2:
        return False
    return len(lines) < 2 or len(next(csv.reader(io.StringIO(lines[1]), delimiter=";"))) == width


def _semicolon_header(source: Source) -> bool:
    head = source.read_bytes()[:65536].decode("utf-8-sig", errors="replace")
    return semicolon_table([line for line in head.splitlines() if line.strip()][:2])


# a decimal-comma number (7,81; -1,5e-3; 42); the text a logger writes for a non-finite value
_DECIMAL_COMMA = r"[-+]?\d+(?:,\d+)?(?:[eE][-+]?\d+)?"
_NON_FINITE = ("nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity")


def _decimal_commas(frame: pd.DataFrame, name: str, report: Report) -> None:
    """Text columns of a ';'-separated table whose every value is a decimal-comma number (or a
    nan/inf text, kept as text for the later not-finite checks) become numbers, and a note names them."""
    converted = []
    for col in frame.columns:
        if pd.api.types.is_numeric_dtype(frame[col]):
            continue
        text = frame[col].astype("string").str.strip()
        filled = text.dropna()
        if not len(filled):
            continue
        special = filled.str.lower().isin(_NON_FINITE)
        decimal = filled.str.fullmatch(_DECIMAL_COMMA).fillna(False)
        if not (decimal | special).all() or not filled[decimal].str.contains(",").any():
            continue
        dotted = text.str.replace(",", ".", regex=False)
        if special.any():  # "nan" stays text, as in a '.' CSV read with keep_default_na=False
            frame[col] = dotted.astype(object).where(text.notna(), np.nan)
        else:
            frame[col] = pd.to_numeric(dotted).astype("float64")
        converted.append(str(col))
    if converted:
        report.skip(f"{name}: column(s) {', '.join(converted)} use a decimal comma (7,81 for 7.81); read as numbers")


def _decodable(source: Source, report: Report):
    """The source as pandas reads it; when some lines are not UTF-8, the lines that decode (the
    others are named and skipped, so one bad byte does not lose the whole file)."""
    import io

    data = source.read_bytes()
    try:
        data.decode("utf-8")
        return io.BytesIO(data)
    except UnicodeDecodeError:
        pass
    kept, bad = [], []
    for lineno, line in enumerate(data.splitlines(keepends=True), start=1):
        try:
            kept.append(line.decode("utf-8-sig" if lineno == 1 else "utf-8"))
        except UnicodeDecodeError:
            bad.append(lineno)
    if bad[:1] == [1]:
        raise NotALog(f"{source.name}: its first (header) line holds bytes that are not UTF-8 text")
    shown = ", ".join(map(str, bad[:10])) + (f" (+{len(bad) - 10} more)" if len(bad) > 10 else "")
    report.skip(f"{source.name}: line(s) {shown} hold bytes that are not UTF-8 text; "
                f"{'line' if len(bad) == 1 else 'lines'} skipped, the rest read")
    return io.StringIO("".join(kept))


def keep_nonfinite(constant: str) -> str:
    # JSON's NaN / Infinity become text, so they stay apart from null (blank)
    return {"NaN": "nan", "Infinity": "inf", "-Infinity": "-inf"}[constant]


def json_lines(source: Source, report: Report):
    """Yield ``(line_number, object)`` for each JSON line; bad lines are reported and skipped."""
    text = source.read_text()
    for lineno, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        try:
            obj = json.loads(line, parse_constant=keep_nonfinite)
        except ValueError as err:
            report.skip(f"{source.name}:{lineno}: malformed JSON ({err.args[0]}); line skipped")
            continue
        except RecursionError:
            report.skip(f"{source.name}:{lineno}: JSON nested too deeply; line skipped")
            continue
        if not isinstance(obj, dict):
            report.skip(f"{source.name}:{lineno}: a JSON {type(obj).__name__}, not an object; "
                        "line skipped")
            continue
        yield lineno, obj


def records_table(records: list[dict]) -> Table:
    """A table from JSON objects (missing keys and nulls are blank)."""
    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
    frame.columns = [str(c).strip() for c in frame.columns]
    return Table(frame)


def read_jsonl(source: Source, report: Report) -> Table:
    return records_table([obj for _, obj in json_lines(source, report)])


def read_json_records(source: Source, report: Report) -> Table:
    """A JSON array of objects (one per logged row)."""
    data = source.json if source.json is not None else json.loads(
        source.read_text(), parse_constant=keep_nonfinite)
    if not isinstance(data, list):
        raise NotALog(f"{source.name}: a JSON {type(data).__name__}, expected a list of rows")
    rows = [r for r in data if isinstance(r, dict)]
    if len(rows) < len(data):
        report.skip(f"{source.name}: {len(data) - len(rows)} list items are not JSON objects; "
                    "skipped")
    return records_table(rows)


def read_parquet(source: Source, report: Report) -> Table:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    with source.open() as f:
        try:
            arrow = pq.read_table(f)
        except Exception as err:  # pyarrow raises several types for damaged files
            raise NotALog(f"{source.name}: not a readable Parquet file ({err})") from None
    nulls = {name: pc.is_null(arrow.column(name)).to_numpy(zero_copy_only=False)
             for name in arrow.column_names if arrow.column(name).null_count}
    frame = arrow.to_pandas()
    frame.columns = [str(c).strip() for c in frame.columns]
    nulls = {str(k).strip(): v for k, v in nulls.items()}
    return Table(frame, nulls=nulls)
