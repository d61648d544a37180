"""Our trainer's JSONL (``scalelaw train``): a ``{"header": {...}}`` line with the run's config,
parameter counts, device, seed, tokens/s and MFU, then one JSON object per (step, split) row in
the tidy schema.

A later header line (a resumed run appending to its file) starts a new segment; its ``run``
names the rows that follow. Run-level facts in a header (``n_params``, ``batch_size``,
``schedule`` ..., at any depth) fill the run's columns; the header itself is kept whole in
``df.attrs["headers"]``.
"""

from __future__ import annotations

from scalelaw.io import sidecar
from scalelaw.io.options import Options, Parsed
from scalelaw.io.report import Report
from scalelaw.io.sources import NotALog, Source
from scalelaw.io.tabular import json_lines, records_table
from scalelaw.io.tidy import table_to_tidy


def is_header(obj: dict) -> bool:
    return len(obj) == 1 and isinstance(obj.get("header"), dict)


def read(source: Source, opts: Options, report: Report) -> Parsed:
    headers: dict = {}
    facts: dict = {}
    rows: list[dict] = []
    current = None  # run named by the latest header (None: named from the path)
    for _, obj in json_lines(source, report):
        if is_header(obj):
            header = obj["header"]
            current = str(header["run"]) if header.get("run") not in (None, "") else None
            headers.setdefault(current, {}).update(header)
            facts.setdefault(current, {}).update(sidecar.facts(header, source.name, report))
            continue
        if current is not None and "run" not in obj:
            obj = {**obj, "run": current}
        rows.append(obj)
    if not rows:
        raise NotALog(f"{source.name}: no logged rows after the header")
    parsed = table_to_tidy(records_table(rows), source.name, opts, report)
    frame = parsed.frame
    if "run" in frame.columns and frame["run"].isna().any():
        if frame["run"].notna().any():
            raise ValueError(f"{source.name}: some rows name their run and some do not; "
                             "give every header a 'run'")
        frame = frame.drop(columns="run")  # the file's run is named from its path
    return Parsed(frame, headers=headers, facts=facts, columns=parsed.columns)


def looks_like(first: dict) -> bool:
    return is_header(first)

