"""Backtests: fit on the smaller runs, predict the held-out larger ones, report relative errors.

This is how a user decides whether to trust an extrapolation (and how we test the laws).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from scalelaw.fitting.data import as_frame, resolve_inputs
from scalelaw.laws import get_law


@dataclass
class BacktestResult:
    """``table``: the held-out rows with ``pred`` and ``rel_err`` (pred/obs - 1); ``summary``:
    mean and max absolute relative error; ``fits``: the fit(s) that made the predictions."""

    law: str
    holdout: str
    table: pd.DataFrame
    summary: dict
    fits: list = field(default_factory=list)

    @property
    def fit(self):
        return self.fits[0] if len(self.fits) == 1 else self.fits


def _holdout_mask(law, frame, mapping, holdout) -> tuple[np.ndarray, str]:
    if isinstance(holdout, tuple):
        if len(holdout) != 2:
            raise ValueError(f"holdout tuple must be (input, fraction), got {holdout!r}")
        name, frac = holdout
        col = mapping.get(name, name)
        if col not in frame.columns:
            raise KeyError(f"holdout: {name!r} is neither an input of {law.name!r} nor a column")
        if not 0 < frac < 1:
            raise ValueError(f"holdout fraction must be in (0, 1), got {frac!r}")
        levels = np.unique(frame[col].to_numpy())
        n_hold = max(1, int(round(frac * len(levels))))
        if len(levels) - n_hold < 2:
            raise ValueError(f"holdout: {col!r} has {len(levels)} distinct values; holding out {n_hold} leaves "
                             "fewer than 2 to fit on")
        threshold = levels[-n_hold]
        return frame[col].to_numpy() >= threshold, f"largest {n_hold} of {len(levels)} values of {col}"
    if callable(holdout):
        mask = np.asarray(holdout(frame), dtype=bool)
        desc = "callable"
    else:
        mask = np.asarray(holdout, dtype=bool)
        desc = "mask"
    if mask.shape != (len(frame),):
        raise ValueError(f"holdout mask must have one boolean per row ({len(frame)}), got shape {mask.shape}")
    if mask.all() or not mask.any():
        raise ValueError("holdout mask must hold out some rows and keep some to fit on")
    return mask, desc


def _summary(table):
    err = table["rel_err"].abs()
    return {"mean_rel_err": float(err.mean()), "max_rel_err": float(err.max()), "n_heldout": int(len(table))}


def backtest(law, df, inputs=None, target: str = "loss", holdout=("N", 1 / 3), **fit_kwargs) -> BacktestResult:
    """Fit on part of the data and predict the rest.

    ``holdout``: ``(input, fraction)`` holds out the largest values (levels) of that input (or
    column); ``"loo"`` leaves one run out at a time (one row at a time without a ``run`` column);
    a boolean mask or a callable on the frame selects the held-out rows.
    """
    from scalelaw.api import fit as _fit

    law = get_law(law)
    frame = as_frame(df).reset_index(drop=True)
    mapping = resolve_inputs(law, inputs, frame)
    if isinstance(holdout, str):
        if holdout != "loo":
            raise ValueError(f"holdout must be (input, fraction), 'loo', a mask or a callable; got {holdout!r}")
        groups = frame["run"].to_numpy() if "run" in frame.columns else np.arange(len(frame))
        parts, fits = [], []
        for g in pd.unique(groups):
            test = groups == g
            f = _fit(law, frame.loc[~test], inputs=mapping, target=target, **fit_kwargs)
            pred = f.predict_frame(frame.loc[test])
            pred["fold"] = g
            parts.append(pred)
            fits.append(f)
        table = pd.concat(parts, ignore_index=True)
        desc = "leave one run out" if "run" in frame.columns else "leave one row out"
    else:
        mask, desc = _holdout_mask(law, frame, mapping, holdout)
        f = _fit(law, frame.loc[~mask], inputs=mapping, target=target, **fit_kwargs)
        table = f.predict_frame(frame.loc[mask]).reset_index(drop=True)
        fits = [f]
    table["rel_err"] = table["pred"] / table[target] - 1.0
    return BacktestResult(law.name, desc, table, _summary(table), fits)


def compare(laws, df, inputs=None, target: str = "loss", holdout=("N", 1 / 3), **fit_kwargs) -> pd.DataFrame:
    """Several laws on one data set: backtest errors and AIC of the full fit, side by side.

    ``inputs`` is one mapping (each law takes the entries it has inputs for) or ``{law: mapping}``.
    An ``(input, fraction)`` holdout holds out the same rows for every law: a law without that
    input (power_law beside chinchilla's N) holds out by the column the input names.
    """
    from scalelaw.api import fit as _fit

    if isinstance(laws, str) or getattr(laws, "name", None) is not None:
        laws = [laws]  # one law: not its name's letters
    laws = list(laws)
    if not laws:
        raise ValueError("compare: give at least one law name, e.g. compare(['chinchilla', 'kaplan_nd'], df)")
    rows = []
    frame = as_frame(df)
    mappings = {}
    _check_per_law_inputs(laws, inputs)
    for name in laws:
        law = get_law(name)
        if isinstance(inputs, dict) and name in inputs and isinstance(inputs[name], dict):
            mappings[name] = inputs[name]
        else:
            mappings[name] = {k: v for k, v in (inputs or {}).items() if k in law.input_names}
    held_column = _holdout_column(laws, mappings, holdout)
    for name in laws:
        law = get_law(name)
        mapping = mappings[name]
        held = holdout
        if held_column is not None and holdout[0] not in law.input_names and held_column in frame.columns:
            # a law without that input (power_law's x beside chinchilla's N) holds out the same rows:
            # those of the column the input names; before, the default ("N", 1/3) failed for it
            held = (held_column, holdout[1])
        full = _fit(law, frame, inputs=mapping, target=target, **fit_kwargs)
        bt = backtest(law, frame, inputs=mapping, target=target, holdout=held, **fit_kwargs)
        rows.append({"law": law.name, "n_free": full.n_free, "n_points": full.n_points,
                     "objective": full.objective, "aic": full.aic, **bt.summary})
    return pd.DataFrame(rows).set_index("law")


def _check_per_law_inputs(laws, inputs) -> None:
    """Refuse a per-law entry of ``inputs`` that compare would otherwise skip in silence.

    A key that names a compared law is that law's mapping, so it must be a dict (``{'chinchilla':
    'x'}`` fell through to the one-mapping form, where no law has an input 'chinchilla', and was
    dropped: the law was fitted on its default columns). A dict under any other key is a per-law
    mapping too (no column name is a dict), so its key must be one of the laws compared (a typo
    'chinchila' was dropped the same way)."""
    if not isinstance(inputs, dict):
        return
    compared = [get_law(name).name for name in laws]
    for key, value in inputs.items():
        if key in compared and not isinstance(value, dict):
            raise TypeError(f"compare: inputs[{key!r}] must be a dict mapping the inputs of law {key!r} to columns, e.g. "
                            f"{{{key!r}: {{{', '.join(f'{i!r}: ...' for i in get_law(key).input_names)}}}}}; "
                            f"got {type(value).__name__} {value!r}")
        if isinstance(value, dict) and key not in compared:
            raise ValueError(f"compare: inputs[{key!r}] is a per-law mapping, but {key!r} is not one of the laws "
                             f"compared ({', '.join(compared)})")


def _holdout_column(laws, mappings: dict, holdout) -> str | None:
    """The column an ``(input, fraction)`` holdout names, from the first law with that input (its
    mapping, else the law's default column), so every law compared holds out the same rows."""
    if not (isinstance(holdout, tuple) and len(holdout) == 2 and isinstance(holdout[0], str)):
        return None
    for name in laws:
        law = get_law(name)
        if holdout[0] in law.input_names:
            inp = next(i for i in law.inputs if i.name == holdout[0])
            return mappings[name].get(holdout[0], inp.column)
    return None
