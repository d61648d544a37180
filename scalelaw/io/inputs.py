"""Turn what the user passed (paths, directories, globs, uploads) into log entries, each with
the run name its path gives and its sidecar configs; report every other file found.

Run names. The content names runs where it can (a ``run`` column, a W&B export, our trainer's
header). Otherwise the path does, by one rule, the same whether a file is given alone, matched
by a glob or found in a folder read:

* a log with a specific file name is the run of that name: ``runs/a.csv`` -> ``a``,
  ``runs/grid/lr1.csv`` -> ``lr1``;
* a log with a generic name (``metrics.csv``, ``trainer_state.json``, ``train.log``, TensorBoard
  event files; :data:`~scalelaw.io.sources.GENERIC_STEMS`) is named after the nearest folder
  above it whose name is not generic either (``checkpoint-N``, ``version_N``,
  ``lightning_logs``, ``logs``, Keras's ``train``/``validation``;
  :data:`~scalelaw.io.sources.GENERIC_DIRS`): ``out/gpt/checkpoint-60/trainer_state.json`` ->
  ``gpt``, ``runs/a/version_0/metrics.csv`` -> ``a``;
* the generic logs below one run folder are one run (a resumed run's event files, Lightning
  versions, HF checkpoint copies); logs from different places that get the same name are
  different runs: the second is named ``name#2`` and a warning says so (pass ``run=`` to name
  them);
* an upload: its stem.

Sidecar configs are looked for from the log's folder up to its run folder.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from scalelaw.io import sidecar
from scalelaw.io.formats import CONFIG, EMPTY, detect, own_file
from scalelaw.io.report import Report
from scalelaw.io.sources import GENERIC_DIRS, Source, from_object


@dataclass
class Entry:
    """One log to read.

    Attributes
    ----------
    source : Source
    arg : int
        Index of the input it came from.
    group : tuple
        Entries with the same ``(arg, group)`` belong to one run (when the content does not name
        runs); runs from different groups never merge.
    run : str
        The run name its path gives.
    fmt : str or None
        Its format, when already known (detected while walking a directory, or given).
    explicit : bool
        Named by the user: problems raise. Found in a directory: problems skip the file.
    sidecars : list of Source
        Config files whose run facts apply, nearest first.
    """

    source: Source
    arg: int
    group: tuple
    run: str
    fmt: str | None = None
    explicit: bool = True
    sidecars: list = field(default_factory=list)


def as_list(path_or_paths) -> list:
    """The inputs as a list (one path, bytes or file object is a list of one)."""
    single = (str, os.PathLike, bytes, bytearray, memoryview)
    if isinstance(path_or_paths, single) or hasattr(path_or_paths, "read") \
            or hasattr(path_or_paths, "getvalue"):
        return [path_or_paths]
    if hasattr(path_or_paths, "columns") and hasattr(path_or_paths, "iloc"):
        # a DataFrame iterates over its column names, which were then looked up as files ("run: no such file")
        raise TypeError("read_logs reads files (paths, globs, folders, uploads); this is a DataFrame, already a "
                        "table: give it to sl.fit / sl.final_points as it is")
    if isinstance(path_or_paths, Mapping) or not hasattr(path_or_paths, "__iter__"):
        raise TypeError(f"read_logs takes a path, a glob, a folder, a file object or a list of them; got "
                        f"{type(path_or_paths).__name__}")
    items = list(path_or_paths)
    if not items:
        raise ValueError("read_logs: no paths given")
    return items


def collect(items: list, fmt: str, report: Report) -> list[Entry]:
    """Entries for every log among ``items``; other files found in directories are reported."""
    entries: list[Entry] = []
    uploads: list[Entry] = []
    for arg, item in enumerate(items):
        if isinstance(item, (str, os.PathLike)):
            entries += _from_path(item, arg, fmt, report)
        else:
            source = from_object(item, arg + 1)
            uploads.append(Entry(source, arg, (arg, source.name), source.stem))
    if uploads:
        entries += _uploads(uploads, report)
    return entries


def not_regular(path: Path) -> str | None:
    """Why ``path`` cannot be read as a file (a broken or looping link, a FIFO, a socket, no
    permission), or None for a readable regular file. Opening a FIFO would wait forever."""
    import stat

    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "a broken symbolic link (its target does not exist)" if os.path.islink(path) else "it vanished"
    except OSError as err:  # ELOOP: a link that points at itself; EACCES ...
        return f"cannot be opened ({err.strerror or err})"
    if stat.S_ISDIR(mode) or stat.S_ISREG(mode):
        if stat.S_ISREG(mode) and not os.access(path, os.R_OK):
            return "no permission to read it"
        return None
    kind = "a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
    return f"{kind}, not a regular file"


def _from_path(item, arg: int, fmt: str, report: Report) -> list[Entry]:
    text = os.path.expanduser(os.fspath(item))
    path = Path(text)
    why = not_regular(path) if os.path.lexists(path) else None
    if why is not None:
        raise ValueError(f"{text}: cannot read logs from it: {why}")
    if path.is_file():
        return [_file_entry(path, text, arg)]
    if path.is_dir():
        return _directory(path, text, arg, fmt, report)
    if any(ch in text for ch in "*?["):
        matches = sorted(glob.glob(text, recursive=True))
        if not matches:
            raise FileNotFoundError(f"{text}: no file matches this pattern")
        out = []
        for match in matches:
            out += _from_path(match, arg, fmt, report)
        return out
    raise FileNotFoundError(f"{text}: no such file or directory")


def _family(kind: str) -> str:
    # formats that are the same container read by a more specific reader
    return {"lightning": "csv", "wandb": "csv", "scalelaw": "jsonl"}.get(kind, kind)


def run_of(path: Path, source: Source) -> tuple[str, Path]:
    """The run name a log's path gives and the run folder (module docstring's rule)."""
    folder = path.resolve().parent
    if not source.is_generic:
        return source.stem, folder
    while GENERIC_DIRS.match(folder.name) and folder.parent != folder:
        folder = folder.parent
    return folder.name or source.stem, folder


def _sidecars(path: Path, shown: str, stem: str, run_dir: Path) -> list[Source]:
    """Config files for the log at ``path`` (shown as ``shown``), named as the user wrote it."""
    log = path.resolve()
    return [Source(os.path.normpath(os.path.join(os.path.dirname(shown), os.path.relpath(c, log.parent))), c)
            for c in sidecar.candidates(log, stem, run_dir)]


def _file_entry(path: Path, name: str, arg) -> Entry:
    source = Source(name, path)
    run, folder = run_of(path, source)
    return Entry(source, arg, (arg, name), run, sidecars=_sidecars(path, name, source.stem, folder))


def _natural(name: str) -> list:
    # numbers compare as numbers: event files `...vm.41.9` before `...vm.41.10`, and
    # `checkpoint-900` before `checkpoint-1000`, so reading order is logging order
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _walk(root: Path) -> list[Path]:
    files = []
    for directory, subdirs, names in os.walk(root):
        # hidden folders (.git, .ipynb_checkpoints) and caches hold no logs
        subdirs[:] = sorted((d for d in subdirs if not d.startswith(".") and d != "__pycache__"),
                            key=_natural)
        # os.walk does not follow links to folders (so nothing loops); list them so they are reported
        files += [Path(directory) / d for d in subdirs if os.path.islink(os.path.join(directory, d))]
        files += [Path(directory) / n for n in sorted(names, key=_natural)
                  if not n.startswith(".")]
    return files


def _directory(root: Path, shown: str, arg: int, fmt: str, report: Report) -> list[Entry]:
    base = (arg, shown)  # group keys start with the directory, so two inputs never merge
    logs, configs = [], []
    for path in _walk(root):
        rel = path.relative_to(root)
        source = Source(os.path.join(shown, *rel.parts), path)
        why = not_regular(path)
        if why is None and path.is_dir():
            why = "a symbolic link to a folder (not followed, so links cannot loop; pass that folder itself)"
        if why is not None:
            report.skip(f"{source.name}: skipped: {why}")
            continue
        try:
            kind, why = detect(source)
        except OSError as err:
            report.skip(f"{source.name}: skipped: cannot be read ({err.strerror or err})")
            continue
        own = own_file(source, kind)
        if own is not None:
            report.ignore(f"{source.name}: {own}")
        elif kind == EMPTY:
            report.skip(f"{source.name}: skipped: empty file")
        elif kind == CONFIG:
            configs.append(source)
        elif kind is None:
            report.skip(f"{source.name}: skipped: {why}")
        elif fmt != "auto" and _family(kind) != _family(fmt):
            report.skip(f"{source.name}: skipped: not a {fmt} log (it reads as {kind})")
        else:
            logs.append((source, rel, kind if fmt == "auto" else fmt))
    if not logs:
        ignored = "".join(f"; {m}" for m in report.ignored)
        raise FileNotFoundError(f"{shown}: no logs found in this directory "
                                f"({len(configs)} config files{ignored}; see warnings for the rest)")
    entries = []
    for source, rel, kind in logs:
        run, folder = run_of(source.path, source)
        # generic logs of one run folder are one run; a specific name is a run of its own
        group = (*base, str(folder)) if source.is_generic else (*base, rel.as_posix())
        entries.append(Entry(source, arg, group, run, kind, False))
    entries = _newest_hf_copies(entries, report)
    used = set()
    for entry in entries:
        run_dir = Path(entry.group[-1]) if entry.source.is_generic else entry.source.path.resolve().parent
        found = sidecar.candidates(entry.source.path.resolve(), entry.source.stem, run_dir)
        for config in found:
            shown_config = os.path.join(shown, os.path.relpath(config, root.resolve()))
            entry.sidecars.append(Source(os.path.normpath(shown_config), config))
            used.add(config)
    for config in configs:
        if config.path.resolve() not in used:
            report.skip(f"{config.name}: skipped: a config file that is not beside any log "
                        "(a sweep spec?)")
    return entries


def _newest_hf_copies(entries: list[Entry], report: Report) -> list[Entry]:
    """Keep one ``trainer_state.json`` per run: HF saves a copy in every checkpoint folder,
    each a prefix of the next, so reading all of them only repeats steps."""
    from scalelaw.io import hf

    by_group: dict[tuple, list[Entry]] = {}
    for entry in entries:
        if entry.fmt == "hf":
            by_group.setdefault(entry.group, []).append(entry)
    drop = set()
    for group in by_group.values():
        if len(group) < 2:
            continue
        try:
            reach = {id(e): hf.global_step(e.source) for e in group}
        except ValueError:
            continue  # an unreadable copy: read them all and let the reader report it
        best = max(group, key=lambda e: (reach[id(e)], -len(e.source.path.parts)))
        for entry in group:
            if entry is not best:
                drop.add(id(entry))
                report.skip(f"{entry.source.name}: skipped: an older copy of run {entry.run!r}'s"
                            f" history ({best.source.name} reaches step {reach[id(best)]})")
    return [e for e in entries if id(e) not in drop]


def _uploads(uploads: list[Entry], report: Report) -> list[Entry]:
    """Uploaded configs act as sidecars for uploaded logs with the same stem (or for all,
    when named ``config.*``/``hparams.yaml``)."""
    logs, configs = [], []
    for entry in uploads:
        kind, _ = detect(entry.source)
        (configs if kind == CONFIG else logs).append(entry)
    if not logs:
        return uploads  # let the reader raise its clear error on the first one
    used = set()
    for entry in logs:
        for config in configs:
            if config.source.stem == entry.source.stem or \
                    sidecar.is_config_name(config.source.filename):
                entry.sidecars.append(config.source)
                used.add(id(config))
    for config in configs:
        if id(config) not in used:
            report.skip(f"{config.source.name}: skipped: a config file that matches no log")
    return logs
