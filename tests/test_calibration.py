"""Calibrated prediction intervals (scalelaw.calibration): the method's invariants and its coverage
on synthetic data with a known, slightly wrong form."""

import json

import numpy as np
import pandas as pd
import pytest

import scalelaw as sl
from scalelaw.calibration import FORMAT, Calibration, box, distance, fit_error_model, make_folds

from conftest import noisy


def two_term(x):
    """The truth: a second, slower power-law term a single power_law fit cannot represent."""
    return 1.6 + (3e4 / x) ** 0.35 + (1e2 / x) ** 0.12


def misspecified(rng, n=60, sigma=0.004):
    x = np.geomspace(1e5, 1e8, n)
    return pd.DataFrame({"run": [f"r{i}" for i in range(n)], "x": x, "loss": noisy(two_term(x), rng, sigma)})


@pytest.fixture(scope="module")
def wrong_form_fit():
    rng = np.random.default_rng(7)
    return sl.fit("power_law", misspecified(rng), inputs={"x": "x"}).bootstrap(200, seed=0)


def test_distance_is_euclidean_decades_beyond_the_box():
    lo, hi = np.array([6.0, 9.0]), np.array([8.0, 11.0])
    pts = np.log10([[1e7, 1e10], [1e9, 1e10], [1e9, 1e12], [1e5, 1e10], [1e7, 1e11]])
    np.testing.assert_allclose(distance(pts, lo, hi), [0.0, 1.0, np.sqrt(2.0), 1.0, 0.0], atol=1e-12)
    # NaN coordinates (D = 0 rows) count as inside
    assert distance(np.array([[np.nan, 12.0]]), lo, hi)[0] == pytest.approx(1.0)
    assert box(np.array([[1.0, np.nan], [2.0, 3.0]]))[0].tolist() == [1.0, 3.0]


def test_folds_roll_along_each_input_and_leave_runs_out():
    u = np.log10(np.repeat([1e6, 1e7, 1e8, 1e9, 1e10], 4))
    folds = make_folds(["N"], u[:, None])
    assert folds, "a 5-level axis gives rolling-origin folds"
    for f in folds:
        # every fold trains on a prefix of the axis and predicts everything above it
        assert u[f.train].max() < u[~f.train].min()
        assert f.train.mean() >= 0.4
    runs = np.repeat(["a", "b", "c"], 5)
    loro = make_folds([], np.zeros((15, 0)), groups=runs)
    assert [int((~f.train).sum()) for f in loro] == [5, 5, 5]


def test_error_model_recovers_known_noise_and_growth(rng):
    d = np.tile(np.linspace(0, 2, 50), 12)
    folds = np.repeat(np.arange(12), 50)
    s0, c = 0.01, 0.03
    e = rng.normal(0, np.sqrt(s0 ** 2 + (c * d) ** 2))
    cal = fit_error_model(e, d, folds, noise_floor=0.002)
    assert cal.method == "conformal" and cal.n_folds == 12
    assert cal.noise == pytest.approx(s0, rel=0.25)
    assert cal.slope == pytest.approx(c, rel=0.25)
    # the 90% multiplier: Student-t on F - 1 = 11 folds (1.80), or the empirical quantile of the
    # scores (near the normal 1.645 here) if larger
    from scipy import stats

    assert cal.multiplier(0.9) == pytest.approx(max(stats.t.ppf(0.95, 11), 1.645), rel=0.08)
    # a known parameter spread of the fold fits is taken out of the error model
    p = np.full_like(e, 0.02)
    with_p = fit_error_model(np.sqrt(1 + (0.02 / np.sqrt(s0 ** 2 + (c * d) ** 2)) ** 2) * e, d, folds,
                             noise_floor=0.002, param_sd=p)
    assert with_p.noise == pytest.approx(s0, rel=0.3) and with_p.slope == pytest.approx(c, rel=0.3)
    few = fit_error_model(e[:200], d[:200], folds[:200], noise_floor=0.002)
    assert few.method == "student-t" and few.multiplier(0.9) > cal.multiplier(0.9)


