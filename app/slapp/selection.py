"""Which rows a law sees, built from the library's helpers (``final_points``, ``frontier``).

``scalelaw.codegen`` writes the same steps into the reproducing snippet; a test checks that the
two agree.
"""

from __future__ import annotations

import pandas as pd

MODES = {
    "final": "final point per run",
    "frontier": "compute frontier (lower envelope)",
    "after_warmup": "all steps after a warm-up",
    "all": "all logged rows",
}


def smooth_losses(df: pd.DataFrame, window: int, y: str = "loss") -> pd.DataFrame:
    """Trailing mean of ``y`` over ``window`` logged points within each (run, split).

    Trailing, so a run's final point averages its last ``window`` logs and never looks ahead.
    """
    if window <= 1:
        return df
    out = df.sort_values(["run", "split", "step"], kind="stable").copy()
    out[y] = out.groupby(["run", "split"], sort=False)[y].transform(lambda s: s.rolling(window, min_periods=1).mean())
    return out


def model_sizes(df: pd.DataFrame) -> list[float]:
    """The distinct model sizes (``n_params``) of the runs, smallest first (empty: not logged)."""
    if "n_params" not in df.columns:
        return []
    return sorted(float(v) for v in pd.unique(df["n_params"].dropna()))


def select_points(df: pd.DataFrame, *, mode: str, split: str, warmup: int = 0, smooth: int = 1,
                  x: str = "flops", y: str = "loss", n_params: float | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(points, candidates)``: the rows a law is fitted to, and every row of the split they were
    chosen from (after smoothing), which the plot shows in grey. ``n_params`` keeps the runs of
    one model size (a schedule law describes one model)."""
    import scalelaw as sl

    if n_params is not None:
        if "n_params" not in df.columns:
            raise ValueError("points: a model size was chosen but the data have no n_params column")
        df = df[df["n_params"] == n_params]
        if df.empty:
            raise ValueError(f"points: no runs with n_params = {n_params:g}")
    if mode not in MODES:
        raise ValueError(f"points: unknown mode {mode!r}; one of {', '.join(MODES)}")
    if split not in set(df["split"]):
        raise ValueError(f"points: no rows with split {split!r}; splits are {sorted(map(str, df['split'].unique()))}")
    data = smooth_losses(df, int(smooth), y)
    candidates = data[data["split"] == split].reset_index(drop=True)
    if mode == "final":
        points = sl.final_points(data, split=split)
    elif mode == "frontier":
        points = sl.frontier(candidates, x=x, y=y)
    elif mode == "after_warmup":
        points = candidates[candidates["step"] > warmup].reset_index(drop=True)
    else:
        points = candidates
    if points.empty:
        raise ValueError(f"points: the selection ({MODES[mode]}, split {split!r}, warm-up {warmup}) left no rows")
    return points, candidates
