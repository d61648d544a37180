"""Every law recovers known parameters from noisy synthetic data on an identifiable design.

Tolerances are relative errors on the parameters themselves and are stated per test; the noise
is multiplicative (log residuals ~ N(0, sigma)).
"""

import numpy as np
import pandas as pd
import pytest

import scalelaw as sl
from scalelaw import schedules as S
from scalelaw.laws.dcpt import dcpt
from scalelaw.laws.dcpt_cross import dcpt_cross
from scalelaw.laws.lr_annealing import annealing_area, effective_lr, forward_area, lr_annealing

from conftest import CHINCHILLA_TRUE, noisy


def assert_params(fit, true, rtol):
    for name, value in true.items():
        assert fit.params[name] == pytest.approx(value, rel=rtol), f"{name}: {fit.params[name]} vs {value}"


def grid(*axes):
    return [a.ravel() for a in np.meshgrid(*axes)]


def test_chinchilla_recovers_parameters_on_a_2d_grid(chinchilla_grid):
    fit = sl.fit("chinchilla", chinchilla_grid, inputs={"N": "n_params", "D": "n_tokens"}, target="loss")
    # 0.3% noise on 64 points: exponents within 3%, coefficients within 25% (they trade off with E)
    assert_params(fit, {k: CHINCHILLA_TRUE[k] for k in ("alpha", "beta")}, 0.03)
    assert_params(fit, {"E": CHINCHILLA_TRUE["E"]}, 0.03)
    assert_params(fit, {k: CHINCHILLA_TRUE[k] for k in ("A", "B")}, 0.25)
    assert fit.starts["n_agree"] >= 2
    assert not fit.at_bound


def test_power_law_and_power(rng):
    x = np.geomspace(1e15, 1e21, 25)
    true = {"L_inf": 1.7, "x0": 3e13, "alpha": 0.08}
    L = noisy(1.7 + (3e13 / x) ** 0.08, rng, 0.001)
    fit = sl.fit("power_law", pd.DataFrame({"flops": x, "loss": L}))
    assert_params(fit, {"L_inf": 1.7, "alpha": 0.08}, 0.03)
    assert_params(fit, {"x0": 3e13}, 0.5)  # x0 sits far below the data: loosely pinned
    fit2 = sl.fit("power", pd.DataFrame({"flops": x, "n_opt": noisy(0.3 * x ** 0.7, rng, 0.01)}), target="n_opt")
    assert_params(fit2, {"a": 0.7}, 0.005)
    assert_params(fit2, {"k": 0.3}, 0.2)
    neg = sl.fit("power", pd.DataFrame({"x": x, "y": noisy(5e3 * x ** -0.2, rng, 0.01)}), inputs={"x": "x"}, target="y")
    assert_params(neg, {"a": -0.2, "k": 5e3}, 0.05)


def test_kaplan_nd_and_ns(rng):
    N, D = grid(np.geomspace(1e6, 1e8, 7), np.geomspace(1e8, 1e10, 7))
    true = {"N_c": 8.8e13, "alpha_N": 0.076, "D_c": 5.4e13, "alpha_D": 0.095}
    L = noisy(((8.8e13 / N) ** (0.076 / 0.095) + 5.4e13 / D) ** 0.095, rng, 0.001)
    fit = sl.fit("kaplan_nd", pd.DataFrame({"n_params": N, "n_tokens": D, "loss": L}))
    assert_params(fit, {"alpha_N": 0.076, "alpha_D": 0.095}, 0.02)
    assert_params(fit, {"N_c": 8.8e13, "D_c": 5.4e13}, 0.3)
    N2, S2 = grid(np.geomspace(1e6, 1e8, 7), np.geomspace(1e3, 1e5, 7))
    L2 = noisy((8.8e13 / N2) ** 0.076 + (2.1e3 / S2) ** 0.76, rng, 0.001)
    fit2 = sl.fit("kaplan_ns", pd.DataFrame({"n_params": N2, "s_min": S2, "loss": L2}), inputs={"S_min": "s_min"})
    assert_params(fit2, {"alpha_N": 0.076, "alpha_S": 0.76, "S_c": 2.1e3}, 0.03)
    assert_params(fit2, {"N_c": 8.8e13}, 0.3)


def test_critical_batch(rng):
    L = np.linspace(2.0, 5.0, 15)
    B = noisy(2e8 / L ** (1 / 0.21), rng, 0.01)
    fit = sl.fit("critical_batch", pd.DataFrame({"loss": L, "b_crit": B}), inputs={"L": "loss"}, target="b_crit")
    assert_params(fit, {"alpha_B": 0.21, "B_star": 2e8}, 0.05)


