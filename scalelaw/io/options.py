"""The read options every format reader receives, and what a reader hands back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import pandas as pd

from scalelaw.io.units import UnitPolicy


@dataclass
class Options:
    """Per-call settings shared by all readers.

    Attributes
    ----------
    columns : dict
        The user's mapping, source name -> target (or None to leave out).
    split : str or None
        Split of losses whose log names none (None: the format's default, else "train").
    units : UnitPolicy
    verify_crc : bool
        Check TFRecord checksums (slow in pure Python).
    seen : set
        Keys of ``columns`` found in some file, so unmatched keys can be reported.
    """

    columns: dict = field(default_factory=dict)
    split: str | None = None
    units: UnitPolicy = field(default_factory=UnitPolicy)
    verify_crc: bool = False
    seen: set = field(default_factory=set)


@dataclass
class Parsed:
    """What one file yields.

    Attributes
    ----------
    frame : DataFrame
        Tidy rows: ``step``, ``split``, ``loss`` and any other columns; ``run`` only when the
        log names its runs (else the run is named from the path). ``_row`` keeps file order.
    headers : dict
        Run name (None: this file's run) -> header dict (kept in ``df.attrs["headers"]``).
    facts : dict
        Run name (None: this file's run) -> run-level facts the log itself states.
    columns : dict
        Source name -> target actually used (``df.attrs["columns"]``).
    combine : callable, optional
        ``combine(facts, configs, report) -> facts``: run facts derived from the run's facts
        (its own and its sidecars') together with the sidecar configs as loaded, a list of
        ``(name, dict)`` nearest first (HF: N from ``config.json``, tokens per step from the
        batch size, gradient accumulation and sequence length). It only fills missing facts.
    """

    frame: pd.DataFrame
    headers: dict = field(default_factory=dict)
    facts: dict = field(default_factory=dict)
    columns: dict = field(default_factory=dict)
    combine: Callable | None = None
