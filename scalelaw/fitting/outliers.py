"""Gross outliers, flagged as fit warnings (never dropped: the user decides).

Inputs: scaling ladders are spaced 2-4x per level, so a level separated from every other by two
orders of magnitude and by far more than the ladder's own spacing (a typo such as
``n_params=1e30``) is almost always a mistake, and on log axes it carries great leverage.
Residuals: a point whose relative error is large (> 5%) and far outside the spread of the others
(> 8 robust standard deviations, MAD-based) is flagged with its row.
"""

from __future__ import annotations

import numpy as np

_MIN_GAP_DECADES = 2.0   # a level at least 100x from its nearest neighbour ...
_GAP_OVER_SPACING = 10.0  # ... and 10x the ladder's typical (median) spacing, in log10
_RESID_REL = 0.05
_RESID_MADS = 8.0


def _rows(index, mask, k=5) -> str:
    rows = [str(r) for r in list(index[mask][:k])]
    more = int(mask.sum()) - len(rows)
    return ", ".join(rows) + (f" (+{more} more)" if more > 0 else "")


def input_outliers(law, cols: dict, mapping: dict, index) -> list[str]:
    """Warnings for levels of positive inputs separated from the others far beyond the ladder's spacing."""
    notes = []
    for inp in law.inputs:
        if inp.categorical or not inp.positive or inp.name not in cols:
            continue
        v = np.asarray(cols[inp.name], dtype=float)
        levels = np.unique(np.log10(v[v > 0]))
        if len(levels) < 4:
            continue
        gaps = np.diff(levels)
        for end, gap, rest, value, nearest in (
            ("largest", gaps[-1], gaps[:-1], levels[-1], levels[-2]),
            ("smallest", gaps[0], gaps[1:], levels[0], levels[1]),
        ):
            spacing = float(np.median(rest))
            if gap >= _MIN_GAP_DECADES and gap >= _GAP_OVER_SPACING * max(spacing, 1e-3):
                rows = np.isclose(np.log10(np.where(v > 0, v, 1.0)), value, rtol=0, atol=1e-12)
                notes.append(
                    f"input {inp.name} (column {mapping[inp.name]!r}): the {end} value {10 ** value:.4g} is "
                    f"{10 ** gap:.3g}x from the nearest other level ({10 ** nearest:.4g}) while the other levels are "
                    f"spaced ~{10 ** spacing:.2g}x apart: check it for a typo (rows {_rows(index, rows)}); "
                    "an isolated level weighs heavily on a log-scale fit")
    return notes


def residual_outliers(pred: np.ndarray, y: np.ndarray, resid: np.ndarray, index, w=None) -> list[str]:
    """A warning naming the rows whose residuals are gross outliers among the fitted points."""
    pred, y, resid = (np.asarray(a, dtype=float).reshape(-1) for a in (pred, y, resid))
    if len(y) < 5:
        return []
    keep = np.ones(len(y), bool) if w is None else np.asarray(w) > 0
    rel = np.abs(pred - y) / np.maximum(np.abs(y), 1e-300)
    med = np.median(resid[keep])
    scale = 1.4826 * np.median(np.abs(resid[keep] - med))
    far = keep & (rel > _RESID_REL) & (np.abs(resid - med) > _RESID_MADS * max(scale, 1e-12))
    if not far.any():
        return []
    worst = int(np.argmax(np.where(far, rel, -1)))
    return [f"{int(far.sum())} point(s) lie far from the fitted law (relative error up to {rel[worst]:.1%}, "
            f"more than {_RESID_MADS:g} robust standard deviations from the other residuals): rows {_rows(index, far)}; "
            "check them for mistakes or a different regime"]
