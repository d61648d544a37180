"""The calibration's measured reach (scalelaw.calibration step 6): how far the backtests measured
errors, per input, and the warning of a calibrated interval asked for points beyond it."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import scalelaw as sl
from scalelaw.calibration import calibrate, coordinates, rolling_cuts
from scalelaw.integrity import seal
from scalelaw.result import BeyondReachWarning, ExtrapolationWarning

from conftest import noisy


def two_term(x):
    return 1.6 + (3e4 / x) ** 0.35 + (1e2 / x) ** 0.12


@pytest.fixture(scope="module")
def fit():
    rng = np.random.default_rng(11)
    x = np.geomspace(1e5, 1e8, 40)
    df = pd.DataFrame({"run": [f"r{i}" for i in range(40)], "x": x, "loss": noisy(two_term(x), rng, 0.004)})
    return sl.fit("power_law", df, inputs={"x": "x"}).bootstrap(30, seed=0)


def test_reach_is_the_farthest_backtest_distance_of_a_fit(fit):
    # one input, rolling cuts along it: the farthest held-out point of any fold is the largest x,
    # measured from the smallest cut (the fold trained on the fewest levels)
    u = np.log10(fit.table["x"].to_numpy())
    expected = u.max() - min(rolling_cuts(u))
    cal = fit.calibration
    assert cal.coords == ["x"]
    assert cal.reach == pytest.approx([expected], abs=1e-12)
    assert cal.reach_distance == pytest.approx(expected, abs=1e-12)
    assert 1.0 < expected < 3.0  # the folds measure well beyond one decade on this design


def test_reach_per_input_on_a_grid():
    """Two inputs on a full grid, every fold scored (a fit callable that always predicts): the
    reach along each input is the farthest any fold's point lay beyond its own training box along
    it (rolling cuts along N never leave the D range, and vice versa), the joint reach the larger."""
    N, D = (a.ravel() for a in np.meshgrid(np.geomspace(1e7, 1e10, 6), np.geomspace(1e9, 1e11, 5), indexing="ij"))
    table = pd.DataFrame({"N": N, "D": D, "loss": 2.0 + 0 * N})
    coords = np.log10(np.stack([N, D], axis=1))

    def fit_fn(train):
        return lambda test: np.full(len(test), 2.0)

    cal = calibrate(None, table, fit_fn, coords=coords, coord_names=["N", "D"], y=table["loss"].to_numpy(),
                    noise_floor=0.01)
    uN, uD = coords[:, 0], coords[:, 1]
    want = [uN.max() - min(rolling_cuts(uN)), uD.max() - min(rolling_cuts(uD))]
    assert cal.reach == pytest.approx(want, abs=1e-12)
    assert cal.reach_distance == pytest.approx(max(want), abs=1e-12)
    # the ratio: per input, the largest over the inputs; 0 inside the box
    lo, hi = np.log10([1e7, 1e9]), np.log10([1e10, 1e11])
    pts = np.array([[8.0, 10.0], [hi[0] + 0.5 * want[0], 10.0], [hi[0] + 2 * want[0], hi[1] + 0.1 * want[1]]])
    np.testing.assert_allclose(cal.reach_ratio(pts), [0.0, 0.0, 2.0])


def test_warning_beyond_the_reach_and_not_inside_it(fit):
    cal = fit.calibration
    hi, r = cal.hi[0], cal.reach[0]
    inside = {"x": [1e6, 10 ** (hi + 0.5 * r), 10 ** (hi + 0.99 * r)]}  # beyond the data, within the reach
    with warnings.catch_warnings():
        warnings.simplefilter("error", BeyondReachWarning)
        lo, up = fit.predict_interval(inside, level=0.9)
    beyond = {"x": [1e6, 10 ** (hi + 0.5 * r), 10 ** (hi + 1.5 * r)]}
    with pytest.warns(BeyondReachWarning, match=r"1 of 3 points lies beyond the backtests' reach \(x up to "
                      rf"{1.5 * r:.2f} decades beyond the fitted data, where the backtests measured errors only up "
                      rf"to {r:.2f}\).*not measured") as rec:
        fit.predict_interval(beyond, level=0.9)
    assert issubclass(rec[0].category, ExtrapolationWarning)  # filtered with the other extrapolation warnings
    assert "issue 11" in str(rec[0].message)
    # the warning only: the interval is what it was without it
    with warnings.catch_warnings():
        warnings.simplefilter("error", BeyondReachWarning)
        quiet = fit.predict_interval(beyond, level=0.9, warn=False)
        fit.predict_interval(beyond, level=0.9, kind="parameter")  # the bootstrap band claims no reach
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_allclose(quiet, fit.predict_interval(beyond, level=0.9))


def test_reach_survives_save_and_load_and_old_saves_load_without_it(fit, tmp_path):
    path = tmp_path / "fit.json"
    fit.save(path)
    raw = json.loads(path.read_text())
    assert raw["calibration"]["reach"] == pytest.approx(fit.calibration.reach)
    back = sl.load_fit(path)
    assert back.calibration.reach == pytest.approx(fit.calibration.reach)
    assert back.calibration.reach_distance == pytest.approx(fit.calibration.reach_distance)
    far = {"x": [1e6, 10 ** (fit.calibration.hi[0] + 2 * fit.calibration.reach[0])]}
    with pytest.warns(BeyondReachWarning):
        back_iv = back.predict_interval(far, level=0.9)
    # a loaded fit gives the same (widened, step 7) interval as the fit it was saved from
    np.testing.assert_allclose(back_iv, fit.predict_interval(far, level=0.9, warn=False), rtol=1e-10)
    # a calibration saved before the reach was recorded loads with it unknown: no warning, the same interval
    for key in ("reach", "reach_distance"):
        raw["calibration"].pop(key)
    path.write_text(json.dumps(seal(raw)))
    old = sl.load_fit(path)
    assert old.calibration.reach is None and old.calibration.reach_distance is None
    with warnings.catch_warnings():
        warnings.simplefilter("error", BeyondReachWarning)
        old_iv = old.predict_interval(far, level=0.9)
    # ... and without step 7's widening: the interval it gave before the reach existed
    np.testing.assert_allclose(old_iv, _unwidened(back, far, 0.9))
    new_iv = back.predict_interval(far, level=0.9, warn=False)
    np.testing.assert_allclose(new_iv[0][0], old_iv[0][0])  # inside the data: the same
    assert new_iv[0][1] < old_iv[0][1] and new_iv[1][1] > old_iv[1][1]  # beyond the reach: wider


def _unwidened(f, X, level):
    """The calibrated interval without step 7 (no coordinates: no reach factor)."""
    pred = f.predict(X, warn=False)
    return f.calibration.interval(pred, f.extrapolation_distance(X), level,
                                  *f.predict_interval(X, level=level, kind="parameter"))


def _log_half_widths(f, X, level):
    """(lower, upper) log half-widths of the calibrated interval around the prediction."""
    pred = f.predict(X, warn=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BeyondReachWarning)
        lo, hi = f.predict_interval(X, level=level)
    return np.log(pred) - np.log(lo), np.log(hi) - np.log(pred)


def test_widening_beyond_the_reach_is_the_distance_ratio(fit):
    """Step 7: within the reach nothing changes; beyond it the error half-width h(d) is multiplied
    by excess / reach (here one input), so at twice the reach it is twice h(d), combined with the
    parameter band in quadrature exactly as within."""
    cal = fit.calibration
    hi, r = cal.hi[0], cal.reach[0]
    assert cal.form is None  # power_law: no form spread, so h is the whole error half-width
    ks = np.array([0.0, 0.3, 0.7, 1.0, 1.3, 2.0, 3.0])
    X = {"x": 10 ** (hi + ks * r)}
    pred = fit.predict(X, warn=False)
    d = fit.extrapolation_distance(X)
    plo, phi = fit.predict_interval(X, level=0.9, kind="parameter")
    a_lo, a_hi = np.log(pred) - np.log(plo), np.log(phi) - np.log(pred)
    h = cal.half_width(d, 0.9) * np.maximum(ks, 1.0)
    lo, up = _log_half_widths(fit, X, 0.9)
    np.testing.assert_allclose(lo, np.sqrt(np.maximum(a_lo, 0) ** 2 + h ** 2), rtol=1e-9)
    np.testing.assert_allclose(up, np.sqrt(np.maximum(a_hi, 0) ** 2 + h ** 2), rtol=1e-9)
    # within the reach: exactly the interval without the widening
    within = ks <= 1.0
    old_lo, old_hi = _unwidened(fit, X, 0.9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BeyondReachWarning)
        new_lo, new_hi = fit.predict_interval(X, level=0.9)
    np.testing.assert_allclose(new_lo[within], old_lo[within], rtol=1e-12)
    np.testing.assert_allclose(new_hi[within], old_hi[within], rtol=1e-12)
    assert np.all(new_lo[~within] < old_lo[~within]) and np.all(new_hi[~within] > old_hi[~within])


def test_widening_is_continuous_at_the_reach_and_monotone(fit):
    cal = fit.calibration
    hi, r = cal.hi[0], cal.reach[0]
    eps = 1e-7
    at = {"x": 10 ** (hi + np.array([1 - eps, 1 + eps]) * r)}
    lo, up = _log_half_widths(fit, at, 0.9)
    np.testing.assert_allclose(lo[0], lo[1], rtol=1e-5)
    np.testing.assert_allclose(up[0], up[1], rtol=1e-5)
    far = {"x": 10 ** (hi + np.linspace(0.0, 4.0, 41) * r)}
    prev = None
    for level in (0.5, 0.8, 0.9, 0.95, 0.99):
        lo, up = _log_half_widths(fit, far, level)
        width = lo + up
        assert np.all(np.diff(width) >= -1e-12)  # non-decreasing in distance, through the reach
        if prev is not None:
            assert np.all(width >= prev - 1e-12)  # non-decreasing in level
        prev = width
    # the factor itself: 1 within the reach, the ratio beyond, 1 without a recorded reach
    from scalelaw.calibration import Calibration
    c = np.log10(far["x"])[:, None]
    np.testing.assert_allclose(cal.reach_factor(c), np.maximum(np.linspace(0.0, 4.0, 41), 1.0), rtol=1e-9)
    none = Calibration.from_dict({**cal.to_dict(), "reach": None, "reach_distance": None})
    np.testing.assert_array_equal(none.reach_factor(c), np.ones(len(c)))


def test_widening_ignores_an_input_without_a_measured_reach():
    """An input along which no backtest extrapolated (reach 0) adds nothing to the factor (the
    warning still names it); the other inputs' ratios do."""
    from scalelaw.calibration import Calibration
    cal = Calibration(method="student-t", n_folds=5, noise=0.01, slope=0.0, residual_scale=0.01,
                      coords=["N", "D"], lo=[7.0, 9.0], hi=[9.0, 11.0], reach=[0.5, 0.0], reach_distance=0.5)
    pts = np.array([[9.25, 10.0], [10.0, 10.0], [9.0, 12.0], [10.5, 13.0]])
    np.testing.assert_allclose(cal.reach_factor(pts), [1.0, 2.0, 1.0, 3.0])
    assert cal.reach_ratio(pts)[2] == np.inf  # ... but it is beyond the reach, and warned about


