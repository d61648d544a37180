"""Issue 12, silently wrong answers: each test reproduces a case a tester found and asserts the
clear error or the warning that now replaces the wrong answer.

Test names start with the issue's category (``test_wrong_``) so the cases can be counted.
"""

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import scalelaw as sl
from scalelaw import schedules as S
from scalelaw.cli import main
from scalelaw.integrity import FORMAT_VERSION, SavedFitWarning
from scalelaw.io import ReadLogsWarning


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def saved(tmp_path, chinchilla_grid):
    fit = sl.fit("chinchilla", chinchilla_grid).bootstrap(n=20, seed=0)
    path = tmp_path / "f.json"
    fit.save(path)
    return path


def _edit(path, change):
    raw = json.loads(path.read_text())
    change(raw)
    path.write_text(json.dumps(raw))


@pytest.mark.parametrize("section, change", [
    ("params", lambda d: d["params"].update(E=0.5)),
    ("bootstrap", lambda d: d["bootstrap"]["draws"]["E"].__setitem__(0, 9.0)),
    ("fixed", lambda d: d["fixed"].update(E=1.0)),
    ("options", lambda d: d["options"].update(x=1)),
    ("law", lambda d: d.update(law="kaplan_nd")),
    ("scalelaw_version", lambda d: d.update(scalelaw_version="0.0.1")),
])
def test_wrong_edited_saved_fit_is_refused_naming_the_section(saved, section, change):
    _edit(saved, change)
    with pytest.raises(ValueError, match=f"corrupted or was edited: section\\(s\\) {section}"):
        sl.load_fit(saved)


def test_wrong_edited_params_no_longer_print_a_point_outside_its_interval(saved, capsys):
    code, out, _ = run(capsys, "predict", saved, "--at", "N=7e10", "--at", "D=1.4e12", "--ci", "0.95")
    assert code == 0
    point, lo, hi = (float(x) for x in out.splitlines()[0].split(":")[1].replace("[", " ").replace("]", " ").replace(",", " ").split())
    assert lo <= point <= hi
    _edit(saved, lambda d: d["params"].update(E=0.5))
    code, out, err = run(capsys, "predict", saved, "--at", "N=7e10", "--at", "D=1.4e12", "--ci", "0.95")
    assert code == 2 and out == "" and "params" in err and len(err.strip().splitlines()) == 1


def test_wrong_newer_format_is_refused_and_newer_version_warns(saved):
    _edit(saved, lambda d: d.update(format=99))
    with pytest.raises(ValueError, match="file format 99, newer than this scalelaw reads"):
        sl.load_fit(saved)
    from scalelaw.integrity import seal

    raw = json.loads(saved.read_text())
    raw.update(format=FORMAT_VERSION, scalelaw_version="99.0.0")
    saved.write_text(json.dumps(seal(raw)))  # a genuine file from a newer scalelaw
    with pytest.warns(SavedFitWarning, match="written by scalelaw 99.0.0, newer"):
        sl.load_fit(saved)


def test_wrong_format_1_files_still_load_with_a_warning(saved):
    raw = json.loads(saved.read_text())
    raw.pop("integrity")
    raw["format"] = 1
    saved.write_text(json.dumps(raw))
    with pytest.warns(SavedFitWarning, match="only its data can be checked"):
        back = sl.load_fit(saved)
    assert back.params == raw["params"]


def test_wrong_saved_grouped_fit_is_sealed_too(tmp_path, chinchilla_grid):
    df = chinchilla_grid.assign(lang=np.where(np.arange(len(chinchilla_grid)) % 2, "en", "de"))
    path = tmp_path / "g.json"
    sl.fit("chinchilla", df, by="lang").save(path)
    assert set(sl.load_fit(path)) == {"de", "en"}
    _edit(path, lambda d: d.update(grouped_by="other"))
    with pytest.raises(ValueError, match="grouped_by"):
        sl.load_fit(path)


# ---- prediction inputs ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def dcpt_fit():
    from scalelaw.laws.dcpt import dcpt

    N, D, r = (a.ravel() for a in np.meshgrid([1e6, 3e6, 1e7, 3e7], [1e8, 3e8, 1e9, 3e9], [0.1, 0.3, 0.5, 0.9]))
    L = dcpt(N, D, r, E=1.5, A=50, alpha=0.3, B=200, eta=0.2, beta=0.3, C=0.05, gamma=0.5)
    return sl.fit("dcpt", pd.DataFrame({"n_params": N, "n_tokens": D, "mix_ratio": r, "loss": L}))


@pytest.mark.parametrize("r", [1.5, -0.1, np.nan])
def test_wrong_dcpt_share_outside_0_1_is_refused(dcpt_fit, r):
    with pytest.raises(ValueError, match=r"input r must be in \[0, 1\]"):
        dcpt_fit.predict({"N": 1e6, "D": 1e6, "r": r})
    assert np.isfinite(dcpt_fit.predict({"N": 1e6, "D": 1e6, "r": 1.0})).all()


