"""Shared fixtures: synthetic data from known parameters, and the published validation data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

VALIDATION = Path(__file__).resolve().parents[1].parent / "shared" / "validation"


@pytest.fixture
def validation_dir():
    if not VALIDATION.is_dir():
        pytest.skip(f"published validation data not found at {VALIDATION} (../shared/validation)")
    return VALIDATION


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def noisy(values, rng, sigma):
    """Multiplicative log-normal noise: log residuals ~ N(0, sigma)."""
    return np.asarray(values) * np.exp(rng.normal(0.0, sigma, np.shape(values)))


CHINCHILLA_TRUE = dict(E=1.69, A=406.4, alpha=0.34, B=410.7, beta=0.28)


def isoflop_upload_csv() -> bytes:
    """An IsoFLOP ladder as a user would upload it (CSV bytes): 6 budgets 1e18-3e20 FLOPs x 6 sizes
    spread 16x around each budget's optimum, noise-free Hoffmann losses, one val row per run."""
    rows = []
    for C in [1e18, 3e18, 1e19, 3e19, 1e20, 3e20]:
        n_opt = 0.6 * (C / 6) ** 0.45
        for N in n_opt * np.geomspace(1 / 4, 4, 6):
            D = C / (6 * N)
            rows.append({"run": f"C{C:g}_N{N:.4g}", "step": 1000, "split": "val", "n_params": N, "n_tokens": D,
                         "loss": 1.69 + 406.4 / N ** 0.34 + 410.7 / D ** 0.28})
    return pd.DataFrame(rows).to_csv(index=False).encode()


def training_curves(loss, n_sizes: int, n_ends: int, n_points: int) -> pd.DataFrame:
    """Training curves for the envelope (Approach 1): ``n_sizes`` sizes N in 3e7-3e9, each trained
    to ``n_ends`` token counts D_end in 1e9-3e11, logged at ``n_points`` D from D_end / 20 to
    D_end; ``loss(N, D)`` gives each point's loss (one val row per point, flops = 6 N D)."""
    rows = []
    for N in np.geomspace(3e7, 3e9, n_sizes):
        for D_end in np.geomspace(1e9, 3e11, n_ends):
            for D in np.geomspace(D_end / 20, D_end, n_points):
                rows.append({"run": f"N{N:.3g}_D{D_end:.3g}", "step": D, "split": "val", "n_params": N,
                             "n_tokens": D, "flops": 6 * N * D, "loss": loss(N, D)})
    return pd.DataFrame(rows)


@pytest.fixture
def chinchilla_grid(rng):
    """A real 2-D (N, D) grid (not D proportional to N), 0.3% noise, Hoffmann's parameters."""
    from scalelaw.laws.chinchilla import chinchilla

    N, D = (a.ravel() for a in np.meshgrid(np.geomspace(1e7, 3e9, 8), np.geomspace(1e9, 3e11, 8)))
    loss = noisy(chinchilla(N, D, **CHINCHILLA_TRUE), rng, 0.003)
    runs = [f"r{i}" for i in range(len(N))]
    return pd.DataFrame({"run": runs, "n_params": N, "n_tokens": D, "loss": loss})


@pytest.fixture(scope="session")
def shards(tmp_path_factory):
    """The tiny corpora (built in under a second from files on any machine), shared by the
    trainer tests."""
    from scalelaw.train import corpora

    root = tmp_path_factory.mktemp("shards")
    corpora.build(root, tiny=True, progress=False)
    return root


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models run as fast on one thread, and stay fast when other processes share the CPU
    (two OpenMP threads on a busy 2-core machine wait on each other ~10x longer)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
