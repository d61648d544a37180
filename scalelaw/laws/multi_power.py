"""The Multi-Power Law for loss curves across learning-rate schedules (Luo et al., ICLR 2025,
"A Multi-Power Law for Loss Curve Prediction Across Learning Rate Schedules", arXiv:2503.12811).

    L(t) = L0 + A * (S1(t) + S_W)^(-alpha) - LD(t)
    LD(t) = B * sum_{k=W+1..t} (eta_{k-1} - eta_k) * G(eta_k^(-gamma) * S_k(t))
    G(x) = 1 - (C x + 1)^(-beta),     S_k(t) = sum_{tau=k..t} eta_tau

t the training step (1-based, counted from the start of warm-up); eta the per-step LR of the
whole run; W = ``warmup_steps``. S_W is the LR summed over the warm-up and S1(t) the LR summed
after it, so S1(t) + S_W is simply the LR summed over steps 1..t (the warm-up ramp counts with its
real, small LRs: unlike ``lr_annealing`` the warm-up is not replaced by the peak). The loss-drop
sum starts after warm-up (k > W), as in the paper; with ``warmup_steps=0`` the ramp's increases
enter LD with the opposite sign, which is what the authors' released fitting code does. Both
conventions are available because the published parameters were fitted with the second.

Fast LD. The naive sum costs O(t) per step, O(T^2) per curve, for every parameter set. We only
need the steps that were logged, only the steps where eta changes contribute, and every S_k(t)
is a difference of one cumulative sum. For smooth schedules (cosine: a change at every step) the
changes far before t are merged into bins over which S_k(t) varies by at most a ratio ``1 + r``
and eta by at most ``eta_ratio`` in log (a midpoint rule weighted by |eta_{k-1} - eta_k|, one sign
per bin); the changes close to t, where G varies fastest, stay single. A curve then costs a few
hundred nodes per logged step instead of t, evaluated for many parameter sets at once. With
``ratio=0`` (or few changes) the sum is exact. The merged sum's error is measured in
tests/test_multi_power.py and benchmarks/bench_multi_power.py.

Fitting. The law is fitted with the library's engine (Huber on log residuals, delta 1e-3, summed;
multi-start; variable projection seeds: for fixed alpha, C, beta, gamma the law is linear in
L0, A, B). By default beta and gamma are held at 0.6 and 0.64: ``FIT_NOTES`` below says why
(the free fit generalises worse across schedules) and what was measured. The authors' own fitting
procedure (a simplified start, then AdamW stopped early) is re-implemented as
:func:`fit_authors_procedure`; :func:`scalelaw.multi_power_cv.select_fit_method` chooses
between the two by leaving one fitted schedule out.
"""

from __future__ import annotations

import threading

import numpy as np

from scalelaw.blas_threads import one_blas_thread

from .base import Input, Param, cartesian, nnls_seeds
from .lr_annealing import LRAnnealing, _as_schedule, prediction_warmup, warn_clipped_candidates, whole_steps

_TINY = 1e-12
# An LR of exactly 0 is taken as this (its eta^-gamma would be infinite; the drop it causes then
# counts fully once any LR has been spent after it, and not at all before).
_ETA_MIN = 1e-20

# Merged-LD accuracy: bins over which S_k(t) grows by at most 1 + RATIO and log(eta) moves by at
# most ETA_RATIO. Measured error on a 24,000-step cosine: see tests and benchmarks.
RATIO = 0.05
ETA_RATIO = 0.2
# The last EXACT_BELOW changes before a step stay single nodes (G varies fastest there); runs with
# at most MERGE_ABOVE changes are never merged (short schedules: the sum is exact).
EXACT_BELOW = 32
MERGE_ABOVE = 2048
# Cap on K * nodes per vectorised block (bounds temporary memory at a few tens of MB).
_CHUNK_ELEMENTS = 1_500_000
# Prediction features (LD nodes) of this many recent (schedule, steps, warm-up) kept per process.
_PREDICTION_CACHE = 2
_CACHE_LOCK = threading.Lock()

