"""fit.optimal_schedule: finds the known optimum of synthetic laws; paired intervals; CLI."""

import json

import numpy as np
import pandas as pd
import pytest

import scalelaw as sl
from scalelaw import schedules as S
from scalelaw.cli import main as cli_main
from scalelaw.laws.multi_power import multi_power

PEAK, FLOOR, WARM, T = 3e-3, 3e-4, 50, 600
MP = dict(L0=2.0, A=0.6, alpha=0.5, B=400.0, C=2.0, beta=0.6, gamma=0.64)


def _fit(law, params):
    """A fit of ``law`` on two short synthetic curves, then set to known parameters (the optimiser
    only reads ``fit.params``; fitting is tested elsewhere)."""
    sch = {"constant": S.constant(T, PEAK, warmup=WARM), "cosine": S.cosine(T, PEAK, FLOOR, warmup=WARM)}
    steps = np.arange(60, T + 1, 30)
    rows = []
    for name, lr in sch.items():
        loss = multi_power(lr, **MP, warmup_steps=WARM, steps=steps)
        rows.append(pd.DataFrame({"run": name, "step": steps, "loss": loss}))
    fit = sl.fit(law, pd.concat(rows, ignore_index=True), schedules=sch, warmup_steps=WARM, n_polish=2)
    fit.params = dict(params)
    return fit


def _brute_wsd(fit):
    """Best WSD schedule by a dense grid, through the full-curve prediction (another code path)."""
    best = (np.inf, None)
    for shape in ("linear", "cosine", "exp"):
        for frac in np.linspace(0.01, 1.0, 100):
            lr = S.wsd(T, PEAK, FLOOR, warmup=WARM, decay_frac=frac, shape=shape)
            L = fit.predict(schedule=lr, warmup_steps=WARM, steps=[T])[-1]
            if L < best[0]:
                best = (L, (frac, shape))
    return best


def test_without_annealing_benefit_the_optimum_keeps_the_peak():
    # lr_annealing with C = 0: loss falls only with the LR area, so the best schedule never decays
    fit = _fit("lr_annealing", dict(L0=2.0, A=0.5, alpha=0.5, C=0.0, momentum=0.999))
    free = fit.optimal_schedule(T, PEAK, warmup=WARM, floor=FLOOR, family="free")
    assert np.allclose(free["schedule"][WARM:], PEAK, rtol=1e-6)
    assert free["loss"] == pytest.approx(2.0 + 0.5 * (PEAK * T) ** -0.5, rel=1e-9)  # warm-up counts as peak
    wsd = fit.optimal_schedule(T, PEAK, warmup=WARM, floor=FLOOR, family="wsd")
    assert wsd["choice"]["decay_frac"] <= 0.01
    assert wsd["gain"] > 0


@pytest.mark.slow
@pytest.mark.parametrize("law, params", [("multi_power", MP),
                                         ("lr_annealing", dict(L0=2.0, A=0.5, alpha=0.5, C=60.0,
                                                               momentum=0.99))])
def test_wsd_optimum_matches_a_brute_force_search_and_free_does_at_least_as_well(law, params):
    fit = _fit(law, params)
    brute_loss, (frac, shape) = _brute_wsd(fit)
    res = fit.optimal_schedule(T, PEAK, warmup=WARM, floor=FLOOR)  # family wsd by default
    assert res["family"] == "wsd" and res["choice"]["shape"] == shape
    assert res["choice"]["decay_frac"] == pytest.approx(frac, abs=0.011)
    assert res["loss"] <= brute_loss + 1e-7
    assert np.array_equal(sl.schedules.from_spec(res["spec"]), res["schedule"])
    assert res["loss"] == pytest.approx(fit.predict(schedule=res["spec"], warmup_steps=WARM)[-1], rel=1e-9)
    cos = fit.predict(schedule=S.cosine(T, PEAK, FLOOR, warmup=WARM), warmup_steps=WARM)[-1]
    assert res["cosine_loss"] == pytest.approx(cos, rel=1e-9)
    free = fit.optimal_schedule(T, PEAK, warmup=WARM, floor=FLOOR, family="free")
    lr = free["schedule"]
    assert len(lr) == T and np.all(np.diff(lr[WARM:]) <= 1e-15) and lr[WARM:].min() >= FLOOR - 1e-15
    assert free["loss"] <= res["loss"] + 1e-9
    cosine = fit.optimal_schedule(T, PEAK, warmup=WARM, floor=FLOOR, family="cosine")
    assert cosine["loss"] <= res["cosine_loss"] + 1e-9


