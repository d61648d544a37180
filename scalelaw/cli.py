"""The ``scalelaw`` command line (also ``python -m scalelaw``).

Importing this module imports nothing heavy: each subcommand imports what it needs (scipy and
lmfit for fitting, plotly for plots, torch for the trainer, streamlit for the app) when it runs.
"""

from __future__ import annotations

import argparse
import sys

# Subcommands that belong to the trainer; their arguments are parsed by scalelaw.train.cli.
_TRAINER_COMMANDS = ("data", "train", "sweep")


def _seed(text: str) -> int:
    """--seed: numpy's generators take integers >= 0 (their own error names no flag)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {value}")
    return value


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scalelaw",
        description="Fit and extrapolate language-model scaling laws.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("laws", help="list the laws, their inputs, parameters and papers (or one law's details)")
    p.add_argument("names", nargs="*", metavar="NAME",
                   help="laws to describe in full: formula, inputs (columns, allowed values), parameters (range), "
                        "options, source (default: list every law)")

    p = sub.add_parser("fit", help="fit a law to a table of points or to loss logs")
    p.add_argument("law")
    p.add_argument("data", help="CSV/TSV/JSONL/Parquet table, or any log read_logs reads")
    p.add_argument("--var", action="append", default=[], metavar="NAME=COLUMN",
                   help="map a law input to a column, e.g. --var N=n_params (repeat)")
    p.add_argument("--target", default="loss", help="column with the loss (default: loss)")
    p.add_argument("--loss", default="huber",
                   help="objective: huber, squared (log residuals), huber_linear, squared_linear")
    p.add_argument("--delta", type=float, default=1e-3, help="Huber delta (default 1e-3)")
    p.add_argument("--fix", action="append", default=[], metavar="NAME=VALUE",
                   help="hold a parameter fixed (repeat)")
    p.add_argument("--split", default=None, help="keep only rows of this split (e.g. val)")
    p.add_argument("--final-points", action="store_true",
                   help="keep the last step of each run (one point per run)")
    p.add_argument("--schedule", action="append", default=[], metavar="RUN=SPEC",
                   help="lr_annealing: the schedule of a run in string form (repeat)")
    p.add_argument("--warmup-steps", type=int, default=None,
                   help="schedule laws (lr_annealing, multi_power): warm-up steps (default 0)")
    p.add_argument("--by", default=None, help="fit one law per value of this column")
    p.add_argument("--bootstrap", type=int, default=0, metavar="N",
                   help="attach N bootstrap resamples (CIs) to the saved fit")
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("-o", "--output", default=None, help="save the fit as JSON")

    p = sub.add_parser("predict", help="predict with a saved fit")
    p.add_argument("fit_file")
    p.add_argument("--group", default=None, metavar="KEY", help="a grouped fit (fit --by): the group to use")
    p.add_argument("--at", action="append", default=[], metavar="NAME=VALUE",
                   help="input value, e.g. --at N=7e10 (repeat; comma-separate several values)")
    p.add_argument("--schedule", default=None, help="lr_annealing: schedule in string form")
    p.add_argument("--warmup-steps", type=int, default=None,
                   help="schedule laws: warm-up steps of --schedule (default: the fit's own)")
    p.add_argument("--ci", type=float, default=None, help="also print a LEVEL prediction interval (e.g. 0.9; needs a fit saved with bootstrap draws): "
                   "calibrated on backtests inside the fitted data, its kind printed with it")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("optimum", help="derived optimum of a saved fit (e.g. --at C=1e21)")
    p.add_argument("fit_file")
    p.add_argument("--group", default=None, metavar="KEY", help="a grouped fit (fit --by): the group to use")
    p.add_argument("--at", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--schedule-family", default=None, choices=["wsd", "cosine", "free"],
                   help="schedule laws: the best schedule of this family at --at n_steps=N "
                        "(peak=, floor=, warmup= default to the fitted runs')")
    p.add_argument("--level", type=float, default=None,
                   help="--schedule-family: interval level with bootstrap draws (default 0.9)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("forecast", help="forecast the end of a run in progress from its log")
    p.add_argument("log", help="one run's log (trainer JSONL, CSV with step and loss, ...)")
    p.add_argument("--schedule", default=None, metavar="SPEC",
                   help="the run's full planned schedule (default: the log's 'schedule' column)")
    p.add_argument("--law", default="lr_annealing", choices=["lr_annealing", "multi_power"])
    p.add_argument("--prior", default=None, metavar="FIT.json",
                   help="a saved fit of finished runs of the same setup: borrow every parameter but L0")
    p.add_argument("--warmup-steps", type=int, default=0, help="the law's warm-up steps (lr_annealing)")
    p.add_argument("--split", default=None, help="which split's loss (default: val if present)")
    p.add_argument("--level", type=float, default=0.9)
    p.add_argument("--bootstrap", type=int, default=200, metavar="N", help="resamples for the interval (0: none)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("plot", help="write the interactive figure of a saved fit")
    p.add_argument("fit_file")
    p.add_argument("--group", default=None, metavar="KEY", help="a grouped fit (fit --by): the group to use")
    p.add_argument("data", nargs="?", default=None, help="data to draw (default: the fit's own points)")
    p.add_argument("--split", default=None, help="keep only rows of this split of DATA (e.g. val)")
    p.add_argument("--final-points", action="store_true", help="keep the last step of each run of DATA")
    p.add_argument("-o", "--output", default="fit.html")

    p = sub.add_parser("isoflop", help="Chinchilla approach 2 (IsoFLOP profiles) or 1 (--envelope)")
    p.add_argument("data", help="table of final points (N, C or D, loss) or loss logs")
    p.add_argument("--var", action="append", default=[], metavar="NAME=COLUMN",
                   help="N=params column and C=FLOPs column (or D=tokens: C = 6ND)")
    p.add_argument("--target", default="loss")
    p.add_argument("--split", default=None, help="keep only rows of this split (e.g. val)")
    p.add_argument("--final-points", action="store_true", help="keep the last step of each run")
    p.add_argument("--envelope", action="store_true",
                   help="approach 1: the lower envelope of training curves (logs with run and step)")
    p.add_argument("--profile", default="parabola", help="parabola (default) or law")
    p.add_argument("--budget", action="append", default=[], metavar="C",
                   help="nominal budget (repeat); default: found in the data")
    p.add_argument("--tol", type=float, default=0.05, help="budget bin half-width in decades of C")
    p.add_argument("--counted", default=None, metavar="COLUMN",
                   help="counted compute per run (e.g. flops_with_head, LM head included, derived from our trainer's "
                        "logs): budgets stay grouped by the nominal C, each optimum is placed at its counted compute "
                        "and --at C is counted compute (--envelope: the envelope's compute axis)")
    p.add_argument("--bootstrap", type=int, default=200, metavar="N", help="resamples (0: none)")
    p.add_argument("--level", type=float, default=0.9, help="interval level (default 0.9)")
    p.add_argument("--at", action="append", default=[], metavar="C=VALUE",
                   help="predict N_opt, D_opt, loss at this compute (repeat)")
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("-o", "--output", default=None, help="save the result as JSON")
    p.add_argument("--plot", default=None, metavar="HTML", help="write the profiles figure")
    p.add_argument("--backtest-frontier", action="store_true",
                   help="a size ladder trained at fixed token counts (no IsoFLOP budgets; --var N=.. --var D=..): fit "
                        "each --law on the smaller sizes' final points, predict the compute-frontier points of the "
                        "largest --holdout fraction of sizes")
    p.add_argument("--holdout", type=float, default=1 / 3, help="--backtest-frontier: fraction of sizes held out")
    p.add_argument("--law", action="append", default=[], help="--backtest-frontier: a law to backtest (repeat; "
                   "default chinchilla and kaplan_nd)")

    for name in _TRAINER_COMMANDS:
        sub.add_parser(name, help=f"trainer: {name} (see `scalelaw {name} --help`)", add_help=False)
    p = sub.add_parser("app", help="start the Streamlit app")
    p.add_argument("--port", type=int, default=None)
    from scalelaw.serve import add_arguments as serve_arguments  # light: FastAPI loads when it runs

    serve_arguments(sub.add_parser("serve", help="HTTP API over a store of fits (FastAPI + uvicorn)"))
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print("scalelaw: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # output piped into `head` and the like: the reader left, which is not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _main(argv: list[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in _TRAINER_COMMANDS:
        try:
            from scalelaw.train.cli import main as trainer_main
        except KeyboardInterrupt:  # Ctrl-C while the trainer's modules load
            print(f"scalelaw {argv[0]}: interrupted before it started; run it again", file=sys.stderr)
            return 130
        return trainer_main(argv)
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    from scalelaw import _cli_commands

    handler = getattr(_cli_commands, "cmd_" + args.command)
    try:
        with _cli_commands.cli_warnings(args.command):
            return handler(args) or 0
    except BrokenPipeError:
        raise
    except (ValueError, KeyError, TypeError, OSError, RecursionError, MemoryError, NotImplementedError) as err:
        # NotImplementedError: e.g. `scalelaw optimum` of a law with no optimum (dcpt, power_law)
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        if isinstance(err, RecursionError):
            message = "input nested too deeply to read"
        if isinstance(err, MemoryError):  # e.g. a schedule of 1e12 steps: say so, not a numpy traceback
            message = f"out of memory ({err or 'allocation failed'}): ask for less (fewer steps, points or rows)"
        print(f"scalelaw {args.command}: error: {_cli_commands.cli_words(message)}", file=sys.stderr)
        return 2


__all__ = ["main"]
