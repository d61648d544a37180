"""A tester's malformed inputs to the CLI, ``sl.fit`` and the service: each gets a clear message
naming the file, column, flag or field, or a warning that says what was skipped; never a
traceback, a silent drop or a silent wrong answer.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from scalelaw.cli import main

INPUTS = ["--var", "N=n_params", "--var", "D=n_tokens"]


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def grid_csv(tmp_path, chinchilla_grid):
    path = tmp_path / "points.csv"
    chinchilla_grid.drop(columns="run").to_csv(path, index=False)
    return path


def _fit_json(capsys, path):
    code, out, err = run(capsys, "fit", "chinchilla", path, *INPUTS, "--json")
    assert code == 0, err
    return json.loads(out), err


# ---- plain tables the CLI and the service read (one shared reader) ---------------------------
def test_plain_jsonl_cut_off_mid_line_skips_that_line_and_names_it(tmp_path, capsys, chinchilla_grid):
    text = chinchilla_grid.drop(columns="run").to_json(orient="records", lines=True)
    path = tmp_path / "points.jsonl"
    path.write_text(text.rstrip("\n")[:-20])  # the last row cut off mid-write
    res, err = _fit_json(capsys, path)
    assert f"points.jsonl: line(s) {len(chinchilla_grid)} are not one JSON object each" in err
    assert res["n_points"] == len(chinchilla_grid) - 1


def test_plain_jsonl_with_a_garbage_line_in_the_middle(tmp_path, capsys, chinchilla_grid):
    lines = chinchilla_grid.drop(columns="run").to_json(orient="records", lines=True).splitlines()
    path = tmp_path / "points.jsonl"
    path.write_text("\n".join(lines[:3] + ["{oops", "[1, 2]"] + lines[3:]) + "\n")
    res, err = _fit_json(capsys, path)
    assert "points.jsonl: line(s) 4, 5 are not one JSON object each" in err
    assert res["n_points"] == len(chinchilla_grid)


def test_empty_plain_jsonl_names_the_file(tmp_path, capsys):
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    code, _, err = run(capsys, "fit", "chinchilla", path, *INPUTS)
    assert code == 2 and "empty.jsonl: empty file" in err and "Traceback" not in err


@pytest.mark.parametrize("suffix, sep", [(".tsv", "\t"), (".csv", ";")])
def test_bom_and_other_separators_read_like_a_plain_csv(tmp_path, capsys, chinchilla_grid, suffix, sep):
    path = tmp_path / f"points{suffix}"
    path.write_text(chinchilla_grid.drop(columns="run").to_csv(index=False, sep=sep), encoding="utf-8-sig")
    res, _ = _fit_json(capsys, path)
    assert res["n_points"] == len(chinchilla_grid) and abs(res["params"]["E"] - 1.69) < 0.05


def _upload(name, data, **extra):
    from scalelaw.serve.jobs import run_job

    job = {"kind": "fit", "law": "chinchilla", "inputs": {"N": "n_params", "D": "n_tokens"}, "files": [(name, data)],
           "max_rows": 200_000, **extra}
    return run_job(job)


@pytest.fixture
def grid_bytes(chinchilla_grid):
    return chinchilla_grid.drop(columns="run").to_csv(index=False).encode()


def test_service_upload_with_a_byte_order_mark_is_read(grid_bytes, chinchilla_grid):
    pytest.importorskip("fastapi")
    answer = _upload("points.csv", b"\xef\xbb\xbf" + grid_bytes)
    assert "ok" in answer, answer
    assert answer["ok"]["summary"]["n_points"] == len(chinchilla_grid)


def test_service_upload_of_an_empty_file_is_a_400_naming_it():
    pytest.importorskip("fastapi")
    answer = _upload("empty.csv", b"")
    assert answer["error"]["status"] == 400, answer
    assert "empty.csv: empty file" in answer["error"]["message"]


def test_service_upload_with_undecodable_lines_says_which_were_skipped(grid_bytes, chinchilla_grid):
    pytest.importorskip("fastapi")
    lines = grid_bytes.split(b"\n")
    answer = _upload("points.csv", b"\n".join(lines[:2] + [b"\xff\xfe,\x80"] + lines[2:]))
    assert "ok" in answer, answer
    assert any("points.csv: line(s) 3 are not UTF-8 text; skipped" in n for n in answer["ok"]["notes"])
    assert answer["ok"]["summary"]["n_points"] == len(chinchilla_grid)


def test_service_upload_of_a_cut_off_plain_jsonl(chinchilla_grid):
    pytest.importorskip("fastapi")
    text = chinchilla_grid.drop(columns="run").to_json(orient="records", lines=True).rstrip("\n")[:-20]
    answer = _upload("points.jsonl", text.encode())
    assert "ok" in answer, answer
    assert any("points.jsonl: line(s)" in n and "cut off" in n for n in answer["ok"]["notes"])
    assert answer["ok"]["summary"]["n_points"] == len(chinchilla_grid) - 1


# ---- repeated NAME=VALUE flags: the later one used to win silently ---------------------------
@pytest.fixture
def saved_fit(tmp_path, capsys, grid_csv):
    path = tmp_path / "fit.json"
    code, _, err = run(capsys, "fit", "chinchilla", grid_csv, *INPUTS, "-o", path)
    assert code == 0, err
    return path


@pytest.mark.parametrize("flags, message", [
    (["--var", "N=n_params", "--var", "N=n_tokens"], "--var N given twice (N=n_params and N=n_tokens)"),
    (INPUTS + ["--fix", "E=1.5", "--fix", "E=2"], "--fix E given twice (E=1.5 and E=2)"),
])
def test_fit_flag_given_twice_is_an_error(capsys, grid_csv, flags, message):
    code, out, err = run(capsys, "fit", "chinchilla", grid_csv, *flags)
    assert code == 2 and message in err and out == ""


def test_predict_at_given_twice_is_an_error_that_shows_the_comma_form(capsys, saved_fit):
    code, out, err = run(capsys, "predict", saved_fit, "--at", "N=1e9", "--at", "D=1e10", "--at", "N=2e9")
    assert code == 2 and out == ""
    assert "--at N given twice (N=1e9 and N=2e9)" in err and "--at N=V1,V2" in err


def test_optimum_at_given_twice_is_an_error(capsys, saved_fit):
    code, out, err = run(capsys, "optimum", saved_fit, "--at", "C=1e21", "--at", "C=1e22")
    assert code == 2 and "--at C given twice" in err and out == ""


def test_isoflop_at_takes_only_c(tmp_path, capsys):
    path = tmp_path / "iso.csv"
    rows = [dict(n_params=n, flops=c, loss=1.7 + 400 / n ** 0.34 + 410 / (c / (6 * n)) ** 0.28)
            for c in (1e15, 1e16, 1e17) for n in np.geomspace(c ** 0.5 / 100, c ** 0.5 / 2, 6)]
    pd.DataFrame(rows).to_csv(path, index=False)
    code, out, err = run(capsys, "isoflop", path, "--var", "N=n_params", "--var", "C=flops", "--bootstrap", "0",
                         "--at", "N=5e7")
    assert code == 2 and "isoflop --at takes the compute: --at C=VALUE" in err and "--at N=5e7" in err


# ---- optimum --level: was accepted whatever its value and ignored outside --schedule-family ---
def test_optimum_level_outside_0_1_is_an_error(capsys, saved_fit):
    code, _, err = run(capsys, "optimum", saved_fit, "--at", "C=1e21", "--level", "2")
    assert code == 2 and "--level must be a number in (0, 1)" in err and "got 2.0" in err


def test_optimum_level_without_schedule_family_says_it_does_nothing(capsys, saved_fit):
    code, out, err = run(capsys, "optimum", saved_fit, "--at", "C=1e21", "--level", "0.8")
    assert code == 2 and "--level sets the interval of --schedule-family" in err and out == ""
    code, out, err = run(capsys, "optimum", saved_fit, "--at", "C=1e21", "--json")
    assert code == 0 and json.loads(out)["C"] == 1e21


# ---- plot DATA: a bare KeyError ("error: n_tokens") and logs' step-0 rows ---------------------
def test_plot_data_missing_a_column_names_file_and_column(tmp_path, capsys, saved_fit, chinchilla_grid):
    path = tmp_path / "renamed.csv"
    chinchilla_grid.rename(columns={"n_tokens": "tokens"}).to_csv(path, index=False)
    code, _, err = run(capsys, "plot", saved_fit, path, "-o", tmp_path / "fit.html")
    assert code == 2
    assert "renamed.csv: column 'n_tokens' (input D) not found in the data; columns are: run, n_params, tokens" in err
    assert not (tmp_path / "fit.html").exists()


def test_plot_of_a_log_selects_points_like_fit(tmp_path, capsys, chinchilla_grid):
    # a log: each run's curve from step 0 (D = 0: no law value there) to its last step
    rows = []
    for run_name, n, d, loss in chinchilla_grid.itertuples(index=False):
        for frac, extra in ((0.0, 2.0), (0.5, 0.3), (1.0, 0.0)):
            rows.append(dict(run=run_name, step=int(frac * 100), split="val", n_params=n, n_tokens=d * frac,
                             loss=loss + extra))
    log = tmp_path / "log.csv"
    pd.DataFrame(rows).to_csv(log, index=False)
    fit = tmp_path / "fit.json"
    assert run(capsys, "fit", "chinchilla", log, *INPUTS, "--split", "val", "--final-points", "-o", fit)[0] == 0
    code, _, err = run(capsys, "plot", fit, log, "-o", tmp_path / "a.html")
    assert code == 2 and "log.csv: column 'n_tokens' (input D) must be > 0" in err
    assert "--split val --final-points" in err
    code, out, err = run(capsys, "plot", fit, log, "--split", "val", "--final-points", "-o", tmp_path / "b.html")
    assert code == 0, err
    assert (tmp_path / "b.html").stat().st_size > 1000


# ---- duplicated rows: each copy is another term of the summed objective -----------------------
def test_exactly_repeated_rows_are_named_in_the_warnings(chinchilla_grid):
    import scalelaw as sl

    twice = pd.concat([chinchilla_grid, chinchilla_grid.iloc[:5]], ignore_index=True)
    fit = sl.fit("chinchilla", twice)
    note = [w for w in fit.warnings if "repeat an earlier row exactly" in w]
    assert note and note[0].startswith("5 row(s)") and f"rows {list(range(64, 69))}" in note[0]
    assert fit.n_points == len(twice)  # nothing is dropped: the user decides
    # repeated seeds (same N, D; a different loss or run) are data, not duplicates
    seeds = pd.concat([chinchilla_grid, chinchilla_grid.assign(run=lambda d: d.run + "_s1")], ignore_index=True)
    assert not any("repeat an earlier row" in w for w in sl.fit("chinchilla", seeds).warnings)


def test_duplicated_rows_in_a_csv_show_in_fit_json(tmp_path, capsys, chinchilla_grid):
    path = tmp_path / "twice.csv"
    pd.concat([chinchilla_grid, chinchilla_grid]).to_csv(path, index=False)
    res, _ = _fit_json(capsys, path)
    assert any(w.startswith(f"{len(chinchilla_grid)} row(s) repeat an earlier row exactly") for w in res["warnings"])


# ---- sl.fit and the result: API misuse gets a message, not an AttributeError or a NaN ----------
@pytest.mark.parametrize("kwargs, message", [
    (dict(fixed=["E"]), "fixed must be a dict parameter name -> value, got list"),
    (dict(bounds=[(0, 1)]), r"bounds must be a dict parameter name -> \(min, max\), got list"),
])
def test_fixed_and_bounds_must_be_dicts(chinchilla_grid, kwargs, message):
    import scalelaw as sl

    with pytest.raises(TypeError, match=message):
        sl.fit("chinchilla", chinchilla_grid, **kwargs)


def test_by_rows_without_a_group_are_named_not_silently_dropped(chinchilla_grid):
    import scalelaw as sl

    df = chinchilla_grid.assign(g=["a", "b"] * 32)
    df.loc[[3, 10], "g"] = np.nan
    with pytest.warns(UserWarning, match=r"by: 2 row\(s\) have no value in column 'g' \(NaN/empty\), e.g. rows "
                                         r"\[3, 10\]: they belong to no group and were not fitted"):
        grouped = sl.fit("chinchilla", df, by="g")
    assert sorted(grouped.keys()) == ["a", "b"] and sum(r.n_points for r in grouped.values()) == 62
    with pytest.raises(ValueError, match="by: column 'g' has no values"):
        sl.fit("chinchilla", df.assign(g=np.nan), by="g")


def test_predict_at_no_points_is_an_empty_answer(chinchilla_grid):
    import scalelaw as sl

    fit = sl.fit("chinchilla", chinchilla_grid)
    out = fit.predict({"N": np.array([]), "D": np.array([])})
    assert isinstance(out, np.ndarray) and out.shape == (0,)


@pytest.mark.parametrize("law, key, value", [("chinchilla", "C", np.nan), ("chinchilla", "C", np.inf),
                                             ("kaplan_nd", "C", np.nan), ("encdec", "budget", np.inf)])
def test_optimum_at_a_non_finite_budget_is_an_error_not_nan(law, key, value):
    from scalelaw.laws import get_law

    f = get_law(law)
    params = {p.name: 0.3 for p in f.params}  # the budget is checked before any parameter is used
    with pytest.raises(ValueError, match=rf"optimum: {key} must be a finite number > 0"):
        f.optimum(params, {}, **{key: value})


def test_compare_with_no_laws_says_so(chinchilla_grid):
    import scalelaw as sl

    with pytest.raises(ValueError, match="compare: give at least one law name"):
        sl.compare([], chinchilla_grid)


# ---- a law over (N, D) given every checkpoint of each run --------------------------------------
def test_several_checkpoints_per_run_for_an_n_d_law_are_named(chinchilla_grid):
    import scalelaw as sl

    # each run logged at half and all of its tokens: the half-way rows are not final points
    curves = pd.concat([chinchilla_grid.assign(step=50, n_tokens=chinchilla_grid.n_tokens / 2,
                                               loss=chinchilla_grid.loss + 0.2),
                        chinchilla_grid.assign(step=100)], ignore_index=True)
    fit = sl.fit("chinchilla", curves)
    note = [w for w in fit.warnings if "contribute several rows" in w]
    assert note and note[0].startswith(f"{len(chinchilla_grid)} of {len(chinchilla_grid)} run(s)")
    assert "sl.final_points(df, split='val')" in note[0]
    final = sl.final_points(curves, split=None)
    assert len(final) == len(chinchilla_grid)
    assert not any("contribute several rows" in w for w in sl.fit("chinchilla", final).warnings)


@pytest.mark.parametrize("command", ["fit", "isoflop"])
def test_cli_on_training_curves_with_step_0_rows_says_how_to_select_points(tmp_path, capsys, chinchilla_grid,
                                                                           command):
    rows = []
    for run_name, n, d, loss in chinchilla_grid.itertuples(index=False):
        for step, frac in ((0, 0.0), (100, 1.0)):  # step 0: no tokens seen, no FLOPs spent yet
            rows.append(dict(run=run_name, step=step, split="val", n_params=n, n_tokens=d * frac,
                             flops=6 * n * d * frac, loss=loss + (2.0 if step == 0 else 0.0)))
    log = tmp_path / "curves.csv"
    pd.DataFrame(rows).to_csv(log, index=False)
    flags = INPUTS if command == "fit" else ["--var", "N=n_params", "--var", "C=flops", "--bootstrap", "0"]
    code, out, err = run(capsys, command, *(["chinchilla"] if command == "fit" else []), log, *flags)
    assert code == 2 and "must be > 0" in err
    assert "curves.csv holds training curves (run, step): select one point per run, e.g. --split val " \
           "--final-points" in err


# ---- the service, live: uploads of awkward files through sl.Client ------------------------------
@pytest.fixture(scope="module")
def live_client(tmp_path_factory):
    """``python -m scalelaw serve`` on a free loopback port (the pattern of test_serve_live.py)."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time
    import urllib.request
    from pathlib import Path

    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    import scalelaw as sl

    root = tmp_path_factory.mktemp("audit_serve")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    repo = Path(__file__).resolve().parents[1]
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("SCALELAW_")}, "PYTHONPATH": str(repo),
           "OMP_NUM_THREADS": "1"}
    log = root / "server.log"
    proc = subprocess.Popen([sys.executable, "-m", "scalelaw", "serve", "--port", str(port), "--store",
                             str(root / "store"), "--log-level", "warning"], cwd=repo, env=env,
                            stdout=open(log, "ab"), stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, log.read_text()[-2000:]
            assert time.monotonic() < deadline, "server not ready in 90 s: " + log.read_text()[-2000:]
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=2) as r:
                    if json.load(r)["fit_workers_ready"] >= 1:
                        break
            except OSError:
                pass
            time.sleep(0.2)
        yield sl.Client(url, timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=20)


