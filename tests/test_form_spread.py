"""The form spread of the calibrated interval (scalelaw.form_spread, calibration step 5): the nesting
form contains both (N, D) laws, adds nothing where the forms agree, and widens the interval where
they part (the N x D corners), never narrowing it."""

import json

import numpy as np
import pandas as pd
import pytest

import scalelaw as sl
from scalelaw.calibration import Calibration
from scalelaw.form_spread import nested_nd, spread
from scalelaw.laws.chinchilla import chinchilla
from scalelaw.laws.kaplan_nd import kaplan_nd

from conftest import CHINCHILLA_TRUE, noisy


def test_nesting_form_contains_chinchilla_and_kaplan():
    N = np.geomspace(1e6, 1e11, 7)
    D = np.geomspace(1e8, 1e13, 7)[::-1]
    np.testing.assert_allclose(nested_nd(N, D, **CHINCHILLA_TRUE, c=1.0), chinchilla(N, D, **CHINCHILLA_TRUE),
                               rtol=1e-12)
    k = dict(N_c=8.8e13, alpha_N=0.076, D_c=5.4e13, alpha_D=0.095)
    g = dict(E=0.0, A=k["N_c"] ** k["alpha_N"], alpha=k["alpha_N"], B=k["D_c"] ** k["alpha_D"], beta=k["alpha_D"],
             c=k["alpha_D"])
    np.testing.assert_allclose(nested_nd(N, D, **g), kaplan_nd(N, D, **k), rtol=1e-10)


def _grid(truth, rng, sigma):
    N, D = (a.ravel() for a in np.meshgrid(np.geomspace(1e7, 3e9, 8), np.geomspace(1e9, 3e11, 8)))
    return pd.DataFrame({"n_params": N, "n_tokens": D, "loss": noisy(truth(N, D), rng, sigma)})


@pytest.fixture(scope="module")
def exact_fit():
    """Chinchilla data without noise: the law fits exactly, so does the nesting form (at c = 1)."""
    rng = np.random.default_rng(3)
    return sl.fit("chinchilla", _grid(lambda N, D: chinchilla(N, D, **CHINCHILLA_TRUE), rng, 0.0)).bootstrap(30, seed=0)


def interact(N, D):
    """Chinchilla plus an N x D interaction term the additive form lacks."""
    return chinchilla(N, D, **CHINCHILLA_TRUE) + 2e4 / (N ** 0.3 * D ** 0.2)


@pytest.fixture(scope="module")
def interaction_fit():
    rng = np.random.default_rng(5)
    return sl.fit("chinchilla", _grid(interact, rng, 0.002)).bootstrap(30, seed=0)


CENTRE = {"N": np.array([2e8]), "D": np.array([2e10])}
CORNERS = {"N": np.array([3e10, 3e10, 1e7]), "D": np.array([1e9, 3e12, 3e12])}


def test_no_contribution_where_the_forms_coincide(exact_fit):
    cal = exact_fit.calibration
    assert cal.form is not None and cal.form["c"] == pytest.approx(1.0, abs=0.02)
    X = {"N": np.concatenate([CENTRE["N"], CORNERS["N"]]), "D": np.concatenate([CENTRE["D"], CORNERS["D"]])}
    pred = exact_fit.predict(X, warn=False)
    assert np.all(cal.form_spread(X, pred) < 2e-3)  # < 0.2% even a decade out in the corners
    d = exact_fit.extrapolation_distance(X)
    for level in (0.8, 0.9, 0.95):
        plo, phi = exact_fit.predict_interval(X, level=level, kind="parameter")
        without = cal.interval(pred, d, level, plo, phi)
        inside = d == 0  # where h(d) >= the spread, max(h, s) is h: the interval is unchanged
        np.testing.assert_allclose(np.array(exact_fit.predict_interval(X, level=level))[:, inside],
                                   np.array(without)[:, inside])


