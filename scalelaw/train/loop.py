"""The training loop: one run, or M same-shape runs stacked, each logging its own JSONL.

``train(cfg)`` trains one run; ``train([cfg_1, ..., cfg_M])`` trains M runs that share a
:func:`~scalelaw.train.config.stack_key` as one stacked module (sweeps do this). Each run keeps
its own seed, data order, schedule and length: a run whose last step has passed gets learning
rate 0, logs nothing more and has its log closed, while the others go on.

Per run and step: the LR is ``schedules.from_spec(schedule)[step - 1]`` (a pure function of the
step), the batch a pure function of ``(seed, step)``. Validation loss on fixed held-out windows
is logged at step 0 (before any update: the D-CPT baseline for continual pre-training), every
``eval_interval`` steps and at the last step; the train loss (mean since the previous row) every
``log_interval`` steps and at the last step.

Examples
--------
>>> from scalelaw.train.config import get_preset
>>> cfg = get_preset("tiny", n_steps=5, device="cpu", out_dir="/tmp/runs")  # doctest: +SKIP
>>> train(cfg)[0]["final"]                                                  # doctest: +SKIP
{'train': 4.9..., 'val': 4.8...}
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

import scalelaw
from scalelaw.train import checkpoint, runlock
from scalelaw.train.config import (ConfigError, TrainConfig, check_complete_log, check_same_config, config_changes,
                                   stack_key)
from scalelaw.train.data import LMBatches, PairBatches
from scalelaw.train.engine import build_engine, initial_state
from scalelaw.train.hardware import (check_memory, compile_settings, device_name, enable_tf32,
                                     peak_flops, peak_info, resolve_device, use_bf16)
from scalelaw.train.runlog import RunLog, read_header

__all__ = ["train", "log_path", "checkpoint_path", "lock_path"]


def log_path(cfg: TrainConfig) -> Path:
    return Path(cfg.out_dir) / f"{cfg.run_name}.jsonl"


def checkpoint_path(cfg: TrainConfig) -> Path:
    return Path(cfg.out_dir) / f"{cfg.run_name}.pt"


def lock_path(cfg: TrainConfig) -> Path:
    """The run's lock (:mod:`scalelaw.train.runlock`): held while a process trains it."""
    return Path(cfg.out_dir) / f"{cfg.run_name}.lock"


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _check_stack(configs: list[TrainConfig]) -> None:
    names = [c.run_name for c in configs]
    if len(set(names)) != len(names):
        raise ConfigError(f"run names in one job must differ, got {names}")
    if len(configs) > 1 and len({stack_key(c) for c in configs}) != 1:
        raise ConfigError("only decoder-only runs of one shape and set-up can be stacked; "
                          f"these differ: {names}")


def _run_fields(cfg: TrainConfig, counts: dict) -> dict:
    """Run-level columns repeated on every row (tidy schema)."""
    fields = {"n_params": counts["N"], "n_params_total": counts["N_total"],
              "schedule": cfg.resolved_schedule(), "batch_size": cfg.batch_size,
              "seq_len": cfg.model.seq_len}
    if cfg.model.arch == "encdec":
        fields.update(n_enc_params=counts["N_e"], n_dec_params=counts["N_d"])
    if cfg.is_cpt:
        fields.update(domain=cfg.domain, mix_ratio=cfg.mix_ratio)
    return fields


def _header(cfg, counts, device, bf16, engine, names, corpus_info) -> dict:
    header = {
        "run": cfg.run_name, "status": "running", "config": cfg.to_dict(),
        "schedule": cfg.resolved_schedule(), "n_params": counts["N"],
        "n_params_total": counts["N_total"], "flops_per_token": counts["flops_per_token"],
        "seed": cfg.seed, "device": str(device), "device_name": device_name(device),
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),  # where it ran, on a Slurm cluster
        **engine.describe(),  # compiled, dtype, optimiser, attention kernel: what really runs
        "torch_version": torch.__version__, "python_version": platform.python_version(),
        "scalelaw_version": scalelaw.__version__, "stack_size": engine.n_models,
        "stacked_with": [n for n in names if n != cfg.run_name], **corpus_info,
        **peak_info(device, cfg.peak_flops), "tokens_per_s": None, "stack_tokens_per_s": None,
        "mfu": None, "wall_time_s": None, "started_at": _now(), "finished_at": None,
        "final": None,
    }
    if cfg.model.arch == "encdec":
        header.update(n_enc_params=counts["N_e"], n_dec_params=counts["N_d"])
    return header


