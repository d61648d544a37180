"""Lost data, two trainers on one run: per-run locks (``scalelaw.train.runlock``).

Each test starts a real second process that holds a run's lock (``flock`` on ``<run>.lock``),
as a second ``scalelaw train``/``sweep`` on the same ``--out`` would, and checks that this
process leaves that run alone (its files byte for byte), that a killed holder frees the run,
and that two processes writing one sweep index keep each other's rows.
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from scalelaw.cli import main
from scalelaw.train import runlock

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}

# the other process: takes the lock as a trainer does, says so, holds it until killed
HOLDER = """
import sys
from scalelaw.train.runlock import acquire
lock = acquire(sys.argv[1])
print("locked", flush=True)
sys.stdin.read()
"""

SPEC = {"name": "t", "base": {"preset": "tiny", "eval_interval": 4, "log_interval": 2,
                              "schedule": "cosine:n_steps={n_steps},peak=3e-3,warmup=2"},
        "grid": {"tokens": [8192], "seed": [0, 1]}}  # two 8-step runs of one shape: one stack
FREE, HELD = "t_D8.192k_seed0", "t_D8.192k_seed1"


@contextmanager
def held_elsewhere(path):
    """A second Python process holding the lock at ``path`` (killed with SIGKILL on exit)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=ENV)
    try:
        assert proc.stdout.readline().strip() == "locked", "the holder process did not start"
        yield proc
    finally:
        proc.kill()
        proc.wait()


def snapshot(folder: Path, run: str) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.glob(f"{run}.*"))
            if p.suffix in (".jsonl", ".pt")}


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def index_rows(path: Path) -> dict:
    with open(path, newline="") as f:
        return {row["run"]: row for row in csv.DictReader(f)}


def test_lost_lock_excludes_another_process_and_is_freed_when_it_is_killed(tmp_path):
    path = tmp_path / "run.lock"
    with held_elsewhere(path) as proc:
        with pytest.raises(runlock.LockHeld) as err:
            runlock.acquire(path)
        assert err.value.holder.startswith(f"pid {proc.pid} on ")  # named for the message
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        lock = runlock.acquire(path)  # the kernel dropped the dead holder's lock: no cleanup
    assert lock.held and runlock.holder(path).startswith(f"pid {os.getpid()} ")
    # flock belongs to the open file: a second trainer in this very process is refused too
    with pytest.raises(runlock.LockHeld):
        runlock.acquire(path)
    lock.release()
    assert path.read_text() == ""  # released: no holder named, the file itself kept
    runlock.acquire(path).release()


def test_lock_degrades_to_none_without_flock(tmp_path, monkeypatch):
    """No fcntl (Windows): nothing is locked and no file made. A file system without flock
    (ENOSYS): a warning naming the folder, and training goes on unlocked."""
    import errno

    monkeypatch.setattr(runlock, "fcntl", None)
    lock = runlock.acquire(tmp_path / "a" / "r.lock")
    assert not lock.held and not (tmp_path / "a").exists()
    lock.release()
    monkeypatch.undo()

    class NoFlock:
        LOCK_EX, LOCK_NB, LOCK_UN = 2, 4, 8

        @staticmethod
        def flock(fd, op):
            raise OSError(errno.ENOSYS, "Function not implemented")

    monkeypatch.setattr(runlock, "fcntl", NoFlock)
    with pytest.warns(RuntimeWarning, match=re.escape(f"{tmp_path}: this file system has no file locks")):
        lock = runlock.acquire(tmp_path / "r.lock")
    assert not lock.held


@pytest.mark.usefixtures("one_thread")
def test_lost_sweep_skips_a_run_another_process_holds(shards, tmp_path, capsys):
    spec, out = tmp_path / "spec.json", tmp_path / "out"
    spec.write_text(json.dumps(SPEC))
    base = ["sweep", spec, "--out", out, "--device", "cpu", "--data-root", shards, "--quiet"]
    # both runs stop half-way, as a killed sweep leaves them: logs and checkpoints at step 4
    code, _, err = cli(capsys, *base, "--set", "stop_at=4")
    assert code == 0, err
    before = snapshot(out, HELD)
    assert set(before) == {f"{HELD}.jsonl", f"{HELD}.pt"}

    with held_elsewhere(out / f"{HELD}.lock") as proc:  # e.g. the same sweep launched twice
        code, stdout, err = cli(capsys, *base)
        assert snapshot(out, HELD) == before  # the other process's files, byte for byte
    assert code == 3, err
    assert f"sweep: skipped {HELD}: another process holds it (pid {proc.pid} on " in stdout
    assert str(out / f"{HELD}.lock") in stdout
    assert "1 skipped, another process was training them" in err and HELD in err
    rows = index_rows(out / "index.csv")
    assert rows[HELD]["status"] == "held" and rows[FREE]["status"] == "complete"
    header = json.loads((out / f"{FREE}.jsonl").read_text().splitlines()[0])["header"]
    assert header["resumed_from_step"] == 4 and header["stack_size"] == 1  # trained alone

    # the holder was killed: the next sweep resumes the run from its checkpoint
    code, _, err = cli(capsys, *base)
    assert code == 0, err
    header = json.loads((out / f"{HELD}.jsonl").read_text().splitlines()[0])["header"]
    assert header["status"] == "complete" and header["resumed_from_step"] == 4
    assert {r["status"] for r in index_rows(out / "index.csv").values()} == {"complete"}


