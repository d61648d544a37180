"""compare_approaches' floor check (issue 18): a recommended forecast whose floor (E, L_inf)
collapsed to 0 is a pure power law in C and says so; on data/cpu_isoflop every candidate's floor
collapses on the fitted budgets, which is why every parametric path lands low at 3.2e12."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import scalelaw as sl
from scalelaw.approaches import _floor

A, ALPHA, B, BETA = 406.4, 0.34, 410.7, 0.28
BUDGETS = [1e18, 3e18, 1e19, 3e19, 1e20, 3e20, 1e21]
ISO = Path(__file__).resolve().parents[1] / "data" / "cpu_isoflop"


def _first_six_budgets():
    """The complete logs of data/cpu_isoflop's first six budgets (1e11-3.2e12), the ladder these
    tests' figures were measured on; the seventh (6.4e12, session 8) is scored in its README."""
    return [f for f in sorted(ISO.glob("*.jsonl")) if not f.name.startswith("iso_C6.4e12")
            and json.loads(f.open().readline()).get("header", {}).get("status") == "complete"]


def ladder(E, noise=0.002, seed=3):
    """An IsoFLOP ladder of L = E + A/N^alpha + B/D^beta, 7 sizes around each budget's optimum."""
    rng = np.random.default_rng(seed)
    G = (ALPHA * A / (BETA * B)) ** (1 / (ALPHA + BETA))
    rows = []
    for C in BUDGETS:
        for N in G * (C / 6) ** (BETA / (ALPHA + BETA)) * np.geomspace(1 / 4, 4, 7):
            L = E + A / N ** ALPHA + B / (C / (6 * N)) ** BETA
            rows.append({"n_params": N, "flops": C, "loss": L * np.exp(noise * rng.standard_normal())})
    return pd.DataFrame(rows)


def test_floor_of_each_kind_of_fit():
    class Fit:
        def __init__(self, **p):
            self.params = p

    assert _floor(None) is None
    assert _floor(Fit(E=1.7, A=1.0)) == ("E", 1.7)
    assert _floor(Fit(a=0.5, L_inf=0.0, C0=1.0)) == ("L_inf", 0.0)
    assert _floor(Fit(a=0.5, k_L=3.0, a_L=-0.1))[1] == 0.0  # a pure power law has no floor


@pytest.mark.slow
def test_warning_when_the_recommended_floor_collapses_and_not_when_the_law_has_one():
    kw = dict(inputs={"N": "n_params", "C": "flops"}, C=1e22, n_boot=0)
    hoff = sl.compare_approaches(ladder(E=1.69), **kw)
    name, value = _floor(hoff.fits[hoff.recommended])
    assert value == pytest.approx(1.69, rel=0.03)  # the known floor, recovered
    assert not any(w.startswith("recommended path") for w in hoff.warnings)
    pure = sl.compare_approaches(ladder(E=0.0), **kw)
    assert _floor(pure.fits[pure.recommended])[1] < 1e-3
    hits = [w for w in pure.warnings if w.startswith("recommended path")]
    assert len(hits) == 1 and pure.recommended in hits[0] and "at its bound 0" in hits[0]
    assert "per doubling of C" in hits[0]


