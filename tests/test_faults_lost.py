"""Issue 12, lost data: each test reproduces a case where a user's data or file was lost, and
asserts it is now kept (or the operation refuses before anything is overwritten).

Test names start with the issue's category (``test_lost_``) so the cases can be counted.
"""

import decimal
import json
import os
import warnings

import numpy as np
import pandas as pd
import pytest

import scalelaw as sl
from scalelaw.atomic import atomic_path, atomic_write_text
from scalelaw.cli import main
from scalelaw.io import ReadLogsWarning


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


# ---- trainer: two configs, one run name ----------------------------------------------------------

@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("change", [["--set", "d_model=48"], ["--batch-size", "8"]])
def test_lost_second_run_of_another_config_refuses_to_overwrite_the_first(shards, tmp_path, capsys, change):
    base = ["train", "--preset", "tiny", "--steps", "2", "--device", "cpu", "--no-compile", "--quiet",
            "--data-root", shards, "--out", tmp_path / "r"]
    code, _, err = run(capsys, *base)
    assert code == 0, err
    (log,) = (tmp_path / "r").glob("*.jsonl")
    before = log.read_text()
    code, out, err = run(capsys, *base, *change)
    assert code == 2 and "with a different config" in err and "--name" in err
    assert len(err.strip().splitlines()) == 1
    assert log.read_text() == before  # the first run's log is intact
    # the same config again is a rerun, and a new name is a new run
    code, _, err = run(capsys, *base, *change, "--name", "other")
    assert code == 0, err
    assert (tmp_path / "r" / "other.jsonl").is_file() and log.read_text() == before


# ---- atomic writes ---------------------------------------------------------------------------------

def test_lost_failed_write_keeps_the_existing_file(tmp_path):
    path = tmp_path / "fit.json"
    path.write_text("precious")
    with pytest.raises(RuntimeError):
        with atomic_path(path) as tmp:
            tmp.write_text("half")
            raise RuntimeError("disk full")
    assert path.read_text() == "precious"
    assert os.listdir(tmp_path) == ["fit.json"]  # no temporary file left behind
    atomic_write_text(path, "new")
    assert path.read_text() == "new" and os.listdir(tmp_path) == ["fit.json"]


@pytest.mark.parametrize("runs", [
    pd.date_range("2024-01-01", periods=64, freq="D"),
    [decimal.Decimal(i) / 10 for i in range(64)],
    [("sweep", i) for i in range(64)],
], ids=["Timestamp", "Decimal", "tuple"])
def test_lost_odd_run_names_save_and_load(tmp_path, chinchilla_grid, runs):
    df = chinchilla_grid.assign(run=pd.Series(list(runs), dtype=object))
    fit = sl.fit("chinchilla", df).bootstrap(n=10, seed=0)
    path = tmp_path / "fit.json"
    path.write_text("an older fit")
    fit.save(path)  # was: "Circular reference detected", and the old file left empty
    back = sl.load_fit(path)
    assert back.params == fit.params
    assert list(back.table["run"]) == [str(r) for r in fit.table["run"].to_numpy()]
    assert back.table["run"].nunique() == 64 and back.data_hash == fit.data_hash
    assert back.bootstrap_info["method"] == "runs"
    np.testing.assert_allclose(back.predict_interval({"N": 1e9, "D": 1e11}),
                               fit.predict_interval({"N": 1e9, "D": 1e11}))


def test_lost_save_into_a_folder_is_refused_before_fitting(tmp_path, capsys, chinchilla_grid):
    data = tmp_path / "points.csv"
    chinchilla_grid.to_csv(data, index=False)
    code, out, err = run(capsys, "fit", "chinchilla", data, "-o", tmp_path)
    assert code == 2 and "is a directory" in err and len(err.strip().splitlines()) == 1
    fit = sl.fit("chinchilla", chinchilla_grid)
    with pytest.raises(ValueError, match="is a directory"):
        fit.save(tmp_path)


# ---- read_logs: one bad file must not lose the good ones ----------------------------------------

