"""Audit of the trainer's runner and the figures: interrupted runs and resume, sweep specs with
mistakes in them, plots of edge data. Each test was written first, failing, against the bug it
names (tests/test_audit_service_store.py has the service's and the store's)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from scalelaw.train.config import ConfigError
from scalelaw.train.runlog import RunLog
from scalelaw.train.sweep import expand

BASE = {"preset": "tiny", "eval_interval": 4, "log_interval": 2}


# ---- resuming a run whose log was cut off mid-line ----------------------------------------------
def _row(step, split="train", loss=3.0):
    return {"run": "r", "step": step, "split": split, "loss": loss}


def test_resume_after_a_kill_mid_write_keeps_the_rows_and_drops_the_cut_line(tmp_path):
    """Bug: a run killed while appending a row (SIGKILL, a lost node) left half a line at the end
    of its log; resuming it from its checkpoint raised JSONDecodeError, so the run (and every
    later call of the sweep) failed and could never be resumed."""
    path = tmp_path / "r.jsonl"
    log = RunLog(path, {"run": "r", "status": "running"})
    for step in (0, 10, 20, 25):
        log.write(_row(step))
    log.flush()
    log._file.write('{"run": "r", "step": 26, "spl')  # the kill: no close, no newline
    log._file.flush()
    resumed = RunLog(path, {"run": "r", "status": "running", "resumed_from_step": 20}, resume_step=20)
    resumed.write(_row(21))
    resumed.close(status="complete")
    rows = [json.loads(line) for line in path.read_text().splitlines()[1:]]
    assert [r["step"] for r in rows] == [0, 10, 20, 21]  # nothing before the checkpoint lost, nothing twice


def test_resume_refuses_a_log_damaged_before_its_end_naming_file_and_line(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps({"header": {"run": "r"}}) + "\n" + json.dumps(_row(0)) + "\n"
                    + "garbage\n" + json.dumps(_row(10)) + "\n")
    with pytest.raises(ValueError, match=r"r.jsonl: line 3 is not a JSON row"):
        RunLog(path, {"run": "r"}, resume_step=10)
    assert "garbage" in path.read_text()  # refused before anything was rewritten


@pytest.mark.usefixtures("one_thread")
def test_rows_of_a_checkpoint_step_are_on_disk_before_its_checkpoint(shards, tmp_path, monkeypatch):
    """Bug: at a checkpoint step the trainer wrote the checkpoint first and flushed that step's
    rows after; a kill in between (the checkpoint is the slow part of the step) resumed from that
    step with its rows, often its validation loss, missing from the log for good."""
    from scalelaw.train import checkpoint
    from scalelaw.train.config import apply_overrides, get_preset
    from scalelaw.train.loop import train

    cfg = apply_overrides(get_preset("tiny"), {"device": "cpu", "data_root": str(shards), "out_dir": str(tmp_path),
                                               "n_steps": 12, "ckpt_interval": 4, "eval_interval": 4,
                                               "log_interval": 2})
    log = tmp_path / f"{cfg.run_name}.jsonl"
    seen = {}
    real_save = checkpoint.save

    def save(path, *, step, **kw):
        on_disk = [json.loads(line) for line in log.read_text().splitlines()[1:]]  # what a kill would leave
        seen[step] = {(r["step"], r["split"]) for r in on_disk}
        return real_save(path, step=step, **kw)

    monkeypatch.setattr(checkpoint, "save", save)
    train(cfg, progress=False)
    assert sorted(seen) == [4, 8, 12]
    for step, rows in seen.items():
        assert {(step, "train"), (step, "val")} <= rows, (step, sorted(rows))


# ---- sweep specs with a mistake ---------------------------------------------------------------
def test_a_key_given_twice_in_a_yaml_spec_is_named(tmp_path):
    """Bug: YAML keeps the last of two equal keys: a spec with two ``seed:`` lines under grid ran
    only the second's seeds, and nothing said the first was dropped."""
    spec = tmp_path / "spec.yaml"
    spec.write_text("name: t\nbase:\n  preset: tiny\ngrid:\n  seed: [0]\n  tokens: [4096]\n  seed: [1, 2]\n")
    with pytest.raises(ConfigError, match=r"spec.yaml: key 'seed' given twice in one mapping \(lines 5 and 7\)"):
        expand(spec)