@pytest.mark.slow
def test_live_uploads_bom_cut_off_and_empty_files(live_client, tmp_path, chinchilla_grid):
    from scalelaw.client import ServiceError

    table = chinchilla_grid.drop(columns="run")
    bom = tmp_path / "bom.csv"
    bom.write_text(table.to_csv(index=False), encoding="utf-8-sig")
    fit = live_client.fit("chinchilla", str(bom), inputs={"N": "n_params", "D": "n_tokens"})
    assert fit.n_points == len(table) and abs(fit.params["E"] - 1.69) < 0.05

    cut = tmp_path / "cut.jsonl"
    cut.write_text(table.to_json(orient="records", lines=True).rstrip("\n")[:-20])
    with pytest.warns(UserWarning, match=rf"cut.jsonl: line\(s\) {len(table)} are not one JSON object each"):
        fit = live_client.fit("chinchilla", str(cut), inputs={"N": "n_params", "D": "n_tokens"})
    assert fit.n_points == len(table) - 1 and any("cut off" in n for n in fit.notes)

    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ServiceError, match="empty.csv: empty file") as err:
        live_client.fit("chinchilla", str(empty), inputs={"N": "n_params", "D": "n_tokens"})
    assert err.value.status == 400


# ---- schedule laws from the CLI: --warmup-steps reached lr_annealing only ---------------------
@pytest.fixture(scope="module")
def two_schedules(tmp_path_factory):
    import warnings
    from pathlib import Path

    import scalelaw as sl

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = sl.read_logs(Path(__file__).resolve().parents[1] / "data" / "cpu_schedules")
    df = df[(df.split == "val") & df.run.str.contains("d2-32_D4M_(?:constant|cosine)_") & (df.step >= 101)]
    path = tmp_path_factory.mktemp("mp") / "two.csv"
    df.to_csv(path, index=False)
    return path, df


