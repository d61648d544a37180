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
