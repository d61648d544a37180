"""Sweeps (spec expansion, packing, resumability, index, submitit) and the trainer CLI (CPU)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pandas as pd
import pytest

from scalelaw.train import corpora
from scalelaw.train.config import ConfigError
from scalelaw.train.sweep import (archive_logs, expand, load_spec, pack, parse_shard, run_sweep,
                                  shard_runs)

ROOT = Path(__file__).resolve().parents[1]

SPEC = {
    "name": "t",
    "base": {"preset": "tiny", "eval_interval": 4, "log_interval": 2},
    "grid": {
        "tokens": [4096, 8192],
        "schedule": {"cos": "cosine:n_steps={n_steps},peak=3e-3,warmup={n_steps//4}",
                     "const": "constant:n_steps={n_steps},peak=2e-3"},
        "seed": [0, 1],
    },
}

pytestmark = pytest.mark.usefixtures("one_thread")


def test_spec_expands_to_named_runs_with_steps_from_tokens():
    runs = expand(SPEC)
    assert len(runs) == 8
    assert runs[0].name == "t_D4.096k_cos_seed0" and runs[-1].name == "t_D8.192k_const_seed1"
    assert {r.steps for r in runs} == {4, 8}  # tokens / (16 * 64)
    cos8 = next(r for r in runs if r.name == "t_D8.192k_cos_seed1")
    assert cos8.resolved_schedule() == "cosine:n_steps=8,peak=3e-3,warmup=2" and cos8.seed == 1
    assert [r.name for r in expand(SPEC)] == [r.name for r in runs]  # deterministic


def test_spec_axes_sizes_and_lists():
    runs = expand({"base": {"preset": "tiny-encdec", "n_steps": 5},
                   "grid": {"n_enc_layer": [1, 2], "n_dec_layer": [1, 3],
                            "schedule": ["cosine:n_steps={n_steps},peak=1e-3",
                                         "constant:n_steps={n_steps},peak=1e-3"]}})
    assert len(runs) == 8 and runs[0].name == "enc1_dec1_cosine"
    assert {(r.model.n_enc_layer, r.model.n_dec_layer) for r in runs} == {(1, 1), (1, 3), (2, 1),
                                                                          (2, 3)}
    presets = expand({"grid": {"preset": ["tiny", "d2-128"], "mix_ratio": [0.1, 0.5]},
                      "base": {"domain": "code", "init_from": "bases/{preset}.pt"}})
    assert presets[1].name == "tiny_r0.5" and presets[3].init_from == "bases/d2-128.pt"


def test_zipped_axis_sets_several_fields_per_point():
    """A model family growing depth with width: one axis, its labels in run names."""
    spec = {"name": "lad", "base": {"preset": "tiny", "tiny_data": False},
            "grid": {"size": {"d2-32": {"n_layer": 2, "d_model": 32, "n_head": 2},
                              "d4-64": {"n_layer": 4, "d_model": 64, "n_head": 4}},
                     "tokens": [4096, 8192]}}
    runs = expand(spec)
    assert [r.name for r in runs] == ["lad_d2-32_D4.096k", "lad_d2-32_D8.192k",
                                      "lad_d4-64_D4.096k", "lad_d4-64_D8.192k"]
    assert [(r.model.n_layer, r.model.d_model, r.model.n_head) for r in runs[1:3]] == [
        (2, 32, 2), (4, 64, 4)]
    assert runs[0].steps == 4 and runs[3].steps == 8
    bases = expand({"base": {"preset": "tiny", "domain": "code", "mix_ratio": 0.1,
                             "init_from": "bases/{size}.pt"},
                    "grid": {"size": {"a": {"d_model": 32}}}})
    assert bases[0].init_from == "bases/a.pt" and bases[0].model.d_model == 32
    with pytest.raises(ConfigError, match="point 'a' sets no fields"):
        load_spec({"grid": {"size": {"a": {}, "b": {"d_model": 32}}}})
    with pytest.raises(ConfigError, match=r"sweep run 'a': unknown config key 'width'"):
        expand({"base": {"preset": "tiny"}, "grid": {"size": {"a": {"width": 32}}}})


def test_bad_specs_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="unknown sweep spec keys"):
        load_spec({"grid": {}, "runs": []})
    with pytest.raises(ConfigError, match="axis 'seed' must be a non-empty list"):
        load_spec({"grid": {"seed": 3}})
    with pytest.raises(ConfigError, match="sweep run 't_D4.096k_cos_seed0': unknown config key"):
        expand({**SPEC, "base": {**SPEC["base"], "lr": 1}})
    with pytest.raises(ConfigError, match="both named"):
        expand({"base": {"preset": "tiny"}, "grid": {"seed": [0, 0]}})
    with pytest.raises(FileNotFoundError):
        load_spec(tmp_path / "missing.yaml")


def test_pack_groups_same_shape_runs():
    runs = expand(SPEC)
    jobs = pack(runs, max_stack=3)
    assert sorted(len(j) for j in jobs) == [2, 3, 3]
    assert all(j[0].steps <= j[-1].steps for j in jobs)  # similar lengths stacked together
    mixed = expand({"base": {"n_steps": 4}, "grid": {"preset": ["tiny", "tiny-encdec"],
                                                     "seed": [0, 1]}})
    assert sorted(len(j) for j in pack(mixed)) == [1, 1, 2]  # encdec runs are never stacked


def test_sweep_trains_indexes_and_resumes(shards, tmp_path):
    out = tmp_path / "sweep"
    rows = run_sweep(SPEC, out, overrides={"device": "cpu", "data_root": str(shards)},
                     progress=False)
    assert len(rows) == 8 and {r["status"] for r in rows} == {"complete"}
    index = pd.read_csv(out / "index.csv")
    assert list(index.run) == [r.name for r in expand(SPEC)]
    assert (index.status == "complete").all() and (index.final_val_loss > 0).all()
    assert (index.wall_time_s > 0).all() and set(index.job) == {0}  # one stack of 8
    assert sorted(p.name for p in out.glob("*.jsonl")) == sorted(f"{r}.jsonl" for r in index.run)
    first = json.loads((out / "t_D4.096k_cos_seed0.jsonl").read_text().splitlines()[0])["header"]
    assert first["stack_size"] == 8 and first["status"] == "complete"
    # resumable: complete runs are skipped, a lost one is run again
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.glob("*.jsonl")}
    (out / "t_D8.192k_const_seed1.jsonl").unlink()
    run_sweep(SPEC, out, overrides={"device": "cpu", "data_root": str(shards)}, progress=False)
    for p in out.glob("*.jsonl"):
        if p.name != "t_D8.192k_const_seed1.jsonl":
            assert p.stat().st_mtime_ns == mtimes[p.name]
    assert (pd.read_csv(out / "index.csv").status == "complete").all()
    with tarfile.open(archive_logs(out, tmp_path / "logs.tar.gz")) as tar:
        assert len(tar.getnames()) == 9 and "sweep/index.csv" in tar.getnames()
    # a complete log of another config is not taken for this run: the sweep refuses to start
    changed = {**SPEC, "base": {**SPEC["base"], "eval_interval": 2}}
    with pytest.raises(ConfigError, match=r"t_D4.096k_cos_seed0.jsonl is a complete run .*"
                                          r"different config \(eval_interval\)"):
        run_sweep(changed, out, overrides={"device": "cpu", "data_root": str(shards)},
                  progress=False)


def test_shards_split_a_sweep_by_cost_and_resume_alike(shards, tmp_path):
    spec = {**SPEC, "grid": {**SPEC["grid"], "tokens": [4096, 8192, 16384, 32768]}}
    runs = expand(spec)
    parts = [shard_runs(runs, (k, 3), max_stack=1) for k in range(3)]
    names = [[c.name for c in part] for part in parts]
    assert sorted(sum(names, [])) == sorted(r.name for r in runs)  # a partition
    steps = [sum(c.steps for c in part) for part in parts]
    assert max(steps) - min(steps) <= max(r.steps for r in runs)  # LPT: within one job
    # the split is of the whole sweep, so it does not move as runs complete
    out = tmp_path / "sharded"
    small = {**SPEC, "max_stack": 1}
    overrides = {"device": "cpu", "data_root": str(shards)}
    first = run_sweep(small, out, overrides=overrides, shard=(0, 2), progress=False)
    assert {r["status"] for r in first} == {"complete"} and len(first) == 4
    assert (out / "index.shard0of2.csv").is_file() and not (out / "index.csv").exists()
    second = run_sweep(small, out, overrides=overrides, shard=(1, 2), progress=False)
    assert {r["run"] for r in first}.isdisjoint(r["run"] for r in second)
    index = pd.read_csv(out / "index.shard1of2.csv")
    assert list(index.run) == [r["run"] for r in second]
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.glob("*.jsonl")}
    full = run_sweep(small, out, overrides=overrides, progress=False)  # trains nothing
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.jsonl")} == mtimes
    assert len(full) == 8 and (pd.read_csv(out / "index.csv").status == "complete").all()
    with pytest.raises(ConfigError, match="--shard must be K/N"):
        parse_shard("2/2")


def test_dry_run_prints_and_writes_nothing(tmp_path):
    lines = []
    run_sweep(SPEC, tmp_path / "dry", dry_run=True, echo=lines.append)
    assert lines[0].startswith("8 runs (0 complete), 1 jobs") and len(lines) == 9
    assert not (tmp_path / "dry").exists()


def test_submitit_local_executor_runs_a_tiny_sweep(shards, tmp_path, monkeypatch):
    pytest.importorskip("submitit")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the job's process
    spec = {"name": "s", "base": {"preset": "tiny", "n_steps": 4, "eval_interval": 2},
            "grid": {"seed": [0, 1]}}
    rows = run_sweep(spec, tmp_path / "sub", executor="local", progress=False,
                     overrides={"device": "cpu", "data_root": str(shards)})
    assert [r["status"] for r in rows] == ["complete", "complete"]
    assert (tmp_path / "sub" / "submitit").is_dir()


# --- the CLI ----------------------------------------------------------------------------------

def _cli(args, shards, cwd, **env):
    """``python -m scalelaw ...`` in a fresh interpreter, as on the GPU machine."""
    code = ("import sys; from scalelaw.cli import main; rc = main(sys.argv[1:]); "
            "heavy = [m for m in ('scipy', 'lmfit', 'plotly', 'streamlit') if m in sys.modules]; "
            "print('HEAVY', heavy); sys.exit(rc)")
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "SCALELAW_SHARDS": str(shards),
                "OMP_NUM_THREADS": "1", **env}
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True,
                          text=True, env=full_env, timeout=300)


def test_cli_train_writes_the_run_log(shards, tmp_path):
    res = _cli(["train", "--preset", "tiny", "--steps", "12", "--device", "cpu", "--out",
                str(tmp_path / "out"), "--quiet", "--set", "eval_interval=6"], shards, tmp_path)
    assert res.returncode == 0, res.stderr
    assert "HEAVY []" in res.stdout  # the trainer never loads the fitting/app stack
    log = tmp_path / "out" / "tiny_cosine12_seed0.jsonl"
    assert "tiny_cosine12_seed0: complete" in res.stdout and log.is_file()
    header = json.loads(log.read_text().splitlines()[0])["header"]
    assert header["config"]["eval_interval"] == 6 and header["status"] == "complete"


def test_cli_errors_are_clear(shards, tmp_path, capsys):
    from scalelaw.train.cli import main

    assert main(["train", "--preset", "nope"]) == 2
    assert "unknown preset 'nope'" in capsys.readouterr().err
    assert main(["train", "--set", "n_head=oops"]) == 2
    assert "n_head: expected int" in capsys.readouterr().err
    assert main(["train", "--device", "cpu", "--data-root", str(tmp_path / "empty"),
                 "--out", str(tmp_path), "--quiet"]) == 2
    assert "scalelaw data build --tiny" in capsys.readouterr().err
    assert main(["train", "--list-presets"]) == 0
    assert "d12-768" in capsys.readouterr().out
    # a bad schedule with --tokens is reported with the steps the budget gives (8192 / 1024)
    assert main(["train", "--tokens", "8192", "--schedule",
                 "cosine:n_steps={n_steps},peak=1e-3,floor=oops", "--print-config"]) == 2
    assert "'cosine:n_steps=8,peak=1e-3,floor=oops': bad value for 'floor'" in capsys.readouterr().err
    assert main(["sweep", str(ROOT / "examples/sweeps/tiny.yaml"), "--out",
                 str(tmp_path / "d"), "--dry-run"]) == 0
    assert "8 runs" in capsys.readouterr().out


def test_cli_data_build_tiny(tmp_path):
    from scalelaw.train.cli import main

    assert main(["data", "build", "--tiny", "--root", str(tmp_path), "--names", "general",
                 "--quiet"]) == 0
    assert corpora.load_tokens("general", "val", tmp_path, tiny=True).size > 0


def test_example_specs_expand():
    for path in sorted((ROOT / "examples" / "sweeps").glob("*.yaml")):
        assert expand(path), path


@pytest.mark.parametrize("spec, min_sizes", [("ladder.yaml", 7), ("cpu_sizes.yaml", 7)])
def test_size_sweeps_meet_the_data_set_design(spec, min_sizes):
    """Issue 7's N x D grids: >= 7 sizes over >= 30x non-embedding parameters, several budgets
    per size, and at most ~4 passes over the 22.5 MB general corpus."""
    runs = expand(ROOT / "examples" / "sweeps" / spec)
    sizes = sorted({r.counts()["N"] for r in runs})
    assert len(sizes) >= min_sizes and sizes[-1] / sizes[0] >= 30
    budgets = {}
    for r in runs:
        budgets.setdefault(r.counts()["N"], set()).add(r.steps * r.tokens_per_step)
    assert all(len(b) >= 3 for b in budgets.values())
    assert max(r.steps * r.tokens_per_step for r in runs) <= 4 * 22_505_696


def test_cpu_ladder_long_runs_are_the_ladder_family_within_four_passes():
    """data/cpu_ladder_long: the ladder's own sizes (same names, so the two sets read together),
    longer budgets than the ladder's, and no run past the ~4 passes over the corpus that cost little."""
    ladder = {r.name: r for r in expand(ROOT / "examples" / "sweeps" / "cpu_ladder.yaml")}
    long = expand(ROOT / "examples" / "sweeps" / "cpu_ladder_long.yaml")
    sizes = {(r.model.n_layer, r.model.d_model) for r in ladder.values()}
    assert long and all((r.model.n_layer, r.model.d_model) in sizes and r.name not in ladder for r in long)
    assert all(r.name.startswith("cpul_") and r.tokenizer == "bpe1024" for r in long)
    top = max(r.steps * r.tokens_per_step for r in ladder.values())
    assert all(top < r.steps * r.tokens_per_step <= 4 * 22_505_696 / 2.66 for r in long)
    # every ladder size at one longer budget (16M), so the two sets read together are a full
    # 6 x 5 grid (the registered analysis of data/cpu_ladder_long/README.md)
    at_16m = {(r.model.n_layer, r.model.d_model) for r in long if r.name.split("_")[2] == "D16M"}
    assert at_16m == sizes


