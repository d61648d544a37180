"""Device decisions with the device mocked: what needs CUDA (CUDA graphs and their step marks,
mem_get_info, flash attention's memory, TF32) stays behind device checks, tested here on the
CPU; and MFU's peak by device name (fast)."""

from __future__ import annotations

import warnings

import pytest

torch = pytest.importorskip("torch")

from scalelaw.train import hardware  # noqa: E402
from scalelaw.train.config import ConfigError, get_preset  # noqa: E402
from scalelaw.train.peaks import BF16_PEAKS, lookup_peak  # noqa: E402

CPU, CUDA = torch.device("cpu"), torch.device("cuda")


def cfg(**overrides):
    return get_preset("tiny", **overrides)


@pytest.mark.parametrize("device, overrides, expected", [
    (CPU, {}, (False, None, False)),  # compile is off on the CPU unless asked for
    (CPU, {"compile": True}, (True, None, False)),
    (CPU, {"compile": True, "compile_mode": "max-autotune-no-cudagraphs"},
     (True, "max-autotune-no-cudagraphs", False)),
    (CUDA, {}, (True, None, False)),  # and on on CUDA unless refused
    (CUDA, {"compile": False}, (False, None, False)),
    (CUDA, {"compile_mode": "reduce-overhead"}, (True, "reduce-overhead", True)),
    (CUDA, {"compile_mode": "max-autotune"}, (True, "max-autotune", True)),
    (CUDA, {"compile": False, "compile_mode": "reduce-overhead"}, (False, None, False)),
])
def test_compile_settings(device, overrides, expected):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # none of these warns
        assert hardware.compile_settings(cfg(**overrides), device) == expected


@pytest.mark.parametrize("mode, fallback", [("reduce-overhead", None),
                                            ("max-autotune", "max-autotune-no-cudagraphs")])
def test_cuda_graph_modes_fall_back_off_cuda(mode, fallback):
    with pytest.warns(UserWarning, match=f"compile_mode='{mode}' captures CUDA graphs"):
        got = hardware.compile_settings(cfg(compile=True, compile_mode=mode), CPU)
    assert got == (True, fallback, False)


@pytest.mark.parametrize("mode, marks", [("reduce-overhead", 2), ("default", 0)])
def test_cudagraph_step_marks_only_with_cuda_graphs(monkeypatch, mode, marks):
    """The engine calls cudagraph_mark_step_begin before every forward with CUDA graphs only."""
    from scalelaw.train.engine import _Engine

    calls = []
    monkeypatch.setattr(torch.compiler, "cudagraph_mark_step_begin", lambda: calls.append(1))
    engine = _Engine([cfg(compile_mode=mode)], CUDA, bf16=False)  # builds nothing on the device
    assert engine.cuda_graphs is (mode == "reduce-overhead")
    assert engine.attention == "unknown"  # no CUDA here to ask; never an error
    engine._losses = lambda batch: torch.zeros(1)
    engine._forward(None)
    engine._forward(None)
    assert len(calls) == marks
    assert engine.describe()["compile_mode"] == mode and engine.describe()["compiled"]


def test_free_memory_on_cuda_is_mem_get_info(monkeypatch):
    asked = []
    monkeypatch.setattr(torch.cuda, "mem_get_info",
                        lambda device: (asked.append(device), (2 * 2**30, 80 * 2**30))[1])
    assert hardware.available_memory(CUDA) == 2 * 2**30 and asked == [CUDA]
    big = cfg(n_layer=24, d_model=2048, n_head=16)
    with pytest.raises(ConfigError, match=r"GiB on cuda .* only 2\.0 GiB is free"):
        hardware.check_memory(big, 1, CUDA, bf16=True)


def test_cpu_memory_never_asks_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: pytest.fail("asked CUDA"))
    assert hardware.available_memory(CPU) > 0


def test_flash_attention_memory_only_on_cuda_in_bf16(monkeypatch):
    """The memory estimate leaves out the T x T attention scores only where flash attention
    runs (CUDA, bf16)."""
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (2**50, 2**50))
    run = cfg(seq_len=1024, batch_size=8)
    flash = hardware.check_memory(run, 1, CUDA, bf16=True)["activations"]
    cpu_bf16 = hardware.check_memory(run, 1, CPU, bf16=True)["activations"]
    scores = 8 * run.model.n_layer * run.model.n_head * 1024 * 1024 * 4 * 2
    assert cpu_bf16 - flash == scores


def test_tf32_only_on_cuda(monkeypatch):
    calls = []
    monkeypatch.setattr(torch, "set_float32_matmul_precision", calls.append)
    assert hardware.enable_tf32(CPU) is False and calls == []
    assert hardware.enable_tf32(CUDA) is True and calls == ["high"]