def test_wrong_dcpt_fit_refuses_negative_tokens():
    df = pd.DataFrame({"n_params": [1e6] * 6, "n_tokens": [-1e8, 1e8, 2e8, 3e8, 4e8, 5e8],
                       "mix_ratio": [0.5] * 6, "loss": [3.0] * 6})
    with pytest.raises(ValueError, match=r"column 'n_tokens' \(input D\) must be >= 0"):
        sl.fit("dcpt", df, fixed={"A": 1.0, "alpha": 0.3, "eta": 0.1, "C": 0.01, "gamma": 0.1})


@pytest.mark.parametrize("N", [-1, 0, np.inf])
def test_wrong_nonpositive_inputs_are_refused_not_nan(chinchilla_grid, N):
    fit = sl.fit("chinchilla", chinchilla_grid)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy RuntimeWarning instead of an answer
        with pytest.raises(ValueError, match="input N must be > 0"):
            fit.predict({"N": N, "D": 1e10})


def test_wrong_unknown_and_non_numeric_inputs_are_named(chinchilla_grid, tmp_path, capsys):
    fit = sl.fit("chinchilla", chinchilla_grid)
    with pytest.raises(ValueError, match="has no input\\(s\\) X"):
        fit.predict({"N": 1e9, "D": 1e10, "X": 1})
    with pytest.raises(ValueError, match="input D must be a number, got 'lots'"):
        fit.predict({"N": [1e9, 2e9], "D": [1e10, "lots"]})
    # a table may carry other columns: only the law's inputs are read
    table = pd.DataFrame({"n_params": [1e9], "n_tokens": [1e10], "loss": [2.0], "run": ["a"]})
    assert fit.predict(table).shape == (1,)
    path = tmp_path / "f.json"
    fit.save(path)
    code, _, err = run(capsys, "predict", path, "--at", "N=1e9", "--at", "D=1e10", "--at", "X=1")
    assert code == 2 and "no input(s) X" in err
    code, _, err = run(capsys, "predict", path, "--at", "N=1e9,2e9", "--at", "D=1e10,abc")
    assert code == 2 and "'abc'" in err


def test_wrong_non_numeric_fit_column_names_the_bad_value_not_the_first():
    df = pd.DataFrame({"n_params": [1e6, 2e6, "2e7x", 4e7, 8e7], "n_tokens": [1e9] * 5, "loss": [3.0] * 5})
    with pytest.raises(TypeError, match=r"'2e7x' at row 2 is not a number"):
        sl.fit("chinchilla", df, fixed={"B": 1.0, "beta": 0.3})


# ---- outliers -------------------------------------------------------------------------------------

def test_wrong_gross_input_typo_is_flagged(chinchilla_grid):
    clean = sl.fit("chinchilla", chinchilla_grid)
    assert not any("typo" in w or "far from the fitted law" in w for w in clean.warnings)
    bad = chinchilla_grid.copy()
    bad.loc[5, "n_params"] = 1e30
    fit = sl.fit("chinchilla", bad)
    typo = [w for w in fit.warnings if "typo" in w]
    assert len(typo) == 1 and "1e+30" in typo[0] and "rows 5" in typo[0] and "'n_params'" in typo[0]


def test_wrong_residual_outlier_is_flagged_with_its_row(chinchilla_grid):
    bad = chinchilla_grid.copy()
    bad.loc[11, "loss"] *= 1.5  # a loss logged from another run
    fit = sl.fit("chinchilla", bad)
    far = [w for w in fit.warnings if "far from the fitted law" in w]
    assert len(far) == 1 and "rows 11" in far[0]


def test_wrong_a_2x_ladder_with_small_steps_is_not_flagged():
    x = np.concatenate([[10.0, 20.0], np.arange(100, 3001, 100.0)])
    df = pd.DataFrame({"step": x, "loss": 2.0 + (300 / x) ** 0.5})
    fit = sl.fit("power_law", df, inputs={"x": "step"})
    assert not any("typo" in w for w in fit.warnings)


# ---- schedules ------------------------------------------------------------------------------------

@pytest.mark.parametrize("spec, match", [
    ("step:n_steps=3000,peak=3e-4,drops=-5/0.1", "drop's step must be an integer in \\[1, n_steps=3000\\]"),
    ("step:n_steps=3000,peak=3e-4,drops=5000/0.1", "drop's step"),
    ("cosine:n_steps=3000,peak=0", "peak must be a finite learning rate > 0"),
    ("cosine:n_steps=3000,peak=3e-4,floor=-1e-4", "floor must be a learning rate in \\[0, peak"),
    ("cosine:n_steps=3000,peak=3e-4,warmup=5000", "warmup must be an integer in \\[0, n_steps=3000\\]"),
])
def test_wrong_bad_schedules_are_refused_when_built(spec, match):
    with pytest.raises(ValueError, match=match):
        S.from_spec(spec)


