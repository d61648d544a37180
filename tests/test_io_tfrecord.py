"""The TFRecord framing and the Event decoder on hand-encoded records (no torch needed), covering
what torch's SummaryWriter does not write: TF2 tensor scalars in tensor_content, half and
bfloat16 values, non-scalar plugins."""

from __future__ import annotations

import struct

import numpy as np
import pytest

import scalelaw as sl
from scalelaw.io import ReadLogsWarning
from scalelaw.io.tfrecord import crc32c, looks_like_tfrecord, masked_crc32c, records, write_record


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def event(step: int, values: list[bytes]) -> bytes:
    summary = b"".join(field(1, v) for v in values)
    return b"\x09" + struct.pack("<d", 1.7e9 + step) + b"\x10" + varint(step) + field(5, summary)


def simple(tag: str, value: float) -> bytes:
    return field(1, tag.encode()) + b"\x15" + struct.pack("<f", value)


def tensor(tag: str, dtype: int, body: bytes, plugin: str | None = None) -> bytes:
    out = field(1, tag.encode()) + field(8, b"\x08" + varint(dtype) + body)
    if plugin is not None:
        out += field(9, field(1, field(1, plugin.encode())))
    return out


def test_crc32c_known_value():
    # the standard check value of CRC-32C (RFC 3720)
    assert crc32c(b"123456789") == 0xE3069283
    header = struct.pack("<Q", 5)
    assert looks_like_tfrecord(header + struct.pack("<I", masked_crc32c(header)))
    assert not looks_like_tfrecord(header + b"\x00\x00\x00\x00")


def test_records_split_and_stop_at_a_cut(tmp_path):
    path = tmp_path / "r.bin"
    with open(path, "wb") as f:
        for payload in (b"a" * 3, b"b" * 10, b"c" * 7):
            write_record(f, payload)
    data = path.read_bytes()
    spans, problem = records(data, verify=True)
    assert [data[s:e] for s, e in spans] == [b"aaa", b"b" * 10, b"c" * 7] and problem is None
    spans, problem = records(data[:-2])
    assert len(spans) == 2 and problem.kind == "truncated"
    assert problem.offset == (16 + 3) + (16 + 10)  # where the third record starts


def test_tf2_tensor_scalars(tmp_path):
    bf16 = struct.unpack("<I", struct.pack("<f", 2.5))[0] >> 16
    half = struct.unpack("<H", np.float16(1.5).tobytes())[0]
    events = [
        # TF2: float tensor in tensor_content, plugin metadata on the first event only
        event(1, [tensor("train/loss", 1, field(4, struct.pack("<f", 3.25)), "scalars")]),
        event(2, [tensor("train/loss", 1, field(4, struct.pack("<f", 3.0)))]),
        event(2, [tensor("val/loss", 2, field(4, struct.pack("<d", 3.125)))]),
        event(3, [tensor("val/loss", 14, b"\x68" + varint(bf16))]),          # bfloat16 half_val
        event(3, [tensor("train/loss", 19, b"\x68" + varint(half))]),        # float16 half_val
        event(3, [tensor("lr", 9, b"\x50" + varint(7))]),                    # int64 scalar
        # a histogram-like tensor (shape [2]) and a text plugin tensor are not scalars
        event(3, [tensor("train/loss_hist", 1, field(2, field(2, b"\x08\x02"))
                         + field(4, struct.pack("<2f", 1, 2)))]),
        event(4, [tensor("val/loss", 7, field(4, b"hello"), "text")]),
        event(5, [simple("train/loss", 2.75)]),
    ]
    run = tmp_path / "tf2"
    run.mkdir()
    with open(run / "events.out.tfevents.1.host", "wb") as f:
        write_record(f, b"\x09" + struct.pack("<d", 1.7e9) + field(3, b"brain.Event:2"))
        for e in events:
            write_record(f, e)
    df = sl.read_logs(tmp_path / "tf2")
    got = {(r.split, r.step): r.loss for r in df.itertuples()}
    assert got == {("train", 1): 3.25, ("train", 2): 3.0, ("train", 3): 1.5,
                   ("train", 5): 2.75, ("val", 2): 3.125, ("val", 3): 2.5}
    assert df[(df.split == "train") & (df.step == 3)].lr.item() == 7.0


def test_a_garbled_event_is_skipped_and_reported(tmp_path):
    path = tmp_path / "events.out.tfevents.2.host"
    with open(path, "wb") as f:
        write_record(f, event(1, [simple("train/loss", 3.0)]))
        write_record(f, b"\x10\xff")  # a step varint that never ends
        write_record(f, event(2, [simple("train/loss", 2.0)]))
    with pytest.warns(ReadLogsWarning, match=r"1 events could not be decoded \(first at byte "):
        df = sl.read_logs(path)
    assert df.set_index("step").loss.to_dict() == {1: 3.0, 2: 2.0}
