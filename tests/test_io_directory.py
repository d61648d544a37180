"""Directories and several inputs at once: run names from paths, other files skipped and
reported, runs that never collide."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import pandas as pd
import pytest

import scalelaw as sl
from scalelaw.io import ReadLogsWarning

FIXTURES = Path(__file__).parent / "fixtures" / "logs"


def curve(path: Path, offset: float = 0.0, steps=(100, 200, 300)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"step": list(steps),
                  "val/loss": [3.0 + offset - s / 1000 for s in steps]}).to_csv(path, index=False)


def read_quiet(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ReadLogsWarning)
        return sl.read_logs(*args, **kwargs)


def test_directory_skips_and_reports_other_files(tmp_path):
    runs = tmp_path / "runs"
    curve(runs / "a.csv", 0.0)
    curve(runs / "b" / "metrics.csv", 0.5)
    (runs / "README.md").write_text("# My sweep\nstep 1: train loss 1.0, val loss 2.0\n")
    (runs / "sweep.yaml").write_text("sweep:\n  n_layer: [2, 4]\n")  # not a scalelaw spec (no grid)
    pd.DataFrame({"run": ["a", "b"], "n_layer": [2, 4]}).to_csv(runs / "index.csv", index=False)
    (runs / "empty.log").write_text("")
    with pytest.warns(ReadLogsWarning) as caught:
        df = sl.read_logs(runs)
    messages = [str(w.message) for w in caught]
    assert sorted(set(df.run)) == ["a", "b"]
    assert df[df.run == "b"].set_index("step").loss[300] == pytest.approx(3.5 - 0.3)
    skipped = {Path(m.split(":")[0]).name: m for m in messages}
    # a README is never a log: skipped without a warning, listed in attrs["ignored"]
    assert set(skipped) == {"sweep.yaml", "index.csv", "empty.log"}
    assert any(m.endswith("README.md: the folder's README") for m in df.attrs["ignored"])
    assert "no loss column" in skipped["index.csv"] and "skipped" in skipped["index.csv"]
    assert "not beside any log" in skipped["sweep.yaml"]
    assert "empty file" in skipped["empty.log"]
    assert df.attrs["skipped"] == messages


def test_runs_per_sub_directory_and_per_file(tmp_path):
    root = tmp_path / "sweep"
    curve(root / "n1M" / "metrics.csv", 0.3)
    (root / "n1M" / "config.json").write_text(json.dumps({"n_params": 1e6, "batch_size": 4,
                                                          "seq_len": 32}))
    curve(root / "grid" / "lr1.csv", 0.1)   # two specifically named logs: two runs
    curve(root / "grid" / "lr2.csv", 0.2)
    curve(root / "top.csv", 0.4)
    df = read_quiet(root)
    assert sorted(set(df.run)) == ["lr1", "lr2", "n1M", "top"]
    n1m = df[df.run == "n1M"].set_index("step")
    assert set(n1m.n_params) == {1e6} and n1m.n_tokens[200] == 200 * 4 * 32
    assert "n_params" in df.columns and df[df.run == "top"].n_params.isna().all()


def test_same_run_names_from_two_inputs_get_a_suffix(tmp_path):
    curve(tmp_path / "x" / "gpt.csv", 0.0)
    curve(tmp_path / "y" / "gpt.csv", 1.0)
    with pytest.warns(ReadLogsWarning, match=r"run 'gpt' was already read from another file; "
                                             r"this one is named 'gpt#2'"):
        df = sl.read_logs([tmp_path / "x" / "gpt.csv", tmp_path / "y" / "gpt.csv"])
    assert df[df.run == "gpt"].loss.iloc[0] == pytest.approx(2.9)
    assert df[df.run == "gpt#2"].loss.iloc[0] == pytest.approx(3.9)
    named = read_quiet([tmp_path / "x" / "gpt.csv", tmp_path / "y" / "gpt.csv"],
                       run=["base", "wide"])
    assert sorted(set(named.run)) == ["base", "wide"]
    # metadata is keyed by the final names
    renamed = read_quiet(tmp_path / "x" / "gpt.csv", run={"gpt": "gpt-small"},
                         metadata={"gpt-small": {"n_params": 1e6}})
    assert set(renamed.run) == {"gpt-small"} and set(renamed.n_params) == {1e6}
    with pytest.raises(ValueError, match=r"run= renames \['nope'\]"):
        sl.read_logs(tmp_path / "x" / "gpt.csv", run={"nope": "a"})


def test_generic_file_names_take_the_folder_name(tmp_path):
    curve(tmp_path / "alpha" / "metrics.csv", 0.0)
    curve(tmp_path / "beta" / "metrics.csv", 1.0)
    df = read_quiet([tmp_path / "alpha" / "metrics.csv", tmp_path / "beta" / "metrics.csv"])
    assert sorted(set(df.run)) == ["alpha", "beta"]


def test_glob_pattern(tmp_path):
    curve(tmp_path / "r1.csv")
    curve(tmp_path / "r2.csv")
    (tmp_path / "notes.md").write_text("hello")
    df = read_quiet(str(tmp_path / "r*.csv"))
    assert sorted(set(df.run)) == ["r1", "r2"]
    with pytest.raises(FileNotFoundError, match="no file matches"):
        sl.read_logs(str(tmp_path / "zz*.csv"))


def test_hf_checkpoint_copies_are_not_read_twice(tmp_path):
    out = tmp_path / "out" / "bert-base"
    state = json.loads((FIXTURES / "hf" / "trainer_state.json").read_text())
    older = dict(state, global_step=40, log_history=state["log_history"][:6])
    (out / "checkpoint-40").mkdir(parents=True)
    (out / "checkpoint-40" / "trainer_state.json").write_text(json.dumps(older))
    (out / "checkpoint-60").mkdir()
    (out / "checkpoint-60" / "trainer_state.json").write_text(json.dumps(state))
    with pytest.warns(ReadLogsWarning, match=r"checkpoint-40/trainer_state\.json: skipped: an "
                                             r"older copy of run 'bert-base'"):
        df = sl.read_logs(tmp_path / "out")
    assert set(df.run) == {"bert-base"} and df[df.split == "val"].step.tolist() == [20, 40, 60]
    assert not any("repeat" in m for m in df.attrs["skipped"])


def test_whole_fixture_directory(tmp_path):
    shutil.copytree(FIXTURES, tmp_path / "logs")
    with pytest.warns(ReadLogsWarning):
        df = sl.read_logs(tmp_path / "logs")
    assert {"gpt-small", "gpt-large", "hf", "lightning", "nanogpt", "wandb"} <= set(df.run)
    assert set(df.attrs["sources"].values()) == {"hf", "lightning", "wandb", "nanogpt"}


def test_directory_without_logs(tmp_path):
    (tmp_path / "README.md").write_text("nothing here")
    (tmp_path / "notes.txt").write_text("nothing here either")
    with pytest.warns(ReadLogsWarning, match="notes.txt: skipped"):
        with pytest.raises(FileNotFoundError, match="no logs found.*README.md: the folder's README"):
            sl.read_logs(tmp_path)


def test_our_own_files_beside_logs_are_skipped_without_a_warning(tmp_path):
    """A bundled data folder: logs, a README, the sweep's index (full and per shard), its spec."""
    curve(tmp_path / "a.csv")
    (tmp_path / "README.md").write_text("# how it was made\nstep 1: train loss 1.0, val loss 2.0\n")
    index = "run,status,job,n_params,final_val_loss,log,error\na,complete,,1000,2.7,a.csv,\n"
    (tmp_path / "index.csv").write_text(index)
    (tmp_path / "index.shard0of2.csv").write_text(index)
    (tmp_path / "sizes.yaml").write_text("name: sizes\nbase: {preset: tiny}\ngrid:\n  seed: [0, 1]\n")
    df = read_quiet(tmp_path)  # any ReadLogsWarning fails
    assert set(df.run) == {"a"}
    assert sorted(m.split(": ")[1] for m in df.attrs["ignored"]) == [
        "a sweep index (scalelaw sweep)", "a sweep index (scalelaw sweep)", "a sweep spec", "the folder's README"]
    # a user's table without the index's columns is still reported
    (tmp_path / "index.csv").write_text("run,n_layer\na,2\n")
    with pytest.warns(ReadLogsWarning, match="index.csv: no loss column"):
        sl.read_logs(tmp_path)


