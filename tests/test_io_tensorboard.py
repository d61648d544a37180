"""TensorBoard event files, written by torch's SummaryWriter (the real writer), read by our own
parser: every event kept, truncation and corruption reported, resumed runs merged."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest

import scalelaw as sl
from scalelaw.io import ReadLogsWarning

tensorboard_writer = pytest.importorskip("torch.utils.tensorboard",
                                         reason="torch's SummaryWriter is not installed")
SummaryWriter = tensorboard_writer.SummaryWriter


def f32(x: float) -> float:
    """simple_value is a float32 on disk."""
    return float(np.float32(x))


def train_curve(step: int) -> float:
    return 2.0 + 6.0 / math.sqrt(step)


def write_run(directory: Path, steps, *, val_every=100, lr=True) -> Path:
    writer = SummaryWriter(str(directory))
    for step in steps:
        writer.add_scalar("train/loss", train_curve(step), step)
        if lr:
            writer.add_scalar("train/lr", 1e-3 / step, step)
        if step % val_every == 0:
            writer.add_scalar("val/loss", train_curve(step) + 0.1, step)
    writer.close()
    (path,) = [p for p in directory.iterdir() if "tfevents" in p.name][-1:]
    return path


def read_quiet(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ReadLogsWarning)
        return sl.read_logs(*args, **kwargs)


def test_every_event_is_kept(tmp_path):
    # more than the 10,000 points tensorboard's EventAccumulator keeps per tag by default
    path = write_run(tmp_path / "gpt", range(1, 12_001), val_every=500)
    df = read_quiet(path)
    train = df[df.split == "train"].set_index("step")
    assert len(train) == 12_000 and set(df.run) == {"gpt"}
    assert train.loc[300, "loss"] == f32(train_curve(300))
    assert train.loc[12_000, "lr"] == f32(1e-3 / 12_000)
    val = df[df.split == "val"].set_index("step")
    assert list(val.index) == list(range(500, 12_001, 500))
    assert val.loc[1000, "loss"] == f32(train_curve(1000) + 0.1)
    assert df.attrs["sources"] == {str(path): "tensorboard"}


def test_tensor_scalars_and_tag_spellings(tmp_path):
    writer = SummaryWriter(str(tmp_path / "r"))
    for step in (10, 20):
        writer.add_scalar("Loss/train", 3.0 - step / 100, step)                # simple_value
        writer.add_scalar("eval/loss", 3.5 - step / 100, step, new_style=True)  # float tensor
        writer.add_scalar("val_code/loss", 4.0 - step / 100, step, new_style=True,
                          double_precision=True)                               # double tensor
        writer.add_scalar("learning_rate", 1e-4, step)
    writer.add_histogram("weights", np.arange(10.0), 10)
    writer.add_text("notes", "not a scalar", 10)
    writer.close()
    df = read_quiet(tmp_path / "r")
    got = {(r.split, r.step): r.loss for r in df.itertuples()}
    assert got == {("train", 10): f32(2.9), ("train", 20): f32(2.8),
                   ("val", 10): f32(3.4), ("val", 20): f32(3.3),
                   ("val_code", 10): 3.9, ("val_code", 20): 3.8}
    assert set(df.lr) == {f32(1e-4)}


def test_truncated_file_keeps_what_came_before(tmp_path):
    path = write_run(tmp_path / "run", range(1, 301), lr=False)
    data = path.read_bytes()
    cut = tmp_path / "cut" / path.name
    cut.parent.mkdir()
    cut.write_bytes(data[:-7])  # the last record loses its tail
    with pytest.warns(ReadLogsWarning) as caught:
        df = sl.read_logs(cut)
    (message,) = [str(w.message) for w in caught]
    assert message.startswith(str(cut)) and "truncated at byte" in message
    offset = int(message.split("truncated at byte ")[1].split()[0])
    assert 0 < offset < len(data) - 7
    train = df[df.split == "train"].set_index("step")
    # the last event written was val/loss at step 300; everything before it is kept
    assert len(train) == 300 and train.loc[300, "loss"] == f32(train_curve(300))
    assert sorted(df[df.split == "val"].step) == [100, 200]
    assert df.attrs["skipped"] == [message]


def test_checksums_catch_a_flipped_byte_when_asked(tmp_path):
    path = write_run(tmp_path / "run", range(1, 101), lr=False)
    data = bytearray(path.read_bytes())
    # flip a byte inside the float of the last train/loss event (4 bytes before its data CRC,
    # and before the final val/loss record)
    data[-(len(b"val/loss") + 40)] ^= 0xFF
    bad = tmp_path / "bad" / path.name
    bad.parent.mkdir()
    bad.write_bytes(bytes(data))
    with pytest.warns(ReadLogsWarning, match=r"corrupt record at byte \d+ \(data checksum"):
        checked = sl.read_logs(bad, verify_crc=True)
    assert len(checked[checked.split == "train"]) < 100
    assert read_quiet(path, verify_crc=True).shape[0] == 101


def test_resumed_run_in_two_event_files_is_one_run(tmp_path):
    run = tmp_path / "runs" / "resumed"
    write_run(run, range(1, 201), lr=False, val_every=1000)
    # the restart re-logs steps 151-200 with different values
    writer = SummaryWriter(str(run))
    for step in range(151, 301):
        writer.add_scalar("train/loss", 1.0 + 1.0 / step, step)
    writer.close()
    with pytest.warns(ReadLogsWarning, match=r"run 'resumed': 50 rows repeat"):
        df = sl.read_logs(tmp_path / "runs")
    train = df.set_index("step").loss
    assert set(df.run) == {"resumed"} and len(train) == 300
    assert train[100] == f32(train_curve(100)) and train[160] == f32(1.0 + 1.0 / 160)


def test_directory_of_runs_and_keras_split_folders(tmp_path):
    write_run(tmp_path / "tb" / "small", range(1, 51), lr=False, val_every=25)
    write_run(tmp_path / "tb" / "large", range(1, 51), lr=False, val_every=25)
    for split, offset in (("train", 0.0), ("validation", 0.2)):
        writer = SummaryWriter(str(tmp_path / "tb" / "keras" / split))
        for epoch in range(3):
            writer.add_scalar("epoch_loss", 3.0 - epoch + offset, epoch)
        writer.close()
    df = read_quiet(tmp_path / "tb")
    assert sorted(set(df.run)) == ["keras", "large", "small"]
    keras = df[df.run == "keras"]
    assert keras[keras.split == "val"].set_index("step").loss.to_dict() == {
        0: f32(3.2), 1: f32(2.2), 2: f32(1.2)}
    assert len(df[(df.run == "small") & (df.split == "train")]) == 50


def test_same_values_as_tensorboards_own_reader(tmp_path):
    accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    write_run(tmp_path / "run", range(1, 2001), val_every=250)
    acc = accumulator.EventAccumulator(str(tmp_path / "run"), size_guidance={"scalars": 0})
    acc.Reload()
    df = read_quiet(tmp_path / "run")
    for tag, split in (("train/loss", "train"), ("val/loss", "val")):
        theirs = {e.step: e.value for e in acc.Scalars(tag)}
        ours = df[df.split == split].set_index("step").loss.to_dict()
        assert ours == theirs
    theirs_lr = {e.step: e.value for e in acc.Scalars("train/lr")}
    assert df[df.split == "train"].set_index("step").lr.to_dict() == theirs_lr


def test_nan_scalar_is_dropped_and_reported(tmp_path):
    writer = SummaryWriter(str(tmp_path / "div"))
    for step, value in ((1, 3.0), (2, float("nan")), (3, float("inf")), (4, 2.0)):
        writer.add_scalar("train/loss", value, step)
    writer.close()
    with pytest.warns(ReadLogsWarning, match=r"2 rows dropped .*steps 2, 3"):
        df = sl.read_logs(tmp_path / "div")
    assert df.set_index("step").loss.to_dict() == {1: 3.0, 4: 2.0}
