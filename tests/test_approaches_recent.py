"""``2 isoflop recent`` (issue 18): Approach 2 with pure power laws through the latest budgets'
minima only, a candidate of compare_approaches' rolling-backtest choice. On a ladder whose
minima's descent speeds up with C (data/cpu_isoflop_bpe), a full-ladder power law plus constant
carries the early, slower rate forward and lands high; the local law follows the latest rate."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import scalelaw as sl
from scalelaw.approaches import RECENT, _fit_one, _recent_points

BUDGETS = 1e11 * 2.0 ** np.arange(8)
OPTS = {"budgets": None, "tol": 0.05, "profile": "parabola", "near": 3.0}


def steepening_ladder(curv=0.004, noise=0.0, seed=0):
    """An IsoFLOP ladder whose profiles are parabolas in ln N around N_opt = 0.1 C^0.5 and whose
    minima follow ln L_opt = ln 4.5 - 0.03 t - curv t^2 (t: doublings of C above 1e11), a descent
    that speeds up by 2 curv per doubling (curv = 0: a pure power law)."""
    rng = np.random.default_rng(seed)
    rows = []
    for t, C in enumerate(BUDGETS):
        l_opt = np.exp(np.log(4.5) - 0.03 * t - curv * t * t)
        n_opt = 0.1 * C ** 0.5
        for N in n_opt * np.geomspace(1 / 4, 4, 7):
            L = l_opt + 0.05 * np.log(N / n_opt) ** 2
            rows.append({"N": N, "C": C, "loss": L * np.exp(noise * rng.standard_normal())})
    return pd.DataFrame(rows), lambda t: np.exp(np.log(4.5) - 0.03 * t - curv * t * t)


def _budgeted(df):
    return sl.isoflop(df, inputs={"N": "N", "C": "C"}, n_boot=0).points


def test_recent_points_keeps_the_largest_budgets():
    pts = _budgeted(steepening_ladder()[0])
    kept = _recent_points(pts, RECENT)
    assert sorted(kept["budget"].unique()) == pytest.approx(sorted(BUDGETS[-RECENT:]))
    assert len(kept) == 7 * RECENT
    few = pts[pts["budget"] < BUDGETS[2] * 1.01]
    assert len(_recent_points(few, RECENT)) == len(few)  # no more budgets than RECENT: all kept


def test_recent_follows_a_speeding_descent_and_matches_a_pure_power_law():
    """Fitted on the first 5 budgets, predicting budgets 6-8 (one to three doublings out): on the
    steepening ladder the local law misses by at most 0.7x the full ladder's error (a straight line
    through the latest minima still lags a curve, by less); on a pure power law both are exact."""
    for curv in (0.002, 0.0):
        df, truth = steepening_ladder(curv)
        pts = _budgeted(df)
        fitted = pts[pts["budget"] < BUDGETS[5] * 0.99]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            full = _fit_one("2 isoflop", fitted, None, OPTS, 0, 0)
            recent = _fit_one("2 isoflop recent", fitted, None, OPTS, 0, 0)
        assert "k_L" in recent.params and "L_inf" not in recent.params  # a pure power law
        for t in (5, 6, 7):
            err_full = abs(float(full.predict(BUDGETS[t:t + 1], kind="parameter")["loss"][0]) / truth(t) - 1)
            err_recent = abs(float(recent.predict(BUDGETS[t:t + 1], kind="parameter")["loss"][0]) / truth(t) - 1)
            if curv:
                assert err_recent < 0.7 * err_full and err_full > 0.01
            else:
                assert err_recent < 1e-6 and err_full < 1e-6


@pytest.mark.slow
def test_compare_approaches_chooses_recent_only_where_the_fitted_budgets_show_a_speed_up():
    steep = sl.compare_approaches(steepening_ladder(0.002, noise=0.001)[0], inputs={"N": "N", "C": "C"},
                                  n_boot=0, C=1e14)
    assert steep.recommended == "2 isoflop recent"
    assert steep.rolling["2 isoflop recent"] < steep.rolling["2 isoflop"]


@pytest.mark.slow
def test_a_tie_in_the_rolling_backtest_goes_to_the_full_ladder_fit():
    """One origin on 3 fitted budgets: Approach 2 and its local variant fit the same 3 minima (with
    a collapsed floor, the same pure power law), so their rolling errors tie up to rounding."""
    df = steepening_ladder(0.0)[0]
    six = df[df["C"] < BUDGETS[6] * 0.99]  # 6 budgets: 4 fitted, 2 held out, 1 rolling origin
    cmp = sl.compare_approaches(six, inputs={"N": "N", "C": "C"}, n_boot=0, C=1e14)
    r = cmp.rolling
    assert abs(r["2 isoflop"] - r["2 isoflop recent"]) < 1e-4
    assert cmp.recommended != "2 isoflop recent"
