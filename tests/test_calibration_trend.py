"""Step 8 of scalelaw.calibration: the error scale follows a significant trend of the fitted rows'
residual variance along the inputs (and nothing changes where the residuals are homoscedastic)."""

import json

import numpy as np
import pandas as pd
import pytest

import scalelaw as sl
from scalelaw.calibration import Calibration, coordinates, residual_trend, trend_significant

from conftest import noisy


def kaplan_truth(N, D):
    return ((3e9 / N) ** (0.3 / 0.25) + 4e8 / D) ** 0.25


def grid(rng, sd_of_N):
    """A Gordon-like 6 N x 9 D grid, the right form (kaplan_nd), log-normal noise whose sd is
    ``sd_of_N(N)``; fit the smaller 4 sizes, predict the larger 2."""
    Ns, Ds = np.geomspace(5e6, 5e8, 6), np.geomspace(1.5e7, 4e9, 9)
    N, D = (a.ravel() for a in np.meshgrid(Ns, Ds, indexing="ij"))
    loss = kaplan_truth(N, D) * np.exp(rng.normal(0.0, 1.0, len(N)) * sd_of_N(N))
    df = pd.DataFrame({"N": N, "D": D, "loss": loss})
    return df[df.N < Ns[-2]], df[df.N >= Ns[-2]]


@pytest.fixture(scope="module")
def growing():
    """Residuals whose scale grows with N (0.2% at the smallest size to 4% at the largest fitted)."""
    train, test = grid(np.random.default_rng(5), lambda N: 0.002 * (N / 5e6) ** 0.73)
    fit = sl.fit("kaplan_nd", train, inputs={"N": "N", "D": "D"}, target="loss").bootstrap(30, seed=0)
    assert fit.calibration.trend is None  # step 8 is opt-in
    fit.calibrate(trend=True)
    return fit, train, test


def test_trend_recovers_a_known_variance_trend():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.uniform(7, 10, 400), rng.uniform(8, 12, 400)])
    z = (X - X.mean(axis=0)) / X.std(axis=0)
    b_true = np.array([0.8, -0.4])
    r = rng.normal(0, 1, 400) * 0.01 * np.exp(0.5 * z @ b_true)
    t = residual_trend(X, r)
    np.testing.assert_allclose(t["b"], b_true, atol=0.2)  # sd of each b about 0.07 with 400 rows
    assert trend_significant(t) and t["lr"] > 50
    # too few rows for a trend: none
    assert residual_trend(X[:4], r[:4]) is None


def test_homoscedastic_residuals_rarely_show_a_trend():
    """The likelihood-ratio test at 5%: on homoscedastic residuals of a 4 x 9 grid it fires about 1
    time in 20 (binomial sd 1.5% over 200 draws), and where it does not the factor is exactly 1."""
    rng = np.random.default_rng(1)
    N, D = (a.ravel() for a in np.meshgrid(np.log10(np.geomspace(5e6, 8e7, 4)),
                                           np.log10(np.geomspace(1.5e7, 4e9, 9)), indexing="ij"))
    X = np.column_stack([N, D])
    fired = 0
    for _ in range(200):
        t = residual_trend(X, rng.normal(0, 0.01, len(N)))
        fired += trend_significant(t)
        if not trend_significant(t):
            cal = Calibration(method="student-t", n_folds=5, noise=0.01, slope=0.0, residual_scale=0.01,
                              coords=["N", "D"], lo=list(X.min(axis=0)), hi=list(X.max(axis=0)), trend=t)
            assert np.all(cal.trend_factor(X + 0.5) == 1.0)
    assert 0.01 <= fired / 200 <= 0.10