FIT_NOTES = """\
Default fit: beta and gamma are held at 0.6 and 0.64 (free them with fixed={"beta": None,
"gamma": None}); L0, A, alpha, B and C are fitted to the minimum of the summed Huber objective.

Why. On Luo et al.'s published curves (fit cosine_24000, constant_24000 and wsdcon_9; predict the
other six schedules; mean over schedules of the mean |relative error|) the free seven-parameter
minimum drifts along two flat valleys: beta -> 0 with B -> infinity (G(x) ~ beta log(1 + C x), a
drop that never saturates) and C against gamma (one LR level only sees C eta^-gamma). It
generalises worse: 0.137% (25M) and 0.165% (100M), against 0.110% and 0.142% for the authors'
published parameters, whose fit stopped after 200 AdamW steps from C = 1, beta = gamma = 0.5 and
so never went down those valleys. Holding the shape at the values the authors' fits reach at 25M,
100M and 400M alike (beta 0.58-0.60, gamma 0.63-0.66) gives 0.121% (25M) and 0.125% (100M): below
the published 0.142% at 100M, above the published 0.110% at 25M; the worst schedule is
cosine_72000 (3x the fitted horizon) at 0.32% and 0.39% (published: 0.23%, 0.25%).
Leaving one fitted schedule out did not choose between the held and the free shape reliably: it
preferred the free fit at 100M (0.093% vs 0.144%) where the held-out schedules say the opposite.
Between the default and the authors' procedure it does choose, see below and multi_power_cv.
Other choices measured with the shape held (25M / 100M held-out means): squared log loss instead
of Huber 0.127% / -; fitting only steps >= 4,000 0.168% / 0.133%; C held at 2 too 0.134% / -;
the warm-up left out of LD (warmup_steps=2160) 0.120% / 0.136%.
The warm-up: the authors' released code counts the ramp's LR increases in LD (warmup_steps=0
here); their parameters reproduce their errors only that way (0.111% / 0.144% here). With
warmup_steps=W the ramp is left out of LD (the paper's text): as good at 25M, worse at 100M.
The authors' own procedure, re-implemented (``fit_authors_procedure``; chosen a priori as the
method behind the published errors, not on the held-out schedules): a simplified law fitted by
L-BFGS-B from a grid, then at most 200 AdamW steps from C = 1, beta = gamma = 0.5, stopped after
20 without improvement. It reproduces the published parameters (100M: every one within 0.1%;
25M: L0 3.0435, B 365.1, C 2.00, beta 0.573, gamma 0.629 against 3.0405, 363.8, 2.07, 0.583,
0.641) and gives held-out means of 0.090% (25M; worst cosine_72000 0.152%) and 0.143% (100M;
0.245%), against the default's 0.121% and 0.125%: better at 25M, worse at 100M. It is an option
(10-20 s a size; its 135 small start fits run with BLAS on one thread, which on a busy machine
is 10-20x faster than threaded BLAS), not a FitResult: pass its parameters to
multi_power() or as sl.fit(..., fixed=params). Its constants were set for the authors' scale
(peak LR 3e-4, B in the hundreds): on synthetic curves at a peak of 3e-3 it stopped 3% off
(tests/test_multi_power.py uses their scale).
Choosing between the two: multi_power_cv.select_fit_method leaves each fitted schedule out in
turn (fit the two others with each method, score the left-out one's mean |relative error|) and
refits the method with the lower mean; the rule was written before it was first run and not
changed after (that module's docstring says why). On the published curves it chose the authors' procedure at
25M (CV 0.115% against the default's 0.161%) and the default at 100M (0.144% against 0.302%),
which gives held-out means of 0.090% (25M; worst cosine_72000 0.152%) and 0.125% (100M; worst
cosine_72000 0.393%): both at or below the published 0.110% and 0.142%. On data/cpu_schedules
it kept the default at both sizes where the authors' fit would have been better by 0.05 points
(0.276% vs 0.227%, 0.582% vs 0.529%): here three folds told apart methods whose errors differ
by a factor 1.4-2 but not 1.1-1.2 (multi_power_cv.FIT_NOTES). It costs 35-50 s
a size (four fits of each method), so sl.fit keeps the single Huber fit as its default (which
also has a bootstrap; the authors' fit, given to sl.fit as fixed parameters, has none).
Default, free, authors' and selected fits: examples/multi_power_validation.py [--free] [--authors]
[--select]; the variants are the same fit with fixed=, loss= or the rows restricted."""


def lr_sum(lr):
    """S1(t) + S_W at steps 1..T: the cumulative LR of the whole run (warm-up at its real LRs)."""
    return np.cumsum(np.asarray(lr, dtype=np.float64))


def _drops(lr, warmup_steps):
    """(k, eta_{k-1} - eta_k) for the 1-based steps k > warmup_steps where eta changes."""
    eta = np.asarray(lr, dtype=np.float64)
    k = np.arange(max(int(warmup_steps) + 1, 2), len(eta) + 1)
    d = eta[k - 2] - eta[k - 1]
    nz = d != 0
    return k[nz], d[nz]


