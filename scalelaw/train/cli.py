"""The trainer's commands: ``scalelaw data|train|sweep`` (also ``python -m scalelaw.train``).

Importing this module imports neither torch nor the fitting stack: each command imports what
it needs when it runs (torch for train and sweep, nothing heavy for data).

Examples
--------
::

    scalelaw data build --tiny                       # seconds; shards/tiny/...
    scalelaw train --preset tiny --steps 50 --device cpu --out runs/
    scalelaw train --preset d2-128 --tokens 2e7 --save-checkpoint --out runs/
    scalelaw train --preset d2-128 --init-from runs/d2-128_cosine610_seed0.pt \\
        --domain code --mix-ratio 0.3 --steps 200 --out runs/cpt
    scalelaw sweep examples/sweeps/tiny.yaml --out runs/tiny --dry-run
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
from pathlib import Path

from scalelaw.train.runlock import RunHeldError  # stdlib only: no torch at import

__all__ = ["main", "build_parser", "HELD_EXIT"]

# Exit status when a run was left alone because another process holds its lock (train: the run;
# sweep: some runs, none failed). 1 is a failed run, 2 a usage or config error, 130 Ctrl-C.
HELD_EXIT = 3

_EPILOG_TRAIN = """\
Every run writes OUT/<run>.jsonl: line 1 a {"header": ...} (config, parameter counts, device,
tokens/s, MFU; rewritten when the run ends), then one row per (step, split) in the tidy schema.
Any config field can be set with --set KEY=VALUE (see --print-config for the fields), e.g.
--set d_model=96 --set eval_interval=25. Schedules: cosine, constant, linear, wsd, step, as
"cosine:n_steps={n_steps},peak=3e-3,floor=3e-4,warmup={n_steps//10}".
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scalelaw", description="The scalelaw trainer.")
    sub = parser.add_subparsers(dest="command", metavar="{data,train,sweep}")

    data = sub.add_parser("data", help="build, tokenise (bpe), pack and unpack the corpora")
    dsub = data.add_subparsers(dest="action", metavar="{build,bpe,pack,unpack}")
    p = dsub.add_parser("build", help="build the corpora (full: needs pip/apt; --tiny: seconds)")
    p.add_argument("--tiny", action="store_true", help="the small test corpus, no network")
    p.add_argument("--root", default=None, help="shard folder (default $SCALELAW_SHARDS or shards/)")
    p.add_argument("--names", default=None, help="comma-separated corpora (default: all)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p = dsub.add_parser("bpe", help="train a byte-level BPE on general text and tokenise the "
                                    "text corpora with it (then train with --set tokenizer=bpeV)")
    p.add_argument("--vocab", type=int, required=True, help="vocabulary size, e.g. 1024")
    p.add_argument("--tiny", action="store_true", help="the small test corpus")
    p.add_argument("--root", default=None, help="shard folder (default $SCALELAW_SHARDS or shards/)")
    p.add_argument("--names", default=None, help="comma-separated text corpora (default: all)")
    for action, what in (("pack", "compress the built shards into one archive"),
                         ("unpack", "extract an archive made by pack")):
        p = dsub.add_parser(action, help=what)
        p.add_argument("archive", nargs="?", default="shards.tar.xz")
        p.add_argument("--root", default=None, help="shard folder (default $SCALELAW_SHARDS or shards/)")

    p = sub.add_parser("train", help="train one run", epilog=_EPILOG_TRAIN,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="tiny", help="named config (default tiny; see --list-presets)")
    p.add_argument("--list-presets", action="store_true", help="print the presets and exit")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--steps", type=int, default=None, help="optimiser steps")
    length.add_argument("--tokens", type=float, default=None,
                        help="token budget; steps = tokens / (batch_size * seq_len)")
    p.add_argument("--schedule", default=None, help="LR schedule string (n_steps may be {n_steps})")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--device", default=None, help="auto (default), cpu, cuda, cuda:N")
    p.add_argument("--out", default=None, help="output folder (default runs/)")
    p.add_argument("--name", default=None, help="run name (default: derived from the config)")
    p.add_argument("--data-root", default=None, help="shard folder (default $SCALELAW_SHARDS or shards/)")
    comp = p.add_mutually_exclusive_group()
    comp.add_argument("--compile", action="store_true",
                      help="torch.compile on any device (default: on CUDA only; on the CPU "
                           "inductor's C++ backend)")
    comp.add_argument("--no-compile", action="store_true", help="no torch.compile, on CUDA too")
    p.add_argument("--dtype", choices=["auto", "bf16", "fp32"], default=None,
                   help="bf16 autocast or fp32 (default auto: bf16 on CUDA, fp32 on the CPU)")
    p.add_argument("--peak-flops", type=float, default=None, metavar="FLOP/S",
                   help="MFU's denominator (default: the device's dense bf16 peak from "
                        "scalelaw.train.peaks; no MFU for a device not listed there)")
    p.add_argument("--save-checkpoint", action="store_true", help="write OUT/<run>.pt at the end")
    p.add_argument("--ckpt-interval", type=int, default=None, help="also checkpoint every N steps")
    p.add_argument("--resume", action="store_true",
                   help="continue from OUT/<run>.pt (a complete run is left as it is)")
    p.add_argument("--init-from", default=None, help="continual pre-training from this checkpoint")
    p.add_argument("--domain", default=None, help="domain corpus of the CPT mixture (code, legal, math)")
    p.add_argument("--mix-ratio", type=float, default=None, help="share r of domain data")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config field (repeat)")
    p.add_argument("--print-config", action="store_true", help="print the final config and exit")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser("sweep", help="train a grid of runs from a YAML/JSON spec",
                       epilog="A run that another process is training (its OUT/<run>.lock is "
                              "held) is skipped and left untouched. Exit status: 0 no run failed "
                              "or was skipped, 1 a run failed, 3 runs skipped because another "
                              "process held them.")
    p.add_argument("spec", help="sweep spec (see scalelaw.train.sweep; examples/sweeps/)")
    p.add_argument("--out", required=True, help="output folder: <run>.jsonl files and index.csv")
    p.add_argument("--dry-run", action="store_true", help="print the expanded runs, train nothing")
    p.add_argument("--executor", default="inline",
                   choices=["inline", "slurm", "submitit", "local", "debug"],
                   help="inline (default): here, one job after another; slurm: one Slurm job "
                        "array through submitit (see --slurm-partition...); submitit: Slurm if "
                        "sbatch is there, else local processes; local/debug: submitit's")
    p.add_argument("--max-stack", type=int, default=None,
                   help="same-shape runs trained as one stacked job (default: spec, else 8)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field in every run (repeat)")
    p.add_argument("--device", default=None)
    p.add_argument("--data-root", default=None)
    p.add_argument("--peak-flops", type=float, default=None, metavar="FLOP/S",
                   help="MFU's denominator for every run (default: the device's, if known)")
    p.add_argument("--slurm-partition", default=None, help="Slurm partition of the jobs")
    p.add_argument("--timeout-min", type=int, default=None, help="time limit of each job")
    p.add_argument("--gpus-per-node", type=int, default=None, help="GPUs per job (1: one stack)")
    p.add_argument("--cpus-per-task", type=int, default=None, help="CPUs per Slurm job")
    p.add_argument("--array-parallelism", type=int, default=None,
                   help="at most this many of the sweep's Slurm jobs at once")
    p.add_argument("--archive", default=None, metavar="FILE.tar.gz",
                   help="afterwards, pack the logs and index.csv into one archive")
    p.add_argument("--shard", default=None, metavar="K/N",
                   help="train only shard K of N (0-based; jobs split by cost) so that N "
                        "processes or machines share one sweep; rerun without it for index.csv")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def _cmd_data(args) -> int:
    from scalelaw.train import corpora

    root = args.root if args.root is not None else corpora.DEFAULT_ROOT
    if args.action == "build":
        names = args.names.split(",") if args.names else None
        metas = corpora.build(root, tiny=args.tiny, names=names, progress=not args.quiet)
        for name, meta in metas.items():
            print(f"{name}: {meta.get('bytes')} bytes")
        where = Path(root) / "tiny" if args.tiny else Path(root)
        print(f"shards written to {where}/ (--root or $SCALELAW_SHARDS chooses another folder)")
        return 0
    if args.action == "bpe":
        from scalelaw.train.config import tokenizer_vocab

        tokenizer_vocab(f"bpe{args.vocab}")  # the range check, before minutes of work
        names = args.names.split(",") if args.names else None
        ratios = corpora.build_bpe(args.vocab, root, tiny=args.tiny, names=names)
        for key, ratio in ratios.items():
            print(f"{key}: {ratio:.3f} bytes per token")
        print(f"tokenizer: {corpora.bpe_path(root, tiny=args.tiny, vocab_size=args.vocab)}; "
              f"train with --set tokenizer=bpe{args.vocab}")
        return 0
    if args.action == "pack":
        print(corpora.pack(root, args.archive))
        return 0
    if args.action == "unpack":
        print(corpora.unpack(args.archive, root))
        return 0
    print("scalelaw data: say build, bpe, pack or unpack (see scalelaw data --help)", file=sys.stderr)
    return 2


