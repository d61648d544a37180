"""Issue 12, scale: long curves must fit without a hang. The start search sees a random subset of
the rows, the law is evaluated once per distinct input row, and the polish uses every row, so the
answer is the full data's optimum. Speed and memory are measured in benchmarks/bench_fit.py
(``--rows``); these tests check that the fast path gives the same answer as the search on every row.

Test names start with the issue's category (``test_hang_``) so the cases can be counted.
"""

import numpy as np
import pandas as pd
import pytest

import scalelaw as sl


def curves(n_runs, per_run, seed=0, sigma=0.02):
    rng = np.random.default_rng(seed)
    steps = np.tile(np.arange(1, per_run + 1), n_runs)
    loss = (2.0 + (300.0 / steps) ** 0.5) * np.exp(rng.normal(0, sigma, len(steps)))
    return pd.DataFrame({"run": np.repeat([f"r{i}" for i in range(n_runs)], per_run), "step": steps, "loss": loss})


def test_hang_long_curves_search_a_subset_and_reach_the_same_optimum():
    df = curves(20, 1000)  # 20,000 rows, 1,000 distinct steps
    slow = sl.fit("power_law", df, inputs={"x": "step"}, search_rows=None)
    fast = sl.fit("power_law", df, inputs={"x": "step"}, search_rows=500)
    assert fast.objective == pytest.approx(slow.objective, rel=1e-6)
    assert fast.objective <= slow.objective * (1 + 1e-9)
    for name in ("L_inf", "x0", "alpha"):
        assert fast.params[name] == pytest.approx(slow.params[name], rel=1e-4)
    note = [w for w in fast.warnings if "start search ran on a random" in w]
    assert len(note) == 1 and "20,000 rows" in note[0] and "polished on all rows" in note[0]
    assert not any("start search" in w for w in slow.warnings)
    assert fast.n_points == 20_000  # every row is kept and fitted


def test_hang_search_rows_is_validated():
    with pytest.raises(ValueError, match="search_rows must be an integer >= 100 or None"):
        sl.fit("power_law", curves(2, 50), inputs={"x": "step"}, search_rows=5)


def test_hang_distinct_rows_give_the_same_predictions_and_gradient():
    """Evaluating the law once per distinct input row is exact: the same predictions, objective and
    gradient as evaluating it on every row."""
    from scalelaw.fitting.search import make_pred_fn
    from scalelaw.fitting.solver import _fun_on_distinct, _jacobian, irls_weight
    from scalelaw.fitting.objective import objective, residuals
    from scalelaw.fitting.spec import ParamSpec

    law = sl.get_law("chinchilla")
    rng = np.random.default_rng(3)
    N = np.repeat(np.geomspace(1e7, 1e9, 10), 300)
    D = np.tile(np.geomspace(1e9, 1e11, 30), 100)
    y = 1.7 + 400 / N ** 0.34 + 410 / D ** 0.28 * np.exp(rng.normal(0, 0.01, len(N)))
    X = {"N": N, "D": D}
    spec = ParamSpec.build(law)
    theta = spec.to_theta({"E": np.array([1.6]), "A": np.array([350.0]), "alpha": np.array([0.33]),
                           "B": np.array([500.0]), "beta": np.array([0.3])})
    fast = make_pred_fn(law, X, {}, spec)
    assert fast.distinct[2] == 300  # 3,000 rows, 300 distinct (N, D)
    plain = law.evaluate(X, spec.from_theta(theta), {}).reshape(-1)
    np.testing.assert_allclose(fast(theta)[0], plain, rtol=1e-15)
    w = np.ones(len(y))
    lo, hi = spec.theta_bounds()
    f, grad = _fun_on_distinct(fast.distinct, y, w, "huber", 1e-3, hi)(theta[0])
    assert f == pytest.approx(float(objective(plain[None], y, w)[0]), rel=1e-12)

    def slow_fn(t):
        return np.broadcast_to(law.evaluate(X, spec.from_theta(np.atleast_2d(t)), {}), (len(np.atleast_2d(t)), len(y)))

    r = residuals(slow_fn(theta), y, "huber")
    J = _jacobian(slow_fn, theta, r, y, "huber", lo, hi)[0]
    np.testing.assert_allclose(grad, J @ (w * irls_weight(r[0], "huber", 1e-3) * r[0]), rtol=1e-6)


def test_hang_plots_of_long_curves_are_thinned_and_say_so():
    pytest.importorskip("plotly")
    from scalelaw.plot import plot_fit

    fit = sl.fit("power_law", curves(25, 2000), inputs={"x": "step"}, search_rows=500)
    fig = plot_fit(fit)
    markers = [t for t in fig.data if t.mode == "markers"]
    assert len(markers) == 1 and len(markers[0].x) <= 20_000
    assert "1 row in 3 of 50,000 drawn" in markers[0].name


def test_hang_bootstrap_of_long_curves_is_refused_with_what_would_work():
    fit = sl.fit("power_law", curves(30, 2000), inputs={"x": "step"}, search_rows=500)  # 60,000 rows
    with pytest.raises(ValueError, match="1,000 resamples of 60,000 rows is too large.*use n <= 833"):
        fit.bootstrap(n=1000)