def _good(folder):
    folder.mkdir()
    (folder / "a.csv").write_text("step,loss\n1,3.0\n2,2.9\n3,2.8\n")
    (folder / "b.csv").write_text("step,loss\n1,3.1\n2,3.0\n3,2.9\n")


def _read_dir(folder):
    with pytest.warns(ReadLogsWarning) as caught:
        df = sl.read_logs(folder)
    return df, " | ".join(str(w.message) for w in caught)


def test_lost_dangling_symlink_is_skipped_with_a_warning(tmp_path):
    _good(tmp_path / "d")
    os.symlink(tmp_path / "nowhere", tmp_path / "d" / "x.csv")
    df, text = _read_dir(tmp_path / "d")
    assert set(df.run) == {"a", "b"} and len(df) == 6
    assert "x.csv: skipped: a broken symbolic link" in text


def test_lost_self_referencing_symlink_is_skipped(tmp_path):
    _good(tmp_path / "d")
    os.symlink("loop.csv", tmp_path / "d" / "loop.csv")
    df, text = _read_dir(tmp_path / "d")
    assert set(df.run) == {"a", "b"} and "loop.csv: skipped: cannot be opened" in text


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_lost_fifo_is_skipped_not_read_forever(tmp_path):
    _good(tmp_path / "d")
    os.mkfifo(tmp_path / "d" / "pipe.csv")
    df, text = _read_dir(tmp_path / "d")  # used to block in open()
    assert set(df.run) == {"a", "b"} and "pipe.csv: skipped: a FIFO (named pipe), not a regular file" in text
    with pytest.raises(ValueError, match="a FIFO"):
        sl.read_logs(tmp_path / "d" / "pipe.csv")


def test_lost_one_bad_byte_loses_one_line_not_the_file(tmp_path):
    _good(tmp_path / "d")
    (tmp_path / "d" / "c.csv").write_bytes(b"step,loss\n1,3.2\n2,3.\xff1\n3,3.0\n")
    df, text = _read_dir(tmp_path / "d")
    c = df[df.run == "c"]
    assert list(c.step) == [1, 3] and list(c.loss) == [3.2, 3.0]
    assert "c.csv: line(s) 3 hold bytes that are not UTF-8" in text
    with pytest.warns(ReadLogsWarning, match="line\\(s\\) 3"):
        assert len(sl.read_logs(tmp_path / "d" / "c.csv")) == 2


def test_lost_cli_reads_a_table_with_a_bad_byte(tmp_path, capsys, chinchilla_grid):
    data = tmp_path / "points.csv"
    text = chinchilla_grid.to_csv(index=False).encode()
    lines = text.splitlines(keepends=True)
    lines[3] = lines[3].replace(b"r2", b"r\xff2")
    data.write_bytes(b"".join(lines))
    code, out, err = run(capsys, "fit", "chinchilla", data, "--json")
    assert code == 0 and "line(s) 4 are not UTF-8" in err
    assert json.loads(out)["n_points"] == len(chinchilla_grid) - 1


def test_lost_plot_is_written_atomically_and_refuses_a_folder(tmp_path, capsys, chinchilla_grid):
    pytest.importorskip("plotly")
    path = tmp_path / "f.json"
    sl.fit("chinchilla", chinchilla_grid).save(path)
    code, out, err = run(capsys, "plot", path, "-o", tmp_path)
    assert code == 2 and "is a directory" in err
    code, out, err = run(capsys, "plot", path, "-o", tmp_path / "fit.html")
    assert code == 0, err
    assert sorted(os.listdir(tmp_path)) == ["f.json", "fit.html"]


def test_lost_link_to_a_folder_is_reported_not_silently_passed_over(tmp_path):
    _good(tmp_path / "d")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "c.csv").write_text("step,loss\n1,3.0\n2,2.9\n")
    os.symlink(tmp_path / "elsewhere", tmp_path / "d" / "more")
    df, text = _read_dir(tmp_path / "d")
    assert set(df.run) == {"a", "b"} and "more: skipped: a symbolic link to a folder" in text
    assert set(sl.read_logs(tmp_path / "elsewhere").run) == {"c"}
