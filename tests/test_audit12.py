"""Defects found by a newcomer's audit (session 12, audit12), each pinned by a test that failed
before its fix: the README and examples followed literally, the CLI and the Python API on awkward
but plausible input, and the app's uploads. The earlier audits' ground (service and store, saved
fits, trainer resume, sweep specs) is not repeated here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]


def chinchilla_points(seed: int = 0) -> pd.DataFrame:
    """A 5 x 5 grid of Hoffmann's law (E 1.69, A 406.4, alpha 0.34, B 410.7, beta 0.28), no noise."""
    N, D = np.meshgrid(np.geomspace(1e6, 1e8, 5), np.geomspace(1e8, 1e10, 5))
    N, D = N.ravel(), D.ravel()
    return pd.DataFrame({"n_params": N, "n_tokens": D, "loss": 1.69 + 406.4 / N**0.34 + 410.7 / D**0.28})


@pytest.fixture(scope="module")
def chin_fit():
    import scalelaw as sl

    return sl.fit("chinchilla", chinchilla_points(), inputs={"N": "n_params", "D": "n_tokens"})


@pytest.fixture(scope="module")
def iso_result(tmp_path_factory):
    import scalelaw as sl

    N, C = np.meshgrid(np.geomspace(3e7, 3e9, 9), [1e18, 3e18, 1e19, 3e19, 1e20])
    N, C = N.ravel(), C.ravel()
    ladder = pd.DataFrame({"n_params": N, "flops": C, "loss": 1.69 + 406.4 / N**0.34 + 410.7 / (C / (6 * N))**0.28})
    iso = sl.isoflop(ladder, inputs={"N": "n_params", "C": "flops"}, n_boot=10)
    path = tmp_path_factory.mktemp("iso") / "iso.json"
    iso.save(path)
    return iso, path


# ---- load_isoflop: the same checks as load_fit (a FIFO hung it; errno messages otherwise) ----------
def _call_with_timeout(fn, seconds: float = 10.0):
    out: dict = {}

    def target():
        try:
            out["value"] = fn()
        except BaseException as err:  # noqa: BLE001 - handed to the test
            out["error"] = err

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s (blocked reading?)"
    return out


def test_load_isoflop_of_a_fifo_is_an_error_not_a_hang(tmp_path):
    import scalelaw as sl

    fifo = tmp_path / "iso.json"
    os.mkfifo(fifo)  # open() for reading blocks until a writer comes: forever
    out = _call_with_timeout(lambda: sl.load_isoflop(fifo))
    assert isinstance(out.get("error"), ValueError), out
    assert "iso.json: cannot read a saved IsoFLOP result from it: a FIFO (named pipe)" in str(out["error"])


def test_load_isoflop_of_a_folder_or_missing_file_says_what_it_expected(tmp_path):
    import scalelaw as sl

    with pytest.raises(ValueError, match="is a directory, not a saved IsoFLOP result"):
        sl.load_isoflop(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"nope\.json: no such file \(a result saved with iso\.save"):
        sl.load_isoflop(tmp_path / "nope.json")


def test_load_fit_of_an_isoflop_file_says_which_loader_reads_it(iso_result, capsys):
    import scalelaw as sl
    from scalelaw.cli import main

    _, path = iso_result
    with pytest.raises(ValueError, match=r"a saved IsoFLOP / envelope result .* load it with sl\.load_isoflop"):
        sl.load_fit(path)
    # `scalelaw isoflop -o` writes such a file; `scalelaw predict` on it said only "no 'law' key"
    assert main(["predict", str(path), "--at", "C=1e21"]) == 2
    assert "sl.load_isoflop" in capsys.readouterr().err


# ---- reach: a loss above every prediction read as "never reached" ------------------------------
def test_reach_of_a_loss_above_every_budget_is_an_error_not_unreachable(chin_fit):
    smallest = chin_fit.optimum(C=6.0)["loss"]  # the compute-optimal loss at the smallest budget searched
    below = chin_fit.reach(0.9 * smallest)  # still a root: found, and it reproduces the loss
    assert below["reachable"] and chin_fit.optimum(C=below["C"])["loss"] == pytest.approx(0.9 * smallest)
    # before: {"C": inf, "reachable": False} for a loss that every budget reaches
    with pytest.raises(ValueError, match=r"reach: loss .* is above the compute-optimal loss at every budget.*"
                                         r"C = 6 FLOPs.*every budget reaches it"):
        chin_fit.reach(2 * smallest)
    # a loss below the floor E stays unreachable, as before
    assert chin_fit.reach(0.5 * chin_fit.params["E"]) == {"C": np.inf, "loss": 0.5 * chin_fit.params["E"],
                                                           "reachable": False}


def test_reach_with_one_input_given_and_a_loss_above_every_prediction_is_an_error(chin_fit):
    at_tiny_d = float(chin_fit.predict({"N": 1e7, "D": 1e-6}, warn=False)[0])
    with pytest.raises(ValueError, match=r"reach: loss .* is above the prediction at every D given \{'N': 10000000.0\}"):
        chin_fit.reach(2 * at_tiny_d, N=1e7)


# ---- IsoflopResult.predict: numpy's messages for an empty C or a level outside (0, 1) ------------
@pytest.mark.parametrize("level", [1.5, 95, -0.1, 0, 1, float("nan"), "0.9"])
def test_isoflop_predict_level_outside_0_1_names_level(iso_result, level):
    iso, _ = iso_result
    with pytest.raises(ValueError, match=r"predict: level must be a number in \(0, 1\), e.g. 0.9, got"):
        iso.predict(C=1e19, level=level)