def check_out_dir(path, flag: str = "--out") -> None:
    """A ValueError when the output folder is, or lies below, an existing file."""
    from pathlib import Path

    if path is None:
        return
    p = Path(path)
    for part in (p, *p.parents):
        if part.exists() and not part.is_dir():
            where = "is a file" if part == p else f"lies below {str(part)!r}, which is a file"
            raise ValueError(f"{flag} {str(path)!r} {where}; give a folder for the run logs")


def _train_config(args):
    from scalelaw.train.config import (apply_overrides, get_preset, parse_override_strings)

    check_out_dir(args.out)
    cfg = get_preset(args.preset)
    flags = {"schedule": args.schedule, "seed": args.seed, "batch_size": args.batch_size,
             "device": args.device, "out_dir": args.out, "name": args.name,
             "data_root": args.data_root, "ckpt_interval": args.ckpt_interval,
             "init_from": args.init_from, "domain": args.domain, "mix_ratio": args.mix_ratio,
             "n_steps": args.steps, "dtype": args.dtype, "peak_flops": args.peak_flops}
    overrides = {k: v for k, v in flags.items() if v is not None}
    if args.no_compile:
        overrides["compile"] = False
    if args.compile:
        overrides["compile"] = True
    if args.save_checkpoint:
        overrides["save_checkpoint"] = True
    overrides.update(parse_override_strings(args.set))
    if args.tokens is not None:
        # tokens per step depend on batch and sequence length only; the schedule is checked
        # once, below, with the steps it will really have
        tmp = apply_overrides(cfg, {k: v for k, v in overrides.items()
                                    if k not in ("n_steps", "schedule")}, from_string=True)
        if not math.isfinite(args.tokens) or args.tokens < tmp.tokens_per_step:
            raise ValueError(f"--tokens must be at least one step's tokens ({tmp.tokens_per_step:,} = batch "
                             f"{tmp.batch_size} x seq_len {tmp.model.seq_len}), got {args.tokens:g}")
        overrides["n_steps"] = round(args.tokens / tmp.tokens_per_step)
    return apply_overrides(cfg, overrides, from_string=True)


