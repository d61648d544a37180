import numpy as np
import pytest

from scalelaw import schedules as S


def test_cosine_endpoints_and_warmup():
    lr = S.cosine(100, peak=1e-3, floor=1e-4, warmup=10)
    assert lr.shape == (100,)
    np.testing.assert_allclose(lr[:10], 1e-3 * np.arange(1, 11) / 10)
    assert lr[9] == pytest.approx(1e-3)
    assert lr[-1] == pytest.approx(1e-4)
    # halfway through the decay the cosine is at the midpoint of peak and floor
    assert lr[9 + 45] == pytest.approx(1e-4 + 0.9e-3 * 0.5, rel=1e-12)
    assert np.all(np.diff(lr[10:]) <= 0)


def test_constant_linear_wsd_step_formulas():
    np.testing.assert_allclose(S.constant(5, 2.0), 2.0)
    # decay runs from the end of warm-up (step 0 here) to the last step
    lin = S.linear(10, peak=1.0, floor=0.0)
    np.testing.assert_allclose(lin, 1.0 - np.arange(1, 11) / 10, atol=1e-15)
    lin_w = S.linear(12, peak=1.0, floor=0.0, warmup=2)
    np.testing.assert_allclose(lin_w[1:], 1.0 - np.arange(0, 11) / 10, atol=1e-15)
    w = S.wsd(100, peak=1.0, floor=0.1, decay_frac=0.2)
    np.testing.assert_allclose(w[:80], 1.0)
    assert w[-1] == pytest.approx(0.1)
    we = S.wsd(100, peak=1.0, floor=0.01, decay_frac=0.5, shape="exp")
    # geometric: the middle of the decay is the geometric mean
    assert we[50 + 25 - 1] == pytest.approx(np.sqrt(1.0 * 0.01), rel=1e-9)
    st = S.step(10, peak=1.0, drops=[(4, 0.3), (8, 0.1)])
    np.testing.assert_allclose(st, [1, 1, 1, 0.3, 0.3, 0.3, 0.3, 0.1, 0.1, 0.1])


@pytest.mark.parametrize("spec", [
    "cosine:n_steps=24000,peak=0.0003,floor=3e-05,warmup=2160",
    "step:n_steps=16000,peak=0.0003,drops=8000/0.3;12000/0.1",
    "wsd:n_steps=1000,peak=0.001,floor=0,warmup=10,decay_frac=0.2,shape=cosine",
])
def test_string_form_round_trip(spec):
    name, kwargs = S.parse_spec(spec)
    again = S.to_spec(name, **kwargs)
    np.testing.assert_array_equal(S.from_spec(again), S.from_spec(spec))
    assert S.parse_spec(again) == (name, kwargs)


@pytest.mark.parametrize("bad, match", [
    ("nope:n_steps=3,peak=1", "unknown schedule"),
    ("cosine:n_steps=3", "needs at least n_steps and peak"),
    ("cosine:n_steps=3,peak=x", "bad value for 'peak'"),
    ("cosine:n_steps=10,peak=1,warmup=20", "warmup"),
    ("wsd:n_steps=10,peak=1,floor=0,shape=exp", "floor > 0"),
])
def test_bad_specs_name_the_problem(bad, match):
    with pytest.raises(ValueError, match=match):
        S.from_spec(bad)
