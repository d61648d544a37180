"""The result of a fit: parameters as plain data, predictions, uncertainty, diagnostics, JSON.

One object per fit (lmfit's ``ModelResult`` and scikit-learn's fitted estimators are the models):
``params`` is a plain ``dict`` name -> float; everything needed to predict, bootstrap, report,
plot and save lives here, and ``save``/``load_fit`` round-trip it through JSON (the law, options,
package version, a hash of the data, the fitted rows and the bootstrap draws).
"""

from __future__ import annotations

import hashlib
import json
import warnings as _warnings
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from scalelaw.integrity import FORMAT_VERSION, check_version, seal, verify
from scalelaw.laws import get_law
from scalelaw.laws.base import FLOOR_COLLAPSE, clipped_note


class ExtrapolationWarning(UserWarning):
    """A prediction at inputs beyond the range of the fitted data (the message says how far)."""


class BeyondReachWarning(ExtrapolationWarning):
    """A calibrated prediction interval at inputs farther beyond the fitted data than any backtest
    measured an error (:mod:`scalelaw.calibration`, step 6): its width there is extrapolated, not
    measured, and widened in proportion to the distance beyond the reach (step 7; the message says
    how far, and what such points covered)."""


def data_hash(table: pd.DataFrame) -> str:
    """sha256 of the fitted rows (column names and values), to tell data sets apart."""
    h = hashlib.sha256()
    for col in table.columns:
        h.update(str(col).encode())
        values = table[col].to_numpy()
        if values.dtype.kind in "fiub":
            h.update(np.ascontiguousarray(values.astype(np.float64)).tobytes())
        else:
            h.update("\x1f".join(map(str, values)).encode())
    return h.hexdigest()