def test_fit_multi_power_uses_warmup_steps(capsys, two_schedules):
    import scalelaw as sl

    path, df = two_schedules
    code, out, err = run(capsys, "fit", "multi_power", path, "--warmup-steps", "100", "--json")
    assert code == 0, err
    cli = json.loads(out)["params"]
    lib = sl.fit("multi_power", df, inputs={"step": "step"}, warmup_steps=100).params
    assert cli == pytest.approx(lib, rel=1e-9)
    # the flag's value reaches the fit (it was dropped: every value gave the warmup_steps=0 fit)
    code, out, err = run(capsys, "fit", "multi_power", path, "--warmup-steps", "1000", "--json")
    assert code == 0, err
    assert json.loads(out)["params"]["A"] != pytest.approx(cli["A"], rel=1e-3)


def test_fit_flag_a_law_does_not_take_is_an_error(capsys, grid_csv):
    code, _, err = run(capsys, "fit", "chinchilla", grid_csv, *INPUTS, "--warmup-steps", "5")
    assert code == 2 and "law 'chinchilla' got unknown option(s) warmup_steps" in err


def test_a_parameter_that_ran_off_to_infinity_is_named(two_schedules):
    import scalelaw as sl

    _, df = two_schedules
    with np.errstate(over="ignore"):
        fit = sl.fit("multi_power", df, inputs={"step": "step"}, warmup_steps=1000)
    # since the floor polish (session 11) these data keep every parameter finite; the invariant
    # stays: a parameter that runs off to infinity is named, never returned silently
    bad = [k for k, v in fit.params.items() if not np.isfinite(v)]
    for name in bad:
        assert any(w.startswith(f"parameter {name} = inf ran off to infinity") for w in fit.warnings), fit.warnings


