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


TISSUE = dict(L0=2.5, A=0.6, alpha=0.5, C=2.0)  # C S2 stays well below L0 on the fitted schedules


def _tissue_fit(rng):
    n, w = 3000, 200
    train = {"const": S.constant(n, 3e-4, warmup=w), "cos": S.cosine(n, 3e-4, 3e-5, warmup=w)}
    frames = []
    for name, lr in train.items():
        eff = effective_lr(lr, w)
        curve = lr_annealing(forward_area(eff), annealing_area(eff, 0.999), **TISSUE)
        steps = np.arange(w + 50, n + 1, 50)
        frames.append(pd.DataFrame({"run": name, "step": steps, "loss": noisy(curve[steps - 1], rng, 0.002)}))
    return sl.fit("lr_annealing", pd.concat(frames, ignore_index=True), schedules=train, warmup_steps=w)


def test_lr_annealing_prediction_where_the_law_goes_negative_is_not_silent(rng):
    """L0 + A S1^-alpha - C S2 falls below zero for a schedule with 100x the fitted LR decay;
    predict returned 1e-12 there (the clip for the fit's logs) as if it were a loss of ~0."""
    fit = _tissue_fit(rng)
    assert fit.params["C"] == pytest.approx(TISSUE["C"], rel=0.2)
    hot = S.cosine(3000, 3e-2, 3e-5, warmup=200)  # 100x the peak: S2 100x larger
    with pytest.warns(UserWarning, match=r"predict: the law .* falls to <= 0 at \d+ of 3000 value\(s\) \(first at step"):
        pred = fit.predict(schedule=hot, warmup_steps=200)
    assert pred.min() == pytest.approx(1e-12)  # the values are unchanged: the warning is the fix
    fit.bootstrap(20, seed=0, calibrate=False)
    with pytest.warns(UserWarning, match="predict_interval .lower bound.: the law"):
        fit.predict_interval(level=0.9, kind="parameter", schedule=hot, warmup_steps=200)
    with pytest.warns(UserWarning, match="optimum: the law .* candidate schedule.s. 'hot'"):
        best = fit.optimum(schedules={"hot": hot, "cos": S.cosine(3000, 3e-4, 3e-5, warmup=200)}, warmup_steps=200)
    assert best["schedule"] == "hot"  # what the clip makes it choose; the warning says it means nothing
    # a schedule like the fitted ones: no such warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ok = fit.predict(schedule=S.wsd(3000, 3e-4, 3e-5, warmup=200), warmup_steps=200)
    assert ok.min() > 1.0


