"""Sweeps: a grid spec expands to named runs, packed into stacks, trained, indexed.

A spec (YAML or JSON) names a grid over config fields; the runs are its Cartesian product::

    name: ladder                  # prefix of every run name (optional)
    base:                         # overrides for every run: any config field, or a preset
      preset: d2-128
      eval_interval: 50
    grid:                         # axes, expanded in this order
      preset: [d2-64, d2-128]     # model sizes (or n_layer/d_model, n_enc_layer/n_dec_layer...)
      tokens: [2e6, 8e6]          # token budget: n_steps = round(tokens / (batch_size*seq_len))
      schedule:                   # a list of strings, or name: string (the name goes in run names)
        cos: "cosine:n_steps={n_steps},peak=3e-3,floor=3e-4,warmup={n_steps//20}"
        wsd: "wsd:n_steps={n_steps},peak=3e-3,floor=3e-4,warmup={n_steps//20},decay_frac=0.2"
      seed: [0, 1]
      mix_ratio: [0.1, 0.3]       # with base domain (and init_from: "bases/{preset}.pt")
    max_stack: 8                  # runs per stacked job (1: no stacking)

An axis may also set several fields at once: a mapping of ``label: {field: value, ...}``
(a *zipped* axis, e.g. a model family that grows depth and width together). The axis's own
key is only a name (``{size}`` in ``init_from``); the label goes in run names::

    grid:
      size:
        d2-32: {n_layer: 2, d_model: 32, n_head: 2}
        d4-64: {n_layer: 4, d_model: 64, n_head: 4}

A ``flops`` axis (instead of ``tokens``) gives each run a compute budget C: its tokens are
D = C / (6 N), N its non-embedding parameters (Hoffmann et al.'s IsoFLOP profiles). ``grid``
may also be a list of mappings: the runs are the union of their products, in order, so each
budget of an IsoFLOP sweep can have its own sizes (``examples/sweeps/cpu_isoflop.yaml``).

Run names are deterministic (``<name>_<label per axis>``, e.g. ``ladder_d2-64_D2M_cos_seed0``), so
a sweep is resumable: runs whose JSONL is complete are skipped, the others (re)start, from their
checkpoints when they have them. A run that another process is training (its ``<run>.lock`` is
held, :mod:`scalelaw.train.runlock`) is skipped with a message and left untouched; its index row
says ``held``. Same-shape runs (:func:`~scalelaw.train.config.stack_key`)
are packed into stacks of at most ``max_stack`` (sorted by length, so a stack's runs end
close together; a run that ends first leaves the stack, which goes on without it).
``index.csv`` in the output folder lists every run with its config summary, status, final
losses and wall time; it is rewritten after every run, under its own lock, keeping the rows of
runs that other sweeps into the folder wrote.

Executors (:mod:`scalelaw.train.executors`): ``inline`` (default) trains the jobs one after
another in this process; ``slurm`` submits them as one Slurm job array through submitit;
``submitit`` is Slurm when ``sbatch`` is there, else local processes; ``local`` and ``debug``
force submitit's LocalExecutor and DebugExecutor (for tests). On Slurm::

    scalelaw sweep spec.yaml --out runs/ladder --executor slurm --slurm-partition gpu \\
        --timeout-min 240 --gpus-per-node 1 --array-parallelism 8

submits one array task per stack (logs of submitit under ``runs/ladder/submitit/``); a job
that fails or is cancelled is reported with its log, and running the same command again
reruns what did not finish (from checkpoints with ``ckpt_interval``).
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

from scalelaw.train.config import (ConfigError, TrainConfig, apply_overrides,
                                   check_complete_log, get_preset, stack_key)

__all__ = ["load_spec", "expand", "pack", "shard_runs", "parse_shard", "index_name", "run_sweep",
           "archive_logs", "INDEX_COLUMNS"]

_SPEC_KEYS = {"name", "base", "grid", "max_stack"}
INDEX_COLUMNS = ["run", "status", "job", "preset", "arch", "n_params", "n_enc_params",
                 "n_dec_params", "n_layer", "n_enc_layer", "n_dec_layer", "d_model", "batch_size",
                 "seq_len", "n_steps", "tokens", "schedule", "seed", "domain", "mix_ratio",
                 "final_val_loss", "final_train_loss", "wall_time_s", "tokens_per_s", "log",
                 "error"]


def load_spec(spec) -> dict:
    """A spec from a dict, or a ``.yaml``/``.yml``/``.json`` file; checked for unknown keys."""
    if not isinstance(spec, dict):
        path = Path(spec)
        if not path.is_file():
            raise FileNotFoundError(f"sweep spec {path} not found")
        spec = _parse_spec(path)
        if not isinstance(spec, dict):
            raise ConfigError(f"sweep spec {path} must be a mapping with 'grid' (and 'base')")
    unknown = set(spec) - _SPEC_KEYS
    if unknown:
        raise ConfigError(f"unknown sweep spec keys {sorted(unknown)}; known: {sorted(_SPEC_KEYS)}")
    max_stack = spec.get("max_stack")
    if max_stack is not None and (isinstance(max_stack, bool) or not isinstance(max_stack, int) or max_stack < 1):
        raise ConfigError(f"sweep spec: max_stack must be an integer >= 1 (runs per stacked job), got {max_stack!r}")
    grids = _grids(spec)
    if not isinstance(spec.get("base") or {}, dict) or not all(isinstance(g, dict) for g in grids):
        raise ConfigError("sweep spec: 'base' must be a mapping and 'grid' a mapping "
                          "(or a list of mappings)")
    for grid in grids:
        if "tokens" in grid and "flops" in grid:
            raise ConfigError("sweep grid: give 'tokens' or 'flops' (D = C / 6N), not both")
        for key, values in grid.items():
            if _is_zipped(values):
                for label, fields in values.items():
                    if not fields:
                        raise ConfigError(f"sweep grid axis {key!r}: point {label!r} sets no fields")
                continue
            if key == "schedule" and isinstance(values, dict):
                values = list(values.values())
            if not isinstance(values, list) or not values:
                raise ConfigError(f"sweep grid axis {key!r} must be a non-empty list (or a mapping "
                                  "of label: {field: value, ...} that sets several fields at once)")
    return spec


def _parse_spec(path: Path):
    """A spec file's content; a key given twice in one mapping is an error, not the last one
    silently winning (YAML and JSON parsers keep the last: two ``seed:`` lines under ``grid``
    would run only the second's seeds, and nothing would say so)."""
    text = path.read_text()
    if path.suffix.lower() == ".json":
        def no_duplicates(pairs):
            keys = [k for k, _ in pairs]
            twice = sorted({k for k in keys if keys.count(k) > 1})
            if twice:
                raise ConfigError(f"sweep spec {path}: key(s) {', '.join(map(repr, twice))} given twice in one "
                                  "object; merge them (only the last would count)")
            return dict(pairs)

        try:
            return json.loads(text, object_pairs_hook=no_duplicates)
        except json.JSONDecodeError as err:
            raise ConfigError(f"sweep spec {path}: not valid JSON ({err})") from None
    import yaml

    class Loader(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            seen = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if key in seen:
                    raise ConfigError(f"sweep spec {path}: key {key!r} given twice in one mapping (lines "
                                      f"{seen[key] + 1} and {key_node.start_mark.line + 1}); merge them "
                                      "(only the last would count)")
                seen[key] = key_node.start_mark.line
            return super().construct_mapping(node, deep=deep)

    try:
        return yaml.load(text, Loader=Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as err:
        raise ConfigError(f"sweep spec {path}: not valid YAML ({' '.join(str(err).split())})") from None


def _grids(spec: dict) -> list:
    """The spec's grid as a list of mappings (a list of grids is the union of their runs)."""
    grid = spec.get("grid") or {}
    return list(grid) if isinstance(grid, list) else [grid]


def _is_zipped(values) -> bool:
    """A zipped axis: ``{label: {field: value, ...}, ...}``, several fields per grid point."""
    return (isinstance(values, dict) and bool(values)
            and all(isinstance(v, dict) for v in values.values()))


def _human(x: float) -> str:
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if x >= div:
            return f"{x / div:g}{unit}"
    return f"{x:g}"


def _budget(key: str, value) -> float:
    """A ``tokens`` or ``flops`` value as a positive float; a ConfigError naming the key otherwise
    (YAML reads ``4e6`` as a string, so strings that are numbers are taken)."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        x = float("nan")
    if isinstance(value, bool) or not 0 < x < float("inf"):
        raise ConfigError(f"sweep spec: {key} {value!r} is not a positive number "
                          f"({'tokens per run, e.g. 4e6' if key == 'tokens' else 'FLOPs per run, e.g. 1e15'})")
    return x


def _axis(key: str, values) -> list[tuple[str, object]]:
    """(label for run names, value) of each point of a grid axis."""
    if _is_zipped(values):
        return [(str(label), dict(fields)) for label, fields in values.items()]
    if key == "schedule":
        if isinstance(values, dict):
            return [(str(name), spec) for name, spec in values.items()]
        kinds = [str(v).partition(":")[0] for v in values]
        return [(k if kinds.count(k) == 1 else f"{k}{i}", v)
                for i, (k, v) in enumerate(zip(kinds, values))]
    label = {"preset": "{}", "tokens": None, "flops": None, "seed": "seed{}", "mix_ratio": "r{}",
             "domain": "{}", "n_enc_layer": "enc{}", "n_dec_layer": "dec{}",
             "tokenizer": "{}"}.get(key, key + "{}")
    out = []
    for v in values:
        if key in ("tokens", "flops"):
            x = _budget(key, v)
            out.append(("D" + _human(x), v) if key == "tokens" else (f"C{x:.3g}".replace("+", ""), v))
        else:
            text = f"{v:g}" if isinstance(v, float) else str(v)
            out.append((label.format(text), v))
    return out


def expand(spec, *, overrides: dict | None = None) -> list[TrainConfig]:
    """The runs of a spec, validated, in grid order; ``overrides`` win over ``base``."""
    spec = load_spec(spec)
    base = {**(spec.get("base") or {}), **(overrides or {})}
    prefix = spec.get("name")
    combos = []
    for grid in _grids(spec):
        zipped = {key for key, values in grid.items() if _is_zipped(values)}
        axes = [[(key, label, value, key in zipped) for label, value in _axis(key, values)]
                for key, values in grid.items()]
        combos += list(itertools.product(*axes))
    runs, names = [], {}
    for combo in combos:
        settings = dict(base)
        for key, _, value, is_zipped in combo:
            settings.update(value if is_zipped else {key: value})
        preset = settings.pop("preset", None)
        tokens = settings.pop("tokens", None)
        flops = settings.pop("flops", None)
        start = get_preset(preset) if preset else TrainConfig()
        if flops is not None:  # D = C / (6 N), N of this run's shape
            try:
                shape = apply_overrides(start, {**{k: v for k, v in settings.items()
                                                   if k not in ("schedule", "name")}, "n_steps": 1})
            except ConfigError as err:
                raise ConfigError(f"sweep run with flops={flops}: {err}") from None
            tokens = _budget("flops", flops) / (6.0 * shape.counts()["N"])
        if tokens is not None:
            batch = int(float(settings.get("batch_size", start.batch_size)))
            seq = int(float(settings.get("seq_len", start.model.seq_len)))
            settings["n_steps"] = max(1, round(_budget("tokens", tokens) / (batch * seq)))
        fields = {key: (label if is_zipped else value) for key, label, value, is_zipped in combo}
        fields.setdefault("preset", preset)
        if isinstance(settings.get("init_from"), str):  # e.g. "bases/{preset}.pt"
            try:
                settings["init_from"] = settings["init_from"].format(**fields)
            except (KeyError, IndexError, ValueError) as err:
                raise ConfigError(f"sweep spec: init_from {settings['init_from']!r}: placeholder "
                                  f"{err.args[0] if isinstance(err, KeyError) else err} is not a grid axis; "
                                  f"axes here: {', '.join('{' + k + '}' for k in fields)}") from None
        labels = [label for _, label, _, _ in combo]
        settings["name"] = "_".join(filter(None, [prefix, *labels])) or (prefix or "run")
        try:
            cfg = apply_overrides(start, settings)
        except ConfigError as err:
            raise ConfigError(f"sweep run {settings['name']!r}: {err}") from None
        if cfg.name in names:
            raise ConfigError(f"two sweep runs are both named {cfg.name!r}: give the spec a grid "
                              "that makes names differ")
        names[cfg.name] = cfg
        runs.append(cfg)
    return runs


def pack(runs: list[TrainConfig], max_stack: int = 8) -> list[list[TrainConfig]]:
    """Jobs: same-shape runs in stacks of at most ``max_stack``, similar lengths together.

    With ``max_stack=1`` nothing stacks and the jobs keep the spec's order, so a CPU sweep
    finishes its grid entries in the order written (an IsoFLOP sweep: the smallest budget first).
    """
    if max_stack < 1:
        raise ConfigError(f"max_stack must be >= 1, got {max_stack}")
    if max_stack == 1:
        return [[cfg] for cfg in runs]
    groups: dict[tuple, list[TrainConfig]] = defaultdict(list)
    for cfg in runs:
        groups[stack_key(cfg)].append(cfg)
    jobs = []
    for group in groups.values():
        group = sorted(group, key=lambda c: c.steps)
        jobs += [group[i:i + max_stack] for i in range(0, len(group), max_stack)]
    return jobs


def _job_cost(job: list[TrainConfig]) -> float:
    """Training FLOPs of a job: the sum of its runs' (a run that ends leaves its stack)."""
    cfg = job[0]
    return float(cfg.counts()["flops_per_token"]) * cfg.tokens_per_step * sum(c.steps for c in job)


def shard_runs(runs: list[TrainConfig], shard: tuple[int, int],
               max_stack: int = 8) -> list[TrainConfig]:
    """The runs of shard ``k`` of ``n`` (``shard=(k, n)``, 0 <= k < n).

    The jobs of the *whole* sweep (finished runs included, so every process sees the same
    split whatever has completed) go to shards greedily, largest training cost first, each
    to the shard with the least cost so far (LPT scheduling: within 4/3 of the best split).
    """
    k, n = shard
    if not (n >= 1 and 0 <= k < n):
        raise ConfigError(f"shard must be K/N with 0 <= K < N, got {k}/{n}")
    loads, mine = [0.0] * n, []
    for job in sorted(pack(runs, max_stack), key=lambda j: (-_job_cost(j), j[0].run_name)):
        target = loads.index(min(loads))
        loads[target] += _job_cost(job)
        if target == k:
            mine += job
    names = {cfg.run_name for cfg in mine}
    return [cfg for cfg in runs if cfg.run_name in names]


def index_name(shard: tuple[int, int] | None = None) -> str:
    """The index file a sweep (or shard ``(k, n)`` of one) writes."""
    return f"index.shard{shard[0]}of{shard[1]}.csv" if shard else "index.csv"


def parse_shard(text: str) -> tuple[int, int]:
    """``"1/4"`` -> ``(1, 4)``."""
    k, slash, n = str(text).partition("/")
    try:
        shard = (int(k), int(n))
    except ValueError:
        shard = None
    if not slash or shard is None or not (shard[1] >= 1 and 0 <= shard[0] < shard[1]):
        raise ConfigError(f"--shard must be K/N with 0 <= K < N (e.g. 0/2), got {text!r}")
    return shard


# ---------------------------------------------------------------------------------------------
# The index

def _summary(cfg: TrainConfig) -> dict:
    m, c = cfg.model, cfg.counts()
    return {"run": cfg.run_name, "status": "pending", "preset": cfg.preset, "arch": m.arch,
            "n_params": c["N"], "n_enc_params": c.get("N_e"), "n_dec_params": c.get("N_d"),
            "n_layer": m.n_layer if m.arch == "gpt" else None,
            "n_enc_layer": m.n_enc_layer or None, "n_dec_layer": m.n_dec_layer or None,
            "d_model": m.d_model, "batch_size": cfg.batch_size, "seq_len": m.seq_len,
            "n_steps": cfg.steps, "tokens": cfg.steps * cfg.tokens_per_step,
            "schedule": cfg.resolved_schedule(), "seed": cfg.seed, "domain": cfg.domain,
            "mix_ratio": cfg.mix_ratio, "log": f"{cfg.run_name}.jsonl"}


def _from_header(row: dict, header: dict) -> None:
    final = header.get("final") or {}
    val = [v for k, v in final.items() if k.startswith("val")]
    row.update(status=header.get("status"), wall_time_s=header.get("wall_time_s"),
               tokens_per_s=header.get("tokens_per_s"), final_train_loss=final.get("train"),
               final_val_loss=final.get("val", val[0] if val else None),
               error=header.get("error"))


def _save_index(out: Path, rows: dict[str, dict], name: str = "index.csv",
                configs: dict[str, TrainConfig] | None = None) -> list[dict]:
    """Write this sweep's ``rows`` (by run) into the index, keeping every other run's row; return
    those kept rows.

    Read-modify-write under the index's own lock (``<index>.lock``, waited for): two sweeps
    into one folder each re-read the file for the other's rows at every write, so neither's
    rows are lost to the other's stale copy (atomic renames alone keep the file whole, not the
    rows a writer had not read). A row of ours that this process has not decided (``pending``,
    or ``held`` by another process) where the file says ``complete`` (the other process
    finished it) is taken from the run's log, if that log is complete and (``configs``, by run)
    of this sweep's config, rather than written back as pending; only those logs are read.
    """
    from scalelaw.train import runlock

    with runlock.locked(out / f"{name}.lock"):
        on_file = _index_rows(out / name)
        kept = [row for row in on_file if row["run"] not in rows]
        for row in on_file:
            ours = rows.get(row["run"])
            if ours and ours.get("status") in ("pending", "held") and row.get("status") == "complete":
                _refresh_done(out, ours, (configs or {}).get(row["run"]))
        _write_index(out, list(rows.values()), name, kept)
    return kept


def _refresh_done(out: Path, row: dict, cfg: TrainConfig | None) -> None:
    """Fill ``row`` from its log if that log is complete and, given ``cfg``, of that config (a
    log of another config is this sweep's error to report when it reaches the run)."""
    from scalelaw.train.runlog import read_header

    path = out / f"{row['run']}.jsonl"
    header = read_header(path)
    if not header or header.get("status") != "complete":
        return
    if cfg is not None:
        try:
            check_complete_log(cfg, header, path)
        except ConfigError:
            return
    _from_header(row, header)


def _write_index(out: Path, rows: list[dict], name: str = "index.csv", kept: list[dict] = ()) -> None:
    """Write the index atomically: this sweep's ``rows``, then ``kept`` (other sweeps' rows).
    Callers hold the index's lock (:func:`_save_index`)."""
    tmp = out / f"{name}.{os.getpid()}.tmp"
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=INDEX_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row.get(k) is None else row[k]) for k in INDEX_COLUMNS})
        for row in kept:
            writer.writerow({k: row.get(k, "") for k in INDEX_COLUMNS})
    os.replace(tmp, out / name)


