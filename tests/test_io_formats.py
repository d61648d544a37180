"""The training stacks' own formats: HF trainer_state.json, Lightning CSVLogger, W&B exports,
nanoGPT text logs and our trainer's JSONL. The fixtures under fixtures/logs are hand-made
following each tool's documented format (the tools are too heavy to install for tests)."""

from __future__ import annotations

import json
import math
import shutil
import warnings
from pathlib import Path

import pytest

import scalelaw as sl
from scalelaw.io import ReadLogsWarning

FIXTURES = Path(__file__).parent / "fixtures" / "logs"


def read_quiet(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ReadLogsWarning)
        return sl.read_logs(*args, **kwargs)


def points(df, split):
    return df[df.split == split].set_index("step").loss.to_dict()


def test_hf_trainer_state():
    path = FIXTURES / "hf" / "trainer_state.json"
    df = read_quiet(path)
    assert df.attrs["sources"] == {str(path): "hf"}
    assert set(df.run) == {"hf"}  # generic file name: the run is its directory
    assert points(df, "train") == {10: 4.1012, 20: 3.6620, 30: 3.3907, 40: 3.2154,
                                   50: 3.1046, 60: 3.0421}
    assert points(df, "val") == {20: 3.7015, 40: 3.3342, 60: 3.1968}
    # the summary entry (train_loss = mean over the run, at step 60) is not a point
    assert 3.4194 not in set(df.loss)
    train = df[df.split == "train"].set_index("step")
    assert train.loc[30, "lr"] == 3.3333e-05 and train.loc[30, "epoch"] == 1.0
    header = df.attrs["headers"]["hf"]
    assert header["global_step"] == 60 and header["train_batch_size"] == 8
    assert "log_history" not in header


def test_hf_several_eval_sets_and_explicit_format(tmp_path):
    state = {"global_step": 20, "log_history": [
        {"step": 10, "loss": 3.0, "epoch": 0.5},
        {"step": 10, "eval_wiki_loss": 3.3, "eval_code_loss": 2.1, "eval_wiki_runtime": 1.0},
        {"step": 20, "loss": 2.5, "epoch": 1.0},
        {"step": 20, "train_runtime": 9.0, "train_loss": 2.75, "total_flos": 1e12}]}
    (tmp_path / "state.txt").write_text(json.dumps(state))
    df = read_quiet(tmp_path / "state.txt", format="hf", run="bert")
    assert set(df.run) == {"bert"}
    assert points(df, "train") == {10: 3.0, 20: 2.5}
    assert points(df, "val_wiki") == {10: 3.3} and points(df, "val_code") == {10: 2.1}


def test_lightning_metrics_csv_with_hparams_sidecar():
    path = FIXTURES / "lightning" / "version_0" / "metrics.csv"
    with pytest.warns(ReadLogsWarning, match=r"'train_loss_epoch' left out: it holds epoch "
                                             r"means"):
        df = sl.read_logs(path)
    assert df.attrs["sources"] == {str(path): "lightning"}
    assert set(df.run) == {"lightning"}  # version_N names no run: the folder above it does
    assert points(df, "train") == {9: 3.9812, 19: 3.5104, 29: 3.3377, 39: 3.1920}
    assert points(df, "val") == {24: 3.6021, 49: 3.2569}
    val = df[df.split == "val"].set_index("step")
    assert val.loc[49, "epoch"] == 1.0
    # lr is only on rows where Lightning logged it; nothing is filled in between
    train = df[df.split == "train"].set_index("step")
    assert train.loc[29, "lr"] == 0.0008 and train[["lr"]].isna().sum().item() == 3
    # run facts from hparams.yaml, n_tokens from step x batch_size x seq_len
    assert set(df.n_params) == {1.2e6} and set(df.batch_size) == {16}
    assert set(df.schedule) == {"cosine:n_steps=50,peak=0.001,floor=0.0001,warmup=0"}
    assert val.loc[49, "n_tokens"] == 49 * 16 * 256


def test_lightning_run_named_from_directory_read(tmp_path):
    shutil.copytree(FIXTURES / "lightning", tmp_path / "lightning_logs" / "gpt-a")
    with pytest.warns(ReadLogsWarning, match="train_loss_epoch"):
        df = sl.read_logs(tmp_path / "lightning_logs")
    assert set(df.run) == {"gpt-a"}
    assert not any("hparams.yaml" in m for m in df.attrs["skipped"])


