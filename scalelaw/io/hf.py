"""Hugging Face ``trainer_state.json``.

``log_history`` is a list of dicts, each with ``step`` and ``epoch``: training entries carry
``loss`` (and ``learning_rate``, ``grad_norm``), evaluation entries ``eval_loss`` (or
``eval_<dataset>_loss`` with several eval sets), and the last entry written by ``train()`` is a
summary (``train_runtime``, ``train_loss`` = mean over the whole run, ``total_flos``), which is
not a point on the curve. The other top-level keys (``global_step``, ``max_steps``,
``train_batch_size`` per device, ...) go to the run's header.
"""

from __future__ import annotations

import json

from scalelaw.io.options import Options, Parsed
from scalelaw.io.report import Report
from scalelaw.io.sources import NotALog, Source
from scalelaw.io.tabular import keep_nonfinite, records_table
from scalelaw.io.tidy import table_to_tidy

_SUMMARY_KEYS = ("train_runtime", "train_samples_per_second", "train_steps_per_second")


def load_state(source: Source) -> dict:
    if source.json is None:
        try:
            source.json = json.loads(source.read_text(), parse_constant=keep_nonfinite)
        except ValueError as err:
            raise NotALog(f"{source.name}: not valid JSON ({err})") from None
    state = source.json
    if not isinstance(state, dict) or not isinstance(state.get("log_history"), list):
        raise NotALog(f"{source.name}: no 'log_history' list (expected a Hugging Face "
                      "trainer_state.json)")
    return state


def is_summary(entry: dict) -> bool:
    """The end-of-training summary entry (not a training point)."""
    return any(key in entry for key in _SUMMARY_KEYS)


def read(source: Source, opts: Options, report: Report) -> Parsed:
    state = load_state(source)
    history = state["log_history"]
    entries = [e for e in history if isinstance(e, dict) and not is_summary(e)]
    odd = sum(not isinstance(e, dict) for e in history)
    if odd:
        report.skip(f"{source.name}: {odd} log_history items are not objects; skipped")
    if not entries:
        raise NotALog(f"{source.name}: log_history holds no logged steps")
    # HF's bare `loss` is always the training loss, whatever other splits are called
    parsed = table_to_tidy(records_table(entries), source.name, opts, report,
                           default_split="train")
    parsed.headers[None] = {k: v for k, v in state.items() if k != "log_history"}
    return parsed


def global_step(source: Source) -> int:
    """How far the run got (to pick the newest of several checkpoint copies)."""
    state = load_state(source)
    steps = [e.get("step", 0) for e in state["log_history"] if isinstance(e, dict)]
    return int(max([state.get("global_step") or 0, *[s for s in steps if isinstance(s, int)]]))