def _cmd_train(args) -> int:
    from scalelaw.train.config import PRESETS, get_preset

    if args.list_presets:
        for name in PRESETS:
            cfg = get_preset(name)
            c, m = cfg.counts(), cfg.model
            shape = (f"{m.n_layer} layers" if m.arch == "gpt"
                     else f"{m.n_enc_layer}+{m.n_dec_layer} enc+dec layers")
            print(f"{name:<12} N={c['N'] / 1e6:7.3f}M  {shape}, d_model {m.d_model}, "
                  f"seq_len {m.seq_len}, batch {cfg.batch_size}, {cfg.steps} steps")
        return 0
    cfg = _train_config(args)
    if args.print_config:
        import json

        print(json.dumps(cfg.to_dict(), indent=1))
        return 0
    from scalelaw.train.loop import train

    for res in train(cfg, resume=args.resume, progress=not args.quiet):
        if res["status"] == "skipped":
            print(f"{res['run']}: already complete -> {res['path']}")
            continue
        losses = ", ".join(f"{k} {v:.4f}" for k, v in res["final"].items())
        speed = f", {res['tokens_per_s']:,.0f} tokens/s" if res.get("tokens_per_s") else ""
        print(f"{res['run']}: {res['status']} at N={res['n_params']:,} ({losses}) in "
              f"{res['wall_time_s']:.1f} s{speed} -> {res['path']}")
    return 0