def _index_rows(path: Path) -> list[dict]:
    """The rows of an existing index (none if there is none). Those of runs this sweep does not
    plan (another spec swept into the same folder) are kept as they are, so that a second sweep
    into one ``--out`` does not drop the first one's runs from the index (their logs were never
    touched, but the index lost them)."""
    if not path.exists():
        return []
    try:
        with open(path, newline="") as f:
            return [row for row in csv.DictReader(f) if row.get("run")]
    except (OSError, csv.Error, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: the existing index could not be read ({err}); move it aside to "
                          "start a new one") from None


def archive_logs(out, archive) -> Path:
    """Pack a sweep's logs (``*.jsonl`` and its index files, not checkpoints) into one ``.tar.gz``:
    what comes back from the GPU machine is a few files, so a sweep travels as one."""
    import tarfile

    out, archive = Path(out), Path(archive)
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(out.glob("*.jsonl")) + sorted(out.glob("index*.csv")):
            tar.add(path, arcname=f"{out.name}/{path.name}")
    return archive


# ---------------------------------------------------------------------------------------------
# Running

def _run_job(config_dicts: list[dict]) -> list[dict]:
    """One job (a stack of runs) in a worker: what submitit pickles and calls."""
    import os
    import signal

    from scalelaw.train.loop import train

    if os.environ.get("SLURM_JOB_ID"):
        # scancel, a time limit or preemption sends SIGTERM, which submitit only logs ("Bypassing
        # signal SIGTERM"); Slurm's SIGKILL may not reach the process in every setup, and a run
        # that went on would be reported complete after a cancel. Stop at once instead: the logs
        # close as "interrupted", the checkpoints stay, and the next call resumes from them.
        def stop(signum, frame):
            raise KeyboardInterrupt(f"SIGTERM from Slurm (job {os.environ['SLURM_JOB_ID']})")

        signal.signal(signal.SIGTERM, stop)
    return train([TrainConfig.from_dict(d) for d in config_dicts], resume=True, progress=False,
                 held="skip")


