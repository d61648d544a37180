"""Which points a law sees: one final point per run, or the compute-efficient frontier.

Laws over (N, D) are fitted to the final validation loss of runs whose schedule ended at D
(Hoffmann et al. 2022); intermediate checkpoints of a cosine run are not compute-optimal points.
Henighan et al. 2020 fit L(C) to the lower envelope of all curves' loss against compute.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _need(df, cols, fn):
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise KeyError(f"{fn}: column(s) {missing} not found; columns are: {', '.join(map(str, df.columns))}")


def final_points(df: pd.DataFrame, split: str | None = "val", *, run: str = "run", step: str = "step") -> pd.DataFrame:
    """The last logged row of each run (of one ``split``; ``split=None`` keeps every split).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"run": ["a", "a", "b"], "step": [1, 2, 5], "split": "val", "loss": [3.0, 2.5, 2.0]})
    >>> final_points(df)["loss"].tolist()
    [2.5, 2.0]
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"final_points takes a DataFrame, got {type(df).__name__}")
    _need(df, [run, step], "final_points")
    sub = df
    if split is not None:
        _need(df, ["split"], "final_points")
        sub = df[df["split"] == split]
        if sub.empty:
            raise ValueError(f"final_points: no rows with split == {split!r}; splits are {sorted(df['split'].unique())}")
    keys = [run] + (["split"] if split is None and "split" in df.columns else [])
    idx = sub.groupby(keys, sort=True)[step].idxmax()
    out = sub.loc[idx.to_numpy()].reset_index(drop=True)
    _warn_unfinished(out, run, step)
    return out


class UnfinishedRunWarning(UserWarning):
    """A run's last logged point is before the end of its own schedule (a run stopped or still
    going): its loss is a mid-schedule checkpoint's, not a finished run's."""


def _warn_unfinished(points: pd.DataFrame, run: str, step: str) -> None:
    """Warn, naming them, about final points logged before their schedule's ``n_steps``.

    A cosine run cut at a third of its steps has not decayed its LR: its loss there is well above
    what a run planned for that many tokens ends at, so an (N, D) law fitted to it is biased, and
    nothing else in the table says so. Only schedules in our string form (``cosine:n_steps=...``,
    the trainer's ``schedule`` column) can be checked; other logs pass as they are."""
    if "schedule" not in points.columns or points.empty:
        return
    from scalelaw.schedules import parse_spec

    early = []
    for row in points[[run, step, "schedule"]].itertuples(index=False):
        name, last, spec = row
        if not isinstance(spec, str) or ":" not in spec:
            continue
        try:
            n_steps = int(parse_spec(spec)[1]["n_steps"])
        except (ValueError, KeyError, TypeError):
            continue  # not a schedule string we know: nothing to compare with
        if pd.notna(last) and float(last) < n_steps:
            early.append(f"{name!r} at step {int(last)} of {n_steps}")
    if early:
        import warnings

        shown = ", ".join(early[:5]) + (f" (+{len(early) - 5} more)" if len(early) > 5 else "")
        warnings.warn(f"final_points: {len(early)} run(s) end before their schedule does: {shown}; each such "
                      "point is a mid-schedule checkpoint (the learning rate had not decayed), not a finished "
                      "run's final loss, and biases a law over (N, D): finish those runs or drop them",
                      UnfinishedRunWarning, stacklevel=3)


def below_all_before(y_sorted) -> np.ndarray:
    """Mask of the values strictly below every earlier one: the Pareto rule of a frontier, for
    losses already sorted by compute (ties in compute by loss, so a tie keeps its lowest)."""
    y_sorted = np.asarray(y_sorted, dtype=float)
    return y_sorted < np.minimum.accumulate(np.concatenate([[np.inf], y_sorted[:-1]]))


def frontier(df: pd.DataFrame, x: str = "flops", y: str = "loss", *, convex: bool = True) -> pd.DataFrame:
    """The compute-efficient frontier: rows on the lower envelope of ``y`` against ``x``.

    First the Pareto frontier (no row with smaller ``x`` has a lower ``y``), then, with
    ``convex=True``, its lower convex hull in log-log space (Henighan et al. 2020). Rows come back
    sorted by ``x``. Rows at ``x = 0`` (nothing trained yet: a log's step 0) have no place on log
    axes and are left out; rows with a missing, infinite or negative value are left out with a
    warning naming them.
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"frontier takes a DataFrame, got {type(df).__name__}")
    _need(df, [x, y], "frontier")
    xs = pd.to_numeric(df[x], errors="coerce").to_numpy(dtype=float)
    ys = pd.to_numeric(df[y], errors="coerce").to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(xs) | ~np.isfinite(ys) | (xs < 0) | (ys <= 0)
    if bad.any():
        import warnings

        warnings.warn(f"frontier: {int(bad.sum())} row(s) with a missing, infinite or negative {x!r} or a loss "
                      f"<= 0 in {y!r} left out, e.g. rows {list(df.index[bad][:5])}", UserWarning, stacklevel=2)
    sub = df[~bad & (xs > 0)].sort_values([x, y], kind="stable")
    if sub.empty:
        raise ValueError(f"frontier: no rows with positive finite {x!r} and {y!r}")
    pareto = sub[below_all_before(sub[y].to_numpy())]
    if not convex or len(pareto) < 3:
        return pareto.reset_index(drop=True)
    lx, ly = np.log(pareto[x].to_numpy()), np.log(pareto[y].to_numpy())
    hull: list[int] = []
    for i in range(len(lx)):  # Andrew's monotone chain, lower hull
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            cross = (lx[b] - lx[a]) * (ly[i] - ly[a]) - (ly[b] - ly[a]) * (lx[i] - lx[a])
            if cross <= 0:
                hull.pop()
            else:
                break
        hull.append(i)
    return pareto.iloc[hull].reset_index(drop=True)
