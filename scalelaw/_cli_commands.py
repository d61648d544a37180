"""Implementations of the ``scalelaw`` subcommands (imported only when a command runs)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import warnings
from pathlib import Path

import numpy as np

_PLAIN_SUFFIXES = {".csv", ".tsv", ".parquet", ".pq"}


def load_table(path: str):
    """A table of points: plain CSV/TSV/Parquet/JSONL as they are, anything else via read_logs."""
    p = Path(path)
    if not p.exists():
        import glob

        if any(c in str(path) for c in "*?[") and glob.glob(str(path), recursive=True):
            from scalelaw import read_logs

            return read_logs(path)  # a glob of logs (quoted on the shell), as read_logs reads it
        raise FileNotFoundError(f"{path}: no such file or directory")
    suffix = p.suffix.lower()
    if p.is_file() and suffix in _PLAIN_SUFFIXES:
        from scalelaw.io.plain import read_plain_table

        return read_plain_table(p.read_bytes(), path, suffix)
    if p.is_file() and suffix == ".jsonl":
        with open(p, "rb") as fh:
            first = fh.readline()
        if b'"header"' not in first:
            from scalelaw.io.plain import read_plain_table

            return read_plain_table(p.read_bytes(), path, suffix)
    from scalelaw import read_logs

    return read_logs(path)


def _fix_flags(match) -> str:
    names = re.findall(r"'([^']+)'", match.group(1))
    return " ".join(f"--fix {n}=VALUE" for n in names) if names else "--fix NAME=VALUE"


def _fix_value(match) -> str:
    """``fixed['E'] = -1.0`` as the flag the user typed, ``--fix E=-1`` (a float's ``.0`` dropped)."""
    value = match.group(3)
    if re.fullmatch(r"[-+]?[0-9]+\.0", value):
        value = value[:-2]
    return f"--fix {match.group(2)}={value}"


# The library's messages speak Python (keyword arguments, methods, numpy reprs); on the command
# line the same advice names the flags. (pattern, replacement), applied in order.
_CLI_WORDS = [
    (re.compile(r"fixed=\{([^{}]*)\}"), _fix_flags),
    (re.compile(r"\bfixed="), "--fix NAME=VALUE"),
    # ParamSpec's checks of one fixed value: fixed['E'] = -1.0 is outside ... -> --fix E=-1.0 is outside ...
    (re.compile(r"(?<![-\w.])fixed\[(['\"])([^'\"]+)\1\] = (\S+)"), _fix_value),
    (re.compile(r"(?<![-\w.])fixed\[(['\"])([^'\"]+)\1\]"), r"--fix \2"),
    (re.compile(r"(?<![-\w.])fixed: law ('[^']+') has no parameter '([^']+)'"), r"--fix \2=VALUE: law \1 has no parameter '\2'"),
    (re.compile(r"\b(?:run|call) fit\.bootstrap\((?:n=[^)]*)?\)"), "fit with --bootstrap N"),
    (re.compile(r"\bfit\.bootstrap\((?:n=[^)]*)?\)"), "--bootstrap N"),
    (re.compile(r"\bnp\.(?:float|int|uint|bool_?|str_)\d*\(([^()]*)\)"), r"\1"),
    (re.compile(r"\bpass budgets= or a wider tol="), "pass --budget C (repeat) or a wider --tol"),
    # argument checks worded with the Python keyword (predict checks its --ci itself, first)
    (re.compile(r"(?<![-\w])level must be (a number )?in \(0, 1\)"), r"--level must be \1in (0, 1)"),
    (re.compile(r"(?<![-\w])bootstrap n must be"), "--bootstrap N must be"),
    (re.compile(r"(?<![-\w])warmup_steps must be"), "--warmup-steps must be"),
    (re.compile(r"\(one sl\.fit per n_params, or by='n_params'\)"), "(--by n_params)"),
    (re.compile(r"\bfit\.predict\(schedule=lr_array_or_string\)"), "give --schedule SPEC (not --at)"),
]


def cli_words(message) -> str:
    """A library message in the command line's words: ``fixed={'A': ...}`` -> ``--fix A=VALUE``,
    ``fit.bootstrap()`` -> ``--bootstrap N``, ``np.float64(0.0)`` -> ``0.0``."""
    text = str(message)
    for pattern, repl in _CLI_WORDS:
        text = pattern.sub(repl, text)
    return text


@contextlib.contextmanager
def cli_warnings(command: str):
    """Print each warning as one ``scalelaw COMMAND: warning: ...`` line on stderr, in CLI words,
    without the library's source line that Python's default format adds."""
    def show(message, category, filename, lineno, file=None, line=None):
        print(f"scalelaw {command}: warning: {cli_words(message)}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = show
        yield


def _parse_assignment(text: str, flag: str) -> tuple[str, str]:
    name, eq, value = text.partition("=")
    if not eq or not name.strip() or not value.strip():
        raise ValueError(f"{flag} expects NAME=VALUE, got {text!r}")
    return name.strip(), value.strip()


def _assignments(items, flag: str) -> dict:
    """NAME=VALUE flags as a dict; a name given twice is an error (the later one would silently win)."""
    out = {}
    for item in items:
        name, value = _parse_assignment(item, flag)
        if name in out:
            raise ValueError(f"{flag} {name} given twice ({name}={out[name]} and {name}={value}); give each name "
                             "once" + (f" (several values: comma-separate them, {flag} {name}=V1,V2)"
                                       if flag == "--at" else ""))
        out[name] = value
    return out


def _parse_float(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{what} must be a number, got {text!r}") from None


def _value(text: str):
    try:
        return float(text)
    except ValueError:
        return text


def _at_values(pairs, flag="--at"):
    out = {}
    for name, value in _assignments(pairs, flag).items():
        parts = [_value(v) for v in value.split(",")] if not value.count(":") else [value]
        out[name] = np.array(parts) if len(parts) > 1 else parts[0]
    return out


def _strict(value):
    """JSON has no NaN or Infinity: they print as null, so any JSON reader can read the output."""
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    if isinstance(value, (float, np.floating)) and not np.isfinite(value):
        return None
    if isinstance(value, np.ndarray):
        return _strict(value.tolist())
    if isinstance(value, np.generic):
        return _strict(value.item())
    return value


def _print_json(obj):
    print(json.dumps(_strict(obj), indent=None, default=float, allow_nan=False))


def _no_draws_message(path) -> str:
    return (f"{path} has no bootstrap draws, so there is no interval: refit with "
            "`scalelaw fit ... --bootstrap 200 -o FIT.json` (or fit.bootstrap(n) in Python) and predict from that")


def _param_range(p) -> str:
    """A parameter's allowed values as an interval: log-fitted parameters are > 0 (their log is fitted)."""
    lower = "(" if (p.log and p.min <= 0) or not np.isfinite(p.min) else "["
    upper = "]" if np.isfinite(p.max) else ")"
    return f"{lower}{p.min:g}, {p.max:g}{upper}"


def _describe_law(law) -> list[str]:
    """The lines of `scalelaw laws NAME`: what a user needs to fit the law (which columns it reads,
    which values it allows, which parameters come out) and where it comes from."""
    lines = [f"{law.name}: {law.formula}", f"  source:     {law.source}",
             f"  target:     {law.target_doc} (--target COLUMN, default: loss)", "  inputs (--var NAME=COLUMN):"]
    for inp in law.inputs:
        allowed = "labels" if inp.categorical else f"values {inp.domain()}"
        column = f"column {inp.column}" if inp.column else "no default column"
        lines.append(f"    {inp.name:<10} {inp.doc}; {column}; {allowed}")
    lines.append("  parameters (--fix NAME=VALUE):")
    for p in law.params:
        fixed = f"; held at {p.fixed_default:g} by default" if p.fixed_default is not None else ""
        lines.append(f"    {p.name:<10} {p.doc}; in {_param_range(p)}{fixed}")
    if law.options:
        lines.append("  options:    " + ", ".join(f"{k}={v!r}" for k, v in law.options.items()))
    return lines


def cmd_laws(args):
    import scalelaw as sl

    if args.names:
        # every name checked before printing any: an unknown one is the error alone, listing the laws
        chosen = [sl.get_law(name) for name in args.names]
        print("\n\n".join("\n".join(_describe_law(law)) for law in chosen))
        return
    for name in sl.laws():
        law = sl.get_law(name)
        print(f"{name:<15} {law.formula}")
        print(f"{'':<15} inputs: {', '.join(law.input_names)}; parameters: {', '.join(law.param_names)}")
        print(f"{'':<15} {law.source}")


def _summary(fit):
    return {"law": fit.law.name, "params": fit.params, "objective": fit.objective, "n_points": fit.n_points,
            "warnings": [cli_words(w) for w in fit.warnings]}


def _select_split(df, args):
    """The rows of ``--split`` (all rows without it); a missing column or an empty split is an error."""
    if args.split is None:
        return df
    if "split" not in df.columns:
        raise ValueError(f"{args.data}: --split given but the data have no 'split' column")
    kept = df[df["split"] == args.split]
    if kept.empty:  # name the splits there are: a typo ('vall') or another logger's name ('validation')
        raise ValueError(f"{args.data}: no rows with split == {args.split!r}; splits are "
                         f"{sorted(map(str, df['split'].dropna().unique()))}")
    return kept


def _points(args):
    """DATA as fit and plot read it: --split's rows, then with --final-points each run's last step."""
    df = _select_split(load_table(args.data), args)
    if args.final_points:
        from scalelaw import final_points

        df = final_points(df, split=None)
    return df


@contextlib.contextmanager
def _curves_hint(df, args):
    """A value that must be > 0 but is 0 in training curves (a log's step-0 rows: no tokens, no
    FLOPs yet) gets the selection that fixes it, when DATA has run and step and none was asked."""
    try:
        yield
    except ValueError as err:
        law = getattr(args, "law", None)
        schedule_law = isinstance(law, str) and law in ("lr_annealing", "multi_power")
        message = str(err.args[0]) if err.args else ""
        if ("must be > 0" in message and {"run", "step"} <= set(df.columns) and not args.final_points
                and not schedule_law and not getattr(args, "envelope", False)):
            raise ValueError(f"{message}; {args.data} holds training curves (run, step): select one point per "
                             "run, e.g. --split val --final-points") from None
        raise


def _not_an_input(output, flag: str, *inputs) -> None:
    """Refuse an output path that is one of the command's input files: `-o points.csv` for
    `-o fit.json` replaced the user's data with the result, silently (the write is atomic, so the
    data were gone the moment it succeeded). An input given as a glob pattern ('logs/*.csv',
    quoted on the shell) is the files it matches, expanded as read_logs expands it: before, only an
    exact input path was checked, so `-o logs/run3.csv` replaced a log the fit had just read."""
    import glob
    import os

    if not output or not os.path.exists(output):
        return
    for source in inputs:
        if not source:
            continue
        if os.path.isfile(source) and os.path.samefile(output, source):
            raise ValueError(f"{flag} {output!r} is the input file {source!r}: writing there would replace it; "
                             "give another file name")
        if os.path.lexists(source) or not any(c in str(source) for c in "*?["):
            continue  # an existing path is read as itself (load_table, read_logs), never as a pattern
        for match in glob.glob(os.path.expanduser(str(source)), recursive=True):
            if os.path.isfile(match) and os.path.samefile(output, match):
                raise ValueError(f"{flag} {output!r} is the input file {match!r} (matched by {source!r}): writing "
                                 "there would replace it; give another file name")


def cmd_fit(args):
    import scalelaw as sl

    if args.output:
        from scalelaw.atomic import check_output_path

        check_output_path(args.output, "-o")  # before the fit, not after it
        _not_an_input(args.output, "-o", args.data)
    df = _points(args)
    inputs = _assignments(args.var, "--var")
    fixed = {k: _parse_float(v, f"--fix {k}") for k, v in _assignments(args.fix, "--fix").items()}
    options = {}
    if args.schedule:
        options["schedules"] = _assignments(args.schedule, "--schedule")
    if args.warmup_steps is not None:  # any law: multi_power used to drop it silently, others now say they lack it
        options["warmup_steps"] = args.warmup_steps
    with _curves_hint(df, args):
        result = sl.fit(args.law, df, inputs=inputs or None, target=args.target, loss=args.loss, delta=args.delta,
                        fixed=fixed or None, by=args.by, seed=args.seed, **options)
    if args.bootstrap:
        result.bootstrap(args.bootstrap, seed=args.seed)
    if args.output:
        result.save(args.output)
    if args.json:
        if isinstance(result, sl.GroupedFit):
            _print_json({"by": result.by, "groups": {str(k): _summary(r) for k, r in result.items()}})
        else:
            _print_json(_summary(result))
    else:
        print(cli_words(result.report()))
        if args.output:
            print(f"saved to {args.output}")


def _load_one(args):
    """The saved fit of FIT_FILE, or with --group one group's of a grouped fit (fit --by); (fit, by)."""
    import scalelaw as sl

    fit = sl.load_fit(args.fit_file)
    group = getattr(args, "group", None)
    if not isinstance(fit, sl.GroupedFit):
        if group is not None:
            raise ValueError(f"--group {group}: {args.fit_file} is not a grouped fit (fit --by COLUMN makes one)")
        return fit, None
    keys = {str(k): k for k in fit}
    if group is None or group not in keys:
        said = "" if group is None else f"--group {group!r} is not one of its groups; "
        raise ValueError(f"{args.fit_file} holds one fit per {fit.by!r} ({len(keys)} groups): {said}pick one with "
                         f"--group KEY, KEY one of: {', '.join(keys)}")
    return fit[keys[group]], fit.by


def cmd_predict(args):
    import scalelaw as sl

    fit, _ = _load_one(args)
    if args.ci is not None and not (np.isfinite(args.ci) and 0 < args.ci < 1):
        # checked before predicting: the error named 'level' (the Python keyword) after the
        # extrapolation warnings of a prediction it then did not print
        raise ValueError(f"--ci must be a number in (0, 1), e.g. --ci 0.9, got {args.ci:g}")
    if args.schedule:
        kwargs = {"schedule": args.schedule}  # without --warmup-steps: the fit's own warm-up
        if args.warmup_steps is not None:
            kwargs["warmup_steps"] = args.warmup_steps
        pred = fit.predict(**kwargs)
        steps = np.arange(1, len(pred) + 1)
        out = {"step": steps.tolist(), "loss": pred.tolist()}
        if args.ci is not None:
            if fit.draws is None:
                raise ValueError(_no_draws_message(args.fit_file))
            lo, hi = fit.predict_interval(level=args.ci, **kwargs)
            out.update(lower=lo.tolist(), upper=hi.tolist(), interval=fit.interval_label(args.ci))
        if args.json:
            _print_json(out)
        else:
            every = max(1, len(steps) // 20)
            for i in list(range(0, len(steps), every)) + ([len(steps) - 1] if (len(steps) - 1) % every else []):
                ci = f"  [{out['lower'][i]:.6g}, {out['upper'][i]:.6g}]" if "lower" in out else ""
                print(f"step {steps[i]:>8d}  loss {pred[i]:.6g}{ci}")
            if "lower" in out:
                print(f"interval: {fit.interval_label(args.ci)} (bootstrap: {len(fit.draws)} draws)")
        return
    X = _at_values(args.at)
    if not X:
        raise ValueError("predict: give inputs with --at NAME=VALUE (e.g. --at N=7e10 --at D=1.4e12)")
    pred = fit.predict(X)
    out = {"inputs": {k: np.atleast_1d(v).tolist() for k, v in X.items()}, "prediction": pred.tolist(),
           "extrapolation": fit.extrapolation(X)}
    if args.ci is not None:
        if fit.draws is None:
            raise ValueError(_no_draws_message(args.fit_file))
        lo, hi = fit.predict_interval(X, level=args.ci)
        out.update(lower=lo.tolist(), upper=hi.tolist(), interval=fit.interval_label(args.ci))
    if args.json:
        _print_json(out)
        return
    for i, p in enumerate(pred):
        at = ", ".join(f"{k}={np.atleast_1d(v)[i if np.size(v) > 1 else 0]:g}" for k, v in X.items())
        ci = f"  [{out['lower'][i]:.6g}, {out['upper'][i]:.6g}]" if "lower" in out else ""
        print(f"{at}: {p:.6g}{ci}")
    if "interval" in out:
        print(f"interval: {out['interval']}")


def cmd_optimum(args):
    import scalelaw as sl

    fit, _ = _load_one(args)
    if args.level is not None and not 0 < args.level < 1:
        raise ValueError(f"--level must be a number in (0, 1), e.g. 0.9, got {args.level}")
    schedule_law = getattr(fit.law, "schedule_law", False)
    if getattr(args, "schedule_family", None):
        if not schedule_law:  # was "the fit has no schedules to take peak/floor from"
            raise ValueError(f"--schedule-family is for schedule laws (lr_annealing, multi_power); "
                             f"{args.fit_file} is a {fit.law.name} fit")
        return _schedule_optimum(fit, args)
    if args.level is not None:
        raise ValueError(f"--level sets the interval of --schedule-family; the {fit.law.name} optimum has no "
                         "interval option (drop --level)")
    kwargs = _at_values(args.at)
    if schedule_law and "n_steps" in kwargs:
        # a step budget is the best-schedule question; --at NAME=SPEC compares named schedules
        raise ValueError("--at n_steps= is the step budget of the best schedule: add --schedule-family wsd "
                         "(or cosine, free); to compare given schedules, --at NAME=SPEC (e.g. --at "
                         "a=cosine:n_steps=2000,peak=1e-3)")
    if fit.law.name == "lr_annealing":
        kwargs = {"schedules": {k: v for k, v in kwargs.items()}}
    result = fit.optimum(**kwargs)
    if args.json:
        _print_json(result)
    else:
        for k, v in result.items():
            print(f"{k}: {v:.6g}" if isinstance(v, float) else f"{k}: {v}")


def _schedule_defaults(fit):
    """peak, warm-up and floor of the fitted runs' schedules (what a new schedule keeps by default)."""
    from scalelaw.laws.lr_annealing import _as_schedule

    lrs = [_as_schedule(v, r) for r, v in fit.info.get("resolved_schedules", {}).items()]
    if not lrs:
        raise ValueError("the fit has no schedules to take peak/floor from: give --at peak=... --at floor=...")
    # warm-up: the steps up to the first at the peak, when a schedule starts below it
    warm = max(int(np.argmax(lr >= lr.max() * (1 - 1e-9))) + 1 if lr[0] < lr.max() else 0 for lr in lrs)
    return {"peak": max(float(lr.max()) for lr in lrs), "floor": min(float(lr[-1]) for lr in lrs), "warmup": warm}


def _schedule_optimum(fit, args):
    at = {}
    for k, v in _at_values(args.at).items():
        if np.ndim(v) or isinstance(v, str):
            shown = v if isinstance(v, str) else ",".join(map(str, v))
            raise ValueError(f"optimum --schedule-family: --at {k} takes one number, got {shown!r}")
        at[k] = float(v)
    unknown = set(at) - {"n_steps", "peak", "floor", "warmup"}
    if unknown:
        raise ValueError(f"optimum --schedule-family takes --at n_steps=, peak=, floor=, warmup=; got {sorted(unknown)}")
    if "n_steps" not in at:
        raise ValueError("optimum --schedule-family needs the step budget: --at n_steps=24000")
    opts = {**_schedule_defaults(fit), **at}
    res = fit.optimal_schedule(int(opts["n_steps"]), opts["peak"], warmup=int(opts["warmup"]), floor=opts["floor"],
                               family=args.schedule_family,
                               level=0.9 if args.level is None else args.level)
    if args.json:
        _print_json({k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in res.items()})
        return
    iv = lambda key: f"  [{res[key][0]:.5g}, {res[key][1]:.5g}]" if res[key] else ""  # noqa: E731
    print(f"family {res['family']}: {res['spec'] or 'free-form (use --json for the per-step LR)'}")
    print(f"predicted final loss {res['loss']:.5g}{iv('loss_interval')}")
    print(f"cosine ({res['cosine_spec']}): {res['cosine_loss']:.5g}{iv('cosine_interval')}")
    print(f"gain over cosine {res['gain']:.4g}{iv('gain_interval')}")
    for note in res["notes"]:
        print(f"note: {note}")


def cmd_forecast(args):
    import scalelaw as sl

    df = load_table(args.log)
    spec = args.schedule
    if spec is None:
        if "schedule" not in df.columns or df["schedule"].dropna().nunique() != 1:
            raise ValueError(f"{args.log}: give the run's planned schedule with --schedule SPEC "
                             "(the log has no single 'schedule' value)")
        spec = str(df["schedule"].dropna().iloc[0])
    prior = sl.load_fit(args.prior) if args.prior else None
    fc = sl.forecast(df, schedule=spec, law=args.law, prior=prior, warmup_steps=args.warmup_steps,
                     split=args.split, level=args.level, n_boot=args.bootstrap)
    if args.json:
        _print_json({"law": fc["law"], "cut_step": fc["cut_step"], "n_steps": fc["n_steps"],
                     "final_loss": fc["final_loss"], "interval": fc["interval"], "level": fc["level"],
                     "decay_identified": fc["decay_identified"], "warnings": fc["warnings"],
                     "steps": fc["steps"].tolist(), "loss": fc["loss"].tolist()})
        return
    iv = f"  [{fc['interval'][0]:.5g}, {fc['interval'][1]:.5g}] ({fc['level']:.0%} calibrated prediction interval)" \
        if fc["interval"] else ""
    print(f"{fc['law']}: logged to step {fc['cut_step']} of {fc['n_steps']}; "
          f"forecast final loss {fc['final_loss']:.5g}{iv}")
    for w in fc["warnings"]:
        print(f"scalelaw forecast: warning: {w}", file=sys.stderr)


def cmd_plot(args):
    import scalelaw as sl
    from scalelaw.atomic import atomic_path, check_output_path
    from scalelaw.plot import plot_fit

    check_output_path(args.output, "-o", "fit.html")
    _not_an_input(args.output, "-o", args.fit_file, args.data)
    fit, by = _load_one(args)
    data = _plot_data(fit, args) if args.data else None
    if data is not None and by is not None and by in data.columns:
        data = data[data[by].astype(str) == args.group]  # the group's own points
    fig = plot_fit(fit, data=data)
    with atomic_path(args.output, "-o", "fit.html") as tmp:
        fig.write_html(str(tmp), include_plotlyjs="cdn" if args.output.endswith(".cdn.html") else True)
    print(f"wrote {args.output}")


def _plot_data(fit, args):
    """DATA selected as for fit (--split, --final-points), its columns checked against the fit's."""
    from scalelaw.plot.core import check_columns

    df = _points(args)
    try:
        check_columns(fit, df)
    except (KeyError, ValueError, TypeError) as err:
        hint = ("; select the points the law was fitted to, as for fit (--split val --final-points)"
                if {"run", "step"} <= set(df.columns) and not args.final_points else "")
        raise ValueError(f"{args.data}: {err.args[0]}{hint}") from None
    return df


def cmd_isoflop(args):
    import scalelaw as sl
    from scalelaw.atomic import check_output_path

    for path, flag, example in ((args.output, "-o", "iso.json"), (args.plot, "--plot", "isoflop.html")):
        if path:
            check_output_path(path, flag, example)  # before the profiles and bootstrap, not after them
            _not_an_input(path, flag, args.data)
    if args.output and args.plot and os.path.abspath(args.output) == os.path.abspath(args.plot):
        raise ValueError(f"-o and --plot name the same file {args.output!r}: the figure would replace the result")
    at = []  # parsed before the profiles and bootstrap (minutes), not after them
    for item in args.at:
        name, value = _parse_assignment(item, "--at")
        if name != "C":
            raise ValueError(f"isoflop --at takes the compute: --at C=VALUE (repeat for several), got --at {item}")
        at.append(_parse_float(value, "--at C"))
        if not (np.isfinite(at[-1]) and at[-1] > 0):
            raise ValueError(f"--at C must be positive FLOPs, got --at {item}")
    df = _select_split(load_table(args.data), args)
    inputs = _assignments(args.var, "--var")
    if args.backtest_frontier:
        return _backtest_frontier(df, inputs, args)
    if args.envelope:
        unknown = sorted(set(inputs) - {"N", "C", "D"})
        if unknown:
            raise ValueError(f"isoflop --envelope: unknown --var name(s) {unknown}; it takes N, C (compute) or D (tokens)")
        # a column the user named must exist: envelope() falls back from a missing compute column
        # to 6 N D (right for its default 'flops'), which silently replaced a mistyped --var C=
        named = {f"--var {k}={v}": v for k, v in inputs.items()}
        if args.counted:
            named[f"--counted {args.counted}"] = args.counted
        for flag, col in named.items():
            if col not in df.columns:
                raise ValueError(f"{flag}: column {col!r} not found in {args.data}; columns are: "
                                 f"{', '.join(map(str, df.columns))}")
        x = args.counted or inputs.get("C", "flops")
        result = sl.envelope(df, x=x, y=args.target, n=inputs.get("N", "n_params"), d=inputs.get("D", "n_tokens"),
                             n_boot=args.bootstrap, level=args.level, seed=args.seed)
    else:
        if args.final_points:
            df = sl.final_points(df, split=None)
        budgets = [_parse_float(b, "--budget") for b in args.budget] or None
        with _curves_hint(df, args):
            result = sl.isoflop(df, inputs=inputs or None, target=args.target, budgets=budgets, tol=args.tol,
                                profile=args.profile, n_boot=args.bootstrap, level=args.level, seed=args.seed,
                                counted=args.counted)
    preds = [result.predict(C=c) for c in at]
    if args.output:
        result.save(args.output)
    if args.plot:
        result.plot().write_html(args.plot)
    if args.json:
        _print_json({"approach": result.approach, "profile": result.profile, "params": result.params,
                     "optima": result.optima.to_dict(orient="records"), "predictions": preds,
                     "warnings": result.warnings})
        return
    print(result.report())
    for p in preds:
        band = (lambda k: f" [{p[k + '_lo']:.4g}, {p[k + '_hi']:.4g}]" if k + "_lo" in p else "")
        print(f"at C={p['C']:.3g}: N_opt={p['N']:.4g}{band('N')}, D_opt={p['D']:.4g}{band('D')}, "
              f"loss={p['loss']:.4g}{band('loss')}" + (f" ({p['interval']})" if "interval" in p else ""))
    for path, what in ((args.output, "saved to"), (args.plot, "wrote")):
        if path:
            print(f"{what} {path}")


def _backtest_frontier(df, inputs, args):
    """``scalelaw isoflop --backtest-frontier``: :func:`scalelaw.approaches.backtest_frontier` on the
    final point of each run (logs with ``run`` and ``step``), or on the table's rows as they are."""
    import scalelaw as sl
    from scalelaw.approaches import backtest_frontier

    unknown = sorted(set(inputs) - {"N", "D"})
    if unknown:  # were dropped without a word
        raise ValueError(f"isoflop --backtest-frontier: unknown --var name(s) {unknown}; it takes N and D")
    note = None
    if args.split is None and "split" in df.columns and df["split"].nunique() > 1:
        if "val" not in set(df["split"]):
            raise ValueError(f"{args.data}: rows of several splits ({sorted(map(str, df['split'].unique()))}); "
                             "pass --split NAME")
        df, note = df[df["split"] == "val"], "(the val split: pass --split to choose another)"
    if args.final_points or {"run", "step"} <= set(df.columns):
        df = sl.final_points(df, split=None)
    laws = tuple(args.law) or ("chinchilla", "kaplan_nd")
    bt = backtest_frontier(df, n=inputs.get("N", "n_params"), d=inputs.get("D", "n_tokens"), y=args.target,
                           holdout=args.holdout, laws=laws, seed=args.seed)
    summary = {law: {"mean_abs_err": float(bt[law + "_err"].abs().mean()),
                     "max_abs_err": float(bt[law + "_err"].abs().max())} for law in laws}
    if args.json:
        _print_json({"fitted_sizes": bt.attrs["fitted_sizes"], "held_sizes": bt.attrs["held_sizes"],
                     "summary": summary, "points": bt.to_dict(orient="records")})
        return
    if note:
        print(note)
    print(f"laws fitted on {len(bt.attrs['fitted_sizes'])} sizes (N <= {max(bt.attrs['fitted_sizes']):.4g}), "
          f"predicting the {len(bt)} compute-frontier point(s) of the held-out sizes "
          f"{', '.join(f'{v:.4g}' for v in bt.attrs['held_sizes'])}:")
    print(bt.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    for law, s in summary.items():
        print(f"{law}: mean |rel err| {s['mean_abs_err']:.2%}, max {s['max_abs_err']:.2%}")


def cmd_app(args):
    import os

    app = Path(__file__).resolve().parent.parent / "app" / "streamlit_app.py"
    if not app.exists():
        raise FileNotFoundError(f"{app}: the app ships with the source checkout (pip install -e .)")
    cmd = [sys.executable, "-m", "streamlit", "run", str(app)]
    if args.port:
        cmd += ["--server.port", str(args.port)]
    sys.stdout.flush()
    sys.stderr.flush()
    # become Streamlit (same pid): a SIGTERM or Ctrl-C meant for `scalelaw app` reaches the
    # server itself, and no child is left serving on the port
    os.execv(sys.executable, cmd)


def cmd_serve(args):
    from scalelaw.serve import main

    return main(args)
