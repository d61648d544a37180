"""The extrapolation distance to the convex hull of the fitted rows (scalelaw.calibration, step 2):
equal to the box distance in one coordinate, positive at the corners a box misses, the same as an
independent brute-force minimisation, blind to duplicates, and kept by saved fits."""

import json

import numpy as np
import pandas as pd
import pytest

import scalelaw as sl
import scalelaw.calibration as C
from scalelaw.calibration import Calibration, box, distance, hull, hull_distance, joint_distance

from conftest import noisy


def brute_force(x, P):
    """min ||l @ P - x|| over the simplex, by SLSQP from several starts (independent of hull())."""
    from scipy.optimize import minimize

    best = np.inf
    rng = np.random.default_rng(0)
    for start in [np.full(len(P), 1 / len(P)), *rng.dirichlet(np.ones(len(P)), 3)]:
        r = minimize(lambda l: np.sum((l @ P - x) ** 2), start, jac=lambda l: 2 * (P @ (l @ P - x)),
                     bounds=[(0, 1)] * len(P), constraints=[{"type": "eq", "fun": lambda l: l.sum() - 1}],
                     method="SLSQP", options={"ftol": 1e-14, "maxiter": 500})
        best = min(best, float(np.sqrt(max(r.fun, 0.0))))
    return best


def test_one_coordinate_is_the_box_distance():
    pts = np.log10([[1e6], [3e7], [1e9], [2e8]])
    q = np.linspace(4, 11, 29)[:, None]
    lo, hi = box(pts)
    np.testing.assert_allclose(hull_distance(q, hull(pts)), distance(q, lo, hi), atol=1e-12)
    assert hull(pts).shape == (2, 1)


def test_a_corner_the_box_misses_is_outside_the_hull():
    # a triangle (an L of rows: few tokens per parameter never seen at large N)
    tri = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [0.5, 0.5]])
    corner = np.array([[2.0, 2.0]])
    lo, hi = box(tri)
    assert distance(corner, lo, hi)[0] == 0
    assert hull_distance(corner, hull(tri))[0] == pytest.approx(np.sqrt(2.0))  # to the edge x + y = 2
    assert len(hull(tri)) == 3  # the interior point is not a vertex
    # inside and on the boundary: 0; beyond a vertex: the distance to that vertex
    np.testing.assert_allclose(hull_distance(np.array([[0.2, 0.3], [1.0, 1.0], [3.0, -1.0]]), hull(tri)),
                               [0.0, 0.0, np.sqrt(2.0)], atol=1e-12)
    # the box (per-coordinate ranges) is the hull of a full grid
    grid = np.array([[a, b] for a in (0.0, 1.0, 2.0) for b in (0.0, 1.0)])
    q = np.random.default_rng(1).uniform(-2, 4, (50, 2))
    lo, hi = box(grid)
    np.testing.assert_allclose(joint_distance(q, grid, "hull"), distance(q, lo, hi), atol=1e-9)


@pytest.mark.parametrize("k", [2, 3])
def test_matches_a_brute_force_minimisation(k):
    rng = np.random.default_rng(k)
    for _ in range(6):
        P = rng.normal(0, 1, (int(rng.integers(k + 1, 9)), k))
        x = rng.normal(0, 2, (8, k))
        got = hull_distance(x, hull(P))
        want = [brute_force(xi, P) for xi in x]
        np.testing.assert_allclose(got, want, atol=2e-6)
        assert np.all(got >= distance(x, *box(P)) - 1e-12)  # the hull lies inside the box


def test_degenerate_sets_and_duplicates_and_nan():
    # collinear points in 2-D: the segment between the extremes
    line = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [1.0, 1.0]])
    assert len(hull(line)) == 2
    np.testing.assert_allclose(hull_distance(np.array([[2.0, 0.0], [3.0, 3.0], [1.0, 1.0]]), hull(line)),
                               [np.sqrt(2.0), np.sqrt(2.0), 0.0], atol=1e-12)
    # one value of one coordinate (a coplanar set in 3-D)
    flat = np.array([[0.0, 0.0, 5.0], [1.0, 0.0, 5.0], [0.0, 1.0, 5.0]])
    np.testing.assert_allclose(hull_distance(np.array([[1.0, 1.0, 5.0], [0.0, 0.0, 6.0]]), hull(flat)),
                               [np.sqrt(0.5), 1.0], atol=1e-6)
    # a single point
    np.testing.assert_allclose(hull_distance(np.array([[3.0, 4.0]]), hull(np.zeros((3, 2)))), [5.0])
    # duplicate rows change nothing
    rng = np.random.default_rng(3)
    P = rng.normal(0, 1, (12, 2))
    x = rng.normal(0, 3, (40, 2))
    np.testing.assert_allclose(hull_distance(x, hull(np.vstack([P, P, P[:5]]))), hull_distance(x, hull(P)))
    # NaN query coordinates count as inside along them (the box does the same)
    tri = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]])
    assert hull_distance(np.array([[np.nan, 3.0]]), hull(tri))[0] == pytest.approx(1.0)
    # a fitted row with a NaN coordinate spans that coordinate's range: its finite one is covered
    with_nan = np.vstack([tri, [[4.0, np.nan]]])
    assert hull_distance(np.array([[4.0, 2.0]]), hull(with_nan))[0] == pytest.approx(0.0, abs=1e-12)
    assert distance(np.array([[4.0, 2.0]]), *box(with_nan))[0] == 0.0


