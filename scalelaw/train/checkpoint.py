"""Checkpoints: model, optimiser moments, config, step, RNG and log state of one run.

One format for single and stacked runs: weights as a ``GPT``/``EncoderDecoder`` state dict, and
the AdamW moments by parameter name (``{"step", "exp_avg": {name: t}, "exp_avg_sq": {...}}``),
so a run trained inside a stack can be resumed alone or as the base of continual pre-training,
and the other way round. Files hold only tensors and plain Python values, so they load with
``torch.load(weights_only=True)`` on every torch from 2.4 on.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from scalelaw.train.config import ConfigError, TrainConfig, arch_diff

__all__ = ["save", "load", "check_architecture", "adamw_state", "load_adamw_state", "rng_state",
           "set_rng_state"]

FORMAT = "scalelaw-train-checkpoint/1"


def save(path, *, config: TrainConfig, step: int, model: dict, optim: dict | None,
         log_state: dict | None = None) -> Path:
    """Write a checkpoint atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "config": config.to_dict(), "step": int(step), "model": model,
               "optim": optim, "rng": rng_state(), "log_state": log_state or {}}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def load(path) -> dict:
    """Read a checkpoint onto the CPU; a clear error if it is missing or not ours."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} not found (train the base run with "
                                "save_checkpoint=True, or --save-checkpoint)")
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise ConfigError(f"{path} is not a scalelaw trainer checkpoint ({FORMAT})")
    return ckpt


def check_architecture(ckpt: dict, cfg: TrainConfig, path) -> None:
    """Raise :class:`ConfigError` naming every architecture field where the checkpoint and the
    run's config differ (weights of one shape cannot start a model of another)."""
    diff = arch_diff(ckpt["config"]["model"], cfg.model)
    if diff:
        raise ConfigError(
            f"checkpoint {path} (run {ckpt['config'].get('name') or ckpt['config'].get('preset')!r}) "
            f"has another architecture than run {cfg.run_name!r}: "
            + "; ".join(f"{d} (checkpoint != this run)" for d in diff))


def adamw_state(opt: torch.optim.AdamW, named_params) -> dict:
    """torch AdamW's moments by parameter name (CPU copies)."""
    state = {"step": 0, "exp_avg": {}, "exp_avg_sq": {}}
    for name, p in named_params:
        s = opt.state.get(p)
        if not s:
            continue
        state["step"] = int(float(s["step"]))
        state["exp_avg"][name] = s["exp_avg"].detach().cpu().clone()
        state["exp_avg_sq"][name] = s["exp_avg_sq"].detach().cpu().clone()
    return state


def load_adamw_state(opt: torch.optim.AdamW, named_params, state: dict) -> None:
    """Restore moments saved by :func:`adamw_state` (or a stacked model's slice) into ``opt``.

    Goes through ``opt.load_state_dict`` so torch puts the step counter where its fused or
    foreach kernels want it.
    """
    index = {id(p): i for i, p in enumerate(p for g in opt.param_groups for p in g["params"])}
    sd = opt.state_dict()
    sd["state"] = {
        index[id(p)]: {"step": torch.tensor(float(state["step"])),
                       "exp_avg": state["exp_avg"][name].to(p.device),
                       "exp_avg_sq": state["exp_avg_sq"][name].to(p.device)}
        for name, p in named_params}
    opt.load_state_dict(sd)


def rng_state() -> dict:
    """Global torch RNG states. (Batches come from per-step generators and need none.)"""
    return {"torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
