"""Device choice and what each device supports: precision, torch.compile and CUDA graphs,
fused AdamW, the attention kernel, the memory check before allocation, and the MFU reference.

Every decision that depends on the device is a function of a ``torch.device`` here, so the
CUDA-only branches (CUDA graphs, ``mem_get_info``, flash attention, TF32) are unit-tested on
the CPU with ``torch.device("cuda")`` and the CUDA calls mocked.
"""

from __future__ import annotations

import os
import platform
import warnings

import torch

from scalelaw.train.config import ConfigError, TrainConfig, estimate_memory
from scalelaw.train.peaks import lookup_peak

__all__ = ["H100_BF16_FLOPS", "resolve_device", "use_bf16", "device_name", "available_memory",
           "check_memory", "peak_flops", "peak_info", "compile_settings",
           "fused_adamw_supported", "attention_kernel", "enable_tf32", "CUDA_GRAPH_MODES"]

# Dense bf16 tensor-core peak of an H100 SXM (NVIDIA datasheet, without sparsity); the MFU
# reference of an H100 only: other devices have their own (scalelaw.train.peaks).
H100_BF16_FLOPS = 989e12

# torch.compile modes that capture CUDA graphs (CUDA only); on other devices each has a
# graph-free equivalent.
CUDA_GRAPH_MODES = {"reduce-overhead": "default", "max-autotune": "max-autotune-no-cudagraphs"}


def resolve_device(spec: str) -> torch.device:
    """``"auto"`` is CUDA when present, else the CPU; asking for CUDA without it is an error."""
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(spec)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device={spec!r} but CUDA is not available here; use device='cpu'")
    return device


def use_bf16(cfg: TrainConfig, device: torch.device) -> bool:
    """bf16 autocast: on by default on CUDA; fp32 on the CPU unless ``dtype="bf16"``."""
    return cfg.dtype == "bf16" or (cfg.dtype == "auto" and device.type == "cuda")


def enable_tf32(device: torch.device) -> bool:
    """TF32 for fp32 matmuls outside autocast, on CUDA only (on the CPU, "high" precision may
    let oneDNN use bf16 for fp32 matmuls: the CPU's fp32 stays exact)."""
    if device.type != "cuda":
        return False
    torch.set_float32_matmul_precision("high")
    return True


def compile_settings(cfg: TrainConfig, device: torch.device) -> tuple[bool, str | None, bool]:
    """``(compile, mode for torch.compile, CUDA graphs)`` of a run on ``device``.

    ``cfg.compile`` None (the default) compiles on CUDA only: on the CPU, inductor's compile
    time (tens of seconds cold) dwarfs a tiny run; ``True`` compiles anywhere (inductor's C++
    backend on the CPU), ``False`` nowhere. CUDA-graph modes need CUDA: elsewhere they become
    their graph-free equivalent, with a warning.
    """
    compiled = device.type == "cuda" if cfg.compile is None else bool(cfg.compile)
    mode = cfg.compile_mode
    if compiled and device.type != "cuda" and mode in CUDA_GRAPH_MODES:
        warnings.warn(f"compile_mode={mode!r} captures CUDA graphs, which need CUDA; compiling "
                      f"with {CUDA_GRAPH_MODES[mode]!r} on {device}", stacklevel=2)
        mode = CUDA_GRAPH_MODES[mode]
    graphs = compiled and device.type == "cuda" and mode in CUDA_GRAPH_MODES
    return compiled, (None if mode == "default" or not compiled else mode), graphs


def fused_adamw_supported(device: torch.device) -> bool:
    """Whether torch has a fused AdamW kernel for ``device`` (CUDA, and the CPU since 2.4)."""
    try:
        from torch.utils._foreach_utils import _get_fused_kernels_supported_devices
    except ImportError:  # pragma: no cover - older torch
        return device.type == "cuda"
    return device.type in _get_fused_kernels_supported_devices()


def attention_kernel(model_cfg, device: torch.device, autocast, masked: bool = False) -> str:
    """The kernel ``F.scaled_dot_product_attention`` dispatches to for this model's causal
    self-attention (its head size, sequence length and dtype under ``autocast``; with a key
    padding mask when ``masked``, as encoder-decoders attend) on ``device``:
    ``flash_attention``, ``efficient_attention``, ``cudnn_attention`` or ``math`` (asked of
    torch's own dispatcher, ``torch._fused_sdp_choice``; "unknown" if it cannot tell)."""
    try:
        from torch.nn.attention import SDPBackend

        H, T = model_cfg.n_head, model_cfg.seq_len
        d = model_cfg.d_model
        with torch.no_grad(), autocast:
            # q/k/v come out of a Linear in the model, so take their dtype from one
            x = torch.nn.functional.linear(torch.zeros(1, T, d, device=device),
                                           torch.zeros(d, d, device=device))
            q = x.view(1, T, H, d // H).transpose(1, 2)
            if masked:
                mask = torch.ones(1, 1, 1, T, dtype=torch.bool, device=device)
                choice = torch._fused_sdp_choice(q, q, q, attn_mask=mask)
            else:
                choice = torch._fused_sdp_choice(q, q, q, is_causal=True)
        return SDPBackend(choice).name.lower()
    except Exception:  # noqa: BLE001 - informative only: never stop a run over it
        return "unknown"


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


def peak_info(device: torch.device, override: float | None = None) -> dict:
    """``{"peak_flops", "peak_flops_source"}``: the MFU reference of ``device``.

    ``override`` (``--peak-flops``) wins; else the dense bf16 peak of the device's name in
    :data:`scalelaw.train.peaks.BF16_PEAKS`; else None (an unknown device, or the CPU: no MFU
    rather than a wrong one)."""
    if override:
        return {"peak_flops": float(override), "peak_flops_source": "--peak-flops"}
    if device.type == "cpu":
        return {"peak_flops": None, "peak_flops_source": None}
    entry = lookup_peak(device_name(device))
    if entry is None:
        return {"peak_flops": None, "peak_flops_source": None}
    return {"peak_flops": entry["flops"], "peak_flops_source": entry["source"]}


def peak_flops(device: torch.device, override: float | None = None) -> float | None:
    """The MFU reference for ``device`` (see :func:`peak_info`); None means no MFU."""
    return peak_info(device, override)["peak_flops"]