def _cmd_sweep(args) -> int:
    from scalelaw.train.config import parse_override_strings
    from scalelaw.train.sweep import index_name, parse_shard, run_sweep

    check_out_dir(args.out)
    shard = parse_shard(args.shard) if args.shard is not None else None
    overrides = parse_override_strings(args.set)
    for key, value in (("device", args.device), ("data_root", args.data_root),
                       ("peak_flops", args.peak_flops)):
        if value is not None:
            overrides[key] = value
    rows = run_sweep(args.spec, args.out, executor=args.executor, max_stack=args.max_stack,
                     overrides=overrides, dry_run=args.dry_run, progress=not args.quiet,
                     executor_params={"slurm_partition": args.slurm_partition,
                                      "timeout_min": args.timeout_min,
                                      "gpus_per_node": args.gpus_per_node,
                                      "cpus_per_task": args.cpus_per_task,
                                      "slurm_array_parallelism": args.array_parallelism},
                     shard=shard)
    if args.dry_run:
        return 0
    if args.archive:
        from scalelaw.train.sweep import archive_logs

        print(f"sweep: logs packed into {archive_logs(args.out, args.archive)}")
    failed = [r["run"] for r in rows if r["status"] == "failed"]
    held = [r["run"] for r in rows if r["status"] == "held"]
    done = sum(r["status"] == "complete" for r in rows)
    print(f"sweep: {done}/{len(rows)} runs complete -> {args.out}/{index_name(shard)}")
    if held:
        print(f"sweep: {len(held)} skipped, another process was training them (left untouched; "
              f"run the sweep again once it has ended): {', '.join(held)}", file=sys.stderr)
    if failed:
        print(f"sweep: {len(failed)} failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return HELD_EXIT if held else 0


def main(argv: list[str] | None = None) -> int:
    """Run ``data``, ``train`` or ``sweep`` (``argv[0]``); returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    handler = {"data": _cmd_data, "train": _cmd_train, "sweep": _cmd_sweep}[args.command]
    previous = _terminate_as_interrupt()
    try:
        return handler(args)
    except KeyboardInterrupt:
        print(interrupted_message(argv), file=sys.stderr)
        return 130
    except RunHeldError as err:  # another process trains the run: not this one's to touch
        print(f"scalelaw {args.command}: error: {err}", file=sys.stderr)
        return HELD_EXIT
    except (ValueError, FileNotFoundError, MemoryError) as err:
        # ConfigError is a ValueError; MissingCorpusError a FileNotFoundError that names the
        # build command
        print(f"scalelaw {args.command}: error: {err}", file=sys.stderr)
        return 2
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def interrupted_message(argv: list[str]) -> str:
    """One line for Ctrl-C or SIGTERM: what to run to carry on (logs and checkpoints are kept)."""
    import shlex

    cmd = list(argv)
    if cmd and cmd[0] == "train" and "--resume" not in cmd:
        cmd.append("--resume")
    how = "resume with" if cmd and cmd[0] in ("train", "sweep") else "run again:"
    return f"scalelaw {cmd[0] if cmd else ''}: interrupted; {how} scalelaw {shlex.join(cmd)}"


def _terminate_as_interrupt():
    """SIGTERM (a scheduler's kill, `timeout`) raises KeyboardInterrupt, so logs close as
    "interrupted" instead of staying "running". Returns the previous handler (None off the main thread)."""
    def handler(signum, frame):
        raise KeyboardInterrupt("SIGTERM")

    try:
        return signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (tests, embedding)
        return None