def test_fast_for_thousands_of_rows_and_queries():
    import time

    rng = np.random.default_rng(5)
    P = rng.normal(0, 1, (5000, 2))
    x = rng.normal(0, 3, (5000, 2))
    t = time.perf_counter()
    d = joint_distance(x, P, "hull")
    assert time.perf_counter() - t < 20  # generous: a guard against a quadratic blow-up, not a timing
    assert np.all(np.isfinite(d)) and (d > 0).any() and (d == 0).any()


def corner_data(rng):
    """Chinchilla-like rows whose tokens per parameter fall with N (an L-shaped (N, D) cloud)."""
    N = np.exp(rng.uniform(np.log(1e7), np.log(1e9), 80))
    D = N * np.exp(rng.uniform(np.log(5), np.log(200), 80)) * (1e8 / N) ** 0.5
    L = 1.8 + 480 / N ** 0.34 + 2000 / D ** 0.36
    return pd.DataFrame({"N": N, "D": D, "loss": noisy(L, rng, 0.005)})


def test_hull_calibration_saves_and_loads_with_the_same_interval(tmp_path, monkeypatch):
    rng = np.random.default_rng(11)
    df = corner_data(rng)
    monkeypatch.setattr(C, "DISTANCE", "hull")
    fit = sl.fit("chinchilla", df, inputs={"N": "N", "D": "D"}).bootstrap(20, seed=0)
    cal = fit.calibration
    assert cal.version == C.FORMAT >= 4 and cal.hull is not None and len(cal.hull) < len(df)
    # a corner the box misses: large N with few tokens per parameter
    X = {"N": [5e8, 1e9, 3e9], "D": [3e9, 1.5e9, 1e11]}
    coords = C.coordinates(fit.law, X)[1]
    d = fit.extrapolation_distance(X)
    np.testing.assert_allclose(d, hull_distance(coords, hull(C.coordinates(fit.law, fit._features()[0])[1])))
    assert d[1] > distance(coords, np.asarray(cal.lo), np.asarray(cal.hi))[1]
    path = tmp_path / "fit.json"
    fit.save(path)
    monkeypatch.setattr(C, "DISTANCE", "box")  # the default does not matter to a saved calibration
    back = sl.load_fit(path)
    assert back.calibration.hull is not None
    np.testing.assert_allclose(back.extrapolation_distance(X), d)
    np.testing.assert_allclose(back.predict_interval(X, level=0.9), fit.predict_interval(X, level=0.9))
    # a file saved before format 4 (no hull) keeps the box, whatever the default
    raw = json.loads(path.read_text())
    raw["calibration"].pop("hull")
    raw["calibration"]["version"] = 3
    from scalelaw.integrity import seal

    path.write_text(json.dumps(seal(raw)))
    monkeypatch.setattr(C, "DISTANCE", "hull")
    old = sl.load_fit(path)
    assert old.calibration.hull is None
    np.testing.assert_allclose(old.extrapolation_distance(X), distance(coords, np.asarray(cal.lo), np.asarray(cal.hi)))
    # the round trip of the calibration alone
    again = Calibration.from_dict(json.loads(json.dumps(cal.to_dict())))
    np.testing.assert_allclose(again.distance(coords), cal.distance(coords))


def test_box_option_is_unchanged(monkeypatch):
    rng = np.random.default_rng(12)
    df = corner_data(rng)
    fit = sl.fit("chinchilla", df, inputs={"N": "N", "D": "D"})
    fit.bootstrap(20, seed=0, calibrate=False)
    cb = C.calibrate_fit(fit, distance="box")
    ch = C.calibrate_fit(fit, distance="hull")
    assert cb.hull is None and ch.hull is not None
    assert cb.n_folds == ch.n_folds
    with pytest.raises(ValueError, match="distance"):
        C.calibrate_fit(fit, distance="sphere")
