"""sl.forecast(using=...)'s interval: calibrated on forecast backtests inside the finished runs
(scalelaw/forecasting.py: _using_backtests, _using_calibration), on synthetic curves of the law."""

import numpy as np
import pandas as pd
import pytest

import scalelaw as sl
from scalelaw import forecasting as F
from scalelaw import schedules as S
from scalelaw.laws.lr_annealing import annealing_area, effective_lr, forward_area, lr_annealing

T, PEAK, FLOOR, WARM = 2000, 3e-3, 3e-4, 100
TRUE = dict(L0=1.6, A=0.8, alpha=0.45, C=0.25)
SCHEDS = {"cosine": S.cosine(T, PEAK, FLOOR, warmup=WARM), "constant": S.constant(T, PEAK, warmup=WARM),
          "wsd10": S.wsd(T, PEAK, FLOOR, warmup=WARM, decay_frac=0.1),
          "wsd30": S.wsd(T, PEAK, FLOOR, warmup=WARM, decay_frac=0.3),
          "cosine_hi": S.cosine(T, PEAK, 3 * FLOOR, warmup=WARM),
          "linear": S.linear(T, PEAK, FLOOR, warmup=WARM)}


def runs(names, noise=3e-4, jitter=0.0, seed=0):
    """Curves of ``names`` every 20 steps; each run's decay coefficient C is TRUE's times
    exp(jitter * z) (what finished runs cannot tell about a new run's schedule response)."""
    rng = np.random.default_rng(seed)
    frames, ends = [], {}
    steps = np.arange(20, T + 1, 20)
    for name in names:
        lr_eff = effective_lr(SCHEDS[name], WARM)
        C = TRUE["C"] * np.exp(jitter * rng.standard_normal())
        L = lr_annealing(forward_area(lr_eff), annealing_area(lr_eff, 0.999), **{**TRUE, "C": C})
        frames.append(pd.DataFrame({"run": name, "step": steps,
                                    "loss": L[steps - 1] * np.exp(noise * rng.standard_normal(len(steps)))}))
        ends[name] = L[-1]
    return pd.concat(frames, ignore_index=True), ends


def test_using_backtests_forecast_each_finished_run_from_the_same_fraction():
    df, ends = runs(["cosine", "constant", "wsd10", "wsd30", "linear"], noise=2e-4)
    others = df[df["run"] != "linear"]
    part = df[(df["run"] == "linear") & (df["step"] <= 1000)]
    fc = sl.forecast(part, schedule=SCHEDS["linear"], warmup_steps=WARM, n_boot=10, using=others,
                     schedules={r: SCHEDS[r] for r in others["run"].unique()})
    assert fc["final_loss"] == pytest.approx(ends["linear"], rel=0.003)
    folds = F._using_backtests(fc["fit"], 0.5)
    # one backtest per finished run, never the partial run itself; each predicts its run's rest
    assert sorted(folds) == ["constant", "cosine", "wsd10", "wsd30"]
    for e, u in folds.values():
        assert len(e) == 50 and u.min() > 0 and u.max() == pytest.approx(1.0)
        assert np.all(np.diff(u) > 0)
        assert np.abs(e).max() < 3e-3  # the right form: the backtests err by the noise only
    cal = fc["calibration"]
    assert cal.coords == ["horizon fraction"] and cal.n_folds == 4
    assert "forecast run constant from 50% of it" in " ".join(cal.folds)
    lo, hi = fc["interval"]
    assert lo < ends["linear"] < hi
    # the interval is never narrower than the forecast's own bootstrap band
    band = sl.forecast(part, schedule=SCHEDS["linear"], warmup_steps=WARM, n_boot=10, using=others,
                       schedules={r: SCHEDS[r] for r in others["run"].unique()}, interval="parameter")
    assert "calibration" not in band
    assert fc["lower"][-1] <= band["lower"][-1] and fc["upper"][-1] >= band["upper"][-1]


def test_using_two_finished_runs_falls_back_to_the_library_calibration():
    df, ends = runs(["cosine", "constant", "wsd30"], noise=2e-4)
    others = df[df["run"] != "wsd30"]
    part = df[(df["run"] == "wsd30") & (df["step"] <= 1000)]
    fc = sl.forecast(part, schedule=SCHEDS["wsd30"], warmup_steps=WARM, n_boot=10, using=others,
                     schedules={r: SCHEDS[r] for r in others["run"].unique()})
    assert "calibration" not in fc and fc["fit"].calibration is not None  # too few runs to backtest
    assert fc["interval"][0] < fc["final_loss"] < fc["interval"][1]