def run_sweep(spec, out, *, executor: str = "inline", max_stack: int | None = None,
              overrides: dict | None = None, dry_run: bool = False, progress: bool = True,
              executor_params: dict | None = None, shard: tuple[int, int] | None = None,
              echo=print) -> list[dict]:
    """Expand, pack and train a sweep into ``out``; return the index rows.

    Parameters
    ----------
    spec : dict or path
        The grid spec (see the module docstring).
    out : path
        Output folder: one ``<run>.jsonl`` per run (and ``.pt`` checkpoints if asked for),
        ``index.csv``, and ``submitit/`` for submitit's own logs.
    executor : {"inline", "slurm", "submitit", "local", "debug"}
        Where jobs run (:mod:`scalelaw.train.executors`): here, one after another; a Slurm
        job array; Slurm if there, else local processes; submitit's local executors.
    executor_params : dict, optional
        ``slurm_partition``, ``timeout_min``, ``gpus_per_node``, ``cpus_per_task``,
        ``slurm_array_parallelism`` (see :func:`scalelaw.train.executors.make_executor`).
    max_stack : int, optional
        Runs per stacked job; default the spec's ``max_stack``, else 8.
    overrides : dict, optional
        Config overrides applied to every run (win over the spec's ``base``).
    dry_run : bool
        Print the expanded runs and jobs, train nothing.
    shard : (k, n), optional
        Train only shard k of n (:func:`shard_runs`): n processes (or machines sharing ``out``)
        split one sweep without a scheduler. Each writes ``index.shard<k>of<n>.csv``; run the
        sweep once more without ``shard`` afterwards to write the full ``index.csv`` (it
        finds every run complete and trains nothing).
    """
    spec = load_spec(spec)
    out = Path(out)
    runs = expand(spec, overrides={**(overrides or {}), "out_dir": str(out)})
    max_stack = max_stack or int(spec.get("max_stack") or 8)
    index = index_name(shard)
    if shard is not None:
        runs = shard_runs(runs, shard, max_stack)
    rows = {cfg.run_name: _summary(cfg) for cfg in runs}
    planned = {cfg.run_name: cfg for cfg in runs}
    from scalelaw.train.runlog import read_header

    todo = []
    for cfg in runs:
        path = out / f"{cfg.run_name}.jsonl"
        header = read_header(path)
        if header and header.get("status") == "complete":
            check_complete_log(cfg, header, path)
            _from_header(rows[cfg.run_name], header)
        else:
            todo.append(cfg)
    jobs = pack(todo, max_stack)
    for j, job in enumerate(jobs):
        for cfg in job:
            rows[cfg.run_name]["job"] = j
    if dry_run:
        echo(f"{len(runs)} runs ({len(runs) - len(todo)} complete), {len(jobs)} jobs "
             f"(max_stack={max_stack}) -> {out}")
        for cfg in runs:
            r = rows[cfg.run_name]
            echo(f"  {r['run']:<40} job={r.get('job', '-')!s:<4} N={r['n_params']:<10} "
                 f"steps={r['n_steps']:<7} tokens={_human(r['tokens']):<6} {r['status']:<9} "
                 f"{r['schedule']}")
        return list(rows.values())
    from scalelaw.train.executors import EXECUTORS

    if executor not in EXECUTORS:
        raise ConfigError(f"executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    out.mkdir(parents=True, exist_ok=True)
    kept = _save_index(out, rows, index, planned)
    if kept:
        echo(f"sweep: {out / index} keeps the rows of {len(kept)} run(s) that this spec does not plan "
             "(another sweep into this folder, or an earlier version of this spec)")
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(runs), initial=len(runs) - len(todo), desc="sweep", unit="run",
                   dynamic_ncols=True, file=sys.stderr)

    reported: set[str] = set()

    def finish(name: str, error: str | None = None, held: dict | None = None) -> None:
        """Record a run that ended (from its log header) in the index and the progress bar.
        ``held``: train's result for a run another process holds, left to it untouched."""
        row = rows[name]
        if held is not None:
            lock = held.get("lock") or out / f"{name}.lock"
            echo(f"sweep: skipped {name}: another process holds it "
                 f"({held.get('holder') or 'holder unknown'}; lock {lock})")
            row.update(status="held", error=None)
        elif row["status"] == "held":
            pass  # its log is the other process's: nothing of ours to read or mark failed
        else:
            header = read_header(out / f"{name}.jsonl")
            if header:
                _from_header(row, header)
            if error is not None and row["status"] != "complete":
                row.update(status="failed", error=error)
        _save_index(out, rows, index, planned)
        if bar is not None and name not in reported:
            bar.update(1)
            bar.set_postfix(left=bar.total - bar.n, refresh=True)
        reported.add(name)

    if executor == "inline":
        from scalelaw.train.loop import train

        for j, job in enumerate(jobs):
            error = None
            try:
                train(job, resume=True, progress=progress, desc=f"job {j + 1}/{len(jobs)}",
                      held="skip",
                      on_run_end=lambda result: finish(
                          result["run"], held=result if result["status"] == "held" else None))
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as err:  # noqa: BLE001 - recorded in the index, the sweep goes on
                error = f"{type(err).__name__}: {err}"
                echo(f"sweep: job {j} ({', '.join(c.run_name for c in job)}) failed: {err}")
            for cfg in job:
                finish(cfg.run_name, error)
    else:
        from scalelaw.train.executors import JobWatch, is_slurm, make_executor

        ex = make_executor(executor, out / "submitit", executor_params or {})
        if is_slurm(ex) and jobs:
            with ex.batch():  # one job array: Slurm runs slurm_array_parallelism at a time
                handles = [ex.submit(_run_job, [c.to_dict() for c in job]) for job in jobs]
            echo(f"sweep: {len(jobs)} jobs submitted as Slurm job array "
                 f"{str(handles[0].job_id).split('_')[0]} (logs: {out / 'submitit'})")
        else:
            handles = [ex.submit(_run_job, [c.to_dict() for c in job]) for job in jobs]
        pending = list(enumerate(zip(jobs, handles)))
        watch = JobWatch(ex)
        while pending:
            still = []
            watch.refresh()
            for j, (job, handle) in pending:
                ended, error = watch.check(handle)
                if not ended:
                    still.append((j, (job, handle)))
                    continue
                if error is not None:
                    echo(f"sweep: job {j} ({', '.join(c.run_name for c in job)}) failed: "
                         f"{error}")
                    held = {}
                else:  # the worker's train() results: runs another process held were skipped
                    held = {r["run"]: r for r in handle.result() if r.get("status") == "held"}
                for cfg in job:
                    finish(cfg.run_name, error, held=held.get(cfg.run_name))
            pending = still
            if pending:
                time.sleep(1.0)
    if bar is not None:
        bar.close()
    return list(rows.values())
