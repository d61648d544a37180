"""``scalelaw.fit``: the one entry point for fitting a law to data.

It sits above the result layer: :mod:`scalelaw.fitting` searches, :mod:`scalelaw.result` holds
the answer, and this module joins them (imports run laws -> fitting -> result -> api).
"""

from __future__ import annotations

import warnings

import numpy as np

from scalelaw.fitting.data import as_frame
from scalelaw.fitting.objective import check_loss
from scalelaw.fitting.search import SEARCH_ROWS, search
from scalelaw.laws import get_law
from scalelaw.result import FitResult, GroupedFit


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
    search_rows: int | None = SEARCH_ROWS,
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
    search_rows : int or None
        With more than 10x this many rows (default 5,000, so above 50,000 rows) the start search runs
        on a seeded random subset of this size (holding each input's extremes) and its best starts are
        then polished on every row, so long curves fit in seconds; a warning says so. ``None``
        searches on every row.
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
    law = get_law(law)
    check_loss(loss, delta)
    options = law.check_options(options)
    frame = as_frame(data)
    if not isinstance(target, str):
        # checked here, before `by` splits the data: a list reached pandas' `col in frame.columns`
        # and came back as "unhashable type: 'list'", naming neither target nor what was given
        raise TypeError(f"target must be one column name (a string), got {type(target).__name__} {target!r}"
                        + ("; fit each target column separately" if isinstance(target, (list, tuple)) else ""))
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an integer, got {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed}")
    if search_rows is not None and (isinstance(search_rows, bool) or not isinstance(search_rows, (int, np.integer))
                                    or search_rows < 100):
        raise ValueError(f"search_rows must be an integer >= 100 or None (search on every row), got {search_rows!r}")
    for name, value in (("n_polish", n_polish), ("max_grid", max_grid)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if by is not None:
        if by not in frame.columns:
            raise KeyError(f"by: column {by!r} not found; columns are: {', '.join(map(str, frame.columns))}")
        kwargs = dict(inputs=inputs, target=target, loss=loss, delta=delta, fixed=fixed, bounds=bounds,
                      seed=seed, params=params, n_polish=n_polish, max_grid=max_grid, search_rows=search_rows,
                      **options)
        missing = frame[by].isna().to_numpy()
        if missing.all():
            raise ValueError(f"by: column {by!r} has no values (every row is NaN/empty): no group to fit")
        if missing.any():
            # groupby drops these rows; say so rather than fit fewer points than the user gave
            warnings.warn(f"by: {int(missing.sum())} row(s) have no value in column {by!r} (NaN/empty), e.g. rows "
                          f"{list(frame.index[missing][:5])}: they belong to no group and were not fitted",
                          UserWarning, stacklevel=2)
        results = {}
        for key, sub in frame.groupby(by, sort=True):
            w = weights if (weights is None or isinstance(weights, str)) else np.asarray(weights)[frame[by].to_numpy() == key]
            try:
                results[key] = fit(law, sub, weights=w, **kwargs)
            except (ValueError, TypeError, KeyError) as err:
                # one group's error said nothing of which group (every group is fitted alike)
                message = err.args[0] if len(err.args) == 1 and isinstance(err.args[0], str) else str(err)
                raise type(err)(f"by: group {by}={key!r} ({len(sub)} row(s)): {message}") from None
        return GroupedFit(results, by=by)

    return FitResult._from_search(**search(
        law, frame, inputs, target, loss=loss, delta=delta, fixed=fixed, bounds=bounds, weights=weights,
        seed=seed, params=params, n_polish=n_polish, max_grid=max_grid, options=options, search_rows=search_rows))


__all__ = ["fit"]
