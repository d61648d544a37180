"""Trainer configs, presets, overrides, parameter counts and import lightness (CPU, fast)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from scalelaw.model_size import count_params
from scalelaw.train.config import (PRESETS, ConfigError, ModelConfig, TrainConfig, apply_overrides,
                                   fill_placeholders, get_preset, stack_key)

ROOT = Path(__file__).resolve().parents[1]


def test_presets_span_the_ladder():
    sizes = {name: get_preset(name).counts()["N"] for name in PRESETS}
    assert sizes["tiny"] == pytest.approx(1e5, rel=0.05)
    assert min(sizes.values()) < 1.5e5 and 7e7 < max(sizes.values()) < 1.2e8
    assert get_preset("tiny").tiny_data and get_preset("tiny-encdec").model.arch == "encdec"


def test_unknown_preset_lists_presets():
    with pytest.raises(ConfigError, match="unknown preset 'huge'.*tiny.*d2-128"):
        get_preset("huge")


def test_overrides_are_checked():
    cfg = get_preset("tiny")
    assert apply_overrides(cfg, {"d_model": 32, "model.n_head": 4, "seed": 3}).model.d_model == 32
    with pytest.raises(ConfigError, match="unknown config key 'batchsize'.*did you mean 'batch_size'"):
        apply_overrides(cfg, {"batchsize": 8})
    with pytest.raises(ConfigError, match="batch_size: expected int, got str 'eight'"):
        apply_overrides(cfg, {"batch_size": "eight"})
    with pytest.raises(ConfigError, match="compile: expected bool"):
        apply_overrides(cfg, {"compile": 1})
    with pytest.raises(ConfigError, match="seed: expected int, got float 1.5"):
        apply_overrides(cfg, {"seed": 1.5})
    with pytest.raises(ConfigError, match="not divisible by n_head"):
        apply_overrides(cfg, {"d_model": 33})
    # CLI strings are parsed by the field's type
    cli = apply_overrides(cfg, {"batch_size": "8", "compile": "false", "init_from": "none",
                                "weight_decay": "0"}, from_string=True)
    assert (cli.batch_size, cli.compile, cli.init_from, cli.weight_decay) == (8, False, None, 0.0)


def test_schedule_placeholders_and_steps():
    assert fill_placeholders("cosine:n_steps={n_steps},peak=1,warmup={n_steps//10}", 95) == \
        "cosine:n_steps=95,peak=1,warmup=9"
    cfg = get_preset("tiny", n_steps=40)
    assert cfg.steps == 40 and cfg.resolved_schedule().startswith("cosine:n_steps=40,")
    fixed = get_preset("tiny", n_steps=None, schedule="constant:n_steps=30,peak=1e-3")
    assert fixed.steps == 30
    with pytest.raises(ConfigError, match="n_steps=30 but the run has n_steps=40"):
        get_preset("tiny", n_steps=40, schedule="constant:n_steps=30,peak=1e-3")
    with pytest.raises(ConfigError, match="only arithmetic on n_steps"):
        get_preset("tiny", schedule="constant:n_steps={__import__('os')},peak=1")
    with pytest.raises(ConfigError, match="schedule: unknown schedule 'cosin'"):
        get_preset("tiny", schedule="cosin:n_steps={n_steps},peak=1")


def test_cpt_fields_are_validated():
    with pytest.raises(ConfigError, match="needs mix_ratio"):
        get_preset("tiny", domain="code")
    with pytest.raises(ConfigError, match="domain must be one of"):
        get_preset("tiny", domain="poetry", mix_ratio=0.5)
    cfg = get_preset("tiny", domain="code", mix_ratio=0.25)
    assert cfg.val_splits == ["val_general", "val_code"] and cfg.run_name.endswith("code-r0.25")


def test_config_round_trips_through_dict():
    cfg = get_preset("tiny-encdec", seed=4, name="x")
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


def test_stack_key_groups_same_shape_runs():
    a = get_preset("tiny", seed=0)
    b = get_preset("tiny", seed=1, schedule="constant:n_steps={n_steps},peak=1e-3", n_steps=7)
    assert stack_key(a) == stack_key(b)
    assert stack_key(a) != stack_key(get_preset("tiny", d_model=32))
    assert stack_key(get_preset("tiny-encdec", seed=0)) != stack_key(get_preset("tiny-encdec", seed=1))


# --- parameter counts: the modules must equal scalelaw.model_size.count_params -------------

_GPT_CASES = [dict(n_layer=1, d_model=32, n_head=2, seq_len=16),
              dict(n_layer=2, d_model=64, n_head=2, seq_len=64),
              dict(n_layer=3, d_model=48, n_head=3, seq_len=40, d_ff=100),
              dict(n_layer=2, d_model=32, n_head=4, seq_len=24, bias=True)]
_ENCDEC_CASES = [dict(n_enc_layer=1, n_dec_layer=1, d_model=32, n_head=2, seq_len=16),
                 dict(n_enc_layer=3, n_dec_layer=1, d_model=64, n_head=4, seq_len=32),
                 dict(n_enc_layer=1, n_dec_layer=2, d_model=32, n_head=2, seq_len=20, bias=True)]


@pytest.mark.parametrize("kw", _GPT_CASES)
def test_gpt_params_equal_count_params(kw):
    import torch

    from scalelaw.train.model import GPT
    from scalelaw.train.stacked import StackedGPT

    cfg = ModelConfig(**kw)
    model = GPT(cfg)
    expected = count_params(kw["n_layer"], kw["d_model"], 256, d_ff=kw.get("d_ff"),
                            n_ctx=kw["seq_len"], bias=kw.get("bias", False))
    assert model.num_params() == expected["N"]
    assert sum(p.numel() for p in model.parameters()) == expected["N_total"]
    assert cfg.counts() == expected
    stacked = StackedGPT(cfg, 3)
    assert sum(p.numel() for p in stacked.parameters()) == 3 * expected["N_total"]
    with torch.no_grad():
        assert model(torch.zeros(1, 4, dtype=torch.long)).shape == (1, 4, 256)


@pytest.mark.parametrize("kw", _ENCDEC_CASES)
def test_encdec_params_equal_count_params(kw):
    from scalelaw.train.encdec import EncoderDecoder

    cfg = ModelConfig(arch="encdec", **kw)
    model = EncoderDecoder(cfg)
    expected = count_params(None, kw["d_model"], 256, n_ctx=kw["seq_len"],
                            bias=kw.get("bias", False), n_enc_layer=kw["n_enc_layer"],
                            n_dec_layer=kw["n_dec_layer"])
    assert model.num_params() == expected["N"]
    assert model.num_params("encoder") == expected["N_e"]
    assert model.num_params("decoder") == expected["N_d"]
    assert model.num_params("total") == expected["N_total"]


def test_too_big_for_memory_fails_before_allocation():
    from scalelaw.train.loop import train

    cfg = get_preset("tiny", n_layer=64, d_model=16384, n_head=128, device="cpu",
                     out_dir="/nonexistent/never-written")
    with pytest.raises(ConfigError, match=r"needs about .* GiB on cpu .* only .* GiB is free"):
        train(cfg, progress=False)
    assert not Path("/nonexistent/never-written").exists()


def _modules_after(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    return out.stdout.strip()


def test_importing_the_trainer_cli_is_light():
    heavy = "('torch', 'scipy', 'lmfit', 'plotly', 'streamlit')"
    code = ("import sys, scalelaw.train, scalelaw.train.cli, scalelaw.train.config, "
            "scalelaw.train.sweep; from scalelaw.train import get_preset; get_preset('tiny'); "
            f"print([m for m in {heavy} if m in sys.modules])")
    assert _modules_after(code) == "[]"