def test_isoflop_predict_of_no_budgets_says_so(iso_result):
    iso, _ = iso_result
    with pytest.raises(ValueError, match=r"predict: C holds no budgets"):
        iso.predict(C=[])


# ---- examples: every script answers --help (two ran instead: an IndexError, a missing-corpus traceback)
EXAMPLES = sorted(p.name for p in (REPO / "examples").glob("*.py") if not p.name.startswith("_"))


def _env() -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    env["SCALELAW_SHARDS"] = "/nonexistent-shards"  # --help must not need (or build) a corpus
    return env


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_example_answers_help(name, tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / "examples" / name), "--help"], cwd=tmp_path, env=_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.startswith("usage:"), proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr


def test_encdec_encoder_step_without_its_corpus_is_one_line_naming_the_build_command(tmp_path):
    pytest.importorskip("torch")
    proc = subprocess.run([sys.executable, str(REPO / "examples" / "encdec_encoder_step.py")], cwd=tmp_path,
                          env=_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert "corpus 'numwords' not found" in proc.stderr and "scalelaw data build" in proc.stderr


# ---- read_logs (and so the app's upload) called a ';'-separated CSV "unrecognised format" -------
CURVES = REPO / "tests" / "fixtures" / "app" / "uploads" / "points.csv"  # 15 runs' final val points


def _comparable(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["run", "step"]).reset_index(drop=True)


def test_read_logs_reads_a_semicolon_csv_like_the_comma_one(tmp_path):
    import scalelaw as sl

    curves = pd.read_csv(CURVES)
    (tmp_path / "semi.csv").write_text(curves.to_csv(index=False, sep=";"), encoding="utf-8-sig")
    want = _comparable(sl.read_logs(CURVES))
    got = _comparable(sl.read_logs(tmp_path / "semi.csv"))
    pd.testing.assert_frame_equal(got[want.columns], want, check_dtype=False)


def test_read_logs_reads_decimal_commas_of_a_semicolon_csv_and_says_so(tmp_path):
    import scalelaw as sl

    curves = pd.read_csv(CURVES)
    curves.loc[3, "loss"] = np.nan  # a logged NaN: still reported as such, not read as a number
    text = curves.to_csv(index=False, sep=";", decimal=",", na_rep="nan")
    (tmp_path / "euro.csv").write_text(text)
    with pytest.warns(sl.ReadLogsWarning) as caught:
        got = _comparable(sl.read_logs(tmp_path / "euro.csv"))
    said = " ".join(str(w.message) for w in caught)
    assert "euro.csv: column(s) loss, n_params, n_tokens, flops, lr use a decimal comma" in said
    assert "not a finite number" in said or "NaN" in said, said  # the NaN row is named, not dropped silently
    want = _comparable(sl.read_logs(CURVES))
    want = want[want["run"] != curves.loc[3, "run"]]
    assert len(got) == len(curves) - 1
    np.testing.assert_allclose(got["loss"].to_numpy(float), want["loss"].to_numpy(float), rtol=1e-12)
    np.testing.assert_allclose(got["n_params"].to_numpy(float), want["n_params"].to_numpy(float))


def test_a_text_file_with_a_stray_semicolon_is_still_not_a_table(tmp_path):
    import scalelaw as sl

    (tmp_path / "notes.txt").write_text("training notes; see below\nthe loss went down\n")
    with pytest.raises(Exception, match="unrecognised format"):
        sl.read_logs(tmp_path / "notes.txt")


def test_app_upload_of_a_semicolon_csv_is_fitted(tmp_path):
    pytest.importorskip("streamlit")
    from streamlit.testing.v1 import AppTest

    curves = pd.read_csv(CURVES)
    sys.path.insert(0, str(REPO / "app"))
    at = AppTest.from_file(str(REPO / "app" / "streamlit_app.py"), default_timeout=120).run()
    at.file_uploader(key="uploads").set_value([("semi.csv", curves.to_csv(index=False, sep=";").encode(), "text/csv")])
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert {m.label: m.value for m in at.metric}["points fitted"] == str(len(curves))


# ---- fit.optimum far beyond the data: a confident N, D, loss with no word of extrapolation -------
def test_optimum_beyond_the_fitted_data_warns_like_predict(chin_fit):
    import scalelaw as sl

    with pytest.warns(sl.ExtrapolationWarning, match=r"optimum: extrapolating: the optimum's N .*x beyond the "
                                                     r"fitted data, D .*x beyond the fitted data"):
        opt = chin_fit.optimum(C=1e24)
    with pytest.warns(sl.ExtrapolationWarning):  # the same point through predict says the same
        assert chin_fit.predict({"N": opt["N"], "D": opt["D"]})[0] == pytest.approx(opt["loss"])
    # inside the fitted box: silent; warn=False (plots, backtests): silent
    N, D = 1e7, 1e9
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        chin_fit.optimum(C=6 * N * D)
        chin_fit.optimum(C=1e24, warn=False)


def test_cli_optimum_prints_the_extrapolation_warning(chin_fit, tmp_path, capsys):
    from scalelaw.cli import main

    path = tmp_path / "fit.json"
    chin_fit.save(path)
    assert main(["optimum", str(path), "--at", "C=1e24"]) == 0
    captured = capsys.readouterr()
    assert "N:" in captured.out
    assert "optimum: extrapolating: the optimum's N" in captured.err



# ---- "24,736" (a thousands separator) got the decimal-comma hint, whose fix reads it as 24.736 ----
def test_thousands_separator_gets_its_own_hint_not_the_decimal_comma_one(tmp_path, capsys):
    import scalelaw as sl
    from scalelaw.cli import main

    df = chinchilla_points().astype({"n_params": object})
    df["n_params"] = [f"{int(v):,}" for v in chinchilla_points()["n_params"]]  # 1,000,000 ...
    with pytest.raises(TypeError, match=r"'1,000,000' at row 0 is not a number \(a thousands separator\?") as err:
        sl.fit("chinchilla", df)
    assert "decimal comma?" not in str(err.value)
    df.loc[0, "n_params"] = "24,736"  # one group: was read as a decimal comma
    with pytest.raises(TypeError, match=r"'24,736' at row 0 is not a number \(a thousands separator\?"):
        sl.fit("chinchilla", df)
    # the same file through the CLI and through read_logs (the app's reader)
    path = tmp_path / "points.csv"
    df.to_csv(path, index=False)
    assert main(["fit", "chinchilla", str(path), "--var", "N=n_params", "--var", "D=n_tokens"]) == 2
    assert "a thousands separator?" in capsys.readouterr().err
    curves = pd.read_csv(CURVES).astype({"n_params": object})
    curves["n_params"] = [f"{int(v):,}" for v in pd.read_csv(CURVES)["n_params"]]
    curves.to_csv(tmp_path / "curves.csv", index=False)
    with pytest.warns(sl.ReadLogsWarning, match=r"column 'n_params' holds 15 value\(s\) that are not numbers: "
                                                r"'200,000'.*\(a thousands separator\? write plain digits"):
        sl.read_logs(tmp_path / "curves.csv")


# ---- fit(..., by=): one group's error did not say which group ------------------------------------
def test_a_failing_group_is_named_in_the_error():
    import scalelaw as sl

    pts = chinchilla_points()
    pts["size"] = np.where(pts["n_params"] >= 1e8, "big", "small")  # "big": one model size only
    with pytest.raises(ValueError, match=r"by: group size='big' \(5 row\(s\)\): input 'N' \(column 'n_params'\) "
                                         r"has 1 distinct value"):
        sl.fit("chinchilla", pts, inputs={"N": "n_params", "D": "n_tokens"}, by="size")


def test_cli_fit_by_names_the_failing_group(tmp_path, capsys):
    from scalelaw.cli import main

    pts = chinchilla_points()
    pts["size"] = np.where(pts["n_params"] >= 1e8, "big", "small")
    pts.to_csv(tmp_path / "p.csv", index=False)
    assert main(["fit", "chinchilla", str(tmp_path / "p.csv"), "--var", "N=n_params", "--var", "D=n_tokens",
                 "--by", "size"]) == 2
    assert "by: group size='big'" in capsys.readouterr().err


def test_grouped_predict_without_a_group_lists_the_groups():
    import scalelaw as sl

    pts = chinchilla_points()
    pts["half"] = np.where(np.arange(len(pts)) % 2 == 0, "even", "odd")
    g = sl.fit("chinchilla", pts, inputs={"N": "n_params", "D": "n_tokens"}, by="half")
    with pytest.raises(TypeError, match=r"a grouped fit \(by='half'\) predicts one group at a time: give group=.*"
                                        r"groups: \['even', 'odd'\]"):
        g.predict({"N": 1e7, "D": 1e9})
    assert g.predict({"N": 1e7, "D": 1e9}, group="odd")[0] == pytest.approx(
        1.69 + 406.4 / 1e7**0.34 + 410.7 / 1e9**0.28, rel=1e-3)


# ---- scalelaw isoflop --envelope ignored --var D= and replaced a mistyped --var C= by 6 N D -------
def test_cli_envelope_takes_the_tokens_column_from_var_d(tmp_path, capsys):
    from scalelaw.cli import main

    pts = pd.read_csv(REPO / "data" / "cpu_decoder_sizes" / "index.csv")[["run", "n_params", "tokens", "final_val_loss"]]
    pts.to_csv(tmp_path / "p.csv", index=False)
    code = main(["isoflop", str(tmp_path / "p.csv"), "--envelope", "--var", "N=n_params", "--var", "D=tokens",
                 "--target", "final_val_loss", "--bootstrap", "0", "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err  # before: "column 'flops' (compute) not found, nor 'n_tokens' (tokens)"
    import json

    res = json.loads(out.out)
    assert any("used C = 6 * n_params * tokens" in w for w in res["warnings"])
    # the envelope's points are runs' (C = 6 N D, loss): each one a row of the table
    C = 6.0 * pts["n_params"] * pts["tokens"]
    for row in res["optima"]:
        match = np.isclose(C, row["C"], rtol=1e-9) & np.isclose(pts["final_val_loss"], row["loss_opt"], rtol=1e-9)
        assert match.any(), row


@pytest.mark.parametrize("flags, message", [
    (["--var", "C=flopz"], r"--var C=flopz: column 'flopz' not found in .*cpu_decoder_sizes; columns are: run, "),
    (["--counted", "flops_with_hed"], r"--counted flops_with_hed: column 'flops_with_hed' not found"),
    (["--var", "X=flops"], r"isoflop --envelope: unknown --var name\(s\) \['X'\]; it takes N, C \(compute\) or D"),
])
def test_cli_envelope_refuses_a_column_or_name_it_would_ignore(flags, message, capsys):
    from scalelaw.cli import main

    assert main(["isoflop", str(REPO / "data" / "cpu_decoder_sizes"), "--envelope", "--bootstrap", "0", *flags]) == 2
    err = capsys.readouterr().err
    assert re.search(message, err), err


def test_cli_backtest_frontier_refuses_a_var_it_would_ignore(capsys):
    from scalelaw.cli import main

    assert main(["isoflop", str(REPO / "data" / "cpu_ladder"), "--split", "val", "--var", "N=n_params",
                 "--var", "C=flops", "--backtest-frontier"]) == 2
    assert "isoflop --backtest-frontier: unknown --var name(s) ['C']; it takes N and D" in capsys.readouterr().err


# ---- predict at N=inf said "must be > 0, got inf" --------------------------------------------------
@pytest.mark.parametrize("value", [np.inf, np.nan])
def test_predict_at_a_non_finite_input_says_finite(chin_fit, value):
    with pytest.raises(ValueError, match=r"input N must be > 0 and finite for law 'chinchilla'"):
        chin_fit.predict({"N": value, "D": 1e9})
    with pytest.raises(ValueError, match=r"input N must be > 0 for law 'chinchilla'.*got -1"):
        chin_fit.predict({"N": -1.0, "D": 1e9})


# ---- CLI errors that named Python keywords (budgets=, tol=, fit.predict(schedule=...)) -------------
def test_cli_isoflop_and_predict_errors_name_the_flags(tmp_path, capsys):
    import scalelaw as sl
    from scalelaw.cli import main

    N, C = np.meshgrid(np.geomspace(3e7, 3e9, 9), [1e18, 1e19])
    pd.DataFrame({"n_params": N.ravel(), "flops": C.ravel(), "loss": 3.0 + 0.01 * np.log(N.ravel()) ** 2}).to_csv(
        tmp_path / "ladder.csv", index=False)
    assert main(["isoflop", str(tmp_path / "ladder.csv"), "--var", "N=n_params", "--var", "C=flops",
                 "--budget", "1e18", "--budget", "5e30"]) == 2
    err = capsys.readouterr().err
    assert "pass --budget C (repeat) or a wider --tol" in err and "budgets=" not in err
    steps = np.arange(1, 201)
    curve = pd.DataFrame({"run": "a", "step": steps, "loss": 3.0 + 2.0 * steps ** -0.5,
                          "schedule": "constant:n_steps=200,peak=1e-3"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one constant schedule: C is not identified, said in the fit's warnings
        fit = sl.fit("lr_annealing", curve, inputs={"step": "step"})
    fit.save(tmp_path / "lr.json")
    assert main(["predict", str(tmp_path / "lr.json"), "--at", "step=100"]) == 2
    err = capsys.readouterr().err
    assert "give --schedule SPEC (not --at)" in err and "fit.predict(" not in err


# ---- a split column with several splits, and a loss mapped to 'val/loss': train rows read as val ---
def _two_split_log(path, order=("val", "train")):
    """One run, steps 1-2, each step logged for both splits (val first): val 3.5, 2.6; train 3.0, 2.0."""
    values = {"val": (3.5, 2.6), "train": (3.0, 2.0)}
    rows = [{"run": "a", "step": step, "split": s, "metric": values[s][i]} for i, step in enumerate((1, 2))
            for s in order]
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("order", [("val", "train"), ("train", "val")])
def test_a_loss_mapped_to_one_split_with_a_split_column_of_several_is_refused(tmp_path, order):
    import scalelaw as sl

    path = _two_split_log(tmp_path / "log.csv", order)
    # before: the split column was dropped, every row read as val, and the repeated steps resolved
    # as a resumed run's (the last kept): with train logged after val, val's losses were train's
    with pytest.raises(ValueError, match=r"log\.csv: column 'split' holds several splits \('train', 'val'\) but "
                                         r"the loss column 'metric' is read as the 'val' loss.*columns=\{'metric': 'loss'\}"):
        sl.read_logs(path, columns={"metric": "val/loss"})
    # the mapping the message gives reads each row's split
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = sl.read_logs(path, columns={"metric": "loss"})
    val = df[df["split"] == "val"].sort_values("step")["loss"].tolist()
    assert val == [3.5, 2.6] and sorted(df["split"].unique()) == ["train", "val"]


def test_a_split_column_of_one_split_still_reads_with_a_split_loss_name(tmp_path):
    import scalelaw as sl

    path = tmp_path / "log.csv"
    pd.DataFrame({"run": "a", "step": [1, 2], "split": "validation", "metric": [3.5, 2.6]}).to_csv(path, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = sl.read_logs(path, columns={"metric": "val/loss"})
    assert df["split"].tolist() == ["val", "val"] and df["loss"].tolist() == [3.5, 2.6]


# ---- a mistyped columns= name: the file's "no loss column" error did not say the mapping missed ------
def test_a_mistyped_mapping_is_named_when_the_loss_is_not_found(tmp_path):
    import scalelaw as sl

    log = REPO / "tests" / "fixtures" / "app" / "uploads" / "no_loss_column.csv"  # its loss is 'final_metric'
    with pytest.raises(ValueError, match=r"no_loss_column\.csv: no loss column; .*columns= names \['final_metrc'\], "
                                         r"which this file does not have"):
        sl.read_logs(log, columns={"final_metrc": "val/loss"})
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "a.csv").write_bytes(log.read_bytes())
    with pytest.raises(ValueError, match=r"no logs could be read: .*columns= names \['final_metrc'\], which this file"):
        sl.read_logs(tmp_path / "runs", columns={"final_metrc": "val/loss"})


# ---- scalelaw isoflop --at C=0 / C=abc: refused only after the profiles and bootstrap were done -------
@pytest.mark.parametrize("at, message", [("C=0", "--at C must be positive FLOPs, got --at C=0"),
                                         ("C=abc", "--at C"), ("N=1e9", "isoflop --at takes the compute")])
def test_cli_isoflop_checks_at_before_reading_or_fitting(tmp_path, capsys, at, message):
    from scalelaw.cli import main

    # the data file does not exist: the --at error must come first (it came after the whole fit)
    assert main(["isoflop", str(tmp_path / "not_there.csv"), "--at", at]) == 2
    err = capsys.readouterr().err
    assert message in err and "no such file" not in err, err


# ---- scalelaw predict --ci 95: the error named 'level', after an extrapolation warning ---------------
@pytest.mark.parametrize("ci", ["95", "0", "1", "1.5", "-0.1", "nan"])
def test_cli_predict_ci_outside_0_1_names_the_flag_first(chin_fit, tmp_path, capsys, ci):
    from scalelaw.cli import main

    path = tmp_path / "fit.json"
    chin_fit.save(path)
    assert main(["predict", str(path), "--at", "N=1e12", "--at", "D=1e13", "--ci", ci]) == 2
    err = capsys.readouterr().err
    assert "error: --ci must be a number in (0, 1), e.g. --ci 0.9" in err, err
    assert "warning" not in err, err


# ---- CLI argument errors worded with the Python keyword (level, bootstrap n, warmup_steps) ----------
@pytest.mark.parametrize("flags, message", [
    (["--level", "95"], "error: --level must be a number in (0, 1), e.g. 0.9, got 95"),
    (["--bootstrap", "1"], "error: --bootstrap N must be an integer >= 2, got 1"),
    (["--warmup-steps", "-5"], "error: --warmup-steps must be an integer >= 0, got -5"),
])
def test_cli_forecast_argument_errors_name_the_flag(capsys, flags, message):
    from scalelaw.cli import main

    log = REPO / "data" / "cpu_schedules" / "sch_d2-32_D4M_cosine_seed0.jsonl"
    assert main(["forecast", str(log), *(["--warmup-steps", "100"] if "--warmup-steps" not in flags else []),
                 *flags]) == 2
    assert message in capsys.readouterr().err


# ---- power_law on a loss that rises: numpy's "divide by zero encountered in log" leaked ---------------
def test_power_law_whose_term_collapses_raises_no_numpy_warning():
    import scalelaw as sl

    x = np.geomspace(1e3, 1e6, 8)
    rising = pd.DataFrame({"x": x, "loss": 1.0 + x / 1e6})  # no fall: the law's term collapses (x0 -> 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        fit = sl.fit("power_law", rising, inputs={"x": "x"})
        pred = fit.predict({"x": [1e4, 1e5]})
    assert any("collapsed" in w for w in fit.warnings), fit.warnings  # said in words, once
    if fit.params["x0"] == 0:
        assert np.allclose(pred, fit.params["L_inf"])


# ---- final points of runs stopped before their schedule's end entered (N, D) fits without a word ------
def _stopped_sweep(tmp_path) -> Path:
    """data/cpu_decoder_sizes with one run cut at a third of its steps (a run killed mid-sweep)."""
    import json
    import shutil

    folder = tmp_path / "sweep"
    shutil.copytree(REPO / "data" / "cpu_decoder_sizes", folder)
    log = folder / "cpu_d_model32_D16M_cos_seed0.jsonl"
    lines = log.read_text().splitlines()
    rows = [json.loads(line) for line in lines[1:]]
    keep = [line for line, row in zip(lines[1:], rows) if row["step"] <= 2500]  # of n_steps=7812
    log.write_text("\n".join([lines[0]] + keep) + "\n")
    return folder


def test_final_points_of_a_run_stopped_mid_schedule_are_named(tmp_path):
    import scalelaw as sl
    from scalelaw.points import UnfinishedRunWarning

    with warnings.catch_warnings():
        warnings.simplefilter("error", UnfinishedRunWarning)  # the bundled, finished sweep: silent
        sl.final_points(sl.read_logs(REPO / "data" / "cpu_decoder_sizes"), split="val")
    df = sl.read_logs(_stopped_sweep(tmp_path))
    with pytest.warns(UnfinishedRunWarning, match=r"final_points: 1 run\(s\) end before their schedule does: "
                                                  r"'cpu_d_model32_D16M_cos_seed0' at step 2500 of 7812"):
        pts = sl.final_points(df, split="val")
    assert len(pts) == 28  # kept (the user decides), and said


def test_cli_and_app_say_a_run_stopped_mid_schedule(tmp_path, capsys):
    from scalelaw.cli import main

    folder = _stopped_sweep(tmp_path)
    assert main(["fit", "chinchilla", str(folder), "--split", "val", "--final-points"]) == 0
    assert "warning: final_points: 1 run(s) end before their schedule does" in capsys.readouterr().err
    pytest.importorskip("streamlit")
    from streamlit.testing.v1 import AppTest

    sys.path.insert(0, str(REPO / "app"))
    at = AppTest.from_file(str(REPO / "app" / "streamlit_app.py"), default_timeout=120).run()
    files = [(p.name, p.read_bytes(), "application/json") for p in sorted(folder.glob("*.jsonl"))]
    at.file_uploader(key="uploads").set_value(files)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = " ".join(w.value for w in at.warning)
    assert "end before their schedule does: 'cpu_d_model32_D16M_cos_seed0' at step 2500 of 7812" in shown, shown


# ---- an output path that is a folder: the suggested file name was fit.json for a plot too -----------
@pytest.mark.parametrize("command, example", [(["plot", "FIT", "-o", "DIR"], "fit.html"),
                                              (["isoflop", "DATA", "--plot", "DIR"], "isoflop.html"),
                                              (["isoflop", "DATA", "-o", "DIR"], "iso.json")])
def test_an_output_folder_gets_a_file_name_of_its_kind(chin_fit, tmp_path, capsys, command, example):
    from scalelaw.cli import main

    chin_fit.save(tmp_path / "fit.json")
    argv = [str(tmp_path / "fit.json") if a == "FIT" else str(tmp_path) if a == "DIR" else
            str(REPO / "data" / "cpu_isoflop") if a == "DATA" else a for a in command]
    assert main(argv) == 2
    assert f"is a directory; give a file name (e.g. '{tmp_path / example}')" in capsys.readouterr().err


# ---- sl.compare(["chinchilla", "power_law"], points) failed: power_law has no input N -----------------
def test_compare_holds_out_the_same_rows_for_a_law_without_the_holdout_input():
    import scalelaw as sl

    pts = chinchilla_points()
    pts["flops"] = 6.0 * pts["n_params"] * pts["n_tokens"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = sl.compare(["chinchilla", "power_law"], pts)  # default holdout ("N", 1/3)
        alone = sl.backtest("power_law", pts, holdout=("n_params", 1 / 3))
    assert table.loc["power_law", "n_heldout"] == table.loc["chinchilla", "n_heldout"] == 10  # 2 of 5 sizes x 5
    assert table.loc["power_law", "mean_rel_err"] == pytest.approx(alone.summary["mean_rel_err"])


# ---- a Windows-1252 CSV (Excel's plain "CSV" with an accent in every row): "binary content" ---------
def test_a_windows_1252_csv_is_named_as_text_in_another_encoding(tmp_path, capsys):
    import scalelaw as sl
    from scalelaw.cli import main

    curves = pd.read_csv(CURVES)
    path = tmp_path / "modèles.csv"
    path.write_bytes(curves.assign(run=curves["run"] + "_modèle").to_csv(index=False).encode("cp1252"))
    with pytest.raises(ValueError, match=r"text that is not UTF-8 .*Windows-1252.*save it as UTF-8"):
        sl.read_logs(path)
    assert main(["fit", "chinchilla", str(path), "--split", "val", "--final-points"]) == 2
    assert "looks like Windows-1252 / Latin-1 text" in capsys.readouterr().err
    # binary data stays "binary content"
    (tmp_path / "blob.dat").write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ValueError, match="binary content"):
        sl.read_logs(tmp_path / "blob.dat")


# ---- --split with a typo: "no rows with split == 'vall'" without the splits there are ---------------
def test_a_split_that_is_not_there_lists_the_splits(capsys):
    from scalelaw.cli import main

    assert main(["fit", "chinchilla", str(REPO / "data" / "cpu_decoder_sizes"), "--split", "vall",
                 "--final-points"]) == 2
    assert "no rows with split == 'vall'; splits are ['train', 'val']" in capsys.readouterr().err
    pytest.importorskip("fastapi")
    from scalelaw.serve.jobs import run_job

    data = (REPO / "data" / "cpu_decoder_sizes" / "cpu_d_model32_D2M_cos_seed0.jsonl").read_bytes()
    answer = run_job({"kind": "fit", "law": "power_law", "inputs": {"x": "step"}, "max_rows": 200_000,
                      "files": [("run.jsonl", data)], "select": {"split": "validation"}})
    assert "splits are ['train', 'val']" in answer["error"]["message"], answer


# ---- sl.envelope(df, x="flopz"): a mistyped compute column silently became 6 N D ---------------------
def test_envelope_with_a_named_compute_column_that_is_absent_is_an_error():
    import scalelaw as sl

    df = sl.read_logs(REPO / "data" / "cpu_decoder_sizes")
    with pytest.raises(KeyError, match=r"envelope: column 'flopz' \(compute, x=\) not found; columns are: run, "):
        sl.envelope(df, x="flopz", n_boot=0)
    # the default stays: no 'flops' column -> C = 6 N D, said in the result's warnings
    env = sl.envelope(df.drop(columns="flops"), n_boot=0)
    assert any("used C = 6 * n_params * n_tokens" in w for w in env.warnings)


# ---- scalelaw optimum of a law with no optimum (dcpt, power_law): a NotImplementedError traceback -----
@pytest.mark.parametrize("law", ["power_law", "dcpt"])
def test_cli_optimum_of_a_law_without_one_is_an_error_line(tmp_path, capsys, law):
    import scalelaw as sl
    from scalelaw.cli import main

    if law == "power_law":
        x = np.geomspace(1e3, 1e6, 8)
        fit = sl.fit("power_law", pd.DataFrame({"x": x, "loss": 1.5 + (1e3 / x) ** 0.3}), inputs={"x": "x"})
    else:
        N, D, r = (a.ravel() for a in np.meshgrid([1e5, 3e5, 1e6], [1e7, 3e7, 1e8, 3e8], [0.1, 0.3, 0.5, 0.9]))
        loss = 1.5 + 30 / N ** 0.3 + 20 * r ** 0.2 / D ** 0.25 + 0.05 / (r + 0.01) ** 0.5
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = sl.fit("dcpt", pd.DataFrame({"N": N, "D": D, "r": r, "loss": loss}),
                         inputs={"N": "N", "D": "D", "r": "r"})
    fit.save(tmp_path / "fit.json")
    assert main(["optimum", str(tmp_path / "fit.json"), "--at", "C=1e20"]) == 2
    err = capsys.readouterr().err
    assert f"scalelaw optimum: error: law '{law}' has no optimum (chinchilla and kaplan_nd take C=" in err, err
    assert "Traceback" not in err
    if law == "dcpt":
        assert "sl.mixture_optimum" in err


# ---- scalelaw optimum: --schedule-family on a non-schedule fit, --at n_steps= without it -----------
def test_cli_optimum_schedule_questions_say_what_they_need(chin_fit, tmp_path, capsys):
    from scalelaw.cli import main

    chin_fit.save(tmp_path / "fit.json")
    assert main(["optimum", str(tmp_path / "fit.json"), "--schedule-family", "wsd", "--at", "n_steps=100"]) == 2
    err = capsys.readouterr().err
    assert "--schedule-family is for schedule laws (lr_annealing, multi_power); " in err and "chinchilla fit" in err
    steps = np.arange(1, 201)
    curve = pd.DataFrame({"run": "a", "step": steps, "loss": 3.0 + 2.0 * steps ** -0.5,
                          "schedule": "constant:n_steps=200,peak=1e-3"})
    import scalelaw as sl

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sl.fit("lr_annealing", curve, inputs={"step": "step"}).save(tmp_path / "lr.json")
    assert main(["optimum", str(tmp_path / "lr.json"), "--at", "n_steps=100"]) == 2
    assert "--at n_steps= is the step budget of the best schedule: add --schedule-family" in capsys.readouterr().err


def test_cli_report_names_the_by_flag_for_one_schedule_fit_per_size(tmp_path, capsys):
    from scalelaw.cli import main

    steps = np.arange(1, 101)
    rows = [pd.DataFrame({"run": f"r{n}", "step": steps, "split": "val", "n_params": n,
                          "loss": (3.0 + 2.0 * steps ** -0.5) * (1 - 0.1 * i),
                          "schedule": "constant:n_steps=100,peak=1e-3"}) for i, n in enumerate((1e5, 1e6))]
    pd.concat(rows).to_csv(tmp_path / "two_sizes.csv", index=False)
    main(["fit", "lr_annealing", str(tmp_path / "two_sizes.csv"), "--split", "val"])
    out = capsys.readouterr().out
    assert "fit each size on its own (--by n_params)" in out and "by='n_params'" not in out, out


# ---- bytes_per_token=0 / -2 / nan: every loss 0, negative, or "no usable rows" ------------------------
@pytest.mark.parametrize("bpt", [0, -2, float("nan"), "four", True])
def test_bytes_per_token_must_be_a_positive_number(tmp_path, bpt):
    import scalelaw as sl

    (tmp_path / "bpb.csv").write_text("step,loss_bpb\n1,1.5\n2,1.2\n3,1.1\n")
    with pytest.raises(ValueError, match=r"bytes_per_token must be a finite number > 0 \(1 for a byte-level model"):
        sl.read_logs(tmp_path / "bpb.csv", loss_unit="bits_per_byte", bytes_per_token=bpt)
    df = sl.read_logs(tmp_path / "bpb.csv", loss_unit="bits_per_byte", bytes_per_token=4)
    assert df["loss"].tolist() == pytest.approx([v * 4 * np.log(2) for v in (1.5, 1.2, 1.1)])


# ---- read_logs(batch_size=0 / -4 / 1.5): n_tokens 0, negative or fractional, silently -----------------
@pytest.mark.parametrize("kwargs, message", [
    (dict(batch_size=0, seq_len=128), "batch_size for run 'bs' must be a whole number >= 1, got 0"),
    (dict(batch_size=-4, seq_len=128), "batch_size for run 'bs' must be a whole number >= 1, got -4"),
    (dict(batch_size=1.5, seq_len=128), "batch_size for run 'bs' must be a whole number >= 1, got 1.5"),
    (dict(batch_size=8, seq_len=float("nan")), "seq_len for run 'bs' must be a whole number >= 1, got nan"),
    (dict(metadata={"tokens_per_step": 0}), "tokens_per_step for run 'bs' must be a finite number > 0, got 0"),
])
def test_user_given_batch_facts_must_be_positive(tmp_path, kwargs, message):
    import scalelaw as sl

    (tmp_path / "bs.csv").write_text("step,loss\n1,3.0\n2,2.5\n3,2.2\n")
    with pytest.raises(ValueError, match=re.escape(message)):
        sl.read_logs(tmp_path / "bs.csv", **kwargs)
    assert sl.read_logs(tmp_path / "bs.csv", batch_size=8, seq_len=128)["n_tokens"].tolist() == [1024, 2048, 3072]


# ---- schedules: n_steps=1e12 (a MemoryError that crashed the app), inf (OverflowError), 1000.7 (truncated)
@pytest.mark.parametrize("spec, message", [
    ("cosine:n_steps=1e12,peak=1e-3", "n_steps must be at most 100,000,000"),
    ("wsd:n_steps=1e9,peak=1e-3", "n_steps must be at most 100,000,000"),
    ("cosine:n_steps=inf,peak=1e-3", "bad value for 'n_steps': 'inf' (n_steps must be a whole number)"),
    ("cosine:n_steps=1000.7,peak=1e-3", "bad value for 'n_steps': '1000.7' (n_steps must be a whole number)"),
    ("cosine:n_steps=1000,peak=1e-3,warmup=2.5", "bad value for 'warmup': '2.5' (warmup must be a whole number)"),
])
def test_schedule_specs_that_cannot_be_built_are_errors(spec, message):
    from scalelaw.schedules import from_spec

    with pytest.raises(ValueError, match=re.escape(message)):
        from_spec(spec)
    assert len(from_spec("cosine:n_steps=1e3,peak=1e-3,warmup=20")) == 1000


def test_app_forecast_panel_with_a_huge_schedule_says_so():
    pytest.importorskip("streamlit")
    from streamlit.testing.v1 import AppTest

    sys.path.insert(0, str(REPO / "app"))
    at = AppTest.from_file(str(REPO / "app" / "streamlit_app.py"), default_timeout=120).run()
    at.text_input(key="forecast::bundled:cpu_ladder::spec").input("cosine:n_steps=1e12,peak=1e-3")
    next(b for b in at.button if b.label == "Forecast").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]  # was numpy's "Unable to allocate 7.28 TiB"
    assert any("planned schedule: n_steps must be at most 100,000,000" in e.value for e in at.error)


# ---- schedules= naming a run that is not in the data was dropped without a word ------------------------
@pytest.mark.parametrize("law", ["lr_annealing", "multi_power"])
def test_a_schedule_for_a_run_not_in_the_data_is_named(law):
    import scalelaw as sl

    steps = np.arange(1, 201)
    df = pd.concat([pd.DataFrame({"run": r, "step": steps, "loss": 3 + 2 * steps ** -0.5 - k * 0.001 * steps / 200})
                    for k, r in enumerate(["a", "b"])])
    schedules = {"a": "constant:n_steps=200,peak=1e-3", "b": "cosine:n_steps=200,peak=1e-3",
                 "c": "cosine:n_steps=200,peak=1e-3"}  # 'c': a typo, or its rows were filtered away
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = sl.fit(law, df, inputs={"step": "step"}, schedules=schedules)
    assert "schedules names run(s) ['c'] that are not in the data (runs: ['a', 'b']); their schedules were " \
           "not used" in fit.warnings


# ---- -o naming the input file replaced the user's data with the result ---------------------------------
def test_an_output_that_is_the_input_file_is_refused_and_the_data_kept(chin_fit, tmp_path, capsys):
    from scalelaw.cli import main

    data = tmp_path / "points.csv"
    chinchilla_points().to_csv(data, index=False)
    original = data.read_bytes()
    chin_fit.save(tmp_path / "fit.json")
    fit_bytes = (tmp_path / "fit.json").read_bytes()
    runs = [
        ["fit", "chinchilla", str(data), "--var", "N=n_params", "--var", "D=n_tokens", "-o", str(data)],
        ["plot", str(tmp_path / "fit.json"), str(data), "-o", str(data)],
        ["plot", str(tmp_path / "fit.json"), "-o", str(tmp_path / "." / "fit.json")],
        ["isoflop", str(data), "--var", "N=n_params", "--var", "D=n_tokens", "-o", str(data)],
    ]
    for argv in runs:
        assert main(argv) == 2, argv
        assert "is the input file" in capsys.readouterr().err
    assert data.read_bytes() == original and (tmp_path / "fit.json").read_bytes() == fit_bytes
    assert main(["isoflop", str(data), "--var", "N=n_params", "--var", "D=n_tokens", "-o", str(tmp_path / "x"),
                 "--plot", str(tmp_path / "x")]) == 2
    assert "-o and --plot name the same file" in capsys.readouterr().err


# ---- forecast --prior of a grouped fit: AttributeError traceback ('GroupedFit' object has no attribute 'law')
def test_forecast_with_a_grouped_prior_says_to_pick_a_group(tmp_path, capsys):
    import scalelaw as sl
    from scalelaw.cli import main

    pts = chinchilla_points()
    pts["half"] = np.where(np.arange(len(pts)) % 2 == 0, "even", "odd")
    grouped = sl.fit("chinchilla", pts, inputs={"N": "n_params", "D": "n_tokens"}, by="half")
    grouped.save(tmp_path / "g.json")
    log = REPO / "data" / "cpu_schedules" / "sch_d2-32_D4M_cosine_seed0.jsonl"
    assert main(["forecast", str(log), "--prior", str(tmp_path / "g.json")]) == 2
    err = capsys.readouterr().err
    assert "prior is a grouped fit (one fit per 'half': ['even', 'odd'])" in err and "Traceback" not in err
    curve = sl.read_logs(log)
    with pytest.raises(TypeError, match="prior must be a FitResult of a schedule law"):
        sl.forecast(curve[curve["split"] == "val"], schedule="cosine:n_steps=1953,peak=1e-2", prior="fit.json")


# ---- read_logs(a DataFrame): "run: no such file or directory" (its column names read as paths) ---------
@pytest.mark.parametrize("arg, message", [
    (pd.DataFrame({"run": ["a"], "step": [1], "loss": [3.0]}), "this is a DataFrame, already a table"),
    (None, "read_logs takes a path, a glob, a folder, a file object or a list of them; got NoneType"),
    (5, "got int"),
    ({"a.csv": 1}, "got dict"),
])
def test_read_logs_of_something_that_is_not_files_says_what_it_takes(arg, message):
    import scalelaw as sl

    with pytest.raises(TypeError, match=re.escape(message)):
        sl.read_logs(arg)
