"""The command line: fit, predict, optimum, plot; light imports."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from scalelaw.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_import_of_the_cli_pulls_in_nothing_heavy():
    code = ("import sys, scalelaw, scalelaw.cli, scalelaw.schedules, scalelaw.laws; "
            "heavy = [m for m in ('torch', 'lmfit', 'plotly', 'streamlit', 'scipy') if m in sys.modules]; "
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_python_m_scalelaw_laws_lists_every_law():
    out = subprocess.run([sys.executable, "-m", "scalelaw", "laws"], capture_output=True, text=True, check=True)
    for name in ("power_law", "chinchilla", "kaplan_nd", "encdec", "lr_annealing", "dcpt_cross"):
        assert name in out.stdout


def test_fit_predict_optimum_plot(tmp_path, capsys, chinchilla_grid):
    data = tmp_path / "points.csv"
    chinchilla_grid.to_csv(data, index=False)
    out_fit = tmp_path / "fit.json"
    code, out, err = run(capsys, "fit", "chinchilla", str(data), "--var", "N=n_params", "--var", "D=n_tokens",
                         "--target", "loss", "--json", "-o", str(out_fit), "--bootstrap", "20")
    assert code == 0, err
    obj = json.loads(out)
    assert set(obj) == {"law", "params", "objective", "n_points", "warnings"}
    assert obj["law"] == "chinchilla" and obj["n_points"] == 64
    assert obj["params"]["alpha"] == pytest.approx(0.34, rel=0.05)

    code, out, err = run(capsys, "predict", str(out_fit), "--at", "N=7e10", "--at", "D=1.4e12", "--json", "--ci", "0.9")
    pred = json.loads(out)
    import scalelaw as sl

    fit = sl.load_fit(out_fit)
    assert pred["prediction"][0] == pytest.approx(fit.predict({"N": 7e10, "D": 1.4e12})[0], rel=1e-12)
    assert pred["lower"][0] < pred["prediction"][0] < pred["upper"][0]
    # the saved fit carries its calibration: the CLI prints the same interval and says its kind
    lo, hi = fit.predict_interval({"N": 7e10, "D": 1.4e12}, level=0.9)
    assert pred["lower"][0] == pytest.approx(lo[0]) and pred["upper"][0] == pytest.approx(hi[0])
    assert pred["interval"].startswith("90% prediction interval, calibrated on ")
    assert pred["extrapolation"]["N"] == pytest.approx(7e10 / chinchilla_grid["n_params"].max())

    code, out, err = run(capsys, "optimum", str(out_fit), "--at", "C=1e21", "--json")
    assert json.loads(out)["N"] == pytest.approx(fit.optimum(C=1e21)["N"])

    html = tmp_path / "fit.html"
    code, out, err = run(capsys, "plot", str(out_fit), "-o", str(html))
    assert code == 0 and html.stat().st_size > 10_000 and "plotly" in html.read_text()[:200_000].lower()


def test_lr_annealing_from_the_command_line(tmp_path, capsys):
    from scalelaw import schedules as S
    from scalelaw.laws.lr_annealing import annealing_area, effective_lr, forward_area, lr_annealing

    specs = {"const": "constant:n_steps=3000,peak=0.0003", "cos": "cosine:n_steps=3000,peak=0.0003,floor=3e-05"}
    frames = []
    for name, spec in specs.items():
        e = effective_lr(S.from_spec(spec))
        steps = np.arange(10, 3001, 10)
        L = lr_annealing(forward_area(e), annealing_area(e, 0.999), L0=2.5, A=0.6, alpha=0.5, C=1.0)[steps - 1]
        frames.append(pd.DataFrame({"run": name, "step": steps, "loss": L}))
    data = tmp_path / "curves.csv"
    pd.concat(frames).to_csv(data, index=False)
    out_fit = tmp_path / "lr.json"
    code, out, err = run(capsys, "fit", "lr_annealing", str(data), "--var", "step=step",
                         "--schedule", f"const={specs['const']}", "--schedule", f"cos={specs['cos']}",
                         "--json", "-o", str(out_fit))
    assert code == 0, err
    assert json.loads(out)["params"]["alpha"] == pytest.approx(0.5, rel=0.01)
    code, out, err = run(capsys, "predict", str(out_fit), "--schedule", "wsd:n_steps=3000,peak=0.0003,floor=3e-05,decay_frac=0.2", "--json")
    res = json.loads(out)
    assert len(res["loss"]) == 3000 and res["step"][-1] == 3000


def test_fit_reads_a_glob_of_logs(tmp_path, capsys):
    """A quoted glob (as read_logs reads it) picks some runs of a folder: here two of three."""
    from scalelaw import schedules as S
    from scalelaw.laws.lr_annealing import annealing_area, effective_lr, forward_area, lr_annealing

    specs = {"c_const": "constant:n_steps=3000,peak=0.0003", "c_cos": "cosine:n_steps=3000,peak=0.0003,floor=3e-05"}
    steps = np.arange(10, 3001, 10)
    for name, spec in specs.items():
        e = effective_lr(S.from_spec(spec))
        L = lr_annealing(forward_area(e), annealing_area(e, 0.999), L0=2.5, A=0.6, alpha=0.5, C=1.0)[steps - 1]
        pd.DataFrame({"step": steps, "loss": L}).to_csv(tmp_path / f"{name}.csv", index=False)
    pd.DataFrame({"step": steps, "loss": 9.0}).to_csv(tmp_path / "other.csv", index=False)  # not matched
    code, out, err = run(capsys, "fit", "lr_annealing", str(tmp_path / "c_*.csv"), "--var", "step=step",
                         *[a for n, s in specs.items() for a in ("--schedule", f"{n}={s}")], "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["n_points"] == 2 * len(steps) and res["params"]["alpha"] == pytest.approx(0.5, rel=0.01)
    code, out, err = run(capsys, "fit", "lr_annealing", str(tmp_path / "nothing_*.csv"))
    assert code == 2 and "nothing_*.csv: no such file" in err


def test_cli_errors_name_the_problem(tmp_path, capsys):
    code, out, err = run(capsys, "fit", "chinchilla", str(tmp_path / "missing.csv"))
    assert code == 2 and "missing.csv: no such file" in err
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"n_params": [1, 2], "loss": [3, 2]}).to_csv(bad, index=False)
    code, out, err = run(capsys, "fit", "chinchilla", str(bad))
    assert code == 2 and "column 'n_tokens' (input D) not found" in err
    code, out, err = run(capsys, "fit", "chinchilla", str(bad), "--var", "N")
    assert code == 2 and "--var expects NAME=VALUE, got 'N'" in err
