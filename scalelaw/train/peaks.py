"""Dense bf16 peak FLOP/s by accelerator name: the denominator of MFU (no torch here).

MFU = achieved model FLOP/s / the device's peak (Chowdhery et al. 2022, PaLM, appendix B). The
peak must be the one of the device the run is on, and the *dense* one: NVIDIA's datasheets
print tensor-core figures "with sparsity" (2:4 structured sparsity), twice the dense rate,
which a dense transformer never reaches. Every entry below is the datasheet's dense bf16 (or
half its with-sparsity figure when only that is printed), with FP32 accumulation, as
``torch.matmul`` in bf16 uses. A device not in the table gets no MFU (``None``) rather than a
wrong one; ``--peak-flops`` gives the figure for any other device.

Names are matched against ``torch.cuda.get_device_name()`` (e.g. ``"NVIDIA H100 80GB HBM3"``,
``"NVIDIA A100-SXM4-80GB"``), case-insensitively; the first pattern that matches wins, so
specific variants (H100 PCIe, H100 NVL) come before the family.

Examples
--------
>>> lookup_peak("NVIDIA H100 80GB HBM3")["flops"]
989000000000000.0
>>> lookup_peak("NVIDIA GeForce RTX 4090")["device"]
'GeForce RTX 4090'
>>> lookup_peak("Intel(R) Xeon(R) CPU") is None
True
"""

from __future__ import annotations

import re

__all__ = ["BF16_PEAKS", "lookup_peak"]

T = 1e12

# (pattern, device, dense bf16 FLOP/s, source). Patterns are regular expressions searched in
# the lower-cased device name.
BF16_PEAKS: list[tuple[str, str, float, str]] = [
    (r"gh200", "GH200 (H100/H200 SXM GPU)", 989 * T,
     "NVIDIA GH200 Grace Hopper Superchip datasheet: BF16 tensor core 1,979 TFLOPS with sparsity"),
    (r"h200 nvl", "H200 NVL", 835 * T,
     "NVIDIA H200 Tensor Core GPU datasheet (2024): BF16 1,671 TFLOPS with sparsity (NVL)"),
    (r"h200", "H200 SXM", 989 * T,
     "NVIDIA H200 Tensor Core GPU datasheet (2024): BF16 1,979 TFLOPS with sparsity (SXM)"),
    (r"h100.*pcie", "H100 PCIe", 756 * T,
     "NVIDIA H100 Tensor Core GPU datasheet (2023): BF16 1,513 TFLOPS with sparsity (PCIe)"),
    (r"h100 nvl", "H100 NVL", 835 * T,
     "NVIDIA H100 Tensor Core GPU datasheet (2023): BF16 1,671 TFLOPS with sparsity (NVL)"),
    (r"h100", "H100 SXM", 989 * T,
     "NVIDIA H100 Tensor Core GPU datasheet (2023): BF16 1,979 TFLOPS with sparsity (SXM5)"),
    (r"a100", "A100 (SXM4 and PCIe)", 312 * T,
     "NVIDIA A100 Tensor Core GPU datasheet (2021): BF16 312 TFLOPS, 624 with sparsity"),
    (r"l40s", "L40S", 362.05 * T,
     "NVIDIA L40S datasheet (2023): BF16 tensor core 362.05 TFLOPS, 733 with sparsity"),
    (r"\bl40\b", "L40", 181.05 * T,
     "NVIDIA L40 datasheet (2022): BF16 tensor core 181.05 TFLOPS, 362.1 with sparsity"),
    (r"\bl4\b", "L4", 121 * T,
     "NVIDIA L4 Tensor Core GPU datasheet (2023): BF16 242 TFLOPS with sparsity"),
    (r"\ba10\b", "A10", 125 * T,
     "NVIDIA A10 Tensor Core GPU datasheet (2021): BF16 125 TFLOPS, 250 with sparsity"),
    (r"rtx 4090", "GeForce RTX 4090", 165.2 * T,
     "NVIDIA Ada GPU Architecture whitepaper (2022), appendix A: peak BF16 tensor TFLOPS with "
     "FP32 accumulate 165.2 (330.4 with sparsity)"),
    (r"rtx 3090", "GeForce RTX 3090", 71 * T,
     "NVIDIA Ampere GA102 GPU Architecture whitepaper (2021): peak BF16 tensor TFLOPS with FP32 "
     "accumulate 71 (142 with sparsity)"),
    (r"mi300x", "Instinct MI300X", 1307.4 * T,
     "AMD Instinct MI300X accelerator datasheet (2023): peak BF16 1,307.4 TFLOPS dense"),
]


def lookup_peak(name: str | None) -> dict | None:
    """``{"device", "flops", "source"}`` for the accelerator called ``name``, or None when it is
    not in :data:`BF16_PEAKS` (then no MFU is reported)."""
    if not name:
        return None
    low = name.lower()
    for pattern, device, flops, source in BF16_PEAKS:
        if re.search(pattern, low):
            return {"device": device, "flops": float(flops), "source": source}
    return None