def _jsonable(value):
    """Options and info to JSON: arrays become lists, numpy scalars floats, masks are dropped."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)  # Timestamps, Decimals...: their text (returning them unchanged loops json.dumps)


def _column_json(values: np.ndarray) -> list:
    """A fitted column as JSON: numbers as numbers, anything else as its ``str`` (what data_hash hashes),
    so Timestamp, Decimal or tuple run names load back as the same text and the same hash."""
    if values.dtype.kind in "fiub":
        return values.tolist()
    return [str(v) for v in values]


def extrapolation_message(ratios: Mapping, lead: str = "") -> str | None:
    """The words of an :class:`ExtrapolationWarning` for :meth:`FitResult.extrapolation`'s ratios
    ("extrapolating: N 23.3x beyond the fitted data, ..."), or None when no input reaches beyond
    the data; ``lead`` goes before the list (the optimum's "the optimum's "). One wording for
    predict, optimum and the service's notes."""
    far = {k: v for k, v in ratios.items() if v > 1 + 1e-9}
    if not far:
        return None
    return "extrapolating: " + lead + ", ".join(f"{k} {v:.3g}x beyond the fitted data" for k, v in far.items())


# a log-space parameter above this has run to the edge of double precision (exp(690.8)); see _from_search
_RAN_OFF = 1e300


class FitResult:
    """A fitted law. Build it with :func:`scalelaw.fit`; load a saved one with :func:`load_fit`."""

    def __init__(self, *, law, spec, params, objective, table, mapping, target, loss, delta, options,
                 info, seed, warnings, starts, at_bound, X=None, y=None, w=None, draws=None,
                 bootstrap_info=None, version=None, hash_=None, calibration=None):
        self.law = law
        self.spec = spec
        self.params: dict = params
        self.objective: float = objective
        self.table: pd.DataFrame = table
        self.inputs: dict = mapping
        self.target: str = target
        self.loss: str = loss
        self.delta: float = delta
        self.options: dict = options
        self.info: dict = info
        self.seed: int = seed
        self.warnings: list = warnings
        self.starts: dict = starts
        self.at_bound: list = at_bound
        self.draws: pd.DataFrame | None = draws
        self.bootstrap_info: dict | None = bootstrap_info
        self.calibration = calibration  # scalelaw.calibration.Calibration, built by bootstrap()
        from scalelaw import __version__

        self.version = version or __version__
        self.data_hash = hash_ or data_hash(table)
        self._X, self._y, self._w = X, y, w

    # ---- construction --------------------------------------------------------------------
    @classmethod
    def _from_search(cls, *, law, spec, search, X, y, w, info, table, mapping, target, loss, delta, options,
                     seed, notes, n_seeds):
        params = spec.values(search.theta)
        at_bound = spec.at_bound(search.theta)
        warnings = list(notes)
        yv = np.abs(np.asarray(y, float))
        y_min = float(np.nanmin(yv)) if yv.size and np.isfinite(yv).any() else np.nan
        floor_tol = FLOOR_COLLAPSE * y_min if np.isfinite(y_min) and y_min > 0 else 1e-10
        for name in at_bound:
            warnings.append(f"parameter {name} = {params[name]:.6g} is at a bound "
                            f"[{spec.lower[name]:g}, {spec.upper[name]:g}]: the data do not pin it down")
        for name in spec.free:
            # a log-space parameter that ran past exp's range, or to its edge: theta = log(value) is
            # unbounded above, so a term the data cannot use (kaplan_nd's N_c on a flat loss) drifts
            # to exp(709) ~ 9e307, finite but meaningless; nothing a law means reaches 1e300
            if not np.isfinite(params[name]) or (spec.is_log(name) and params[name] > _RAN_OFF):
                warnings.append(f"parameter {name} = {params[name]:.4g} ran off to infinity: the data do not bound it "
                                f"(the term it sets saturates or vanishes); fix it (fixed={{'{name}': ...}}) or "
                                "bound it (bounds=), and do not trust predictions from this fit")
            p = law.param(name)
            if p.floor and p.log and spec.lower[name] == 0 and params[name] < floor_tol:
                warnings.append(f"the loss floor {name} = {params[name]:.3g} collapsed to ~0 (below "
                                f"{FLOOR_COLLAPSE:g} of the smallest observed {target}, {y_min:.4g}): the data show "
                                "no bend toward a floor, so predictions far beyond them keep falling as a pure "
                                f"power law; fix {name} (fixed=) if you know the floor")
            elif p.log and spec.lower[name] == 0 and params[name] < 1e-10:
                warnings.append(f"parameter {name} = {params[name]:.3g} collapsed to ~0 (its lower limit): "
                                "the term it scales is not supported by the data")
        if search.n_polished >= 3 and search.n_agree < 2:
            warnings.append(f"only 1 of {search.n_polished} polished starts reached the best objective: "
                            "the minimum may be one of several; compare with other starts or fix parameters")
        spread = _weak_directions(search, spec)
        if spread:
            warnings.append("starts reached the same objective with different values of " + ", ".join(spread)
                            + ": these are weakly identified by the data")
        if search.n_failed_starts:
            warnings.append(f"{search.n_failed_starts} of {search.n_starts} starts gave a non-finite objective "
                            "and were skipped")
        starts = {"n_starts": search.n_starts, "n_seeds": n_seeds, "n_polished": search.n_polished,
                  "n_agree": search.n_agree}
        return cls(law=law, spec=spec, params=params, objective=float(search.objective), table=table,
                   mapping=mapping, target=target, loss=loss, delta=delta, options=options, info=info,
                   seed=seed, warnings=warnings, starts=starts, at_bound=at_bound, X=X, y=y, w=w)

    # ---- basic facts -------------------------------------------------------------------------
    @property
    def n_points(self) -> int:
        return int(len(self.table))

    @property
    def n_free(self) -> int:
        return len(self.spec.free)

    @property
    def aic(self) -> float:
        """Gaussian AIC on the fit's residuals (log residuals for log losses): n log(RSS/n) + 2k."""
        r = self.residuals()["residual"].to_numpy()
        n = len(r)
        rss = max(float(np.sum(r * r)), 1e-300)
        return float(n * np.log(rss / n) + 2 * self.n_free)

    def derived(self) -> dict:
        return {k: float(v) for k, v in self.law.derived(self.params, self.info).items()}

    def _features(self):
        if self._X is None:
            self._rebuild()
        return self._X, self._y, self._w

    def _law_columns(self, frame: pd.DataFrame) -> dict:
        """The law's inputs from a table in the fit's column names (categorical ones as strings)."""
        cols = {}
        for inp in self.law.inputs:
            col = frame[self.inputs[inp.name]]
            cols[inp.name] = col.astype(str).to_numpy() if inp.categorical else col.to_numpy(dtype=float)
        return cols

    def _rebuild(self):
        """Recompute features from the saved rows (after load_fit)."""
        opts = self.law.options_from_info(dict(self.options), self.info)
        y = self.table[self.target].to_numpy(dtype=float)
        X, info = self.law.prepare(self._law_columns(self.table), opts, frame=self.table, y=y)
        info.pop("notes", None)
        info.pop("row_mask", None)
        self.info = {**info, **self.info}
        w = self.table["_weight"].to_numpy(dtype=float) if "_weight" in self.table.columns else np.ones(len(y))
        self._X, self._y, self._w = X, y, w

    # ---- prediction ---------------------------------------------------------------------------
    def _prediction_features(self, X, kwargs):
        return self.law.features_for_prediction(self._prediction_inputs(X, kwargs), self.options, self.info)

    def _prediction_inputs(self, X, kwargs) -> dict:
        if X is None:
            X = {}
        elif isinstance(X, pd.DataFrame):
            rename = {col: name for name, col in self.inputs.items() if col in X.columns and name not in X.columns}
            X = X.rename(columns=rename)
            # a table may carry other columns (loss, run...): take the law's own
            known = set(self.law.input_names) | set(self.law.prediction_extras)
            X = {c: X[c].to_numpy() for c in X.columns if c in known}
        elif not isinstance(X, Mapping):
            raise TypeError(f"predict takes a dict of inputs or a DataFrame, got {type(X).__name__}")
        return {**X, **kwargs}

    def predict(self, X=None, *, warn: bool = True, **kwargs) -> np.ndarray:
        """The law's prediction at new inputs, e.g. ``fit.predict({"N": 7e10, "D": 1.4e12})``.

        lr_annealing: ``fit.predict(schedule=lr, warmup_steps=0)`` gives the loss at every step.
        Inputs outside the range of the fitted data give an :class:`ExtrapolationWarning` saying
        how far (``warn=False`` for callers that extrapolate on purpose, such as plots).
        """
        given = self._prediction_inputs(X, kwargs)
        feats = self.law.features_for_prediction(given, self.options, self.info)
        self.law.check_prediction(feats, self.params, self.info)
        if warn:
            msg = extrapolation_message(self.extrapolation(given))
            if msg:
                _warnings.warn(msg, ExtrapolationWarning, stacklevel=2)
        out = np.asarray(self.law.evaluate(feats, self.params, self.info), dtype=float).reshape(-1)
        if warn:
            self._warn_if_clipped(out, given, "predict")
        return out

    def _warn_if_clipped(self, values, given, what: str) -> None:
        """Warn when the law returned its clip value (a schedule law gone below zero) anywhere in
        ``values``: 1e-12 is no loss, and nothing else would tell the caller."""
        steps = given.get("steps")

        def where(i):
            if steps is not None:
                return f"step {int(np.atleast_1d(steps)[i])}"
            return f"step {i + 1}" if "schedule" in given else f"point {i}"

        note = clipped_note(self.law, values, what, where)
        if note:
            _warnings.warn(note, UserWarning, stacklevel=3)

    def extrapolation(self, X) -> dict:
        """How far inputs reach beyond the data: value / largest observed (and smallest / value)."""
        out = {}
        for inp in self.law.inputs:
            if inp.categorical or inp.name not in X or self.inputs[inp.name] not in self.table.columns:
                continue
            lo, hi = self._observed_range(inp.name)
            v = np.atleast_1d(np.asarray(X[inp.name], dtype=float))
            if v.size == 0:  # no points asked: nothing extrapolated
                continue
            out[inp.name] = float(max(v.max() / hi if hi > 0 else np.inf, lo / v.min() if v.min() > 0 else 1.0))
        return out

    def _observed_range(self, name: str) -> tuple[float, float]:
        """(min, max) of an input over the fitted rows, cached (the rows never change; the service
        calls extrapolation on every prediction)."""
        cache = self.__dict__.setdefault("_ranges", {})
        if name not in cache:
            obs = self.table[self.inputs[name]].to_numpy(dtype=float)
            cache[name] = (float(obs.min()), float(obs.max()))
        return cache[name]

    def residuals(self) -> pd.DataFrame:
        """The fitted rows with prediction, residual (log or linear, as fitted) and relative error."""
        from scalelaw.fitting.objective import residuals as _res

        X, y, _ = self._features()
        pred = np.asarray(self.law.evaluate(X, self.params, self.info), dtype=float).reshape(-1)
        out = self.table.copy()
        out["pred"] = pred
        out["residual"] = _res(pred, y, self.loss)
        out["rel_err"] = (pred - y) / y
        return out

    def predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Predictions for the rows of another table in the fit's column names (backtests)."""
        y = frame[self.target].to_numpy(dtype=float) if self.target in frame.columns else None
        X, info = self.law.prepare(self._law_columns(frame), dict(self.options), frame=frame, y=y)
        mask = info.pop("row_mask", None)
        merged = {**info, **{k: v for k, v in self.info.items() if k not in ("runs", "resolved_schedules")}}
        pred = np.asarray(self.law.evaluate(X, self.params, merged), dtype=float).reshape(-1)
        out = frame.copy()
        out["pred"] = pred
        if mask is not None:
            out = out.loc[np.asarray(mask, dtype=bool)]
        return out

    # ---- uncertainty --------------------------------------------------------------------------
    def bootstrap(self, n: int = 1000, seed: int | None = None, method: str = "auto",
                  progress: Callable[[int, int], None] | None = None, calibrate: bool = True) -> "FitResult":
        """Attach ``n`` bootstrap refits (by run, block or row; see :mod:`scalelaw.bootstrap`).

        With ``calibrate`` (default) the prediction intervals are also calibrated on backtests
        inside the fitted data (:mod:`scalelaw.calibration`).
        """
        from scalelaw.bootstrap import refit_resamples, resample_counts
        from scalelaw.fitting.search import make_pred_fn

        if isinstance(n, bool) or not isinstance(n, (int, float, np.number)) or int(n) != n or n < 2:
            raise ValueError(f"bootstrap n must be an integer >= 2, got {n!r}")
        if int(n) * self.n_points > _MAX_BOOTSTRAP_CELLS:
            # every resample is a refit on every row: beyond this it runs for hours (and the count
            # matrix alone takes GBs), so say what would work instead of hanging
            most = _MAX_BOOTSTRAP_CELLS // self.n_points
            raise ValueError(f"bootstrap: {int(n):,} resamples of {self.n_points:,} rows is too large to refit "
                             f"(limit {_MAX_BOOTSTRAP_CELLS:,.0f} resamples x rows): use n <= {most:,}"
                             if most >= 2 else
                             f"bootstrap: {self.n_points:,} rows is too many to refit per resample; fit fewer "
                             "points (e.g. sl.final_points, or every k-th step of each run) and bootstrap that")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"bootstrap seed must be an integer >= 0 (or None: the fit's own), got {seed!r}")
        rng = np.random.default_rng(self.seed if seed is None else seed)
        X, y, w = self._features()
        counts, used = resample_counts(self.table, int(n), rng, method)
        theta = self.spec.to_theta({k: np.array([v]) for k, v in self.params.items()})[0]
        lo, hi = self.spec.theta_bounds()
        pred_fn = make_pred_fn(self.law, X, self.info, self.spec)
        thetas, failed = refit_resamples(pred_fn, theta, y, w, counts, self.loss, self.delta, lo, hi, progress)
        rows = [self.spec.values(t) for t in thetas]
        draws = pd.DataFrame(rows, columns=list(self.law.param_names))
        draws.loc[failed, :] = np.nan
        self.draws = draws
        self.bootstrap_info = {"n": int(n), "method": used, "seed": int(self.seed if seed is None else seed),
                               "n_failed": int(failed.sum())}
        if failed.any():
            self.warnings.append(f"bootstrap: {int(failed.sum())} of {n} resamples failed to fit and were dropped")
        note = _no_spread_note(draws, self.spec.free)
        if note:
            if note not in self.warnings:
                self.warnings.append(note)
            _warnings.warn(note, UserWarning, stacklevel=2)
        if calibrate:
            self.calibrate()
        return self

    def calibrate(self, trend: bool | None = None):
        """Backtests inside the fitted data -> the error model of the calibrated prediction interval.
        ``trend=True`` adds step 8 of :mod:`scalelaw.calibration` (an error scale that follows a
        significant variance trend of the fitted rows' residuals; off by default, see its docstring)."""
        from scalelaw.calibration import calibrate_fit

        self.calibration = calibrate_fit(self, trend=trend)
        for msg in self.calibration.warnings:
            if msg not in self.warnings:
                self.warnings.append(msg)
        return self.calibration

    def _require_draws(self):
        if self.draws is None:
            raise ValueError("no bootstrap draws: call fit.bootstrap(n=...) first")
        d = self.draws.dropna()
        if len(d) < 2:
            raise ValueError(f"only {len(d)} of {len(self.draws)} bootstrap draws are usable (the rest failed "
                             "to fit): no interval; bootstrap again (e.g. with more resamples or another seed)")
        return d

    def ci(self, level: float = 0.95) -> pd.DataFrame:
        """Percentile bootstrap intervals: one row per parameter (value, lower, upper, std)."""
        if not isinstance(level, (int, float, np.floating)) or not 0 < level < 1:
            raise ValueError(f"level must be a number in (0, 1), got {level!r}")
        d = self._require_draws()
        a = (1 - level) / 2
        return pd.DataFrame({
            "value": pd.Series(self.params),
            "lower": d.quantile(a),
            "upper": d.quantile(1 - a),
            "std": d.std(ddof=1),
        }).loc[list(self.law.param_names)]

    def predict_draws(self, X=None, **kwargs) -> np.ndarray:
        """Predictions under every bootstrap draw, shape ``(n_draws, n_points)``."""
        d = self._require_draws()
        feats = self._prediction_features(X, kwargs)
        self.law.check_prediction(feats, self.params, self.info)
        P = {n: d[n].to_numpy()[:, None] for n in self.law.param_names}
        fixed = {n: self.params[n] for n in self.spec.fixed}
        P.update(fixed)
        out = np.asarray(self.law.evaluate(feats, P, self.info), dtype=float)
        return np.broadcast_to(out, (len(d), out.shape[-1]))

    def predict_interval(self, X=None, level: float = 0.95, kind: str = "calibrated", *, warn: bool = True,
                         **kwargs) -> tuple[np.ndarray, np.ndarray]:
        """Interval ``(lower, upper)`` at each input; needs :meth:`bootstrap` first.

        ``kind="calibrated"`` (default): a prediction interval for the observed loss: the bootstrap
        band widened by the law's own error, calibrated on backtests inside the fitted data and
        growing with the distance beyond them (:mod:`scalelaw.calibration`).
        ``kind="parameter"``: the percentile bootstrap band (parameter noise only).
        A calibrated interval at inputs beyond the backtests' measured reach (along some input
        farther beyond the fitted data than any backtest measured an error;
        ``fit.calibration.reach``) gives a :class:`BeyondReachWarning` saying how far
        (``warn=False`` for callers that extrapolate on purpose), and there the error half-width
        grows in proportion to the distance beyond the reach (calibration step 7).
        """
        if kind not in ("calibrated", "parameter"):
            raise ValueError(f"kind must be 'calibrated' or 'parameter', got {kind!r}")
        if not isinstance(level, (int, float, np.floating)) or not 0 < level < 1:
            raise ValueError(f"level must be a number in (0, 1), e.g. 0.9, got {level!r}")
        draws = self.predict_draws(X, **kwargs)
        a = (1 - level) / 2
        lo, hi = np.quantile(draws, a, axis=0), np.quantile(draws, 1 - a, axis=0)
        if warn:  # a band whose lower end is the clip value reaches a law gone below zero
            self._warn_if_clipped(lo, self._prediction_inputs(X, kwargs), "predict_interval (lower bound)")
        if kind == "parameter":
            return lo, hi
        cal = self.calibration if self.calibration is not None else self.calibrate()
        pred = self.predict(X, warn=False, **kwargs)
        d = self.extrapolation_distance(X, **kwargs)
        msg = self.beyond_reach(X, **kwargs) if warn else None
        if msg:
            _warnings.warn(msg, BeyondReachWarning, stacklevel=2)
        spread = cal.form_spread(self._prediction_features(X, kwargs), pred) if cal.form else None
        # beyond the backtests' reach the width grows (calibration step 7)
        return cal.interval(pred, d, level, lo, hi, spread=spread, coords=self._reach_coords(cal, X, kwargs))

    def _reach_coords(self, cal, X, kwargs):
        """The points' coordinates in the calibration's order, or None where it has no reach
        (saved before step 6) or measures other coordinates."""
        if cal is None or cal.reach is None:
            return None
        from scalelaw.calibration import coordinates

        names, coords = coordinates(self.law, self._prediction_features(X, kwargs))
        return coords if list(names) == list(cal.coords) else None

    def beyond_reach(self, X=None, **kwargs) -> str | None:
        """The :class:`BeyondReachWarning` message for these inputs, or None: None too without a
        calibration, or one saved before the reach was recorded (:mod:`scalelaw.calibration`,
        step 6). For pages and services that show the warning instead of raising it."""
        coords = self._reach_coords(self.calibration, X, kwargs)
        return None if coords is None else self.calibration.reach_message(coords)

    def extrapolation_distance(self, X=None, **kwargs) -> np.ndarray:
        """Distance (decades, over all inputs jointly) from each input to the fitted data: to the
        convex hull of the fitted rows where the calibration measures it so (and, without a
        calibration, where :data:`scalelaw.calibration.DISTANCE` is "hull"), else to their box
        (:mod:`scalelaw.calibration`, step 2)."""
        from scalelaw import calibration as C

        feats = self._prediction_features(X, kwargs)
        _, coords = C.coordinates(self.law, feats)
        if coords.size == 0:
            return np.zeros(len(self.predict(X, warn=False, **kwargs)))
        cal = self.calibration
        if cal is not None and cal.hull is not None and cal.version >= 4:
            return cal.distance(coords)
        _, fitted = C.coordinates(self.law, self._features()[0])
        kind = C.DISTANCE if cal is None else "box"
        return C.joint_distance(coords, fitted, kind)

    def interval_label(self, level: float = 0.95, kind: str = "calibrated") -> str:
        """The interval's kind in words, e.g. "90% prediction interval, calibrated on 12 backtests";
        without bootstrap draws there is no interval of either kind, and it says so (it used to
        calibrate and name a calibrated interval that predict_interval then refused)."""
        if self.draws is None or len(self.draws.dropna()) < 2:
            return f"no {100 * level:g}% interval: call fit.bootstrap(n) first"
        if kind == "parameter":
            return f"{100 * level:g}% parameter band (bootstrap only)"
        cal = self.calibration if self.calibration is not None else self.calibrate()
        return cal.describe(level)

    # ---- derived answers --------------------------------------------------------------------
    def optimum(self, *, warn: bool = True, **kwargs) -> dict:
        """The law's derived optimum: ``C=`` (chinchilla, kaplan_nd), ``budget=`` (encdec),
        ``schedules=`` (lr_annealing). dcpt: see :func:`scalelaw.mixture_optimum`.

        An optimum whose inputs (N, D, ...) lie outside the range of the fitted data gives an
        :class:`ExtrapolationWarning` saying how far, as :meth:`predict` does for the same point
        (``warn=False`` for callers that extrapolate on purpose, such as plots and backtests)."""
        result = self.law.optimum(self.params, self.info, **kwargs)
        if warn and isinstance(result, Mapping):
            at = {name: result[name] for name in self.law.input_names if name in result
                  and np.all(np.isfinite(np.asarray(result[name], dtype=float)))}
            msg = extrapolation_message(self.extrapolation(at), lead="the optimum's ")
            if msg:
                _warnings.warn("optimum: " + msg, ExtrapolationWarning, stacklevel=2)
        return result

    def optimal_schedule(self, n_steps: int, peak: float, **kwargs) -> dict:
        """Schedule laws: the LR schedule predicted to end lowest after ``n_steps`` (family "wsd",
        "cosine" or "free"), beside cosine; see :func:`scalelaw.schedule_optimum.optimal_schedule`."""
        from scalelaw.schedule_optimum import optimal_schedule

        return optimal_schedule(self, n_steps, peak, **kwargs)

    def reach(self, loss: float, **given) -> dict:
        """What reaches ``loss``: the one input not given, solved numerically.

        With no inputs given, laws with a compute optimum return the smallest compute-optimal
        budget that reaches the loss. ``fit.reach(2.0, N=1e9)`` -> the D that gets N=1e9 to 2.0.
        """
        from scalelaw.reach import reach

        return reach(self, loss, **given)

    # ---- report and persistence ---------------------------------------------------------
    def report(self, level: float = 0.95) -> str:
        from scalelaw.report import fit_report

        return fit_report(self, level)

    def __repr__(self):
        ps = ", ".join(f"{k}={v:.4g}" for k, v in self.params.items())
        return f"<FitResult {self.law.name}: {ps}; objective={self.objective:.4g}, n={self.n_points}>"

    def to_lmfit(self):
        """The fitted parameters as ``lmfit.Parameters`` (stderr from the bootstrap, if any)."""
        stderr = self.draws.dropna().std(ddof=1).to_dict() if self.draws is not None else None
        return self.spec.to_lmfit(self.params, stderr)

    def to_dict(self) -> dict:
        info = {k: v for k, v in self.info.items() if k not in ("row_mask", "notes")}
        out = {
            "format": FORMAT_VERSION,
            "scalelaw_version": self.version,
            "law": self.law.name,
            "params": dict(self.params),
            "free": list(self.spec.free),
            "fixed": dict(self.spec.fixed),
            "bounds": {n: [self.spec.lower[n], self.spec.upper[n]] for n in self.law.param_names},
            "objective": self.objective,
            "loss": self.loss,
            "delta": self.delta,
            "n_points": self.n_points,
            "inputs": dict(self.inputs),
            "target": self.target,
            "options": _jsonable(self.options),
            "info": _jsonable(info),
            "seed": self.seed,
            "warnings": list(self.warnings),
            "starts": dict(self.starts),
            "at_bound": list(self.at_bound),
            "derived": self.derived(),
            "data_hash": self.data_hash,
            "data": {str(c): _column_json(self.table[c].to_numpy()) for c in self.table.columns},
            "bootstrap": None,
        }
        if self.draws is not None:
            out["bootstrap"] = {**self.bootstrap_info,
                                "draws": {c: [None if np.isnan(v) else float(v) for v in self.draws[c]]
                                          for c in self.draws.columns}}
        if self.calibration is not None:
            out["calibration"] = self.calibration.to_dict()
        return seal(json.loads(json.dumps(out, allow_nan=True, default=_jsonable)))

    def save(self, path) -> None:
        """Write the fit as JSON, atomically: an existing file is replaced only once the new one is whole."""
        from scalelaw.atomic import atomic_write_text

        atomic_write_text(path, json.dumps(self.to_dict(), indent=1), "fit file")

    @classmethod
    def from_dict(cls, d: dict, where: str = "saved fit") -> "FitResult":
        from scalelaw.fitting.spec import ParamSpec

        verify(d, where)
        check_version(d, where)
        missing = [k for k in _REQUIRED_KEYS if k not in d]
        if missing:
            raise ValueError(f"{where}: missing key(s) {', '.join(missing)}")
        law = get_law(d["law"])
        lost = [n for n in law.param_names if not isinstance(d["params"].get(n), (int, float))]
        if lost:
            raise ValueError(f"{where}: params has no number for {', '.join(lost)} (law {law.name!r})")
        bounds = {n: tuple(b) for n, b in d["bounds"].items()}
        free_default = {n: None for n in law.default_fixed() if n in d["free"]}
        spec = ParamSpec.build(law, fixed={**free_default, **d["fixed"]}, bounds=bounds)
        table = pd.DataFrame(d["data"])
        h = data_hash(table)
        if h != d["data_hash"]:
            raise ValueError(f"{where} is corrupted: its data no longer match the stored data hash")
        draws = bootstrap_info = None
        if d.get("bootstrap"):
            b = dict(d["bootstrap"])
            draws = pd.DataFrame({k: np.array([np.nan if v is None else v for v in vals], dtype=float)
                                  for k, vals in b.pop("draws").items()})
            bootstrap_info = b
        calibration = None
        if d.get("calibration"):
            from scalelaw.calibration import Calibration

            calibration = Calibration.from_dict(d["calibration"])
        return cls(law=law, spec=spec, params=dict(d["params"]), objective=d["objective"], table=table,
                   mapping=d["inputs"], target=d["target"], loss=d["loss"], delta=d["delta"],
                   options=dict(d["options"]), info=dict(d["info"]), seed=d["seed"], warnings=list(d["warnings"]),
                   starts=dict(d["starts"]), at_bound=list(d["at_bound"]), draws=draws,
                   bootstrap_info=bootstrap_info, version=d.get("scalelaw_version"), hash_=h,
                   calibration=calibration)