# ---- scalelaw serve: a port uvicorn cannot bind was reported as "running" ---------------------
@pytest.mark.parametrize("kwargs, message", [(dict(port=99999), "--port must be an integer in 1..65535, got 99999"),
                                             (dict(port=0), "--port must be an integer in 1..65535, got 0"),
                                             (dict(workers=0), "--workers must be an integer >= 1, got 0")])
def test_serve_rejects_a_port_or_workers_out_of_range(tmp_path, kwargs, message):
    pytest.importorskip("uvicorn")
    from scalelaw.serve import serve

    with pytest.raises(SystemExit, match=message.replace(".", r"\.")):
        serve(store=str(tmp_path / "store"), **kwargs)


# ---- a request too large for memory (predict --schedule cosine:n_steps=1e12) --------------------
def test_cli_out_of_memory_is_an_error_line_not_a_traceback(monkeypatch, capsys):
    from scalelaw import _cli_commands

    def too_big(args):  # what numpy raises for a schedule of 1e12 steps (allocating it for real could OOM)
        raise MemoryError("Unable to allocate 7.28 TiB for an array with shape (1000000000000,)")

    monkeypatch.setattr(_cli_commands, "cmd_laws", too_big)
    code, out, err = run(capsys, "laws")
    assert code == 2 and out == ""
    assert err.startswith("scalelaw laws: error: out of memory (") and "ask for less" in err
    assert "Traceback" not in err


