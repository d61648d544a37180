"""Does an encoder-decoder checkpoint use its source sentence? A check before fitting ``encdec``.

Ghorbani et al.'s law describes models that translate: their loss depends on the encoder
because the decoder reads the source. A small model early in training is often only a language
model of the target side; then encoder size cannot matter and the law's encoder exponent is not
identified. This script evaluates a checkpoint of our trainer on its fixed held-out pairs twice:
with each pair's own source, and with the sources of the batch rotated by one (every target gets
another sentence's source). The rise in loss is what the source is worth to the model:

    scalelaw train --preset e2d2-128 --save-checkpoint --out runs/mt   # or any encdec run
    python examples/encdec_source_check.py runs/mt/<run>.pt [--data-root shards] [--pairs 512]

Needs torch and the ``enfr`` corpus (``scalelaw data build``). With no checkpoint it shows the
mechanics on a smoke run: it builds the tiny corpus and trains ``tiny-encdec`` for ``--steps``
steps in a temporary folder (a minute or two on a CPU), then checks that checkpoint; a model
that small and that short says little about translation.
"""

from __future__ import annotations

import argparse

import torch

from scalelaw.train import checkpoint
from scalelaw.train.config import TrainConfig, apply_overrides
from scalelaw.train.data import PairBatches
from scalelaw.train.encdec import EncoderDecoder


@torch.no_grad()
def source_losses(ckpt_path, data_root=None, n_pairs=None) -> dict:
    """Mean held-out loss (nats per target byte) with the true and the rotated sources."""
    ckpt = checkpoint.load(ckpt_path)
    cfg = TrainConfig.from_dict(ckpt["config"])
    if cfg.model.arch != "encdec":
        raise ValueError(f"{ckpt_path} is a {cfg.model.arch!r} checkpoint; this check is for "
                         "encdec")
    changes = {"device": "cpu"}
    if data_root:
        changes["data_root"] = str(data_root)
    if n_pairs:
        changes["eval_seqs"] = int(n_pairs)
    cfg = apply_overrides(cfg, changes)
    model = EncoderDecoder(cfg.model)
    model.load_state_dict(ckpt["model"])
    model.eval()
    totals = {"own source": 0.0, "another pair's source": 0.0}
    n_total = 0
    for (src, tgt_in, targets), n in PairBatches(cfg, torch.device("cpu")).val(("val", cfg.pairs)):
        src, tgt_in, targets = src[0], tgt_in[0], targets[0]
        totals["own source"] += float(model(src, tgt_in, targets)) * n
        totals["another pair's source"] += float(model(src.roll(1, dims=0), tgt_in, targets)) * n
        n_total += n
    return {"run": cfg.run_name, "step": ckpt["step"], "target_bytes": n_total,
            **{k: v / n_total for k, v in totals.items()}}


def smoke_checkpoint(folder, steps: int):
    """Build the tiny corpus and train ``tiny-encdec`` for ``steps`` steps in ``folder``;
    return (checkpoint path, shard root)."""
    from pathlib import Path

    from scalelaw.train import corpora
    from scalelaw.train.config import get_preset
    from scalelaw.train.loop import train

    shards = Path(folder) / "shards"
    corpora.build(shards, tiny=True, names=["enfr"], progress=False)
    cfg = get_preset("tiny-encdec", n_steps=steps, device="cpu", data_root=str(shards), out_dir=str(folder),
                     save_checkpoint=True)
    train(cfg, progress=False)
    return Path(folder) / f"{cfg.run_name}.pt", shards


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", nargs="?", default=None,
                    help="an encoder-decoder checkpoint of `scalelaw train` (default: train a tiny one)")
    ap.add_argument("--data-root", default=None, help="shard folder (default: the run's)")
    ap.add_argument("--pairs", type=int, default=None,
                    help="held-out pairs (default: the run's eval_seqs)")
    ap.add_argument("--steps", type=int, default=50,
                    help="steps of the tiny smoke run when no checkpoint is given (default 50)")
    args = ap.parse_args(argv)
    try:
        if args.checkpoint is None:
            import tempfile

            with tempfile.TemporaryDirectory() as tmp:
                print(f"no checkpoint given: training tiny-encdec for {args.steps} steps on the tiny "
                      "enfr corpus (a smoke run; pass a checkpoint for a real check)")
                ckpt, shards = smoke_checkpoint(tmp, args.steps)
                res = source_losses(ckpt, args.data_root or shards, args.pairs)
        else:
            res = source_losses(args.checkpoint, args.data_root, args.pairs)
    except (FileNotFoundError, ValueError) as err:  # ConfigError is a ValueError
        raise SystemExit(f"encdec_source_check: {err}") from None
    own, other = res["own source"], res["another pair's source"]
    print(f"{res['run']} at step {res['step']}, {res['target_bytes']:,} held-out target bytes:")
    print(f"  loss with its own source      {own:.4f}")
    print(f"  loss with another's source    {other:.4f}  ({100 * (other / own - 1):+.1f}%: "
          "what reading the source is worth)")
    return res


if __name__ == "__main__":
    main()
