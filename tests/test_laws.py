"""Law properties: registry, shapes and broadcasting, limits, and derived answers checked
against independent computations."""

import numpy as np
import pytest

import scalelaw as sl
from scalelaw.laws.chinchilla import chinchilla
from scalelaw.laws.encdec import encdec
from scalelaw.laws.kaplan_nd import kaplan_nd
from scalelaw.laws.lr_annealing import annealing_area, effective_lr, forward_area
from scalelaw.laws.critical_batch import c_min, s_min

ALL = ["power_law", "power", "chinchilla", "kaplan_nd", "kaplan_ns", "critical_batch", "encdec",
       "lr_annealing", "dcpt", "dcpt_cross", "multi_power"]


def test_registry_lists_every_law_with_its_paper():
    assert sl.laws() == ALL
    for name in ALL:
        law = sl.get_law(name)
        assert law.name == name
        assert "arXiv" in law.source
        assert law.formula and law.latex
        assert all(p.doc for p in law.params)
        assert name in law.function.__module__ or law.function.__doc__


def test_unknown_law_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown law 'chinchila'.*known laws: power_law"):
        sl.get_law("chinchila")


def test_chinchilla_broadcasts_over_parameter_sets_and_is_above_E():
    N = np.geomspace(1e6, 1e10, 7)
    D = np.geomspace(1e8, 1e12, 7)
    E = np.array([[1.0], [2.0]])
    out = chinchilla(N, D, E=E, A=400.0, alpha=0.34, B=410.0, beta=0.28)
    assert out.shape == (2, 7)
    assert np.all(out > E)
    np.testing.assert_allclose(out[0], 1.0 + 400.0 / N ** 0.34 + 410.0 / D ** 0.28, rtol=1e-12)
    # finite and -> E at extreme sizes (log-space evaluation does not overflow)
    big = chinchilla(1e30, 1e30, E=1.0, A=400.0, alpha=0.34, B=410.0, beta=0.28)
    assert np.isfinite(big) and big == pytest.approx(1.0 + 400 * 1e-30 ** 0.34 + 410 * 1e-30 ** 0.28, rel=1e-12)


def test_chinchilla_optimum_matches_brute_force():
    p = dict(E=1.69, A=406.4, alpha=0.34, B=410.7, beta=0.28)
    law = sl.get_law("chinchilla")
    C = 1e21
    opt = law.optimum(p, {}, C=C)
    Ns = np.geomspace(1e8, 1e11, 200001)
    losses = chinchilla(Ns, C / (6 * Ns), **p)
    n_best = Ns[np.argmin(losses)]
    assert opt["N"] == pytest.approx(n_best, rel=1e-3)
    assert opt["N"] * opt["D"] * 6 == pytest.approx(C)
    assert opt["loss"] == pytest.approx(losses.min(), rel=1e-9)
    # Hoffmann's fitted exponents give a = beta/(alpha+beta) ~ 0.45
    assert law.derived(p)["a"] == pytest.approx(0.28 / 0.62)


def test_kaplan_nd_optimum_matches_brute_force():
    p = dict(N_c=8.8e13, alpha_N=0.076, D_c=5.4e13, alpha_D=0.095)
    law = sl.get_law("kaplan_nd")
    C = 1e20
    opt = law.optimum(p, {}, C=C)
    Ns = np.geomspace(1e5, 1e13, 400001)
    losses = kaplan_nd(Ns, C / (6 * Ns), **p)
    assert opt["loss"] == pytest.approx(losses.min(), rel=1e-9)
    assert opt["N"] == pytest.approx(Ns[np.argmin(losses)], rel=1e-2)


def test_encdec_optimum_is_the_papers_closed_form():
    p = dict(A=0.8, p_e=0.2, p_d=0.35, L_inf=1.5)
    info = {"Ne_ref": 1e7, "Nd_ref": 2e7}
    law = sl.get_law("encdec")
    B = 1e9
    opt = law.optimum(p, info, budget=B)
    assert opt["N_e"] == pytest.approx(B * 0.2 / 0.55)
    assert opt["N_e"] + opt["N_d"] == pytest.approx(B)
    # Ghorbani et al.: L_opt(B) = A* B^-(p_e+p_d) + L_inf
    a_star = law.derived(p, info)["A_star"]
    assert opt["loss"] == pytest.approx(a_star * B ** -0.55 + 1.5, rel=1e-12)
    # and it really is the best split: brute force over the encoder share
    share = np.linspace(0.01, 0.99, 9801)
    losses = encdec(B * share, B * (1 - share), **p, **info)
    assert opt["loss"] <= losses.min() + 1e-12


