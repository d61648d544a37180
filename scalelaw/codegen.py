"""Write the Python that reproduces a fit made elsewhere (the app's "export snippet").

The snippet is plain library calls: ``read_logs`` with the same reading options, the same choice
of rows (``final_points``, ``frontier``, a warm-up cut, an optional trailing mean), ``fit`` with
the same keyword arguments, and the same bootstrap. Run where the data files are, it gives the
same parameters.

>>> print(fit_snippet("power_law", "runs.csv", points={"mode": "all", "split": "val"},
...                   fit_kwargs={"inputs": {"x": "flops"}}).splitlines()[-2])
fit = sl.fit("power_law", points, inputs={"x": "flops"})
"""

from __future__ import annotations

import json
import math

_MODES = ("final", "frontier", "after_warmup", "all")


def literal(value) -> str:
    """A Python literal for plain data (dicts, lists, numbers, strings, None); inf and nan spelled
    so the snippet still runs."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(literal(v) for v in value)
        return f"({inner},)" if isinstance(value, tuple) and len(value) == 1 else (
            f"({inner})" if isinstance(value, tuple) else f"[{inner}]")
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()  # numpy scalars
    if isinstance(value, float) and not math.isfinite(value):
        return f'float("{value}")'
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON's string escapes are valid Python
    if isinstance(value, (bool, int, float)) or value is None:
        return repr(value)
    raise TypeError(f"fit_snippet: cannot write {type(value).__name__} {value!r} as a literal")


def _call(fn: str, *args, **kwargs) -> str:
    """``fn(args, key=value)``; one argument a line when that is long (kept readable)."""
    parts = [literal(a) if not isinstance(a, _Name) else str(a) for a in args]
    parts += [f"{k}={literal(v)}" for k, v in kwargs.items() if v is not None]
    one_line = f"{fn}({', '.join(parts)})"
    if len(one_line) <= 90:
        return one_line
    return f"{fn}(\n" + "".join(f"    {p},\n" for p in parts) + ")"


class _Name(str):
    """A variable name to write as is (not quoted)."""


def _points_lines(points: dict, var: str, y: str) -> list[str]:
    mode = points.get("mode", "all")
    if mode not in _MODES:
        raise ValueError(f"fit_snippet: points mode must be one of {', '.join(_MODES)}, got {mode!r}")
    split = points.get("split")
    if mode == "final":
        return [f"{var} = " + _call("sl.final_points", _Name("df"), split=split)]
    rows = f'df[df["split"] == {literal(split)}]' if split is not None else "df"
    if mode == "frontier":
        return [f"{var} = " + _call("sl.frontier", _Name(rows), x=points.get("x", "flops"), y=y)]
    if mode == "after_warmup":
        return [f'{var} = {rows}[{rows}["step"] > {int(points.get("warmup", 0))}]']
    return [f"{var} = {rows}"]


def fit_snippet(law: str, source, *, read_kwargs: dict | None = None, points: dict | None = None,
                fit_kwargs: dict | None = None, bootstrap: int = 0, bootstrap_seed: int = 0,
                general_split: str | None = None, note: str | None = None) -> str:
    """The Python snippet that reproduces a fit.

    Parameters
    ----------
    law : str
        The law's name.
    source : str or list of str
        What ``read_logs`` reads (paths as the user has them).
    read_kwargs : dict, optional
        ``read_logs`` keyword arguments (format, loss_unit, columns, metadata, ...).
    points : dict, optional
        Which rows the law sees: ``{"mode": "final" | "frontier" | "after_warmup" | "all",
        "split": ..., "warmup": steps dropped, "smooth": trailing-mean window, "x": frontier x,
        "n_params": keep only the runs of this model size}``.
    fit_kwargs : dict, optional
        ``scalelaw.fit`` keyword arguments (inputs, target, loss, delta, fixed, bounds, seed and the
        law's options).
    bootstrap, bootstrap_seed : int
        Bootstrap resamples (0: none) and their seed.
    general_split : str, optional
        dcpt: also fit the general loss of this split (``side="general"``), as the app does.
    note : str, optional
        A first comment line (where the snippet came from).
    """
    points = dict(points or {"mode": "all", "split": None})
    fit_kwargs = dict(fit_kwargs or {})
    read_kwargs = {k: v for k, v in (read_kwargs or {}).items()
                   if v is not None and not (k == "format" and v == "auto")}  # auto is the default
    y = fit_kwargs.get("target", "loss")
    lines = [f"# {note}" if note else "# Reproduces a scalelaw fit.", "import scalelaw as sl", ""]
    lines.append("df = " + _call("sl.read_logs", source, **read_kwargs))
    if points.get("n_params") is not None:  # the runs of one model size
        lines.append(f'df = df[df["n_params"] == {literal(float(points["n_params"]))}]')
    window = int(points.get("smooth", 1) or 1)
    if window > 1:
        lines += [f"# trailing mean of {y!r} over {window} logged points, per run and split",
                  'df = df.sort_values(["run", "split", "step"], kind="stable").copy()',
                  f'df[{literal(y)}] = df.groupby(["run", "split"], sort=False)[{literal(y)}].transform('
                  f"lambda s: s.rolling({window}, min_periods=1).mean())"]
    lines += _points_lines(points, "points", y)
    side = fit_kwargs.pop("side", None)
    is_dcpt = general_split is not None or side is not None
    if is_dcpt:
        lines.append("fit = " + _call("sl.fit", law, _Name("points"), **fit_kwargs, side="domain"))
    else:
        lines.append("fit = " + _call("sl.fit", law, _Name("points"), **fit_kwargs))
    if bootstrap:
        lines.append(f"fit.bootstrap(n={int(bootstrap)}, seed={int(bootstrap_seed)})")
    if general_split is not None:
        lines += _points_lines({**points, "split": general_split}, "general_points", y)
        lines.append("general = " + _call("sl.fit", law, _Name("general_points"), **fit_kwargs, side="general"))
        if bootstrap:
            lines.append(f"general.bootstrap(n={int(bootstrap)}, seed={int(bootstrap_seed)})")
        lines.append("# largest domain share keeping the general loss within 3% of the base model's:")
        lines.append("# print(sl.mixture_optimum(fit, general, N=..., D=..., max_general_increase=0.03))")
    lines.append("print(fit.report())")
    return "\n".join(lines) + "\n"
