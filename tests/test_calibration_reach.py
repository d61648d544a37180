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
        back.predict_interval(far, level=0.9)
    # a calibration saved before the reach was recorded loads with it unknown: no warning, the same interval
    for key in ("reach", "reach_distance"):
        raw["calibration"].pop(key)
    path.write_text(json.dumps(seal(raw)))
    old = sl.load_fit(path)
    assert old.calibration.reach is None and old.calibration.reach_distance is None
    with warnings.catch_warnings():
        warnings.simplefilter("error", BeyondReachWarning)
        old_iv = old.predict_interval(far, level=0.9)
    np.testing.assert_allclose(old_iv, back.predict_interval(far, level=0.9, warn=False))


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
