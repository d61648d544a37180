"""Step 3e of scalelaw.calibration, the local interpolation floor: measured and not adopted
(benchmarks/bench_mixture_misfit.py), kept as ``calibrate_fit(local_floor=True)``. These tests pin
what the option computes, so the benchmark's figures stay reproducible."""

import json

import numpy as np
import pandas as pd
import pytest

import scalelaw as sl
from scalelaw.calibration import LOCAL_FLOOR, calibrate_fit, level_residuals, local_scales
from scalelaw.laws.dcpt import dcpt

TRUTH = dict(E=1.5, A=40.0, alpha=0.35, B=25.0, eta=0.3, beta=0.3, C=0.08, gamma=0.5)


def mixtures(rng, noisy_share=1.0):
    """5 shares x 3 sizes x 10 steps of dcpt; the runs at ``noisy_share`` scatter 5x more."""
    D = np.geomspace(5e4, 5e5, 10)
    rows = []
    for n in (2.5e4, 5.5e4, 1e5):
        for r in (0.1, 0.25, 0.5, 0.75, 1.0):
            sd = 0.015 if r == noisy_share else 0.003
            L = dcpt(np.full(10, n), D, np.full(10, r), **TRUTH) * np.exp(rng.normal(0, sd, 10))
            rows.append(pd.DataFrame({"N": n, "D": D, "r": r, "loss": L}))
    return pd.concat(rows, ignore_index=True)


def test_local_scales_pool_the_two_bracketing_levels():
    u = np.log10(np.repeat([0.1, 0.25, 0.75, 1.0], 4))
    res = np.repeat([0.01, 0.02, 0.04, 0.08], 4) * np.tile([1, -1, 1, -1], 4)
    local = level_residuals(u, res, n_free=4)
    dof = 16 / 12
    # between 0.25 and 0.75: the RMS over those 8 rows, dof-corrected, computed here independently
    expect = np.sqrt((4 * 0.02 ** 2 + 4 * 0.04 ** 2) / 8 * dof)
    got = local_scales(np.log10([0.5, 0.25, 2.0, 0.05]), local)
    np.testing.assert_allclose(got[0], expect)
    np.testing.assert_allclose(got[1], 0.02 * np.sqrt(dof))  # on a level: that level alone
    assert np.isnan(got[2]) and np.isnan(got[3])  # outside the levels' range: no local floor
    # a fold that leaves 0.25 out brackets 0.25 by 0.1 and 0.75
    np.testing.assert_allclose(local_scales(np.log10([0.25]), local, exclude=np.log10(0.25)),
                               np.sqrt((4 * 0.01 ** 2 + 4 * 0.04 ** 2) / 8 * dof))
    assert level_residuals(u[:8], res[:8]) is None  # fewer than 3 levels


def test_local_floor_is_opt_in_and_narrows_between_quiet_shares(tmp_path):
    assert LOCAL_FLOOR is False
    df = mixtures(np.random.default_rng(3))
    train = df[df.r != 0.5]
    fit = sl.fit("dcpt", train, inputs={"N": "N", "D": "D", "r": "r"}, target="loss").bootstrap(30, seed=0)
    default = fit.calibration
    assert default.local is None
    X = {"N": np.array([5.5e4]), "D": np.array([2e5]), "r": np.array([0.5])}
    lo0, hi0 = fit.predict_interval(X, level=0.9, warn=False)
    fit.calibration = calibrate_fit(fit, local_floor=True)
    cal = fit.calibration
    assert cal.version == 5 and cal.local is not None
    # r = 0.5 lies between the quiet shares 0.25 and 0.75: its local floor is below the global one
    j = cal.coords.index("r")
    rho = local_scales(np.log10([0.5]), cal.local)[0]
    assert rho < cal.residual_scale
    lo1, hi1 = fit.predict_interval(X, level=0.9, warn=False)
    assert hi1[0] - lo1[0] < hi0[0] - lo0[0]
    # the half-width at r = 0.5 is q_0 min(max(s_in, rho), s0), as documented
    coords = np.zeros((1, len(cal.coords)))
    coords[0, j] = np.log10(0.5)
    h = cal.half_width(np.array([0.0]), 0.9, coords)
    np.testing.assert_allclose(h, cal.floor_multiplier(0.9) * min(max(cal.inside_noise, rho), cal.noise))
    # the interval stays nested in level
    lo8, hi8 = fit.predict_interval(X, level=0.8, warn=False)
    assert lo1[0] <= lo8[0] and hi8[0] <= hi1[0]
    # saved and loaded, it gives the same interval
    path = tmp_path / "fit.json"
    fit.save(path)
    assert json.loads(path.read_text())["calibration"]["local"]["levels"]
    back = sl.load_fit(path)
    np.testing.assert_allclose(back.predict_interval(X, level=0.9, warn=False), (lo1, hi1))


