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
    lo, hi = res["loss_interval"]
    assert hi - lo > 0.1
    glo, ghi = res["gain_interval"]
    assert glo == pytest.approx(res["gain"], abs=1e-9) and ghi == pytest.approx(res["gain"], abs=1e-9)


def test_bad_arguments_are_clear():
    fit = _fit("multi_power", MP)
    with pytest.raises(ValueError, match="family must be one of wsd, cosine, free"):
        fit.optimal_schedule(T, PEAK, family="linear")
    with pytest.raises(ValueError, match="floor must lie in"):
        fit.optimal_schedule(T, PEAK, floor=1.0)
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