def test_encdec_recovers_exponents_and_split(rng):
    Ne, Nd = grid(np.geomspace(1e6, 1e8, 5), np.geomspace(1e6, 1e8, 5))
    true = {"A": 0.8, "p_e": 0.2, "p_d": 0.35, "L_inf": 1.5}
    L = noisy(0.8 * (1e7 / Ne) ** 0.2 * (1e7 / Nd) ** 0.35 + 1.5, rng, 0.002)
    fit = sl.fit("encdec", pd.DataFrame({"n_enc_params": Ne, "n_dec_params": Nd, "loss": L}), Ne_ref=1e7, Nd_ref=1e7)
    assert_params(fit, true, 0.05)
    opt = fit.optimum(budget=2e8)
    assert opt["N_e"] / 2e8 == pytest.approx(0.2 / 0.55, rel=0.05)


def test_dcpt_domain_and_general_and_mixture_optimum(rng):
    N, D, r = grid(np.geomspace(1e6, 1e8, 5), np.geomspace(1e8, 1e10, 5), [0.1, 0.25, 0.5, 0.75, 1.0])
    dom_true = dict(E=1.2, A=300.0, alpha=0.35, B=500.0, eta=0.2, beta=0.3, C=0.05, gamma=0.5)
    gen_true = dict(E=1.8, A=200.0, alpha=0.3, B=300.0, eta=0.3, beta=0.3, C=0.02, gamma=0.4)
    dom_loss = noisy(dcpt(N, D, r, **dom_true), rng, 0.001)
    gen_loss = noisy(dcpt(N, D, 1 - r, **gen_true), rng, 0.001)
    # base models' general loss before continual pre-training (D = 0 rows)
    base_N = np.geomspace(1e6, 1e8, 5)
    base = 1.8 + 200.0 / base_N ** 0.3 + 0.1
    gen_df = pd.DataFrame({"n_params": np.r_[N, base_N], "n_tokens": np.r_[D, np.zeros(5)],
                           "mix_ratio": np.r_[r, np.full(5, 0.5)], "loss": np.r_[gen_loss, base]})
    dom = sl.fit("dcpt", pd.DataFrame({"n_params": N, "n_tokens": D, "mix_ratio": r, "loss": dom_loss}))
    gen = sl.fit("dcpt", gen_df, side="general")
    assert_params(dom, {k: dom_true[k] for k in ("E", "alpha", "beta", "gamma", "eta")}, 0.1)
    assert_params(gen, {k: gen_true[k] for k in ("E", "alpha", "beta")}, 0.1)
    assert any("D = 0" in w for w in gen.warnings)  # the baseline rows were set aside, and it says so
    opt = sl.mixture_optimum(dom, gen, N=1e7, D=1e9, max_general_increase=0.03)
    assert opt["feasible"]
    # independently: the largest r on a fine grid whose true general loss is within 3% of baseline
    rs = np.linspace(1e-4, 1, 100001)
    ok = dcpt(1e7, 1e9, 1 - rs, **gen_true) <= (1.8 + 200.0 / 1e7 ** 0.3 + 0.1) * 1.03
    assert opt["r"] == pytest.approx(rs[ok].max(), abs=0.03)
    assert opt["general_baseline"] == pytest.approx(1.8 + 200.0 / 1e7 ** 0.3 + 0.1)


def test_dcpt_cross_mechanism_on_synthetic_domains(rng):
    true = dict(E=1.2, A=300.0, alpha=0.35, B=500.0, eta=0.2, beta=0.3, C=0.05, gamma=0.5, F=2.0, mu=0.8, w2=3.0)
    feats = {"code": (2.0, 0.05), "legal": (2.6, 0.12), "math": (3.1, 0.2), "bio": (2.3, 0.3), "law": (2.9, 0.02)}
    N, D, r = grid(np.geomspace(1e6, 1e8, 4), np.geomspace(1e8, 1e10, 4), [0.1, 0.3, 0.6, 1.0])
    frames = []
    for name, (k1, k2) in feats.items():
        L = noisy(dcpt_cross(N, D, r, k1, k2, **true), rng, 0.0005)
        frames.append(pd.DataFrame({"n_params": N, "n_tokens": D, "mix_ratio": r, "domain": name, "loss": L}))
    df = pd.concat(frames, ignore_index=True)
    fit = sl.fit("dcpt_cross", df, domain_features={d: {"k1": a, "k2": b} for d, (a, b) in feats.items()})
    assert_params(fit, {k: true[k] for k in ("E", "alpha", "beta", "gamma", "mu", "w2")}, 0.15)
    # predicts a domain it never saw from its (k1, k2)
    pred = fit.predict({"N": [1e7], "D": [1e9], "r": [0.5], "k1": [2.8], "k2": [0.1]})
    assert pred[0] == pytest.approx(dcpt_cross(1e7, 1e9, 0.5, 2.8, 0.1, **true), rel=0.01)


