"""The objective and the optimiser against independent computations."""

import numpy as np
import pytest
from scipy.optimize import check_grad, least_squares
from scipy.special import huber

import scalelaw as sl
from scalelaw.fitting.search import make_pred_fn
from scalelaw.fitting.objective import objective
from scalelaw.fitting.solver import batched_lm
from scalelaw.fitting.spec import ParamSpec


def test_huber_objective_equals_scipy_huber_summed(rng):
    y = rng.uniform(2, 4, 100)
    pred = y * np.exp(rng.normal(0, 0.004, 100))
    w = rng.integers(0, 3, 100).astype(float)
    ours = objective(pred, y, w, "huber", 1e-3)
    ref = np.sum(w * huber(1e-3, np.log(pred) - np.log(y)))
    assert ours == pytest.approx(ref, rel=1e-12)
    assert objective(pred, y, w, "squared") == pytest.approx(np.sum(w * 0.5 * (np.log(pred / y)) ** 2), rel=1e-12)
    assert objective(pred, y, w, "huber_linear", 0.01) == pytest.approx(np.sum(w * huber(0.01, pred - y)), rel=1e-12)


def test_fitted_objective_is_the_documented_sum(chinchilla_grid):
    fit = sl.fit("chinchilla", chinchilla_grid)
    p = fit.params
    N, D, L = (chinchilla_grid[c].to_numpy() for c in ("n_params", "n_tokens", "loss"))
    pred = p["E"] + p["A"] / N ** p["alpha"] + p["B"] / D ** p["beta"]
    assert fit.objective == pytest.approx(np.sum(huber(1e-3, np.log(pred) - np.log(L))), rel=1e-9)


def _problem(chinchilla_grid, loss="squared"):
    law = sl.get_law("chinchilla")
    spec = ParamSpec.build(law)
    X = {"N": chinchilla_grid["n_params"].to_numpy(), "D": chinchilla_grid["n_tokens"].to_numpy()}
    y = chinchilla_grid["loss"].to_numpy()
    return law, spec, make_pred_fn(law, X, {}, spec), y


def test_gradient_used_by_lbfgsb_matches_finite_differences(chinchilla_grid):
    from scalelaw.fitting.solver import _jacobian
    from scalelaw.fitting.objective import irls_weight, residuals, rho

    law, spec, pred_fn, y = _problem(chinchilla_grid)
    w = np.ones_like(y)
    lo, hi = spec.theta_bounds()

    def f(t):
        return float(np.sum(w * rho(residuals(pred_fn(t[None]), y, "squared"), "squared", 1e-3)))

    def g(t):
        r = residuals(pred_fn(t[None]), y, "squared")
        J = _jacobian(pred_fn, t[None], r, y, "squared", lo, hi)[0]
        return J @ (w * irls_weight(r[0], "squared", 1e-3) * r[0])

    theta = np.array([np.log(1.5), np.log(300.0), np.log(0.3), np.log(500.0), np.log(0.3)])
    assert check_grad(f, g, theta, epsilon=1e-6) < 1e-4 * np.linalg.norm(g(theta))


def test_batched_lm_reaches_scipy_least_squares_minimum(chinchilla_grid):
    law, spec, pred_fn, y = _problem(chinchilla_grid)
    lo, hi = spec.theta_bounds()
    starts = np.array([[0.0, 5.0, np.log(0.5), 5.0, np.log(0.5)],
                       [0.5, 7.0, np.log(0.3), 6.0, np.log(0.3)]])
    res = batched_lm(pred_fn, starts, y, np.ones_like(y), "squared", 1e-3, lo, hi)
    ref = least_squares(lambda t: np.log(pred_fn(t[None])[0]) - np.log(y), starts[1], method="lm",
                        xtol=1e-15, ftol=1e-15, gtol=1e-15)
    assert res.objective.min() == pytest.approx(ref.cost, rel=1e-6)
    np.testing.assert_allclose(res.theta[np.argmin(res.objective)], ref.x, rtol=1e-4, atol=1e-4)


def test_fit_beats_or_equals_a_plain_scipy_minimize_from_the_truth(chinchilla_grid):
    """Our optimum is at least as low as L-BFGS-B started at the true parameters."""
    from scipy.optimize import minimize

    from conftest import CHINCHILLA_TRUE

    law, spec, pred_fn, y = _problem(chinchilla_grid)
    fit = sl.fit("chinchilla", chinchilla_grid)
    t0 = spec.to_theta({k: np.array([v]) for k, v in CHINCHILLA_TRUE.items()})[0]
    ref = minimize(lambda t: objective(pred_fn(t[None])[0], y, 1.0, "huber", 1e-3), t0, method="L-BFGS-B")
    assert fit.objective <= ref.fun * (1 + 1e-9)
