"""Training on the tiny corpus (CPU): falling loss, tidy JSONL, LR from the schedule, stacked ==
separate, checkpoints, resume == uninterrupted, continual pre-training, encoder-decoder."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from scalelaw import schedules  # noqa: E402
from scalelaw.train import checkpoint, corpora  # noqa: E402
from scalelaw.train.config import ConfigError, get_preset  # noqa: E402
from scalelaw.train.loop import train  # noqa: E402
from scalelaw.train.runlog import ROW_KEYS  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def tiny(shards, tmp_path):
    """The tiny preset on the tiny corpus, on the CPU, writing under tmp_path."""
    def make(**overrides):
        return get_preset("tiny", device="cpu", data_root=str(shards), out_dir=str(tmp_path),
                          **overrides)
    return make


def read_log(path):
    lines = open(path).read().splitlines()
    header = json.loads(lines[0])["header"]
    return header, pd.DataFrame([json.loads(line) for line in lines[1:]])


def test_tiny_run_learns_and_logs_the_tidy_schema(tiny):
    cfg = tiny(n_steps=50)
    result, = train(cfg, progress=False)
    header, df = read_log(result["path"])
    # header: written first, rewritten at the end
    assert header["status"] == "complete" and header["run"] == cfg.run_name
    assert header["config"] == cfg.to_dict() and header["seed"] == 0
    assert header["n_params"] == cfg.counts()["N"] == 98624
    assert header["n_params_total"] == cfg.counts()["N_total"]
    assert header["tokens_per_s"] > 0 and header["mfu"] is None and header["device"] == "cpu"
    assert header["torch_version"] == torch.__version__ and header["wall_time_s"] > 0
    # rows: the tidy columns, in order
    assert list(df.columns) == list(ROW_KEYS)
    assert set(df.split) == {"train", "val"}
    val, tr = df[df.split == "val"], df[df.split == "train"]
    assert list(val.step) == [0, 10, 20, 30, 40, 50] and list(tr.step) == list(range(1, 51))
    assert val.lr.iloc[0] is None or np.isnan(val.lr.iloc[0])  # no LR before the first update
    assert (df.n_tokens == df.step * 16 * 64).all()
    assert np.allclose(df.flops, df.n_tokens * cfg.counts()["flops_per_token"])
    assert np.allclose(df.epoch, df.n_tokens / header["train_corpus_tokens"])
    assert (df.run == cfg.run_name).all() and (df.schedule == cfg.resolved_schedule()).all()
    assert (df.batch_size == 16).all() and (df.seq_len == 64).all()
    # it learns: byte entropy ~5.5 nats at init, far lower after 50 steps
    assert val.loss.iloc[0] > 5.0 and val.loss.iloc[-1] < val.loss.iloc[0] - 1.0
    assert tr.loss.iloc[-5:].mean() < tr.loss.iloc[:5].mean() - 1.0
    assert result["final"]["val"] == pytest.approx(val.loss.iloc[-1])


@pytest.mark.parametrize("spec", ["cosine:n_steps={n_steps},peak=2e-3,floor=1e-4,warmup=3",
                                  "wsd:n_steps={n_steps},peak=2e-3,floor=1e-4,warmup=2,decay_frac=0.3",
                                  "step:n_steps={n_steps},peak=2e-3,drops=5/0.3;9/0.1"])
def test_logged_lr_is_the_schedule(tiny, spec):
    cfg = tiny(n_steps=12, schedule=spec, eval_interval=100)
    _, df = read_log(train(cfg, progress=False)[0]["path"])
    tr = df[df.split == "train"]
    expected = schedules.from_spec(cfg.resolved_schedule())
    assert np.array_equal(tr.lr.to_numpy(), expected[tr.step.to_numpy() - 1])


def test_stacked_runs_equal_separate_runs(tiny, monkeypatch):
    # different seeds, schedules and lengths in one stack; "b" is retired after its step 8
    from scalelaw.train.engine import StackEngine

    retired = []
    original = StackEngine.retire
    monkeypatch.setattr(StackEngine, "retire",
                        lambda self, runs: (retired.append(list(runs)), original(self, runs)))
    configs = [tiny(n_steps=12, seed=0, name="a", eval_interval=4),
               tiny(n_steps=8, seed=1, name="b", eval_interval=4),
               tiny(n_steps=12, seed=2, name="c", eval_interval=4,
                    schedule="constant:n_steps={n_steps},peak=1e-3,warmup=2")]
    for cfg in configs:
        train(cfg, progress=False)
    stacked = [dataclasses.replace(c, name=c.name + "_stacked") for c in configs]
    results = train(stacked, progress=False)
    assert [r["status"] for r in results] == ["complete"] * 3 and retired == [[1]]
    for alone, inside in zip(configs, stacked):
        h_a, a = read_log(f"{alone.out_dir}/{alone.name}.jsonl")
        h_s, s = read_log(f"{inside.out_dir}/{inside.name}.jsonl")
        assert h_s["stack_size"] == 3 and h_s["status"] == "complete"
        assert list(a.step) == list(s.step) and list(a.split) == list(s.split)  # own steps only
        assert s.step.max() == alone.steps
        np.testing.assert_allclose(s.loss, a.loss, atol=2e-4, rtol=0)
        np.testing.assert_array_equal(s.lr.fillna(-1), a.lr.fillna(-1))


def test_checkpoint_round_trip(tiny):
    cfg = tiny(n_steps=6, save_checkpoint=True)
    train(cfg, progress=False)
    path = f"{cfg.out_dir}/{cfg.run_name}.pt"
    ckpt = checkpoint.load(path)
    assert ckpt["step"] == 6 and ckpt["config"] == cfg.to_dict()
    assert ckpt["optim"]["step"] == 6 and set(ckpt["optim"]["exp_avg"]) == set(ckpt["model"])
    from scalelaw.train.model import GPT

    model = GPT(cfg.model)
    model.load_state_dict(ckpt["model"])  # strict: every weight, nothing else
    again = checkpoint.load(checkpoint.save(f"{cfg.out_dir}/copy.pt", config=cfg, step=6,
                                            model=model.state_dict(), optim=ckpt["optim"]))
    for k, v in ckpt["model"].items():
        assert torch.equal(again["model"][k], v)


@pytest.mark.parametrize("n_models", [1, 2])
def test_resume_gives_the_uninterrupted_curve(tiny, n_models):
    whole = [tiny(n_steps=14, seed=s, name=f"whole{s}", eval_interval=4, log_interval=3)
             for s in range(n_models)]
    train(whole, progress=False)
    part = [tiny(n_steps=14, seed=s, name=f"part{s}", eval_interval=4, log_interval=3,
                 stop_at=7) for s in range(n_models)]
    assert {r["status"] for r in train(part, progress=False)} == {"stopped"}
    header, _ = read_log(f"{part[0].out_dir}/part0.jsonl")
    assert header["status"] == "stopped"
    resumed = [dataclasses.replace(c, stop_at=None) for c in part]
    assert {r["status"] for r in train(resumed, resume=True, progress=False)} == {"complete"}
    for w, p in zip(whole, part):
        _, a = read_log(f"{w.out_dir}/{w.name}.jsonl")
        _, b = read_log(f"{p.out_dir}/{p.name}.jsonl")
        assert list(a.step) == list(b.step) and list(a.split) == list(b.split)
        np.testing.assert_allclose(b.loss, a.loss, rtol=0, atol=1e-6)
    # a complete run is left alone
    assert train(resumed, resume=True, progress=False)[0]["status"] == "skipped"


def test_continual_pretraining_logs_general_and_domain(tiny):
    base = tiny(n_steps=10, name="base", save_checkpoint=True)
    base_val = train(base, progress=False)[0]["final"]["val"]
    cpt = tiny(n_steps=10, name="cpt", init_from=f"{base.out_dir}/base.pt", domain="code",
               mix_ratio=0.5, eval_interval=5)
    result, = train(cpt, progress=False)
    header, df = read_log(result["path"])
    assert set(df.split) == {"train", "val_general", "val_code"}
    assert (df.domain == "code").all() and (df.mix_ratio == 0.5).all()
    step0 = df[df.step == 0].set_index("split").loss
    assert step0["val_general"] == pytest.approx(base_val, abs=1e-6)  # the D-CPT baseline
    assert df[df.split == "val_code"].loss.iloc[-1] < step0["val_code"]
    assert header["domain_corpus_tokens"] > 0 and df.n_tokens.iloc[0] == 0


def test_mixture_is_deterministic_and_at_ratio(shards):
    from scalelaw.train.data import LMSampler, TokenBank

    cfg = get_preset("tiny", data_root=str(shards), domain="math", mix_ratio=0.25, batch_size=400)
    bank = TokenBank()
    sampler = LMSampler(cfg, bank)
    draws = [sampler.offsets(step) for step in range(1, 6)]
    share = np.mean([(d >= sampler.domain[0]).mean() for d in draws])
    assert 0.2 < share < 0.3
    assert np.array_equal(LMSampler(cfg, TokenBank()).offsets(3), draws[2])


def test_checkpoint_of_another_architecture_is_refused(tiny):
    base = tiny(n_steps=3, name="base", save_checkpoint=True)
    train(base, progress=False)
    other = tiny(n_steps=3, name="wide", init_from=f"{base.out_dir}/base.pt", d_model=32,
                 n_layer=3)
    with pytest.raises(ConfigError, match=r"another architecture.*d_model: 64 != 32.*"
                                          r"n_layer: 2 != 3"):
        train(other, progress=False)


def test_missing_corpus_names_the_build_command(tmp_path):
    cfg = get_preset("tiny", device="cpu", data_root=str(tmp_path / "none"), out_dir=str(tmp_path))
    with pytest.raises(corpora.MissingCorpusError, match="scalelaw data build --tiny"):
        train(cfg, progress=False)


def test_encoder_decoder_learns_translation(shards, tmp_path):
    cfg = get_preset("tiny-encdec", device="cpu", data_root=str(shards), out_dir=str(tmp_path),
                     n_steps=30)
    result, = train(cfg, progress=False)
    header, df = read_log(result["path"])
    counts = cfg.counts()
    assert (df.n_enc_params == counts["N_e"]).all() and (df.n_dec_params == counts["N_d"]).all()
    assert header["n_enc_params"] + header["n_dec_params"] == header["n_params"] == counts["N"]
    val = df[df.split == "val"]
    assert val.loss.iloc[-1] < val.loss.iloc[0] - 1.0
    tr = df[df.split == "train"]
    assert (np.diff(tr.n_tokens) > 0).all() and (tr.n_tokens <= tr.step * 16 * 64).all()


def test_encoder_decoder_logs_val_rotated_from_another_pairs_source(shards, tmp_path):
    """``val_rotated``: the same held-out targets, each read with the previous pair's source.
    Checked against the saved model evaluated pair by pair, independently of the batching."""
    from scalelaw.train.data import PairData
    from scalelaw.train.encdec import EncoderDecoder

    cfg = get_preset("tiny-encdec", device="cpu", data_root=str(shards), out_dir=str(tmp_path),
                     n_steps=20, eval_interval=10, eval_seqs=21, save_checkpoint=True)
    assert cfg.val_splits == ["val", "val_rotated"]
    result, = train(cfg, progress=False)
    header, df = read_log(result["path"])
    rows = df[df.split.str.startswith("val")].pivot(index="step", columns="split", values="loss")
    assert list(rows.index) == [0, 10, 20] and not rows.isna().any().any()
    assert set(header["final"]) == {"train", "val", "val_rotated"}

    model = EncoderDecoder(cfg.model)
    model.load_state_dict(checkpoint.load(Path(result["path"]).with_suffix(".pt"))["model"])
    model.eval()
    pairs = PairData(cfg, "val")
    idx = pairs.val_indices(cfg.eval_seqs)
    assert len(idx) == 21  # a short last batch (21 = 16 + 5): rotation crosses batches
    totals = {"val": [0.0, 0], "val_rotated": [0.0, 0]}
    with torch.no_grad():
        for i in range(len(idx)):
            _, tgt_in, targets = pairs.arrays(idx[i:i + 1])
            n = int((targets != -1).sum())
            for split, j in (("val", i), ("val_rotated", i - 1)):  # i - 1 = -1: the last pair
                src, _, _ = pairs.arrays(idx[j:j + 1] if j >= 0 else idx[-1:])
                loss = model(*(torch.from_numpy(a) for a in (src, tgt_in, targets)))
                totals[split][0] += float(loss) * n
                totals[split][1] += n
    for split, (total, n) in totals.items():
        assert rows.loc[20, split] == pytest.approx(total / n, rel=1e-4), split
    assert rows.loc[20, "val_rotated"] != pytest.approx(rows.loc[20, "val"], rel=1e-6)


def test_read_logs_reads_the_trainer_jsonl(tiny):
    io = pytest.importorskip("scalelaw.io")
    if not hasattr(io, "read_logs"):
        pytest.skip("scalelaw.io.read_logs is not there yet")
    cfg = tiny(n_steps=5, eval_interval=5)
    train(cfg, progress=False)
    df = io.read_logs(cfg.out_dir)
    assert {"run", "step", "split", "loss"} <= set(df.columns)
    assert set(df.split) == {"train", "val"} and (df.run == cfg.run_name).all()


def test_a_stack_retires_runs_that_ended(tiny):
    """After a run of the stack ends, the stack is rebuilt from the others: their weights and
    AdamW moments carry over exactly and the retired run's rows are no longer computed."""
    from scalelaw.train.data import LMBatches
    from scalelaw.train.engine import build_engine, initial_state

    configs = [tiny(n_steps=n, seed=s, name=f"r{s}") for s, n in ((0, 6), (1, 3), (2, 6))]
    device = torch.device("cpu")
    engine = build_engine(configs, device, False, [initial_state(c) for c in configs])
    data = LMBatches(configs, device)
    for step in (1, 2, 3):
        engine.train_step(data.train(step), step)
    before = {m: (engine.model_state(m), engine.optim_state(m)) for m in (0, 2)}
    engine.retire([1])
    assert engine.alive == [0, 2] and engine.module.n_models == 2
    for m in (0, 2):
        weights, moments = before[m]
        for key, value in engine.model_state(m).items():
            assert torch.equal(value, weights[key]), key
        after = engine.optim_state(m)
        assert after["step"] == moments["step"] == 3
        for name, value in after["exp_avg_sq"].items():
            assert torch.equal(value, moments["exp_avg_sq"][name]), name
    losses = engine.train_step(data.train(4), 4)
    assert losses.shape == (3,) and losses[1] == 0 and (losses[[0, 2]] > 0).all()
    assert engine.eval_losses(next(data.val(("val", "general"), 3))[0])[1] == 0