def loss_drop_naive(lr, steps, warmup_steps=0, *, B, C, beta, gamma):
    """LD(t) at the given 1-based steps by the plain O(t) sum per step (the reference)."""
    eta = np.maximum(np.asarray(lr, dtype=np.float64), _ETA_MIN)
    P = np.concatenate([[0.0], np.cumsum(np.asarray(lr, dtype=np.float64))])
    out = []
    for t in np.atleast_1d(steps):
        t = int(t)
        k = np.arange(max(int(warmup_steps) + 1, 2), t + 1)
        d = np.asarray(lr, dtype=np.float64)[k - 2] - np.asarray(lr, dtype=np.float64)[k - 1]
        x = C * eta[k - 1] ** (-gamma) * (P[t] - P[k - 1])
        out.append(B * np.sum(d * (1.0 - (x + 1.0) ** (-beta))))
    return np.array(out)


def ld_nodes(lr, steps, warmup_steps=0, *, ratio=RATIO, eta_ratio=ETA_RATIO, exact_below=EXACT_BELOW,
             merge_above=MERGE_ABOVE):
    """The nodes of the fast LD sum for one run at the given steps.

    Returns ``(S, logeta, w, row)``: for every node the LR area S_k(t), log eta_k, the weight
    (sum of eta_{k-1} - eta_k it stands for) and the index of the step it belongs to. LD at
    ``steps[j]`` is ``B * sum over nodes with row == j of w * G(exp(-gamma*logeta) * S)``.
    ``ratio=0``, or a run with at most ``merge_above`` changes, keeps every change (exact).
    """
    eta = np.asarray(lr, dtype=np.float64)
    P = np.concatenate([[0.0], np.cumsum(eta)])
    k, d = _drops(eta, warmup_steps)
    logeta_k = np.log(np.maximum(eta[k - 1], _ETA_MIN))
    Pk1 = P[k - 1]
    out_S, out_L, out_w, out_r = [], [], [], []
    steps = np.atleast_1d(np.asarray(steps, dtype=np.int64))
    counts = np.searchsorted(k, steps, side="right")
    if len(k) <= merge_above:
        ratio = 0.0
    log_r = np.log1p(ratio) if ratio > 0 else None
    for j, (t, m) in enumerate(zip(steps, counts)):
        if m == 0:
            continue
        S = P[t] - Pk1[:m]
        if ratio <= 0 or m <= exact_below:
            out_S.append(S)
            out_L.append(logeta_k[:m])
            out_w.append(d[:m])
            out_r.append(np.full(m, j, dtype=np.int64))
            continue
        # bins: S within a factor 1 + ratio, log eta within eta_ratio, one sign of the change
        u = np.floor(np.log(np.maximum(S, 1e-300)) / log_r)
        v = np.floor(logeta_k[:m] / eta_ratio)
        sgn = d[:m] > 0
        new = np.empty(m, dtype=bool)
        new[0] = True
        new[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1]) | (sgn[1:] != sgn[:-1])
        # the last exact_below changes before t stay single (G varies fastest there)
        new[max(m - exact_below, 0):] = True
        starts = np.flatnonzero(new)
        a = np.abs(d[:m])
        wa = np.add.reduceat(a, starts)
        out_S.append(np.add.reduceat(a * S, starts) / wa)
        out_L.append(np.add.reduceat(a * logeta_k[:m], starts) / wa)
        out_w.append(np.add.reduceat(d[:m], starts))
        out_r.append(np.full(len(starts), j, dtype=np.int64))
    if not out_S:
        e = np.empty(0)
        return e, e, e, np.empty(0, dtype=np.int64)
    return (np.concatenate(out_S), np.concatenate(out_L), np.concatenate(out_w), np.concatenate(out_r))