def test_schedule_law_reach_is_on_the_forward_area():
    """A schedule law's reach is along S1 (its only coordinate): a longer schedule than the
    backtests reached warns, the fitted schedules themselves do not."""
    from scalelaw import schedules as S
    rng = np.random.default_rng(3)
    rows, sched = [], {}
    for name, lr in (("constant", S.constant(3000, 1e-3, warmup=100)), ("cosine", S.cosine(3000, 1e-3, 1e-4, warmup=100)),
                     ("wsd", S.constant(3000, 1e-3, warmup=100))):
        if name == "wsd":
            lr[2400:] = np.geomspace(1e-3, 1e-4, 600)
        sched[name] = lr
        steps = np.arange(200, 3001, 100)
        s1 = np.cumsum(lr)[steps - 1]
        loss = 2.0 + 3.0 * (s1 * 50) ** -0.4 * np.exp(rng.normal(0, 0.002, len(steps)))
        rows.append(pd.DataFrame({"run": name, "step": steps, "loss": loss}))
    df = pd.concat(rows, ignore_index=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = sl.fit("lr_annealing", df, inputs={"step": "step"}, schedules=sched, warmup_steps=100).bootstrap(20, seed=0)
    cal = f.calibration
    assert cal.coords == ["S1"] and cal.reach is not None and cal.reach[0] > 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", BeyondReachWarning)
        f.predict_interval(schedule=sched["cosine"], warmup_steps=100, steps=[3000], level=0.9)
    names, c = coordinates(f.law, f._prediction_features(None, {"schedule": S.constant(300000, 1e-3, warmup=100),
                                                                 "warmup_steps": 100, "steps": [300000]}))
    assert cal.reach_ratio(c)[0] > 1
    with pytest.warns(BeyondReachWarning, match="S1 up to"):
        f.predict_interval(schedule=S.constant(300000, 1e-3, warmup=100), warmup_steps=100, steps=[300000], level=0.9)


def test_beyond_reach_gives_the_message_without_warning_and_the_service_passes_it_on(fit):
    """Pages and the HTTP service show the warning instead of raising it: ``fit.beyond_reach``
    returns the same message (None within the reach), and the service's predict answer lists it
    among its warnings for a calibrated interval, not for the parameter band."""
    from scalelaw.serve.app import _predict

    hi, r = fit.calibration.hi[0], fit.calibration.reach[0]
    within, beyond = {"x": [10 ** (hi + 0.5 * r)]}, {"x": [10 ** (hi + 1.5 * r)]}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert fit.beyond_reach(within) is None
        msg = fit.beyond_reach(beyond)
    with pytest.warns(BeyondReachWarning) as rec:
        fit.predict_interval(beyond, level=0.9)
    assert msg == str(rec[0].message)
    X = {"x": np.array(beyond["x"])}
    assert msg in _predict(fit, {"X": X}, 0.9, None)["warnings"]
    assert msg in _predict(fit, {"X": X}, 0.9, "calibrated")["warnings"]
    assert msg not in _predict(fit, {"X": X}, 0.9, "parameter").get("warnings", [])
    assert msg not in _predict(fit, {"X": {"x": np.array(within["x"])}}, 0.9, None).get("warnings", [])