# resamples x fitted rows above which fit.bootstrap refuses (a refit per resample on every row)
_MAX_BOOTSTRAP_CELLS = 5e7

_REQUIRED_KEYS = ("law", "params", "fixed", "bounds", "objective", "loss", "delta", "inputs", "target", "options",
                  "info", "seed", "warnings", "starts", "at_bound", "data_hash", "data")


def _weak_directions(search, spec) -> list[str]:
    best_f, best_t = search.candidates[0]
    tol = 1e-5 * abs(best_f) + 1e-12
    close = [t for f, t in search.candidates[1:] if f - best_f <= tol]
    names = []
    for j, n in enumerate(spec.free):
        for t in close:
            a, b = best_t[j], t[j]
            if spec.is_log(n):
                differ = abs(a - b) > 0.05  # 5% in value
            else:
                differ = abs(a - b) > 0.05 * max(abs(a), abs(b), 1e-12)
            if differ:
                names.append(n)
                break
    return names


class GroupedFit(dict):
    """One :class:`FitResult` per group (``fit(..., by="lang")``), keyed by the group value."""

    def __init__(self, results: Mapping[Any, FitResult], by: str):
        super().__init__(results)
        self.by = by

    @property
    def params(self) -> pd.DataFrame:
        return pd.DataFrame({k: r.params for k, r in self.items()}).T.rename_axis(self.by)

    @property
    def warnings(self) -> dict:
        return {k: r.warnings for k, r in self.items() if r.warnings}

    def predict(self, X=None, *, group=None, **kwargs):
        if group is None:  # was Python's "missing 1 required keyword-only argument: 'group'"
            raise TypeError(f"a grouped fit (by={self.by!r}) predicts one group at a time: give group=, e.g. "
                            f"predict(X, group={next(iter(self), None)!r}); groups: {list(self)}")
        if group not in self:
            raise KeyError(f"no fit for {self.by}={group!r}; groups: {list(self)}")
        return self[group].predict(X, **kwargs)

    def bootstrap(self, n: int = 1000, seed: int | None = None, **kwargs) -> "GroupedFit":
        for r in self.values():
            r.bootstrap(n, seed=seed, **kwargs)
        return self

    def report(self, level: float = 0.95) -> str:
        return "\n\n".join(f"### {self.by} = {k}\n{r.report(level)}" for k, r in self.items())

    def to_dict(self) -> dict:
        return seal({"format": FORMAT_VERSION, "grouped_by": self.by,
                     "groups": [{"key": _jsonable(k), "fit": r.to_dict()} for k, r in self.items()]})

    def save(self, path) -> None:
        from scalelaw.atomic import atomic_write_text

        atomic_write_text(path, json.dumps(self.to_dict(), indent=1), "fit file")