# ---- decimal commas (European spreadsheet exports) ----------------------------------------------
def test_semicolon_csv_with_decimal_commas_is_read_as_numbers_and_said(tmp_path, capsys, chinchilla_grid):
    path = tmp_path / "euro.csv"
    path.write_text(chinchilla_grid.drop(columns="run").to_csv(index=False, sep=";", decimal=","))
    res, err = _fit_json(capsys, path)
    assert "euro.csv: column(s) n_params, n_tokens, loss use a decimal comma" in err
    assert res["n_points"] == len(chinchilla_grid) and abs(res["params"]["E"] - 1.69) < 0.05


def test_decimal_comma_text_in_a_frame_gets_a_hint(chinchilla_grid):
    import scalelaw as sl

    df = chinchilla_grid.astype({"loss": object})
    df.loc[2, "loss"] = "3,25"
    with pytest.raises(TypeError, match=r"'3,25' at row 2 is not a number \(a decimal comma\?"):
        sl.fit("chinchilla", df)


# ---- a saved fit read from something that is not a file -------------------------------------------
def test_load_fit_from_a_fifo_or_device_is_an_error_not_a_hang(tmp_path, capsys):
    import os

    import scalelaw as sl

    fifo = tmp_path / "fit.json"
    os.mkfifo(fifo)  # open() for reading would block until a writer comes: forever
    with pytest.raises(ValueError, match=r"fit.json: cannot read a saved fit from it: a FIFO \(named pipe\)"):
        sl.load_fit(fifo)
    # /dev/zero: json.load would read until the memory is gone
    code, out, err = run(capsys, "predict", "/dev/zero", "--at", "N=1e9", "--at", "D=1e10")
    assert code == 2 and "/dev/zero: cannot read a saved fit from it: a device, not a regular file" in err
    code, out, err = run(capsys, "predict", tmp_path / "nope.json", "--at", "N=1e9")
    assert code == 2 and "nope.json: no such file" in err


