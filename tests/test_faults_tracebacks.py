"""Issue 12, tracebacks and hangs: each case now ends in one clear line from the CLI (exit status
2), a ValueError naming the argument, or a warning with the data kept.

Test names start with the issue's category (``test_traceback_``, ``test_hang_``) so the cases can
be counted.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import scalelaw as sl
from scalelaw.cli import main
from scalelaw.io import ReadLogsWarning

ROOT = Path(__file__).resolve().parents[1]


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def one_line_error(code, err, *needles):
    assert code == 2, err
    lines = [line for line in err.strip().splitlines() if ": warning: " not in line]
    assert len(lines) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture
def fit_file(tmp_path, chinchilla_grid):
    path = tmp_path / "f.json"
    sl.fit("chinchilla", chinchilla_grid).bootstrap(n=10, seed=0).save(path)
    return path


# ---- tables ----------------------------------------------------------------------------------------

def test_traceback_empty_csv_is_one_line(tmp_path, capsys):
    for text in ("", "\n\n"):
        (tmp_path / "e.csv").write_text(text)
        code, _, err = run(capsys, "fit", "chinchilla", tmp_path / "e.csv")
        one_line_error(code, err, "e.csv", "empty file")


def test_traceback_blank_lines_before_the_header_are_read(tmp_path, capsys, chinchilla_grid):
    path = tmp_path / "p.csv"
    path.write_text("\n\n" + chinchilla_grid.to_csv(index=False))
    code, out, err = run(capsys, "fit", "chinchilla", path, "--json")
    assert code == 0, err
    assert json.loads(out)["n_points"] == len(chinchilla_grid)


# ---- folders where files are expected -------------------------------------------------------------

def test_traceback_predict_a_folder(tmp_path, capsys):
    code, _, err = run(capsys, "predict", tmp_path, "--at", "N=1e9", "--at", "D=1e10")
    one_line_error(code, err, "is a directory")


@pytest.mark.parametrize("sub", ["", "sub"])
def test_traceback_train_out_is_a_file(tmp_path, capsys, sub):
    (tmp_path / "afile").write_text("x")
    out = tmp_path / "afile" / sub if sub else tmp_path / "afile"
    code, _, err = run(capsys, "train", "--preset", "tiny", "--steps", "2", "--device", "cpu", "--out", out)
    one_line_error(code, err, "--out", "is a file" if not sub else "which is a file")


# ---- damaged saved fits -----------------------------------------------------------------------------

def test_traceback_all_null_draws(fit_file, tmp_path, capsys):
    from scalelaw.integrity import seal

    raw = json.loads(fit_file.read_text())
    raw["bootstrap"]["draws"] = {k: [None] * len(v) for k, v in raw["bootstrap"]["draws"].items()}
    fit_file.write_text(json.dumps(seal(raw)))  # as if every resample had failed
    code, _, err = run(capsys, "predict", fit_file, "--at", "N=1e9", "--at", "D=1e10", "--ci", "0.9")
    one_line_error(code, err, "only 0 of 10 bootstrap draws are usable")
    pytest.importorskip("plotly")
    code, _, err = run(capsys, "plot", fit_file, "-o", tmp_path / "p.html")
    assert code == 0, err  # the curve, without a band


def test_traceback_deeply_nested_json(tmp_path, capsys):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    code, _, err = run(capsys, "predict", path, "--at", "N=1")
    one_line_error(code, err, "deep.json", "nested too deeply")
    folder = tmp_path / "logs"
    folder.mkdir()
    os.replace(path, folder / "deep.json")
    (folder / "a.csv").write_text("step,loss\n1,3.0\n2,2.9\n")
    with pytest.warns(ReadLogsWarning, match="deep.json: skipped: JSON nested too deeply"):
        assert len(sl.read_logs(folder)) == 2


def test_traceback_missing_keys_are_named(fit_file, capsys):
    raw = json.loads(fit_file.read_text())
    raw.pop("integrity")
    raw["format"] = 1  # an older file, which has no hash to catch the edit
    del raw["params"]["E"]
    del raw["target"]
    fit_file.write_text(json.dumps(raw))
    code, _, err = run(capsys, "predict", fit_file, "--at", "N=1e9", "--at", "D=1e10")
    one_line_error(code, err, "missing key(s) target")
    raw["target"] = "loss"
    fit_file.write_text(json.dumps(raw))
    code, _, err = run(capsys, "predict", fit_file, "--at", "N=1e9", "--at", "D=1e10")
    one_line_error(code, err, "params has no number for E")


# ---- fitting -------------------------------------------------------------------------------------------

def test_traceback_all_parameters_fixed_evaluates_and_reports(tmp_path, capsys, chinchilla_grid):
    from tests.conftest import CHINCHILLA_TRUE

    data = tmp_path / "p.csv"
    chinchilla_grid.to_csv(data, index=False)
    fixes = [a for k, v in CHINCHILLA_TRUE.items() for a in ("--fix", f"{k}={v}")]
    code, out, err = run(capsys, "fit", "chinchilla", data, *fixes, "--json")
    assert code == 0, err
    got = json.loads(out)
    assert got["params"] == CHINCHILLA_TRUE
    assert 0 < got["objective"] < 1e-3 and any("every parameter is fixed" in w for w in got["warnings"])


@pytest.mark.parametrize("call, match", [
    (lambda f, df: sl.fit("chinchilla", df, delta="x"), "delta"),
    (lambda f, df: sl.fit("chinchilla", df, max_grid=-1), "max_grid"),
    (lambda f, df: f.predict_interval({"N": 1e9, "D": 1e10}, level=1.5), "level"),
    (lambda f, df: f.ci(level="x"), "level"),
    (lambda f, df: f.bootstrap(n="x"), "bootstrap n"),
    (lambda f, df: f.optimum(C="x"), "optimum: C"),
    (lambda f, df: f.reach("x"), "reach: loss"),
    (lambda f, df: sl.count_params(n_layer="x", d_model=64, vocab=256), "n_layer"),
])
def test_traceback_api_errors_name_the_argument(chinchilla_grid, call, match):
    fit = sl.fit("chinchilla", chinchilla_grid).bootstrap(n=5, seed=0)
    with pytest.raises(ValueError, match=match):
        call(fit, chinchilla_grid)


def test_traceback_predict_json_is_strict(fit_file, capsys):
    from scalelaw._cli_commands import _print_json

    _print_json({"a": float("inf"), "b": [np.float64("nan"), 1.0], "c": np.array([-np.inf])})
    out = capsys.readouterr().out

    def refuse(name):
        raise AssertionError(f"non-standard JSON constant {name}")

    assert json.loads(out, parse_constant=refuse) == {"a": None, "b": [None, 1.0], "c": [None]}
    code, out, err = run(capsys, "predict", fit_file, "--at", "N=1e9,1e30", "--at", "D=1e10", "--json")
    assert code == 0, err
    json.loads(out, parse_constant=refuse)


# ---- signals ----------------------------------------------------------------------------------------

def _spawn(tmp_path, shards, *extra):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "scalelaw", "train", "--preset", "tiny", "--steps", "100000", "--device", "cpu",
           "--no-compile", "--quiet", "--data-root", str(shards), "--out", str(tmp_path / "r"), *extra]
    # A test run started in the background by a non-interactive shell (`cmd &`) inherits SIGINT
    # ignored, and Python then installs no Ctrl-C handler in the child: restore the default so the
    # child sees SIGINT as a user's terminal would send it.
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _wait_for_rows(path, proc, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        if path.is_file() and len(path.read_text().splitlines()) > 2:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    raise AssertionError("the run wrote no rows")


@pytest.mark.slow  # torch starts in a subprocess and trains until the signal: ~20 s each
@pytest.mark.parametrize("sig, status", [(signal.SIGINT, "interrupted"), (signal.SIGTERM, "interrupted")])
def test_traceback_signal_while_training_leaves_one_line_and_an_interrupted_log(tmp_path, shards, sig, status):
    proc = _spawn(tmp_path, shards)
    log = tmp_path / "r" / "tiny_cosine100000_seed0.jsonl"
    _wait_for_rows(log, proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1].startswith("scalelaw train: interrupted; resume with scalelaw train")
    assert "--resume" in err
    header = json.loads(log.read_text().splitlines()[0])["header"]
    assert header["status"] == status


class _InterruptImport:
    """A meta-path finder that raises KeyboardInterrupt when ``name`` is imported: Ctrl-C while
    the trainer's modules (and torch) load, without a race against the interpreter's start-up."""

    def __init__(self, name):
        self.name = name

    def find_spec(self, fullname, path=None, target=None):
        if fullname == self.name:
            raise KeyboardInterrupt
        return None


@pytest.mark.parametrize("module", ["scalelaw.train.cli", "scalelaw.train.loop"])
def test_traceback_sigint_during_imports_is_one_line(tmp_path, capsys, monkeypatch, module):
    for name in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [_InterruptImport(module), *sys.meta_path])
    code = main(["train", "--preset", "tiny", "--steps", "2", "--device", "cpu", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 130 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and "interrupted" in err