def test_wrong_form_calibrated_interval_covers_close_to_nominal():
    """Over replicate data sets (the coverage a calibration promises is over data sets, and the
    held-out points of one set share one fit), fit one power law to two power-law terms on
    1e5..1e8 and predict 2e8..1e10."""
    x = np.geomspace(2e8, 1e10, 20)
    y = two_term(x)  # noise-free truth: far out, what matters is the form's error
    cover = {"parameter": [], "calibrated": []}
    for seed in range(6):
        fit = sl.fit("power_law", misspecified(np.random.default_rng(seed)), inputs={"x": "x"})
        fit.bootstrap(30, seed=0)
        for kind in cover:
            lo, hi = fit.predict_interval({"x": x}, level=0.9, kind=kind)
            cover[kind].append(np.mean((y >= lo) & (y <= hi)))
            if kind == "calibrated":
                assert np.median((hi - lo) / y) < 0.1  # not bought with an absurd width
    assert np.mean(cover["parameter"]) < 0.3, "the bootstrap band alone misses the form's error"
    assert np.mean(cover["calibrated"]) >= 0.75, cover


def test_invariants_nested_levels_wider_further_out_never_narrower(wrong_form_fit):
    fit = wrong_form_fit
    x = np.geomspace(1e5, 1e11, 30)
    prev = None
    for level in (0.5, 0.8, 0.9, 0.95, 0.99):
        lo, hi = fit.predict_interval({"x": x}, level=level)
        plo, phi = fit.predict_interval({"x": x}, level=level, kind="parameter")
        assert np.all(lo <= plo + 1e-15) and np.all(hi >= phi - 1e-15)
        if prev is not None:
            assert np.all(lo <= prev[0] + 1e-15) and np.all(hi >= prev[1] - 1e-15)
        prev = (lo, hi)
    lo, hi = fit.predict_interval({"x": x}, level=0.9)
    d = fit.extrapolation_distance({"x": x})
    assert d[0] == 0 and np.all(np.diff(d[x > 1e8]) > 0)
    log_width = np.log(hi) - np.log(lo)
    out = x > 1e8
    assert np.all(np.diff(log_width[out]) > 0)
    assert log_width[out].min() > log_width[~out].max() - 1e-12
    assert fit.interval_label(0.9) == f"90% prediction interval, calibrated on {fit.calibration.n_folds} backtests"


def test_right_form_inside_the_data_is_about_the_noise_width(chinchilla_grid, rng):
    from scalelaw.laws.chinchilla import chinchilla
    from conftest import CHINCHILLA_TRUE

    fit = sl.fit("chinchilla", chinchilla_grid).bootstrap(200, seed=0)
    N = np.exp(rng.uniform(np.log(1e7), np.log(3e9), 400))
    D = np.exp(rng.uniform(np.log(1e9), np.log(3e11), 400))
    X = {"N": N, "D": D}
    assert np.all(fit.extrapolation_distance(X) == 0)
    new = noisy(chinchilla(N, D, **CHINCHILLA_TRUE), rng, 0.003)  # fresh runs, same noise (0.3%)
    lo, hi = fit.predict_interval(X, level=0.9)
    plo, phi = fit.predict_interval(X, level=0.9, kind="parameter")
    pred = fit.predict(X)
    # no wider than the parameter band plus the observation-noise band: q sigma a side, q the
    # calibration's multiplier (Student-t on F - 1 folds here), 40% slack for the estimated scale
    assert fit.calibration.multiplier(0.9) < 2.0
    noise_half = fit.calibration.multiplier(0.9) * 0.003 * 1.4
    assert np.all(np.log(hi / pred) <= np.log(phi / pred) + noise_half)
    assert np.all(np.log(pred / lo) <= np.log(pred / plo) + noise_half)
    cover = np.mean((new >= lo) & (new <= hi))
    assert 0.8 <= cover <= 0.99
    assert np.mean((new >= plo) & (new <= phi)) < cover


def test_too_few_backtests_warn_and_fall_back_wider(rng):
    x = np.geomspace(1e5, 1e8, 4)
    df = pd.DataFrame({"x": x, "loss": noisy(two_term(x), rng, 0.003)})
    fit = sl.fit("power_law", df, inputs={"x": "x"}).bootstrap(100, seed=0)
    assert fit.calibration.method == "fallback"
    assert any("conservative fallback" in w for w in fit.warnings)
    assert "NOT calibrated" in fit.interval_label(0.9)
    X = {"x": [1e6, 1e9]}
    lo, hi = fit.predict_interval(X, level=0.9)
    plo, phi = fit.predict_interval(X, level=0.9, kind="parameter")
    assert np.all(hi - lo > phi - plo)
    # 5% of log loss per decade beyond the data, Student-t(2): at one decade out at least +-0.05*2.9
    assert np.log(hi[1] / lo[1]) > 2 * 0.05 * 2.9


