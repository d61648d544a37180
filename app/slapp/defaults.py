"""First guesses for the widgets: which law suits a data set, which rows and columns it sees.

Only starting values for the page; every one of them is shown and can be changed. The points
each law family is fitted to follow DESIGN §3: (N, D) laws see one final point per run, L(C)
the compute frontier, lr_annealing and step laws whole curves.
"""

from __future__ import annotations

import pandas as pd

POINTS_BY_LAW = {
    "chinchilla": "final",
    "kaplan_nd": "final",
    "encdec": "final",
    "critical_batch": "final",
    "power_law": "frontier",
    "power": "frontier",
    "kaplan_ns": "after_warmup",
    "lr_annealing": "after_warmup",
    "multi_power": "after_warmup",
    "dcpt": "all",
    "dcpt_cross": "all",
}

# The target each law predicts when it is not the loss (Henighan's N_opt(C), Kaplan's B_crit).
TARGET_BY_LAW = {"power": "n_params", "critical_batch": "batch_size"}


def _levels(df: pd.DataFrame, col: str) -> int:
    return int(df[col].nunique()) if col in df.columns else 0


def _budget_levels(df: pd.DataFrame, col: str) -> int:
    """Distinct per-run budgets of a counter such as ``n_tokens`` (each run's last value): a
    curve's own steps are not levels (a schedule sweep at one budget has one)."""
    if col not in df.columns:
        return 0
    if "run" in df.columns:
        return int(df.groupby("run")[col].max().nunique())
    return _levels(df, col)


def guess_law(df: pd.DataFrame) -> str:
    """The law a data set most likely is for, from which run facts vary across runs."""
    if _levels(df, "n_enc_params") >= 2 and _levels(df, "n_dec_params") >= 2:
        return "encdec"
    if _levels(df, "mix_ratio") >= 2:
        return "dcpt"
    if _levels(df, "n_params") >= 2 and _budget_levels(df, "n_tokens") >= 2:
        return "chinchilla"
    if "schedule" in df.columns or "lr" in df.columns:
        return "lr_annealing"
    return "power_law"


def numeric_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])]


def default_split(splits: list[str], law: str) -> str:
    """``val`` if logged (the held-out loss laws are fitted to), else a validation-like split."""
    if law in ("dcpt", "dcpt_cross"):
        domain = [s for s in splits if s.startswith("val") and "general" not in s and s != "val"]
        if domain:
            return domain[0]
    for s in ("val", "validation", "eval"):
        if s in splits:
            return s
    val_like = [s for s in splits if s.startswith("val")]
    return (val_like or splits)[0]


def general_split(splits: list[str]) -> str:
    general = [s for s in splits if "general" in s]
    return (general or splits)[0]


def input_column(df: pd.DataFrame, inp) -> str | None:
    """The tidy column of a law input if the data has it, else a plausible numeric column."""
    if inp.column and inp.column in df.columns:
        return inp.column
    numeric = numeric_columns(df)
    for fallback in ("flops", "n_tokens", "n_params", "step"):
        if fallback in numeric:
            return fallback
    return numeric[0] if numeric else None


def target_column(df: pd.DataFrame, law: str) -> str:
    wanted = TARGET_BY_LAW.get(law, "loss")
    return wanted if wanted in df.columns else "loss"
