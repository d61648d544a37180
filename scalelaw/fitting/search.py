"""One fit's search: the law's inputs from the data, the start grid, the multi-start search.

This is the fitting layer's top: it returns plain data (:func:`search`), which
:func:`scalelaw.api.fit` wraps in a :class:`~scalelaw.result.FitResult`. Nothing here imports
the result layer, so imports run one way (laws -> fitting -> result).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scalelaw.laws.base import cartesian

from .data import check_domain, check_levels, column, numeric_column, resolve_inputs, weights_array
from .objective import residuals
from .outliers import input_outliers, residual_outliers
from .solver import evaluate_only, multistart
from .spec import ParamSpec

# Columns carried along with the fitted rows (for bootstrap by run, block bootstrap, plots).
_CONTEXT_COLUMNS = ("run", "step", "split")


def make_pred_fn(law, X, info, spec):
    """(K, p) thetas -> (K, n) predictions of the law on features X."""
    n = len(next(v for v in X.values() if isinstance(v, np.ndarray) and v.ndim == 1))

    def pred_fn(theta):
        theta = np.atleast_2d(theta)
        out = law.evaluate(X, spec.from_theta(theta), info)
        return np.broadcast_to(out, (theta.shape[0], n))

    return pred_fn


def build_starts(law, X, y, options, spec, info, *, max_grid, rng):
    """The law's start grid (Cartesian product, subsampled above ``max_grid``), its data-driven
    seeds and the user's start, as a (K, p) array of free thetas."""
    grid = law.start_grid(X, y, options)
    free_grid = {n: np.asarray(grid[n], dtype=float) for n in spec.free}
    combos = cartesian(free_grid) if spec.free else {}
    K = len(next(iter(combos.values()))) if combos else 0
    rows = [spec.to_theta(combos)] if K else []
    if K > max_grid:
        rows = [rows[0][rng.choice(K, size=max_grid, replace=False)]]
    try:
        seeds = law.seeds(X, y, options, spec.fixed, info)
    except (FloatingPointError, np.linalg.LinAlgError, ValueError):
        seeds = []  # seeds only speed the search up; the grid still covers the space
    seeds = [s for s in seeds if all(n in s and np.isfinite(s[n]) for n in spec.free)]
    if seeds:
        rows.append(spec.to_theta({n: np.array([s[n] for s in seeds]) for n in spec.free}))
    if spec.starts:
        base = {n: np.array([spec.starts.get(n, np.asarray(free_grid[n]).mean() if len(free_grid[n]) else 1.0)])
                for n in spec.free}
        rows.append(spec.to_theta(base))
    if not rows:
        raise ValueError(f"law {law.name!r}: no starting values for {spec.free}; give params= with values")
    return np.concatenate(rows, axis=0), len(seeds)


def search(law, frame: pd.DataFrame, inputs, target, *, loss, delta, fixed, bounds, weights, seed, params,
           n_polish, max_grid, options) -> dict:
    """Fit ``law`` (a :class:`~scalelaw.laws.base.Law`, options already checked) to ``frame``.

    Returns the keyword arguments of :meth:`scalelaw.result.FitResult._from_search`: the search
    record, the features, the fitted rows as a table, and the notes that become warnings.
    """
    if len(frame) == 0:
        raise ValueError("data has no rows")
    mapping = resolve_inputs(law, inputs, frame)
    spec = ParamSpec.build(law, fixed=fixed, bounds=bounds, params=params)
    y = numeric_column(frame, target, "target", positive=not loss.endswith("_linear"))
    cols = {}
    for inp in law.inputs:
        if inp.categorical:
            cols[inp.name] = column(frame, mapping[inp.name], f"input {inp.name}").astype(str).to_numpy()
        else:
            cols[inp.name] = numeric_column(frame, mapping[inp.name], f"input {inp.name}", positive=inp.positive)
            check_domain(frame, mapping[inp.name], inp, cols[inp.name])
    w = weights_array(frame, weights)

    X, info = law.prepare(cols, options, frame=frame, y=y)
    notes = list(info.pop("notes", []))
    mask = info.pop("row_mask", None)
    used = frame
    if mask is not None and not np.all(mask):
        mask = np.asarray(mask, dtype=bool)
        y, w, used = y[mask], w[mask], frame.loc[mask]
        cols = {k: v[mask] for k, v in cols.items()}
        X = {k: (v[mask] if isinstance(v, np.ndarray) and v.shape == mask.shape else v) for k, v in X.items()}
    notes += check_levels(law, cols, mapping, spec.fixed)
    notes += input_outliers(law, cols, mapping, used.index)
    n_free = len(spec.free)
    n = int(np.count_nonzero(w))
    if n < n_free:
        raise ValueError(f"too few points: {n} observation(s) with weight > 0 for {n_free} free parameters "
                         f"({', '.join(spec.free)}); add data or fix parameters with fixed=")
    if n == n_free:
        notes.append(f"as many points as free parameters ({n}): the fit interpolates, nothing checks it")

    rng = np.random.default_rng(seed)
    lo, hi = spec.theta_bounds()
    pred_fn = make_pred_fn(law, X, info, spec)
    if spec.free:
        starts, n_seeds = build_starts(law, X, y, options, spec, info, max_grid=max_grid, rng=rng)
        found = multistart(pred_fn, starts, y, w, loss, delta, lo, hi, n_polish=n_polish)
    else:
        found, n_seeds = evaluate_only(pred_fn, y, w, loss, delta), 0
        notes.append("every parameter is fixed: nothing was fitted; the objective and residuals are those "
                     "of the given values")
    best = pred_fn(found.theta[None, :])[0]
    notes += residual_outliers(best, y, residuals(best, y, loss), used.index, w)

    data_cols = {f"{name}": used[col] for name, col in mapping.items()}
    table = pd.DataFrame({mapping[k]: v.to_numpy() for k, v in data_cols.items()})
    table[target] = y
    for c in _CONTEXT_COLUMNS:
        if c in used.columns and c not in table.columns:
            table[c] = used[c].to_numpy()
    if weights is not None:
        table["_weight"] = w
    return dict(law=law, spec=spec, search=found, X=X, y=y, w=w, info=info, table=table, mapping=mapping,
                target=target, loss=loss, delta=delta, options=options, seed=int(seed), notes=notes,
                n_seeds=n_seeds)