def test_enc_lr_depth_power_scales_the_encoder_blocks_learning_rate(shards, tmp_path):
    """``enc_lr_depth_power=p``: the encoder's blocks train at LR * n_enc_layer**-p, everything
    else (decoder, embeddings, final norms) at LR. AdamW's first step moves every weight by
    LR * (sign of its gradient + decay), so a 4-layer encoder's blocks move exactly 4**-p as far
    as with p = 0, and every other weight as far."""
    from scalelaw.train.data import PairBatches
    from scalelaw.train.engine import build_engine, initial_state

    device = torch.device("cpu")
    moved = {}
    for power in (0.0, 0.5):
        cfg = get_preset("tiny-encdec", device="cpu", data_root=str(shards),
                         out_dir=str(tmp_path), n_steps=2, n_enc_layer=4, n_dec_layer=2,
                         enc_lr_depth_power=power, grad_clip=0.0,
                         schedule="constant:n_steps={n_steps},peak=1e-3")
        state = initial_state(cfg)
        engine = build_engine([cfg], device, False, [state])
        engine.train_step(PairBatches(cfg, device).train(1), 1)
        moved[power] = {k: (v - state[k]).abs().max().item()
                        for k, v in engine.model_state(0).items()}
    for key, d0 in moved[0.0].items():
        want = 4 ** -0.5 if key.startswith("encoder.blocks.") else 1.0
        assert d0 > 0 and moved[0.5][key] == pytest.approx(want * d0, rel=1e-4), key


