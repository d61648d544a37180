"""TFRecord framing, the container of TensorBoard event files.

Each record is ``uint64 length | uint32 masked_crc32c(length) | data | uint32
masked_crc32c(data)``, little-endian. CRC-32C in pure Python costs about a microsecond per
byte, so payload checksums are only verified on request; truncation (a writer killed
mid-record) is always detected from the lengths.
"""

from __future__ import annotations

import struct

_MASK_DELTA = 0xA282EAD8
_POLY = 0x82F63B78  # Castagnoli, reflected


def _table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ _POLY if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli) of ``data``."""
    crc = 0xFFFFFFFF
    table = _TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """The masked CRC TFRecord stores (rotate right by 15, add a constant)."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def looks_like_tfrecord(head: bytes) -> bool:
    """True when ``head`` starts with a well-formed record header (its length CRC matches)."""
    if len(head) < 12:
        return False
    length_bytes = head[:8]
    (stored,) = struct.unpack_from("<I", head, 8)
    return masked_crc32c(length_bytes) == stored


class Problem:
    """Why reading stopped early: ``kind`` is "truncated" or "corrupt", ``offset`` the byte
    where the bad record starts."""

    def __init__(self, kind: str, offset: int, detail: str):
        self.kind, self.offset, self.detail = kind, offset, detail


def records(buf: bytes, verify: bool = False) -> tuple[list[tuple[int, int]], Problem | None]:
    """Split ``buf`` into record payloads.

    Returns
    -------
    spans : list of (start, end)
        Byte range of each complete record's payload, in file order.
    problem : Problem or None
        Set when reading stopped at a record cut short or (with ``verify``) failing its
        checksum; everything before it is in ``spans``.
    """
    spans = []
    pos, n = 0, len(buf)
    unpack_q, unpack_i = struct.Struct("<Q").unpack_from, struct.Struct("<I").unpack_from
    while pos < n:
        if n - pos < 12:
            return spans, Problem("truncated", pos,
                                  f"{n - pos} bytes left where a 12-byte record header starts")
        (length,) = unpack_q(buf, pos)
        if verify and masked_crc32c(buf[pos:pos + 8]) != unpack_i(buf, pos + 8)[0]:
            return spans, Problem("corrupt", pos, "length checksum mismatch")
        start = pos + 12
        end = start + length
        if end + 4 > n:
            return spans, Problem("truncated", pos, f"a record of {length} bytes, "
                                  f"{max(n - start, 0)} present")
        if verify and masked_crc32c(buf[start:end]) != unpack_i(buf, end)[0]:
            return spans, Problem("corrupt", pos, "data checksum mismatch")
        spans.append((start, end))
        pos = end + 4
    return spans, None


def write_record(f, data: bytes) -> None:
    """Append one record to a binary file (used by tests and the benchmark)."""
    header = struct.pack("<Q", len(data))
    f.write(header + struct.pack("<I", masked_crc32c(header)) + data
            + struct.pack("<I", masked_crc32c(data)))
