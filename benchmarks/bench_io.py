"""Read speed of ``read_logs`` against plain baselines, in one process.

* a 1M-row tidy CSV: ``read_logs`` vs ``pandas.read_csv`` (which does no validation, no
  de-duplication and no sorting, so it is the floor);
* a 100k-event TensorBoard file: ``read_logs`` vs tensorboard's ``EventAccumulator`` with
  ``size_guidance`` 0 for scalars (keep every event; its default keeps a 10,000-point sample per
  tag), when the tensorboard package is installed.

Run: ``python benchmarks/bench_io.py`` (add ``--rows`` / ``--events`` to change sizes).
"""

from __future__ import annotations

import argparse
import struct
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import scalelaw as sl
from scalelaw.io.tfrecord import write_record


def write_tidy_csv(path: Path, rows: int) -> None:
    """``rows`` rows over 100 runs, train every step and val every 10th, like a sweep's logs."""
    rng = np.random.default_rng(0)
    runs = 100
    steps = rows // runs
    step = np.tile(np.arange(1, steps + 1), runs)
    run = np.repeat([f"run{i:03d}" for i in range(runs)], steps)
    split = np.where(step % 10 == 0, "val", "train")
    loss = 2.0 + 8.0 / np.sqrt(step) + rng.normal(0, 0.01, step.size)
    pd.DataFrame({"run": run, "step": step, "split": split, "loss": loss,
                  "n_tokens": step * 65536, "lr": 3e-4}).to_csv(path, index=False)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _event(step: int, tag: bytes, value: float, wall: float) -> bytes:
    summary_value = b"\x0a" + _varint(len(tag)) + tag + b"\x15" + struct.pack("<f", value)
    summary = b"\x0a" + _varint(len(summary_value)) + summary_value
    return (b"\x09" + struct.pack("<d", wall) + b"\x10" + _varint(step)
            + b"\x2a" + _varint(len(summary)) + summary)


def write_events(path: Path, events: int) -> None:
    """A TensorBoard event file with ``events`` scalar events (train/loss and lr every step,
    val/loss every 50th), framed exactly as TensorBoard's writers frame them."""
    wall = time.time()
    with open(path, "wb") as f:
        version = b"brain.Event:2"
        write_record(f, b"\x09" + struct.pack("<d", wall) + b"\x1a" + _varint(len(version))
                     + version)
        written, step = 0, 0
        while written < events:
            step += 1
            for tag, value in ((b"train/loss", 2.0 + 8.0 / step ** 0.5), (b"lr", 3e-4)):
                write_record(f, _event(step, tag, value, wall + step))
                written += 1
            if step % 50 == 0 and written < events:
                write_record(f, _event(step, b"val/loss", 2.1 + 8.0 / step ** 0.5, wall + step))
                written += 1


def timed(fn, repeat: int = 3) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def tensorboard_baseline(directory: Path):
    try:
        from tensorboard.backend.event_processing import event_accumulator
    except ImportError:
        return None

    def read():
        acc = event_accumulator.EventAccumulator(str(directory), size_guidance={"scalars": 0})
        acc.Reload()
        return sum(len(acc.Scalars(tag)) for tag in acc.Tags()["scalars"])

    return read


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        csv_path = tmp / "sweep.csv"
        write_tidy_csv(csv_path, args.rows)
        t_pandas, raw = timed(lambda: pd.read_csv(csv_path), args.repeat)
        t_ours, tidy = timed(lambda: sl.read_logs(csv_path), args.repeat)
        assert len(tidy) == len(raw), (len(tidy), len(raw))
        print(f"tidy CSV, {len(raw):,} rows ({csv_path.stat().st_size / 1e6:.1f} MB)")
        print(f"  pandas.read_csv         {t_pandas:7.3f} s")
        print(f"  scalelaw.read_logs      {t_ours:7.3f} s   ({t_ours / t_pandas:.2f}x pandas)")

        tb_dir = tmp / "tb" / "run"
        tb_dir.mkdir(parents=True)
        events_path = tb_dir / "events.out.tfevents.0.bench"
        write_events(events_path, args.events)
        t_ours, tidy = timed(lambda: sl.read_logs(events_path), args.repeat)
        print(f"TensorBoard, {args.events:,} scalar events "
              f"({events_path.stat().st_size / 1e6:.1f} MB)")
        print(f"  scalelaw.read_logs      {t_ours:7.3f} s   ({len(tidy):,} loss rows, lr joined)")
        t_crc, _ = timed(lambda: sl.read_logs(events_path, verify_crc=True), 1)
        print(f"  read_logs, verify_crc   {t_crc:7.3f} s   (pure-Python CRC-32C of every record)")
        baseline = tensorboard_baseline(tb_dir)
        if baseline is None:
            print("  tensorboard not installed: no baseline")
        else:
            t_tb, n_tb = timed(baseline, args.repeat)
            print(f"  EventAccumulator (all)  {t_tb:7.3f} s   ({n_tb:,} scalars)"
                  f"   read_logs is {t_tb / t_ours:.1f}x faster")


if __name__ == "__main__":
    main()