# ---- isoflop predictions far beyond the budgets: fit.predict warns, iso.predict did not ------------
def test_isoflop_predict_beyond_the_largest_budget_warns_how_far():
    import warnings

    import scalelaw as sl
    from scalelaw.result import ExtrapolationWarning

    rows = [dict(n_params=n, flops=c, loss=1.7 + 400 / n ** 0.34 + 410 / (c / (6 * n)) ** 0.28)
            for c in (1e15, 1e16, 1e17) for n in np.geomspace(c ** 0.5 / 100, c ** 0.5 / 2, 6)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        iso = sl.isoflop(pd.DataFrame(rows), inputs={"N": "n_params", "C": "flops"}, n_boot=0)
    with pytest.warns(ExtrapolationWarning, match=r"extrapolating: C 1e\+04x beyond the largest fitted budget"):
        iso.predict(C=1e21)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ExtrapolationWarning)
        iso.predict(C=1e16)  # inside the budgets: no warning
        iso.predict(C=1e21, warn=False)


# ---- multi_power: a warm-up longer than the schedule was taken without a word ----------------------
def test_multi_power_warmup_longer_than_the_schedule_is_an_error(two_schedules):
    import scalelaw as sl

    _, df = two_schedules
    with pytest.raises(ValueError, match=r"warmup_steps=100000 is longer than run '.*'s schedule \(1953 steps\)"):
        sl.fit("multi_power", df, inputs={"step": "step"}, warmup_steps=100000)
    fit = sl.fit("multi_power", df, inputs={"step": "step"}, warmup_steps=100)
    with pytest.raises(ValueError, match=r"warmup_steps=5000 is longer than the schedule \(1000 steps\)"):
        fit.predict(schedule="cosine:n_steps=1000,peak=1e-2", warmup_steps=5000)
    with pytest.raises(ValueError, match=r"warmup_steps=100 \(the fit's own\) is longer than the schedule \(50 steps\)"):
        fit.predict(schedule="cosine:n_steps=50,peak=1e-2")
    assert fit.predict(schedule="cosine:n_steps=1000,peak=1e-2", warmup_steps=50).shape == (1000,)


