"""Run-level facts from a config file beside a log (a "sidecar") or from a run header.

Looked for, nearest first: ``<stem>.yaml``/``.yml``/``.json`` beside the log, then
``config.json``, ``config.yaml``/``.yml`` and ``hparams.yaml`` (Lightning's) in the log's
directory and each parent up to the run's directory. Keys are searched at any depth (configs
nest: ``{"model": {...}, "train": {"batch_size": 64}}``); the shallowest occurrence wins.
"""

from __future__ import annotations

import json
import numbers
from pathlib import Path

from scalelaw.io.columns import _NAMES, RUN_LEVEL
from scalelaw.io.report import Report

# run-level fact -> accepted key names; `tokens_per_step` is not a column, it derives n_tokens
_FACT_KEYS = {name: _NAMES[name] for name in RUN_LEVEL}
_FACT_KEYS["tokens_per_step"] = ["tokens_per_step", "tokens_per_iter", "tokens_per_iteration"]
_KEY_TO_FACT = {key: fact for fact, keys in _FACT_KEYS.items() for key in keys
                if "/" not in key}
SHARED_NAMES = ("config.json", "config.yaml", "config.yml", "hparams.yaml", "hparams.yml")
CONFIG_SUFFIXES = (".yaml", ".yml", ".json")


def candidates(log: Path, stem: str, run_dir: Path) -> list[Path]:
    """Sidecar paths that exist for ``log``, nearest first."""
    found = []
    for suffix in CONFIG_SUFFIXES:
        path = log.parent / (stem + suffix)
        if path != log and path.is_file():
            found.append(path)
    directory = log.parent
    while True:
        found += [directory / n for n in SHARED_NAMES if (directory / n).is_file()]
        outside = run_dir not in directory.parents
        if directory == run_dir or directory == directory.parent or outside:
            break
        directory = directory.parent
    return found


def load(source, report: Report) -> dict | None:
    """The config in ``source`` (a :class:`~scalelaw.io.sources.Source`) as a dict; None
    (reported) when it cannot be read or is not a mapping."""
    name = source.name
    try:
        text = source.read_text()
        if name.lower().endswith(".json"):
            data = json.loads(text)
        else:
            import yaml  # lazily: importing scalelaw.io stays light

            data = yaml.safe_load(text)
    except Exception as err:  # JSON/YAML/OS errors all mean "cannot use this config"
        report.skip(f"{name}: config not read ({type(err).__name__}: {err}); its run facts "
                    "are not used")
        return None
    return data if isinstance(data, dict) else None


def facts(config: dict, name: str, report: Report) -> dict:
    """Run-level facts found in ``config`` (a sidecar or a run header)."""
    found: dict[str, list] = {}

    def walk(node, path, depth):
        for key, value in node.items():
            if isinstance(value, dict):
                walk(value, f"{path}{key}.", depth + 1)
                continue
            fact = _KEY_TO_FACT.get(str(key).lower())
            if fact is None or isinstance(value, bool) or value is None:
                continue
            if isinstance(value, numbers.Number) or (isinstance(value, str) and value.strip()):
                found.setdefault(fact, []).append((depth, f"{path}{key}", value))

    walk(config, "", 0)
    out = {}
    for fact, hits in found.items():
        hits.sort(key=lambda h: h[0])
        depth, path, value = hits[0]
        out[fact] = value
        # the shallowest key wins (a header's resolved `schedule` over its config's template);
        # two different values at that depth are ambiguous, so say which one was used
        rivals = {p: v for d, p, v in hits[1:] if d == depth and v != value}
        if rivals:
            report.skip(f"{name}: {fact} given more than once ({path}={value!r}, "
                        + ", ".join(f"{p}={v!r}" for p, v in rivals.items())
                        + f"); using {path}")
    return out


def is_config_name(filename: str) -> bool:
    return filename.lower() in SHARED_NAMES
