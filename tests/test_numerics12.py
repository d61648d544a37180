"""Numerical robustness of fit / predict / bootstrap (session 12 audit): unit and row-order
invariance, and the places where a fit or a prediction was silently meaningless.

Data come from each law with known parameters (multiplicative noise as in conftest.noisy).
"""

import warnings

import numpy as np
import pandas as pd
import pytest

import scalelaw as sl
from scalelaw import schedules as S
from scalelaw.laws.chinchilla import chinchilla
from scalelaw.laws.kaplan_nd import kaplan_nd
from scalelaw.laws.lr_annealing import annealing_area, effective_lr, forward_area, lr_annealing
from scalelaw.laws.multi_power import multi_power

from conftest import CHINCHILLA_TRUE, noisy


def _grid(*axes):
    return [a.ravel() for a in np.meshgrid(*axes)]


def _chinchilla_frame(rng, sigma=0.002):
    N, D = _grid(np.geomspace(1e7, 3e9, 6), np.geomspace(1e9, 3e11, 6))
    return pd.DataFrame({"n_params": N, "n_tokens": D, "loss": noisy(chinchilla(N, D, **CHINCHILLA_TRUE), rng, sigma)})


def _kaplan_frame(rng):
    N, D = _grid(np.geomspace(1e6, 1e8, 6), np.geomspace(1e8, 1e10, 6))
    L = kaplan_nd(N, D, N_c=8.8e13, alpha_N=0.076, D_c=5.4e13, alpha_D=0.095)
    return pd.DataFrame({"n_params": N, "n_tokens": D, "loss": noisy(L, rng, 0.002)})


def _power_law_frame(rng):
    x = np.geomspace(1e15, 1e21, 25)
    return pd.DataFrame({"flops": x, "loss": noisy(1.7 + (3e13 / x) ** 0.08, rng, 0.002)})


# ---- invariances that held in the audit (guards) ---------------------------------------------

@pytest.mark.parametrize("factor", [1e-6, 1e6])
@pytest.mark.parametrize("law", ["chinchilla", "kaplan_nd", "power_law"])
def test_inputs_in_other_units_give_the_same_predictions(law, factor, rng):
    """N in millions (or x scaled by 1e6) is the same law with rescaled coefficients: the
    predictions at the rescaled query agree to 1e-6 (noisy data, the same optimum)."""
    df = {"chinchilla": _chinchilla_frame, "kaplan_nd": _kaplan_frame, "power_law": _power_law_frame}[law](rng)
    cols = {"flops": "x"} if law == "power_law" else {"n_params": "N", "n_tokens": "D"}
    query = {inp: np.array([1e22, 1e24]) if inp == "x" else np.array([1e10, 1e12]) for inp in cols.values()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        base = sl.fit(law, df).predict(query)
        scaled = df.copy()
        for col in cols:
            scaled[col] = scaled[col] * factor
        other = sl.fit(law, scaled).predict({k: v * factor for k, v in query.items()})
    np.testing.assert_allclose(other, base, rtol=1e-6)


def test_row_order_and_a_repeated_table_give_the_same_fit(rng):
    df = _chinchilla_frame(rng)
    base = sl.fit("chinchilla", df)
    shuffled = sl.fit("chinchilla", df.sample(frac=1, random_state=3))
    twice = sl.fit("chinchilla", pd.concat([df, df], ignore_index=True))
    for other in (shuffled, twice):
        for name, value in base.params.items():
            assert other.params[name] == pytest.approx(value, rel=1e-5), name
    assert any("repeat an earlier row" in w for w in twice.warnings)


def test_loss_plus_a_constant_moves_only_the_floor():
    """Noiseless chinchilla data and the same losses + 1 nat: E moves by 1, the rest stays."""
    N, D = _grid(np.geomspace(1e7, 3e9, 6), np.geomspace(1e9, 3e11, 6))
    L = chinchilla(N, D, **CHINCHILLA_TRUE)
    a = sl.fit("chinchilla", pd.DataFrame({"n_params": N, "n_tokens": D, "loss": L}))
    b = sl.fit("chinchilla", pd.DataFrame({"n_params": N, "n_tokens": D, "loss": L + 1.0}))
    assert b.params["E"] - a.params["E"] == pytest.approx(1.0, abs=1e-4)
    for name in ("A", "alpha", "B", "beta"):
        assert b.params[name] == pytest.approx(a.params[name], rel=1e-3), name


@pytest.mark.parametrize("dtype", ["float32", "Float64", "Int64"])
def test_float32_and_nullable_columns_fit_like_float64(dtype, rng):
    df = _chinchilla_frame(rng)
    base = sl.fit("chinchilla", df).predict({"N": 1e10, "D": 1e12}, warn=False)
    other = df.copy()
    for col in ("n_params", "n_tokens"):
        other[col] = other[col].round().astype(dtype)
    got = sl.fit("chinchilla", other).predict({"N": 1e10, "D": 1e12}, warn=False)
    np.testing.assert_allclose(got, base, rtol=1e-5)


def test_bootstrap_with_a_seed_is_deterministic(rng):
    df = _chinchilla_frame(rng)
    bands = []
    for _ in range(2):
        f = sl.fit("chinchilla", df).bootstrap(30, seed=5)
        bands.append(np.concatenate(f.predict_interval({"N": 1e10, "D": 1e12}, level=0.9, warn=False)))
    np.testing.assert_array_equal(bands[0], bands[1])


# ---- bugs found in the audit ------------------------------------------------------------------

def test_a_parameter_driven_to_the_float_limit_is_called_ran_off(rng):
    """A flat loss has no term in kaplan_nd (no floor): N_c drifted to exp(709) ~ 9e307, finite,
    and the fit said only that 1 of 16 starts agreed. A value past 1e300 is a parameter the
    data do not bound, and the warning now says so by name."""
    df = _kaplan_frame(rng).assign(loss=3.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = sl.fit("kaplan_nd", df)
    huge = [name for name, value in fit.params.items() if value > 1e300]
    assert huge, f"the design no longer drives a parameter to the float limit: {fit.params}"
    for name in huge:
        assert any(w.startswith(f"parameter {name} = ") and "ran off to infinity" in w for w in fit.warnings), \
            fit.warnings


def test_a_fit_with_ordinary_parameters_says_nothing_ran_off(rng):
    fit = sl.fit("kaplan_nd", _kaplan_frame(rng))
    assert not any("ran off" in w for w in fit.warnings)