def test_enc_lr_depth_power_is_checked():
    with pytest.raises(ConfigError, match="enc_lr_depth_power must be >= 0"):
        get_preset("tiny-encdec", enc_lr_depth_power=-1.0).validate()
    with pytest.raises(ConfigError, match="arch='encdec' runs only"):
        get_preset("tiny", enc_lr_depth_power=0.5).validate()


def test_trim_pairs_gives_the_padded_runs_losses_on_shorter_batches(shards, tmp_path):
    """``trim_pairs``: each batch is cut to its longest source and target. PAD keys are masked,
    PAD targets carry no loss and the decoder is causal, so the logged train, val and
    val_rotated losses are the padded run's (up to float summation order), with less work."""
    from scalelaw.train.data import PairData

    logs = {}
    for trim in (False, True):
        cfg = get_preset("tiny-encdec", device="cpu", data_root=str(shards),
                         out_dir=str(tmp_path / str(trim)), n_steps=12, eval_interval=6,
                         eval_seqs=21, trim_pairs=trim)
        result, = train(cfg, progress=False)
        logs[trim] = read_log(result["path"])[1].set_index(["step", "split"]).loss
        pairs, T = PairData(cfg, "train"), cfg.model.seq_len
        widths = []
        for step in range(1, 13):
            idx = pairs.indices(step)
            src, tgt_in, targets = pairs.arrays(idx)
            longest = max(int(pairs.src_off[i + 1] - pairs.src_off[i]) for i in idx)
            # trimmed: the batch ends at its longest source, and its last target column holds
            # some row's last byte or EOS; padded: both sides are seq_len wide
            assert src.shape[1] == (min(longest, T) if trim else T)
            assert targets.shape == tgt_in.shape and (not trim or (targets[:, -1] != -1).any())
            widths.append(src.shape[1] + targets.shape[1])
        assert (min(widths) < 2 * T) if trim else (set(widths) == {2 * T})
    assert set(logs[True].index.get_level_values("split")) == {"train", "val", "val_rotated"}
    pd.testing.assert_series_equal(logs[True], logs[False], rtol=1e-4)


def test_trim_pairs_is_for_encoder_decoders():
    with pytest.raises(ConfigError, match="trim_pairs is for arch='encdec' runs only"):
        get_preset("tiny", trim_pairs=True).validate()