@pytest.mark.parametrize("flag", ["-o", "--plot"])
def test_isoflop_output_into_a_missing_folder_is_refused_before_the_work(tmp_path, capsys, flag):
    path = tmp_path / "iso.csv"
    rows = [dict(n_params=n, flops=c, loss=1.7 + 400 / n ** 0.34 + 410 / (c / (6 * n)) ** 0.28)
            for c in (1e15, 1e16, 1e17) for n in np.geomspace(c ** 0.5 / 100, c ** 0.5 / 2, 6)]
    pd.DataFrame(rows).to_csv(path, index=False)
    target = tmp_path / "missing" / "out.x"
    code, out, err = run(capsys, "isoflop", path, "--var", "N=n_params", "--var", "C=flops", flag, target)
    assert code == 2 and out == ""  # no report printed: it stopped before fitting
    assert f"{flag} '{target}': folder '{target.parent}' does not exist" in err


# ---- a negative seed: numpy's "expected non-negative integer" named no flag or parameter ----------
@pytest.mark.parametrize("command", ["fit", "isoflop"])
def test_cli_negative_seed_names_the_flag(capsys, grid_csv, command):
    argv = ["fit", "chinchilla", grid_csv] if command == "fit" else ["isoflop", grid_csv]
    with pytest.raises(SystemExit) as exit_:
        main([str(a) for a in argv] + ["--seed", "-1"])
    assert exit_.value.code == 2
    assert "argument --seed: must be an integer >= 0, got -1" in capsys.readouterr().err


def test_library_negative_seed_names_the_parameter(chinchilla_grid):
    import scalelaw as sl

    with pytest.raises(ValueError, match="seed must be an integer >= 0, got -1"):
        sl.fit("chinchilla", chinchilla_grid, seed=-1)
    fit = sl.fit("chinchilla", chinchilla_grid)
    with pytest.raises(ValueError, match=r"bootstrap seed must be an integer >= 0 \(or None: the fit's own\), got -3"):
        fit.bootstrap(10, seed=-3)


