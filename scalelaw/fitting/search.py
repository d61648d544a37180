"""One fit's search: the law's inputs from the data, the start grid, the multi-start search.

This is the fitting layer's top: it returns plain data (:func:`search`), which
:func:`scalelaw.api.fit` wraps in a :class:`~scalelaw.result.FitResult`. Nothing here imports
the result layer, so imports run one way (laws -> fitting -> result).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scalelaw.blas_threads import one_blas_thread
from scalelaw.laws.base import cartesian

from .data import check_domain, check_levels, column, numeric_column, resolve_inputs, weights_array
from .objective import residuals
from .outliers import input_outliers, residual_outliers
from .solver import evaluate_only, multistart, polish_on_all_rows
from .spec import ParamSpec

# With more than 10x this many rows the start search runs on a random subset of this size (see
# search_subset): the search's cost is starts x rows x iterations, 5,000 rows pin a curve's basin,
# and the polish on every row then reaches the full data's optimum. Below 10x it would save little.
SEARCH_ROWS = 5_000

# Columns carried along with the fitted rows (for bootstrap by run, block bootstrap, plots).
_CONTEXT_COLUMNS = ("run", "step", "split")


def _distinct_rows(X, n):
    """``(X on its distinct rows, inverse index)`` when every feature is a plain per-row number
    array and rows repeat (many runs logged at the same steps), else None. The law is then
    evaluated once per distinct row: exact, and the fit's cost follows distinct inputs, not rows."""
    arrays = list(X.values())
    if n < 1000 or not arrays or not all(isinstance(v, np.ndarray) and v.shape == (n,) and v.dtype.kind in "fiu"
                                         for v in arrays):
        return None
    if len(arrays) == 1:
        uniq, inv = np.unique(arrays[0], return_inverse=True)
        uniq = uniq[:, None]
    else:
        uniq, inv = np.unique(np.stack(arrays, axis=1), axis=0, return_inverse=True)
    if len(uniq) > n // 2:
        return None
    return {k: np.ascontiguousarray(uniq[:, j]) for j, k in enumerate(X)}, inv.reshape(-1)


def make_pred_fn(law, X, info, spec):
    """(K, p) thetas -> (K, n) predictions of the law on features X."""
    n = len(next(v for v in X.values() if isinstance(v, np.ndarray) and v.ndim == 1))
    distinct = _distinct_rows(X, n)
    if distinct is not None:
        Xu, inv = distinct
        m = len(inv) and len(next(iter(Xu.values())))

        def on_distinct(theta):
            theta = np.atleast_2d(theta)
            return np.broadcast_to(law.evaluate(Xu, spec.from_theta(theta), info), (theta.shape[0], m))

        def pred_on_distinct(theta):
            return on_distinct(theta)[:, inv]

        pred_on_distinct.distinct = (on_distinct, inv, m)  # the solver's polish uses it directly
        return pred_on_distinct

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


def search_subset(n: int, search_rows, X, y, w, rng):
    """Row indices for the start search when there are more than 10 x ``search_rows`` rows (else None):
    a seeded random sample that always holds each per-row feature's and the target's extremes
    (start grids are built from data ranges)."""
    if search_rows is None or n <= 10 * search_rows:
        return None
    keep = [rng.choice(n, size=search_rows, replace=False)]
    for v in [y, *X.values()]:
        if isinstance(v, np.ndarray) and v.shape == y.shape and v.dtype.kind in "fiu":
            keep.append(np.array([np.argmin(v), np.argmax(v)]))
    idx = np.unique(np.concatenate(keep))
    return idx[w[idx] > 0] if np.any(w[idx] > 0) else idx


def duplicate_rows(frame: pd.DataFrame) -> list[str]:
    """A note when rows repeat exactly (every column equal): each copy is one more term in the
    summed objective, so a table read or concatenated twice silently weighs those points double."""
    try:
        dup = frame.duplicated(keep="first").to_numpy()
    except TypeError:  # unhashable cells (lists, dicts): nothing to compare
        return []
    if not dup.any():
        return []
    rows = list(frame.index[dup][:5])
    return [f"{int(dup.sum())} row(s) repeat an earlier row exactly (every column equal), e.g. rows {rows}: each "
            "copy counts in the fit, so those points weigh more; drop them first (df.drop_duplicates()) if the "
            "data were read or concatenated twice"]


