"""Scaling law with learning-rate annealing (Tissue et al. 2024, "Scaling Law with Learning Rate
Annealing", arXiv:2408.11029).

    L(s) = L0 + A * S1(s)^(-alpha) - C * S2(s)

s the training step; S1(s) = sum_{i<=s} eta_i the forward area under the LR schedule;
S2(s) = sum_{i<=s} m_i the annealing area with momentum m_i = lambda m_{i-1} + (eta_{i-1} - eta_i),
m_0 = 0, lambda = ``momentum`` (0.999 by default, held fixed unless freed). Warm-up steps count
as eta_max in S1 and S2 (Tissue et al.'s fitting script), so the fit takes ``warmup_steps``.
L in nats. One parameter set is fitted jointly to several runs with different schedules and
then predicts the whole curve of any other schedule.

Predictions are clipped above zero before logs are taken (the law can go negative far out).
"""

from __future__ import annotations

import numpy as np

from .base import Input, Law, Param, nnls_seeds

_TINY = 1e-12


def effective_lr(lr, warmup_steps=0):
    """The schedule as the law sees it: warm-up steps replaced by the peak LR (eta_max)."""
    lr = np.asarray(lr, dtype=np.float64).copy()
    if lr.ndim != 1 or lr.size == 0:
        raise ValueError("a schedule must be a non-empty 1-D array of per-step learning rates")
    if not np.all(np.isfinite(lr)) or np.any(lr < 0):
        raise ValueError("a schedule's learning rates must be finite and >= 0")
    if isinstance(warmup_steps, bool) or int(warmup_steps) != warmup_steps or warmup_steps < 0:
        raise ValueError(f"warmup_steps must be an integer >= 0, got {warmup_steps!r}")
    w = int(warmup_steps)
    if w > lr.size:
        raise ValueError(f"warmup_steps={w} is longer than the schedule ({lr.size} steps)")
    if lr.max() <= 0:
        raise ValueError("a schedule's learning rates are all 0: the law needs a positive peak LR")
    lr[: min(w, lr.size)] = lr.max()
    return lr


def prediction_warmup(X, options) -> int:
    """The warm-up to predict a new schedule with: the caller's, else the fit's own.

    A fit made with one ``warmup_steps`` for every run predicts with it too (the same convention on
    both sides of the extrapolation); a fit with a different warm-up per run has no single default,
    so it takes 0 unless the caller says otherwise.
    """
    warm = X.get("warmup_steps")
    if warm is None:
        w = (options or {}).get("warmup_steps", 0)
        if isinstance(w, dict):
            values = set(w.values())
            warm = values.pop() if len(values) == 1 else 0
        else:
            warm = w or 0
    return warm


def forward_area(lr_eff):
    """S1 at steps 1..n: cumulative sum of the (warm-up adjusted) LR."""
    return np.cumsum(lr_eff)


def annealing_area(lr_eff, momentum):
    """S2 at steps 1..n: cumulative sum of m_i = momentum * m_{i-1} + (eta_{i-1} - eta_i), m_0 = 0.

    eta_0 is taken equal to eta_1 (no decrease before the first step).
    """
    from scipy.signal import lfilter

    drop = np.empty_like(lr_eff)
    drop[0] = 0.0
    drop[1:] = lr_eff[:-1] - lr_eff[1:]
    m = lfilter([1.0], [1.0, -float(momentum)], drop)
    return np.cumsum(m)


def lr_annealing(S1, S2, *, L0, A, alpha, C):
    """L = L0 + A S1^(-alpha) - C S2 (Tissue et al. 2024), clipped above zero."""
    pred = L0 + A * np.exp(-alpha * np.log(S1)) - C * S2
    return np.maximum(pred, _TINY)


def whole_steps(steps) -> np.ndarray:
    """``predict(steps=...)`` as int64, refusing fractions (int64 conversion cut 1250.5 to 1250)."""
    values = np.atleast_1d(np.asarray(steps, dtype=np.float64))
    bad = ~np.isfinite(values) | (values != np.round(values))
    if bad.any():
        raise ValueError(f"steps must be whole numbers (1-based steps of the schedule), got {float(values[bad][0])!r}")
    return values.astype(np.int64)


def _as_schedule(value, run):
    from scalelaw.schedules import from_spec

    if isinstance(value, str):
        return from_spec(value)
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"schedules[{run!r}] must be a 1-D per-step LR array or a schedule string")
    return arr


