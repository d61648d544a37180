"""How far one AdamW step moves an encoder-decoder's encoder output, by encoder depth.

The diagnosis behind ``enc_lr_depth_power`` (data/cpu_numwords_dlr/README.md): the decoder's
cross-attention reads the encoder's output (its "memory"); with AdamW every block moves its
weights by ~LR a step whatever the depth, so a deeper encoder's memory moves further a step and
the decoder must learn to read a faster-moving target. Prints, for encoder depths 1, 2, 4 (one
decoder layer, seed 0, the first training batch of ``numwords``) and each
``enc_lr_depth_power``: |memory after - memory before| / |memory before| over the source bytes
after one step at LR 3e-3, and at initialisation the cosine similarity of memory rows holding
the same source byte (does depth wash out token identity at init?). Needs the numwords shards
(``scalelaw data build --names numwords``). Run from the repo root:

    python examples/encdec_encoder_step.py
"""

from __future__ import annotations

import argparse
import sys

import torch

from scalelaw.train.config import ModelConfig, TrainConfig
from scalelaw.train.data import PairData
from scalelaw.train.encdec import PAD, EncoderDecoder
from scalelaw.train.engine import _param_groups


def memory_step(n_enc_layer: int, power: float, lr: float = 3e-3) -> dict:
    torch.manual_seed(0)
    model_cfg = ModelConfig(arch="encdec", n_enc_layer=n_enc_layer, n_dec_layer=1, d_model=64,
                            n_head=4, seq_len=128)
    cfg = TrainConfig(model=model_cfg, pairs="numwords", batch_size=16, enc_lr_depth_power=power)
    pairs = PairData(cfg, "train")
    src, tgt_in, targets = (torch.from_numpy(a) for a in pairs.arrays(pairs.indices(1)))
    model = EncoderDecoder(model_cfg)
    groups = _param_groups(model, cfg)
    for group in groups:
        group["lr"] = lr * group["lr_scale"]
    opt = torch.optim.AdamW(groups, lr=lr, betas=(cfg.beta1, cfg.beta2))
    real = src != PAD
    with torch.no_grad():
        before = model.encode(src)[0][real].clone()
    unit = torch.nn.functional.normalize(before, dim=-1)
    same = (src[real][:, None] == src[real][None, :]).float()
    cos_same = float((unit @ unit.T * same).sum() / same.sum())
    model(src, tgt_in, targets).backward()
    opt.step()
    with torch.no_grad():
        after = model.encode(src)[0][real]
    return {"moved": float((after - before).norm() / before.norm()), "cos_same_byte": cos_same}


def main():
    torch.set_num_threads(1)
    res = {}
    for power in (0.0, 0.5, 1.0):
        for depth in (1, 2, 4):
            r = res[(power, depth)] = memory_step(depth, power)
            print(f"enc_lr_depth_power {power}: e{depth}d1 one step moves the memory "
                  f"{r['moved']:.3f} of its norm (init: same-byte cosine {r['cos_same_byte']:.3f})")
    return res


if __name__ == "__main__":
    # --help used to run the measurement (and, without the numwords shards, end in a traceback)
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    from scalelaw.train.corpora import MissingCorpusError

    try:
        main()
    except MissingCorpusError as err:  # the message names the corpus and the command that builds it
        sys.exit(f"encdec_encoder_step.py: {err}")