def test_calibration_survives_save_and_load(tmp_path, wrong_form_fit):
    path = tmp_path / "fit.json"
    wrong_form_fit.save(path)
    raw = json.loads(path.read_text())
    assert raw["calibration"]["n_folds"] == wrong_form_fit.calibration.n_folds
    back = sl.load_fit(path)
    assert isinstance(back.calibration, Calibration)
    X = {"x": [1e6, 1e9, 1e10]}
    np.testing.assert_allclose(back.predict_interval(X, level=0.9), wrong_form_fit.predict_interval(X, level=0.9))
    from scalelaw.integrity import seal

    # a fit saved with a format-1 calibration (before the floor's own multiplier) loads as format
    # 1 and gives the interval it gave: q sigma(d), q at distance 0 too
    v1 = json.loads(json.dumps(raw))
    v1["calibration"].pop("version")
    path.write_text(json.dumps(seal(v1)))
    old1 = sl.load_fit(path)
    assert old1.calibration.version == 1 and wrong_form_fit.calibration.version == FORMAT
    cal = old1.calibration
    d = old1.extrapolation_distance(X)
    np.testing.assert_allclose(cal.half_width(d, 0.9), cal.multiplier(0.9) * cal.sigma(d))
    lo1, hi1 = old1.predict_interval(X, level=0.9)
    lo2, hi2 = wrong_form_fit.predict_interval(X, level=0.9)
    assert d[0] == 0 and np.all(d[1:] > cal.ramp)
    assert hi1[0] - lo1[0] >= hi2[0] - lo2[0]  # inside: the current format's q_0 <= q
    np.testing.assert_allclose((lo1[1:], hi1[1:]), (lo2[1:], hi2[1:]))  # beyond the ramp: the same
    # a saved fit from before calibration existed is calibrated on load, from its saved rows

    del raw["calibration"]
    path.write_text(json.dumps(seal(raw)))
    old = sl.load_fit(path)
    assert old.calibration is None
    np.testing.assert_allclose(old.predict_interval(X, level=0.9), wrong_form_fit.predict_interval(X, level=0.9))


def test_interval_label_without_bootstrap_says_there_is_no_interval(rng):
    fit = sl.fit("power_law", misspecified(rng), inputs={"x": "x"})
    assert fit.interval_label(0.9) == "no 90% interval: call fit.bootstrap(n) first"
    assert fit.calibration is None  # the label no longer calibrates behind the user's back
    with pytest.raises(ValueError, match="no bootstrap draws"):
        fit.predict_interval({"x": [1e6]}, level=0.9)
    fit.bootstrap(20, seed=0)
    assert fit.interval_label(0.9).startswith("90% prediction interval, calibrated on")


def test_kind_is_validated(wrong_form_fit):
    with pytest.raises(ValueError, match="kind"):
        wrong_form_fit.predict_interval({"x": [1e6]}, kind="bayesian")


def _split_errors(rng, s_in=0.004, s0=0.02, c=0.03):
    """5 leave-one-level-out folds (held-out points inside the box, d = 0) and 8 rolling folds
    (d from 0.05 to 1 decade) with known floors and growth."""
    e, d, g, k = [], [], [], []
    for f in range(5):
        e.append(rng.normal(0, s_in, 40)), d.append(np.zeros(40)), g.append(np.full(40, f)), k.append(np.ones(40, bool))
    for f in range(5, 13):
        dd = np.linspace(0.05, 1.0, 40)
        e.append(rng.normal(0, np.sqrt(s0 ** 2 + (c * dd) ** 2)))
        d.append(dd), g.append(np.full(40, f)), k.append(np.zeros(40, bool))
    return (np.concatenate(a) for a in (e, d, g, k))


