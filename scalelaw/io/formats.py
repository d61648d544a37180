"""Format name -> reader. Adding a format is one module and one line here."""

from __future__ import annotations

from scalelaw.io import hf, lightning, nanogpt, tables, tensorboard, trainer_jsonl, wandb

READERS = {
    "csv": tables.read_csv,
    "tsv": tables.read_tsv,
    "jsonl": tables.read_jsonl,
    "json": tables.read_json,
    "parquet": tables.read_parquet,
    "tensorboard": tensorboard.read,
    "hf": hf.read,
    "lightning": lightning.read,
    "wandb": wandb.read,
    "nanogpt": nanogpt.read,
    "scalelaw": trainer_jsonl.read,
}
ALIASES = {
    "tb": "tensorboard", "tfevents": "tensorboard", "events": "tensorboard",
    "trainer_state": "hf", "huggingface": "hf", "transformers": "hf", "pl": "lightning",
    "pytorch_lightning": "lightning", "w&b": "wandb", "text": "nanogpt", "log": "nanogpt",
    "trainer": "scalelaw", "scalelaw_jsonl": "scalelaw", "ndjson": "jsonl",
}
FORMATS = tuple(READERS)


def canonical(fmt: str) -> str:
    """The reader name for ``fmt`` ("auto" stays "auto"); ValueError for unknown names."""
    key = str(fmt).strip().lower()
    if key == "auto":
        return key
    key = ALIASES.get(key, key)
    if key not in READERS:
        raise ValueError(f"format={fmt!r} is not known; expected 'auto' or one of "
                         f"{list(FORMATS)}")
    return key
