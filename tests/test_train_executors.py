"""The sweep's executors without a cluster: Slurm states from scontrol's output, when a job
counts as ended, failure messages with their log (fast; the real Slurm is test_train_slurm)."""

from __future__ import annotations

import subprocess
from types import SimpleNamespace

import pytest

from scalelaw.train import executors
from scalelaw.train.config import ConfigError

SCONTROL = (
    "JobId=7 ArrayJobId=7 ArrayTaskId=0 JobName=submitit UserId=root(0) JobState=RUNNING "
    "Reason=None\n"
    "JobId=8 ArrayJobId=7 ArrayTaskId=1 JobName=submitit JobState=CANCELLED Reason=None\n"
    "JobId=9 JobName=other JobState=COMPLETED ExitCode=0:0\n"
    "JobId=10 ArrayJobId=10 ArrayTaskId=0-3%2 JobName=submitit JobState=PENDING\n"
    "JobId=11 ArrayJobId=11 ArrayTaskId=1,4-8:2 JobName=submitit JobState=PENDING\n")


def fake_run(stdout, returncode=0):
    def run(cmd, **kwargs):
        assert cmd[:3] == ["scontrol", "show", "job"]
        return subprocess.CompletedProcess(cmd, returncode, stdout=stdout, stderr="")
    return run


def test_slurm_states_parse_array_tasks():
    states = executors.slurm_states(run=fake_run(SCONTROL))
    pending = {f"10_{t}": "PENDING" for t in range(4)} | {
        f"11_{t}": "PENDING" for t in (1, 4, 6, 8)}  # tasks not yet started share a line
    assert states == {"7": "RUNNING", "7_0": "RUNNING", "8": "CANCELLED", "7_1": "CANCELLED",
                      "9": "COMPLETED", "10": "PENDING", "11": "PENDING", **pending}
    assert executors.slurm_states(run=fake_run("", returncode=1)) is None

    def missing(cmd, **kwargs):
        raise FileNotFoundError("scontrol")
    assert executors.slurm_states(run=missing) is None


class Handle:
    def __init__(self, job_id, done=False, error=None):
        self.job_id, self._done, self._error = job_id, done, error
        self.paths = SimpleNamespace(stderr=f"/out/submitit/{job_id}_0_log.err")

    def done(self):
        return self._done

    def result(self):
        if self._error:
            raise self._error
        return []


def watch(states, grace_s=0.0):
    w = executors.JobWatch(SimpleNamespace(cluster="slurm"), grace_s=grace_s,
                           states=lambda: states)
    w.refresh()
    return w


def test_a_job_slurm_ended_without_result_is_failed_with_its_state_and_log():
    w = watch({"7_0": "RUNNING", "7_1": "CANCELLED", "9": "TIMEOUT"})
    assert w.check(Handle("7_0")) == (False, None)
    ended, error = w.check(Handle("7_1"))
    assert ended and "Slurm job 7_1 ended CANCELLED without a result" in error
    assert error.endswith("(log: /out/submitit/7_1_0_log.err)")
    assert "ended TIMEOUT" in w.check(Handle("9"))[1]
    assert "no longer known to Slurm" in w.check(Handle("12"))[1]  # purged after MinJobAge


def test_the_grace_period_waits_for_a_late_result():
    w = watch({"5": "COMPLETED"}, grace_s=60)
    assert w.check(Handle("5")) == (False, None)  # the result file may still be on its way
    assert w.check(Handle("5", done=True)) == (True, None)


def test_unknown_slurm_state_never_ends_a_job():
    w = executors.JobWatch(SimpleNamespace(cluster="slurm"), grace_s=0, states=lambda: None)
    w.refresh()
    assert w.check(Handle("5")) == (False, None)  # scontrol failed: wait, do not guess


def test_local_jobs_end_by_their_result_only():
    w = executors.JobWatch(SimpleNamespace(cluster="local"), states=lambda: pytest.fail("asked"))
    w.refresh()
    assert w.check(Handle("1")) == (False, None)
    assert w.check(Handle("1", done=True)) == (True, None)


def test_a_failed_job_names_the_workers_exception_and_its_log():
    trace = ("Job (task=0) failed during processing with trace:\n----------------------\n"
             "Traceback (most recent call last):\n  File \"x.py\", line 1, in <module>\n"
             "scalelaw.train.corpora.MissingCorpusError: corpus 'general' not found at /x\n"
             "----------------------\nYou can check full logs with 'job.stderr(0)'")
    err = type("FailedJobError", (RuntimeError,), {})(trace)
    ended, error = watch({}).check(Handle("3", done=True, error=err))
    assert ended and error == ("FailedJobError: scalelaw.train.corpora.MissingCorpusError: "
                               "corpus 'general' not found at /x (log: "
                               "/out/submitit/3_0_log.err)")


def test_slurm_executor_without_sbatch_is_a_clear_error(monkeypatch, tmp_path):
    pytest.importorskip("submitit")
    monkeypatch.setattr(executors.shutil, "which", lambda name: None)
    with pytest.raises(ConfigError, match="--executor slurm needs Slurm's sbatch"):
        executors.make_executor("slurm", tmp_path, {})


def test_slurm_settings_on_a_local_executor_are_said_to_be_ignored(tmp_path):
    pytest.importorskip("submitit")
    with pytest.warns(UserWarning, match="slurm_partition, slurm_array_parallelism: Slurm"):
        ex = executors.make_executor("local", tmp_path, {"slurm_partition": "gpu",
                                                         "slurm_array_parallelism": 2,
                                                         "timeout_min": 5})
    assert not executors.is_slurm(ex)


def test_cli_passes_the_slurm_settings(monkeypatch, tmp_path):
    from scalelaw.train import cli, sweep

    seen = {}
    monkeypatch.setattr(sweep, "run_sweep", lambda spec, out, **kw: (seen.update(kw), [])[1])
    assert cli.main(["sweep", "examples/sweeps/tiny.yaml", "--out", str(tmp_path),
                     "--executor", "slurm", "--slurm-partition", "gpu", "--timeout-min", "90",
                     "--gpus-per-node", "1", "--cpus-per-task", "4",
                     "--array-parallelism", "3", "--quiet"]) == 0
    assert seen["executor"] == "slurm"
    assert seen["executor_params"] == {"slurm_partition": "gpu", "timeout_min": 90,
                                       "gpus_per_node": 1, "cpus_per_task": 4,
                                       "slurm_array_parallelism": 3}
