"""nanoGPT-style text logs (what ``train.py`` prints).

``step N: train loss X, val loss Y`` (every ``eval_interval``: losses averaged over
``eval_iters`` batches) gives splits ``train`` and ``val``; ``iter N: loss X, time T ms, mfu
M%`` (every ``log_interval``) is the loss of one batch, split ``train``, or ``train_batch``
when the log also has ``step`` lines, so the two never collide. ``tokens per iteration will
be: K`` gives ``n_tokens = step x K``.

Parameters: ``number of parameters: P M`` is nanoGPT's ``get_num_params()``, which subtracts
only the position embeddings; the token embedding (tied to the LM head) is still in it. So
``n_params`` (non-embedding) = P - vocab x n_embd, exact when the log also has the optimiser's
``num decayed/non-decayed parameter tensors: ..., with K parameters`` lines (their sum is
``n_params_total``) and block_size: total - (vocab + block_size) x n_embd. The vocabulary comes
from ``found vocab_size = V`` (or GPT-2's default), n_embd and block_size from the config lines
nanoGPT prints (``n_embd = 384``, ``Overriding: n_embd = 384``). Without n_embd or the
vocabulary, ``n_params`` is P and a warning says it includes the token embedding.
"""

from __future__ import annotations

import re

import pandas as pd

from scalelaw.io.options import Options, Parsed
from scalelaw.io.report import Report
from scalelaw.io.sources import NotALog, Source

_NUMBER = r"([-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|nan|inf))"
_EVAL = re.compile(rf"^step (\d+): train loss {_NUMBER}, val loss {_NUMBER}", re.IGNORECASE)
_ITER = re.compile(rf"^iter (\d+): loss {_NUMBER}", re.IGNORECASE)
_STARTS = re.compile(r"^(step|iter) \d+:")
_TOKENS = re.compile(r"tokens per iteration will be: ([\d,]+)")
_PARAMS = re.compile(r"number of parameters: ([\d.]+)M")
_TENSORS = re.compile(r"num (non-)?decayed parameter tensors: \d+, with ([\d,]+) parameters")
_VOCAB = re.compile(r"(?:found vocab_size = |defaulting to vocab_size of GPT-2 to )(\d+)")
_SETTING = re.compile(r"^(?:Overriding: )?(n_embd|block_size)\s*=\s*(\d+)\s*(?:#.*)?$")


def looks_like(text: str) -> bool:
    """At least one eval or iter line among the first lines."""
    return any(_EVAL.match(line.strip()) or _ITER.match(line.strip())
               for line in text.splitlines()[:500])


def read(source: Source, opts: Options, report: Report) -> Parsed:
    evals, iters, header = [], [], {}
    for lineno, raw in enumerate(source.read_text().splitlines(), start=1):
        line = raw.strip()
        if (match := _EVAL.match(line)) is not None:
            step = int(match[1])
            evals.append((step, "train", float(match[2]), lineno))
            evals.append((step, "val", float(match[3]), lineno))
        elif (match := _ITER.match(line)) is not None:
            iters.append((int(match[1]), float(match[2]), lineno))
        elif _STARTS.match(line):
            report.skip(f"{source.name}:{lineno}: looks like a loss line but does not parse "
                        f"({line[:60]!r}); line skipped")
        elif (match := _TOKENS.search(line)) is not None:
            header["tokens_per_step"] = int(match[1].replace(",", ""))
        elif (match := _PARAMS.search(line)) is not None:
            header["n_params_reported"] = float(match[1]) * 1e6
        elif (match := _TENSORS.search(line)) is not None:
            header["non_decayed" if match[1] else "decayed"] = int(match[2].replace(",", ""))
        elif (match := _VOCAB.search(line)) is not None:
            header["vocab_size"] = int(match[1])
        elif (match := _SETTING.match(line)) is not None:
            header[match[1]] = int(match[2])
    if not evals and not iters:
        raise NotALog(f"{source.name}: no 'step N: train loss X, val loss Y' or "
                      "'iter N: loss X' lines")
    iter_split = opts.split or ("train_batch" if evals else "train")
    rows = evals + [(step, iter_split, loss, lineno) for step, loss, lineno in iters]
    frame = pd.DataFrame(rows, columns=["step", "split", "loss", "_row"])
    factors = {split: opts.units.factor(opts.units.unit_for("loss", split, None)[0])
               for split in frame["split"].unique()}
    if any(f != 1.0 for f in factors.values()):
        frame["loss"] = frame["loss"] * frame["split"].map(factors)
    facts = _param_facts(header, source.name, report)
    if "tokens_per_step" in header:
        facts["tokens_per_step"] = header["tokens_per_step"]
    return Parsed(frame, headers={None: header} if header else {}, facts={None: facts},
                  columns={"step N: train loss": "train/loss", "step N: val loss": "val/loss",
                           "iter N: loss": f"{iter_split}/loss"})


def _param_facts(header: dict, name: str, report: Report) -> dict:
    """n_params (non-embedding) and n_params_total from what the log printed (module docstring)."""
    facts = {}
    total = header.get("decayed", 0) + header.get("non_decayed", 0) \
        if "decayed" in header and "non_decayed" in header else None
    if total:
        facts["n_params_total"] = total
    vocab, width, block = header.get("vocab_size"), header.get("n_embd"), header.get("block_size")
    if total and vocab and width and block:
        facts["n_params"] = total - (vocab + block) * width
    elif "n_params_reported" in header and vocab and width:
        facts["n_params"] = header["n_params_reported"] - vocab * width
    elif "n_params_reported" in header:
        facts["n_params"] = header["n_params_reported"]
        missing = " and ".join(w for w, v in (("n_embd", width), ("the vocabulary size", vocab)) if not v)
        report.skip(f"{name}: n_params = {facts['n_params']:.4g} is nanoGPT's 'number of parameters', "
                    f"which includes the token embedding ({missing} not in the log, so it cannot be "
                    "subtracted); pass metadata={run: {'n_params': ...}} for the non-embedding count")
    return facts