def test_a_key_given_twice_in_a_json_spec_is_named(tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text('{"name": "t", "base": {"preset": "tiny", "seed": 0, "seed": 1}, "grid": {"tokens": [4096]}}')
    with pytest.raises(ConfigError, match=r"spec.json: key\(s\) 'seed' given twice"):
        expand(spec)


@pytest.mark.parametrize("text, match", [
    ("name: t\nbase: [\n", r"spec.yaml: not valid YAML"),
    ("name: t\ngrid:\n  seed: [0]\nmax_stack: many\n", r"max_stack must be an integer >= 1.*'many'"),
])
def test_a_spec_that_does_not_parse_is_one_line_naming_the_file(tmp_path, capsys, text, match):
    """Bug: a YAML syntax error came out of ``scalelaw sweep`` as a traceback (yaml.YAMLError is
    no ValueError); a word for max_stack as ``invalid literal for int()``, naming nothing."""
    from scalelaw.train.cli import main

    (tmp_path / "spec.yaml").write_text(text)
    assert main(["sweep", str(tmp_path / "spec.yaml"), "--out", str(tmp_path / "out"), "--dry-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("scalelaw sweep: error:")
    import re

    assert re.search(match, err), err


def test_init_from_with_a_typo_in_its_placeholder_names_it():
    """Bug: ``init_from: bases/{presett}.pt`` raised a bare KeyError('presett'): a traceback."""
    spec = {"name": "t", "base": {**BASE, "init_from": "bases/{presett}.pt"}, "grid": {"seed": [0]}}
    with pytest.raises(ConfigError, match=r"init_from 'bases/\{presett\}.pt': placeholder presett is not a grid "
                                          r"axis; axes here: \{seed\}, \{preset\}"):
        expand(spec)


@pytest.mark.parametrize("where", ["grid", "base"])
def test_a_token_budget_that_is_not_a_number_is_named(where):
    """Bug: ``tokens: [4k]`` gave 'could not convert string to float: 4k', naming no key."""
    spec = {"name": "t", "base": dict(BASE), "grid": {"seed": [0]}}
    if where == "grid":
        spec["grid"]["tokens"] = ["4k"]
    else:
        spec["base"]["tokens"] = "4k"
    with pytest.raises(ConfigError, match=r"tokens '4k' is not a positive number \(tokens per run"):
        expand(spec)


# ---- figures of edge data ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def power_fit():
    import scalelaw as sl

    x = np.geomspace(1e3, 1e6, 8)
    return sl.fit("power_law", {"flops": x, "loss": 2.0 + 40.0 * x ** -0.3})


@pytest.mark.parametrize("column, value, match", [
    ("flops", np.nan, r"plot_fit: data: column 'flops' \(input x\) has 1 NaN/inf value\(s\), e.g. at rows \[8\]"),
    ("flops", 0.0, r"plot_fit: data: column 'flops' \(input x\) must be > 0 .* at rows \[8\]"),
    ("loss", np.nan, r"plot_fit: data: column 'loss' \(target\) has 1 NaN/inf value\(s\), e.g. at rows \[8\]"),
])
def test_plot_of_data_with_a_bad_row_names_column_and_row(power_fit, column, value, match):
    """Bug: a NaN x made the curves' grid NaN and failed inside the law ('input x must be > 0 ...,
    got nan', naming no column or row); a NaN loss was left out of the figure without a word."""
    from scalelaw.plot import plot_fit

    x = np.geomspace(1e3, 1e6, 9)
    data = pd.DataFrame({"flops": x, "loss": 2.0 + 40.0 * x ** -0.3})
    data.loc[8, column] = value
    with pytest.raises(ValueError, match=match):
        plot_fit(power_fit, data=data)


def test_plot_of_no_rows_says_so(power_fit):
    """Bug: an empty frame gave numpy's 'zero-size array to reduction operation maximum'."""
    from scalelaw.plot import plot_fit

    with pytest.raises(ValueError, match="plot_fit: data has no rows"):
        plot_fit(power_fit, data=pd.DataFrame({"flops": [], "loss": []}))


def test_plot_of_one_point_and_of_a_constant_loss_draws(power_fit):
    """Edge data that is not an error: one point to draw, and a fit to a constant loss (its
    collapsed term named in the warnings) both give a figure with the curve."""
    import warnings

    import scalelaw as sl
    from scalelaw.plot import plot_fit

    fig = plot_fit(power_fit, data=pd.DataFrame({"flops": [1e4], "loss": [2.3]}))
    assert [t.mode for t in fig.data] == ["markers", "lines"] and len(fig.data[0].x) == 1
    x = np.geomspace(1e3, 1e6, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        flat = sl.fit("power_law", {"flops": x, "loss": np.full(8, 3.0)}).bootstrap(20, seed=0)
    assert any("collapsed" in w for w in flat.warnings)
    fig = plot_fit(flat)
    curve = [t for t in fig.data if t.mode == "lines"][0]
    assert np.allclose(curve.y, 3.0, rtol=1e-6)



# ---- a log read whole: train and val rows in one fit ---------------------------------------------
def _two_split_log():
    steps = np.arange(1, 41) * 25
    val = 2.5 + 30.0 * steps ** -0.5
    return pd.concat([pd.DataFrame({"run": "r", "step": steps, "split": "val", "loss": val}),
                      pd.DataFrame({"run": "r", "step": steps, "split": "train", "loss": val * 0.93})],
                     ignore_index=True)


def test_a_fit_over_rows_of_several_splits_says_so():
    """Bug: ``scalelaw fit LAW LOG`` without --split (and sl.fit on a log read whole) fitted the
    training and validation losses of each step together as one curve, with no word of it."""
    import warnings

    import scalelaw as sl

    log = _two_split_log()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mixed = sl.fit("power_law", log, inputs={"x": "step"})
        one = sl.fit("power_law", log[log.split == "val"], inputs={"x": "step"})
    note = [w for w in mixed.warnings if "splits" in w]
    assert note and "2 splits (train, val)" in note[0] and "--split val" in note[0]
    assert not any("splits" in w for w in one.warnings)


def test_the_cli_fit_of_a_two_split_log_prints_the_note(tmp_path, capsys):
    from scalelaw.cli import main

    path = tmp_path / "log.csv"
    _two_split_log().to_csv(path, index=False)
    assert main(["fit", "power_law", str(path), "--var", "x=step"]) == 0
    assert "the rows come from 2 splits (train, val)" in capsys.readouterr().out
    assert main(["fit", "power_law", str(path), "--var", "x=step", "--split", "val"]) == 0
    assert "splits" not in capsys.readouterr().out


@pytest.mark.usefixtures("one_thread")
def test_a_second_sweep_into_one_folder_keeps_the_first_ones_index_rows(shards, tmp_path):
    """Bug: ``index.csv`` was rewritten with only the current spec's runs, so a second sweep into
    the same ``--out`` dropped the first one's runs from the index (their logs stayed, the index
    no longer listed them). Now other runs' rows are kept as they were, and the sweep says so."""
    import csv

    from scalelaw.train.sweep import run_sweep

    def spec(name):
        return {"name": name, "base": {**BASE, "n_steps": 4, "batch_size": 2, "eval_seqs": 2}, "grid": {"seed": [0]}}

    said = []
    over = {"device": "cpu", "data_root": str(shards)}
    run_sweep(spec("first"), tmp_path, overrides=over, progress=False, echo=said.append)
    run_sweep(spec("second"), tmp_path, overrides=over, progress=False, echo=said.append)
    with open(tmp_path / "index.csv", newline="") as f:
        rows = {r["run"]: r for r in csv.DictReader(f)}
    assert sorted(rows) == ["first_seed0", "second_seed0"], rows
    assert rows["first_seed0"]["status"] == rows["second_seed0"]["status"] == "complete"
    assert any("keeps the rows of 1 run(s) that this spec does not plan" in s for s in said), said
    # the second sweep again: nothing trained, the first sweep's row still kept, not duplicated
    run_sweep(spec("second"), tmp_path, overrides=over, progress=False, echo=said.append)
    with open(tmp_path / "index.csv", newline="") as f:
        assert sorted(r["run"] for r in csv.DictReader(f)) == ["first_seed0", "second_seed0"]
