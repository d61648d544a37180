"""A small byte-level BPE tokenizer, trained locally (optional; bytes are the default).

Byte-pair encoding (Sennrich et al. 2016, arXiv:1508.07909) in its byte-level form (GPT-2,
Radford et al. 2019): start from the 256 byte values, then repeatedly merge the most frequent
adjacent pair into a new token until the vocabulary has ``vocab_size`` tokens. Merges never
cross chunk boundaries: text is first split into chunks (a word with its leading space, a run of
digits, a run of other symbols, whitespace), so tokens are pieces of words, and byte 0, the
corpora's document separator, stays a token of its own. Every byte sequence encodes, and
``decode(encode(b)) == b`` exactly.

Training counts the distinct chunks once and keeps, for each pair, its count and the chunks it
occurs in, so a merge touches only those chunks (not the whole corpus). Ties go to the smaller
pair, so the merges are a pure function of the text.

>>> tok = BPE.train(b"the cat the hat the bat " * 50, vocab_size=260)
>>> len(tok.merges), tok.decode(tok.encode(b"the rat")) == b"the rat"
(4, True)
"""

from __future__ import annotations

import heapq
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np

__all__ = ["BPE", "CHUNK_PATTERN"]

# a letter run with its leading space, a digit run, a symbol run (bytes >= 0x80, i.e. UTF-8 of
# non-ASCII letters, count as symbols here), whitespace, or the NUL document separator alone
CHUNK_PATTERN = re.compile(rb"\x00| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9\x00]+|\s+")


def _chunks(data: bytes) -> list[bytes]:
    return CHUNK_PATTERN.findall(data)


class BPE:
    """A trained tokenizer: ``merges[i]`` is the pair of token ids that make token ``256 + i``."""

    def __init__(self, merges: list[tuple[int, int]]):
        self.merges = [(int(a), int(b)) for a, b in merges]
        self.ranks = {pair: i for i, pair in enumerate(self.merges)}
        self.vocab_size = 256 + len(self.merges)
        if self.vocab_size > 65536:
            raise ValueError(f"BPE vocabulary {self.vocab_size} does not fit uint16 tokens")
        self.pieces = [bytes([i]) for i in range(256)]
        for a, b in self.merges:
            if not (a < len(self.pieces) and b < len(self.pieces)):
                raise ValueError(f"merge {(a, b)} refers to a token not yet made")
            self.pieces.append(self.pieces[a] + self.pieces[b])
        self._cache: dict[bytes, list[int]] = {}

    # -- training --------------------------------------------------------------------------------
    @classmethod
    def train(cls, data: bytes, vocab_size: int) -> "BPE":
        """Learn ``vocab_size - 256`` merges from ``data``."""
        if vocab_size < 256:
            raise ValueError(f"vocab_size must be >= 256 (the bytes), got {vocab_size}")
        counts = Counter(_chunks(data))
        words = [list(w) for w in counts]
        freqs = list(counts.values())
        pair_count: Counter = Counter()
        where: dict[tuple[int, int], set[int]] = {}
        for i, (word, f) in enumerate(zip(words, freqs)):
            for pair in zip(word, word[1:]):
                pair_count[pair] += f
                where.setdefault(pair, set()).add(i)
        heap = [(-c, pair) for pair, c in pair_count.items()]
        heapq.heapify(heap)
        merges = []
        while len(merges) < vocab_size - 256 and heap:
            neg, pair = heapq.heappop(heap)
            if pair_count.get(pair, 0) != -neg or -neg <= 0:
                continue  # a stale entry: the count changed since it was pushed
            new = 256 + len(merges)
            merges.append(pair)
            changed: set[tuple[int, int]] = set()
            for i in sorted(where.pop(pair, ())):
                word, f = words[i], freqs[i]
                for old in zip(word, word[1:]):
                    pair_count[old] -= f
                    changed.add(old)
                merged, j = [], 0
                while j < len(word):
                    if j + 1 < len(word) and (word[j], word[j + 1]) == pair:
                        merged.append(new)
                        j += 2
                    else:
                        merged.append(word[j])
                        j += 1
                words[i] = merged
                for p in zip(merged, merged[1:]):
                    pair_count[p] += f
                    where.setdefault(p, set()).add(i)
                    changed.add(p)
            pair_count.pop(pair, None)
            for p in changed:
                if pair_count.get(p, 0) > 0 and p != pair:
                    heapq.heappush(heap, (-pair_count[p], p))
        return cls(merges)

    # -- encoding --------------------------------------------------------------------------------
    def _encode_chunk(self, chunk: bytes) -> list[int]:
        ids = self._cache.get(chunk)
        if ids is None:
            ids = list(chunk)
            while len(ids) > 1:
                none = len(self.ranks)  # rank of a pair that is not a merge
                rank, k = min((self.ranks.get(p, none), k) for k, p in enumerate(zip(ids, ids[1:])))
                if rank == none:
                    break
                ids[k:k + 2] = [256 + rank]
            self._cache[chunk] = ids
        return ids

    def encode(self, data: bytes) -> np.ndarray:
        """Token ids of ``data`` (uint16)."""
        out: list[int] = []
        for chunk in _chunks(data):
            out += self._encode_chunk(chunk)
        return np.asarray(out, dtype=np.uint16)

    def decode(self, ids) -> bytes:
        return b"".join(self.pieces[int(i)] for i in ids)

    # -- files -----------------------------------------------------------------------------------
    def save(self, path) -> Path:
        from scalelaw.atomic import atomic_write_text  # a tokenizer half written would break every run after

        path = Path(path)
        atomic_write_text(path, json.dumps({"format": "scalelaw-bpe/1", "vocab_size": self.vocab_size,
                                            "merges": self.merges}), "tokenizer file")
        return path

    @classmethod
    def load(cls, path) -> "BPE":
        path = Path(path)
        doc = json.loads(path.read_text())
        if doc.get("format") != "scalelaw-bpe/1":
            raise ValueError(f"{path} is not a scalelaw BPE tokenizer (scalelaw-bpe/1)")
        return cls([tuple(m) for m in doc["merges"]])
