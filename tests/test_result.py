"""The result object: bootstrap, intervals, reports, warnings, and the JSON round trip."""

import json

import numpy as np
import pandas as pd
import pytest

import scalelaw as sl
from scalelaw import schedules as S
from scalelaw.bootstrap import choose_method, resample_counts

from conftest import CHINCHILLA_TRUE


def test_params_are_a_plain_dict_and_predict_broadcasts(chinchilla_grid):
    fit = sl.fit("chinchilla", chinchilla_grid, inputs={"N": "n_params", "D": "n_tokens"}, target="loss")
    assert type(fit.params) is dict and list(fit.params) == ["E", "A", "alpha", "B", "beta"]
    assert all(type(v) is float for v in fit.params.values())
    out = fit.predict({"N": 7e10, "D": 1.4e12})
    assert isinstance(out, np.ndarray) and out.shape == (1,)
    assert fit.predict({"N": [1e8, 1e9], "D": 1e10}).shape == (2,)
    # a DataFrame in the data's own column names works too
    assert fit.predict(chinchilla_grid[["n_params", "n_tokens"]]).shape == (len(chinchilla_grid),)
    assert fit.extrapolation({"N": 7e10, "D": 1.4e12})["N"] == pytest.approx(7e10 / 3e9)


def test_bootstrap_by_run_covers_truth_and_bands_widen_outside(chinchilla_grid):
    fit = sl.fit("chinchilla", chinchilla_grid).bootstrap(n=300, seed=0)
    assert fit.bootstrap_info["method"] == "runs"
    assert fit.draws.shape == (300, 5)
    ci = fit.ci(0.95)
    for name in ("alpha", "beta", "E"):
        assert ci.loc[name, "lower"] <= CHINCHILLA_TRUE[name] <= ci.loc[name, "upper"], name
    lo_in, hi_in = fit.predict_interval({"N": 1e8, "D": 1e10})
    lo_out, hi_out = fit.predict_interval({"N": 1e12, "D": 1e14})
    assert (hi_out - lo_out)[0] > (hi_in - lo_in)[0] > 0
    assert "bootstrap CI" in fit.report()


def test_resampling_designs(rng):
    table = pd.DataFrame({"run": np.repeat(["a", "b", "c"], 30), "step": np.tile(np.arange(30), 3)})
    counts, method = resample_counts(table, 50, rng)
    assert method == "block" and counts.shape == (50, 90)
    # each run keeps its number of points in every resample (blocks within runs)
    for code in "abc":
        assert np.all(counts[:, table["run"].to_numpy() == code].sum(axis=1) == 30)
    runs5 = pd.DataFrame({"run": np.repeat(list("abcde"), 4), "step": np.tile(np.arange(4), 5)})
    c5, m5 = resample_counts(runs5, 20, rng)
    assert m5 == "runs"
    # whole runs: all points of a run share one count
    for code in "abcde":
        sel = runs5["run"].to_numpy() == code
        assert np.all(c5[:, sel] == c5[:, sel][:, :1])
    assert c5.sum(axis=1).tolist() == [20] * 20
    assert choose_method(pd.DataFrame({"x": [1, 2]})) == "rows"


def test_block_bootstrap_for_few_long_curves():
    n = 3000
    sch = {"const": S.constant(n, 3e-4), "cos": S.cosine(n, 3e-4, 3e-5)}
    from scalelaw.laws.lr_annealing import annealing_area, effective_lr, forward_area, lr_annealing

    frames = []
    rng = np.random.default_rng(0)
    for name, lr in sch.items():
        e = effective_lr(lr)
        steps = np.arange(10, n + 1, 10)
        L = lr_annealing(forward_area(e), annealing_area(e, 0.999), L0=2.5, A=0.6, alpha=0.5, C=1.0)[steps - 1]
        frames.append(pd.DataFrame({"run": name, "step": steps, "loss": L * np.exp(rng.normal(0, 0.003, len(steps)))}))
    fit = sl.fit("lr_annealing", pd.concat(frames), schedules=sch).bootstrap(n=100, seed=1)
    assert fit.bootstrap_info["method"] == "block"
    lo, hi = fit.predict_interval(schedule=S.wsd(n, 3e-4, 3e-5))
    assert lo.shape == (n,) and np.all(hi >= lo)