def test_wandb_wide_export_ignores_min_max_companions():
    path = FIXTURES / "wandb" / "wide_export.csv"
    df = read_quiet(path)
    assert df.attrs["sources"] == {str(path): "wandb"}
    assert sorted(set(df.run)) == ["gpt-large", "gpt-small"]
    small, large = df[df.run == "gpt-small"], df[df.run == "gpt-large"]
    assert points(small, "train") == {100: 3.9, 200: 3.4, 300: 3.2, 400: 3.1}
    assert points(large, "train") == {100: 3.6, 200: 3.1, 300: 2.9}  # blank at 400: not logged
    assert not set(df.loss) & {3.85, 3.95, 3.55, 3.65}  # the __MIN/__MAX values


def test_wandb_run_history():
    path = FIXTURES / "wandb" / "history.csv"
    df = read_quiet(path, run="hf-run")
    # train/global_step is the optimiser step; _step counts logging calls
    assert points(df, "train") == {50: 4.2, 100: 3.8, 150: 3.5, 200: 3.3}
    assert points(df, "val") == {100: 3.95, 200: 3.41}
    train = df[df.split == "train"].set_index("step")
    assert train.loc[150, "lr"] == 0.0003 and train.loc[150, "epoch"] == 0.3
    assert df.attrs["columns"][str(path)]["train/global_step"] == "step"


def test_nanogpt_text_log():
    path = FIXTURES / "nanogpt" / "train.log"
    # the log prints the vocabulary but not n_embd: the token embedding cannot be subtracted
    with pytest.warns(ReadLogsWarning, match=r"n_params = 1\.065e\+07 is nanoGPT's 'number of parameters', "
                                             r"which includes the token embedding \(n_embd not in the log"):
        df = sl.read_logs(path)
    assert df.attrs["sources"] == {str(path): "nanogpt"}
    assert points(df, "train") == {0: 4.2874, 50: 2.4914, 100: 2.3870}
    assert points(df, "val") == {0: 4.2823, 50: 2.5077, 100: 2.4062}
    # iter lines (one batch each) get their own split beside the eval lines
    assert points(df, "train_batch")[30] == 2.6248 and len(points(df, "train_batch")) == 8
    # "tokens per iteration will be: 16,384"
    val = df[df.split == "val"].set_index("step")
    assert val.loc[100, "n_tokens"] == 100 * 16_384
    assert df.attrs["headers"]["nanogpt"]["n_params_reported"] == pytest.approx(10.65e6)
    assert df.n_params.unique().tolist() == [pytest.approx(10.65e6)]
    # the optimiser's two lines: 10,740,096 decayed + 4,992 non-decayed
    assert set(df.n_params_total) == {10_745_088}


def test_nanogpt_parameter_count_is_non_embedding(tmp_path):
    """With the config nanoGPT prints (train_shakespeare_char.py), N is exact: it equals
    count_params for the same model (6 layers, d 384, vocab 65, block 256, no biases)."""
    from scalelaw import count_params

    text = (FIXTURES / "nanogpt" / "train.log").read_text()
    config = "n_layer = 6\nn_head = 6\nn_embd = 384\ndropout = 0.2\nblock_size = 256 # context of up to 256\n"
    head, rest = text.split("\n", 1)
    (tmp_path / "shakespeare.log").write_text(head + "\n" + config + rest)
    df = read_quiet(tmp_path / "shakespeare.log")
    expected = count_params(n_layer=6, d_model=384, vocab=65, n_ctx=256)
    assert set(df.n_params) == {expected["N"]} == {10_621_824}
    assert set(df.n_params_total) == {expected["N_total"]}
    # without the optimiser lines: the printed count minus the token embedding (0.01M rounding)
    lines = [line for line in (head + "\n" + config + rest).splitlines() if "parameter tensors" not in line]
    (tmp_path / "short.log").write_text("\n".join(lines) + "\n")
    df = read_quiet(tmp_path / "short.log")
    assert df.n_params.unique().tolist() == [pytest.approx(10.65e6 - 65 * 384)]
    assert abs(df.n_params.iloc[0] - expected["N"]) < 0.005e6 + 1