@pytest.mark.slow
def test_using_interval_covers_runs_whose_decay_differs():
    # each run's C differs by ~10%: a joint fit cannot know the new run's; the forecast backtests
    # inside the finished runs see it and the interval covers, the bare bootstrap band does not
    df, ends = runs(list(SCHEDS), jitter=0.1, seed=1)
    covered = param_covered = 0
    for name, lr in SCHEDS.items():
        others = df[df["run"] != name]
        part = df[(df["run"] == name) & (df["step"] <= T // 2)]
        kw = dict(schedule=lr, warmup_steps=WARM, n_boot=10, level=0.9, using=others,
                  schedules={r: SCHEDS[r] for r in others["run"].unique()})
        fc = sl.forecast(part, **kw)
        assert fc["calibration"].n_folds == 5
        # the band opens from the cut towards the end
        assert (fc["upper"][0] - fc["lower"][0]) < (fc["upper"][-1] - fc["lower"][-1])
        covered += fc["interval"][0] <= ends[name] <= fc["interval"][1]
        fp = sl.forecast(part, **kw, interval="parameter")
        param_covered += fp["interval"][0] <= ends[name] <= fp["interval"][1]
    assert covered >= 5 and param_covered < covered


def test_using_reads_schedules_from_the_logs_and_drops_the_run_itself():
    df, ends = runs(["cosine", "constant", "wsd10", "wsd30"], noise=2e-4)
    specs = {"cosine": S.to_spec("cosine", n_steps=T, peak=PEAK, floor=FLOOR, warmup=WARM),
             "constant": S.to_spec("constant", n_steps=T, peak=PEAK, warmup=WARM),
             "wsd10": S.to_spec("wsd", n_steps=T, peak=PEAK, floor=FLOOR, warmup=WARM, decay_frac=0.1),
             "wsd30": S.to_spec("wsd", n_steps=T, peak=PEAK, floor=FLOOR, warmup=WARM, decay_frac=0.3)}
    assert all(np.allclose(S.from_spec(specs[r]), SCHEDS[r]) for r in specs)
    logged = df.assign(schedule=df["run"].map(specs))  # what read_logs gives for our trainer's runs
    part = logged[(logged["run"] == "wsd30") & (logged["step"] <= 1000)]
    # every run passed, the forecast one too: its rows in using= are dropped (its end would leak), with a note
    fc = sl.forecast(part, schedule=specs["wsd30"], warmup_steps=WARM, n_boot=0, using=logged)
    assert any("using= held the run being forecast ('wsd30')" in w for w in fc["warnings"])
    assert sorted(fc["fit"].table["run"].unique()) == sorted(["cosine", "constant", "wsd10", F._RUN])
    by_hand = sl.forecast(part[["step", "loss"]], schedule=SCHEDS["wsd30"], warmup_steps=WARM, n_boot=0,
                          using=df[df["run"] != "wsd30"], schedules={r: SCHEDS[r] for r in ["cosine", "constant", "wsd10"]})
    assert fc["final_loss"] == pytest.approx(by_hand["final_loss"], rel=1e-9)
    assert fc["final_loss"] == pytest.approx(ends["wsd30"], rel=0.003)
    with pytest.raises(ValueError, match="needs schedules=.*or a 'schedule' column"):
        sl.forecast(part, schedule=specs["wsd30"], warmup_steps=WARM, n_boot=0, using=df)
    with pytest.raises(ValueError, match="finished curves have no column 'run'"):
        sl.forecast(part, schedule=specs["wsd30"], warmup_steps=WARM, n_boot=0, using=df.drop(columns="run"),
                    schedules=specs)


def test_using_says_when_the_run_goes_beyond_the_finished_runs_lr_area():
    df, _ = runs(["cosine", "wsd10", "wsd30", "constant"], noise=2e-4)
    short = df[df["run"] != "constant"]
    part = df[(df["run"] == "constant") & (df["step"] <= 1000)]
    kw = dict(warmup_steps=WARM, n_boot=0)
    # constant's LR area exceeds cosine's and the WSDs': its end is beyond what using= covers
    fc = sl.forecast(part, schedule=SCHEDS["constant"], using=short,
                     schedules={r: SCHEDS[r] for r in ["cosine", "wsd10", "wsd30"]}, **kw)
    ratio = SCHEDS["constant"].sum() / SCHEDS["wsd10"].sum()
    assert any(f"is {ratio:.2f}x the largest of the finished runs'" in w for w in fc["warnings"])
    # a run inside the finished runs' range says nothing of the kind
    part = df[(df["run"] == "cosine") & (df["step"] <= 1000)]
    inside = sl.forecast(part, schedule=SCHEDS["cosine"], using=df[df["run"] != "cosine"],
                         schedules={r: SCHEDS[r] for r in ["constant", "wsd10", "wsd30"]}, **kw)
    assert not any("LR area" in w for w in inside["warnings"])
