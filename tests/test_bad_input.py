"""Bad input gets a clear error that names the column, parameter or option and what was expected."""

import numpy as np
import pandas as pd
import pytest

import scalelaw as sl


@pytest.fixture
def df(chinchilla_grid):
    return chinchilla_grid.copy()


def test_nan_in_an_input_column_is_named(df):
    df.loc[3, "n_params"] = np.nan
    with pytest.raises(ValueError, match=r"column 'n_params' \(input N\) has 1 NaN/inf value\(s\), e.g. at rows \[3\]"):
        sl.fit("chinchilla", df)


def test_inf_in_the_target_is_named(df):
    df.loc[5, "loss"] = np.inf
    with pytest.raises(ValueError, match=r"column 'loss' \(target\) has 1 NaN/inf"):
        sl.fit("chinchilla", df)


@pytest.mark.parametrize("col, value", [("n_tokens", 0.0), ("n_params", -5.0), ("loss", 0.0)])
def test_zero_or_negative_where_logs_are_taken(df, col, value):
    df.loc[0, col] = value
    with pytest.raises(ValueError, match=rf"column '{col}' .* must be > 0"):
        sl.fit("chinchilla", df)


def test_missing_column_lists_the_columns(df):
    with pytest.raises(KeyError, match=r"column 'params' \(input N\) not found in the data; columns are: run, n_params"):
        sl.fit("chinchilla", df, inputs={"N": "params"})


def test_unknown_law_input_option_and_parameter(df):
    with pytest.raises(ValueError, match="unknown law 'gpt4'"):
        sl.fit("gpt4", df)
    with pytest.raises(ValueError, match="has no input.*'C'.*its inputs: N, D"):
        sl.fit("chinchilla", df, inputs={"C": "flops"})
    with pytest.raises(TypeError, match="unknown option.*schedules.*its options: none"):
        sl.fit("chinchilla", df, schedules={})
    with pytest.raises(ValueError, match="fixed: law 'chinchilla' has no parameter 'gamma'"):
        sl.fit("chinchilla", df, fixed={"gamma": 1.0})
    with pytest.raises(ValueError, match="loss must be one of huber, squared"):
        sl.fit("chinchilla", df, loss="l1")
    with pytest.raises(ValueError, match=r"bounds of 'E': min 3.0 must be < max 1.0"):
        sl.fit("chinchilla", df, bounds={"E": (3.0, 1.0)})


def test_wrong_types(df):
    with pytest.raises(TypeError, match="must be a pandas DataFrame or a dict"):
        sl.fit("chinchilla", [1, 2, 3])
    with pytest.raises(TypeError, match=r"column 'n_params' \(input N\) must be numeric, got dtype"):
        sl.fit("chinchilla", df.assign(n_params=df["n_params"].map(lambda v: f"{v:g} params")))
    with pytest.raises(TypeError, match="fixed\\['E'\\] must be a number"):
        sl.fit("chinchilla", df, fixed={"E": "one"})
    with pytest.raises(TypeError, match="seed must be an integer"):
        sl.fit("chinchilla", df, seed=0.5)


def test_too_few_levels_is_an_error_and_fixing_the_exponent_lifts_it(df):
    one_size = df[df["n_params"] == df["n_params"].min()]
    with pytest.raises(ValueError, match=r"input 'N' \(column 'n_params'\) has 1 distinct value\(s\): A, alpha cannot be identified"):
        sl.fit("chinchilla", one_size)
    fit = sl.fit("chinchilla", one_size, fixed={"A": 406.4, "alpha": 0.34})
    assert fit.params["beta"] > 0


def test_too_few_points(df):
    with pytest.raises(ValueError, match=r"too few points: 4 observation\(s\) with weight > 0 for 5 free parameters"):
        sl.fit("chinchilla", df.iloc[[0, 9, 18, 27]])
    with pytest.raises(ValueError, match="data has no rows"):
        sl.fit("chinchilla", df.iloc[:0])


def test_lr_annealing_without_schedules_says_what_it_needs():
    d = pd.DataFrame({"run": ["a"] * 5, "step": np.arange(1, 6), "loss": np.linspace(4, 3, 5)})
    with pytest.raises(ValueError, match="needs each run's per-step learning rate"):
        sl.fit("lr_annealing", d)
    with pytest.raises(ValueError, match=r"schedules has no entry for run\(s\) \['a'\]"):
        sl.fit("lr_annealing", d, schedules={"b": [1e-3] * 5})
    with pytest.raises(ValueError, match="data has step 5 but its schedule has only 3 steps"):
        sl.fit("lr_annealing", d, schedules={"a": [1e-3] * 3})


def test_lr_column_fallback_warns():
    from scalelaw import schedules as S

    lr = S.cosine(1000, 1e-3, 1e-4)
    steps = np.arange(10, 1001, 10)
    from scalelaw.laws.lr_annealing import annealing_area, effective_lr, forward_area, lr_annealing

    e = effective_lr(lr)
    L = lr_annealing(forward_area(e), annealing_area(e, 0.999), L0=2.0, A=0.5, alpha=0.5, C=100.0)[steps - 1]
    d = pd.concat([pd.DataFrame({"run": "cos", "step": steps, "lr": lr[steps - 1], "loss": L}),
                   pd.DataFrame({"run": "const", "step": steps, "lr": 1e-3, "loss": lr_annealing(
                       np.cumsum(np.full(1000, 1e-3))[steps - 1], 0.0, L0=2.0, A=0.5, alpha=0.5, C=100.0)})])
    fit = sl.fit("lr_annealing", d)
    assert any("linear interpolation of the logged 'lr'" in w for w in fit.warnings)
    assert fit.params["alpha"] == pytest.approx(0.5, rel=0.05)


def test_predict_needs_the_laws_inputs(chinchilla_grid):
    fit = sl.fit("chinchilla", chinchilla_grid)
    with pytest.raises(ValueError, match="needs input\\(s\\) D to predict"):
        fit.predict({"N": 1e9})
    with pytest.raises(ValueError, match="no bootstrap draws"):
        fit.ci()
    with pytest.raises(ValueError, match="optimum needs exactly C="):
        fit.optimum(budget=3)


def test_load_fit_rejects_other_json(tmp_path):
    p = tmp_path / "x.json"
    p.write_text('{"hello": 1}')
    with pytest.raises(ValueError, match="not a saved scalelaw fit"):
        sl.load_fit(p)
    p.write_text("{oops")
    with pytest.raises(ValueError, match="invalid JSON"):
        sl.load_fit(p)
