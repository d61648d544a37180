"""What ``trim_pairs`` saves: encoder-decoder training steps with each batch cut to its longest
pair, against the same steps padded to ``seq_len`` (the default), in this process.

``trim_pairs`` changes no loss (PAD keys are masked, PAD targets carry no loss, the decoder is
causal; ``tests/test_train_loop.py::test_trim_pairs_gives_the_padded_runs_losses_on_shorter_batches``),
only the work: the number corpora have short sides (``numdigits``' sources and ``numparse``'s
targets are <= 9 bytes, at seq_len 112). Timed in this process's CPU time (steady on a shared
machine), padded and trimmed blocks alternated and repeated, the same batches (steps) for both.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_trim_pairs.py [--pairs numdigits] [--sizes 1x1,1x4]
        [--steps 20] [--repeats 3] [--data-root shards]

Needs the corpus's shards (``scalelaw data build --names numdigits``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

from scalelaw.train.config import ModelConfig, TrainConfig  # noqa: E402
from scalelaw.train.data import PairBatches  # noqa: E402
from scalelaw.train.engine import build_engine, initial_state  # noqa: E402


def seconds_per_step(cfg: TrainConfig, steps: range) -> float:
    """CPU seconds per training step of a fresh model of ``cfg`` over ``steps`` (after one
    untimed warm-up step)."""
    device = torch.device("cpu")
    engine = build_engine([cfg], device, False, [initial_state(cfg)])
    batches = PairBatches(cfg, device)
    engine.train_step(batches.train(steps[0]), steps[0])
    start = time.process_time()
    for step in steps:
        engine.train_step(batches.train(step), step)
    return (time.process_time() - start) / len(steps)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", default="numdigits")
    ap.add_argument("--sizes", default="1x1,1x4", help="encoder x decoder layers, comma-separated")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seq-len", type=int, default=112)
    ap.add_argument("--data-root", default=None)
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    print(f"pairs={args.pairs} seq_len={args.seq_len} batch 16, d_model 64, {args.steps} steps x "
          f"{args.repeats} repeats, CPU seconds per step (torch threads {torch.get_num_threads()})")
    print("| encoder x decoder | padded | trimmed | padded / trimmed |\n|---|---|---|---|")
    for size in args.sizes.split(","):
        n_enc, n_dec = (int(x) for x in size.split("x"))
        model = ModelConfig(arch="encdec", n_enc_layer=n_enc, n_dec_layer=n_dec, d_model=64,
                            n_head=4, seq_len=args.seq_len)
        times = {False: [], True: []}
        for r in range(args.repeats):
            for trim in (False, True):  # alternated, so a change of load hits both alike
                cfg = TrainConfig(model=model, pairs=args.pairs, batch_size=16, n_steps=10_000,
                                  device="cpu", data_root=args.data_root, trim_pairs=trim,
                                  schedule="constant:n_steps={n_steps},peak=1e-3")
                first = 1 + r * (args.steps + 1)
                times[trim].append(seconds_per_step(cfg, range(first, first + args.steps + 1)))
        padded, trimmed = (min(times[t]) for t in (False, True))
        print(f"| {n_enc} x {n_dec} | {padded:.4f} | {trimmed:.4f} | {padded / trimmed:.2f}x |")


if __name__ == "__main__":
    main()
