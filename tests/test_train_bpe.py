"""The optional BPE tokenizer: exact round trips, deterministic merges, shards, and training on
them (CPU, tiny corpus)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from scalelaw.train.bpe import BPE, CHUNK_PATTERN
from scalelaw.train.config import ConfigError, get_preset

TEXT = ("In the beginning God created the heaven and the earth. And the earth was without form, "
        "and void; and darkness was upon the face of the deep.\n\n").encode() * 20


def test_round_trip_is_exact_for_any_bytes():
    tok = BPE.train(TEXT, vocab_size=320)
    assert tok.vocab_size == 320 and len(tok.merges) == 64
    samples = [TEXT, "Français: l'été, déjà — 3.14159 × 2\x00next doc".encode(),
               np.random.default_rng(0).integers(0, 256, 20_000, dtype=np.uint8).tobytes(), b""]
    for data in samples:
        ids = tok.encode(data)
        assert ids.dtype == np.uint16 and tok.decode(ids) == data
    # the chunk pattern covers every byte (findall would silently skip one it did not match)
    rnd = samples[2]
    assert b"".join(CHUNK_PATTERN.findall(rnd)) == rnd


def test_merges_compress_and_follow_frequency():
    tok = BPE.train(TEXT, vocab_size=400)
    assert len(TEXT) / len(tok.encode(TEXT)) > 3  # repeated text: long tokens
    # the first merge is the most frequent adjacent pair within chunks, counted independently
    counts = {}
    for chunk in CHUNK_PATTERN.findall(TEXT):
        for pair in zip(chunk, chunk[1:]):
            counts[pair] = counts.get(pair, 0) + 1
    best = max(counts.values())
    assert tok.merges[0] == min(p for p, c in counts.items() if c == best)
    assert BPE.train(TEXT, vocab_size=400).merges == tok.merges  # deterministic
    # the document separator never merges with anything
    assert all(0 not in pair for pair in tok.merges)


def test_save_load_round_trip(tmp_path):
    tok = BPE.train(TEXT, vocab_size=300)
    again = BPE.load(tok.save(tmp_path / "bpe.json"))
    assert again.merges == tok.merges
    assert np.array_equal(again.encode(TEXT), tok.encode(TEXT))
    (tmp_path / "bad.json").write_text(json.dumps({"merges": []}))
    with pytest.raises(ValueError, match="not a scalelaw BPE tokenizer"):
        BPE.load(tmp_path / "bad.json")


def test_tokenizer_config_is_checked():
    cfg = get_preset("tiny", tokenizer="bpe512")
    assert cfg.model.vocab == 512 and cfg.run_name.endswith("_bpe512")  # vocab follows
    with pytest.raises(ConfigError, match="tokenizer must be 'byte' or 'bpe<V>'"):
        get_preset("tiny", tokenizer="wordpiece")
    with pytest.raises(ConfigError, match="has 512 tokens but the model's vocab is 300"):
        get_preset("tiny", tokenizer="bpe512", vocab=300)
    with pytest.raises(ConfigError, match="encoder-decoder pairs are byte-level"):
        get_preset("tiny-encdec", tokenizer="bpe512")


def test_training_on_bpe_shards(shards, tmp_path, one_thread):
    pytest.importorskip("torch")
    from scalelaw.train import corpora
    from scalelaw.train.loop import train

    ratios = corpora.build_bpe(300, shards, tiny=True, names=["general"])
    assert ratios["general/val"] > 1.2  # fewer tokens than bytes
    tokens = corpora.load_tokens("general", "val", shards, tiny=True, tokenizer="bpe300")
    tok = BPE.load(corpora.bpe_path(shards, tiny=True, vocab_size=300))
    raw = corpora.load_tokens("general", "val", shards, tiny=True)
    assert tokens.dtype == np.uint16 and tok.decode(tokens) == bytes(raw)

    cfg = get_preset("tiny", tokenizer="bpe300", n_steps=30, device="cpu",
                     data_root=str(shards), out_dir=str(tmp_path))
    result, = train(cfg, progress=False)
    lines = open(result["path"]).read().splitlines()
    header = json.loads(lines[0])["header"]
    assert header["config"]["model"]["vocab"] == 300 and header["tokenizer"] == "bpe300"
    assert header["val_bytes_per_token"]["general"] == pytest.approx(ratios["general/val"])
    val = [json.loads(line)["loss"] for line in lines[1:] if json.loads(line)["split"] == "val"]
    assert val[0] == pytest.approx(np.log(300), abs=0.3) and val[-1] < val[0] - 1.0
    # a tokenizer that was not built names the command that builds it
    with pytest.raises(FileNotFoundError, match="scalelaw data bpe --vocab 512 --tiny"):
        train(get_preset("tiny", tokenizer="bpe512", n_steps=2, device="cpu",
                         data_root=str(shards), out_dir=str(tmp_path)), progress=False)