@pytest.mark.slow
@pytest.mark.skipif(not ISO.is_dir(), reason="data/cpu_isoflop not bundled")
def test_cpu_isoflop_floors_collapse_on_the_fitted_budgets():
    """Fitted on the 4 smaller budgets (1e11-8e11), chinchilla near each optimum and Approach 2's
    L_opt(C) both put their floor at 0 (benchmarks/study_isoflop_floor.py); the minima a pure power
    law extrapolates fall 0.083 then 0.069 and 0.055 per doubling beyond (best runs)."""
    from scalelaw.approaches import _fit_one

    files = _first_six_budgets()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pts = sl.final_points(pd.concat([sl.read_logs(f) for f in files], ignore_index=True), split="val")
    iso = sl.isoflop(pts, inputs={"N": "n_params", "D": "n_tokens"}, n_boot=0)
    assert len(iso.optima) == 6
    fitted = iso.points[iso.points["budget"] < 1e12]
    opts = {"budgets": None, "tol": 0.05, "profile": "parabola", "near": 3.0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        near = _fit_one("3 near-optimum", fitted, None, opts, 0, 0)
        a2 = _fit_one("2 isoflop", fitted, None, opts, 0, 0)
    assert near.params["E"] < 1e-3 and a2.params["L_inf"] < 1e-3
    drops = -np.diff(np.log(iso.optima["best_loss"].to_numpy()))
    assert drops[2] > drops[3] > drops[4]
    # and so the pure power laws land low at the largest budget (measured -3.5% and -4.8%)
    truth = iso.optima["loss_opt"].iloc[-1]
    for fit_loss in (near.optimum(C=np.array([iso.optima["C"].iloc[-1]]))["loss"][0],
                     a2.predict(iso.optima["C"].iloc[-1])["loss"]):
        assert -0.06 < fit_loss / truth - 1 < -0.02
    # a user holding only those 4 budgets is told: the recommended forecast has no floor
    few = pts[6 * pts["n_params"] * pts["n_tokens"] < 1e12]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cmp = sl.compare_approaches(few, inputs={"N": "n_params", "D": "n_tokens"}, n_boot=0)
    assert any(w.startswith(f"recommended path ({cmp.recommended})") for w in cmp.warnings)


def hidden_floor_ladder(seed, nb=6, noise=0.005):
    """Hoffmann's law (E = 1.69) on budgets 1e15 x 2^k, where L_opt is 7.0 to 4.0 and 4 budgets
    with 0.5% noise often cannot see the floor (benchmarks/study_isoflop_interval.py)."""
    rng = np.random.default_rng(100 + seed)
    G = (ALPHA * A / (BETA * B)) ** (1 / (ALPHA + BETA))
    rows = []
    for C in 1e15 * 2.0 ** np.arange(nb):
        for N in G * (C / 6) ** (BETA / (ALPHA + BETA)) * np.geomspace(1 / 4, 4, 6):
            L = 1.69 + A / N ** ALPHA + B / (C / (6 * N)) ** BETA
            rows.append({"n_params": N, "flops": C, "loss": L * np.exp(noise * rng.standard_normal())})
    return pd.DataFrame(rows)


def test_interval_covers_when_the_fitted_floor_collapses_below_a_known_floor():
    """Fitted on 4 budgets whose floor (E = 1.69) the noise hides, Approach 2's L_opt(C) puts L_inf
    at 0 and lands low two doublings out; its interval (one rolling origin: the documented fallback,
    which says it is not calibrated) still covers both held-out minima at 80%, and is wider further out."""
    df = hidden_floor_ladder(seed=0)
    full = sl.isoflop(df, inputs={"N": "n_params", "C": "flops"}, n_boot=0)
    held = full.optima.iloc[-2:]
    fit = sl.isoflop(df[df["flops"] < held["C"].min()], inputs={"N": "n_params", "C": "flops"}, n_boot=50, seed=0)
    assert fit.params["L_inf"] < 1e-3  # the known floor 1.69 is not seen
    p = fit.predict(held["C"].to_numpy(), level=0.8)
    truth = held["loss_opt"].to_numpy()
    assert p["loss"][-1] < truth[-1]  # a pure power law: too low
    assert fit.calibration.method == "fallback" and "NOT calibrated" in p["interval"]
    assert np.all((p["loss_lo"] <= truth) & (truth <= p["loss_hi"]))
    assert np.all(np.diff(np.log(p["loss_hi"] / p["loss_lo"])) > 0)


@pytest.mark.slow
@pytest.mark.skipif(not ISO.is_dir(), reason="data/cpu_isoflop not bundled")
def test_cpu_isoflop_intervals_cover_the_held_out_budgets():
    """Fit 4 budgets, hold out 1.6e12 and 3.2e12: the recommended path's 80% interval covers both
    held-out minima, though its point lands 3.5% low at 3.2e12 (its floor is 0); it is the
    fallback width (one rolling origin) and the warnings say so."""
    files = _first_six_budgets()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pts = sl.final_points(pd.concat([sl.read_logs(f) for f in files], ignore_index=True), split="val")
        cmp = sl.compare_approaches(pts, inputs={"N": "n_params", "D": "n_tokens"}, n_boot=30, level=0.8)
    rec = cmp.backtest[cmp.backtest["approach"].str.startswith("recommended")]
    assert len(rec) == 2 and rec["covered"].all()
    assert rec["rel_err"].iloc[-1] < -0.02
    assert any("fallback width" in w for w in cmp.warnings)


def test_floor_warning_says_whether_the_minima_descent_slows_or_speeds_up():
    from scalelaw.approaches import _descent

    def optima(drops):
        L = 4.5 * np.exp(-np.concatenate([[0.0], np.cumsum(drops)]))
        return pd.DataFrame({"C": 1e11 * 2.0 ** np.arange(len(L)), "loss_opt": L, "convex": True, "edge": False})

    fast = _descent(optima([0.02, 0.03, 0.04]))
    assert "0.020" in fast and "0.040" in fast and "speeding up" in fast
    slow = _descent(optima([0.05, 0.04, 0.03]))
    assert "0.050" in slow and "0.030" in slow and "slowing" in slow
    edge = optima([0.02, 0.03, 0.04]).assign(edge=[True, False, False, False])
    assert "0.030" in _descent(edge).split("smallest")[0]  # edge budgets are not read
    assert _descent(optima([0.02])) == ""  # two budgets: one drop, nothing to compare
    # a turn inside the ladder is named with where it was (data/cpu_isoflop_bpe sped up, then slowed)
    turn = optima([0.026, 0.046, 0.043, 0.031])
    said = _descent(turn)
    assert "0.026" in said and "0.031" in said and "fastest, 0.046, between 2e+11 and 4e+11, then slowing" in said
    dip = optima([0.05, 0.01, 0.03])
    assert "slowest, 0.010, between 2e+11 and 4e+11, then speeding up" in _descent(dip)
