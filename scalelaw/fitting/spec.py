"""Which parameters are free, which fixed, their bounds, and the transform each is fitted in.

Positive parameters are fitted as theta = log(value) (the LSE trick of Hoffmann et al.: sums of
exponentials become well conditioned and positivity needs no bound); others as themselves. The
spec converts between a ``(K, p)`` array of free thetas and a dict of named values, and to an
``lmfit.Parameters`` object (the parameter model users know) for reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from scalelaw.laws.base import Law


def _number(value, what: str, allow_inf: bool = False) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be a number, got {value!r}") from None
    if np.isnan(out) or (not allow_inf and not np.isfinite(out)):
        raise ValueError(f"{what} must be finite, got {value!r}")
    return out


@dataclass
class ParamSpec:
    law: Law
    free: tuple
    fixed: dict
    lower: dict
    upper: dict
    starts: dict  # user-given start values (from an lmfit Parameters), name -> value

    @classmethod
    def build(cls, law: Law, fixed=None, bounds=None, params=None) -> "ParamSpec":
        names = law.param_names
        fixed_all = law.default_fixed()
        lower = {p.name: p.min for p in law.params}
        upper = {p.name: p.max for p in law.params}
        starts = {}
        if params is not None:  # an lmfit.Parameters (or any mapping of objects with value/min/max/vary)
            for name, par in params.items():
                if name not in names:
                    raise ValueError(f"params: law {law.name!r} has no parameter {name!r}; parameters: {', '.join(names)}")
                if getattr(par, "vary", True) is False:
                    fixed_all[name] = _number(par.value, f"params[{name!r}].value")
                else:
                    fixed_all.pop(name, None)
                    if getattr(par, "value", None) is not None and np.isfinite(par.value):
                        starts[name] = float(par.value)
                lo, hi = getattr(par, "min", -np.inf), getattr(par, "max", np.inf)
                lower[name] = max(lower[name], lo) if lo is not None else lower[name]
                upper[name] = min(upper[name], hi) if hi is not None else upper[name]
        for what, given in (("fixed", fixed), ("bounds", bounds)):
            if given is not None and not isinstance(given, Mapping):
                raise TypeError(f"{what} must be a dict parameter name -> "
                                f"{'value' if what == 'fixed' else '(min, max)'}, got {type(given).__name__}")
        for name, value in (fixed or {}).items():
            if name not in names:
                raise ValueError(f"fixed: law {law.name!r} has no parameter {name!r}; parameters: {', '.join(names)}")
            if value is None:  # None frees a parameter the law holds fixed by default (e.g. momentum)
                fixed_all.pop(name, None)
            else:
                fixed_all[name] = _number(value, f"fixed[{name!r}]")
        for name, pair in (bounds or {}).items():
            if name not in names:
                raise ValueError(f"bounds: law {law.name!r} has no parameter {name!r}; parameters: {', '.join(names)}")
            try:
                lo, hi = pair
            except (TypeError, ValueError):
                raise TypeError(f"bounds[{name!r}] must be a (min, max) pair, got {pair!r}") from None
            lo = -np.inf if lo is None else _number(lo, f"bounds[{name!r}] min", allow_inf=True)
            hi = np.inf if hi is None else _number(hi, f"bounds[{name!r}] max", allow_inf=True)
            p = law.param(name)
            if lo < p.min or hi > p.max:
                raise ValueError(f"bounds[{name!r}] = ({lo}, {hi}) leaves the range the law allows, [{p.min}, {p.max}]")
            lower[name], upper[name] = lo, hi
        for name in names:
            if not lower[name] < upper[name]:
                raise ValueError(f"bounds of {name!r}: min {lower[name]} must be < max {upper[name]}")
            if name in fixed_all:
                v = fixed_all[name]
                p = law.param(name)
                if v < p.min or v > p.max or (p.log and v <= 0):
                    raise ValueError(f"fixed[{name!r}] = {v} is outside the range the law allows ({p.min}, {p.max})")
        free = tuple(n for n in names if n not in fixed_all)
        return cls(law, free, fixed_all, lower, upper, starts)

    # ---- transforms ---------------------------------------------------------------------------
    def is_log(self, name: str) -> bool:
        return self.law.param(name).log

    def theta_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = [], []
        for n in self.free:
            a, b = self.lower[n], self.upper[n]
            if self.is_log(n):
                lo.append(np.log(a) if a > 0 else -np.inf)
                hi.append(np.log(b) if np.isfinite(b) else np.inf)
            else:
                lo.append(a)
                hi.append(b)
        return np.array(lo, dtype=float), np.array(hi, dtype=float)

    def to_theta(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        """Named values (arrays of length K) -> (K, p) thetas of the free parameters."""
        cols = []
        for n in self.free:
            v = np.asarray(values[n], dtype=float)
            cols.append(np.log(np.maximum(v, 1e-300)) if self.is_log(n) else v)
        return np.stack(cols, axis=-1) if cols else np.zeros((len(next(iter(values.values()), [])), 0))

    def from_theta(self, theta: np.ndarray) -> dict:
        """(K, p) thetas -> dict of (K, 1) arrays for free parameters plus scalars for fixed ones."""
        theta = np.atleast_2d(theta)
        out = {}
        for j, n in enumerate(self.free):
            col = theta[:, j:j + 1]
            out[n] = np.exp(col) if self.is_log(n) else col
        out.update(self.fixed)
        return out

    def values(self, theta_row: np.ndarray) -> dict:
        """One theta row -> plain dict name -> float, in the law's parameter order."""
        d = self.from_theta(np.asarray(theta_row, dtype=float)[None, :])
        return {n: float(np.asarray(d[n]).ravel()[0]) for n in self.law.param_names}

    def at_bound(self, theta_row: np.ndarray, rtol: float = 1e-6) -> list[str]:
        """Free parameters sitting on a finite bound (a fit pinned there is not an estimate)."""
        lo, hi = self.theta_bounds()
        out = []
        for j, n in enumerate(self.free):
            t = theta_row[j]
            scale = max(1.0, abs(t))
            if (np.isfinite(lo[j]) and t - lo[j] <= rtol * scale) or (np.isfinite(hi[j]) and hi[j] - t <= rtol * scale):
                out.append(n)
        return out

    def to_lmfit(self, values: Mapping[str, float], stderr: Mapping[str, float] | None = None):
        """The fit as ``lmfit.Parameters`` (value, min, max, vary; stderr only from a bootstrap)."""
        import lmfit

        params = lmfit.Parameters()
        for n in self.law.param_names:
            params.add(n, value=values[n], min=self.lower[n], max=self.upper[n], vary=n in self.free)
            if stderr and n in stderr:
                params[n].stderr = stderr[n]
        return params