@pytest.mark.parametrize("law", ["power_law"])
def test_local_floor_leaves_laws_without_a_share_alone(law, rng):
    x = np.geomspace(1e5, 1e8, 40)
    df = pd.DataFrame({"x": x, "loss": (1.6 + (3e4 / x) ** 0.35) * np.exp(rng.normal(0, 0.004, 40))})
    fit = sl.fit(law, df, inputs={"x": "x"}).bootstrap(30, seed=0)
    cal = calibrate_fit(fit, local_floor=True)
    assert cal.local is None and cal.version == fit.calibration.version
    X = {"x": [1e6, 1e9]}
    before = fit.predict_interval(X, level=0.9, warn=False)
    fit.calibration = cal
    np.testing.assert_allclose(fit.predict_interval(X, level=0.9, warn=False), before)


def test_binding_floor_combines_band_and_floor_as_max_inside_the_box(tmp_path):
    """Step 4b (format 6): where s_in sits on the residual scale, at d = 0 the interval is
    max(a, h) per side around the prediction, not sqrt(a^2 + h^2); beyond the box, quadrature."""
    from scalelaw.calibration import FORMAT, Calibration

    assert FORMAT >= 6
    base = dict(method="student-t", n_folds=6, noise=0.02, slope=0.01, residual_scale=0.01, coords=["x"],
                lo=[0.0], hi=[1.0], inside_noise=0.01, inside_folds=4, ramp=0.5, scores=[1.0] * 6,
                score_weights=[1.0] * 6)
    cal = Calibration(**base, version=6)
    assert cal.floor_binds()
    pred = np.array([2.0, 2.0, 2.0])
    d = np.array([0.0, 0.0, 1.0])
    plo, phi = np.array([1.9, 1.999, 1.9]), np.array([2.001, 2.2, 2.1])
    lo, hi = cal.interval(pred, d, 0.9, plo, phi)
    h = cal.half_width(d, 0.9)
    a_lo, a_hi = np.log(pred / plo), np.log(phi / pred)
    np.testing.assert_allclose(lo[:2], pred[:2] * np.exp(-np.maximum(a_lo[:2], h[:2])))
    np.testing.assert_allclose(hi[:2], pred[:2] * np.exp(np.maximum(a_hi[:2], h[:2])))
    np.testing.assert_allclose(lo[2], pred[2] * np.exp(-np.hypot(a_lo[2], h[2])))  # beyond the box
    assert np.all(lo <= plo) and np.all(hi >= phi)  # never narrower than the parameter band
    # a format-4 calibration (saved before step 4b) keeps the quadrature everywhere
    old = Calibration(**base, version=4)
    assert not old.floor_binds()
    lo4, hi4 = old.interval(pred, d, 0.9, plo, phi)
    np.testing.assert_allclose(hi4, pred * np.exp(np.hypot(a_hi, h)))
    assert np.all(hi4 >= hi) and np.all(lo4 <= lo)
    # s_in above the floor: no binding, quadrature
    free = Calibration(**{**base, "inside_noise": 0.015}, version=6)
    assert not free.floor_binds()
    lof, hif = free.interval(pred, d, 0.9, plo, phi)
    hf = free.half_width(d, 0.9)
    np.testing.assert_allclose(hif, pred * np.exp(np.hypot(a_hi, hf)))
    # nested in level
    lo8, hi8 = cal.interval(pred, d, 0.8, plo, phi)
    assert np.all(lo <= lo8) and np.all(hi8 <= hi)
    # round trip keeps the format and so the interval
    back = Calibration.from_dict(json.loads(json.dumps(cal.to_dict())))
    np.testing.assert_allclose(back.interval(pred, d, 0.9, plo, phi), (lo, hi))
