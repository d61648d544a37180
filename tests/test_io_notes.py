"""read_logs says what it did not keep: every cell, row or column a user gave that is not in
the result is named in a ReadLogsWarning (also kept in ``df.attrs["skipped"]``), or stops the
read with an error naming the file, column and row."""

from __future__ import annotations

import warnings

import pytest

import scalelaw as sl
from scalelaw.io import ReadLogsWarning


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_no_usable_rows_names_the_file_once(tmp_path):
    path = write(tmp_path, "x.csv", "step,loss\n100,nan\n200,inf\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReadLogsWarning)
        with pytest.raises(ValueError) as err:
            sl.read_logs(path)
    message = str(err.value)
    assert message.count("x.csv") == 1, message
    assert message.startswith(f"no usable rows in {path}: 2 rows dropped for a loss that is "
                              "not a finite number")
    assert "steps 100, 200" in message


def test_no_usable_rows_when_every_loss_is_blank_says_why(tmp_path):
    path = write(tmp_path, "blank.csv", "step,loss\n100,\n200,\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReadLogsWarning)
        with pytest.raises(ValueError) as err:
            sl.read_logs(path)
    message = str(err.value)
    assert message.count("blank.csv") == 1, message
    assert not message.rstrip().endswith(":"), message  # was "no usable rows in blank.csv: "


def test_blank_loss_in_a_single_loss_column_is_reported(tmp_path):
    path = write(tmp_path, "one.csv", "step,loss\n100,3.0\n200,\n300,2.5\n400,\n500,2.2\n")
    with pytest.warns(ReadLogsWarning, match=r"one\.csv: 2 row\(s\) have no value in the loss "
                      r"column 'loss' \(a blank cell\): data row\(s\) 2, 4 \(step\(s\) 200, "
                      r"400\); skipped"):
        df = sl.read_logs(path)
    assert df["step"].tolist() == [100, 300, 500]
    assert any("data row(s) 2, 4" in m for m in df.attrs["skipped"])


def test_blank_loss_in_jsonl_null_is_reported_too(tmp_path):
    path = write(tmp_path, "one.jsonl", '{"step": 1, "loss": 3.0}\n{"step": 2, "loss": null}\n'
                 '{"step": 3}\n{"step": 4, "loss": 2.0}\n')
    with pytest.warns(ReadLogsWarning, match=r"one\.jsonl: 2 row\(s\) .*step\(s\) 2, 3\)"):
        df = sl.read_logs(path)
    assert df["step"].tolist() == [1, 4]


def test_sparse_wide_log_with_several_loss_columns_stays_quiet(tmp_path):
    # train and val logged on different rows: a blank cell means "not logged here"
    path = write(tmp_path, "sparse.csv", "step,train/loss,val/loss\n10,3.0,\n20,2.8,\n"
                 "20,,2.9\n30,2.6,\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ReadLogsWarning)
        df = sl.read_logs(path)
    assert sorted(zip(df["split"], df["step"])) == [("train", 10), ("train", 20),
                                                     ("train", 30), ("val", 20)]
    assert df.attrs["skipped"] == []


def test_non_numeric_metadata_cell_is_named_with_row_and_value(tmp_path):
    path = write(tmp_path, "meta.csv", "step,loss,n_params\n100,3.0,2e6\n200,2.8,2e6x\n"
                 "300,2.6,70M\n")
    with pytest.warns(ReadLogsWarning, match=r"meta\.csv: column 'n_params' holds 1 value\(s\) "
                      r"that are not numbers: '2e6x' at data row 2; read as blank"):
        df = sl.read_logs(path)
    assert df["n_params"].tolist()[::2] == [2e6, 70e6]  # "70M" is a size, not a typo
    assert df["n_params"].isna().tolist() == [False, True, False]


def test_non_numeric_field_in_long_form_with_decimal_comma_hint(tmp_path):
    path = write(tmp_path, "long.csv", 'run,step,split,loss,learning_rate\n'
                 'a,1,train,3.0,"3,5e-4"\na,2,train,2.9,nan\na,3,train,2.8,\n')
    with pytest.warns(ReadLogsWarning) as caught:
        df = sl.read_logs(path)
    notes = [str(w.message) for w in caught]
    assert notes == df.attrs["skipped"]
    # only the typo is named: a written "nan" and a blank cell are deliberate
    assert len(notes) == 1, notes
    assert ("long.csv: column 'learning_rate' (read as lr) holds 1 value(s) that are not "
            "numbers: '3,5e-4' at data row 1 (a decimal comma? write numbers with '.')") in notes[0]
    assert df["lr"].isna().all()


def test_extra_column_of_a_wide_table_is_named_and_listed(tmp_path):
    path = write(tmp_path, "extra.csv", "step,loss,n_params,foo,grad_norm\n100,3.0,2e6,a,1.0\n"
                 "200,2.8,2e6,b,0.9\n")
    with pytest.warns(ReadLogsWarning, match=r"extra\.csv: column\(s\) 'foo', 'grad_norm' not "
                      r"used: .*columns=\{'foo': 'n_params'\}") as caught:
        df = sl.read_logs(path)
    assert len(caught) == 1
    assert "foo" not in df.columns and df["n_params"].tolist() == [2e6, 2e6]
    assert df.attrs["columns"][str(path)] == {"step": "step", "loss": "train/loss",
                                              "n_params": "n_params", "foo": None,
                                              "grad_norm": None}
    # mapping it (or leaving it out on purpose) reads it, or silences the note
    with warnings.catch_warnings():
        warnings.simplefilter("error", ReadLogsWarning)
        left_out = sl.read_logs(path, columns={"foo": None, "grad_norm": None})
        mapped = sl.read_logs(path, columns={"foo": "domain", "grad_norm": None})
    assert left_out.attrs["skipped"] == [] and "foo" not in left_out.columns
    assert mapped["domain"].tolist() == ["a", "b"]


def test_extra_column_of_a_long_table_is_kept_without_a_note(tmp_path):
    path = write(tmp_path, "long.csv", "run,step,split,loss,foo\na,1,train,3.0,x\n"
                 "a,2,train,2.9,y\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ReadLogsWarning)
        df = sl.read_logs(path)
    assert df["foo"].tolist() == ["x", "y"]