def test_annealing_areas_match_a_plain_loop():
    lr = sl.schedules.wsd(300, peak=1e-3, floor=1e-5, warmup=20, decay_frac=0.3)
    eff = effective_lr(lr, warmup_steps=20)
    assert np.all(eff[:20] == lr.max())
    s1_loop, s2_loop, m, acc2, acc1 = [], [], 0.0, 0.0, 0.0
    prev = eff[0]
    for eta in eff:
        m = 0.999 * m + (prev - eta)
        prev = eta
        acc1 += eta
        acc2 += m
        s1_loop.append(acc1)
        s2_loop.append(acc2)
    np.testing.assert_allclose(forward_area(eff), s1_loop, rtol=1e-12)
    np.testing.assert_allclose(annealing_area(eff, 0.999), s2_loop, rtol=1e-10, atol=1e-15)
    # a constant schedule has no annealing area
    assert np.all(annealing_area(np.full(50, 3e-4), 0.999) == 0)


def test_kaplan_batch_relations():
    assert s_min(1000, B=100, B_crit=100) == pytest.approx(500)
    assert c_min(1e20, B=100, B_crit=300) == pytest.approx(1e20 / (1 + 1 / 3))


def test_dcpt_general_side_uses_one_minus_r():
    law = sl.get_law("dcpt")
    p = dict(E=1.0, A=100.0, alpha=0.3, B=50.0, eta=0.2, beta=0.3, C=0.05, gamma=0.5)
    X_dom, info_dom = law.prepare({"N": np.array([1e7]), "D": np.array([1e9]), "r": np.array([0.2])}, {"side": "domain"})
    X_gen, info_gen = law.prepare({"N": np.array([1e7]), "D": np.array([1e9]), "r": np.array([0.2])}, {"side": "general"})
    assert X_gen["r"][0] == pytest.approx(0.8)
    direct = 1.0 + 100 / 1e7 ** 0.3 + 50 * 0.8 ** 0.2 / 1e9 ** 0.3 + 0.05 / (0.8 + 0.01) ** 0.5
    assert law.evaluate(X_gen, p, info_gen)[0] == pytest.approx(direct, rel=1e-12)


def test_count_params_matches_kaplan_12_l_d2():
    out = sl.count_params(n_layer=12, d_model=768, vocab=50257, n_ctx=1024)
    # 12 * n_layer * d^2 plus LayerNorm weights (2 per block + final)
    assert out["N"] == 12 * 12 * 768 ** 2 + (2 * 12 + 1) * 768
    assert out["flops_per_token"] == 6 * out["N"] + 6 * 12 * 1024 * 768
    ed = sl.count_params(n_enc_layer=2, n_dec_layer=3, d_model=64, vocab=256)
    assert ed["N"] == ed["N_e"] + ed["N_d"]
    # decoder blocks carry cross-attention: 4 d^2 + one LayerNorm more than encoder blocks
    enc_block = (ed["N_e"] - 64) / 2
    dec_block = (ed["N_d"] - 64) / 3
    assert dec_block - enc_block == 4 * 64 * 64 + 64
    with pytest.raises(ValueError, match="n_layer"):
        sl.count_params(n_layer=0, d_model=64)


def test_encdec_derived_stays_finite_when_an_exponent_collapses():
    law = sl.get_law("encdec")
    info = {"Ne_ref": 1e7, "Nd_ref": 2e7}
    d = law.derived(dict(A=0.8, p_e=0.0, p_d=0.35, L_inf=1.5), info)
    assert d["encoder_share"] == 0.0
    # with p_e = 0 the budget law is A (Nd_ref)^p_d B^-p_d: the limit of the closed form
    assert d["A_star"] == pytest.approx(0.8 * 2e7 ** 0.35)
    opt = law.optimum(dict(A=0.8, p_e=0.0, p_d=0.35, L_inf=1.5), info, budget=1e9)
    assert opt["N_e"] == 0.0 and opt["loss"] == pytest.approx(0.8 * (2e7 / 1e9) ** 0.35 + 1.5)