def _starting_points(configs, resume: bool):
    """Per run: (weights, checkpoint to resume from or None). Resuming needs every run of the
    job to have a checkpoint at the same step; otherwise all start over (with a warning)."""
    ckpts = [None] * len(configs)
    paths = [checkpoint_path(c) for c in configs]
    if resume:
        found = [checkpoint.load(p) if p.is_file() else None for p in paths]
        steps = {c["step"] for c in found if c is not None}
        if all(found) and len(steps) == 1:
            ckpts = found
        elif any(found):
            warnings.warn(f"checkpoints of {[c.run_name for c in configs]} are missing or at "
                          f"different steps ({sorted(steps)}); starting these runs over")
    for cfg, ckpt, path in zip(configs, ckpts, paths):
        if ckpt is not None:
            checkpoint.check_architecture(ckpt, cfg, path)
            changed = [k for k in config_changes(ckpt["config"], cfg) if not k.startswith("model.")]
            if changed:
                raise ConfigError(f"cannot resume {cfg.run_name!r} from {path}: the config "
                                  f"changed in {', '.join(changed)}")
    states = []
    for cfg, ckpt in zip(configs, ckpts):
        if ckpt is not None:
            states.append(ckpt["model"])
        elif cfg.init_from:
            base = checkpoint.load(cfg.init_from)
            checkpoint.check_architecture(base, cfg, cfg.init_from)
            states.append(base["model"])
        else:
            states.append(initial_state(cfg))
    return states, ckpts