# ---- frontier: rows with NaN or negative compute were dropped without a word ------------------------
def test_frontier_names_the_rows_it_leaves_out():
    import warnings

    import scalelaw as sl

    df = pd.DataFrame({"flops": [0.0, 1.0, 2.0, np.nan, -5.0, 4.0], "loss": [9.0, 3.0, 2.5, 1.0, 1.0, 2.0]})
    with pytest.warns(UserWarning, match=r"frontier: 2 row\(s\) with a missing, infinite or negative 'flops' or a "
                                         r"loss <= 0 in 'loss' left out, e.g. rows \[3, 4\]"):
        front = sl.frontier(df, convex=False)
    assert front["flops"].tolist() == [1.0, 2.0, 4.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # step-0 rows (x = 0) alone are no data error: no warning
        assert sl.frontier(df.drop(index=[3, 4]), convex=False)["flops"].tolist() == [1.0, 2.0, 4.0]


# ---- malformed NAME=VALUE flags: same exit status (2) and "scalelaw CMD: error:" form as every other error
@pytest.mark.parametrize("flags, message", [
    (["--var", "N"], "scalelaw fit: error: --var expects NAME=VALUE, got 'N'"),
    (INPUTS + ["--fix", "E=abc"], "scalelaw fit: error: --fix E must be a number, got 'abc'"),
])
def test_malformed_assignment_flags_exit_2_with_the_command_named(capsys, grid_csv, flags, message):
    code, out, err = run(capsys, "fit", "chinchilla", grid_csv, *flags)
    assert code == 2 and out == "" and message in err


def test_serve_rejects_a_host_that_does_not_resolve(tmp_path):
    pytest.importorskip("uvicorn")
    from scalelaw.serve import serve

    with pytest.raises(SystemExit, match=r"--host '999\.1\.1\.1' is not an IP address or a name that resolves"):
        serve(host="999.1.1.1", port=8123, store=str(tmp_path / "store"))


# ---- a grouped fit (fit --by) could not be used by predict/optimum/plot at all --------------------
def test_grouped_fit_file_works_with_group_and_says_how_without(tmp_path, capsys, chinchilla_grid):
    import scalelaw as sl

    data = tmp_path / "grouped.csv"
    chinchilla_grid.assign(lang=["en", "fr"] * 32).to_csv(data, index=False)
    saved = tmp_path / "grouped.json"
    assert run(capsys, "fit", "chinchilla", data, *INPUTS, "--by", "lang", "-o", saved)[0] == 0
    code, out, err = run(capsys, "predict", saved, "--at", "N=1e8", "--at", "D=1e10")
    assert code == 2 and "pick one with --group KEY, KEY one of: en, fr" in err
    code, out, err = run(capsys, "predict", saved, "--at", "N=1e8", "--at", "D=1e10", "--group", "de")
    assert code == 2 and "--group 'de' is not one of its groups" in err
    code, out, err = run(capsys, "predict", saved, "--at", "N=1e8", "--at", "D=1e10", "--group", "fr", "--json")
    assert code == 0, err
    expected = sl.load_fit(saved)["fr"].predict({"N": 1e8, "D": 1e10})[0]
    assert json.loads(out)["prediction"][0] == pytest.approx(expected, rel=1e-12)
    code, out, err = run(capsys, "optimum", saved, "--at", "C=1e21", "--group", "en", "--json")
    assert code == 0 and json.loads(out)["C"] == 1e21
    code, out, err = run(capsys, "plot", saved, data, "--group", "en", "-o", tmp_path / "en.html")
    assert code == 0, err


@pytest.mark.slow
def test_live_list_offset_beyond_64_bits_is_a_400(live_client):
    from scalelaw.client import ServiceError

    with pytest.raises(ServiceError, match=r"offset must be in 0\.\.9223372036854775807") as err:
        live_client.request("GET", "/fits?offset=99999999999999999999")
    assert err.value.status == 400 and err.value.field == "offset"
    assert live_client.request("GET", "/fits?offset=0")["total"] >= 0