def test_wider_where_the_fitted_residuals_are_larger(growing):
    fit, train, test = growing
    cal = fit.calibration
    assert cal.trend is not None and trend_significant(cal.trend)
    assert cal.trend["b"][0] > 0  # the residuals' scale grows along N
    from scalelaw.calibration import calibrate_fit
    assert calibrate_fit(fit, trend=False).trend is None  # step 8 can be left out
    # the factor on the fitted rows: 1 at the small sizes, > 1 at the largest fitted size
    _, tc = coordinates(fit.law, fit._features()[0])
    f = cal.trend_factor(tc)
    N = train["N"].to_numpy()
    assert np.all(f[N == N.min()] == 1.0) and np.all(f[N == N.max()] > 1.2)
    # the held-out sizes continue from the edge rows: clipped to the box, the same factor as the largest fitted size
    X = {"N": test.N.to_numpy(), "D": test.D.to_numpy()}
    edge = {"N": np.full(len(test), N.max()), "D": test.D.to_numpy()}
    _, qc = coordinates(fit.law, X)
    _, ec = coordinates(fit.law, edge)
    np.testing.assert_allclose(cal.trend_factor(qc), cal.trend_factor(ec))
    # the interval with step 8 against the same calibration without it: wider where f > 1, equal elsewhere
    lo, hi = fit.predict_interval(X, level=0.9, warn=False)
    plain = Calibration.from_dict({**cal.to_dict(), "trend": None})
    fit.calibration = plain
    try:
        lo0, hi0 = fit.predict_interval(X, level=0.9, warn=False)
    finally:
        fit.calibration = cal
    assert np.all(lo <= lo0 + 1e-12) and np.all(hi >= hi0 - 1e-12) and np.all(hi - lo > hi0 - lo0)
    # the error half-width itself (no parameter band to add in quadrature) is h(d) times the factor,
    # at least where step 5's form spread stays below it
    pred, d = fit.predict(X, warn=False), fit.extrapolation_distance(X)
    fq = cal.trend_factor(qc)
    assert np.all(fq > 1.2)
    h_with = np.log(cal.interval(pred, d, 0.9, coords=qc)[1] / pred)
    h_without = np.log(plain.interval(pred, d, 0.9, coords=qc)[1] / pred)
    np.testing.assert_allclose(h_with, h_without * fq, rtol=1e-9)
    small = {"N": np.full(9, N.min()), "D": np.geomspace(1.5e7, 4e9, 9)}
    fit.calibration = plain
    try:
        s0 = fit.predict_interval(small, level=0.9, warn=False)
    finally:
        fit.calibration = cal
    np.testing.assert_allclose(fit.predict_interval(small, level=0.9, warn=False), s0, rtol=1e-12)


def test_monotone_in_level_with_the_trend(growing):
    fit, _, test = growing
    X = {"N": test.N.to_numpy(), "D": test.D.to_numpy()}
    ivs = [fit.predict_interval(X, level=lv, warn=False) for lv in (0.5, 0.8, 0.9, 0.95, 0.99)]
    for (lo_a, hi_a), (lo_b, hi_b) in zip(ivs, ivs[1:]):
        assert np.all(lo_b <= lo_a + 1e-12) and np.all(hi_b >= hi_a - 1e-12)


def test_homoscedastic_right_form_fit_is_unchanged():
    train, test = grid(np.random.default_rng(3), lambda N: np.full(len(N), 0.005))
    fit = sl.fit("kaplan_nd", train, inputs={"N": "N", "D": "D"}, target="loss").bootstrap(30, seed=0)
    cal = fit.calibrate(trend=True)
    assert cal.trend is not None and not trend_significant(cal.trend)
    X = {"N": test.N.to_numpy(), "D": test.D.to_numpy()}
    got = fit.predict_interval(X, level=0.9, warn=False)
    fit.calibration = Calibration.from_dict({**cal.to_dict(), "trend": None})
    np.testing.assert_allclose(fit.predict_interval(X, level=0.9, warn=False), got, rtol=1e-12)


def test_saved_fit_keeps_the_trend_and_older_saves_load(tmp_path, growing):
    fit, _, test = growing
    X = {"N": test.N.to_numpy(), "D": test.D.to_numpy()}
    want = fit.predict_interval(X, level=0.9, warn=False)
    path = tmp_path / "fit.json"
    fit.save(path)
    raw = json.loads(path.read_text())
    assert raw["calibration"]["trend"]["lr"] == pytest.approx(fit.calibration.trend["lr"])
    back = sl.load_fit(path)
    np.testing.assert_allclose(back.predict_interval(X, level=0.9, warn=False), want, rtol=1e-12)
    # a calibration saved before step 8 (no "trend" key) loads without it and gives its old interval
    old = {k: v for k, v in raw["calibration"].items() if k != "trend"}
    cal_old = Calibration.from_dict(json.loads(json.dumps(old)))
    assert cal_old.trend is None
    assert np.all(cal_old.trend_factor(np.log10(np.column_stack([X["N"], X["D"]]))) == 1.0)
