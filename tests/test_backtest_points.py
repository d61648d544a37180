"""Backtests, law comparison, final points and the compute frontier."""

import numpy as np
import pandas as pd
import pytest

import scalelaw as sl

from conftest import CHINCHILLA_TRUE


def test_backtest_holds_out_the_largest_sizes(chinchilla_grid):
    bt = sl.backtest("chinchilla", chinchilla_grid, inputs={"N": "n_params", "D": "n_tokens"}, target="loss",
                     holdout=("N", 1 / 3))
    sizes = np.sort(chinchilla_grid["n_params"].unique())
    assert set(bt.table["n_params"]) == set(sizes[-3:])  # round(8/3) = 3 largest levels
    assert bt.fit.table["n_params"].max() == sizes[-4]
    expected = bt.fit.predict(bt.table[["n_params", "n_tokens"]]) / bt.table["loss"] - 1
    np.testing.assert_allclose(bt.table["rel_err"], expected)
    assert bt.summary["mean_rel_err"] == pytest.approx(np.abs(expected).mean())
    assert bt.summary["max_rel_err"] < 0.02  # clean law, 0.3% noise


def test_backtest_loo_mask_and_callable(chinchilla_grid):
    small = chinchilla_grid[chinchilla_grid["n_params"] < 3e8].reset_index(drop=True)
    loo = sl.backtest("chinchilla", small.iloc[:12], holdout="loo")
    assert len(loo.fits) == 12 and len(loo.table) == 12 and set(loo.table["fold"]) == set(small["run"].iloc[:12])
    mask = chinchilla_grid["n_tokens"] >= chinchilla_grid["n_tokens"].max()
    bt = sl.backtest("chinchilla", chinchilla_grid, holdout=mask.to_numpy())
    assert len(bt.table) == mask.sum()
    bt2 = sl.backtest("chinchilla", chinchilla_grid, holdout=lambda d: d["n_tokens"] >= d["n_tokens"].max())
    np.testing.assert_allclose(bt2.table["pred"], bt.table["pred"])
    with pytest.raises(ValueError, match="holdout"):
        sl.backtest("chinchilla", chinchilla_grid, holdout="largest")


def test_compare_prefers_the_true_law(chinchilla_grid):
    table = sl.compare(["chinchilla", "kaplan_nd"], chinchilla_grid, inputs={"N": "n_params", "D": "n_tokens"})
    assert list(table.index) == ["chinchilla", "kaplan_nd"]
    assert {"aic", "mean_rel_err", "max_rel_err", "objective"} <= set(table.columns)
    assert table.loc["chinchilla", "aic"] < table.loc["kaplan_nd", "aic"]


def test_final_points_takes_each_runs_last_val_step():
    df = pd.DataFrame({
        "run": ["a"] * 4 + ["b"] * 4,
        "step": [0, 10, 20, 20, 0, 5, 10, 10],
        "split": ["val", "val", "val", "train"] * 2,
        "loss": [5.0, 3.0, 2.5, 2.4, 5.0, 4.0, 3.5, 3.4],
    })
    out = sl.final_points(df, split="val")
    assert out[["run", "step", "loss"]].values.tolist() == [["a", 20, 2.5], ["b", 10, 3.5]]
    assert len(sl.final_points(df, split=None)) == 4
    with pytest.raises(ValueError, match="no rows with split == 'test'"):
        sl.final_points(df, split="test")


def test_frontier_is_the_lower_convex_envelope(rng):
    # curves of 4 model sizes: loss falls with compute and levels off; smaller models win early
    rows = []
    for n in (1e6, 4e6, 1.6e7, 6.4e7):
        C = np.geomspace(6 * n * 1e6, 6 * n * 1e10, 40)
        L = 1.7 + 50 / n ** 0.3 + 300 / (C / (6 * n)) ** 0.3
        rows.append(pd.DataFrame({"run": f"n{n:g}", "flops": C, "loss": L}))
    df = pd.concat(rows, ignore_index=True)
    front = sl.frontier(df, x="flops", y="loss")
    # brute force: a point is on the Pareto front if no point with less compute has lower loss
    srt = df.sort_values("flops")
    pareto = srt[srt["loss"] < np.minimum.accumulate(np.r_[np.inf, srt["loss"].to_numpy()[:-1]])]
    assert 3 <= len(front) <= len(pareto)
    assert set(map(tuple, front[["flops", "loss"]].to_numpy())) <= set(map(tuple, pareto[["flops", "loss"]].to_numpy()))
    # convex in log-log: slopes between consecutive frontier points increase
    lx, ly = np.log(front["flops"]), np.log(front["loss"])
    slopes = np.diff(ly) / np.diff(lx)
    assert np.all(np.diff(slopes) >= -1e-12)
    # every data point lies on or above the envelope (interpolated in log-log)
    env = np.interp(np.log(df["flops"]), lx, ly)
    inside = (np.log(df["flops"]) >= lx.min()) & (np.log(df["flops"]) <= lx.max())
    assert np.all(np.log(df["loss"])[inside] >= env[inside] - 1e-12)
    assert len(sl.frontier(df, convex=False)) == len(pareto)