def _annealing_data():
    specs = {"const": "constant:n_steps=3000,peak=0.0003", "cos": "cosine:n_steps=3000,peak=0.0003,floor=3e-05"}
    from scalelaw.laws.lr_annealing import annealing_area, effective_lr, forward_area, lr_annealing

    frames = []
    for name, spec in specs.items():
        e = effective_lr(S.from_spec(spec))
        steps = np.arange(50, 3001, 50)
        L = lr_annealing(forward_area(e)[steps - 1], annealing_area(e, 0.999)[steps - 1], L0=2.0, A=0.5, alpha=0.4, C=1.0)
        frames.append(pd.DataFrame({"run": name, "step": steps, "loss": L}))
    return pd.concat(frames, ignore_index=True), specs


def test_wrong_warmup_longer_than_the_schedule_is_refused():
    df, specs = _annealing_data()
    assert abs(sl.fit("lr_annealing", df, schedules=specs).params["C"] - 1.0) < 0.01
    with pytest.raises(ValueError, match="warmup_steps=1000000 is longer than the schedule \\(3000 steps\\)"):
        sl.fit("lr_annealing", df, schedules=specs, warmup_steps=10**6)
    with pytest.raises(ValueError, match="peak must be a finite learning rate > 0"):
        sl.fit("lr_annealing", df, schedules={**specs, "cos": "cosine:n_steps=3000,peak=0"})


# ---- CLI predict --ci -----------------------------------------------------------------------------

def test_wrong_schedule_prediction_prints_its_interval_and_says_when_there_is_none(tmp_path, capsys):
    df, specs = _annealing_data()
    fit = sl.fit("lr_annealing", df, schedules=specs)
    bare = tmp_path / "bare.json"
    fit.save(bare)
    code, out, err = run(capsys, "predict", bare, "--schedule", "constant:n_steps=3000,peak=0.0003", "--ci", "0.9")
    assert code == 2 and out == "" and "no bootstrap draws" in err and "--bootstrap" in err
    fit.bootstrap(n=20, seed=0)
    with_draws = tmp_path / "lrb.json"
    fit.save(with_draws)
    code, out, err = run(capsys, "predict", with_draws, "--schedule", "constant:n_steps=3000,peak=0.0003", "--ci", "0.9")
    assert code == 0, err
    rows = [line for line in out.splitlines() if line.startswith("step")]
    assert rows and all("[" in line and "]" in line for line in rows)
    code, out, _ = run(capsys, "predict", with_draws, "--schedule", "constant:n_steps=3000,peak=0.0003", "--ci", "0.9",
                       "--json")
    got = json.loads(out)
    last = rows[-1].split()
    assert float(last[3]) == pytest.approx(got["loss"][-1], rel=1e-5)
    assert float(last[4].strip("[,")) == pytest.approx(got["lower"][-1], rel=1e-5)


def test_wrong_ci_without_draws_is_an_error_for_points_too(tmp_path, capsys, chinchilla_grid):
    path = tmp_path / "f.json"
    sl.fit("chinchilla", chinchilla_grid).save(path)
    code, out, err = run(capsys, "predict", path, "--at", "N=1e9", "--at", "D=1e10", "--ci", "0.9")
    assert code == 2 and out == "" and "no bootstrap draws, so there is no interval" in err


# ---- trainer and logs -----------------------------------------------------------------------------

@pytest.mark.parametrize("tokens", ["-100", "0", "nan", "10"])
def test_wrong_train_refuses_a_token_budget_below_one_step(tmp_path, capsys, tokens):
    code, out, err = run(capsys, "train", "--preset", "tiny", "--tokens", tokens, "--device", "cpu",
                         "--out", tmp_path / "r", "--print-config")
    assert code == 2 and "--tokens must be at least one step's tokens" in err
    assert not (tmp_path / "r").exists()


def test_wrong_negative_step_and_loss_in_logs_are_warned(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("step,loss\n-10,3.0\n0,2.9\n10,-2.8\n20,2.7\n")
    with pytest.warns(ReadLogsWarning) as caught:
        df = sl.read_logs(path)
    text = " ".join(str(w.message) for w in caught)
    assert "negative step" in text and "negative loss" in text and "a.csv" in text
    assert len(df) == 4  # kept: the user decides


def test_wrong_schedule_prediction_defaults_to_the_fits_own_warmup(tmp_path, capsys):
    """A fit made with warmup_steps=W predicts a new schedule with W unless told otherwise
    (it used 0, which moved the prediction: the same schedule seen with another convention)."""
    df, specs = _annealing_data()
    fit = sl.fit("lr_annealing", df, schedules=specs, warmup_steps=200)
    wsd = "wsd:n_steps=3000,peak=0.0003,floor=3e-05,warmup=200"
    default = fit.predict(schedule=wsd)
    np.testing.assert_allclose(default, fit.predict(schedule=wsd, warmup_steps=200), rtol=1e-12)
    assert np.max(np.abs(default / fit.predict(schedule=wsd, warmup_steps=0) - 1)) > 1e-3
    saved = tmp_path / "lrw.json"
    fit.save(saved)
    code, out, err = run(capsys, "predict", saved, "--schedule", wsd, "--json")
    assert code == 0, err
    np.testing.assert_allclose(json.loads(out)["loss"], default, rtol=1e-9)