class LDNodes:
    """Fast LD for many observations and many parameter sets: ``(K, n_rows)`` at once."""

    def __init__(self, S, logeta, w, row, n_rows):
        from scipy.sparse import csr_matrix

        self.S, self.logeta, self.n_rows = S, logeta, int(n_rows)
        # rows x nodes, weights folded in: LD = B * (G @ M.T)
        self.M = csr_matrix((w, (row, np.arange(len(S)))), shape=(self.n_rows, len(S)))

    @property
    def n_nodes(self):
        return len(self.S)

    def __call__(self, C, beta, gamma):
        """sum_k w_k G(eta_k^-gamma S_k) per row, for scalars or (K, 1) parameter arrays."""
        C, beta, gamma = (np.asarray(v, dtype=np.float64) for v in (C, beta, gamma))
        K = max(C.size, beta.size, gamma.size)
        C, beta, gamma = (np.broadcast_to(v.reshape(-1), (K,)) for v in (C, beta, gamma))
        if self.n_nodes == 0:
            return np.zeros((K, self.n_rows))
        # Only (C, beta, gamma) enter LD: a forward-difference Jacobian perturbs L0, A, alpha and B
        # too, and beta, gamma are usually held, so most of K repeats a few distinct triples.
        trip, inv = np.unique(np.stack([gamma, beta, C], axis=1), axis=0, return_inverse=True)
        inv = inv.reshape(-1)
        out = np.empty((len(trip), self.n_rows))
        step = max(1, _CHUNK_ELEMENTS // self.n_nodes)
        for g in np.unique(trip[:, 0]):
            idx = np.flatnonzero(trip[:, 0] == g)
            u = np.exp(-g * self.logeta) * self.S  # eta_k^-gamma S_k: one per gamma
            for i in range(0, len(idx), step):
                sel = idx[i:i + step]
                G = -np.expm1(-trip[sel, 1:2] * np.log1p(trip[sel, 2:3] * u))
                out[sel] = (self.M @ G.T).T
        return out[inv]


def multi_power(lr, *, L0, A, alpha, B, C, beta, gamma, warmup_steps=0, steps=None):
    """The Multi-Power Law's loss at ``steps`` (default: every step) of schedule ``lr``, exactly.

    >>> import numpy as np
    >>> lr = np.r_[np.full(50, 1e-3), np.full(50, 1e-4)]
    >>> L = multi_power(lr, L0=2.0, A=0.5, alpha=0.5, B=300.0, C=2.0, beta=0.6, gamma=0.6)
    >>> bool(L[-1] < L[49])
    True
    """
    lr = np.asarray(lr, dtype=np.float64)
    steps = np.arange(1, len(lr) + 1) if steps is None else np.atleast_1d(np.asarray(steps, dtype=np.int64))
    nodes = LDNodes(*ld_nodes(lr, steps, warmup_steps, ratio=0.0), n_rows=len(steps))
    LD = nodes(C, beta, gamma)[0]
    pred = L0 + A * lr_sum(lr)[steps - 1] ** (-alpha) - B * LD
    return np.maximum(pred, _TINY)


def final_loss(lr_batch, P, warmup_steps=0):
    """The law's loss at the last step of each schedule in ``lr_batch`` (M, T), exactly, under
    parameter sets ``P`` (scalars or (K, 1) arrays): shape (K, M). O(T) per schedule."""
    lr_batch = np.atleast_2d(np.asarray(lr_batch, dtype=np.float64))
    M, T = lr_batch.shape
    par = {n: np.asarray(P[n], dtype=np.float64).reshape(-1, 1) for n in ("L0", "A", "alpha", "B", "C",
                                                                        "beta", "gamma")}
    Kp = max(v.shape[0] for v in par.values())
    par = {n: np.broadcast_to(v, (Kp, 1)) for n, v in par.items()}
    k = np.arange(max(int(warmup_steps) + 1, 2), T + 1)
    out = np.empty((Kp, M))
    for m in range(M):
        eta = lr_batch[m]
        d = eta[k - 2] - eta[k - 1]
        nz = d != 0
        kk, dd = k[nz], d[nz]
        P_all = np.cumsum(eta)
        S = P_all[-1] - np.concatenate([[0.0], P_all])[kk - 1]
        logeta = np.log(np.maximum(eta[kk - 1], _ETA_MIN))
        step = max(1, _CHUNK_ELEMENTS // max(1, len(kk)))
        LD = np.empty((Kp, 1))
        for i in range(0, Kp, step):
            sl = slice(i, i + step)
            x = par["C"][sl] * np.exp(-par["gamma"][sl] * logeta) * S
            LD[sl] = (-np.expm1(-par["beta"][sl] * np.log1p(x))) @ dd[:, None]
        out[:, m] = (par["L0"] + par["A"] * P_all[-1] ** (-par["alpha"]) - par["B"] * LD)[:, 0]
    return np.maximum(out, _TINY)


class MultiPower(LRAnnealing):
    """Features: the cumulative LR at each observation and the fast-LD nodes of every run."""

    def prepare(self, columns, options, frame=None, y=None):
        steps = np.asarray(columns["step"])
        runs, run_names, lrs, given, notes = self.run_schedules(steps, options, frame)
        warm = options.get("warmup_steps", 0)
        warm_of = (lambda r: int(warm.get(r, 0))) if isinstance(warm, dict) else (lambda r: int(warm))
        for r in run_names:
            lr = lrs[r]
            if lr.ndim != 1 or lr.size == 0 or not np.all(np.isfinite(lr)) or np.any(lr < 0):
                raise ValueError(f"schedules[{r!r}] must be a non-empty 1-D array of finite LRs >= 0")
            if warm_of(r) < 0:
                raise ValueError(f"warmup_steps must be >= 0, got {warm_of(r)!r}")
            if warm_of(r) > lr.size:  # as lr_annealing: a warm-up past the run's end leaves no decay to fit
                raise ValueError(f"warmup_steps={warm_of(r)} is longer than run {r!r}'s schedule ({lr.size} steps)")
        keep = steps >= 1
        if not keep.all():
            notes.append(f"{int((~keep).sum())} row(s) at step < 1 skipped: the law starts at the first step")
        position = {r: i for i, r in enumerate(run_names)}
        row_run = np.array([position[r] for r in runs], dtype=np.int64)
        n = len(steps)
        cum = np.ones(n)
        parts = []
        for i, r in enumerate(run_names):
            rows = np.flatnonzero(keep & (row_run == i))
            if rows.size == 0:
                continue
            s = steps[rows].astype(np.int64)
            if s.max() > len(lrs[r]):
                raise ValueError(f"run {r!r}: data has step {int(s.max())} but its schedule has only "
                                 f"{len(lrs[r])} steps")
            if np.any(s != steps[rows]):
                raise ValueError(f"run {r!r}: steps must be whole numbers")
            cum[rows] = lr_sum(lrs[r])[s - 1]
            S, L, w, rr = ld_nodes(lrs[r], s, warm_of(r))
            parts.append((S, L, w, rows[rr]))
        if np.any(cum[keep] <= 0):
            raise ValueError("the cumulative LR is 0 at some observed step (an LR of 0 from the start); "
                             "the law needs S1 + S_W > 0")
        cat = (lambda i: np.concatenate([p[i] for p in parts])) if parts else (lambda i: np.empty(0))
        nodes = LDNodes(cat(0), cat(1), cat(2), cat(3).astype(np.int64), n_rows=n)
        if len(run_names) < 2:
            notes.append("only one schedule: B, C, beta and gamma are weakly identified; fit several schedules jointly")
        X = {"S1": cum, "row": np.arange(n), "nodes": nodes}  # S1: the name calibration looks for
        info = {"runs": run_names, "row_mask": keep, "notes": notes,
                "resolved_schedules": {r: given[r] if isinstance(given.get(r), str) else lrs[r].tolist()
                                       for r in run_names}}
        return X, info

    def evaluate(self, X, P, info=None):
        LD = X["nodes"](P["C"], P["beta"], P["gamma"])[:, X["row"]]
        L0, A, alpha, B = (np.asarray(P[n], dtype=np.float64) for n in ("L0", "A", "alpha", "B"))
        if L0.ndim == 0 and A.ndim == 0 and alpha.ndim == 0 and B.ndim == 0 and LD.shape[0] == 1:
            LD = LD[0]
        pred = L0 + A * np.exp(-alpha * np.log(X["S1"])) - B * LD
        return np.maximum(pred, _TINY)

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_prediction_nodes", None)  # a cache, not state
        return state

    def features_for_prediction(self, X, options, info):
        if "schedule" not in X:
            raise ValueError("multi_power predicts from a schedule: fit.predict(schedule=lr_array_or_string)")
        lr = _as_schedule(X["schedule"], "schedule")
        if lr.ndim != 1 or lr.size == 0 or not np.all(np.isfinite(lr)) or np.any(lr < 0):
            raise ValueError("schedule must be a non-empty 1-D array of finite LRs >= 0")
        warm = prediction_warmup(X, options)  # the fit's own convention unless told (0: the ramp is in LD)
        if int(warm) > lr.size:
            whose = "" if X.get("warmup_steps") is not None else " (the fit's own)"
            raise ValueError(f"warmup_steps={int(warm)}{whose} is longer than the schedule ({lr.size} steps)")
        steps = X.get("steps")
        steps = np.arange(1, len(lr) + 1) if steps is None else whole_steps(steps)
        if np.any(steps < 1) or np.any(steps > len(lr)):
            raise ValueError(f"steps must lie in 1..{len(lr)} (the schedule's length)")
        # A forecast or a band asks for the same long schedule several times (prediction, draws,
        # extrapolation distance); its nodes cost seconds at 10^4 steps, so the last few are kept.
        import hashlib

        key = (hashlib.sha1(np.ascontiguousarray(lr, dtype=np.float64).tobytes()).hexdigest(),
               hashlib.sha1(np.ascontiguousarray(steps, dtype=np.int64).tobytes()).hexdigest(), int(warm))
        with _CACHE_LOCK:
            cache = self.__dict__.setdefault("_prediction_nodes", {})
            nodes = cache.pop(key, None)
        if nodes is None:
            nodes = LDNodes(*ld_nodes(lr, steps, int(warm)), n_rows=len(steps))
        with _CACHE_LOCK:
            cache[key] = nodes
            while len(cache) > _PREDICTION_CACHE:
                cache.pop(next(iter(cache)))
        return {"S1": lr_sum(lr)[steps - 1], "row": np.arange(len(steps)), "nodes": nodes}

    def final_loss(self, lr_batch, P, warmup_steps=0):
        """Loss at the last step of each schedule (M, T) under parameter sets P: (K, M), exact."""
        return final_loss(lr_batch, P, warmup_steps)

    def seeds(self, X, y, options, fixed, info=None):
        # For fixed (alpha, C, beta, gamma) the law is linear in (L0, A, B) >= 0: variable projection.
        grid = {
            "alpha": [fixed["alpha"]] if "alpha" in fixed else [0.2, 0.35, 0.5, 0.7, 1.0],
            "C": [fixed["C"]] if "C" in fixed else [0.5, 2.0, 8.0],
            "beta": [fixed["beta"]] if "beta" in fixed else [0.3, 0.6, 1.0],
            "gamma": [fixed["gamma"]] if "gamma" in fixed else [0.3, 0.6, 0.9],
        }
        combos = cartesian(grid)
        LD = X["nodes"](combos["C"], combos["beta"], combos["gamma"])[:, X["row"]]
        designs = np.stack([np.stack([np.ones_like(y), X["S1"] ** -a, -LD[i]], axis=1)
                            for i, a in enumerate(combos["alpha"])])
        coefs, rss = nnls_seeds(designs, y)
        tiny = 1e-6
        out = []
        for i in np.argsort(rss)[:24]:
            if not np.all(np.isfinite(coefs[i])):
                continue
            L0, A, B = coefs[i]
            out.append({"L0": max(L0, tiny), "A": max(A, tiny), "B": max(B, tiny),
                        **{n: float(combos[n][i]) for n in ("alpha", "C", "beta", "gamma")}})
        return out

    def start_grid(self, X, y, options):
        # A small grid around the paper's fitted values (25M-400M: L0 2.4-3.0, A 0.5-0.65,
        # alpha 0.43-0.51, B 360-520, C ~2, beta ~0.6, gamma ~0.64); the seeds cover the rest.
        lo = float(np.min(y))
        return {
            "L0": np.array([0.8 * lo, 0.95 * lo]),
            "A": np.array([0.1, 0.5]),
            "alpha": np.array([0.3, 0.6]),
            "B": np.array([100.0, 500.0]),
            "C": np.array([0.5, 2.0]),
            "beta": np.array([0.3, 0.6]),
            "gamma": np.array([0.4, 0.7]),
        }

    def optimum(self, params, info, schedules=None, warmup_steps=0, **kwargs):
        """Best schedule among candidates: the one whose predicted final loss is lowest."""
        if not schedules or kwargs:
            raise ValueError("multi_power optimum needs schedules={name: lr array or string}")
        finals = {}
        for name, sched in schedules.items():
            lr = _as_schedule(sched, name)
            finals[name] = float(final_loss(lr, params, warmup_steps)[0, 0])
        best = min(finals, key=finals.get)
        warn_clipped_candidates(self, finals)
        return {"schedule": best, "loss": finals[best], "final_losses": finals}


LAW = MultiPower(
    name="multi_power",
    formula="L(t) = L0 + A*(S1(t)+S_W)^(-alpha) - B*sum_k (eta_{k-1}-eta_k)*G(eta_k^(-gamma)*S_k(t)), "
            "G(x) = 1-(C*x+1)^(-beta)",
    latex=r"L(t) = L_0 + A\,(S_1(t)+S_W)^{-\alpha} - B\sum_{k}(\eta_{k-1}-\eta_k)\,"
          r"G(\eta_k^{-\gamma}S_k(t)),\ G(x) = 1-(Cx+1)^{-\beta}",
    source="Luo et al. 2025, A Multi-Power Law for Loss Curve Prediction Across Learning Rate Schedules "
           "(ICLR 2025, arXiv:2503.12811)",
    inputs=(Input("step", "training step t (1-based, from the start of warm-up); each run's LR schedule is "
                  "given separately", column="step", positive=False),),
    params=(
        Param("L0", "loss floor (nats)", floor=True),
        Param("A", "power-law coefficient of the LR area"),
        Param("alpha", "power-law exponent of the LR area", max=10.0),
        Param("B", "loss-drop coefficient (per unit of LR decrease)"),
        Param("C", "loss-drop saturation scale"),
        Param("beta", "loss-drop saturation exponent (fixed at 0.6 unless freed; see FIT_NOTES)", max=20.0,
              fixed_default=0.6),
        Param("gamma", "LR exponent inside the loss drop (fixed at 0.64 unless freed; see FIT_NOTES)", max=5.0,
              fixed_default=0.64),
    ),
    function=multi_power,
    options={"schedules": None, "warmup_steps": 0},
)


# ---- the authors' own fitting procedure -----------------------------------------------------------
# Luo et al.'s released fitting code, re-implemented (FIT_NOTES says what it gives): the constants
# of their config: AdamW, 200 steps at most, learning rate 5e-2 for L0, A, B, C and 5e-3 for the
# exponents, weight decay 0.01 (torch's AdamW default), stop after 20 steps without improvement or
# below a gradient norm of 1e-5; start C = 1, beta = gamma = 0.5.
AUTHORS_FIT = {"max_steps": 200, "lr_level": 5e-2, "lr_exponent": 5e-3, "weight_decay": 1e-2, "patience": 20,
               "grad_norm": 1e-5, "C": 1.0, "beta": 0.5, "gamma": 0.5}
_ORDER = ("L0", "A", "alpha", "B", "C", "beta", "gamma")


def _huber(r, delta):
    a = np.abs(r)
    return np.where(a < delta, 0.5 * r * r, delta * (a - 0.5 * delta))


def fit_authors_procedure(data, schedules, *, step="step", target="loss", run="run", warmup_steps=0,
                          delta=1e-3, **settings):
    """Fit the Multi-Power Law the way Luo et al.'s released code does; returns the seven parameters.

    The library's default fit minimises the Huber objective (with beta, gamma held); the authors'
    procedure stops early, and the fit method is part of what their published errors measure
    (FIT_NOTES). Their two stages, re-implemented (not copied):

    1. Start: a simplified law L0 + A S(t)^(-alpha) - B (eta_max - eta_t) (S the LR sum, eta_max
       the run's peak LR; the authors write their peak 3e-4) fitted by L-BFGS-B from a 5 x 3 x 3 x
       3 grid (L0 within +-0.2 of the lowest loss, A and alpha around a log-log line through
       loss - min + 0.01 against S, B in 100..1000) to the same Huber objective (delta 1e-3, log
       residuals, summed over ``data``'s rows).
    2. AdamW from there with C = 1, beta = gamma = 0.5, constants ``AUTHORS_FIT`` (``settings``
       overrides them), keeping the parameters after the step that followed the lowest objective
       seen (as their loop does). Gradients are central finite differences of the objective
       (theirs are torch autograd: the same gradient to ~1e-6 relative).

    ``data``: rows with ``run``, ``step`` and ``target`` columns; ``schedules``: {run: per-step
    LR}; ``warmup_steps``: LD's convention (0: the authors' code, see the module docstring).
    10-20 s on three 24,000-step curves (mostly the 135 start fits). Use the result with
    ``multi_power(lr, **params)`` or ``sl.fit("multi_power", ..., fixed=params)``.
    """
    from itertools import product

    from scipy.optimize import minimize

    cfg = {**AUTHORS_FIT, **settings}
    unknown = set(settings) - set(AUTHORS_FIT)
    if unknown:
        raise ValueError(f"fit_authors_procedure: unknown setting(s) {sorted(unknown)}; known: {sorted(AUTHORS_FIT)}")
    for col in (run, step, target):
        if col not in data.columns:
            raise ValueError(f"fit_authors_procedure: data has no column {col!r}")
    curves = []
    for name, d in data.groupby(run, sort=False):
        if name not in schedules:
            raise ValueError(f"fit_authors_procedure: no schedule for run {name!r} (schedules has "
                             f"{', '.join(map(str, schedules))})")
        lr = _as_schedule(schedules[name], f"schedules[{name!r}]")
        st = d[step].to_numpy(np.int64)
        y = d[target].to_numpy(float)
        if st.min() < 1 or st.max() > len(lr):
            raise ValueError(f"fit_authors_procedure: run {name!r} has steps outside 1..{len(lr)} (its schedule)")
        # merged nodes (the library's fast LD, error < 1e-8 in the sum): the exact sum made the
        # AdamW stage ~10x slower for the same result to the digits that matter
        nodes = LDNodes(*ld_nodes(lr, st, warmup_steps), n_rows=len(st))
        curves.append((y, lr_sum(lr)[st - 1], np.max(lr) - lr[st - 1], nodes))
    lowest = min(c[0].min() for c in curves)
    logS = np.concatenate([np.log(c[1]) for c in curves])
    logy = np.concatenate([np.log(c[0] - lowest + 0.01) for c in curves])
    slope, icpt = np.polyfit(logS, logy, 1)

    def start_objective(p):
        L0, A, alpha, B = p
        total = 0.0
        for y, S, below, _ in curves:
            pred = L0 + A * S ** (-alpha) - B * below
            if np.any(pred <= 0):
                return 1e10
            total += float(_huber(np.log(y) - np.log(pred), delta).sum())
        return total

    best_f, best_x = np.inf, None
    grid = product(np.linspace(lowest - 0.2, lowest + 0.2, 5), np.linspace(np.exp(icpt) - 0.1, np.exp(icpt) + 0.1, 3),
                   np.linspace(-slope - 0.1, -slope + 0.1, 3), np.linspace(100, 1000, 3))
    # one BLAS thread while the 135 small L-BFGS-B fits run: each makes thousands of tiny BLAS calls,
    # which a threaded BLAS makes 10-20x slower on a busy machine (20 small fits: 8.0 s with two
    # BLAS threads, 0.62 s with one, on the shared 2-core CPU)
    with one_blas_thread():
        for p0 in grid:
            res = minimize(start_objective, np.array(p0), method="L-BFGS-B", bounds=[(0, None)] * 4,
                           options={"maxiter": 100000, "ftol": 1e-9, "gtol": 1e-6, "eps": 1e-8})
            if res.fun < best_f:
                best_f, best_x = res.fun, res.x

    def objective(P):  # P (K, 7) -> (K,)
        total = 0.0
        for y, S, _, nodes in curves:
            LD = nodes(P[:, 4:5], P[:, 5:6], P[:, 6:7])
            with np.errstate(all="ignore"):
                pred = P[:, 0:1] + P[:, 1:2] * S[None] ** (-P[:, 2:3]) - P[:, 3:4] * LD
                total = total + _huber(np.log(y)[None] - np.log(np.maximum(pred, 1e-10)), delta).sum(axis=1)
        return total

    p = np.array([*best_x, cfg["C"], cfg["beta"], cfg["gamma"]], dtype=float)
    rate = np.array([cfg["lr_level"], cfg["lr_level"], cfg["lr_exponent"], cfg["lr_level"], cfg["lr_level"],
                     cfg["lr_exponent"], cfg["lr_exponent"]])
    m = np.zeros(7)
    v = np.zeros(7)
    best, kept, lowest_seen, stale = np.inf, p.copy(), np.inf, 0
    for t in range(1, int(cfg["max_steps"]) + 1):
        h = 1e-6 * np.maximum(np.abs(p), 1e-3)
        f = objective(np.vstack([p, p + np.diag(h), p - np.diag(h)]))
        value, g = f[0], (f[1:8] - f[8:15]) / (2 * h)
        if not np.isfinite(value) or not np.all(np.isfinite(g)):
            break
        p = p * (1 - rate * cfg["weight_decay"])  # AdamW: decoupled weight decay
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        p = p - rate * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
        if value < lowest_seen:
            lowest_seen, stale = value, 0
        else:
            stale += 1
        if t - 1 > cfg["patience"] and stale >= cfg["patience"]:
            break
        if np.linalg.norm(g) < cfg["grad_norm"]:
            break
        if value < best:
            best, kept = value, p.copy()
    return {n: float(x) for n, x in zip(_ORDER, kept)}
