"""sl.forecast on synthetic curves drawn from the laws: accuracy, the unidentified-decay case,
borrowing strength from finished runs, bad input, the CLI."""

import json

import numpy as np
import pandas as pd
import pytest

import scalelaw as sl
from scalelaw import schedules as S
from scalelaw.cli import main as cli_main
from scalelaw.laws.lr_annealing import annealing_area, effective_lr, forward_area, lr_annealing

T, PEAK, FLOOR, WARM = 2000, 3e-3, 3e-4, 100
TRUE = dict(L0=1.6, A=0.8, alpha=0.45, C=0.25)


def curve(lr, every=20, noise=0.0, seed=0):
    lr_eff = effective_lr(lr, WARM)
    L = lr_annealing(forward_area(lr_eff), annealing_area(lr_eff, 0.999), **TRUE)
    steps = np.arange(every, len(lr) + 1, every)
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"step": steps, "loss": L[steps - 1] * np.exp(noise * rng.standard_normal(len(steps)))})


def test_forecast_of_a_cosine_run_from_its_first_half():
    lr = S.cosine(T, PEAK, FLOOR, warmup=WARM)
    full = curve(lr, noise=5e-4)
    true = curve(lr)["loss"].iloc[-1]
    fc = sl.forecast(full[full["step"] <= T // 2], schedule=lr, warmup_steps=WARM, n_boot=50)
    assert fc["cut_step"] == T // 2 and fc["decay_identified"]
    assert fc["final_loss"] == pytest.approx(true, rel=0.01)
    assert len(fc["loss"]) == T - T // 2 and fc["steps"][0] == T // 2 + 1
    lo, hi = fc["interval"]
    assert lo < fc["final_loss"] < hi
    assert np.all(fc["lower"] <= fc["upper"])


def test_a_decay_barely_begun_is_held_not_extrapolated():
    # WSD with a 30% cosine decay from step 1400: at step 1500 under 7% of the LR's fall has happened
    from scalelaw.forecasting import MIN_SEEN_DECAY, _decay_seen

    wsd = S.wsd(T, PEAK, FLOOR, warmup=WARM, decay_frac=0.3, shape="cosine")
    assert _decay_seen(wsd, 1500, WARM) < MIN_SEEN_DECAY < _decay_seen(wsd, 1800, WARM)
    assert _decay_seen(wsd, 1200, WARM) == 0.0 and _decay_seen(wsd, T, WARM) == pytest.approx(1.0)
    assert _decay_seen(S.constant(T, PEAK, warmup=WARM), 1000, WARM) == 1.0  # no fall to see at all
    # the warm-up ramp is not a fall, whichever warm-up convention the law counts in (multi_power: 0)
    assert _decay_seen(wsd, 1500, 0) == pytest.approx(_decay_seen(wsd, 1500, WARM))
    assert _decay_seen(S.cosine(T, PEAK, FLOOR, warmup=WARM), 60, 0) == 0.0
    full = curve(wsd, noise=2e-4)
    true = curve(wsd)["loss"].iloc[-1]
    at_cut = curve(wsd)["loss"][curve(wsd)["step"] == 1500].iloc[0]
    early = sl.forecast(full[full["step"] <= 1500], schedule=wsd, warmup_steps=WARM, n_boot=0)
    assert not early["decay_identified"]
    assert any("of the LR's fall had happened by step 1500" in w for w in early["warnings"])
    assert not any("has not decayed" in w for w in early["warnings"])
    # held at ~0: the forecast continues the run at its current LR, above the true end, never below it
    assert true < early["final_loss"] <= at_cut * 1.001
    later = sl.forecast(full[full["step"] <= 1800], schedule=wsd, warmup_steps=WARM, n_boot=0)
    assert later["decay_identified"] and not any("had happened by step" in w for w in later["warnings"])
    assert later["final_loss"] == pytest.approx(true, rel=0.01)


def test_wsd_cut_before_its_decay_warns_and_a_prior_recovers_it():
    wsd = S.wsd(T, PEAK, FLOOR, warmup=WARM, decay_frac=0.2)
    full = curve(wsd, noise=2e-4)
    true = curve(wsd)["loss"].iloc[-1]
    part = full[full["step"] <= 1200]  # the decay starts at step 1600
    alone = sl.forecast(part, schedule=wsd, warmup_steps=WARM, n_boot=0)
    assert not alone["decay_identified"]
    assert any("has not decayed by step 1200" in w for w in alone["warnings"])
    assert alone["final_loss"] > true * 1.01  # holding the decay at ~0 overstates the final loss
    # finished runs of the same setup carry the decay: borrowing it gets the end right
    others = {"constant": S.constant(T, PEAK, warmup=WARM), "cosine": S.cosine(T, PEAK, FLOOR, warmup=WARM)}
    df = pd.concat([curve(lr, noise=2e-4, seed=i).assign(run=n) for i, (n, lr) in enumerate(others.items())])
    prior = sl.fit("lr_annealing", df, schedules=others, warmup_steps=WARM)
    fc = sl.forecast(part, schedule=wsd, prior=prior, warmup_steps=WARM, n_boot=0)
    assert fc["decay_identified"] and list(fc["fit"].spec.free) == ["L0"]
    # alone, the forecast says its interval cannot see the decay's error; borrowing, it does not
    assert any("forecast from this run alone" in w for w in alone["warnings"])
    assert not any("forecast from this run alone" in w for w in fc["warnings"])
    assert fc["final_loss"] == pytest.approx(true, rel=0.003)
    joint = sl.forecast(part, schedule=wsd, using=df, schedules=others, warmup_steps=WARM, n_boot=0)
    assert joint["final_loss"] == pytest.approx(true, rel=0.003)


@pytest.mark.slow
def test_forecast_with_multi_power_on_its_own_curve():
    from scalelaw.laws.multi_power import multi_power

    mp = dict(L0=2.0, A=0.6, alpha=0.5, B=400.0, C=2.0, beta=0.6, gamma=0.64)
    lr = S.cosine(1200, PEAK, FLOOR, warmup=WARM)
    steps = np.arange(20, 1201, 20)
    loss = multi_power(lr, **mp, steps=steps)
    part = pd.DataFrame({"step": steps, "loss": loss})[steps <= 900]
    fc = sl.forecast(part, schedule=lr, law="multi_power", n_boot=0)
    assert fc["final_loss"] == pytest.approx(loss[-1], rel=0.005)


def test_bad_input_is_named():
    lr = S.cosine(100, PEAK, FLOOR)
    with pytest.raises(ValueError, match="reaches step 150 but the schedule has only 100"):
        sl.forecast(pd.DataFrame({"step": [50, 100, 150], "loss": [3.0, 2.9, 2.8]}), schedule=lr)
    with pytest.raises(ValueError, match="holds 2 runs"):
        sl.forecast(pd.DataFrame({"run": ["a", "b", "a"], "step": [1, 2, 3], "loss": [3.0, 2.9, 2.8]}), schedule=lr)
    with pytest.raises(ValueError, match="no column 'loss'"):
        sl.forecast(pd.DataFrame({"step": [1, 2, 3]}), schedule=lr)
    with pytest.raises(ValueError, match="needs a schedule law"):
        sl.forecast(pd.DataFrame({"step": [1, 2, 3], "loss": [3.0, 2.9, 2.8]}), schedule=lr, law="chinchilla")


def test_cli_forecast(tmp_path, capsys):
    lr = S.cosine(T, PEAK, FLOOR, warmup=WARM)
    spec = S.to_spec("cosine", n_steps=T, peak=PEAK, floor=FLOOR, warmup=WARM)
    c = curve(lr, noise=5e-4)
    c[c["step"] <= 1500].to_csv(tmp_path / "run.csv", index=False)
    code = cli_main(["forecast", str(tmp_path / "run.csv"), "--schedule", spec, "--warmup-steps", str(WARM),
                     "--bootstrap", "20", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["cut_step"] == 1500 and out["n_steps"] == T
    assert out["final_loss"] == pytest.approx(curve(lr)["loss"].iloc[-1], rel=0.01)
    assert cli_main(["forecast", str(tmp_path / "run.csv")]) == 2
    assert "--schedule" in capsys.readouterr().err


def test_schedule_law_fitted_across_model_sizes_warns():
    """lr_annealing's parameters belong to one model: a fit over runs of two n_params says so."""
    lrs = {"constant": S.constant(T, PEAK, warmup=WARM), "cosine": S.cosine(T, PEAK, FLOOR, warmup=WARM)}
    df = pd.concat([curve(lr, noise=2e-4, seed=i).assign(run=n, n_params=1e6) for i, (n, lr) in enumerate(lrs.items())])
    one = sl.fit("lr_annealing", df, schedules=lrs, warmup_steps=WARM)
    assert not any("model sizes" in w for w in one.warnings)
    two = df.assign(n_params=np.where(df["run"] == "cosine", 2e6, 1e6))
    fit = sl.fit("lr_annealing", two, schedules=lrs, warmup_steps=WARM)
    assert any("runs of 2 model sizes" in w and "1,000,000, 2,000,000" in w for w in fit.warnings)


def test_prior_forecast_level_is_the_level_its_backtests_fit():
    # the prior's forecast backtests fit a run's level in one dimension; it must be the L0 the
    # forecast itself fits (every other parameter held) on the same partial curve
    from scalelaw.forecasting import _fit_level

    runs = {"constant": S.constant(T, PEAK, warmup=WARM), "cosine": S.cosine(T, PEAK, FLOOR, warmup=WARM)}
    df = pd.concat([curve(lr, noise=3e-4, seed=i).assign(run=n) for i, (n, lr) in enumerate(runs.items())])
    prior = sl.fit("lr_annealing", df, schedules=runs, warmup_steps=WARM)
    wsd = S.wsd(T, PEAK, FLOOR, warmup=WARM, decay_frac=0.2)
    part = curve(wsd, noise=1e-3, seed=7)
    part = part[part["step"] <= 1700]
    fc = sl.forecast(part, schedule=wsd, prior=prior, warmup_steps=WARM, n_boot=0)
    shape = prior.predict(schedule=wsd, warmup_steps=WARM, steps=part["step"].to_numpy(), warn=False) - prior.params["L0"]
    level = _fit_level(shape, part["loss"].to_numpy(), prior.loss, prior.delta)
    assert level == pytest.approx(fc["fit"].params["L0"], rel=1e-5)


@pytest.mark.slow
def test_prior_forecast_interval_is_calibrated_on_the_priors_own_runs():
    # Each run's decay coefficient C differs by ~10% (what a prior cannot know about a new run's
    # schedule response). The L0-only bootstrap band misses that; the interval calibrated on
    # forecast backtests inside the prior's runs (leave one out, cut at the same fraction) covers.
    scheds = {"cosine": S.cosine(T, PEAK, FLOOR, warmup=WARM), "constant": S.constant(T, PEAK, warmup=WARM),
              "wsd10": S.wsd(T, PEAK, FLOOR, warmup=WARM, decay_frac=0.1),
              "wsd30": S.wsd(T, PEAK, FLOOR, warmup=WARM, decay_frac=0.3),
              "cosine_hi": S.cosine(T, PEAK, 3 * FLOOR, warmup=WARM),
              "wsd20": S.wsd(T, PEAK, FLOOR, warmup=WARM, decay_frac=0.2)}
    rng = np.random.default_rng(1)
    frames, ends = [], {}
    for i, (name, lr) in enumerate(scheds.items()):
        C = TRUE["C"] * np.exp(0.1 * rng.standard_normal())
        lr_eff = effective_lr(lr, WARM)
        L = lr_annealing(forward_area(lr_eff), annealing_area(lr_eff, 0.999), **{**TRUE, "C": C})
        steps = np.arange(20, T + 1, 20)
        noise = np.exp(3e-4 * np.random.default_rng(i).standard_normal(len(steps)))
        frames.append(pd.DataFrame({"run": name, "step": steps, "loss": L[steps - 1] * noise}))
        ends[name] = L[-1]
    df = pd.concat(frames, ignore_index=True)
    covered, param_covered = 0, 0
    for name, lr in scheds.items():
        others = df[df["run"] != name]
        prior = sl.fit("lr_annealing", others, schedules={r: scheds[r] for r in others["run"].unique()},
                       warmup_steps=WARM)
        part = df[(df["run"] == name) & (df["step"] <= T // 2)]
        fc = sl.forecast(part, schedule=lr, prior=prior, warmup_steps=WARM, n_boot=10, level=0.9)
        fp = sl.forecast(part, schedule=lr, prior=prior, warmup_steps=WARM, n_boot=10, level=0.9,
                         interval="parameter")
        cal = fc["calibration"]
        assert cal.n_folds == 5 and cal.coords == ["horizon fraction"]
        # the band opens from the cut (the level is measured there) towards the end
        assert (fc["upper"][0] - fc["lower"][0]) < (fc["upper"][-1] - fc["lower"][-1])
        lo, hi = fc["interval"]
        covered += lo <= ends[name] <= hi
        plo, phi = fp["interval"]
        param_covered += plo <= ends[name] <= phi
    assert covered >= 5 and param_covered <= 2
