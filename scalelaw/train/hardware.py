"""Device choice, precision, the memory check before allocation, and the MFU reference."""

from __future__ import annotations

import os
import platform

import torch

from scalelaw.train.config import ConfigError, TrainConfig, estimate_memory

__all__ = ["H100_BF16_FLOPS", "resolve_device", "use_bf16", "device_name", "available_memory",
           "check_memory", "peak_flops"]

# Dense bf16 tensor-core peak of an H100 SXM (NVIDIA datasheet, without sparsity): MFU's
# denominator (Chowdhery et al. 2022, appendix B), whatever GPU the run is on.
H100_BF16_FLOPS = 989e12


def resolve_device(spec: str) -> torch.device:
    """``"auto"`` is CUDA when present, else the CPU; asking for CUDA without it is an error."""
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(spec)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device={spec!r} but CUDA is not available here; use device='cpu'")
    return device


def use_bf16(cfg: TrainConfig, device: torch.device) -> bool:
    """bf16 autocast: on by default on CUDA; fp32 on the CPU (exact, and what the tests use)."""
    return cfg.dtype == "bf16" or (cfg.dtype == "auto" and device.type == "cuda")


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return platform.processor() or platform.machine() or "cpu"


def available_memory(device: torch.device) -> int | None:
    """Free bytes on ``device`` (None when it cannot be told)."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(cfg: TrainConfig, n_models: int, device: torch.device, bf16: bool) -> dict:
    """Raise :class:`ConfigError` before any allocation if the run(s) cannot fit on ``device``."""
    est = estimate_memory(cfg, n_models, bf16=bf16, flash=device.type == "cuda" and bf16)
    free = available_memory(device)
    if free is not None and est["total"] > 0.9 * free:
        gib = 2.0**30
        what = f"{n_models} stacked models" if n_models > 1 else "this run"
        raise ConfigError(
            f"{what} needs about {est['total'] / gib:.1f} GiB on {device} (weights, gradients and "
            f"AdamW state {est['weights_and_optimizer'] / gib:.1f} GiB, activations "
            f"{est['activations'] / gib:.1f} GiB at batch_size={cfg.batch_size}, "
            f"seq_len={cfg.model.seq_len}) but only {free / gib:.1f} GiB is free: use a smaller "
            "model, batch_size or seq_len" + (", or fewer models per stack" if n_models > 1 else ""))
    return est


def peak_flops(device: torch.device) -> float | None:
    """The MFU reference for ``device``: H100 bf16 on CUDA; None on the CPU (no MFU there)."""
    return H100_BF16_FLOPS if device.type == "cuda" else None