def test_bf16_by_default_on_cuda_only():
    assert hardware.use_bf16(cfg(), CUDA) and not hardware.use_bf16(cfg(), CPU)
    assert hardware.use_bf16(cfg(dtype="bf16"), CPU)
    assert not hardware.use_bf16(cfg(dtype="fp32"), CUDA)


def test_fused_adamw_where_torch_has_it(monkeypatch):
    import torch.utils._foreach_utils as fu

    assert hardware.fused_adamw_supported(CUDA)
    monkeypatch.setattr(fu, "_get_fused_kernels_supported_devices", lambda: ["cuda"])
    assert not hardware.fused_adamw_supported(CPU) and hardware.fused_adamw_supported(CUDA)


def test_attention_kernel_is_torchs_choice():
    from torch.nn.attention import SDPBackend

    q = torch.zeros(1, 2, 64, 32)
    expected = SDPBackend(torch._fused_sdp_choice(q, q, q, is_causal=True)).name.lower()
    import contextlib

    got = hardware.attention_kernel(cfg(d_model=64, n_head=2).model, CPU, contextlib.nullcontext())
    assert got == expected and got in {"flash_attention", "math", "efficient_attention"}


# -- MFU's peak ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name, device, tflops", [
    ("NVIDIA H100 80GB HBM3", "H100 SXM", 989),
    ("NVIDIA H100 PCIe", "H100 PCIe", 756),
    ("NVIDIA H100 NVL", "H100 NVL", 835),
    ("NVIDIA H200", "H200 SXM", 989),
    ("NVIDIA GH200 480GB", "GH200 (H100/H200 SXM GPU)", 989),
    ("NVIDIA A100-SXM4-80GB", "A100 (SXM4 and PCIe)", 312),
    ("NVIDIA A100 80GB PCIe", "A100 (SXM4 and PCIe)", 312),
    ("NVIDIA L4", "L4", 121),
    ("NVIDIA L40S", "L40S", 362.05),
    ("NVIDIA L40", "L40", 181.05),
    ("NVIDIA A10", "A10", 125),
    ("NVIDIA GeForce RTX 4090", "GeForce RTX 4090", 165.2),
    ("AMD Instinct MI300X", "Instinct MI300X", 1307.4),
])
def test_peak_by_device_name(name, device, tflops):
    entry = lookup_peak(name)
    assert entry["device"] == device and entry["flops"] == pytest.approx(tflops * 1e12)


@pytest.mark.parametrize("name", ["Tesla V100-SXM2-16GB", "NVIDIA A10G", "Tesla T4",
                                  "NVIDIA A40", "x86_64", "", None])
def test_unknown_devices_get_no_peak(name):
    assert lookup_peak(name) is None


def test_every_peak_cites_its_source():
    for pattern, device, flops, source in BF16_PEAKS:
        assert ("datasheet" in source or "whitepaper" in source) and "TFLOPS" in source
        assert 50e12 < flops < 2e15, device  # dense bf16 of one accelerator


def test_peak_info_follows_the_device(monkeypatch):
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H100 PCIe")
    info = hardware.peak_info(CUDA)
    assert info["peak_flops"] == 756e12 and "PCIe" in info["peak_flops_source"]
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Tesla T4")
    assert hardware.peak_info(CUDA) == {"peak_flops": None, "peak_flops_source": None}
    assert hardware.peak_flops(CUDA, 65e12) == 65e12  # --peak-flops wins
    assert hardware.peak_info(CPU)["peak_flops"] is None


def test_bad_peak_flops_is_refused():
    with pytest.raises(ConfigError, match="peak_flops must be > 0"):
        cfg(peak_flops=0)


@pytest.mark.parametrize("argv, expected", [
    ([], (None, "auto", None)),
    (["--compile", "--dtype", "bf16", "--peak-flops", "1e12"], (True, "bf16", 1e12)),
    (["--no-compile", "--dtype", "fp32"], (False, "fp32", None)),
])
def test_cli_flags(argv, expected):
    from scalelaw.train.cli import _train_config, build_parser

    args = build_parser().parse_args(["train", "--preset", "tiny", *argv])
    got = _train_config(args)
    assert (got.compile, got.dtype, got.peak_flops) == expected


def test_cli_refuses_compile_and_no_compile(capsys):
    from scalelaw.train.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--compile", "--no-compile"])
    assert "not allowed with" in capsys.readouterr().err


def test_attention_kernel_with_a_key_mask():
    import contextlib

    from torch.nn.attention import SDPBackend

    q = torch.zeros(1, 2, 64, 32)
    mask = torch.ones(1, 1, 1, 64, dtype=torch.bool)
    expected = SDPBackend(torch._fused_sdp_choice(q, q, q, attn_mask=mask)).name.lower()
    model = get_preset("tiny-encdec").model
    assert hardware.attention_kernel(model, CPU, contextlib.nullcontext(), masked=True) == expected
