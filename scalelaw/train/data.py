"""Batches for the trainer: random windows of byte corpora, domain mixtures, translation pairs.

Every batch is a pure function of ``(seed, step)``: the sampler draws from
``numpy.random.default_rng([seed, step])``. So a resumed run sees exactly the batches an
uninterrupted one would, a stacked model sees the same batches as the same run alone, and the
data order does not depend on the device. Validation uses fixed, evenly spaced windows of the
held-out split, the same for every run with the same ``seq_len`` and ``eval_seqs``.

The token arrays a stack of runs needs are concatenated into one tensor (uint8 bytes, or int32
BPE ids) that lives on the device (the corpora are tens of MB), so a batch is one gather there,
not a host-to-device copy of tokens.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from scalelaw.train.config import ConfigError, TrainConfig

__all__ = ["corpus_root", "TokenBank", "LMSampler", "val_windows", "PairData", "LMBatches",
           "PairBatches"]

# Steps of batch offsets made at once and sent to the device in one copy: the GPU never waits
# for the host between steps for data.
_PREFETCH = 64


def corpus_root(cfg: TrainConfig) -> Path:
    from scalelaw.train import corpora

    return Path(cfg.data_root) if cfg.data_root else Path(corpora.DEFAULT_ROOT)


class TokenBank:
    """Token arrays by ``(corpus, split)``, laid end to end; :meth:`add` gives (start, length)."""

    def __init__(self):
        self._arrays: dict[tuple[str, str], np.ndarray] = {}
        self._spans: dict[tuple[str, str], tuple[int, int]] = {}
        self.size = 0

    def add(self, cfg: TrainConfig, name: str, split: str) -> tuple[int, int]:
        key = (name, split)
        if key not in self._spans:
            from scalelaw.train import corpora

            tokens = corpora.load_tokens(name, split, corpus_root(cfg), tiny=cfg.tiny_data,
                                         tokenizer=cfg.tokenizer)
            if len(tokens) < cfg.model.seq_len + 2:
                raise ConfigError(f"corpus {name!r} ({split}) has {len(tokens)} tokens, fewer than "
                                  f"one window of seq_len={cfg.model.seq_len} + 1")
            self._arrays[key] = tokens
            self._spans[key] = (self.size, len(tokens))
            self.size += len(tokens)
        return self._spans[key]

    def tensor(self, device) -> torch.Tensor:
        """All arrays as one tensor on ``device``: uint8 for bytes, int32 for BPE ids (torch
        indexes no uint16)."""
        flat = np.concatenate([np.asarray(a) for a in self._arrays.values()])
        if flat.dtype != np.uint8:
            flat = flat.astype(np.int32)
        return torch.from_numpy(flat).to(device)

    def bytes_per_token(self, cfg: TrainConfig, name: str, split: str) -> float:
        """Bytes of text per token of ``(name, split)``: 1 for bytes; for BPE the factor that
        turns a loss in nats per token into nats per byte (divide by it)."""
        if cfg.tokenizer == "byte":
            return 1.0
        from scalelaw.train import corpora

        n_bytes = len(corpora.load_tokens(name, split, corpus_root(cfg), tiny=cfg.tiny_data))
        return n_bytes / max(self._spans[(name, split)][1], 1)


def gather_windows(bank, offsets, seq_len: int):
    """Windows ``bank[o : o + seq_len + 1]`` at ``offsets`` (any shape, long tensor on the
    bank's device) as inputs ``x`` and next-token targets ``y`` (int64, offsets' shape + (T,))."""
    idx = offsets.unsqueeze(-1) + torch.arange(seq_len + 1, device=offsets.device)
    w = bank[idx].long()
    return w[..., :-1], w[..., 1:]


class LMSampler:
    """Training windows of one run: general corpus, or a domain mixture at ratio ``r``.

    With a domain, each batch position independently comes from the domain corpus with
    probability ``r`` and from the general corpus otherwise (D-CPT's mixture); the draw is part
    of the step's random stream, so it too is reproducible.
    """

    def __init__(self, cfg: TrainConfig, bank: TokenBank):
        self.seed, self.batch, self.seq = cfg.seed, cfg.batch_size, cfg.model.seq_len
        self.general = bank.add(cfg, cfg.corpus, "train")
        self.domain = bank.add(cfg, cfg.domain, "train") if cfg.is_cpt else None
        self.ratio = cfg.mix_ratio

    def _draw(self, rng, span) -> np.ndarray:
        start, length = span
        return start + rng.integers(0, length - self.seq, size=self.batch)

    def offsets(self, step: int) -> np.ndarray:
        """(batch,) start offsets into the bank for training step ``step`` (1-based)."""
        rng = np.random.default_rng([self.seed, step])
        off = self._draw(rng, self.general)
        if self.domain is not None:
            use_domain = rng.random(self.batch) < self.ratio
            off = np.where(use_domain, self._draw(rng, self.domain), off)
        return off

    def epoch(self, n_tokens: float) -> float:
        """Passes over the training data: for a mixture, over the more-repeated corpus."""
        if self.domain is None:
            return n_tokens / self.general[1]
        return max(self.ratio * n_tokens / self.domain[1],
                   (1 - self.ratio) * n_tokens / self.general[1])


def val_windows(span: tuple[int, int], seq_len: int, n: int) -> np.ndarray:
    """``n`` evenly spaced window starts over a held-out split (fewer if it is short)."""
    start, length = span
    n = max(1, min(n, (length - 1) // seq_len))
    return start + np.linspace(0, length - seq_len - 1, n).round().astype(np.int64)


class PairData:
    """A parallel corpus split as padded (source, decoder input, target) batches.

    Source: its bytes, cut to ``seq_len``, padded with PAD. Decoder input: BOS + target bytes;
    targets: target bytes + EOS; both cut to ``seq_len``, targets padded with -1 (no loss).
    With ``trim_pairs`` each batch is cut to its longest source and target instead.
    """

    def __init__(self, cfg: TrainConfig, split: str):
        from scalelaw.train import corpora

        self.src, self.src_off, self.tgt, self.tgt_off = corpora.load_pairs(
            cfg.pairs, split, corpus_root(cfg), tiny=cfg.tiny_data)
        self.n = len(self.src_off) - 1
        if self.n < 1:
            raise ConfigError(f"parallel corpus {cfg.pairs!r} ({split}) has no pairs")
        self.seed, self.batch, self.seq = cfg.seed, cfg.batch_size, cfg.model.seq_len
        self.trim = cfg.trim_pairs

    def indices(self, step: int) -> np.ndarray:
        return np.random.default_rng([self.seed, step]).integers(0, self.n, size=self.batch)

    def val_indices(self, n: int) -> np.ndarray:
        return np.linspace(0, self.n - 1, min(n, self.n)).round().astype(np.int64)

    def arrays(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(src, tgt_in, targets), each (len(indices), seq_len) int64."""
        from scalelaw.train.encdec import BOS, EOS, PAD

        T, B = self.seq, len(indices)
        src = np.full((B, T), PAD, dtype=np.int64)
        tgt_in = np.full((B, T), PAD, dtype=np.int64)
        targets = np.full((B, T), -1, dtype=np.int64)
        for row, i in enumerate(indices):
            s = self.src[self.src_off[i]:self.src_off[i + 1]][:T]
            t = self.tgt[self.tgt_off[i]:self.tgt_off[i + 1]][:T]
            src[row, :len(s)] = s
            tgt_in[row, 0] = BOS
            tgt_in[row, 1:len(t) + 1] = t[:T - 1]
            targets[row, :len(t)] = t
            if len(t) < T:
                targets[row, len(t)] = EOS
        if self.trim:  # trim_pairs: drop the columns that are padding in every row
            s_len = max(1, int((src != PAD).sum(axis=1).max()))  # sources hold no byte 0
            t_len = int((targets != -1).sum(axis=1).max())  # >= 1: EOS or a byte in every row
            return src[:, :s_len], tgt_in[:, :t_len], targets[:, :t_len]
        return src, tgt_in, targets


def _to_device(array: np.ndarray, device: torch.device) -> torch.Tensor:
    t = torch.from_numpy(array)
    if device.type == "cuda":  # pinned memory lets the copy overlap the running kernels
        return t.pin_memory().to(device, non_blocking=True)
    return t


def _chunks(n: int, size: int):
    """(start, stop) of consecutive chunks of ``size`` covering ``range(n)``."""
    return [(i, min(i + size, n)) for i in range(0, n, size)]


class LMBatches:
    """Training and validation batches of a stack of M language-model runs, on the device.

    ``train(step)`` gives ``(x, y)`` of shape (M, B, T), row m drawn by run m's sampler.
    ``val(key)`` yields ``((x, y), n_tokens)`` chunks of the fixed held-out windows, the same for
    every model; a short last chunk is padded with targets -1 so every chunk has B rows (one
    compiled shape). Validation keys are ``(split name, corpus)``; ``splits[m]`` maps run m's
    split names to them.
    """

    def __init__(self, configs: list[TrainConfig], device: torch.device):
        cfg0 = configs[0]
        self.device, self.batch, self.seq = device, cfg0.batch_size, cfg0.model.seq_len
        bank = TokenBank()
        self.samplers = [LMSampler(cfg, bank) for cfg in configs]
        self.splits, val_spans = [], {}
        for cfg in configs:
            names = ({"val_general": cfg.corpus, f"val_{cfg.domain}": cfg.domain} if cfg.is_cpt
                     else {"val": cfg.corpus})
            self.splits.append({split: (split, corpus) for split, corpus in names.items()})
            for split, corpus in names.items():
                val_spans[(split, corpus)] = bank.add(cfg, corpus, "val")
        self.windows = {key: val_windows(span, self.seq, cfg0.eval_seqs)
                        for key, span in val_spans.items()}
        self.tokenizer = cfg0.tokenizer
        self.val_bytes_per_token = {corpus: bank.bytes_per_token(cfg0, corpus, "val")
                                    for _, corpus in val_spans}
        self.bank = bank.tensor(device)
        self._chunk, self._chunk_start = None, -1

    def train(self, step: int):
        if self._chunk is None or not 0 <= step - self._chunk_start < _PREFETCH:
            offsets = np.stack([np.stack([s.offsets(t) for s in self.samplers])
                                for t in range(step, step + _PREFETCH)])
            self._chunk, self._chunk_start = _to_device(offsets, self.device), step
        return gather_windows(self.bank, self._chunk[step - self._chunk_start], self.seq)

    def val(self, key, n_models: int):
        windows = self.windows[key]
        for start, stop in _chunks(len(windows), self.batch):
            rows = np.resize(windows[start:stop], self.batch)  # pad by repeating windows
            x, y = gather_windows(self.bank, _to_device(rows, self.device), self.seq)
            if stop - start < self.batch:
                y = y.clone()
                y[stop - start:] = -1
            size = (n_models, self.batch, self.seq)
            yield (x.expand(size), y.expand(size)), (stop - start) * self.seq

    def corpus_info(self, m: int) -> dict:
        """Sizes of run m's training data, for its log header."""
        s = self.samplers[m]
        info = {"train_corpus_tokens": s.general[1]}
        if s.domain is not None:
            info["domain_corpus_tokens"] = s.domain[1]
        if self.tokenizer != "byte":
            info["tokenizer"] = self.tokenizer
            info["val_bytes_per_token"] = {corpus: self.val_bytes_per_token[corpus]
                                           for _, corpus in self.splits[m].values()}
        return info

    def epoch(self, m: int, step: int) -> float:
        """Passes over run m's training data after ``step`` steps."""
        return self.samplers[m].epoch(step * self.batch * self.seq)


class PairBatches:
    """Training and validation batches of one encoder-decoder run: ``(src, tgt_in, targets)``
    each (1, B, T), and the number of target tokens that carry loss.

    Two validation splits on the same fixed held-out pairs: ``val`` (each target with its own
    source) and ``val_rotated`` (each target with the source of the previous held-out pair, the
    list rotated by one). Their gap is what reading the source is worth to the model: a model
    that only models the target language has ``val_rotated == val``; one that translates pays
    for the wrong source (the check of ``examples/encdec_source_check.py``, logged during
    training).
    """

    def __init__(self, cfg: TrainConfig, device: torch.device):
        self.device, self.batch = device, cfg.batch_size
        self.train_pairs = PairData(cfg, "train")
        self.val_pairs = PairData(cfg, "val")
        self.splits = [{split: (split, cfg.pairs) for split in cfg.val_splits}]
        self.val_idx = self.val_pairs.val_indices(cfg.eval_seqs)
        if len(self.val_idx) < 2 and "val_rotated" in cfg.val_splits:
            raise ConfigError(f"val_rotated needs at least 2 held-out pairs; eval_seqs="
                              f"{cfg.eval_seqs} and {cfg.pairs!r} has {self.val_pairs.n}")

    def _tensors(self, arrays):
        return tuple(_to_device(a[None], self.device) for a in arrays)

    def train_arrays(self, step: int):
        """Host arrays of step ``step`` (the loop counts their target tokens)."""
        return self.train_pairs.arrays(self.train_pairs.indices(step))

    def train(self, step: int, arrays=None):
        return self._tensors(arrays if arrays is not None else self.train_arrays(step))

    def val(self, key, n_models: int = 1):
        # val_rotated: target i gets the source of held-out pair i - 1 (pair 0 that of the last)
        src_idx = np.roll(self.val_idx, 1) if key[0] == "val_rotated" else self.val_idx
        for start, stop in _chunks(len(self.val_idx), self.batch):
            _, tgt_in, targets = self.val_pairs.arrays(np.resize(self.val_idx[start:stop],
                                                                 self.batch))
            src, _, _ = self.val_pairs.arrays(np.resize(src_idx[start:stop], self.batch))
            targets[stop - start:] = -1
            yield self._tensors((src, tgt_in, targets)), int((targets != -1).sum())

    def corpus_info(self, m: int) -> dict:
        return {"train_pairs": self.train_pairs.n,
                "train_corpus_tokens": int(self.train_pairs.tgt_off[-1])}

    def epoch(self, m: int, step: int) -> float:
        """Passes over the training pairs after ``step`` steps."""
        return step * self.batch / self.train_pairs.n