@pytest.mark.parametrize("folder", ["cpu_decoder_sizes", "cpu_schedules", "cpu_dcpt", "cpu_encdec"])
def test_bundled_data_folders_read_without_warnings(folder):
    root = Path(__file__).resolve().parents[1] / "data" / folder
    df = read_quiet(root)
    assert df["run"].nunique() >= 6
    assert any("README.md" in m for m in df.attrs["ignored"])


def test_read_logs_warning_is_exported():
    assert sl.ReadLogsWarning is ReadLogsWarning
    assert issubclass(sl.ReadLogsWarning, UserWarning)


def test_forced_format_reads_only_that_kind(tmp_path):
    curve(tmp_path / "a.csv")
    (tmp_path / "b.jsonl").write_text('{"step": 1, "loss": 2.0}\n')
    with pytest.warns(ReadLogsWarning, match=r"b\.jsonl: skipped: not a csv log \(it reads as "
                                             r"jsonl\)"):
        df = sl.read_logs(tmp_path, format="csv")
    assert set(df.run) == {"a"}


def test_rows_without_a_run_name_take_the_files(tmp_path):
    (tmp_path / "mixed.csv").write_text("run,step,loss\nx,1,2.0\n,2,1.5\n")
    with pytest.warns(ReadLogsWarning, match=r"mixed\.csv: 1 rows name no run; they are given "
                                             r"the file's run name 'mixed'"):
        df = sl.read_logs(tmp_path / "mixed.csv")
    assert list(zip(df.run, df.step)) == [("mixed", 2), ("x", 1)]