def test_paired_interval_cancels_shared_parameter_noise():
    fit = _fit("multi_power", MP)
    rng = np.random.default_rng(0)
    draws = pd.DataFrame({k: np.full(200, v) for k, v in MP.items()})
    draws["L0"] = MP["L0"] + rng.normal(0, 0.05, 200)  # L0 moves every schedule's loss alike
    fit.draws = draws
    res = fit.optimal_schedule(T, PEAK, warmup=WARM, floor=FLOOR, level=0.9)
    lo, hi = res["loss_parameter_interval"]
    assert hi - lo > 0.1
    glo, ghi = res["gain_parameter_interval"]
    assert glo == pytest.approx(res["gain"], abs=1e-9) and ghi == pytest.approx(res["gain"], abs=1e-9)
    # the prediction interval (default) adds the run-level error: two fitted schedules cannot
    # estimate it (3 are needed), so the fallback (2 x the residual scale, here ~0: the curves are
    # exact) is used and said
    assert res["interval"] == "prediction" and res["run_error"]["n_groups"] == 2
    assert res["gain_interval"][0] <= glo and res["gain_interval"][1] >= ghi
    assert any("fallback" in n for n in res["notes"])


def _with_draws(fit, n=200, seed=0):
    """Parameter draws around MP that move both losses and the gain (C sets the annealing benefit)."""
    rng = np.random.default_rng(seed)
    draws = pd.DataFrame({k: np.full(n, v) for k, v in MP.items()})
    draws["L0"] = MP["L0"] + rng.normal(0, 0.01, n)
    draws["C"] = MP["C"] * np.exp(rng.normal(0, 0.2, n))
    fit.draws = draws
    return fit


def test_prediction_intervals_contain_the_parameter_bands_and_widen_with_the_run_error():
    fit = _with_draws(_fit("multi_power", MP))
    kw = dict(warmup=WARM, floor=FLOOR, level=0.9)
    par = fit.optimal_schedule(T, PEAK, interval="parameter", **kw)
    assert par["gain_interval"] == par["gain_parameter_interval"] and par["run_error"] is None
    glo, ghi = par["gain_interval"]
    assert ghi - glo > 1e-4  # the draws do move the gain
    assert fit.optimal_schedule(T, PEAK, run_error=0.0, **kw)["gain_interval"] == pytest.approx([glo, ghi], abs=1e-12)
    widths = []
    for s in (0.002, 0.01, 0.05):
        res = fit.optimal_schedule(T, PEAK, run_error=s, **kw)
        assert res["gain_parameter_interval"] == pytest.approx([glo, ghi], abs=1e-12)
        lo, hi = res["gain_interval"]
        assert lo < glo and hi > ghi  # strictly contains the paired parameter band
        for k in ("loss", "cosine"):
            a, b = res[f"{k}_interval"]
            pa, pb = res[f"{k}_parameter_interval"]
            assert a < pa and b > pb
        widths.append(hi - lo)
        assert res["run_error"] == {"scale": s, "multiplier": pytest.approx(1.6449, abs=1e-4), "source": "given",
                                    "n_groups": None, "errors": {}, "method": "normal"}
    assert widths[0] < widths[1] < widths[2]
    # far beyond the parameter band the gain's half-width is z * s * sqrt(L_opt^2 + L_cos^2): two
    # independent runs, each off by s in log loss
    res = fit.optimal_schedule(T, PEAK, run_error=0.05, **kw)
    z = 1.6448536
    assert (res["gain_interval"][1] - res["gain_interval"][0]) / 2 == pytest.approx(
        z * 0.05 * np.hypot(res["loss"], res["cosine_loss"]), rel=0.05)