def _no_spread_note(draws: pd.DataFrame, free) -> str | None:
    """A note when every bootstrap refit landed on the same parameters (relative spread below
    1e-9 on every free parameter). Resampling rows of a fit with zero residuals (noiseless or
    synthetic data, or as many points as parameters) refits the same curve every time, so the
    parameter band (``kind="parameter"``) has zero width: a statement about the data, not an
    uncertainty of zero, and nothing else would say so."""
    d = draws[list(free)].dropna()
    if len(d) < 2 or not free:
        return None
    values = d.to_numpy(dtype=float)
    scale = np.maximum(np.abs(np.median(values, axis=0)), 1e-300)
    spread = np.ptp(values, axis=0) / scale
    if not np.all(spread < 1e-9):
        return None
    return (f"bootstrap: all {len(d)} resamples refitted to the same parameters (relative spread "
            f"{float(spread.max()):.1g}): the fit's residuals are ~0 (noiseless data, or no more points than "
            "parameters), so the parameter band (kind='parameter') has zero width; it measures no "
            "uncertainty, and the calibrated band rests on the backtests' errors alone")


def read_saved_json(path, what: str = "a saved fit", made_by: str = "a fit saved with fit.save / scalelaw fit -o"):
    """The JSON document of a saved result at ``path``, or an error naming the path and what it is
    instead: a folder, nothing, a FIFO or device (open() would block on a FIFO forever and read
    /dev/zero until the memory is full), text that is not JSON. ``what`` names the kind of result
    (load_fit's and load_isoflop's messages differ only there)."""
    from pathlib import Path

    import stat

    if Path(path).is_dir():
        raise ValueError(f"{path}: is a directory, not {what} (give the .json file)")
    if not Path(path).exists():
        raise FileNotFoundError(f"{path}: no such file ({made_by})")
    mode = Path(path).stat().st_mode
    if not stat.S_ISREG(mode):
        kind = "a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
        raise ValueError(f"{path}: cannot read {what} from it: {kind}, not a regular file")
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not {what} (invalid JSON: {err})") from None
    except RecursionError:
        raise ValueError(f"{path}: not {what} (JSON nested too deeply to read)") from None


def load_fit(path) -> FitResult | GroupedFit:
    """Load a fit saved with ``fit.save(path)``."""
    d = read_saved_json(path)
    if isinstance(d, dict) and d.get("format") == "scalelaw-isoflop":
        # what `scalelaw isoflop -o` and iso.save write: a different result, with its own loader
        raise ValueError(f"{path}: a saved IsoFLOP / envelope result (scalelaw isoflop -o, iso.save), not a "
                         "fit; load it with sl.load_isoflop(path) (its predict takes C)")
    if not isinstance(d, dict) or ("law" not in d and "groups" not in d):
        raise ValueError(f"{path}: not a saved scalelaw fit (no 'law' key)")
    if "groups" in d:
        verify(d, str(path))
        try:
            groups = [(g["key"], g["fit"]) for g in d["groups"]]
            by = d["grouped_by"]
        except (KeyError, TypeError) as err:
            raise ValueError(f"{path}: grouped fit without {err}") from None
        return GroupedFit({k: FitResult.from_dict(f, f"{path} (group {k!r})") for k, f in groups}, by=by)
    return FitResult.from_dict(d, str(path))