@pytest.mark.parametrize("layout, expected", [
    ("runs/a.csv", "a"),
    ("runs/grid/lr1.csv", "lr1"),
    ("runs/b/metrics.csv", "b"),
    ("runs/c/version_0/metrics.csv", "c"),
    ("runs/d/checkpoint-60/train.log", "d"),
    ("runs/e/logs/train/loss.csv", "e"),
])
def test_one_run_name_however_the_path_is_given(tmp_path, layout, expected):
    """The file alone, its folder, its grandparent folder, a glob: the same run name."""
    path = tmp_path / layout
    curve(path)
    parents = [p for p in path.parents if tmp_path in p.parents or p == tmp_path / "runs"]
    names = {str(path): set(read_quiet(path).run), "glob": set(read_quiet(str(path.parent / "*.*")).run)}
    for folder in parents:
        names[str(folder)] = set(read_quiet(folder).run)
    assert all(n == {expected} for n in names.values()), names


def test_same_names_from_different_folders_stay_apart(tmp_path):
    curve(tmp_path / "runs" / "x" / "seed0.csv", 0.0)
    curve(tmp_path / "runs" / "y" / "seed0.csv", 1.0)
    with pytest.warns(ReadLogsWarning, match=r"run 'seed0' was already read from another file; this one is "
                                             r"named 'seed0#2'"):
        df = sl.read_logs(tmp_path / "runs")
    assert sorted(set(df.run)) == ["seed0", "seed0#2"]


def test_sidecar_in_the_run_folder_applies_to_a_file_read_alone(tmp_path):
    curve(tmp_path / "gpt" / "version_0" / "metrics.csv")
    (tmp_path / "gpt" / "config.json").write_text(json.dumps({"n_params": 5e6}))
    for given in (tmp_path / "gpt" / "version_0" / "metrics.csv", tmp_path / "gpt", tmp_path):
        df = read_quiet(given)
        assert set(df.run) == {"gpt"} and set(df.n_params) == {5e6}, given
