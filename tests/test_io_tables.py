"""read_logs on plain tables (CSV, TSV, JSONL, Parquet) written by pandas, and every
bad-input case for them."""

from __future__ import annotations

import io
import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest

import scalelaw as sl
from scalelaw.io import ReadLogsWarning


def read_quiet(*args, **kwargs):
    """read_logs that must not warn."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", ReadLogsWarning)
        return sl.read_logs(*args, **kwargs)


def tidy_frame() -> pd.DataFrame:
    rows = []
    for run, n_params in (("small", 1e6), ("big", 4e6)):
        for step in (100, 200, 300):
            for split in ("train", "val"):
                loss = 2.0 + n_params ** -0.1 * 30 / step ** 0.3 + (split == "val") * 0.05
                rows.append({"run": run, "step": step, "split": split, "loss": loss,
                             "n_tokens": step * 8192, "lr": 3e-4, "n_params": n_params,
                             "lang": "en"})
    # shuffled on purpose: the reader must sort
    return pd.DataFrame(rows).sample(frac=1.0, random_state=0).reset_index(drop=True)


def expected_loss(frame, run, step, split):
    hit = frame[(frame.run == run) & (frame.step == step) & (frame.split == split)]
    assert len(hit) == 1
    return float(hit.loss.iloc[0])


def test_tidy_csv_round_trip_sorted_and_typed(tmp_path):
    written = tidy_frame()
    written.to_csv(tmp_path / "sweep.csv", index=False)
    df = read_quiet(tmp_path / "sweep.csv")
    assert list(df.columns[:4]) == ["run", "step", "split", "loss"]
    assert df["step"].dtype == np.int64 and df["loss"].dtype == np.float64
    assert pd.api.types.is_string_dtype(df["run"]) and pd.api.types.is_string_dtype(df["split"])
    # sorted by run, split, step
    keys = list(zip(df.run, df.split, df.step))
    assert keys == sorted(keys)
    assert len(df) == len(written)
    got = df[(df.run == "big") & (df.split == "val") & (df.step == 300)].loss.iloc[0]
    assert got == expected_loss(written, "big", 300, "val")
    # columns outside the schema of a long-form table are kept (grouped fits use them)
    assert set(df["lang"]) == {"en"}
    assert df.attrs["skipped"] == []
    assert df.attrs["sources"] == {str(tmp_path / "sweep.csv"): "csv"}


def test_tsv_parquet_jsonl_read_the_same(tmp_path):
    written = tidy_frame()
    written.to_csv(tmp_path / "a.tsv", sep="\t", index=False)
    written.to_parquet(tmp_path / "a.parquet", index=False)
    written.to_json(tmp_path / "a.jsonl", orient="records", lines=True)
    written.to_json(tmp_path / "a.json", orient="records")
    frames = {name: read_quiet(tmp_path / name)
              for name in ("a.tsv", "a.parquet", "a.jsonl", "a.json")}
    assert {df.attrs["sources"][str(tmp_path / n)] for n, df in frames.items()} == \
        {"tsv", "parquet", "jsonl", "json"}
    base = frames["a.tsv"]
    for name, df in frames.items():
        pd.testing.assert_frame_equal(df, base, check_dtype=False, obj=name)
    hit = base[(base.run == "small") & (base.step == 200) & (base.split == "train")]
    assert hit.loss.iloc[0] == pytest.approx(expected_loss(written, "small", 200, "train"),
                                             rel=1e-15)


def test_detection_is_by_content_not_extension(tmp_path):
    tidy_frame().to_parquet(tmp_path / "curves.dat", index=False)
    df = read_quiet(tmp_path / "curves.dat")
    assert df.attrs["sources"][str(tmp_path / "curves.dat")] == "parquet"
    assert len(df) == 12


def test_other_column_names_are_guessed(tmp_path):
    pd.DataFrame({
        "global_step": [10, 20, 30, 40],
        "train/loss": [4.0, 3.5, 3.2, 3.0],
        "eval_loss": [None, 3.6, None, 3.1],
        "learning_rate": [1e-3, 9e-4, 8e-4, 7e-4],
        "num_input_tokens_seen": [5120, 10240, 15360, 20480],
        "grad_norm": [1.0, 0.9, 0.8, 0.7],
    }).to_csv(tmp_path / "run7.csv", index=False)
    # the one column not read is named (nothing is dropped silently); nothing else is said
    with pytest.warns(ReadLogsWarning, match=r"run7\.csv: column\(s\) 'grad_norm' not used") as caught:
        df = sl.read_logs(tmp_path / "run7.csv")
    assert len(caught) == 1
    assert set(df.run) == {"run7"}
    train = df[df.split == "train"].set_index("step")
    val = df[df.split == "val"].set_index("step")
    assert list(train.index) == [10, 20, 30, 40] and list(val.index) == [20, 40]
    assert val.loc[40, "loss"] == 3.1 and train.loc[30, "loss"] == 3.2
    assert val.loc[20, "lr"] == 9e-4 and val.loc[40, "n_tokens"] == 20480
    assert "grad_norm" not in df.columns
    assert df.attrs["columns"][str(tmp_path / "run7.csv")]["eval_loss"] == "val/loss"
    assert df.attrs["columns"][str(tmp_path / "run7.csv")]["grad_norm"] is None


def test_columns_mapping_and_named_splits(tmp_path):
    pd.DataFrame({"iteration_count": [1, 2, 3], "score_code": [2.5, 2.4, 2.3],
                  "eval_loss": [3.0, 2.9, 2.8]}).to_csv(tmp_path / "r.csv", index=False)
    df = read_quiet(tmp_path / "r.csv",
                    columns={"iteration_count": "step", "score_code": "val_code/loss"})
    assert sorted(set(df.split)) == ["val", "val_code"]
    assert df[(df.split == "val_code") & (df.step == 2)].loss.iloc[0] == 2.4
    # a plain "loss" target keeps the split its name gives (eval_loss -> val)
    df = read_quiet(tmp_path / "r.csv", columns={"iteration_count": "step", "eval_loss": "loss",
                                                 "score_code": None})
    assert set(df.split) == {"val"} and df.loss.tolist() == [3.0, 2.9, 2.8]


def test_split_argument_names_a_bare_loss(tmp_path):
    pd.DataFrame({"step": [1, 2], "loss": [3.0, 2.0]}).to_csv(tmp_path / "r.csv", index=False)
    assert set(read_quiet(tmp_path / "r.csv").split) == {"train"}
    assert set(read_quiet(tmp_path / "r.csv", split="val").split) == {"val"}


def test_csv_without_loss_column_names_file_and_columns(tmp_path):
    pd.DataFrame({"step": [1, 2], "accuracy": [0.5, 0.6]}).to_csv(tmp_path / "acc.csv",
                                                                  index=False)
    with pytest.raises(ValueError) as err:
        sl.read_logs(tmp_path / "acc.csv")
    message = str(err.value)
    assert "acc.csv" in message and "no loss column" in message
    assert "'accuracy'" in message and "columns={'yourcol': 'loss'}" in message


def test_csv_without_step_column(tmp_path):
    pd.DataFrame({"n_params": [1e6], "loss": [3.0]}).to_csv(tmp_path / "pts.csv", index=False)
    with pytest.raises(ValueError, match=r"pts\.csv: no step column.*'n_params'"):
        sl.read_logs(tmp_path / "pts.csv")


def test_bits_are_converted_only_when_told(tmp_path):
    bits = [5.0, 4.2, 3.9]
    pd.DataFrame({"step": [1, 2, 3], "loss": bits}).to_csv(tmp_path / "b.csv", index=False)
    as_nats = read_quiet(tmp_path / "b.csv")
    assert as_nats.loss.tolist() == bits
    converted = read_quiet(tmp_path / "b.csv", loss_unit="bits")
    assert converted.loss.tolist() == [b * math.log(2) for b in bits]
    per_byte = read_quiet(tmp_path / "b.csv", loss_unit="bits_per_byte", bytes_per_token=4.0)
    assert per_byte.loss.tolist() == [b * math.log(2) * 4.0 for b in bits]
    with pytest.raises(ValueError, match="bytes_per_token"):
        sl.read_logs(tmp_path / "b.csv", loss_unit="bits_per_byte")
    with pytest.raises(ValueError, match="loss_unit='furlongs'"):
        sl.read_logs(tmp_path / "b.csv", loss_unit="furlongs")


def test_mixed_units_are_an_error_naming_the_column(tmp_path):
    pd.DataFrame({"step": [1, 2], "train_loss": [3.0, 2.8],
                  "val_loss_bits": [4.5, 4.2]}).to_csv(tmp_path / "mixed.csv", index=False)
    with pytest.raises(ValueError) as err:
        sl.read_logs(tmp_path / "mixed.csv")
    assert "mixed.csv" in str(err.value) and "'val_loss_bits'" in str(err.value)
    assert "loss_unit" in str(err.value)
    df = read_quiet(tmp_path / "mixed.csv", loss_unit={"val": "bits"})
    assert df[df.split == "train"].loss.tolist() == [3.0, 2.8]
    assert df[df.split == "val"].loss.tolist() == [4.5 * math.log(2), 4.2 * math.log(2)]


def test_twin_column_in_bits_is_left_out_with_a_warning(tmp_path):
    pd.DataFrame({"step": [1, 2], "train/loss": [3.0, 2.8],
                  "train/loss_bits": [3.0 / math.log(2), 2.8 / math.log(2)]}
                 ).to_csv(tmp_path / "twin.csv", index=False)
    with pytest.warns(ReadLogsWarning, match=r"twin\.csv: column 'train/loss_bits' left out"):
        df = sl.read_logs(tmp_path / "twin.csv")
    assert df.loss.tolist() == [3.0, 2.8]


def test_duplicate_steps_keep_the_last_and_say_how_many(tmp_path):
    first = pd.DataFrame({"step": [100, 200, 300, 400], "loss": [4.0, 3.0, 9.9, 9.9]})
    resumed = pd.DataFrame({"step": [300, 400, 500], "loss": [2.5, 2.2, 2.0]})
    pd.concat([first, resumed]).to_csv(tmp_path / "resumed.csv", index=False)
    with pytest.warns(ReadLogsWarning, match=r"resumed\.csv: run 'resumed': 2 rows repeat"):
        df = sl.read_logs(tmp_path / "resumed.csv")
    assert df.set_index("step").loss.to_dict() == {100: 4.0, 200: 3.0, 300: 2.5, 400: 2.2,
                                                    500: 2.0}
    assert any("2 rows repeat" in m for m in df.attrs["skipped"])


def test_nan_and_inf_losses_are_dropped_and_counted(tmp_path):
    (tmp_path / "div.csv").write_text(
        "step,train_loss,val_loss\n1,3.0,\n2,nan,3.5\n3,inf,\n4,2.5,-inf\n5,2.4,3.1\n")
    with pytest.warns(ReadLogsWarning) as caught:
        df = sl.read_logs(tmp_path / "div.csv")
    message = next(str(w.message) for w in caught if "not a finite" in str(w.message))
    assert message.startswith(str(tmp_path / "div.csv")) and "3 rows dropped" in message
    assert "1 NaN" in message and "2 infinite" in message
    assert df[df.split == "train"].set_index("step").loss.to_dict() == {1: 3.0, 4: 2.5, 5: 2.4}
    assert df[df.split == "val"].set_index("step").loss.to_dict() == {2: 3.5, 5: 3.1}


def test_nan_in_jsonl_is_reported_and_null_is_not_logged(tmp_path):
    lines = ['{"step": 1, "train/loss": 3.0, "val/loss": null}',
             '{"step": 2, "train/loss": NaN, "val/loss": 3.2}',
             '{"step": 3, "train/loss": Infinity}']
    (tmp_path / "l.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.warns(ReadLogsWarning, match=r"l\.jsonl: 2 rows dropped .*not a finite"):
        df = sl.read_logs(tmp_path / "l.jsonl")
    assert list(zip(df.split, df.step, df.loss)) == [("train", 1, 3.0), ("val", 2, 3.2)]


def test_malformed_json_line_is_skipped_with_its_line_number(tmp_path):
    good = [json.dumps({"step": s, "loss": 3.0 - s / 10}) for s in range(1, 6)]
    lines = good[:2] + ['{"step": 3, "loss": 2.7'] + good[3:]
    (tmp_path / "m.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.warns(ReadLogsWarning, match=r"m\.jsonl:3: malformed JSON"):
        df = sl.read_logs(tmp_path / "m.jsonl")
    assert df.step.tolist() == [1, 2, 4, 5] and df.loss.tolist()[2] == pytest.approx(2.6)


def test_csv_line_with_too_many_fields_is_skipped(tmp_path):
    (tmp_path / "c.csv").write_text("step,loss\n1,3.0\n2,2.9,oops\n3,2.8\n")
    with pytest.warns(ReadLogsWarning, match=r"c\.csv:3: expected 2 fields, saw 3"):
        df = sl.read_logs(tmp_path / "c.csv")
    assert df.step.tolist() == [1, 3]


def test_empty_and_header_only_files(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ValueError, match=r"empty\.csv: empty file"):
        sl.read_logs(tmp_path / "empty.csv")
    (tmp_path / "header.csv").write_text("step,loss\n")
    with pytest.raises(ValueError, match=r"header\.csv: no rows"):
        sl.read_logs(tmp_path / "header.csv")


def test_unknown_format_and_missing_file(tmp_path):
    (tmp_path / "blob.bin2").write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ValueError, match=r"blob\.bin2: unrecognised format.*expected CSV/TSV"):
        sl.read_logs(tmp_path / "blob.bin2")
    (tmp_path / "notes.txt").write_text("just some notes\nno numbers here\n")
    with pytest.raises(ValueError, match=r"notes\.txt: unrecognised format"):
        sl.read_logs(tmp_path / "notes.txt")
    with pytest.raises(FileNotFoundError, match=r"nope\.csv"):
        sl.read_logs(tmp_path / "nope.csv")
    with pytest.raises(ValueError, match="format='excel'"):
        sl.read_logs(tmp_path / "notes.txt", format="excel")


def test_forced_format(tmp_path):
    (tmp_path / "log.dat").write_text("step|loss\n1|2.0\n")  # pipes: not auto-detected
    with pytest.raises(ValueError, match="unrecognised format"):
        sl.read_logs(tmp_path / "log.dat")
    # semicolons are (since audit12, as the CLI's plain tables were): a spreadsheet export
    (tmp_path / "semi.dat").write_text("step;loss\n1;2.0\n")
    assert read_quiet(tmp_path / "semi.dat").loss.tolist() == [2.0]
    (tmp_path / "log2.dat").write_text("step\tloss\n1\t2.0\n2\t1.5\n")
    assert read_quiet(tmp_path / "log2.dat", format="tsv").loss.tolist() == [2.0, 1.5]


def test_fractional_steps_are_refused(tmp_path):
    pd.DataFrame({"step": [0.5, 1.0], "loss": [3.0, 2.0]}).to_csv(tmp_path / "f.csv",
                                                                  index=False)
    with pytest.raises(ValueError, match=r"f\.csv: step values must be whole numbers"):
        sl.read_logs(tmp_path / "f.csv")


class FakeUpload:
    """What Streamlit's file_uploader returns: a name and getvalue()."""

    def __init__(self, name: str, data: bytes):
        self.name, self._data = name, data

    def getvalue(self) -> bytes:
        return self._data


