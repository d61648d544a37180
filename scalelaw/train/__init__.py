"""The bundled small-LM trainer: byte-level GPT and encoder-decoder models, sweeps, logs.

Importing ``scalelaw.train`` is light (no torch): the names below load on first use.

- :mod:`~scalelaw.train.config`: ``TrainConfig``/``ModelConfig`` dataclasses, ``PRESETS``,
  ``get_preset``, checked overrides (no torch).
- :mod:`~scalelaw.train.model` (GPT), :mod:`~scalelaw.train.encdec` (encoder-decoder),
  :mod:`~scalelaw.train.stacked` (M same-shape GPTs as one module, per-model AdamW).
- :mod:`~scalelaw.train.loop`: ``train(cfg)`` or ``train([cfg, ...])`` (stacked).
- :mod:`~scalelaw.train.sweep`: grid specs, packing, ``run_sweep``, ``index.csv``.
- :mod:`~scalelaw.train.corpora`: building and loading the byte-level corpora.
- :mod:`~scalelaw.train.cli`: ``scalelaw data|train|sweep`` (``python -m scalelaw.train``).

Examples
--------
>>> from scalelaw.train import get_preset
>>> get_preset("tiny").counts()["N"]
98624
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "TrainConfig": "scalelaw.train.config",
    "ModelConfig": "scalelaw.train.config",
    "ConfigError": "scalelaw.train.config",
    "PRESETS": "scalelaw.train.config",
    "get_preset": "scalelaw.train.config",
    "train": "scalelaw.train.loop",
    "run_sweep": "scalelaw.train.sweep",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'scalelaw.train' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