def test_interpolation_floor_from_the_folds_that_interpolate(rng):
    e, d, g, k = _split_errors(rng)
    cal = fit_error_model(e, d, g, noise_floor=0.002, interpolating=k)
    assert cal.inside_folds == 5 and cal.ramp == pytest.approx(0.05)
    assert cal.inside_noise == pytest.approx(0.004, rel=0.35)
    assert cal.noise == pytest.approx(0.02, rel=0.35) and cal.slope == pytest.approx(0.03, rel=0.5)
    one = fit_error_model(e, d, g, noise_floor=0.002)  # one floor everywhere: set by the rolling folds
    assert one.inside_noise is None
    h = cal.half_width(np.linspace(0, 2, 201), 0.9)
    # inside the box: the interpolation floor, with the floor's multiplier q_0 <= q
    assert cal.floor_multiplier(0.9) <= cal.multiplier(0.9)
    assert h[0] == pytest.approx(cal.floor_multiplier(0.9) * cal.inside_noise)
    assert h[0] < one.half_width(0.0, 0.9)
    assert np.all(np.diff(h) >= -1e-15), "never narrower further out"
    far = np.linspace(0, 2, 201) >= cal.ramp
    np.testing.assert_allclose(h[far], cal.multiplier(0.9) * cal.sigma(np.linspace(0, 2, 201)[far]))
    # nested in level, and it survives to_dict / from_dict
    assert np.all(cal.half_width(d, 0.8) <= cal.half_width(d, 0.9))
    back = Calibration.from_dict(json.loads(json.dumps(cal.to_dict())))
    np.testing.assert_allclose(back.half_width(d, 0.9), cal.half_width(d, 0.9))


def test_interpolation_floor_needs_three_interpolating_folds_and_old_dicts_load(rng):
    e, d, g, k = _split_errors(rng)
    few = np.isin(g, [0, 1]) | ~k  # 2 interpolating folds: too few to estimate their own floor
    cal = fit_error_model(e[few], d[few], g[few], noise_floor=0.002, interpolating=k[few])
    assert cal.inside_noise is None and cal.inside_folds == 0
    # a calibration saved before the interpolation floor existed loads as one floor everywhere
    old = fit_error_model(e, d, g, noise_floor=0.002).to_dict()
    for key in ("inside_noise", "inside_folds", "ramp", "inside_scores", "inside_score_weights", "version"):
        old.pop(key)
    back = Calibration.from_dict(old)
    assert back.inside_noise is None and back.version == 1
    np.testing.assert_allclose(back.half_width(d, 0.9), back.multiplier(0.9) * back.sigma(d))


def test_leave_one_level_out_folds_are_marked_interpolating():
    u = np.log10(np.repeat([0.25, 0.375, 0.625, 0.75], 3))
    D = np.log10(np.tile([1e9, 2e9, 4e9], 4))
    folds = make_folds(["r", "D"], np.stack([u, D], axis=1), leave_one_level=("r",))
    assert [f.interpolating for f in folds if f.name.startswith("leave")] == [True] * 4
    assert not any(f.interpolating for f in folds if not f.name.startswith("leave"))


def test_many_levels_or_runs_are_left_out_in_capped_contiguous_bins():
    """A mixture ratio per row (120 levels) or 12 schedule runs make at most MAX_CUTS_PER_AXIS
    leave-out folds, each level / run left out exactly once, bins contiguous in r; with few
    levels each is left out alone (as before)."""
    from scalelaw.calibration import MAX_CUTS_PER_AXIS

    r = np.log10(np.linspace(0.05, 0.95, 120))
    D = np.log10(np.tile([1e9, 2e9, 4e9], 40))
    folds = [f for f in make_folds(["r", "D"], np.stack([r, D], axis=1), leave_one_level=("r",))
             if f.interpolating]
    assert len(folds) == MAX_CUTS_PER_AXIS
    left = [r[~f.train] for f in folds]
    np.testing.assert_array_equal(np.sort(np.concatenate(left)), np.sort(r))  # each level once
    assert all(a.max() < b.min() for a, b in zip(left, left[1:]))  # contiguous, in order
    assert all(f.left_out[0] == 0 and len(f.left_out[1]) == len(x) for f, x in zip(folds, left))
    runs = np.repeat([f"run{i}" for i in range(12)], 5)
    x = np.log10(np.tile(np.arange(1.0, 6.0), 12))
    run_folds = [f for f in make_folds(["S1"], x[:, None], groups=runs) if f.interpolating]
    assert len(run_folds) == MAX_CUTS_PER_AXIS
    assert sorted(np.concatenate([np.unique(runs[~f.train]) for f in run_folds])) == sorted(set(runs))
    few = make_folds(["S1"], x[:15, None], groups=runs[:15])  # 3 runs: each alone
    assert [f.name for f in few if f.interpolating] == [f"leave run run{i} out" for i in range(3)]


