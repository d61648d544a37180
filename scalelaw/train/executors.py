"""Where a sweep's jobs run when it is not in this process: submitit's executors, Slurm first.

``--executor slurm`` submits every job of a sweep (a stack of runs) as one task of a Slurm job
array through :class:`submitit.AutoExecutor`; ``local``/``debug`` are submitit's local
executors (tests); ``submitit`` is the auto choice (Slurm when ``sbatch`` is on the PATH, else
local processes). :class:`JobWatch` tells when a job has ended and why:

- a job that raised: its exception (the last line of the worker's traceback) and the path of
  its log (``<out>/submitit/<jobid>_<task>_log.err``);
- a job that Slurm ended without a result (``scancel``, a time limit, a dead node): its Slurm
  state and log path. submitit itself learns that only from ``sacct``, which needs Slurm's
  accounting database; :func:`slurm_states` asks ``scontrol``, which every cluster has.

Either way the runs of the job are left unfinished: the next call of the same sweep reruns
them, from their checkpoints when they have them (``ckpt_interval``).
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import time
from pathlib import Path

from scalelaw.train.config import ConfigError

__all__ = ["EXECUTORS", "make_executor", "slurm_states", "JobWatch", "describe_failure"]

EXECUTORS = ("inline", "slurm", "submitit", "local", "debug")
# Slurm job states after which a job will never write its result
_ENDED = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY",
          "PREEMPTED", "BOOT_FAIL", "DEADLINE", "SPECIAL_EXIT", "REVOKED"}
_SLURM_PARAMS = ("slurm_partition", "slurm_array_parallelism", "cpus_per_task")


def make_executor(kind: str, folder: Path, params: dict):
    """A submitit executor of ``kind`` writing its logs under ``folder``.

    ``params``: ``timeout_min``, ``gpus_per_node`` (any kind), ``slurm_partition``,
    ``slurm_array_parallelism`` (how many of the sweep's jobs run at once) and
    ``cpus_per_task`` (Slurm only); None values are left at the cluster's defaults.
    """
    import submitit

    if kind == "slurm" and shutil.which("sbatch") is None:
        raise ConfigError("--executor slurm needs Slurm's sbatch on the PATH (run on a login "
                          "node of the cluster); --executor local runs the jobs here")
    if kind == "local":
        ex = submitit.LocalExecutor(folder=folder)
    elif kind == "debug":
        ex = submitit.DebugExecutor(folder=folder)
    else:
        ex = submitit.AutoExecutor(folder=folder, cluster="slurm" if kind == "slurm" else None)
    wanted = {k: params.get(k) for k in ("timeout_min", "gpus_per_node", *_SLURM_PARAMS)}
    if not is_slurm(ex):
        ignored = [k for k in _SLURM_PARAMS if wanted.pop(k) is not None]
        if ignored:
            import warnings

            warnings.warn(f"{', '.join(ignored)}: Slurm settings, ignored by the {kind} "
                          "executor", stacklevel=2)
    ex.update_parameters(**{k: v for k, v in wanted.items() if v is not None})
    return ex


def is_slurm(ex) -> bool:
    return getattr(ex, "cluster", None) == "slurm"


def slurm_states(run=subprocess.run) -> dict[str, str] | None:
    """``{job id: state}`` of the jobs the Slurm controller knows (running, and ended within
    ``MinJobAge``), array tasks as ``"<array job>_<task>"``; None if ``scontrol`` failed."""
    try:
        out = run(["scontrol", "show", "job", "--oneliner"], capture_output=True, text=True,
                  timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    states = {}
    for line in out.stdout.splitlines():
        fields = dict(re.findall(r"\b(JobId|ArrayJobId|ArrayTaskId|JobState)=(\S+)", line))
        if "JobId" not in fields or "JobState" not in fields:
            continue
        states[fields["JobId"]] = fields["JobState"]
        if "ArrayJobId" in fields and "ArrayTaskId" in fields:
            # tasks not yet started share one line: "0-7%2", "1,3,5-6"
            for task in _array_tasks(fields["ArrayTaskId"]):
                states[f"{fields['ArrayJobId']}_{task}"] = fields["JobState"]
    return states


def _array_tasks(text: str) -> list[int]:
    """Task ids of a Slurm ``ArrayTaskId`` field: ``"3"``, ``"0-7%2"``, ``"1,3,5-9:2"``."""
    tasks = []
    for part in text.split("%")[0].split(","):
        match = re.fullmatch(r"(\d+)(?:-(\d+)(?::(\d+))?)?", part)
        if match:
            first, last, step = match.groups()
            tasks += range(int(first), int(last or first) + 1, int(step or 1))
    return tasks


def _quiet_sacct(record: logging.LogRecord) -> bool:
    return "Bypassing sacct error" not in record.getMessage()


def describe_failure(err: BaseException, log: Path | str) -> str:
    """One line: the worker's exception (submitit puts its traceback in the message; the last
    ``Name: message`` line of it is the cause) and the job's log."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    cause = next((line for line in reversed(lines)
                  if re.match(r"^[\w.]*(Error|Exception|Interrupt|Exit)\b", line)), None)
    cause = cause or (lines[0] if lines else "")
    return f"{type(err).__name__}: {cause} (log: {log})"


class JobWatch:
    """When each submitted job has ended, and its error (None when it succeeded).

    ``grace_s``: a job Slurm reports ended (or no longer knows) whose result file has not
    appeared is taken as ended without a result only after this long (the result is written
    just before the job ends, on a shared file system perhaps later)."""

    def __init__(self, executor, grace_s: float = 10.0, states=slurm_states):
        self.slurm = is_slurm(executor)
        if self.slurm:  # without accounting, submitit warns at every poll; scontrol covers it
            logging.getLogger("submitit").addFilter(_quiet_sacct)
        self.grace_s, self._states_fn = grace_s, states
        self._states: dict | None = None
        self._ended_at: dict[str, float] = {}

    def refresh(self) -> None:
        """Ask Slurm once for every job's state (call once per polling round)."""
        if self.slurm:
            self._states = self._states_fn()

    def check(self, handle) -> tuple[bool, str | None]:
        """``(ended, error)`` of one submitit job."""
        if handle.done():
            try:
                handle.result()
            except Exception as err:  # noqa: BLE001 - the job's failure, reported
                return True, describe_failure(err, handle.paths.stderr)
            return True, None
        if not self.slurm or self._states is None:
            return False, None
        state = self._states.get(str(handle.job_id), "GONE").split("+")[0]
        if state not in _ENDED and state != "GONE":
            self._ended_at.pop(handle.job_id, None)
            return False, None
        first = self._ended_at.setdefault(handle.job_id, time.monotonic())
        if time.monotonic() - first < self.grace_s:
            return False, None
        what = "is no longer known to Slurm" if state == "GONE" else f"ended {state}"
        return True, (f"Slurm job {handle.job_id} {what} without a result (cancelled, out of "
                      f"time or killed) (log: {handle.paths.stderr})")
