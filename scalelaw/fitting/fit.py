"""``scalelaw.fit``: the one entry point for fitting a law to data."""

from __future__ import annotations

import numpy as np
import pandas as pd

from scalelaw.laws import get_law
from scalelaw.laws.base import cartesian

from .data import as_frame, check_levels, column, numeric_column, resolve_inputs, weights_array
from .objective import check_loss
from .solver import multistart
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


def fit(
    law,
    data,
    inputs=None,
    target: str = "loss",
    *,
    loss: str = "huber",
    delta: float = 1e-3,
    fixed=None,
    bounds=None,
    weights=None,
    by=None,
    seed: int = 0,
    params=None,
    n_polish: int = 16,
    max_grid: int = 20000,
    **options,
):
    """Fit a scaling law to a table of observations.

    Parameters
    ----------
    law : str
        A name from :func:`scalelaw.laws` (``"chinchilla"``, ``"lr_annealing"``, ...).
    data : DataFrame or dict of columns
        One row per observation (for (N, D) laws: one point per run, see :func:`scalelaw.final_points`).
    inputs : dict, optional
        Law input -> column, e.g. ``{"N": "n_params", "D": "n_tokens"}``. Defaults to the tidy-schema
        column of each input.
    target : str
        Column with the observed loss (nats), or the law's target.
    loss : {"huber", "squared", "huber_linear", "squared_linear"}
        Objective; Huber on log residuals, summed, is the Hoffmann/Epoch convention.
    delta : float
        Huber threshold (on log residuals, 1e-3 by default).
    fixed : dict, optional
        Parameters held at a value; ``None`` frees a parameter the law fixes by default.
    bounds : dict, optional
        ``{name: (min, max)}`` within the law's own bounds.
    weights : str or array, optional
        Column name or per-row weights multiplying each point's loss term.
    by : str, optional
        Column: fit one law per group; returns a :class:`~scalelaw.result.GroupedFit`.
    seed : int
        Seed for any random subsampling of the start grid (and the default bootstrap seed).
    params : lmfit.Parameters, optional
        The parameter model as lmfit users write it: values are starts, ``vary=False`` fixes,
        ``min``/``max`` bound.
    **options
        Law options, e.g. ``schedules=``, ``warmup_steps=`` (lr_annealing), ``side=``, ``eps=`` (dcpt),
        ``Ne_ref=``, ``Nd_ref=`` (encdec), ``domain_features=`` (dcpt_cross).

    Returns
    -------
    FitResult (or GroupedFit with ``by=``)

    Examples
    --------
    >>> import numpy as np, scalelaw as sl
    >>> N, D = np.meshgrid(np.geomspace(1e6, 1e8, 6), np.geomspace(1e8, 1e10, 6))
    >>> L = 1.8 + 400 / N.ravel() ** 0.34 + 410 / D.ravel() ** 0.28
    >>> f = sl.fit("chinchilla", {"n_params": N.ravel(), "n_tokens": D.ravel(), "loss": L})
    >>> round(f.params["E"], 2)
    1.8
    """
    from scalelaw.result import FitResult, GroupedFit

    law = get_law(law)
    check_loss(loss, delta)
    options = law.check_options(options)
    frame = as_frame(data)
    if not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an integer, got {seed!r}")
    if by is not None:
        if by not in frame.columns:
            raise KeyError(f"by: column {by!r} not found; columns are: {', '.join(map(str, frame.columns))}")
        kwargs = dict(inputs=inputs, target=target, loss=loss, delta=delta, fixed=fixed, bounds=bounds,
                      seed=seed, params=params, n_polish=n_polish, max_grid=max_grid, **options)
        results = {}
        for key, sub in frame.groupby(by, sort=True):
            w = weights if (weights is None or isinstance(weights, str)) else np.asarray(weights)[frame[by].to_numpy() == key]
            results[key] = fit(law, sub, weights=w, **kwargs)
        return GroupedFit(results, by=by)

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
    n_free = len(spec.free)
    n = int(np.count_nonzero(w))
    if n < n_free:
        raise ValueError(f"too few points: {n} observation(s) with weight > 0 for {n_free} free parameters "
                         f"({', '.join(spec.free)}); add data or fix parameters with fixed=")
    if n == n_free:
        notes.append(f"as many points as free parameters ({n}): the fit interpolates, nothing checks it")

    rng = np.random.default_rng(seed)
    starts, n_seeds = build_starts(law, X, y, options, spec, info, max_grid=max_grid, rng=rng)
    lo, hi = spec.theta_bounds()
    pred_fn = make_pred_fn(law, X, info, spec)
    search = multistart(pred_fn, starts, y, w, loss, delta, lo, hi, n_polish=n_polish)

    data_cols = {f"{name}": used[col] for name, col in mapping.items()}
    table = pd.DataFrame({mapping[k]: v.to_numpy() for k, v in data_cols.items()})
    table[target] = y
    for c in _CONTEXT_COLUMNS:
        if c in used.columns and c not in table.columns:
            table[c] = used[c].to_numpy()
    if weights is not None:
        table["_weight"] = w
    return FitResult._from_search(
        law=law, spec=spec, search=search, X=X, y=y, w=w, info=info, table=table, mapping=mapping,
        target=target, loss=loss, delta=delta, options=options, seed=int(seed), notes=notes, n_seeds=n_seeds,
    )