def test_nanogpt_iter_only_and_a_cut_line(tmp_path):
    (tmp_path / "out.txt").write_text(
        "iter 0: loss 4.0000, time 100.00ms, mfu -100.00%\n"
        "iter 10: loss 3.5000, time 20.00ms, mfu 10.00%\n"
        "iter 20: loss 3.2\n"
        "iter 30: lo\n")
    with pytest.warns(ReadLogsWarning, match=r"out\.txt:4: looks like a loss line"):
        df = sl.read_logs(tmp_path / "out.txt")
    assert points(df, "train") == {0: 4.0, 10: 3.5, 20: 3.2}
    assert "n_tokens" not in df.columns
    with pytest.warns(ReadLogsWarning):
        bits = sl.read_logs(tmp_path / "out.txt", loss_unit="bits")
    assert points(bits, "train") == {0: 4.0 * math.log(2), 10: 3.5 * math.log(2),
                                     20: 3.2 * math.log(2)}


def trainer_lines(run="gpt-0.4M"):
    header = {"run": run, "status": "complete", "config": {
        "model": {"n_layer": 2, "d_model": 64, "seq_len": 64}, "batch_size": 16,
        "schedule": "cosine:n_steps={n_steps},peak=3e-3"},
        "schedule": "cosine:n_steps=100,peak=3e-3", "n_params": 98_304, "n_params_total": 131_072,
        "seed": 0, "device": "cpu", "tokens_per_s": 51234.5, "mfu": None}
    rows = [{"run": run, "step": 0, "split": "val", "loss": 5.55, "lr": 0.0, "n_tokens": 0}]
    rows += [{"run": run, "step": s, "split": "train", "loss": 5.0 - s / 50, "lr": 3e-3,
              "n_tokens": s * 1024} for s in (10, 20, 30)]
    rows += [{"run": run, "step": 30, "split": "val", "loss": 4.5, "lr": 3e-3,
              "n_tokens": 30 * 1024}]
    return [json.dumps({"header": header})] + [json.dumps(r) for r in rows]


def test_trainer_jsonl_header_and_rows(tmp_path):
    (tmp_path / "gpt-0.4M.jsonl").write_text("\n".join(trainer_lines()) + "\n")
    df = read_quiet(tmp_path / "gpt-0.4M.jsonl")
    assert df.attrs["sources"] == {str(tmp_path / "gpt-0.4M.jsonl"): "scalelaw"}
    assert points(df, "train") == {10: 4.8, 20: 4.6, 30: 4.4}
    assert points(df, "val") == {0: 5.55, 30: 4.5}
    # run-level facts from the header; the resolved schedule, not the config's template
    assert set(df.n_params) == {98_304} and set(df.n_params_total) == {131_072}
    assert set(df.schedule) == {"cosine:n_steps=100,peak=3e-3"}
    assert set(df.batch_size) == {16} and set(df.seq_len) == {64}
    header = df.attrs["headers"]["gpt-0.4M"]
    assert header["tokens_per_s"] == 51234.5 and header["device"] == "cpu"
    assert "tokens_per_s" not in df.columns and "device" not in df.columns