def test_multi_power_prediction_where_the_law_goes_negative_is_not_silent(rng):
    p = dict(L0=2.0, A=0.6, alpha=0.5, B=400.0, C=2.0, beta=0.6, gamma=0.64)
    T, W = 800, 100
    train = {"cos": S.cosine(T, 3e-3, 3e-4, warmup=W), "const": S.constant(T, 3e-3, warmup=W)}
    frames = []
    for name, lr in train.items():
        steps = np.arange(W + 10, T + 1, 10)
        frames.append(pd.DataFrame({"run": name, "step": steps,
                                    "loss": noisy(multi_power(lr, **p, warmup_steps=W, steps=steps), rng, 0.002)}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = sl.fit("multi_power", pd.concat(frames, ignore_index=True), schedules=train, warmup_steps=W)
    hot = S.cosine(T, 3e-2, 3e-5, warmup=W)  # B x (peak - floor) ~ 12 nats of loss drop > L0
    with pytest.warns(UserWarning, match=r"predict: the law .* falls to <= 0"):
        fit.predict(schedule=hot, warmup_steps=W)
    with pytest.warns(UserWarning, match="optimal_schedule: the law .* falls to <= 0"):
        fit.optimal_schedule(T, 3e-2, warmup=W, floor=3e-5, family="cosine")


def test_noiseless_data_bootstrap_says_its_parameter_band_has_zero_width():
    """Zero residuals: every resample refits the same curve, and kind='parameter' gave a band of
    width 0 with no word; the bootstrap now says why (and a noisy fit does not)."""
    N, D = _grid(np.geomspace(1e7, 3e9, 6), np.geomspace(1e9, 3e11, 6))
    exact = pd.DataFrame({"n_params": N, "n_tokens": D, "loss": chinchilla(N, D, **CHINCHILLA_TRUE)})
    fit = sl.fit("chinchilla", exact)
    with pytest.warns(UserWarning, match="all 20 resamples refitted to the same parameters"):
        fit.bootstrap(20, seed=0, calibrate=False)
    lo, hi = fit.predict_interval({"N": 1e10, "D": 1e12}, level=0.9, kind="parameter", warn=False)
    assert np.allclose(lo, hi, rtol=1e-9)  # the band it describes
    assert any("refitted to the same parameters" in w for w in fit.warnings)
    noisy_fit = sl.fit("chinchilla", _chinchilla_frame(np.random.default_rng(0)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        noisy_fit.bootstrap(20, seed=0, calibrate=False)
    assert not any("refitted to the same" in w for w in noisy_fit.warnings)


def test_a_2d_grid_of_inputs_predicts_and_bands_like_its_raveled_points(rng):
    """np.meshgrid inputs (a contour of loss over N and D): predict flattened them, and
    predict_interval failed with numpy's "operands could not be broadcast together with shapes
    (20,1) (3,4)". Both now take the points in C order, one value each."""
    fit = sl.fit("chinchilla", _chinchilla_frame(rng)).bootstrap(20, seed=0)
    N, D = np.meshgrid(np.geomspace(1e8, 1e9, 4), np.geomspace(1e10, 1e11, 3))
    flat = {"N": N.ravel(), "D": D.ravel()}
    np.testing.assert_array_equal(fit.predict({"N": N, "D": D}), fit.predict(flat))
    for kind in ("parameter", "calibrated"):
        got = fit.predict_interval({"N": N, "D": D}, level=0.9, kind=kind, warn=False)
        want = fit.predict_interval(flat, level=0.9, kind=kind, warn=False)
        assert got[0].shape == (12,)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


def test_linear_losses_with_a_target_at_or_below_zero_fit_instead_of_crashing(rng):
    """loss='huber_linear' admits targets <= 0 (a measurement of 0, a differenced target);
    critical_batch's start grid took geomspace(min(y), ...) and failed with numpy's "Geometric
    sequence cannot include zero", and power's took log(y) and reported "all 9 starts gave a
    non-finite objective". The starts now come from the positive targets; one bad row among 15
    leaves the (L1-like) huber_linear fit on the true law."""
    L = np.linspace(2.0, 5.0, 15)
    B = noisy(2e8 / L ** (1 / 0.21), rng, 0.01)
    B[3] = 0.0
    fit = sl.fit("critical_batch", pd.DataFrame({"loss": L, "b_crit": B}), inputs={"L": "loss"}, target="b_crit",
                 loss="huber_linear")
    assert fit.params["alpha_B"] == pytest.approx(0.21, rel=0.05)
    x = np.geomspace(1e15, 1e21, 25)
    y = noisy(0.3 * x ** 0.7, rng, 0.01)
    y[5] = -y[5]
    fit2 = sl.fit("power", pd.DataFrame({"flops": x, "n_opt": y}), target="n_opt", loss="huber_linear")
    assert fit2.params["a"] == pytest.approx(0.7, rel=0.02)


@pytest.mark.parametrize("law", ["lr_annealing", "multi_power"])
def test_fractional_steps_are_refused_not_truncated(law, rng):
    """lr_annealing indexed the schedule with int64(step): a step of 1250.5 (or a computed
    1249.9999999) silently became step 1250 (1249); only a fraction on the last step failed,
    as 'data has step 3000 but its schedule has only 3000 steps'. predict(steps=...) cut
    fractions in both schedule laws. Now a clear error in fit and in predict."""
    n = 3000
    train = {"const": S.constant(n, 3e-4), "cos": S.cosine(n, 3e-4, 3e-5)}
    frames = []
    for name, lr in train.items():
        eff = effective_lr(lr, 0)
        steps = np.arange(50, n + 1, 50).astype(float)
        curve = lr_annealing(forward_area(eff), annealing_area(eff, 0.999), **TISSUE)
        frames.append(pd.DataFrame({"run": name, "step": steps, "loss": noisy(curve[steps.astype(int) - 1], rng, 0.002)}))
    df = pd.concat(frames, ignore_index=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = sl.fit(law, df, schedules=train)  # whole steps held as floats are fine
        bad = df.copy()
        bad.loc[3, "step"] = 200.0 - 1e-7  # a step computed from tokens, with float error
        with pytest.raises(ValueError, match=r"run 'const': steps must be whole numbers"):
            sl.fit(law, bad, schedules=train)
    with pytest.raises(ValueError, match=r"steps must be whole numbers .*1250\.5"):
        fit.predict(schedule=train["cos"], steps=[1000, 1250.5])
    assert fit.predict(schedule=train["cos"], steps=[1000.0, 1250.0]).shape == (2,)


def test_dcpt_cross_refuses_a_new_domain_whose_K_is_not_positive(rng):
    """A new domain's measured (k1, k2) with k2 < 0 (its loss rose over the first interval) gives
    K = 1/k1 + w2 k2 <= 0 under the fitted w2; predict and predict_interval returned NaN."""
    from scalelaw.laws.dcpt_cross import dcpt_cross

    true = dict(E=1.2, A=300.0, alpha=0.35, B=500.0, eta=0.2, beta=0.3, C=0.05, gamma=0.5, F=2.0, mu=0.8, w2=3.0)
    feats = {"code": (2.0, 0.05), "legal": (2.6, 0.12), "math": (3.1, 0.2), "bio": (2.3, 0.3), "law": (2.9, 0.02)}
    N, D, r = _grid(np.geomspace(1e6, 1e8, 3), np.geomspace(1e8, 1e10, 3), [0.1, 0.3, 1.0])
    df = pd.concat([pd.DataFrame({"n_params": N, "n_tokens": D, "mix_ratio": r, "domain": name,
                                  "loss": noisy(dcpt_cross(N, D, r, k1, k2, **true), rng, 0.001)})
                    for name, (k1, k2) in feats.items()], ignore_index=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = sl.fit("dcpt_cross", df, domain_features={d: {"k1": a, "k2": b} for d, (a, b) in feats.items()})
    assert fit.params["w2"] == pytest.approx(3.0, rel=0.1)
    X = {"N": [1e7], "D": [1e9], "r": [0.5]}
    ok = fit.predict({**X, "k1": [2.8], "k2": [-0.05]})  # K = 1/2.8 - 0.15 > 0: defined
    assert ok[0] == pytest.approx(dcpt_cross(1e7, 1e9, 0.5, 2.8, -0.05, **true), rel=0.02)
    with pytest.raises(ValueError, match=r"K = 1/k1 \+ w2\*k2 = -2.\d+ <= 0 at k1=2, k2=-1 .*fitted domains have K in"):
        fit.predict({**X, "k1": [2.0], "k2": [-1.0]})
    fit.bootstrap(10, seed=0, calibrate=False)
    with pytest.raises(ValueError, match="K = 1/k1"):
        fit.predict_interval({**X, "k1": [2.0], "k2": [-1.0]}, level=0.9, kind="parameter")
    with pytest.raises(ValueError, match="k1 .* must be a finite number > 0"):
        fit.predict({**X, "k1": [0.0], "k2": [0.1]})


def test_predict_refuses_a_boolean_input_as_the_fit_refuses_boolean_columns(chinchilla_grid):
    """predict({"N": True}) was read as N = 1 (num12's audit): now an error naming the input."""
    fit = sl.fit("chinchilla", chinchilla_grid)
    for bad in (True, [True, 2e9], np.array([True, False]), pd.Series([True, False], dtype="boolean")):
        with pytest.raises(ValueError, match=r"input N must be a number, got .*True.* \(a boolean\)"):
            fit.predict({"N": bad, "D": 1e10})
    assert np.isfinite(fit.predict({"N": [1e9, 2e9], "D": 1e10})).all()  # numbers still pass
