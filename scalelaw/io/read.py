"""``read_logs``: every supported log format into the tidy curve schema (DESIGN §4)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from scalelaw.io import formats, sidecar
from scalelaw.io.columns import check_mapping
from scalelaw.io.formats import CONFIG, EMPTY, detect
from scalelaw.io.inputs import Entry, as_list, collect
from scalelaw.io.options import Options
from scalelaw.io.report import Report
from scalelaw.io.schema import clean_rows, dedupe_and_sort, finish, map_values, to_number
from scalelaw.io.sources import NotALog
from scalelaw.io.units import UnitPolicy

_EXPECTED = ("CSV/TSV, JSONL, JSON rows, Parquet, a TensorBoard event file, a Hugging Face "
             "trainer_state.json, a Lightning metrics.csv, a W&B CSV export, a nanoGPT text log "
             "or a scalelaw trainer JSONL")


def read_logs(path_or_paths, format: str = "auto", *, columns=None, run=None, metadata=None,
              loss_unit="nats", split: str | None = None, batch_size=None, seq_len=None,
              bytes_per_token: float | None = None, verify_crc: bool = False) -> pd.DataFrame:
    """Read loss logs into the tidy curve schema: one row per (run, step, split).

    Parameters
    ----------
    path_or_paths : path, directory, glob, bytes, file-like, or a list of them
        A file, a directory (every log in it is read; other files are skipped and reported),
        a glob pattern, an upload (an object with ``.name`` and ``.getvalue()`` or ``.read()``,
        e.g. Streamlit's ``UploadedFile``), raw bytes, or a list of any of these.
    format : str
        ``"auto"`` (detected from the content), or one of ``"csv"``, ``"tsv"``, ``"jsonl"``,
        ``"json"``, ``"parquet"``, ``"tensorboard"``, ``"hf"``, ``"lightning"``, ``"wandb"``,
        ``"nanogpt"``, ``"scalelaw"`` (our trainer's JSONL).
    columns : dict, optional
        Your column (or TensorBoard tag, or W&B metric) -> schema column, e.g.
        ``{"global_step": "step", "eval_loss": "loss"}``. A loss target may name its split:
        ``"val/loss"``, ``"val_code/loss"``; plain ``"loss"`` takes the split from the column's
        name (``eval_loss`` -> ``val``) or from ``split``. ``None`` leaves a column out. Names
        not mapped are guessed (see :func:`guess_columns`).
    run : str, list of str or dict, optional
        Run names: one name (for one input holding one run), one per input, or a mapping
        ``{name read: new name}``. By default runs are named from the content (a ``run``
        column, W&B run names, trainer headers) or else from the path (the file stem; the
        directory for generic names like ``metrics.csv``; the sub-directory inside a directory).
    metadata : dict, optional
        Run-level facts added as columns: ``{run: {"n_params": ..., "schedule": ...}}`` or one
        dict for every run. They override values read from files (with a warning where they
        differ). ``tokens_per_step`` is accepted and used only to derive ``n_tokens``.
    loss_unit : str or dict
        Unit the losses are logged in: ``"nats"`` (default), ``"bits"``, ``"bits_per_byte"``,
        ``"nats_per_byte"``; or a mapping from split (or source column) to unit. Losses are
        converted to nats per token (bits x ln 2). A loss whose column name says bits
        (``loss_bits``, ``val/bpb``) while its declared unit is nats raises: units are never
        guessed.
    split : str, optional
        Split of losses whose log names none (a bare ``loss`` column or tag, nanoGPT ``iter``
        lines). Default ``"train"`` (a directory named ``validation`` for TensorBoard tags).
    batch_size, seq_len : int or dict, optional
        Sequences per optimiser step and tokens per sequence, for all runs or per run. Added
        as columns; ``n_tokens = step * batch_size * seq_len`` is derived where the log gives
        no token count. Never guessed: without them (or a sidecar config, header or
        ``tokens_per_step``) there is no ``n_tokens``.
    bytes_per_token : float, optional
        Needed with per-byte units (1 for byte-level models).
    verify_crc : bool
        Verify TensorBoard record checksums (pure Python: slower). Truncation is detected
        either way.

    Returns
    -------
    DataFrame
        Columns ``run, step, split, loss`` (str, int64, str, float64), then whichever of
        ``n_tokens, lr, n_params, n_params_total, n_enc_params, n_dec_params, flops, epoch,
        schedule, batch_size, seq_len, domain, mix_ratio`` are known, then other columns of a
        table already in long form (e.g. ``lang``) and metadata keys. Our trainer's logs also
        get ``flops_with_head``: ``n_tokens`` times the training FLOPs per token with the tied LM
        head (``count_params(...)["flops_per_token_with_head"]`` from the header's model config;
        the logged ``flops`` leaves the head out, Kaplan's convention). Sorted by run, split,
        step. ``df.attrs`` holds:

        - ``"skipped"``: every message also warned as :class:`ReadLogsWarning`, each naming the
          file (and line or byte offset) and what was skipped, replaced or ignored, and why;
        - ``"headers"``: run -> header dict (our trainer's JSONL header, HF trainer state,
          nanoGPT's tokens per iteration ...);
        - ``"sources"``: file -> format read; ``"columns"``: file -> {source name: target}.

    Raises
    ------
    FileNotFoundError
        A path that does not exist, or a directory holding no log.
    ValueError
        A file given directly that is empty, not a recognised format, or has no loss or step
        column (the message names the file, its columns and the ``columns=`` to pass); units
        that contradict a column's name; runs that ``run=`` cannot name.

    Notes
    -----
    Rows with a NaN or infinite loss are dropped and reported. When a (run, step, split)
    appears more than once (a resumed run logs steps again) the last logged row is kept and the
    repeat is reported. Runs read from different files (or sub-directories) are never merged:
    a name already taken gets a suffix ``#2``, ``#3`` ... and a warning says so; the files of
    one run directory (several event files, Lightning versions) are one run.

    Examples
    --------
    >>> import scalelaw as sl
    >>> df = sl.read_logs("runs/")                                   # doctest: +SKIP
    >>> df = sl.read_logs("trainer_state.json", run="gpt-small",
    ...                   batch_size=64, seq_len=512)                # doctest: +SKIP
    """
    report = Report()
    try:
        return _read(path_or_paths, format, columns, run, metadata, loss_unit, split,
                     batch_size, seq_len, bytes_per_token, verify_crc, report)
    finally:
        report.emit(stacklevel=3)  # warn, emit, read_logs: the caller's line


def _read(path_or_paths, fmt, columns, run, metadata, loss_unit, split, batch_size, seq_len,
          bytes_per_token, verify_crc, report: Report) -> pd.DataFrame:
    opts = Options(columns=check_mapping(columns), split=split,
                   units=UnitPolicy(loss_unit, bytes_per_token), verify_crc=bool(verify_crc))
    fmt = formats.canonical(fmt)
    items = as_list(path_or_paths)
    per_input = _run_names_per_input(run, items)
    entries = collect(items, fmt, report)

    runs = _Runs()
    frames, sources, formats_read, used_columns = [], [], {}, {}
    for entry in entries:
        parsed, kind = _read_entry(entry, fmt, opts, report)
        if parsed is None:
            continue
        frame = runs.name(parsed, entry, per_input.get(entry.arg), report)
        frame["_src"] = len(sources)
        sources.append(entry.source.name)
        formats_read[entry.source.name] = kind
        used_columns[entry.source.name] = parsed.columns
        frames.append(frame)
    if not frames:
        raise ValueError("no logs could be read: " + "; ".join(report.messages))
    missing = set(opts.columns) - opts.seen
    if missing:
        report.skip(f"columns= names {sorted(missing)}, which no file read has")

    df = pd.concat(frames, ignore_index=True, sort=False)
    if isinstance(run, Mapping):
        df = runs.rename(df, run)
    df = _apply_user_facts(df, batch_size, seq_len, metadata, runs.tokens_per_step, report)
    df = _derive_tokens(df, runs.tokens_per_step)
    df = dedupe_and_sort(df, sources, report)
    if df.empty:
        raise ValueError(_no_usable_rows(sources, report.messages))
    df = finish(df)
    df.attrs["skipped"] = list(report.messages)
    df.attrs["ignored"] = list(report.ignored)
    df.attrs["headers"] = {k: v for k, v in runs.headers.items() if k in set(df["run"])}
    df.attrs["sources"] = formats_read
    df.attrs["columns"] = used_columns
    return df


def _no_usable_rows(sources: list[str], messages: list[str]) -> str:
    """The error when every row was dropped; with one file its name is said once, not again
    at the head of each reason."""
    reasons = list(messages)
    if len(sources) == 1:
        name = sources[0]
        reasons = [("line " + m[len(name) + 1:]) if re.match(re.escape(name) + r":\d+:", m)
                   else m[len(name) + 2:] if m.startswith(name + ": ") else m for m in reasons]
    why = "; ".join(reasons) or "no row has both a step and a loss"
    return f"no usable rows in {', '.join(sources)}: {why}"


class _Runs:
    """Names the runs of each file read and gathers what is known about each run.

    Runs of different groups (files, run directories) never merge: a name already taken by
    another group gets a numeric suffix. Headers and run facts follow the final names.
    """

    def __init__(self) -> None:
        self.owners: dict[str, tuple] = {}     # final name -> group that took it
        self.renames: dict[tuple, str] = {}    # (group, name read) -> final name
        self.headers: dict[str, dict] = {}
        self.tokens_per_step: dict[str, float] = {}

    def name(self, parsed, entry: Entry, given: str | None, report: Report) -> pd.DataFrame:
        """The file's rows with their final run names and run facts filled in."""
        frame = parsed.frame
        if "run" not in frame.columns:
            frame = frame.assign(run=entry.run)
        unnamed = frame["run"].isna() | (frame["run"].astype("str").str.strip() == "")
        if unnamed.any():
            report.skip(f"{entry.source.name}: {int(unnamed.sum())} rows name no run; they "
                        f"are given the file's run name {entry.run!r}")
            frame["run"] = frame["run"].astype("object").where(~unnamed, entry.run)
        frame["run"] = frame["run"].astype("str")
        if given is not None:
            frame = _name_single_run(frame, given, entry)
        mapping = {name: self._claim(name, entry, report) for name in frame["run"].unique()}
        if any(k != v for k, v in mapping.items()):
            frame["run"] = frame["run"].map(mapping)
        # facts and headers keyed None belong to the file's single run
        only = next(iter(mapping.values())) if len(mapping) == 1 else None

        def final(key):
            return only if key is None else mapping.get(str(key), str(key))

        for key, header in parsed.headers.items():
            self.headers.setdefault(final(key), {}).update(header)
        own = {final(k): dict(v) for k, v in parsed.facts.items()}
        side: dict = {}
        configs = []
        for config in entry.sidecars:  # nearest first: the first value of a fact wins
            loaded = sidecar.load(config, report)
            if loaded:
                configs.append((config.name, loaded))
            for k, v in (sidecar.facts(loaded, config.name, report) if loaded else {}).items():
                side.setdefault(k, v)
        facts = {}
        for name in mapping.values():
            merged = {**side, **own.get(name, {})}  # the run's own header beats a sidecar
            if parsed.combine is not None:
                merged = parsed.combine(merged, configs, report)
            per_step = merged.pop("tokens_per_step", None)
            if per_step is not None:
                self.tokens_per_step.setdefault(name, per_step)
            facts[name] = merged
        return _fill(frame, facts)

    def _claim(self, name: str, entry: Entry, report: Report) -> str:
        key = (entry.group, name)
        if key in self.renames:
            return self.renames[key]
        final = name
        owner = self.owners.get(name)
        if owner is not None and owner != entry.group:
            k = 2
            while f"{name}#{k}" in self.owners:
                k += 1
            final = f"{name}#{k}"
            report.skip(f"{entry.source.name}: run {name!r} was already read from another "
                        f"file; this one is named {final!r} (runs from different files are "
                        "never merged; pass run= to name them)")
        self.owners.setdefault(final, entry.group)
        self.renames[key] = final
        return final

    def rename(self, df: pd.DataFrame, mapping: Mapping) -> pd.DataFrame:
        """Apply ``run={name read: new name}``."""
        mapping = {str(k): str(v) for k, v in mapping.items()}
        runs = set(df["run"])
        unknown = sorted(set(mapping) - runs)
        if unknown:
            raise ValueError(f"run= renames {unknown}, which were not read; runs read are "
                             f"{sorted(runs)[:20]}")
        final = [mapping.get(r, r) for r in runs]
        if len(set(final)) != len(final):
            raise ValueError(f"run= would give two runs the same name: {mapping}")
        for store in (self.headers, self.tokens_per_step):
            for old in [k for k in store if k in mapping]:
                store[mapping[old]] = store.pop(old)
        df["run"] = df["run"].map(lambda r: mapping.get(r, r))
        return df


def _read_entry(entry: Entry, fmt: str, opts: Options, report: Report):
    """Parsed rows of one entry and its format; (None, None) when a file found in a directory
    is not a log."""
    source = entry.source
    try:
        kind = entry.fmt or (fmt if fmt != "auto" else None)
        if kind is None:
            kind, why = detect(source)
            if kind == EMPTY:
                raise NotALog(f"{source.name}: empty file; expected {_EXPECTED}")
            if kind == CONFIG:
                raise NotALog(f"{source.name}: a configuration file ({why}), not a log; "
                              f"expected {_EXPECTED}")
            if kind is None:
                raise NotALog(f"{source.name}: unrecognised format ({why}); expected "
                              f"{_EXPECTED}; pass format=... if it is one of these")
        parsed = formats.READERS[kind](source, opts, report)
        parsed.frame = clean_rows(parsed.frame, source.name, report)
    except NotALog as err:
        if entry.explicit:
            raise
        report.skip(f"{err}; file skipped")
        return None, None
    return parsed, kind


def _run_names_per_input(run, items) -> dict:
    if run is None or isinstance(run, Mapping):
        return {}
    if isinstance(run, str):
        if len(items) != 1:
            raise ValueError(f"run={run!r} names one run, but {len(items)} inputs were given; "
                             "pass one name per input or a mapping {name read: new name}")
        return {0: run}
    if isinstance(run, Sequence):
        names = [str(r) for r in run]
        if len(names) != len(items):
            raise ValueError(f"run= gives {len(names)} names for {len(items)} inputs")
        if len(set(names)) != len(names):
            raise ValueError(f"run= repeats a name: {names}")
        return dict(enumerate(names))
    raise TypeError("run= must be a name, a list of names (one per input) or a mapping")


def _name_single_run(frame: pd.DataFrame, name: str, entry: Entry) -> pd.DataFrame:
    runs = frame["run"].unique()
    if len(runs) > 1:
        raise ValueError(f"{entry.source.name}: holds runs {sorted(runs)[:10]}, so run={name!r} "
                         "cannot name it; pass a mapping {name read: new name} instead")
    return frame.assign(run=name)


def _fill(frame: pd.DataFrame, facts: dict) -> pd.DataFrame:
    """Add run-level facts from files where the rows do not already have them."""
    keys = sorted({k for f in facts.values() for k in f})
    for key in keys:
        values = map_values(frame["run"], {r: f[key] for r, f in facts.items() if key in f})
        if key in frame.columns:
            frame[key] = frame[key].where(frame[key].notna(), values)
        else:
            frame[key] = values
    return frame


def _per_run(value, runs) -> dict:
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    return {r: value for r in runs}


def _check_count(run, key: str, value) -> None:
    """A user-given batch size, sequence length or tokens per step: a finite number > 0 (whole for
    the first two). 0 made every n_tokens 0 and a negative value negative token counts, silently."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    whole = key != "tokens_per_step"
    if isinstance(value, bool) or not (np.isfinite(number) and number > 0) or (whole and number != int(number)):
        kind = "a whole number >= 1" if whole else "a finite number > 0"
        raise ValueError(f"{key} for run {run!r} must be {kind}, got {value!r}")


def _apply_user_facts(df, batch_size, seq_len, metadata, tokens_per_step, report) -> pd.DataFrame:
    runs = list(pd.unique(df["run"]))
    user: dict[str, dict] = {}
    for key, value in (("batch_size", batch_size), ("seq_len", seq_len)):
        for r, v in _per_run(value, runs).items():
            user.setdefault(r, {})[key] = v
    if metadata is not None:
        if not isinstance(metadata, Mapping):
            raise TypeError("metadata= must be a dict {run: {fact: value}} or one dict of facts")
        per_run = metadata and all(isinstance(v, Mapping) for v in metadata.values())
        for r, facts in (metadata.items() if per_run else [(None, metadata)]):
            for target in ([str(r)] if r is not None else runs):
                user.setdefault(target, {}).update(facts)
    unknown = sorted(set(user) - set(runs))
    if unknown:
        report.skip(f"metadata/batch_size/seq_len name runs that were not read: {unknown}; "
                    f"runs read are {sorted(runs)[:20]}")
    for r, facts in user.items():
        for key in ("batch_size", "seq_len", "tokens_per_step"):
            if facts.get(key) is not None:
                _check_count(r, key, facts[key])
        if "tokens_per_step" in facts:
            tokens_per_step[r] = facts.pop("tokens_per_step")
    keys = sorted({k for f in user.values() for k in f})
    for key in keys:
        given = {r: f[key] for r, f in user.items() if key in f and r in runs}
        for r, value in given.items():
            if isinstance(value, (Mapping, list, tuple, set)):
                raise TypeError(f"metadata for run {r!r}: {key}={value!r} is not a single value")
        new = map_values(df["run"], given)
        if key in df.columns:
            old = df[key]
            differs = old.notna() & new.notna() & (old.astype("object") != new.astype("object"))
            if differs.any():
                for r in sorted(pd.unique(df.loc[differs, "run"])):
                    was = old[differs & (df["run"] == r)].iloc[0]
                    report.skip(f"run {r!r}: {key}={_plain(given[r])!r} (given by you) "
                                f"replaces {_plain(was)!r} read from its files")
            df[key] = new.where(new.notna(), old)
        else:
            df[key] = new
    return df


def _plain(value):
    """numpy scalars as Python values, so messages read ``500000.0``, not ``np.float64(...)``."""
    return value.item() if isinstance(value, np.generic) else value


def _derive_tokens(df: pd.DataFrame, tokens_per_step: dict) -> pd.DataFrame:
    """n_tokens = step x tokens per step, only where the log gives no token count."""
    known = {r: float(v) for r, v in tokens_per_step.items()}
    has_shape = "batch_size" in df.columns and "seq_len" in df.columns
    if not known and not has_shape:
        return df
    per_step = map_values(df["run"], known)
    if has_shape:
        product = to_number(df["batch_size"]) * to_number(df["seq_len"])
        per_step = per_step.where(per_step.notna(), product)
    if not per_step.notna().any():
        return df
    derived = to_number(df["step"]) * per_step
    if "n_tokens" in df.columns:
        df["n_tokens"] = to_number(df["n_tokens"]).where(df["n_tokens"].notna(), derived)
    else:
        df["n_tokens"] = derived
    return df