def test_dcpt_with_a_ratio_per_run_calibrates_with_capped_folds():
    """dcpt on 40 runs, each with its own mixture ratio: the calibration makes at most
    MAX_CUTS_PER_AXIS share folds (it made one per ratio: minutes for a few hundred), and the
    interval is finite and nested."""
    from scalelaw.calibration import MAX_CUTS_PER_AXIS
    from scalelaw.laws.dcpt import dcpt

    rng = np.random.default_rng(4)
    rows = []
    for i, ratio in enumerate(np.linspace(0.1, 0.9, 40)):
        n = [2.5e4, 5.5e4, 1e5][i % 3]
        Dv = np.geomspace(5e4, 5e5, 6)
        L = dcpt(np.full(6, n), Dv, np.full(6, ratio), E=1.5, A=40.0, alpha=0.35, B=25.0, eta=0.3, beta=0.3,
                 C=0.08, gamma=0.5) * np.exp(rng.normal(0, 0.003, 6))
        rows.append(pd.DataFrame({"run": f"m{i}", "N": n, "D": Dv, "r": ratio, "loss": L}))
    fit = sl.fit("dcpt", pd.concat(rows, ignore_index=True), inputs={"N": "N", "D": "D", "r": "r"},
                 target="loss").bootstrap(30, seed=0)
    share_folds = [f for f in fit.calibration.folds if f.startswith("leave r")]
    assert 3 <= len(share_folds) <= MAX_CUTS_PER_AXIS
    X = {"N": [5.5e4], "D": [2e5], "r": [0.5]}
    lo9, hi9 = fit.predict_interval(X, level=0.9, warn=False)
    lo8, hi8 = fit.predict_interval(X, level=0.8, warn=False)
    assert np.all(np.isfinite([lo9, hi9])) and lo9[0] <= lo8[0] < hi8[0] <= hi9[0]


def _heavy_tailed_errors(rng, F=14, n=40, s0=0.01, c=0.02):
    """Folds whose errors share one scale per fold (a fold's refit misses by one amount): the
    standardised errors pooled over folds are a scale mixture, heavier-tailed than Gaussian, with
    most points well inside one Gaussian-ML sigma (the real sets' in-sample backtests look so)."""
    e, d, g = [], [], []
    for f in range(F):
        dd = np.linspace(0.0, 1.0, n)
        scale = rng.choice([0.4, 0.6, 2.2])  # most folds err little, a few a lot
        e.append(scale * rng.normal(0, np.sqrt(s0 ** 2 + (c * dd) ** 2))), d.append(dd), g.append(np.full(n, f))
    return (np.concatenate(a) for a in (e, d, g))


def test_floor_multiplier_is_the_score_quantile_format_2_keeps_its_correction(rng):
    from scalelaw.calibration import _weighted_quantile

    e, d, g = _heavy_tailed_errors(rng)
    cal = fit_error_model(e, d, g, noise_floor=0.001)
    assert cal.version == FORMAT
    F = cal.n_folds
    s, w = np.asarray(cal.scores), np.asarray(cal.score_weights)
    # a fit saved in format 2 (before step 3d) keeps the finite-sample correction counted in folds
    v2 = Calibration.from_dict(json.loads(json.dumps({**cal.to_dict(), "version": 2})))
    dd = np.array([0.0, cal.ramp / 2, cal.ramp, 2.0])
    for level in (0.5, 0.8, 0.9, 0.95):
        want = min(cal.multiplier(level), _weighted_quantile(s, w, level))
        assert cal.floor_multiplier(level) == pytest.approx(want)
        want2 = min(cal.multiplier(level), _weighted_quantile(s, w, level + (1 - level) / (F + 1)))
        assert v2.floor_multiplier(level) == pytest.approx(want2)
        assert cal.floor_multiplier(level) <= v2.floor_multiplier(level)
        h3, h2 = cal.half_width(dd, level), v2.half_width(dd, level)
        assert h2[0] == pytest.approx(want2 * cal.noise)
        assert np.all(h3 <= h2 + 1e-15)  # the correction only ever widened
        np.testing.assert_allclose(h3[2:], h2[2:])  # from the ramp on: q sigma(d) in both
    # heavier tails than Gaussian: the centre (80%) is narrower than the Gaussian-ML sigma times q
    assert cal.floor_multiplier(0.8) < 0.9 * cal.multiplier(0.8)
    # and the floor's interval covers close to its level on fresh folds from the same process
    e2, d2, g2 = _heavy_tailed_errors(np.random.default_rng(99), F=300)
    inside = d2 == 0
    for level in (0.8, 0.9):
        cover = np.mean(np.abs(e2[inside]) <= cal.half_width(d2[inside], level))
        assert abs(cover - level) < 0.12, (level, cover)