def _tissue_curve(lr, warmup, p):
    eff = effective_lr(lr, warmup)
    return lr_annealing(forward_area(eff), annealing_area(eff, 0.999), **p)


def test_lr_annealing_fit_on_constant_and_cosine_predicts_wsd_and_step(rng):
    # C = 1: with these LRs the annealing area S2 reaches ~1, so C S2 is a real part of the loss
    # (C = 300 drove the true curve below 0, clipped to 1e-12, and the comparison was vacuous)
    p = dict(L0=2.5, A=0.6, alpha=0.5, C=1.0)
    n, w = 8000, 500
    train = {"const": S.constant(n, 3e-4, warmup=w), "cos": S.cosine(n, 3e-4, 3e-5, warmup=w)}
    frames = []
    for name, lr in train.items():
        steps = np.arange(w + 50, n + 1, 50)
        loss = noisy(_tissue_curve(lr, w, p)[steps - 1], rng, 0.002)
        frames.append(pd.DataFrame({"run": name, "step": steps, "loss": loss}))
    fit = sl.fit("lr_annealing", pd.concat(frames), schedules=train, warmup_steps=w)
    assert_params(fit, p, 0.05)
    assert fit.params["momentum"] == 0.999 and "momentum" in fit.spec.fixed
    for lr in (S.wsd(n, 3e-4, 3e-5, warmup=w, decay_frac=0.2), S.step(n, 3e-4, [(4000, 0.3), (6000, 0.1)], warmup=w)):
        pred = fit.predict(schedule=lr, warmup_steps=w)
        truth = _tissue_curve(lr, w, p)
        assert truth[w:].min() > 1.0 and np.ptp(truth[w:]) > 0.3  # a real curve, not the clip
        assert pred.shape == (n,)
        assert np.mean(np.abs(pred[w:] / truth[w:] - 1)) < 0.002


def test_lr_annealing_momentum_can_be_freed(rng):
    p = dict(L0=2.5, A=0.6, alpha=0.5, C=1.0)  # C S2 stays well above the clip (see above)
    n = 4000
    train = {"const": S.constant(n, 3e-4), "step": S.step(n, 3e-4, [(2000, 0.1)]), "cos": S.cosine(n, 3e-4)}
    frames = []
    for name, lr in train.items():
        eff = effective_lr(lr, 0)
        steps = np.arange(20, n + 1, 20)
        loss = lr_annealing(forward_area(eff), annealing_area(eff, 0.99), **p)[steps - 1]
        assert loss.min() > 1.0
        frames.append(pd.DataFrame({"run": name, "step": steps, "loss": loss}))
    fit = sl.fit("lr_annealing", pd.concat(frames), schedules=train, fixed={"momentum": None})
    assert "momentum" in fit.spec.free
    assert fit.params["momentum"] == pytest.approx(0.99, abs=0.003)


def test_lmfit_parameters_as_the_spec(chinchilla_grid):
    import lmfit

    params = lmfit.Parameters()
    params.add("E", value=1.69, vary=False)
    params.add("alpha", value=0.3, min=0.1, max=0.6)
    fit = sl.fit("chinchilla", chinchilla_grid, params=params)
    assert fit.params["E"] == 1.69 and "E" in fit.spec.fixed
    assert 0.1 <= fit.params["alpha"] <= 0.6
    out = fit.to_lmfit()
    assert isinstance(out, lmfit.Parameters) and out["E"].vary is False and out["alpha"].max == 0.6
    assert out["alpha"].stderr is None  # no robust-loss stderr passed off as a CI before a bootstrap


def test_weights_and_grouped_fits(chinchilla_grid, rng):
    a = chinchilla_grid.assign(lang="en")
    b = chinchilla_grid.assign(lang="fr", loss=chinchilla_grid["loss"] * 1.1)
    grouped = sl.fit("chinchilla", pd.concat([a, b], ignore_index=True), by="lang")
    assert set(grouped) == {"en", "fr"}
    assert grouped["fr"].predict({"N": 1e9, "D": 1e11})[0] == pytest.approx(
        1.1 * grouped["en"].predict({"N": 1e9, "D": 1e11})[0], rel=0.01)
    assert list(grouped.params.index) == ["en", "fr"]
    # zero weight on the largest model's points: the fit must ignore them entirely
    spoiled = chinchilla_grid.copy()
    big = spoiled["n_params"] == spoiled["n_params"].max()
    spoiled.loc[big, "loss"] *= 3
    w = np.where(big, 0.0, 1.0)
    clean = sl.fit("chinchilla", chinchilla_grid.loc[~big])
    weighted = sl.fit("chinchilla", spoiled, weights=w)
    assert weighted.objective == pytest.approx(clean.objective, rel=1e-6, abs=1e-12)
