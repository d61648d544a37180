"""Our trainer's JSONL (``scalelaw train``): a ``{"header": {...}}`` line with the run's config,
parameter counts, device, seed, tokens/s and MFU, then one JSON object per (step, split) row in
the tidy schema.

A later header line (a resumed run appending to its file) starts a new segment; its ``run``
names the rows that follow. Run-level facts in a header (``n_params``, ``batch_size``,
``schedule`` ..., at any depth) fill the run's columns; the header itself is kept whole in
``df.attrs["headers"]``.

``flops_with_head``: the compute a row's tokens really cost, LM head included,
``n_tokens * (flops_per_token + 6 vocab d_model)`` (:func:`scalelaw.model_size.count_params`'s
``flops_per_token_with_head``: the header's own ``flops_per_token``, Kaplan's count without the
head, plus the tied head's ``6 vocab d_model`` from the header's model config). Derived for every
run whose header has ``config.model`` (``vocab``, ``d_model``); the logged ``flops`` column keeps
the trainer's count. Porian et al. 2024 (arXiv:2406.19146) on why the head matters.
"""

from __future__ import annotations

from scalelaw.io import sidecar
from scalelaw.io.options import Options, Parsed
from scalelaw.io.report import Report
from scalelaw.io.sources import NotALog, Source
from scalelaw.io.tabular import json_lines, records_table
from scalelaw.io.tidy import table_to_tidy

COUNTED = "flops_with_head"


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
    frame = _with_head(frame, headers, source.name, report)
    return Parsed(frame, headers=headers, facts=facts, columns=parsed.columns)


def looks_like(first: dict) -> bool:
    return is_header(first)


def flops_per_token_with_head(header: dict, name: str, report: Report):
    """Training FLOPs per token with the LM head (``flops_per_token`` + ``6 vocab d_model``) of
    one trainer header, or None when its config does not say the model (reported if malformed)."""
    from scalelaw.model_size import count_params

    config = header.get("config")
    model = config.get("model") if isinstance(config, dict) else None
    if not isinstance(model, dict) or "vocab" not in model or "d_model" not in model:
        return None
    kw = {"d_ff": model.get("d_ff"), "n_ctx": model.get("seq_len", 1024), "bias": bool(model.get("bias", False))}
    try:
        if model.get("arch", "gpt") == "encdec":
            counts = count_params(None, model["d_model"], model["vocab"], n_enc_layer=model.get("n_enc_layer"),
                                  n_dec_layer=model.get("n_dec_layer"), **kw)
        else:
            counts = count_params(model.get("n_layer"), model["d_model"], model["vocab"], **kw)
    except (TypeError, ValueError) as err:
        report.skip(f"{name}: run {header.get('run')!r}: {COUNTED} not derived (model config: {err})")
        return None
    logged = header.get("flops_per_token")
    if isinstance(logged, (int, float)) and not isinstance(logged, bool) and logged != counts["flops_per_token"]:
        # the trainer's own count is what its `flops` column used; say that the two disagree
        report.skip(f"{name}: run {header.get('run')!r}: header flops_per_token={logged} differs from "
                    f"count_params' {counts['flops_per_token']}; {COUNTED} uses the header's plus the head")
        return float(logged) + counts["head_flops_per_token"]
    return float(counts["flops_per_token_with_head"])


def _with_head(frame, headers, name, report):
    """``frame`` with ``flops_with_head = n_tokens * flops_per_token_with_head(header)`` per run."""
    import pandas as pd

    per_run = {key: f for key, h in headers.items()
               if (f := flops_per_token_with_head(h, name, report)) is not None}
    if not per_run or "n_tokens" not in frame.columns:
        return frame
    tokens = pd.to_numeric(frame["n_tokens"], errors="coerce")
    if "run" in frame.columns:
        fpt = pd.to_numeric(frame["run"].map(lambda r: per_run.get(str(r), per_run.get(None))), errors="coerce")
    else:  # one run, named from the path: its header is keyed None (or is the file's only one)
        fpt = per_run.get(None, next(iter(per_run.values())) if len(per_run) == 1 else float("nan"))
    frame = frame.copy()
    frame[COUNTED] = tokens * fpt
    return frame
