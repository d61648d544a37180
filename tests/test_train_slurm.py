"""Sweeps on a real Slurm cluster: Debian's slurm-wlm (slurmctld + slurmd) and munge, started
here as a one-node cluster on this machine, no systemd (the daemons are started directly;
process tracking by /proc, no cgroups, no accounting database).

A small sweep through ``--executor slurm`` (a job array, through submitit) gives the local
executor's loss rows and index; a job that fails is reported with its log and rerun on the next
call; a job cancelled with ``scancel`` is resumed from its checkpoint. Skipped, with the
reason, where the daemons cannot run (not installed: ``apt-get install slurm-wlm munge``; not
root)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("torch")
pytest.importorskip("submitit")

from scalelaw.train.sweep import run_sweep  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread")]  # jobs: OMP_NUM_THREADS=1

_BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "scontrol", "scancel", "sinfo")


def _why_not() -> str | None:
    missing = [b for b in _BINARIES if shutil.which(b) is None]
    if missing:
        return (f"Slurm is not installed here ({', '.join(missing)} not on the PATH): "
                "apt-get install slurm-wlm munge")
    if os.geteuid() != 0:
        return "a one-node Slurm cluster needs root here (slurmd runs jobs as their user)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, n: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return f"({path} not written)"


def _conf(root: Path) -> str:
    node = subprocess.run(["slurmd", "-C"], capture_output=True, text=True,
                          check=True).stdout.splitlines()[0]  # this machine's CPUs and memory
    host = node.split()[0].split("=")[1]
    return "\n".join([
        "ClusterName=scalelawci", f"SlurmctldHost={host}", "SlurmUser=root", "SlurmdUser=root",
        "AuthType=auth/munge", "CredType=cred/munge", f"AuthInfo=socket={root}/munge.sock",
        f"StateSaveLocation={root}/state", f"SlurmdSpoolDir={root}/spool",
        f"SlurmctldPidFile={root}/slurmctld.pid", f"SlurmdPidFile={root}/slurmd.pid",
        f"SlurmctldLogFile={root}/slurmctld.log", f"SlurmdLogFile={root}/slurmd.log",
        f"SlurmctldPort={_free_port()}", f"SlurmdPort={_free_port()}",
        # container-friendly: processes tracked through /proc, no cgroups, no accounting
        "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none",
        "JobAcctGatherType=jobacct_gather/none", "AccountingStorageType=accounting_storage/none",
        "JobCompType=jobcomp/none", "MpiDefault=none", "SchedulerType=sched/backfill",
        "SelectType=select/cons_tres", "SelectTypeParameters=CR_Core", "ReturnToService=2",
        "SlurmdParameters=config_overrides", "MinJobAge=600", "KillWait=2",
        f"{node} State=UNKNOWN",
        f"PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP", ""])


@pytest.fixture(scope="module")
def slurm():
    """A one-node Slurm cluster for this module: SLURM_CONF points the clients at it."""
    why = _why_not()
    if why:
        pytest.skip(why)
    root = Path(tempfile.mkdtemp(prefix="scalelaw-slurm-"))
    root.chmod(0o755)  # munged wants its socket's folder searchable by all
    (root / "state").mkdir()
    (root / "spool").mkdir()
    key = root / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    conf = root / "slurm.conf"
    conf.write_text(_conf(root))
    env = {**os.environ, "SLURM_CONF": str(conf)}
    started = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SLURM_CONF", str(conf))
        mp.setenv("OMP_NUM_THREADS", "1")  # jobs' torch: one thread, as in the local runs
        try:
            for cmd, log in (
                    (["munged", f"--key-file={key}", f"--socket={root}/munge.sock",
                      f"--pid-file={root}/munged.pid", f"--log-file={root}/munged.log",
                      f"--seed-file={root}/munged.seed"], root / "munged.log"),
                    (["slurmctld", "-f", str(conf), "-c"], root / "slurmctld.log"),
                    (["slurmd", "-f", str(conf)], root / "slurmd.log")):
                done = subprocess.run(cmd, env=env, capture_output=True, text=True)
                if done.returncode != 0:
                    pytest.skip(f"{cmd[0]} would not start here (exit {done.returncode}): "
                                f"{done.stderr.strip()} {_tail(log, 5)}")
                started.append(cmd[0])
            deadline = time.monotonic() + 60
            state = ""
            while time.monotonic() < deadline:
                state = subprocess.run(["sinfo", "-h", "-o", "%T"], env=env, capture_output=True,
                                       text=True).stdout.strip()
                if state in ("idle", "mixed", "allocated"):
                    break
                time.sleep(0.5)
            else:
                pytest.skip(f"the Slurm node did not come up (state {state!r}): "
                            f"{_tail(root / 'slurmctld.log')} {_tail(root / 'slurmd.log')}")
            yield {"root": root, "conf": conf}
        finally:
            if "slurmctld" in started:
                _stop_slurm(env, root)
            if "munged" in started:
                subprocess.run(["munged", "-s", f"--socket={root}/munge.sock"], capture_output=True)
            shutil.rmtree(root, ignore_errors=True)


def _stop_slurm(env: dict, root: Path) -> None:
    """Cancel what is left, let the jobs' step daemons report, stop slurmctld and slurmd, then
    end any slurmstepd of this cluster that outlived them (it blocks SIGTERM)."""
    subprocess.run(["scancel", "--user", "root"], env=env, capture_output=True)
    for _ in range(60):
        if not subprocess.run(["squeue", "-h"], env=env, capture_output=True,
                              text=True).stdout.strip():
            break
        time.sleep(0.5)
    subprocess.run(["scontrol", "shutdown"], env=env, capture_output=True)
    for _ in range(50):  # the daemons' pid files go when they have stopped
        if not any((root / f"{d}.pid").exists() for d in ("slurmctld", "slurmd")):
            break
        time.sleep(0.2)
    mark = f"SLURM_CONF={root}/slurm.conf".encode()
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if (proc / "comm").read_text().strip() == "slurmstepd" and \
                    mark in (proc / "environ").read_bytes().split(b"\0"):
                os.kill(int(proc.name), 9)
        except (OSError, ValueError):
            pass


def spec(**grid):
    return {"name": "sl",
            "base": {"preset": "tiny", "n_layer": 1, "d_model": 32, "n_head": 2, "seq_len": 32,
                     "batch_size": 4, "eval_seqs": 8, "n_steps": 10, "eval_interval": 5,
                     "log_interval": 5},
            "grid": grid, "max_stack": 2}


def rows_of(path: Path) -> tuple[dict, list[dict]]:
    lines = path.read_text().splitlines()
    return json.loads(lines[0])["header"], [json.loads(line) for line in lines[1:]]


SLURM = {"timeout_min": 10, "cpus_per_task": 1, "slurm_array_parallelism": 2}
# not results: timings, and the job number a run had in the call that trained it (per shard)
NOT_COMPARED = ["wall_time_s", "tokens_per_s", "job"]


def test_slurm_sweep_in_two_shards_equals_the_local_executor(slurm, shards, tmp_path):
    """Eight runs in four stacked jobs, split into two shards submitted at once (as from two
    login shells), each a Slurm job array of two; then one call without --shard writes
    index.csv. Loss rows and index equal the local executor's."""
    grid = {"d_model": [32, 48], "seed": [0, 1, 2, 3]}  # two shapes: four jobs of two runs
    overrides = {"device": "cpu", "data_root": str(shards)}
    local = run_sweep(spec(**grid), tmp_path / "local", executor="local", progress=False,
                      overrides=overrides)
    said, shard_rows = [], {}

    def shard(k):
        shard_rows[k] = run_sweep(spec(**grid), tmp_path / "slurm", executor="slurm",
                                  progress=False, overrides=overrides, executor_params=SLURM,
                                  shard=(k, 2), echo=said.append)

    threads = [threading.Thread(target=shard, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert sorted(len(r) for r in shard_rows.values()) == [4, 4], shard_rows
    assert all(r["status"] == "complete" for rows in shard_rows.values() for r in rows), [
        (r["run"], r["status"], r.get("error")) for rows in shard_rows.values() for r in rows]
    assert sum("2 jobs submitted as Slurm job array" in line for line in said) == 2, said
    on_slurm = run_sweep(spec(**grid), tmp_path / "slurm", executor="slurm", progress=False,
                         overrides=overrides, executor_params=SLURM)  # trains nothing
    assert [r["status"] for r in on_slurm] == ["complete"] * 8
    for a, b in zip(local, on_slurm):
        ha, ra = rows_of(tmp_path / "local" / f"{a['run']}.jsonl")
        hb, rb = rows_of(tmp_path / "slurm" / f"{b['run']}.jsonl")
        assert ra == rb  # every loss row, bit for bit
        assert ha["slurm_job_id"] is None and hb["slurm_job_id"] is not None
        assert ha["final"] == hb["final"] and ha["stack_size"] == hb["stack_size"] == 2
    ia = pd.read_csv(tmp_path / "local" / "index.csv")
    ib = pd.read_csv(tmp_path / "slurm" / "index.csv")
    assert list(ib.log) == [f"{r}.jsonl" for r in ib.run] == list(ia.log)
    pd.testing.assert_frame_equal(ia.drop(columns=NOT_COMPARED), ib.drop(columns=NOT_COMPARED))
    assert len(list((tmp_path / "slurm" / "submitit").glob("*_log.out"))) == 4  # four tasks


def test_failed_slurm_job_is_reported_with_its_log_and_rerun(slurm, shards, tmp_path):
    out = tmp_path / "fails"
    said = []
    first = run_sweep(spec(seed=[0]), out, executor="slurm", progress=False, echo=said.append,
                      overrides={"device": "cpu", "data_root": str(tmp_path / "no-shards")},
                      executor_params=SLURM)
    row, = first
    assert row["status"] == "failed"
    assert "MissingCorpusError" in row["error"] and "no-shards" in row["error"]
    log = Path(row["error"].rsplit("(log: ", 1)[1].rstrip(")"))
    assert log.is_file() and log.parent == out / "submitit" and log.name.endswith("_log.err")
    assert "MissingCorpusError" in log.read_text()  # the job's own stderr, kept by Slurm
    assert any("failed" in line and str(log) in line for line in said)
    index = pd.read_csv(out / "index.csv")
    assert index.status.tolist() == ["failed"] and str(log) in index.error[0]
    # the next call (the corpus now where the runs look for it) reruns the failed job
    again, = run_sweep(spec(seed=[0]), out, executor="slurm", progress=False,
                       overrides={"device": "cpu", "data_root": str(shards)},
                       executor_params=SLURM)
    assert again["status"] == "complete"
    assert pd.read_csv(out / "index.csv").status.tolist() == ["complete"]


def test_cancelled_slurm_job_resumes_from_its_checkpoint(slurm, shards, tmp_path):
    long = {**spec(seed=[0]), "base": {**spec()["base"], "n_steps": 1500, "eval_interval": 500,
                                       "log_interval": 50, "ckpt_interval": 50}}
    overrides = {"device": "cpu", "data_root": str(shards)}
    out = tmp_path / "cancel"
    result = {}
    sweep = threading.Thread(target=lambda: result.update(rows=run_sweep(
        long, out, executor="slurm", progress=False, overrides=overrides,
        executor_params=SLURM)))
    sweep.start()
    deadline = time.monotonic() + 300
    while not list(out.glob("*.pt")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert list(out.glob("*.pt")), "no checkpoint within 5 minutes"
    jobs = subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True,
                          check=True).stdout.split()
    assert len(jobs) == 1
    subprocess.run(["scancel", jobs[0]], check=True)
    sweep.join(timeout=300)
    row, = result["rows"]
    assert row["status"] == "failed" and "CANCELLED" in row["error"], row
    assert "(log: " in row["error"] and str(out / "submitit") in row["error"]
    header, rows = rows_of(out / f"{row['run']}.jsonl")
    assert header["status"] == "interrupted"  # SIGTERM stopped the run and closed its log
    stopped_at = max(r["step"] for r in rows)
    assert stopped_at < 1500
    # the next call resumes from the last checkpoint
    again, = run_sweep(long, out, executor="slurm", progress=False, overrides=overrides,
                       executor_params=SLURM)
    assert again["status"] == "complete"
    header, rows = rows_of(out / f"{row['run']}.jsonl")
    assert header["resumed_from_step"] >= 50 and header["resumed_from_step"] % 50 == 0
    steps = [(r["step"], r["split"]) for r in rows]
    assert len(steps) == len(set(steps)) and max(s for s, _ in steps) == 1500
    # and ends where an uninterrupted run ends
    plain, = run_sweep(long, tmp_path / "plain", progress=False, overrides=overrides)
    _, ref = rows_of(tmp_path / "plain" / f"{plain['run']}.jsonl")
    assert [(r["step"], r["split"]) for r in ref] == steps
    assert [r["loss"] for r in rows] == pytest.approx([r["loss"] for r in ref], abs=1e-6)
