"""Luo et al. 2025's published multi-schedule curves (../shared/validation/mpl_*.csv), with each
run's per-step LR rebuilt as that folder's README says. Shared by the multi_power examples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from scalelaw import schedules as S

VALIDATION = Path(__file__).resolve().parents[2] / "shared" / "validation"
NAMES = ["cosine_24000", "constant_24000", "wsdcon_9", "wsd_20000_24000", "wsdld_20000_24000",
         "wsdcon_3", "wsdcon_18", "cosine_72000", "constant_72000"]
TRAIN = NAMES[:3]  # the authors' split: fit these three, predict the other six
PEAK, FLOOR, WARMUP = 3e-4, 3e-5, 2160
# the authors' published fits (their config.py), [L0, A, alpha, B, C, beta, gamma]
PUBLISHED = {"25M": [3.04045406, 0.52468604, 0.50786857, 363.78751622, 2.06560812, 0.58279013, 0.64142257],
             "100M": [2.6514477, 0.60115152, 0.45295811, 437.9464276, 2.13245612, 0.59785199, 0.65523644]}


def schedule(name: str, n_steps: int) -> np.ndarray:
    """Per-step LR of one published run (linear warm-up 0 -> 3e-4 over 2,160 steps)."""
    if name.startswith("constant"):
        return S.constant(n_steps, PEAK, warmup=WARMUP)
    if name.startswith("cosine"):
        return S.cosine(n_steps, PEAK, FLOOR, warmup=WARMUP)
    lr = S.constant(n_steps, PEAK, warmup=WARMUP)
    s = np.arange(1, n_steps + 1)
    if name.startswith("wsdcon"):  # drop at step 8,000 to X * 1e-5
        lr[(s >= 8000) & (s < 16000)] = int(name.split("_")[1]) * 1e-5
        return lr
    decay = s > 20000
    t = (s[decay] - 20000) / (n_steps - 20000)
    lr[decay] = PEAK ** (1 - t) * FLOOR ** t if name.startswith("wsd_") else PEAK + (FLOOR - PEAK) * t
    return lr


def load(size: str, folder: Path = VALIDATION):
    """(curves, schedules): tidy rows run, step, loss of the nine runs of one size, and their LRs."""
    frames, lrs = [], {}
    for name in NAMES:
        d = pd.read_csv(folder / f"mpl_{size}_{name}.csv").assign(run=name)
        n_steps = int(name.split("_")[-1]) if name.split("_")[-1].isdigit() and int(name.split("_")[-1]) > 100 \
            else int(d["step"].max())
        lrs[name] = schedule(name, n_steps)
        frames.append(d[["run", "step", "loss"]])
    return pd.concat(frames, ignore_index=True), lrs