@pytest.mark.usefixtures("one_thread")
def test_lost_train_of_a_held_run_errors_naming_run_and_lock(shards, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    # what another trainer has written so far (never read, truncated or replaced here)
    (out / "r.jsonl").write_text('{"header": {"run": "r", "status": "running"}}\n'
                                 '{"run": "r", "step": 0, "split": "val", "loss": 5.5}\n')
    (out / "r.pt").write_bytes(b"\x80 another process's checkpoint")
    before = snapshot(out, "r")
    args = ["train", "--preset", "tiny", "--steps", "2", "--device", "cpu", "--no-compile",
            "--quiet", "--data-root", shards, "--out", out, "--name", "r"]
    with held_elsewhere(out / "r.lock") as proc:
        for extra in ([], ["--resume"]):
            code, _, err = cli(capsys, *args, *extra)
            assert code == 3, err
            assert "'r' is being trained by another process" in err
            assert f"pid {proc.pid}" in err and str(out / "r.lock") in err
            assert len(err.strip().splitlines()) == 1
            assert snapshot(out, "r") == before
    code, stdout, err = cli(capsys, *args)  # holder killed: this trainer proceeds
    assert code == 0, err
    assert json.loads((out / "r.jsonl").read_text().splitlines()[0])["header"]["status"] == "complete"


@pytest.mark.usefixtures("one_thread")
def test_lost_submitit_job_skips_a_held_run(shards, tmp_path):
    """The same through submitit (its debug executor, in this process): the worker's train()
    leaves the held run out and the sweep reads that from the job's result."""
    from scalelaw.train.sweep import run_sweep

    out, lines = tmp_path / "out", []
    spec = {**SPEC, "base": {**SPEC["base"], "eval_interval": 8, "log_interval": 8},
            "grid": {"tokens": [2048], "seed": [0, 1]}}
    held = "t_D2.048k_seed1"
    with held_elsewhere(out / f"{held}.lock"):
        rows = run_sweep(spec, out, executor="debug", progress=False, echo=lines.append,
                         overrides={"device": "cpu", "data_root": str(shards)})
    assert {r["run"]: r["status"] for r in rows} == {"t_D2.048k_seed0": "complete", held: "held"}
    assert any(line.startswith(f"sweep: skipped {held}: another process holds it") for line in lines)
    assert not (out / f"{held}.jsonl").exists()
    assert index_rows(out / "index.csv")[held]["status"] == "held"


WRITER = """
import sys
from pathlib import Path
from scalelaw.train.sweep import _save_index
out, tag = Path(sys.argv[1]), sys.argv[2]
rows = {}
for i in range(int(sys.argv[3])):
    rows[f"{tag}{i}"] = {"run": f"{tag}{i}", "status": "complete", "log": f"{tag}{i}.jsonl"}
    _save_index(out, rows)
"""


def test_lost_two_sweeps_writing_one_index_keep_each_others_rows(tmp_path):
    """Two sweeps of different specs into one folder, each rewriting ``index.csv`` after every
    run: every row of both (and an older sweep's) survives. Each write re-reads the file under
    the index's lock; without that, a writer's stale copy of the other's rows drops some."""
    with open(tmp_path / "index.csv", "w") as f:
        f.write("run,status,log\nold,complete,old.jsonl\n")
    n = 40
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), tag, str(n)], env=ENV)
             for tag in ("a", "b")]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    rows = index_rows(tmp_path / "index.csv")
    assert set(rows) == {"old"} | {f"{t}{i}" for t in "ab" for i in range(n)}
    assert not list(tmp_path.glob("*.tmp"))


def test_lost_index_row_of_a_held_run_is_not_written_back_over_its_result(tmp_path):
    """A sweep that skipped a held run must not write it back as held (or pending) over the
    holder's ``complete`` row once the holder has finished it; the run's log decides."""
    from scalelaw.train.sweep import _save_index

    (tmp_path / "x.jsonl").write_text(json.dumps({"header": {
        "run": "x", "status": "complete", "final": {"train": 3.25, "val": 3.5},
        "wall_time_s": 2.0}}) + "\n")
    # the holder's sweep indexed x and y complete; y's log is gone (moved away since)
    (tmp_path / "index.csv").write_text("run,status,log\nx,complete,x.jsonl\ny,complete,y.jsonl\n")
    rows = {"x": {"run": "x", "status": "held"}, "y": {"run": "y", "status": "pending"}}
    _save_index(tmp_path, rows)
    saved = index_rows(tmp_path / "index.csv")
    assert saved["x"]["status"] == "complete" and float(saved["x"]["final_val_loss"]) == 3.5
    assert saved["y"]["status"] == "pending"  # no complete log: the index row alone is not trusted


def test_lost_two_real_trainers_on_one_run(shards, tmp_path, capsys):
    """A real ``scalelaw train`` in another process, and the same run started here meanwhile:
    this one refuses, the other completes a whole, consistent log."""
    out = tmp_path / "out"
    args = ["train", "--preset", "tiny", "--steps", "100", "--device", "cpu", "--no-compile",
            "--quiet", "--data-root", shards, "--out", out, "--name", "r"]
    other = subprocess.Popen([sys.executable, "-m", "scalelaw", *map(str, args)], env=ENV,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not runlock.holder(out / "r.lock"):  # its lock, named once it holds it
            assert other.poll() is None and time.monotonic() < deadline, other.communicate()
            time.sleep(0.05)
        code, _, err = cli(capsys, *args)
        assert code == 3 and f"pid {other.pid}" in err, err
        assert other.wait(timeout=300) == 0, other.communicate()
    finally:
        if other.poll() is None:
            other.kill()
            other.wait()
    lines = (out / "r.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["header"]["status"] == "complete"
    keys = [(row["step"], row["split"]) for row in map(json.loads, lines[1:])]
    assert len(keys) == len(set(keys)) and keys == sorted(keys, key=lambda k: k[0])
    assert keys[-1][0] == 100