class _Job:
    """State of one call to :func:`train`: the runs, their logs and counters."""

    def __init__(self, configs, device, bf16, engine, data, ckpts, on_run_end=None):
        self.configs, self.engine, self.data, self.device = configs, engine, data, device
        self.on_run_end = on_run_end
        M = len(configs)
        self.counts = configs[0].counts()
        self.n_steps = [c.steps for c in configs]
        self.start = ckpts[0]["step"] if ckpts[0] is not None else 0
        log_states = [(c or {}).get("log_state", {}) for c in ckpts]
        self.loss_sum = torch.tensor([s.get("loss_sum", 0.0) for s in log_states], device=device)
        self.loss_count = [s.get("loss_count", 0) for s in log_states]
        self.target_tokens = [s.get("target_tokens", 0) for s in log_states]
        self.prior_wall = [s.get("wall_time_s", 0.0) for s in log_states]
        self.segments: list[tuple[float, np.ndarray]] = []  # (seconds, tokens per run) trained
        self.t0 = time.perf_counter()
        self.fields = [_run_fields(c, self.counts) for c in configs]
        names = [c.run_name for c in configs]
        self.logs = []
        for m, c in enumerate(configs):
            header = _header(c, self.counts, device, bf16, engine, names, data.corpus_info(m))
            resumed = self.start if ckpts[m] is not None else None
            header["resumed_from_step"] = resumed  # None: trained from its first step
            self.logs.append(RunLog(log_path(c), header, resume_step=resumed))
        self.open = [True] * M
        self.final: list[dict] = [{} for _ in range(M)]
        self.results: list[dict | None] = [None] * M

    # -- rows ----------------------------------------------------------------------------------
    def n_tokens(self, m: int, step: int) -> int:
        if self.configs[m].model.arch == "encdec":
            return self.target_tokens[m]  # target bytes that carried loss (padding excluded)
        return step * self.configs[m].tokens_per_step

    def row(self, m: int, step: int, split: str, loss: float) -> dict:
        cfg = self.configs[m]
        lr = float(self.engine.lr_table[step - 1, m]) if step > 0 else None
        row = {"run": cfg.run_name, "step": step, "split": split, "loss": loss, "lr": lr,
               "n_tokens": self.n_tokens(m, step), **self.fields[m]}
        row["flops"] = float(self.counts["flops_per_token"]) * step * cfg.tokens_per_step
        row["epoch"] = self.data.epoch(m, step)
        ordered = ["run", "step", "split", "loss", "lr", "n_tokens", "n_params",
                   "n_params_total", "flops", "epoch", "schedule", "batch_size", "seq_len"]
        return {k: row[k] for k in ordered + [k for k in row if k not in ordered]}

    def evaluate(self, runs: list[int], step: int) -> None:
        keys = sorted({key for m in runs for key in self.data.splits[m].values()})
        losses = {}
        for key in keys:
            total = torch.zeros(self.engine.n_models, device=self.device)
            n_total = 0
            for batch, n in self.data.val(key, self.engine.n_models):
                total += self.engine.eval_losses(batch) * n
                n_total += n
            losses[key] = (total / n_total).tolist()
        for m in runs:
            for split, key in self.data.splits[m].items():
                self.logs[m].write(self.row(m, step, split, losses[key][m]))
                self.final[m][split] = losses[key][m]

    def log_train(self, runs: list[int], step: int) -> None:
        sums = self.loss_sum.tolist()
        for m in runs:
            loss = sums[m] / max(self.loss_count[m], 1)
            self.logs[m].write(self.row(m, step, "train", loss))
            self.final[m]["train"] = loss
            self.loss_sum[m] = 0.0
            self.loss_count[m] = 0

    # -- throughput ----------------------------------------------------------------------------
    def throughput(self, m: int) -> tuple[float | None, float | None, float | None]:
        """(run m's tokens/s, the job's tokens/s, MFU), leaving out the first timed segment
        (compilation, warm-up) when there are others."""
        segs = self.segments[1:] if len(self.segments) > 1 else self.segments
        secs = sum(s for s, _ in segs)
        if not segs or secs <= 0:
            return None, None, None
        tokens = np.sum([t for _, t in segs], axis=0)
        total = float(tokens.sum()) / secs
        peak = peak_flops(self.device, self.configs[0].peak_flops)
        mfu = total * self.counts["flops_per_token"] / peak if peak else None
        return float(tokens[m]) / secs, total, mfu

    def wall(self, m: int) -> float:
        return self.prior_wall[m] + time.perf_counter() - self.t0

    def save(self, m: int, step: int) -> None:
        sums = self.loss_sum.tolist()
        checkpoint.save(checkpoint_path(self.configs[m]), config=self.configs[m], step=step,
                        model=self.engine.model_state(m), optim=self.engine.optim_state(m),
                        log_state={"loss_sum": sums[m], "loss_count": self.loss_count[m],
                                   "target_tokens": self.target_tokens[m],
                                   "wall_time_s": self.wall(m)})

    def close(self, m: int, status: str, **extra) -> None:
        """Finalise run m's log header and record its result (once)."""
        if not self.open[m]:
            return
        per_run, total, mfu = self.throughput(m)
        wall = self.wall(m)
        final = {k: self.final[m][k] for k in sorted(self.final[m], key=lambda s: (s != "train", s))}
        self.logs[m].close(status=status, tokens_per_s=per_run, stack_tokens_per_s=total,
                           mfu=mfu, wall_time_s=wall, finished_at=_now(), final=final or None,
                           **extra)
        self.open[m] = False
        cfg = self.configs[m]
        self.results[m] = {"run": cfg.run_name, "status": status, "path": str(log_path(cfg)),
                           "final": final, "wall_time_s": wall, "tokens_per_s": per_run,
                           "n_params": self.counts["N"]}
        if self.on_run_end is not None:
            self.on_run_end(self.results[m])


