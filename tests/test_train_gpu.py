"""The trainer's CUDA paths: bf16 autocast, torch.compile, fused AdamW, compiled stacked AdamW.

Skipped without CUDA (CI has none); run on the GPU machine with
``PYTHONPATH=. python3 -m pytest -q -m gpu tests/test_train_gpu.py``.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]

from scalelaw.train.config import ConfigError, get_preset  # noqa: E402
from scalelaw.train.loop import train  # noqa: E402


@pytest.fixture
def tiny(shards, tmp_path):
    def make(**overrides):
        return get_preset("tiny", device="cuda", data_root=str(shards), out_dir=str(tmp_path),
                          **overrides)
    return make


def losses(path):
    rows = [json.loads(line) for line in open(path).read().splitlines()[1:]]
    return np.array([r["loss"] for r in rows]), [(r["step"], r["split"]) for r in rows]


def test_compiled_bf16_run_learns_and_reports_mfu(tiny):
    result, = train(tiny(n_steps=60, log_interval=10), progress=False)
    header = json.loads(open(result["path"]).readline())["header"]
    assert header["dtype"] == "bf16" and header["compiled"] and header["device"].startswith("cuda")
    assert 0 < header["mfu"] < 1 and header["tokens_per_s"] > 0
    loss, _ = losses(result["path"])
    assert result["final"]["val"] < 4.0 and np.isfinite(loss).all()


def test_stacked_equals_separate_on_cuda(tiny):
    configs = [tiny(n_steps=10, seed=s, name=f"s{s}", dtype="fp32", compile=False,
                    eval_interval=5) for s in range(3)]
    for cfg in configs:
        train(cfg, progress=False)
    stacked = [dataclasses.replace(c, name=c.name + "_stk") for c in configs]
    train(stacked, progress=False)
    for a, b in zip(configs, stacked):
        la, ka = losses(f"{a.out_dir}/{a.name}.jsonl")
        lb, kb = losses(f"{b.out_dir}/{b.name}.jsonl")
        assert ka == kb
        np.testing.assert_allclose(lb, la, atol=1e-3)


def test_compiled_stack_in_bf16_learns(tiny):
    configs = [tiny(n_steps=40, seed=s, name=f"c{s}", log_interval=10) for s in range(4)]
    results = train(configs, progress=False)
    header = json.loads(open(results[0]["path"]).readline())["header"]
    assert header["compiled"] and header["stack_size"] == 4 and header["mfu"] > 0
    assert all(r["final"]["val"] < 4.2 for r in results)


def test_resume_with_fused_adamw_on_cuda(tiny):
    whole = tiny(n_steps=12, name="whole", dtype="fp32", compile=False, eval_interval=4)
    train(whole, progress=False)
    part = dataclasses.replace(whole, name="part", stop_at=6)
    train(part, progress=False)
    train(dataclasses.replace(part, stop_at=None), resume=True, progress=False)
    la, ka = losses(f"{whole.out_dir}/whole.jsonl")
    lb, kb = losses(f"{part.out_dir}/part.jsonl")
    assert ka == kb
    np.testing.assert_allclose(lb, la, atol=1e-4)


def test_memory_check_uses_free_gpu_memory(tiny):
    with pytest.raises(ConfigError, match="GiB on cuda"):
        train(tiny(n_layer=48, d_model=12288, n_head=96), progress=False)


def test_header_says_what_ran_on_cuda(tiny):
    from scalelaw.train.peaks import lookup_peak

    result, = train(tiny(n_steps=12, log_interval=4), progress=False)
    header = json.loads(open(result["path"]).readline())["header"]
    assert header["compiled"] and header["dtype"] == "bf16" and header["fused_optimizer"]
    assert header["optimizer"] == "torch AdamW (fused)" and not header["cuda_graphs"]
    # bf16, head size 32, causal, no mask: a fused kernel (flash; cuDNN's on some torch/GPU
    # pairs), never the T x T maths path
    assert header["attention"] in {"flash_attention", "cudnn_attention", "efficient_attention"}
    known = lookup_peak(torch.cuda.get_device_name())
    assert header["peak_flops"] == (known["flops"] if known else None)
    assert (header["mfu"] is None) == (known is None)


def test_cuda_graphs_run(tiny):
    result, = train(tiny(n_steps=30, log_interval=10, compile_mode="reduce-overhead"),
                    progress=False)
    header = json.loads(open(result["path"]).readline())["header"]
    assert header["cuda_graphs"] and header["compile_mode"] == "reduce-overhead"
    loss, _ = losses(result["path"])
    assert np.isfinite(loss).all() and result["final"]["val"] < 4.5


def test_compiled_stack_retires_runs_on_cuda(tiny, monkeypatch):
    from scalelaw.train import loop

    monkeypatch.setattr(loop, "_worth_retiring", lambda job, n, left: True)  # force recompiles
    configs = [tiny(n_steps=n, seed=m, name=f"r{m}", log_interval=10)
               for m, n in enumerate((40, 30, 20))]
    results = train(configs, progress=False)
    assert [r["status"] for r in results] == ["complete"] * 3
    for r, cfg in zip(results, configs):
        loss, keys = losses(r["path"])
        assert np.isfinite(loss).all() and max(s for s, _ in keys) == cfg.steps