def test_trainer_jsonl_malformed_line_and_null_loss(tmp_path):
    lines = trainer_lines("r")
    lines.insert(3, '{"run": "r", "step": 15, "split": "train", "loss": 4.')   # cut mid-write
    lines.append(json.dumps({"run": "r", "step": 40, "split": "train", "loss": None}))
    (tmp_path / "r.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.warns(ReadLogsWarning) as caught:
        df = sl.read_logs(tmp_path / "r.jsonl")
    messages = [str(w.message) for w in caught]
    assert any(m.startswith(f"{tmp_path / 'r.jsonl'}:4: malformed JSON") for m in messages)
    assert any("1 rows have an empty or null 'loss'" in m and "steps 40" in m for m in messages)
    assert sorted(points(df, "train")) == [10, 20, 30]
    assert df.attrs["skipped"] == messages


def test_trainer_jsonl_written_by_the_trainers_own_writer(tmp_path):
    runlog = pytest.importorskip("scalelaw.train.runlog", reason="trainer not in this checkout")
    header = {"run": "gpt-s", "config": {"batch_size": 8, "model": {"seq_len": 32}},
              "schedule": "constant:n_steps=3,peak=1e-3", "n_params": 5000, "seed": 1,
              "tokens_per_s": None}
    log = runlog.RunLog(tmp_path / "gpt-s.jsonl", header)
    for step, loss in ((1, 4.0), (2, float("nan")), (3, 3.5)):
        log.write({"run": "gpt-s", "step": step, "split": "train", "loss": loss,
                   "lr": 1e-3, "n_tokens": step * 256})
    log.write({"run": "gpt-s", "step": 3, "split": "val", "loss": 3.6, "n_tokens": 768})
    log.close(status="complete", tokens_per_s=1234.5)
    with pytest.warns(ReadLogsWarning, match=r"gpt-s\.jsonl: 1 rows have an empty or null "
                                             r"'loss'.*steps 2"):
        df = sl.read_logs(tmp_path)
    assert points(df, "train") == {1: 4.0, 3: 3.5} and points(df, "val") == {3: 3.6}
    assert set(df.n_params) == {5000} and set(df.seq_len) == {32}
    assert df.attrs["headers"]["gpt-s"]["tokens_per_s"] == 1234.5
    assert df.attrs["headers"]["gpt-s"]["status"] == "complete"


def _hf_checkpoint(tmp_path, model: dict, training: dict | None = None):
    run = tmp_path / "out" / "gpt-tiny"
    (run / "checkpoint-60").mkdir(parents=True)
    shutil.copy(FIXTURES / "hf" / "trainer_state.json", run / "checkpoint-60" / "trainer_state.json")
    (run / "checkpoint-60" / "config.json").write_text(json.dumps(model))
    if training is not None:
        (run / "config.yaml").write_text("".join(f"{k}: {v}\n" for k, v in training.items()))
    return run


GPT2_TINY = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "n_layer": 2, "n_embd": 64,
             "n_head": 2, "n_positions": 128, "vocab_size": 50257}


def test_hf_run_facts_from_config_json_and_training_settings(tmp_path):
    """N from the model's config.json (GPT-2 blocks: 4 d^2 attention + 2 d (4d) MLP per layer,
    Kaplan's 12 n_layer d^2); tokens per step = 8 per device x 4 accumulation x 2 devices x 96."""
    run = _hf_checkpoint(tmp_path, GPT2_TINY, {"gradient_accumulation_steps": 4, "world_size": 2,
                                               "max_seq_length": 96})
    df = read_quiet(tmp_path / "out")
    assert set(df.run) == {"gpt-tiny"}
    assert set(df.n_params) == {12 * 2 * 64 ** 2}
    assert set(df.batch_size) == {8 * 4 * 2} and set(df.seq_len) == {96}
    val = df[df.split == "val"].set_index("step")
    assert val.loc[40, "n_tokens"] == 40 * 8 * 4 * 2 * 96
    # the same checkpoint read as one file gives the same facts
    alone = read_quiet(run / "checkpoint-60" / "trainer_state.json")
    assert set(alone.n_params) == {12 * 2 * 64 ** 2} and set(alone.batch_size) == {64}


def test_hf_tokens_per_step_guesses_are_said(tmp_path):
    _hf_checkpoint(tmp_path, GPT2_TINY)
    with pytest.warns(ReadLogsWarning) as caught:
        df = sl.read_logs(tmp_path / "out")
    text = " | ".join(str(w.message) for w in caught)
    assert "seq_len = 128 taken from" in text and "config.json" in text
    assert "assuming gradient_accumulation_steps = 1 and one device" in text
    assert set(df.batch_size) == {8} and set(df.seq_len) == {128}


def test_hf_model_params_of_a_gated_gqa_model():
    """Llama-2-7B's config: 6.48e9 non-embedding (6.74e9 total less 2 x 32000 x 4096 embeddings
    and norms); grouped-query heads shrink k and v."""
    from scalelaw.io.hf import model_params

    llama = {"model_type": "llama", "num_hidden_layers": 32, "hidden_size": 4096, "intermediate_size": 11008,
             "num_attention_heads": 32, "num_key_value_heads": 32}
    n, _ = model_params(llama)
    assert n == 32 * (4 * 4096 ** 2 + 3 * 4096 * 11008)
    assert abs(n + 2 * 32000 * 4096 - 6.738e9) / 6.738e9 < 0.001
    gqa, _ = model_params({**llama, "num_key_value_heads": 8})
    assert n - gqa == 32 * 2 * 4096 * (4096 - 1024)
    assert model_params({"model_type": "t5", "num_layers": 6, "d_model": 512, "num_heads": 8,
                         "is_encoder_decoder": True})[0] is None