def train(configs, *, resume: bool = False, progress: bool = True, desc: str | None = None,
          on_run_end=None, held: str = "raise") -> list[dict]:
    """Train one run (a :class:`TrainConfig`) or a list of stackable runs.

    Parameters
    ----------
    configs : TrainConfig or list of TrainConfig
        One run, or runs sharing a :func:`~scalelaw.train.config.stack_key` (trained stacked).
    resume : bool
        Skip runs whose log is complete, and continue the others from their checkpoints
        (``<out_dir>/<run>.pt``) when every run of the job has one at the same step.
    progress : bool
        Show a tqdm bar of the steps.
    desc : str, optional
        Label of the progress bar (default: the first run's name).
    on_run_end : callable, optional
        Called with a run's result dict as soon as its log is closed (runs of a stack end at
        different steps), and for a run skipped because another process holds it; sweeps use
        it for their progress and index.
    held : {"raise", "skip"}
        What to do with a run that another process is training (its ``<out_dir>/<run>.lock``
        is held, :mod:`scalelaw.train.runlock`): raise
        :class:`~scalelaw.train.runlock.RunHeldError` naming the run and the lock, having
        touched nothing (one run); or leave it out of this job, untouched, with status
        ``held`` (sweeps). Every run is locked before any of its files is read, and stays
        locked until this call returns.

    Returns
    -------
    list of dict
        Per run: ``run``, ``status`` (complete, stopped, skipped, held), ``path`` of the JSONL,
        ``final`` losses by split, ``wall_time_s``, ``tokens_per_s``, ``n_params`` (a held
        run: ``lock``, its lock file, and ``holder``, the holder's line from it, instead).
    """
    if held not in ("raise", "skip"):
        raise ValueError(f"held must be 'raise' or 'skip', got {held!r}")
    configs = [configs] if isinstance(configs, TrainConfig) else list(configs)
    configs = [c.validate() for c in configs]
    _check_stack(configs)
    # errors of the config alone (no CUDA, one model too big for the device) come before the
    # locks, which create the output folder: a config that cannot run leaves nothing behind
    device = resolve_device(configs[0].device)
    check_memory(configs[0], 1, device, use_bf16(configs[0], device))
    locks, held_runs = _lock_runs(configs, held)
    try:
        if on_run_end is not None:
            for result in held_runs:
                on_run_end(result)
        configs = [c for c in configs if c.run_name in locks]
        return held_runs + (_train_locked(configs, resume, progress, desc, on_run_end)
                            if configs else [])
    finally:
        for lock in locks.values():
            lock.release()


def _lock_runs(configs: list[TrainConfig], held: str) -> tuple[dict, list[dict]]:
    """``({run: lock}, [result of each run held elsewhere])``; on ``held="raise"`` the first
    run held elsewhere raises, after releasing the locks taken so far."""
    locks, held_runs = {}, []
    try:
        for cfg in configs:
            path = lock_path(cfg)
            try:
                locks[cfg.run_name] = runlock.acquire(path)
            except runlock.LockHeld as err:
                if held == "raise":
                    raise runlock.RunHeldError(cfg.run_name, path, err.holder) from None
                held_runs.append({"run": cfg.run_name, "status": "held", "path": str(log_path(cfg)),
                                  "lock": str(path), "holder": err.holder})
    except BaseException:
        for lock in locks.values():
            lock.release()
        raise
    return locks, held_runs


def _train_locked(configs: list[TrainConfig], resume: bool, progress: bool, desc: str | None,
                  on_run_end) -> list[dict]:
    """:func:`train` of runs whose locks this process holds."""
    skipped = []
    if resume:
        done = []
        for c in configs:
            header = read_header(log_path(c))
            if header and header.get("status") == "complete":
                check_complete_log(c, header, log_path(c))
                done.append(c)
        skipped = [{"run": c.run_name, "status": "skipped", "path": str(log_path(c))} for c in done]
        configs = [c for c in configs if c not in done]
        if not configs:
            return skipped
    for c in configs:
        header = read_header(log_path(c))
        if header is not None:
            check_same_config(c, header, log_path(c))  # a new run would overwrite another's log
    cfg0 = configs[0]
    device = resolve_device(cfg0.device)
    bf16 = use_bf16(cfg0, device)
    check_memory(cfg0, len(configs), device, bf16)  # before anything is allocated
    enable_tf32(device)  # on CUDA: TF32 for any fp32 matmul outside autocast
    with warnings.catch_warnings():  # the engine warns about its compile mode, once
        warnings.simplefilter("ignore")
        compiling = compile_settings(cfg0, device)[0]
    if compiling:
        torch._dynamo.reset()  # a fresh cache per job: sweeps compile many shapes
    states, ckpts = _starting_points(configs, resume)
    if cfg0.model.arch == "encdec":
        data = PairBatches(cfg0, device)
    else:
        data = LMBatches(configs, device)
    engine = build_engine(configs, device, bf16, states)
    del states
    if ckpts[0] is not None:
        engine.load_optim_states([c["optim"] for c in ckpts])
        checkpoint.set_rng_state(ckpts[0]["rng"])
    job = _Job(configs, device, bf16, engine, data, ckpts, on_run_end)
    try:
        _loop(job, progress, desc)
    except BaseException as err:
        # Ctrl-C and SIGTERM (raised as KeyboardInterrupt by the CLI) are not failures of the run
        status = "interrupted" if isinstance(err, KeyboardInterrupt) else "failed"
        for m in range(len(configs)):
            job.close(m, status, error=f"{type(err).__name__}: {err}")
        raise
    return skipped + job.results