def _offset_curves(offsets, noise=1e-3, twin=False):
    """multi_power curves of four schedules, each shifted by a run-level log offset (a seed's
    deviation), with point noise; ``twin``: a second seed of the cosine schedule."""
    rng = np.random.default_rng(1)
    sch = {"constant": S.constant(T, PEAK, warmup=WARM), "cosine": S.cosine(T, PEAK, FLOOR, warmup=WARM),
           "wsd": S.wsd(T, PEAK, FLOOR, warmup=WARM, decay_frac=0.3),
           "step": S.step(T, PEAK, [(300, 0.3), (450, 0.1)], warmup=WARM)}
    if twin:
        sch["cosine_seed2"] = sch["cosine"]
        offsets = list(offsets) + [-offsets[1]]
    steps = np.arange(60, T + 1, 20)
    rows = []
    for (name, lr), off in zip(sch.items(), offsets):
        loss = multi_power(lr, **MP, warmup_steps=WARM, steps=steps) * np.exp(off + rng.normal(0, noise, len(steps)))
        rows.append(pd.DataFrame({"run": name, "step": steps, "loss": loss}))
    return pd.concat(rows, ignore_index=True), sch


@pytest.mark.slow
def test_run_level_error_from_leave_one_schedule_out_backtests():
    from scalelaw.schedule_optimum import run_level_error

    scales = {}
    for sd in (0.0, 0.01):
        df, sch = _offset_curves([sd, -sd, sd, -sd], twin=True)
        fit = sl.fit("multi_power", df, schedules=sch, warmup_steps=WARM, n_polish=2)
        err = run_level_error(fit, n_boot=10)
        # the two seeds of cosine are one schedule: they leave together (4 groups, not 5)
        assert err["n_groups"] == 4 and set(err["errors"]) == set(sch)
        scales[sd] = err["scale"]
    # without run-level offsets the law is exact: the scale is the point noise (1e-3) floor;
    # offsets of 1% per run show up as a run-level error of that order
    assert scales[0.0] < 2.5e-3
    assert 4e-3 < scales[0.01] < 3e-2


def test_bad_arguments_are_clear():
    fit = _fit("multi_power", MP)
    with pytest.raises(ValueError, match="family must be one of wsd, cosine, free"):
        fit.optimal_schedule(T, PEAK, family="linear")
    with pytest.raises(ValueError, match="floor must lie in"):
        fit.optimal_schedule(T, PEAK, floor=1.0)
    with pytest.raises(ValueError, match="interval must be 'prediction' or 'parameter'"):
        fit.optimal_schedule(T, PEAK, interval="bootstrap")
    with pytest.raises(ValueError, match="run_error must be a per-run sd"):
        fit.optimal_schedule(T, PEAK, run_error=-0.1)
    chin = sl.fit("chinchilla", {"n_params": [1e6, 1e7, 1e8, 1e6, 1e7, 1e8], "n_tokens": [1e8] * 3 + [1e9] * 3,
                                 "loss": [3.0, 2.8, 2.7, 2.9, 2.6, 2.5]})
    with pytest.raises(ValueError, match="needs a schedule law"):
        chin.optimal_schedule(T, PEAK)


def test_cli_optimum_schedule_family(tmp_path, capsys):
    fit = _fit("multi_power", MP)
    fit.save(tmp_path / "mp.json")
    assert cli_main(["optimum", str(tmp_path / "mp.json"), "--schedule-family", "wsd", "--at", f"n_steps={T}",
                     "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    # peak, floor and warm-up default to the fitted runs' schedules
    assert out["peak"] == pytest.approx(PEAK) and out["floor"] == pytest.approx(FLOOR) and out["warmup"] == WARM
    assert out["spec"].startswith("wsd:") and out["loss"] < out["cosine_loss"]
    assert cli_main(["optimum", str(tmp_path / "mp.json"), "--schedule-family", "wsd"]) == 2
    assert "n_steps" in capsys.readouterr().err
