"""Read CSV/TSV, JSONL, JSON records and Parquet into a table, keeping "empty" apart from
"NaN".

Sparse logs (Lightning, W&B, HF) leave a cell empty when a metric was not logged at that row,
while a logged NaN loss is a bad value the user must hear about. So an empty CSV cell, a JSON
``null`` or missing key and a Parquet null are *blank*; the text ``nan``/``inf`` or a JSON
``NaN`` is a value (reported later as not finite).
"""

from __future__ import annotations

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
    """CSV or TSV. Rows with too many fields are skipped and reported by line number."""
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
    return Table(frame)


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
