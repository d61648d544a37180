"""Column and tag names: which is the step, which is a loss of which split and unit; and the
import of scalelaw.io staying light."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from scalelaw.io import guess_columns
from scalelaw.io.columns import parse_loss_name, parse_target


@pytest.mark.parametrize("name, split, unit", [
    ("loss", None, None),
    ("train/loss", "train", None),
    ("train_loss", "train", None),
    ("eval_loss", "val", None),
    ("val/loss", "val", None),
    ("val_loss", "val", None),
    ("validation_loss", "val", None),
    ("valLoss", "val", None),
    ("val_code/loss", "val_code", None),
    ("eval_wikitext_loss", "val_wikitext", None),
    ("Loss/train", "train", None),
    ("loss/val_general", "val_general", None),
    ("test_loss", "test", None),
    ("lm loss", None, None),
    ("val/lm_loss", "val", None),
    ("train_loss_step", "train", None),
    ("val_loss_bits", "val", "bits"),
    ("val/bpb", "val", "bits_per_byte"),
    ("val bits per byte", "val", "bits_per_byte"),
])
def test_loss_names(name, split, unit):
    parsed = parse_loss_name(name)
    assert parsed is not None and parsed.split == split and parsed.unit == unit


@pytest.mark.parametrize("name", ["train/loss_scale", "aux_loss", "z_loss", "hparam/loss",
                                  "grad_norm", "run-a - train/loss__MIN", "loss__MAX",
                                  "accuracy"])
def test_not_losses(name):
    assert parse_loss_name(name) is None


def test_guess_columns_picks_the_best_of_each_field():
    frame = pd.DataFrame(columns=["_step", "_runtime", "train/global_step", "train/loss",
                                  "train/learning_rate", "eval/loss", "train/epoch",
                                  "num_input_tokens_seen", "grad_norm"])
    assert guess_columns(frame) == {
        "train/global_step": "step", "train/loss": "train/loss",
        "train/learning_rate": "lr", "eval/loss": "val/loss", "train/epoch": "epoch",
        "num_input_tokens_seen": "n_tokens"}


def test_guess_columns_lightning_and_tidy():
    assert guess_columns(["epoch", "step", "train_loss_step", "val_loss", "train_loss_epoch",
                          "lr-AdamW"]) == {
        "epoch": "epoch", "step": "step", "train_loss_step": "train/loss",
        "val_loss": "val/loss", "lr-AdamW": "lr"}
    assert guess_columns(["run", "step", "split", "loss", "n_tokens", "n_params", "block_size",
                          "iter"]) == {
        "run": "run", "step": "step", "split": "split", "loss": "loss",
        "n_tokens": "n_tokens", "n_params": "n_params", "block_size": "seq_len"}


def test_guessed_targets_round_trip_through_parse_target():
    guessed = guess_columns(["global_step", "eval_code_loss", "loss"])
    assert [parse_target(t) for t in guessed.values()] == [
        ("step", None), ("loss", "val_code"), ("loss", None)]


def test_guess_columns_feeds_read_logs(tmp_path):
    import scalelaw as sl

    pd.DataFrame({"iteration": [5, 10], "eval_code_loss": [2.0, 1.8],
                  "tokens_seen": [640, 1280]}).to_csv(tmp_path / "t.csv", index=False)
    mapping = guess_columns(pd.read_csv(tmp_path / "t.csv"))
    assert mapping == {"iteration": "step", "eval_code_loss": "val_code/loss",
                       "tokens_seen": "n_tokens"}
    df = sl.read_logs(tmp_path / "t.csv", columns=mapping)
    assert df.loss.tolist() == [2.0, 1.8] and df.n_tokens.tolist() == [640, 1280]
    assert set(df.split) == {"val_code"}


def test_import_is_light():
    code = ("import sys, scalelaw as sl, scalelaw.io\n"
            "sl.read_logs\n"
            "heavy = {'torch', 'tensorboard', 'tensorflow', 'lmfit', 'plotly', 'streamlit',"
            " 'yaml'}\n"
            "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_columns_in_lists_what_a_log_offers(tmp_path):
    from pathlib import Path

    from scalelaw.io import columns_in

    fixtures = Path(__file__).parent / "fixtures" / "logs"
    hf_names = columns_in(fixtures / "hf" / "trainer_state.json")
    assert hf_names[:5] == ["epoch", "grad_norm", "learning_rate", "loss", "step"]
    assert "eval_loss" in hf_names and "train_runtime" not in hf_names  # summary entry
    assert columns_in(fixtures / "wandb" / "wide_export.csv") == ["Step", "train/loss"]
    assert guess_columns(columns_in(fixtures / "lightning" / "version_0" / "metrics.csv")) == {
        "epoch": "epoch", "step": "step", "lr-AdamW": "lr", "train_loss_step": "train/loss",
        "val_loss": "val/loss"}
    assert columns_in(b"global_step,eval_loss\n1,2.0\n") == ["global_step", "eval_loss"]
    torch_tb = pytest.importorskip("torch.utils.tensorboard")
    writer = torch_tb.SummaryWriter(str(tmp_path / "tb"))
    writer.add_scalar("Loss/val", 1.0, 1)
    writer.add_scalar("optim/lr", 1e-3, 1)
    writer.close()
    (events,) = (tmp_path / "tb").iterdir()
    assert columns_in(events) == ["Loss/val", "optim/lr"]
