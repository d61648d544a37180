"""Which split the app's runs-in-progress section forecasts from (app/slapp/forecast_panel.py):
the same as the fit panel's default (slapp.defaults.default_split), not simply the first split."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("streamlit")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "app"))

from slapp.forecast_panel import _split, runs_in_progress  # noqa: E402

SPEC = "cosine:n_steps=400,peak=1e-2,floor=1e-3,warmup=20"


def _log(splits, last_step=200, run="r0"):
    """A run logged every 10 steps up to ``last_step`` of a 400-step schedule, in each split; the
    train split's loss is 1.0 higher, so a forecast from the wrong split would be visible."""
    rows = []
    for split in splits:
        for step in range(10, last_step + 1, 10):
            loss = 3.0 + 2.0 * step ** -0.3 + (1.0 if split == "train" else 0.0)
            rows.append({"run": run, "step": step, "split": split, "loss": loss, "schedule": SPEC})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("held_out", ["val", "validation", "eval", "val_web"])
def test_held_out_split_is_chosen_even_when_train_comes_first(held_out):
    df = _log(["train", held_out])
    assert _split(df) == held_out
    found = runs_in_progress(df)
    assert [f["run"] for f in found] == ["r0"]
    assert found[0]["last_step"] == 200 and found[0]["n_steps"] == 400


def test_only_a_train_split_is_used_rather_than_nothing():
    df = _log(["train"])
    assert _split(df) == "train"
    assert len(runs_in_progress(df)) == 1


def test_no_split_column_and_missing_split_values():
    df = _log(["val"]).drop(columns="split")
    assert _split(df) is None
    assert len(runs_in_progress(df)) == 1
    df = _log(["train", "val"])
    df.loc[df.index[:3], "split"] = np.nan      # a few rows without a split do not break the choice
    assert _split(df) == "val"


def test_finished_run_is_not_in_progress():
    assert runs_in_progress(_log(["train", "validation"], last_step=400)) == []