def test_save_load_round_trip_keeps_everything(tmp_path, chinchilla_grid):
    fit = sl.fit("chinchilla", chinchilla_grid, fixed={"E": 1.7}).bootstrap(n=50, seed=3)
    path = tmp_path / "fit.json"
    fit.save(path)
    raw = json.loads(path.read_text())
    assert raw["law"] == "chinchilla" and raw["scalelaw_version"] == sl.__version__
    assert len(raw["data_hash"]) == 64 and len(raw["bootstrap"]["draws"]["alpha"]) == 50
    back = sl.load_fit(path)
    assert back.params == fit.params
    assert back.spec.fixed == {"E": 1.7}
    assert back.data_hash == fit.data_hash
    X = {"N": [1e8, 1e11], "D": [1e10, 1e13]}
    np.testing.assert_array_equal(back.predict(X), fit.predict(X))
    np.testing.assert_allclose(back.predict_interval(X), fit.predict_interval(X))
    pd.testing.assert_frame_equal(back.ci(), fit.ci())
    assert back.optimum(C=1e21) == fit.optimum(C=1e21)
    # residuals rebuild from the saved rows
    np.testing.assert_allclose(back.residuals()["residual"], fit.residuals()["residual"])
    # tampering with the saved data is detected
    raw["data"]["loss"][0] += 1.0
    path.write_text(json.dumps(raw))
    with pytest.raises(ValueError, match="corrupted"):
        sl.load_fit(path)


def test_lr_annealing_fit_round_trips_with_its_schedules(tmp_path):
    n = 2000
    sch = {"a": "constant:n_steps=2000,peak=0.0003,warmup=100", "b": "cosine:n_steps=2000,peak=0.0003,floor=3e-05,warmup=100"}
    from scalelaw.laws.lr_annealing import annealing_area, effective_lr, forward_area, lr_annealing

    frames = []
    for name, spec in sch.items():
        e = effective_lr(S.from_spec(spec), 100)
        steps = np.arange(0, n + 1, 20)
        L = lr_annealing(forward_area(e), annealing_area(e, 0.999), L0=2.5, A=0.6, alpha=0.5, C=1.0)
        loss = np.r_[5.5, L[steps[1:] - 1]]
        frames.append(pd.DataFrame({"run": name, "step": steps, "loss": loss, "schedule": spec}))
    fit = sl.fit("lr_annealing", pd.concat(frames), warmup_steps=100)
    assert any("step < 1 skipped" in w for w in fit.warnings)  # the step-0 rows, said out loud
    fit.save(tmp_path / "lr.json")
    back = sl.load_fit(tmp_path / "lr.json")
    wsd = S.wsd(n, 3e-4, 3e-5, warmup=100)
    np.testing.assert_allclose(back.predict(schedule=wsd, warmup_steps=100), fit.predict(schedule=wsd, warmup_steps=100))
    np.testing.assert_allclose(back.residuals()["pred"], fit.residuals()["pred"], rtol=1e-12)


def test_grouped_fit_saves_and_loads(tmp_path, chinchilla_grid):
    df = pd.concat([chinchilla_grid.assign(lang="en"), chinchilla_grid.assign(lang="de")], ignore_index=True)
    g = sl.fit("chinchilla", df, by="lang")
    g.save(tmp_path / "g.json")
    back = sl.load_fit(tmp_path / "g.json")
    assert isinstance(back, sl.GroupedFit) and back.by == "lang"
    assert back["de"].params == g["de"].params


def test_warnings_for_few_levels_and_parameters_at_a_bound(rng):
    N, D = (a.ravel() for a in np.meshgrid([1e7, 1e8, 1e9], np.geomspace(1e9, 1e11, 6)))
    L = 1.69 + 406.4 / N ** 0.34 + 410.7 / D ** 0.28
    fit = sl.fit("chinchilla", pd.DataFrame({"n_params": N, "n_tokens": D, "loss": L}), bounds={"beta": (0.3, 1.0)})
    text = " ".join(fit.warnings)
    assert "only 3 distinct values" in text and "'N'" in text
    assert fit.at_bound == ["beta"] and "at a bound" in text
    assert "AT BOUND" in fit.report()