def checkpoints_per_run(law, frame: pd.DataFrame) -> list[str]:
    """A note when a law over model and data size sees several rows of one run: DESIGN §3 fits
    those laws to one point per run (its final loss); a decaying schedule's intermediate
    checkpoints are not compute-optimal points, so fitting them biases the exponents."""
    # (N, D) and encoder/decoder size laws; dcpt is fitted along its continual pre-training runs
    if set(law.input_names) not in ({"N", "D"}, {"N_e", "N_d"}) or not {"run", "step"} <= set(frame.columns):
        return []
    per_run = frame.groupby("run", sort=False).size()
    many = per_run[per_run > 1]
    if many.empty:
        return []
    return [f"{len(many)} of {len(per_run)} run(s) contribute several rows (up to {int(many.max())}, e.g. run "
            f"{many.index[0]!r}): {law.name} is fitted to one point per run, the final loss of a run whose schedule "
            "ended there; intermediate checkpoints are not compute-optimal points. Select them first: "
            "sl.final_points(df, split='val') (CLI: --split val --final-points)"]


def several_splits(law, frame: pd.DataFrame, mapping) -> list[str]:
    """A note when the rows come from several evaluation sets (``split``: train, val, ...): a run's
    training and validation loss at one step are two different quantities, and a log read
    whole holds both, so a fit without a selection took them as one curve with no word. Left
    alone when a categorical input decides the split (dcpt_cross: each domain's own val set)."""
    if "split" not in frame.columns:
        return []
    splits = pd.unique(frame["split"].dropna())
    if len(splits) < 2:
        return []
    for inp in law.inputs:
        col = mapping.get(inp.name)
        if inp.categorical and col in frame.columns and (frame.groupby(col)["split"].nunique() <= 1).all():
            return []
    names = ", ".join(sorted(map(str, splits))[:6]) + (", ..." if len(splits) > 6 else "")
    return [f"the rows come from {len(splits)} splits ({names}), fitted together as one data set: a run's "
            "training and validation losses are different quantities; select one first: "
            "df[df['split'] == 'val'] (CLI: --split val)"]


def search(law, frame: pd.DataFrame, inputs, target, *, loss, delta, fixed, bounds, weights, seed, params,
           n_polish, max_grid, options, search_rows=SEARCH_ROWS) -> dict:
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
    notes += duplicate_rows(used)
    notes += several_splits(law, used, mapping)
    notes += checkpoints_per_run(law, used)
    notes += check_levels(law, cols, mapping, spec.fixed)
    notes += input_outliers(law, cols, mapping, used.index)
    if getattr(law, "schedule_law", False) and "n_params" in used.columns:
        # a schedule law's parameters (L0, A, ...) belong to one model and data setup
        sizes = pd.unique(used["n_params"].dropna())
        if len(sizes) > 1:
            notes.append(f"runs of {len(sizes)} model sizes (n_params {', '.join(f'{v:,.0f}' for v in sorted(sizes))}) "
                         f"share one parameter set: {law.name} describes one model; fit each size on its own "
                         "(one sl.fit per n_params, or by='n_params')")
    n_free = len(spec.free)
    n = int(np.count_nonzero(w))
    if n < n_free:
        raise ValueError(f"too few points: {n} observation(s) with weight > 0 for {n_free} free parameters "
                         f"({', '.join(spec.free)}); add data or fix parameters with fixed=")
    if n == n_free:
        notes.append(f"as many points as free parameters ({n}): the fit interpolates, nothing checks it")

    # BLAS on one thread: the search's many tiny matrix products only pay for threads (scalelaw.blas_threads)
    with one_blas_thread(cells=len(y) * n_free):
        rng = np.random.default_rng(seed)
        lo, hi = spec.theta_bounds()
        pred_fn = make_pred_fn(law, X, info, spec)
        # loss floors fitted as log(value): the polish treats them in value space (solver.polish_lbfgsb)
        floors = tuple(j for j, name in enumerate(spec.free) if law.param(name).floor and spec.is_log(name))
        sub = search_subset(len(y), search_rows, X, y, w, rng) if spec.free else None
        if sub is not None:
            # Long curves: the start search sees a random subset (its cost grows with starts x rows),
            # then the best starts are polished on every row, so the answer is the full data's optimum.
            Xs = {k: (v[sub] if isinstance(v, np.ndarray) and v.shape == y.shape else v) for k, v in X.items()}
            ys, ws = y[sub], w[sub] * (w.sum() / w[sub].sum())
            starts, n_seeds = build_starts(law, Xs, ys, options, spec, info, max_grid=max_grid, rng=rng)
            on_subset = multistart(make_pred_fn(law, Xs, info, spec), starts, ys, ws, loss, delta, lo, hi,
                                   n_polish=n_polish, floor_cols=floors)
            found = polish_on_all_rows(pred_fn, on_subset, y, w, loss, delta, lo, hi, floor_cols=floors)
            notes.append(f"{len(y):,} rows: the start search ran on a random {len(sub):,} of them "
                         f"(search_rows={search_rows:,}), then the best starts were polished on all rows")
        elif spec.free:
            starts, n_seeds = build_starts(law, X, y, options, spec, info, max_grid=max_grid, rng=rng)
            found = multistart(pred_fn, starts, y, w, loss, delta, lo, hi, n_polish=n_polish, floor_cols=floors)
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