def _worth_retiring(job: _Job, n_ending: int, steps_left: int) -> bool:
    """Whether to rebuild a stack without its ended runs. Eager, it costs nothing; compiled,
    it costs a recompile, priced at twice the first timed segment's excess over the measured
    step time (the first segment holds the first compile), against the ended runs' share of
    the remaining steps."""
    engine = job.engine
    if not getattr(engine, "alive", None) or len(engine.alive) <= n_ending:
        return False
    if not engine.compiled:
        return True
    if len(job.segments) < 2:
        return False  # no step time measured past the compile yet
    per_step = job.configs[0].tokens_per_step

    def steps(tokens) -> float:
        return float(np.max(tokens)) / per_step

    secs = sum(s for s, _ in job.segments[1:])
    sec_per_step = secs / max(sum(steps(t) for _, t in job.segments[1:]), 1.0)
    first_secs, first_tokens = job.segments[0]
    compile_secs = max(first_secs - steps(first_tokens) * sec_per_step, 0.0)
    saved = steps_left * sec_per_step * n_ending / len(engine.alive)
    return saved > 2 * compile_secs


def _loop(job: _Job, progress: bool, desc: str | None) -> None:
    cfg0, engine, M = job.configs[0], job.engine, len(job.configs)
    last = max(job.n_steps)
    stop = min(cfg0.stop_at, last) if cfg0.stop_at else last
    if job.start == 0:
        job.evaluate(list(range(M)), 0)
        for log in job.logs:
            log.flush()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=last, initial=job.start, desc=desc or cfg0.run_name, unit="step",
                   leave=False, dynamic_ncols=True, file=sys.stderr)
    seg_start, seg_tokens = time.perf_counter(), np.zeros(M)
    for step in range(job.start + 1, stop + 1):
        if cfg0.model.arch == "encdec":
            arrays = job.data.train_arrays(step)
            job.target_tokens[0] += int((arrays[2] != -1).sum())
            batch = job.data.train(step, arrays)
        else:
            batch = job.data.train(step)
        active = [m for m in range(M) if step <= job.n_steps[m]]
        job.loss_sum += engine.train_step(batch, step)
        for m in active:
            job.loss_count[m] += 1
            seg_tokens[m] += job.configs[m].tokens_per_step
        ends = [m for m in active if step == job.n_steps[m]]
        to_log = [m for m in active if step % cfg0.log_interval == 0 or m in ends]
        to_eval = [m for m in active if step % cfg0.eval_interval == 0 or m in ends]
        to_save = [m for m in active if (cfg0.ckpt_interval and step % cfg0.ckpt_interval == 0)
                   or (m in ends and job.configs[m].save_checkpoint)
                   or (step == stop and m not in ends)]
        if to_log or to_eval or to_save:
            if to_log:
                job.log_train(to_log, step)  # .tolist() waits for the GPU: time is honest
            else:
                job.loss_sum.sum().item()
            job.segments.append((time.perf_counter() - seg_start, seg_tokens))
            if to_eval:
                job.evaluate(to_eval, step)
            # rows first, then the checkpoint: a run killed between the two resumes from this
            # step and keeps only the rows on disk up to it, so rows still in a buffer when the
            # checkpoint landed would be lost for good (a resume never retrains its own step)
            for m in set(to_log) | set(to_eval):
                job.logs[m].flush()
            for m in to_save:
                job.save(m, step)
            if bar is not None and to_log:
                bar.set_postfix(loss=f"{job.final[to_log[0]]['train']:.3f}", refresh=False)
            seg_start, seg_tokens = time.perf_counter(), np.zeros(M)
        for m in ends:
            job.close(m, "complete")
        if ends and step < stop and _worth_retiring(job, len(ends), stop - step):
            engine.retire(ends)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    for m in range(M):  # stopped at stop_at before their last step (or resumed at their end)
        job.close(m, "complete" if stop >= job.n_steps[m] else "stopped")