def test_cpu_ladder_grows_depth_with_width():
    """Issue 17's ladder: one aspect ratio (d_model / n_layer) over >= 30x non-embedding
    parameters, >= 4 budgets per size, the BPE budget within one pass over the general corpus
    (2.66 bytes a token of bpe1024 on its train split, data/corpora/README.md)."""
    runs = expand(ROOT / "examples" / "sweeps" / "cpu_ladder.yaml")
    assert {r.model.d_model / r.model.n_layer for r in runs} == {16.0}
    assert {r.model.d_model // r.model.n_head for r in runs} == {16}
    sizes = sorted({r.counts()["N"] for r in runs})
    assert len(sizes) >= 6 and sizes[-1] / sizes[0] >= 30
    budgets = {}
    for r in runs:
        budgets.setdefault(r.counts()["N"], set()).add(r.steps * r.tokens_per_step)
    assert all(len(b) >= 4 for b in budgets.values())
    assert max(r.steps * r.tokens_per_step for r in runs) * 2.66 <= 22_505_696
    assert {r.tokenizer for r in runs} == {"bpe1024"}


def test_cpu_ladder_d1_is_the_ladder_family_one_rung_down():
    """data/cpu_ladder_d1: d1-16 at the ladder's aspect ratio, head size, budgets and schedule,
    so its runs read together with data/cpu_ladder's; every budget inside one pass over the corpus."""
    ladder = expand(ROOT / "examples" / "sweeps" / "cpu_ladder.yaml")
    d1 = expand(ROOT / "examples" / "sweeps" / "cpu_ladder_d1.yaml")
    assert {(r.model.n_layer, r.model.d_model, r.model.n_head) for r in d1} == {(1, 16, 1)}
    assert {r.steps for r in d1} == {r.steps for r in ladder}
    (family,) = {r.schedule for r in ladder}
    assert family in {r.schedule for r in d1}  # the ladder's schedule, and the LR tuned at d1-16
    assert all(r.schedule == family.replace("peak=1e-2,floor=1e-3", "peak=3e-2,floor=3e-3")
               for r in d1 if r.schedule != family)
    assert not {r.name for r in d1} & {r.name for r in ladder}
    assert all(r.name.startswith("cpul_d1-16_") and r.tokenizer == "bpe1024" for r in d1)
    assert max(r.steps * r.tokens_per_step for r in d1) * 2.66 <= 22_505_696


def test_cpu_ladder_wu200_is_the_ladder_with_a_longer_warmup():
    """data/cpu_ladder_wu200: the ladder's sizes from d1-16 (one aspect ratio, >= 30x in N,
    >= 4 budgets each, one pass at most), its schedule with warm-up 200 instead of 100."""
    ladder = expand(ROOT / "examples" / "sweeps" / "cpu_ladder.yaml")
    runs = expand(ROOT / "examples" / "sweeps" / "cpu_ladder_wu200.yaml")
    assert {r.model.d_model / r.model.n_layer for r in runs} == {16.0}
    assert {r.model.d_model // r.model.n_head for r in runs} == {16}
    sizes = sorted({r.counts()["N"] for r in runs})
    assert sizes[-1] / sizes[0] >= 30
    assert {r.schedule for r in runs} == {s.replace("warmup=100", "warmup=200") for s in {r.schedule for r in ladder}}
    assert {r.steps for r in runs} == {r.steps for r in ladder}
    assert max(r.steps * r.tokens_per_step for r in runs) * 2.66 <= 22_505_696