def test_uploads_bytes_and_file_objects():
    buf = io.StringIO()
    pd.DataFrame({"step": [1, 2], "val_loss": [3.0, 2.5]}).to_csv(buf, index=False)
    data = buf.getvalue().encode()
    df = read_quiet(FakeUpload("gpt-tiny.csv", data))
    assert set(df.run) == {"gpt-tiny"} and df.loss.tolist() == [3.0, 2.5]
    named = io.BytesIO(data)
    named.name = "other.csv"
    both = read_quiet([FakeUpload("gpt-tiny.csv", data), named])
    assert sorted(set(both.run)) == ["gpt-tiny", "other"]
    assert set(read_quiet(data, run="raw").run) == {"raw"}


def test_uploaded_sidecar_config_applies_to_its_log():
    log = b"step,loss\n10,3.0\n20,2.5\n"
    config = b"n_params: 2500000\nbatch_size: 4\nseq_len: 128\n"
    df = read_quiet([FakeUpload("r1.csv", log), FakeUpload("r1.yaml", config)])
    assert df.n_params.tolist() == [2.5e6, 2.5e6]
    assert df.n_tokens.tolist() == [10 * 4 * 128, 20 * 4 * 128]


def test_metadata_batch_size_and_derived_tokens(tmp_path):
    for run in ("a", "b"):
        pd.DataFrame({"step": [10, 20], "loss": [3.0, 2.5]}).to_csv(tmp_path / f"{run}.csv",
                                                                    index=False)
    plain = read_quiet(tmp_path)
    assert "n_tokens" not in plain.columns  # never guessed
    df = read_quiet(tmp_path, metadata={"a": {"n_params": 1e6, "schedule": "cosine:n_steps=20"},
                                        "b": {"n_params": 2e6}},
                    batch_size=8, seq_len={"a": 64, "b": 128})
    a, b = df[df.run == "a"], df[df.run == "b"]
    assert a.n_params.tolist() == [1e6, 1e6] and b.n_params.tolist() == [2e6, 2e6]
    assert a.schedule.tolist() == ["cosine:n_steps=20"] * 2 and b.schedule.isna().all()
    assert a.n_tokens.tolist() == [10 * 8 * 64, 20 * 8 * 64]
    assert b.n_tokens.tolist() == [10 * 8 * 128, 20 * 8 * 128]
    everyone = read_quiet(tmp_path, metadata={"domain": "code", "mix_ratio": 0.25})
    assert set(everyone.domain) == {"code"} and set(everyone.mix_ratio) == {0.25}