def test_wider_in_the_corner_than_at_the_centre_and_reaches_the_nesting_form(interaction_fit):
    cal = interaction_fit.calibration
    assert cal.form is not None and abs(cal.form["c"] - 1.0) > 0.05  # the data show the interaction
    s_centre = cal.form_spread(CENTRE, interaction_fit.predict(CENTRE, warn=False))
    s_corner = cal.form_spread(CORNERS, interaction_fit.predict(CORNERS, warn=False))
    # at the centre of the data the forms agree (well inside the fit's own residual scale); in the
    # corners a decade out they part by an order of magnitude more
    assert s_centre[0] < 0.25 * cal.residual_scale and np.all(s_corner > 10 * s_centre[0])
    # where the spread exceeds h(d) the interval widens to reach G's prediction, never narrower than before
    X = CORNERS
    pred = interaction_fit.predict(X, warn=False)
    d = interaction_fit.extrapolation_distance(X)
    g = nested_nd(X["N"], X["D"], **cal.form)
    for level in (0.8, 0.9, 0.95):
        lo, hi = interaction_fit.predict_interval(X, level=level)
        plo, phi = interaction_fit.predict_interval(X, level=level, kind="parameter")
        blo, bhi = cal.interval(pred, d, level, plo, phi)
        assert np.all(lo <= blo + 1e-12) and np.all(hi >= bhi - 1e-12)
        assert np.all((g >= lo * (1 - 1e-9)) & (g <= hi * (1 + 1e-9)))
    # the widening is where the spread beats the calibrated half-width: at least one corner here
    lo, hi = interaction_fit.predict_interval(X, level=0.8)
    blo, bhi = cal.interval(pred, d, 0.8, *interaction_fit.predict_interval(X, level=0.8, kind="parameter"))
    assert np.any(hi - lo > 1.01 * (bhi - blo))


def test_nested_in_level(interaction_fit):
    X = {"N": np.geomspace(1e7, 1e11, 9), "D": np.geomspace(3e12, 1e9, 9)}
    widths = [np.subtract(*interaction_fit.predict_interval(X, level=lv)[::-1]) for lv in (0.5, 0.8, 0.9, 0.95, 0.99)]
    for a, b in zip(widths, widths[1:]):
        assert np.all(b >= a - 1e-12)
    lo80, hi80 = interaction_fit.predict_interval(X, level=0.8)
    lo95, hi95 = interaction_fit.predict_interval(X, level=0.95)
    assert np.all(lo95 <= lo80 + 1e-12) and np.all(hi95 >= hi80 - 1e-12)


def test_form_survives_save_and_load_and_old_files_keep_their_interval(tmp_path, interaction_fit):
    from scalelaw.integrity import seal

    path = tmp_path / "fit.json"
    interaction_fit.save(path)
    back = sl.load_fit(path)
    assert back.calibration.form == pytest.approx(interaction_fit.calibration.form)
    for level in (0.8, 0.95):
        np.testing.assert_allclose(back.predict_interval(CORNERS, level=level),
                                   interaction_fit.predict_interval(CORNERS, level=level))
    # a calibration saved before the form spread (no "form") loads as such: the interval it gave
    raw = json.loads(path.read_text())
    raw["calibration"].pop("form")
    path.write_text(json.dumps(seal(raw)))
    old = sl.load_fit(path)
    assert old.calibration.form is None
    cal = interaction_fit.calibration
    pred = interaction_fit.predict(CORNERS, warn=False)
    d = interaction_fit.extrapolation_distance(CORNERS)
    np.testing.assert_allclose(old.predict_interval(CORNERS, level=0.9),
                               cal.interval(pred, d, 0.9, *interaction_fit.predict_interval(CORNERS, level=0.9,
                                                                                            kind="parameter")))
    assert Calibration.from_dict(cal.to_dict()).form == pytest.approx(cal.form)


def test_only_the_nested_laws_and_not_with_fixed_parameters(rng):
    x = np.geomspace(1e5, 1e8, 20)
    df = pd.DataFrame({"x": x, "loss": noisy(1.6 + (3e4 / x) ** 0.35, rng, 0.003)})
    assert sl.fit("power_law", df, inputs={"x": "x"}).bootstrap(20, seed=0).calibration.form is None
    fixed = sl.fit("chinchilla", _grid(interact, rng, 0.002), fixed={"E": 1.69}).bootstrap(20, seed=0)
    assert fixed.calibration.form is None
    assert any("fixed parameters" in w for w in fixed.calibration.warnings)


def test_spread_is_zero_where_not_finite():
    p = dict(CHINCHILLA_TRUE, c=1.0)
    s = spread(p, {"N": np.array([1e8, 1e8]), "D": np.array([1e10, 1e10])}, np.array([np.nan, 0.0]))
    assert np.all(s == 0)
