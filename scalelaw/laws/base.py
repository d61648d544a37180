"""What every law declares: named inputs, named parameters with bounds and start grids, the formula.

A law is a plain numpy formula with the paper's symbols plus one declaration (this module's
:class:`Law`). Formulas broadcast: inputs are arrays of shape ``(n,)`` and parameters scalars or
arrays of shape ``(K, 1)``, so the fit engine evaluates K parameter sets at once, giving ``(K, n)``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

Array = np.ndarray


# a loss floor below this fraction of the smallest observed target has collapsed: a floor of 1e-8
# nats under losses of 3-4 nats says only that the data show no bend toward a floor (multi_power's
# L0 on two data/cpu_schedules runs: 8.7e-9); the same tolerance as scalelaw.approaches' floor check
FLOOR_COLLAPSE = 1e-3


@dataclass(frozen=True)
class Param:
    """A law parameter: bounds the maths requires, how it is fitted, where starts come from.

    ``log=True`` fits ``log(value)`` (the LSE trick: positive scales and exponents spanning orders of
    magnitude become well-conditioned); it needs ``min >= 0``. ``fixed_default`` makes the parameter
    fixed unless the user frees it (Tissue et al.'s momentum). ``floor=True`` marks the loss floor
    (E, L0, L_inf: in the target's units), whose collapse is judged against the data (below
    FLOOR_COLLAPSE of the smallest observed target) rather than at machine zero.
    """

    name: str
    doc: str
    min: float = 0.0
    max: float = np.inf
    log: bool = True
    grid: tuple = ()
    fixed_default: float | None = None
    floor: bool = False

    def __post_init__(self):
        if self.log and self.min < 0:
            raise ValueError(f"parameter {self.name}: log-scaled parameters need min >= 0")


@dataclass(frozen=True)
class Input:
    """A law input (a column of the data).

    ``positive``: logs or fractional powers are taken, so values must be > 0.
    ``identifies``: parameters that only this input's variation can identify; if all of them are
    fixed, the input may have a single level.
    ``column``: the tidy-schema column used when the user gives no mapping.
    ``min``/``max``: inclusive limits the law allows beyond ``positive`` (dcpt's share r in [0, 1]);
    fit and predict both refuse values outside them.
    """

    name: str
    doc: str
    column: str | None = None
    positive: bool = True
    identifies: tuple = ()
    categorical: bool = False
    min: float | None = None
    max: float | None = None

    def domain(self) -> str:
        """The allowed values in words, e.g. ``> 0`` or ``in [0, 1]``."""
        if self.min is not None and self.max is not None:
            return f"in [{self.min:g}, {self.max:g}]"
        lower = "> 0" if self.positive else (f">= {self.min:g}" if self.min is not None else "")
        upper = f"<= {self.max:g}" if self.max is not None else ""
        return " and ".join(p for p in (lower, upper) if p) or "finite"

    def outside(self, values: Array) -> Array:
        """Mask of values the law does not allow (non-finite included)."""
        v = np.asarray(values, dtype=np.float64)
        bad = ~np.isfinite(v)
        if self.positive:
            bad |= v <= 0
        if self.min is not None:
            bad |= v < self.min
        if self.max is not None:
            bad |= v > self.max
        return bad


def as_numbers(value, what: str) -> Array:
    """``value`` as a float64 array, or a ValueError quoting the first entry that is not a number.
    Booleans are refused (True would pass for 1: the fit refuses boolean columns too)."""
    dtype = getattr(value, "dtype", None)  # arrays and Series: their dtype says it, no loop
    if dtype is not None and dtype != object:
        # kind "b": numpy's bool and pandas' nullable "boolean" alike (the latter is not == bool)
        flags = [np.atleast_1d(np.asarray(value, dtype=object)).ravel()[0]] \
            if getattr(dtype, "kind", None) == "b" and np.size(value) else []
    else:
        flags = [x for x in np.atleast_1d(np.asarray(value, dtype=object)).ravel() if isinstance(x, (bool, np.bool_))]
    if flags:
        raise ValueError(f"{what} must be a number, got {flags[0]!r} (a boolean)")
    try:
        return np.atleast_1d(np.asarray(value, dtype=np.float64))
    except (TypeError, ValueError):
        pass
    for item in np.atleast_1d(np.asarray(value, dtype=object)).ravel():
        try:
            float(item)
        except (TypeError, ValueError):
            raise ValueError(f"{what} must be a number, got {item!r}") from None
    raise ValueError(f"{what} must be numbers, got {value!r}")


@dataclass
class Law:
    """Declaration of one scaling law. Subclass or instantiate once per law module."""

    name: str
    formula: str
    latex: str
    source: str
    inputs: tuple
    params: tuple
    function: Callable[..., Array]
    target_doc: str = "loss L in nats per token"
    options: dict = field(default_factory=dict)

    # ---- declaration helpers -------------------------------------------------------------
    @property
    def param_names(self) -> tuple:
        return tuple(p.name for p in self.params)

    @property
    def input_names(self) -> tuple:
        return tuple(i.name for i in self.inputs)

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(f"law {self.name!r} has no parameter {name!r}; parameters: {', '.join(self.param_names)}")

    def default_fixed(self) -> dict:
        return {p.name: p.fixed_default for p in self.params if p.fixed_default is not None}

    def describe(self) -> dict:
        """Plain-data description (for `scalelaw laws`, the app and docs)."""
        return {
            "name": self.name,
            "formula": self.formula,
            "latex": self.latex,
            "source": self.source,
            "inputs": {i.name: i.doc for i in self.inputs},
            "params": {p.name: p.doc for p in self.params},
            "target": self.target_doc,
            "options": dict(self.options),
        }

    # ---- data -> features ---------------------------------------------------------------------
    def check_options(self, options: Mapping[str, Any]) -> dict:
        unknown = set(options) - set(self.options)
        if unknown:
            known = ", ".join(sorted(self.options)) or "none"
            raise TypeError(
                f"law {self.name!r} got unknown option(s) {', '.join(sorted(unknown))}; its options: {known}"
            )
        merged = dict(self.options)
        merged.update(options)
        return merged

    def prepare(self, columns: Mapping[str, Array], options: dict, frame=None, y=None) -> tuple[dict, dict]:
        """Turn the user's input columns into the arrays ``evaluate`` needs.

        Returns ``(X, info)``: ``X`` maps names to arrays, one value per observation (it may also
        hold caches; it is never saved); ``info`` is JSON-ready plain data kept on the result and
        passed back to ``evaluate`` (reference sizes, baselines). Laws whose inputs are not plain
        columns (schedules, domains) override this. ``info["row_mask"]`` (bool array), if set,
        keeps only those rows for fitting; ``info["notes"]`` (list of str) become fit warnings.
        """
        return {k: np.asarray(v, dtype=np.float64) for k, v in columns.items()}, {}

    def options_from_info(self, options: dict, info: dict) -> dict:
        """Options that rebuild the same features from saved data (schedules, domain features)."""
        return options

    # Keys ``predict`` accepts besides the inputs (laws with other prediction arguments extend it).
    prediction_extras = ()

    # Laws whose formula can fall below zero (lr_annealing's L0 + A S1^-alpha - C S2) return this
    # value there instead, so that the fit can take logs; such a value is not a prediction, and
    # callers say so (:func:`clipped_note`). None: the formula stays positive.
    clip_floor = None

    def check_prediction(self, feats: Mapping[str, Any], params: Mapping[str, float], info: dict) -> None:
        """Refuse prediction inputs where the formula is undefined for the fitted parameters (a
        ValueError saying why), rather than return NaN. Most laws' domains depend on the inputs
        alone (checked in :meth:`features_for_prediction`); dcpt_cross's K depends on w2 too."""

    def check_prediction_keys(self, X: Mapping[str, Any]) -> None:
        """Refuse keys that are neither inputs nor prediction arguments (a typo would be ignored)."""
        known = set(self.input_names) | set(self.prediction_extras)
        unknown = [str(k) for k in X if k not in known]
        if unknown:
            raise ValueError(f"law {self.name!r} has no input(s) {', '.join(unknown)}; "
                             f"it predicts from {', '.join(sorted(known))}")

    def features_for_prediction(self, X: Mapping[str, Any], options: dict, info: dict) -> dict:
        """Arrays for ``evaluate`` from user-given prediction inputs (broadcast to one shape).

        Inputs are validated as strictly as when fitting: numbers only, inside the law's domain.
        """
        self.check_prediction_keys(X)
        names = [i.name for i in self.inputs if not i.categorical]
        missing = [n for n in names if n not in X]
        if missing:
            raise ValueError(
                f"law {self.name!r} needs input(s) {', '.join(missing)} to predict; got {', '.join(map(str, X)) or 'none'}"
            )
        arrays = []
        for inp in (i for i in self.inputs if not i.categorical):
            v = as_numbers(X[inp.name], f"input {inp.name}")
            bad = inp.outside(v)
            if bad.any():
                first = float(v[bad][0])
                # "must be > 0, got inf" contradicted itself: a non-finite value is refused for not being finite
                domain = inp.domain() + ("" if np.isfinite(first) or inp.domain() == "finite" else " and finite")
                raise ValueError(f"input {inp.name} must be {domain} for law {self.name!r} "
                                 f"({inp.doc}), got {first:g}")
            arrays.append(v)
        try:
            arrays = np.broadcast_arrays(*arrays)
        except ValueError:
            shapes = ", ".join(f"{n}: {np.shape(a)}" for n, a in zip(names, arrays))
            raise ValueError(f"inputs must have one value or the same number of values ({shapes})") from None
        # 1-D, one value per point, in C order: predictions are returned flat, and a 2-D grid
        # (np.meshgrid for a contour) met the (K, 1) bootstrap draws in predict_interval as
        # "operands could not be broadcast together with shapes (K,1) (2,2)"
        return {n: a.ravel() for n, a in zip(names, arrays)}

    # ---- the formula --------------------------------------------------------------------------
    def evaluate(self, X: Mapping[str, Array], P: Mapping[str, Any], info: dict | None = None) -> Array:
        """The law's prediction for features ``X`` (from ``prepare``) and parameters ``P``."""
        return self.function(**{n: X[n] for n in self.input_names}, **{n: P[n] for n in self.param_names})

    # ---- starts -----------------------------------------------------------------------------
    def start_grid(self, X: Mapping[str, Array], y: Array, options: dict) -> dict:
        """Per-parameter start values; the engine takes their Cartesian product."""
        return {p.name: np.asarray(p.grid, dtype=np.float64) for p in self.params}

    def seeds(self, X: Mapping[str, Array], y: Array, options: dict, fixed: Mapping[str, float],
              info: dict | None = None) -> list[dict]:
        """Extra data-driven starts (e.g. variable projection). Default: none."""
        return []

    # ---- derived answers --------------------------------------------------------------------
    def optimum(self, params: Mapping[str, float], info: dict, **kwargs) -> dict:
        hint = ("; the mixture share to train on: sl.mixture_optimum(domain_fit, general_fit, N=..., D=...)"
                if self.name in ("dcpt", "dcpt_cross") else "")
        raise NotImplementedError(f"law {self.name!r} has no optimum (chinchilla and kaplan_nd take C=, encdec "
                                  f"budget=, lr_annealing and multi_power a schedule){hint}")

    def derived(self, params: Mapping[str, float], info: dict | None = None) -> dict:
        """Quantities computed from the parameters (e.g. Chinchilla's a = beta/(alpha+beta))."""
        return {}


def clipped_note(law, values, what: str, where=None) -> str | None:
    """A sentence when ``values`` (the law's output) hold the law's clip value, else None.

    The schedule laws clip a negative loss to 1e-12 (a log is taken when fitting); returned to a
    user as a prediction, 1e-12 nats reads as a loss of ~0 rather than as a law that has left
    the region where it means anything. ``where(i)`` names the i-th value (e.g. its step).
    """
    floor = getattr(law, "clip_floor", None)
    if floor is None:
        return None
    v = np.asarray(values, dtype=float).reshape(-1)
    bad = np.flatnonzero(v <= floor)
    if bad.size == 0:
        return None
    first = where(int(bad[0])) if where is not None else f"value {int(bad[0])}"
    return (f"{what}: the law {law.formula} falls to <= 0 at {bad.size} of {v.size} value(s) (first at {first}) "
            f"and is clipped there to {floor:g}, which is not a loss: these parameters put the schedule "
            "outside where the fitted law holds (e.g. much more LR decay, or a higher LR, than the fitted runs had)")


def cartesian(grid: Mapping[str, Array]) -> dict:
    """Cartesian product of per-parameter value lists, as a dict of equal-length arrays."""
    names = list(grid)
    combos = np.array(list(itertools.product(*[np.asarray(grid[n], dtype=np.float64) for n in names])))
    if combos.size == 0:
        return {n: np.empty(0) for n in names}
    return {n: combos[:, i] for i, n in enumerate(names)}


def nnls_seeds(
    designs: Array,
    y: Array,
    *,
    relative: bool = True,
) -> tuple[Array, Array]:
    """Non-negative least squares for many design matrices at once (variable projection seeds).

    ``designs`` has shape ``(K, n, m)``: for each of K settings of the nonlinear parameters, the
    columns multiplying the m linear coefficients. With ``relative`` the rows are divided by y, so
    the squared error approximates the squared log residual near the fit. Returns the
    coefficients ``(K, m)`` and the residual sum of squares ``(K,)``; rows with non-finite
    designs get ``inf``.
    """
    from scipy.optimize import nnls

    K, n, m = designs.shape
    scale_rows = 1.0 / y if relative else np.ones_like(y)
    coefs = np.full((K, m), np.nan)
    rss = np.full(K, np.inf)
    target = y * scale_rows
    for k in range(K):
        M = designs[k] * scale_rows[:, None]
        if not np.all(np.isfinite(M)):
            continue
        norms = np.linalg.norm(M, axis=0)
        norms[norms == 0] = 1.0
        try:
            c, r = nnls(M / norms, target)
        except RuntimeError:  # nnls iteration limit on degenerate designs: skip this start
            continue
        coefs[k] = c / norms
        rss[k] = r * r
    return coefs, rss


def as_scalar(value):
    """A 0-d result as a Python float, arrays unchanged (derived answers accept both)."""
    value = np.asarray(value, dtype=float)
    return float(value) if value.ndim == 0 else value


def loglog_line(x, y, slope=None):
    """Least-squares line through (log x, log y): ``(slope, intercept)``, or None when x has one value.

    The exact answer for a pure power law under the squared-log objective, so the seed of every
    law that is a straight line in log-log axes. A given ``slope`` is held fixed.
    """
    lx, ly = np.log(x), np.log(y)
    if slope is None:
        if np.ptp(lx) == 0:
            return None
        slope = np.polyfit(lx, ly, 1)[0]
    return float(slope), float(np.mean(ly - slope * lx))
