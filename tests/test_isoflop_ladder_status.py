"""examples/chinchilla_approaches.py on a partial IsoFLOP ladder (issue 18): a budget counts only
when every run the sweep planned for it has a complete log; the others are named and skipped."""

from __future__ import annotations

import importlib
import json
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ISO = ROOT / "data" / "cpu_isoflop"


@pytest.fixture(scope="module")
def example():
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        return importlib.import_module("chinchilla_approaches")
    finally:
        sys.path.remove(str(ROOT / "examples"))


def test_budget_label_of_sweep_run_names(example):
    assert example.budget_of("isob_C7.5e10_d_model12_seed0") == 7.5e10
    assert example.budget_of("iso_C1e11_d_model8_seed0") == 1e11
    assert example.budget_of("iso_C3.2e12_d_model96_seed0") == 3.2e12
    assert example.budget_of("cpu_d_model32_D2M_cos_seed0") is None  # a size grid: no budget
    assert example.budget_of("run_Cosine_x") is None


@pytest.mark.skipif(not ISO.is_dir(), reason="data/cpu_isoflop not bundled")
def test_partial_ladder_skips_incomplete_budgets(example, tmp_path):
    # 1e11 and 2e11 complete; 4e11 with one log missing and one still running; nothing larger
    for f in sorted(ISO.glob("iso_C1e11_*.jsonl")) + sorted(ISO.glob("iso_C2e11_*.jsonl")):
        shutil.copy(f, tmp_path)
    c4 = sorted(ISO.glob("iso_C4e11_*.jsonl"))
    for f in c4[1:]:
        shutil.copy(f, tmp_path)
    running = tmp_path / c4[-1].name
    lines = running.read_text().splitlines(keepends=True)
    head = json.loads(lines[0])
    head["header"]["status"] = "running"
    running.write_text(json.dumps(head) + "\n" + "".join(lines[1:]))
    assert example.is_isoflop_ladder(tmp_path)
    files, table, spec = example.ladder_status(tmp_path)
    # the plan comes from the spec named like the runs (examples/sweeps/cpu_isoflop.yaml, name "iso")
    assert spec is not None and spec.name == "cpu_isoflop.yaml"
    t = table.set_index("C")
    assert list(t.index) == [1e11, 2e11, 4e11, 8e11, 1.6e12, 3.2e12, 6.4e12]
    assert list(t["complete"]) == [True, True, False, False, False, False, False]
    assert (t.loc[1e11, "done"], t.loc[2e11, "done"]) == (6, 7)
    assert t.loc[4e11, "planned"] == 7 and t.loc[4e11, "done"] == 5
    assert t.loc[4e11, "missing"] == {c4[0].stem: "no log", c4[-1].stem: "running"}
    assert t.loc[3.2e12, "done"] == 0 and t.loc[3.2e12, "planned"] == 6
    assert t.loc[6.4e12, "done"] == 0 and t.loc[6.4e12, "planned"] == 6
    assert sorted(f.name for f in files) == sorted(f.name for f in
                                                   list(ISO.glob("iso_C1e11_*.jsonl")) + list(ISO.glob("iso_C2e11_*.jsonl")))


def test_size_grid_is_not_an_isoflop_ladder(example):
    sizes = ROOT / "data" / "cpu_decoder_sizes"
    if not sizes.is_dir():
        pytest.skip("data/cpu_decoder_sizes not bundled")
    assert not example.is_isoflop_ladder(sizes)


@pytest.mark.skipif(not ISO.is_dir(), reason="data/cpu_isoflop not bundled")
def test_index_rows_count_as_planned_runs(example, tmp_path):
    for f in sorted(ISO.glob("iso_C2e11_*.jsonl")):
        shutil.copy(f, tmp_path)
    (tmp_path / "index.shard0of2.csv").write_text("run,status,log\niso_C2e11_d_model56_seed0,pending,x.jsonl\n")
    _, table, _ = example.ladder_status(tmp_path)
    row = table.set_index("C").loc[2e11]
    assert not row["complete"] and row["planned"] == 8 and row["missing"] == {"iso_C2e11_d_model56_seed0": "no log"}


@pytest.mark.slow
@pytest.mark.skipif(not ISO.is_dir(), reason="data/cpu_isoflop not bundled")
def test_partial_ladder_backtests_the_complete_budgets_only(example, tmp_path, capsys):
    """4 of 7 budgets complete: fit 3, hold out the largest complete one (8e11); the three budgets
    without logs are named as skipped and never fitted."""
    for f in ISO.glob("*.jsonl"):
        if example.budget_of(f.stem) < 1e12:
            shutil.copy(f, tmp_path)
    res = example.show_isoflop_ladder(tmp_path, n_boot=10)
    out = capsys.readouterr().out
    assert "budget C=1.6e+12: 0 of 6 runs complete: INCOMPLETE, skipped" in out
    assert "budget C=3.2e+12: 0 of 6 runs complete: INCOMPLETE, skipped" in out
    assert "budget C=6.4e+12: 0 of 6 runs complete: INCOMPLETE, skipped" in out
    bt = res["isoflop_backtest"]
    assert sorted(bt["C"].round(-9).unique()) == [8e11]
    own = res["isoflop_own"]
    assert len(own) == 1 and own["lo"].iloc[0] < own["hi"].iloc[0]
    assert "isoflop_half" not in res  # fewer than 6 complete budgets: a third and half are one split
