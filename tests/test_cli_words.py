"""The command line speaks its own words: flags instead of keyword arguments, plain numbers,
warnings as ``scalelaw CMD: warning: ...`` lines without Python source lines; and ``fit.predict``
warns about extrapolation exactly where ``scalelaw predict`` does."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import scalelaw as sl
from scalelaw._cli_commands import cli_words
from scalelaw.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_cli_words_turn_python_into_flags():
    assert cli_words("pin them with fixed={'B': ..., 'beta': ...}") == "pin them with --fix B=VALUE --fix beta=VALUE"
    assert cli_words("or fix parameters with fixed=") == "or fix parameters with --fix NAME=VALUE"
    assert cli_words("(no CI: run fit.bootstrap())") == "(no CI: fit with --bootstrap N)"
    assert cli_words("no bootstrap draws: call fit.bootstrap(n=...) first") == \
        "no bootstrap draws: fit with --bootstrap N first"
    assert cli_words("e.g. np.float64(0.0) at rows [50], np.int64(3)") == "e.g. 0.0 at rows [50], 3"
    assert cli_words("nothing to change") == "nothing to change"


def _grid(tmp_path, d_levels=(1e8, 2e8, 4e8, 8e8, 1.6e9)):
    N, D = (a.ravel() for a in np.meshgrid(np.geomspace(1e6, 1e8, 5), np.array(d_levels)))
    loss = 1.8 + 400 / N ** 0.34 + 410 / D ** 0.28
    path = tmp_path / "points.csv"
    pd.DataFrame({"n_params": N, "n_tokens": D, "loss": loss}).to_csv(path, index=False)
    return path


def test_fit_error_names_the_flag(tmp_path, capsys):
    path = _grid(tmp_path, d_levels=(1e9,))
    assert main(["fit", "chinchilla", str(path)]) == 2
    err = capsys.readouterr().err
    assert "--fix B=VALUE --fix beta=VALUE" in err and "fixed=" not in err


def test_non_positive_value_is_a_plain_number(tmp_path, capsys):
    path = _grid(tmp_path)
    frame = pd.read_csv(path)
    frame.loc[3, "n_tokens"] = 0.0
    frame.to_csv(path, index=False)
    assert main(["fit", "chinchilla", str(path)]) == 2
    err = capsys.readouterr().err
    assert "e.g. 0 at rows [3]" in err and "np." not in err


def test_report_without_bootstrap_names_the_flag(tmp_path, capsys):
    assert main(["fit", "chinchilla", str(_grid(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert "(no CI: fit with --bootstrap N)" in out and "fit.bootstrap" not in out


def test_predict_warns_in_python_and_on_the_command_line(tmp_path, capsys):
    path = _grid(tmp_path)
    fit = sl.fit("chinchilla", pd.read_csv(path))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit.predict({"N": 1e7, "D": 4e8})  # inside the data: no warning
    with pytest.warns(sl.ExtrapolationWarning, match=r"extrapolating: N 700x beyond the fitted data, "
                                                     r"D 875x beyond the fitted data"):
        fit.predict({"N": 7e10, "D": 1.4e12})
    with pytest.warns(sl.ExtrapolationWarning, match=r"N 10x beyond"):  # below the data counts too
        fit.predict(pd.DataFrame({"n_params": [1e5], "n_tokens": [4e8]}))
    fit.save(tmp_path / "fit.json")
    assert main(["predict", str(tmp_path / "fit.json"), "--at", "N=7e10", "--at", "D=1.4e12"]) == 0
    captured = capsys.readouterr()
    assert "scalelaw predict: warning: extrapolating: N 700x beyond the fitted data" in captured.err
    assert "extrapolating" not in captured.out


def test_warnings_are_one_line_each_without_source_lines(tmp_path):
    """Run as a user does (a subprocess): a folder with a log and a file that is not one."""
    logs = tmp_path / "logs"
    logs.mkdir()
    steps = np.arange(1, 40)
    pd.DataFrame({"step": steps, "loss": 2 + 3 / steps ** 0.5}).to_csv(logs / "a.csv", index=False)
    (logs / "notes.txt").write_text("hello")
    proc = subprocess.run([sys.executable, "-m", "scalelaw", "fit", "power_law", str(logs), "--var", "x=step"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines and all(line.startswith("scalelaw fit: warning: ") for line in lines), proc.stderr
    assert any("notes.txt: skipped" in line for line in lines)
    assert ".py:" not in proc.stderr and "read_logs(path)" not in proc.stderr