class LRAnnealing(Law):
    """Features: S1 per observation; S2 recomputed (and cached) per momentum value."""

    # Laws driven by each run's LR schedule (the CLI, app and optimiser look for this flag).
    schedule_law = True
    clip_floor = _TINY  # L0 + A S1^-alpha - C S2 goes negative for enough annealing: clipped here

    def run_schedules(self, steps, options, frame=None):
        """Each run's per-step LR: ``(runs, run_names, lrs, given, notes)``.

        From ``schedules=`` (arrays or strings), else the data's ``schedule`` column (string
        form), else the logged ``lr`` column by interpolation (a note says so).
        """
        if frame is None or "run" not in frame.columns:
            runs = np.array(["run"] * len(steps), dtype=object)
        else:
            runs = frame["run"].astype(str).to_numpy()
        notes = []
        schedules = options.get("schedules")
        lrs, given = {}, {}
        run_names = list(dict.fromkeys(runs))
        if schedules is not None:
            if not isinstance(schedules, dict):
                raise TypeError("schedules must be a dict: run name -> per-step LR array or schedule string")
            missing = [r for r in run_names if r not in schedules]
            if missing:
                raise ValueError(
                    f"schedules has no entry for run(s) {missing}; it has {list(schedules)}. "
                    "Give the per-step LR (steps 1..S) of every run in the data."
                )
            lrs = {r: _as_schedule(schedules[r], r) for r in run_names}
            given = {r: schedules[r] for r in run_names}
            extra = [r for r in schedules if r not in run_names]
            if extra:  # a typo or rows filtered away: the schedule of a run the fit did not see
                notes.append(f"schedules names run(s) {extra} that are not in the data (runs: {run_names}); "
                             "their schedules were not used")
        elif frame is not None and "schedule" in frame.columns and frame["schedule"].notna().all():
            for r in run_names:
                specs = frame.loc[runs == r, "schedule"].unique()
                if len(specs) != 1:
                    raise ValueError(f"run {r!r} has {len(specs)} different values in column 'schedule'")
                lrs[r] = _as_schedule(str(specs[0]), r)
                given[r] = str(specs[0])
        elif frame is not None and "lr" in frame.columns:
            for r in run_names:
                sub = frame.loc[runs == r, ["step", "lr"]].dropna().sort_values("step")
                if len(sub) < 2:
                    raise ValueError(f"run {r!r}: column 'lr' has fewer than 2 values; pass schedules=")
                last = int(max(sub["step"].max(), steps[runs == r].max()))
                lrs[r] = np.interp(np.arange(1, last + 1), sub["step"].to_numpy(float), sub["lr"].to_numpy(float))
            notes.append(
                "per-step LR rebuilt by linear interpolation of the logged 'lr' column; pass "
                "schedules= (exact per-step LR) for an exact S1/S2"
            )
        else:
            raise ValueError(
                f"{self.name} needs each run's per-step learning rate: pass schedules={{run: lr array or "
                "schedule string}, or data with a 'schedule' (string form) or 'lr' column"
            )
        return runs, run_names, lrs, given, notes

    def prepare(self, columns, options, frame=None, y=None):
        steps = np.asarray(columns["step"])
        runs, run_names, lrs, given, notes = self.run_schedules(steps, options, frame)
        warm = options.get("warmup_steps", 0)
        warm_of = (lambda r: int(warm.get(r, 0))) if isinstance(warm, dict) else (lambda r: int(warm))
        lr_eff = [effective_lr(lrs[r], warm_of(r)) for r in run_names]

        keep = steps >= 1
        if not keep.all():
            notes.append(
                f"{int((~keep).sum())} row(s) at step < 1 skipped: S1 = 0 there and the law is undefined "
                "before the first step"
            )
        # a step between two whole steps was cut down to the one below (1250.5 -> 1250, and a
        # computed 1249.9999999 -> 1249) when indexing the schedule: refuse it, as multi_power does
        frac = keep & (steps != np.round(steps))
        if frac.any():
            i = int(np.flatnonzero(frac)[0])
            raise ValueError(f"run {runs[i]!r}: steps must be whole numbers (1-based step of the schedule), got "
                             f"{float(steps[i])!r} at {int(frac.sum())} row(s); steps computed from tokens carry "
                             "float error: round them first (df['step'] = df['step'].round())")
        position = {r: i for i, r in enumerate(run_names)}
        row_run = np.array([position[r] for r in runs], dtype=np.int64)
        for i, r in enumerate(run_names):
            too_far = keep & (row_run == i) & (steps > len(lr_eff[i]))
            if too_far.any():
                raise ValueError(
                    f"run {r!r}: data has step {int(steps[too_far].max())} but its schedule has only "
                    f"{len(lr_eff[i])} steps"
                )
        idx = np.where(keep, steps, 1).astype(np.int64) - 1
        offsets = np.concatenate([[0], np.cumsum([len(lr) for lr in lr_eff])])[:-1]
        flat = offsets[row_run] + idx
        s1 = np.concatenate([forward_area(lr) for lr in lr_eff])[flat]
        if len(run_names) < 2:
            notes.append("only one schedule: A, alpha and C are weakly identified; fit several schedules jointly")
        X = {"S1": s1, "flat": flat, "lr_eff": lr_eff, "_s2": {}}
        info = {"runs": run_names, "row_mask": keep, "notes": notes,
                # what rebuilds these exact schedules from a saved fit: the string form where we had it
                "resolved_schedules": {r: given[r] if isinstance(given.get(r), str) else lrs[r].tolist()
                                       for r in run_names}}
        return X, info

    def options_from_info(self, options, info):
        return {**options, "schedules": info["resolved_schedules"]}

    def _s2(self, X, momentum):
        key = float(momentum)
        cache = X.setdefault("_s2", {})
        if len(cache) > 512:  # a freed momentum visits many values; keep memory bounded
            cache.clear()
        if key not in cache:
            cache[key] = np.concatenate([annealing_area(lr, key) for lr in X["lr_eff"]])[X["flat"]]
        return cache[key]

    def evaluate(self, X, P, info=None):
        mom = np.asarray(P["momentum"], dtype=float)
        kw = {n: P[n] for n in ("L0", "A", "alpha", "C")}
        if mom.size == 1:
            return lr_annealing(X["S1"], self._s2(X, mom.ravel()[0]), **kw)
        flat = mom.ravel()
        S2 = np.stack([self._s2(X, m) for m in flat])  # (K, n); few distinct values in practice
        return lr_annealing(X["S1"], S2, **kw)

    prediction_extras = ("schedule", "warmup_steps", "steps")

    def features_for_prediction(self, X, options, info):
        self.check_prediction_keys(X)
        if "schedule" not in X:
            raise ValueError("lr_annealing predicts from a schedule: fit.predict(schedule=lr_array_or_string)")
        lr_eff = effective_lr(_as_schedule(X["schedule"], "schedule"), prediction_warmup(X, options))
        steps = X.get("steps")
        steps = np.arange(1, len(lr_eff) + 1) if steps is None else whole_steps(steps)
        if np.any(steps < 1) or np.any(steps > len(lr_eff)):
            raise ValueError(f"steps must lie in 1..{len(lr_eff)} (the schedule's length)")
        idx = steps - 1
        return {"S1": forward_area(lr_eff)[idx], "flat": idx, "lr_eff": [lr_eff], "_s2": {}}

    def seeds(self, X, y, options, fixed, info=None):
        # For fixed alpha (and momentum) the law is linear in (L0, A, C) >= 0: variable projection.
        mom = fixed.get("momentum", 0.999)
        S2 = self._s2(X, mom)
        alphas = [fixed["alpha"]] if "alpha" in fixed else np.geomspace(0.02, 2.0, 30)
        designs = np.stack([np.stack([np.ones_like(y), X["S1"] ** -a, -S2], axis=1) for a in alphas])
        coefs, rss = nnls_seeds(designs, y)
        tiny = 1e-6
        out = []
        for i in np.argsort(rss)[:16]:
            L0, A, C = coefs[i]
            if np.all(np.isfinite(coefs[i])):
                out.append({"L0": max(L0, tiny), "A": max(A, tiny), "alpha": alphas[i], "C": max(C, tiny),
                            "momentum": mom})
        return out

    def start_grid(self, X, y, options):
        # Tissue et al.'s 54-start grid; alpha 0 becomes 0.01 because positive parameters are fitted in log space.
        return {
            "L0": np.array([0.1, 2.1]),
            "A": np.array([1.0, 11.5, 22.0]),
            "alpha": np.array([0.01, 0.4, 0.8]),
            "C": np.array([1.0, 11.5, 22.0]),
            "momentum": np.array([0.999]),
        }

    def final_loss(self, lr_batch, P, warmup_steps=0):
        """Loss at the last step of each schedule in ``lr_batch`` (M, T) under parameter sets ``P``
        (scalars or (K, 1) arrays): shape (K, M). S2(T) = sum_j d_j (1 - lambda^(T-j+1)) / (1 - lambda)."""
        lr_batch = np.atleast_2d(np.asarray(lr_batch, dtype=np.float64))
        lr_eff = np.stack([effective_lr(lr, warmup_steps) for lr in lr_batch])
        T = lr_eff.shape[1]
        drop = np.zeros_like(lr_eff)
        drop[:, 1:] = lr_eff[:, :-1] - lr_eff[:, 1:]
        S1 = lr_eff.sum(axis=1)
        par = {n: np.asarray(P[n], dtype=np.float64).reshape(-1, 1) for n in ("L0", "A", "alpha", "C", "momentum")}
        K = max(v.shape[0] for v in par.values())
        par = {n: np.broadcast_to(v, (K, 1)) for n, v in par.items()}
        out = np.empty((K, len(lr_eff)))
        j = np.arange(1, T + 1)
        for lam in np.unique(par["momentum"]):
            rows = np.flatnonzero(par["momentum"][:, 0] == lam)
            # m_i = sum_{j<=i} lam^(i-j) d_j, so sum_{i<=T} m_i = sum_j d_j (1 - lam^(T-j+1)) / (1 - lam)
            w = (T - j + 1.0) if lam == 1 else -np.expm1((T - j + 1.0) * np.log(lam)) / (1.0 - lam)
            S2 = drop @ w
            out[rows] = lr_annealing(S1[None, :], S2[None, :], **{n: par[n][rows] for n in ("L0", "A", "alpha", "C")})
        return out

    def optimum(self, params, info, schedules=None, warmup_steps=0, **kwargs):
        """Best schedule among candidates: the one whose predicted final loss is lowest."""
        if not schedules or kwargs:
            raise ValueError("lr_annealing optimum needs schedules={name: lr array or string}")
        finals = {}
        for name, sched in schedules.items():
            X = self.features_for_prediction({"schedule": sched, "warmup_steps": warmup_steps}, {}, info)
            finals[name] = float(self.evaluate(X, params, info)[-1])
        best = min(finals, key=finals.get)
        warn_clipped_candidates(self, finals)
        return {"schedule": best, "loss": finals[best], "final_losses": finals}