def test_floor_width_ramps_to_the_extrapolation_width_and_stays_nested(rng):
    e, d, g = _heavy_tailed_errors(rng)
    cal = fit_error_model(e, d, g, noise_floor=0.001)
    assert cal.version == FORMAT and cal.ramp == pytest.approx(np.min(d[d > 0]))
    dd = np.linspace(0, 3, 301)
    prev = None
    for level in (0.5, 0.8, 0.9, 0.95, 0.99):
        h = cal.half_width(dd, level)
        assert h[0] == pytest.approx(cal.floor_multiplier(level) * cal.noise)
        assert np.all(np.diff(h) >= -1e-15), "never narrower further out"
        far = dd >= cal.ramp
        np.testing.assert_allclose(h[far], cal.multiplier(level) * cal.sigma(dd[far]))
        if prev is not None:
            assert np.all(h >= prev - 1e-15), "nested in level"
        prev = h
    # format 1 (saved before step 3c) gives q sigma(d) everywhere, as it did
    old = cal.to_dict()
    old.pop("version")
    back = Calibration.from_dict(json.loads(json.dumps(old)))
    np.testing.assert_allclose(back.half_width(dd, 0.9), cal.multiplier(0.9) * cal.sigma(dd))
    new = Calibration.from_dict(json.loads(json.dumps(cal.to_dict())))
    np.testing.assert_allclose(new.half_width(dd, 0.9), cal.half_width(dd, 0.9))


def test_schedule_fit_on_two_runs_warns_its_interval_misses_other_shapes():
    """With fewer than 3 fitted schedules no run can be left out: every backtest is a rolling cut
    along the fitted curves, so the calibration cannot measure the error of another schedule's
    shape, and says so (on data/cpu_schedules, fitted on constant + cosine, the 90% interval
    covered 82-86% of the other schedules' points)."""
    import warnings
    from pathlib import Path

    from scalelaw import schedules as S

    data = Path(__file__).resolve().parents[1] / "data" / "cpu_schedules"
    if not data.is_dir():
        pytest.skip("data/cpu_schedules is not here")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logs = sl.read_logs(data)
    curves = logs[(logs["split"] == "val") & (logs["step"] >= 101) & logs["run"].str.startswith("sch_d2-32")].copy()
    curves["name"] = curves["run"].map(lambda r: r.split("_")[-2])
    warm = int(S.parse_spec(curves["schedule"].iloc[0])[1].get("warmup", 0))
    sched = {r: S.from_spec(s) for r, s in curves.groupby("run")["schedule"].first().items()}

    def calibrated(names):
        rows = curves[curves["name"].isin(names)]
        return sl.fit("lr_annealing", rows, inputs={"step": "step"}, target="loss", schedules=sched,
                      warmup_steps=warm).bootstrap(20, seed=0)

    two = calibrated(["constant", "cosine"])
    assert two.calibration.method != "fallback"
    assert any("too few to leave one out" in w for w in two.calibration.warnings)
    assert any("too few to leave one out" in w for w in two.warnings)
    three = calibrated(["constant", "cosine", "wsd"])
    assert any(f.startswith("leave run") for f in three.calibration.folds)
    assert not any("too few to leave one out" in w for w in three.calibration.warnings)