def test_metadata_that_contradicts_the_log_is_reported(tmp_path):
    pd.DataFrame({"step": [1, 2], "loss": [3.0, 2.0], "n_params": [5e5, 5e5]}).to_csv(
        tmp_path / "a.csv", index=False)
    with pytest.warns(ReadLogsWarning, match=r"run 'a': n_params=1000000.0 \(given by you\) "
                                             r"replaces 500000.0"):
        df = sl.read_logs(tmp_path / "a.csv", metadata={"n_params": 1e6})
    assert set(df.n_params) == {1e6}
    with pytest.warns(ReadLogsWarning, match=r"name runs that were not read: \['zzz'\]"):
        sl.read_logs(tmp_path / "a.csv", metadata={"zzz": {"n_params": 1.0}})


def test_sidecar_config_beside_the_log(tmp_path):
    pd.DataFrame({"step": [100, 200], "val/loss": [3.0, 2.7]}).to_csv(tmp_path / "r.csv",
                                                                     index=False)
    (tmp_path / "r.json").write_text(json.dumps(
        {"model": {"n_params": 3.2e6, "seq_len": 512}, "train": {"batch_size": 64},
         "schedule": "wsd:n_steps=200,peak=3e-4", "mix_ratio": 0.1, "domain": "code"}))
    df = read_quiet(tmp_path / "r.csv")
    assert df.n_params.tolist() == [3.2e6] * 2 and df.mix_ratio.tolist() == [0.1] * 2
    assert df.schedule.tolist() == ["wsd:n_steps=200,peak=3e-4"] * 2
    assert df.n_tokens.tolist() == [100 * 64 * 512, 200 * 64 * 512]
    # the user's value wins over the sidecar's, with a warning
    with pytest.warns(ReadLogsWarning, match="replaces"):
        df = sl.read_logs(tmp_path / "r.csv", batch_size=32)
    assert df.n_tokens.tolist() == [100 * 32 * 512, 200 * 32 * 512]