def warn_clipped_candidates(law, finals: dict) -> None:
    """A warning naming the candidate schedules whose final loss is the law's clip value: the
    lowest "loss" among candidates is then a law gone negative, not the best schedule."""
    import warnings

    names = [name for name, value in finals.items() if value <= law.clip_floor]
    if names:
        warnings.warn(f"optimum: the law {law.formula} falls to <= 0 at the end of candidate schedule(s) "
                      f"{', '.join(map(repr, names))} and is clipped there to {law.clip_floor:g}, which is not a "
                      "loss: a comparison with them means nothing (they lie outside where the fitted law holds)",
                      UserWarning, stacklevel=3)


LAW = LRAnnealing(
    name="lr_annealing",
    formula="L(s) = L0 + A * S1(s)^(-alpha) - C * S2(s)",
    latex=r"L(s) = L_0 + A\, S_1(s)^{-\alpha} - C\, S_2(s)",
    source="Tissue et al. 2024, Scaling Law with Learning Rate Annealing (arXiv:2408.11029)",
    inputs=(Input("step", "training step s (1-based); the LR schedule of each run is given separately",
                  column="step", positive=False),),
    params=(
        Param("L0", "loss floor (nats)", floor=True),
        Param("A", "forward-area coefficient"),
        Param("alpha", "forward-area exponent", max=10.0),
        Param("C", "annealing-area coefficient"),
        Param("momentum", "annealing momentum lambda (fixed at 0.999 unless freed)", min=0.0, max=0.99999,
              log=False, fixed_default=0.999),
    ),
    function=lr_annealing,
    options={"schedules": None, "warmup_steps": 0},
)
