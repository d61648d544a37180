"""Chinchilla's Approach 1: the lower envelope of training curves, and power laws through it.

Hoffmann et al. 2022 (Section 3.1) train each model size with several schedule lengths and take,
at every compute C, the run with the lowest loss: that run's size is N_opt(C) and its tokens
D_opt(C); power laws N_opt = k C^a and D_opt = C^b / (6 k) are fitted through the envelope.
Henighan et al. 2020 fit L(C) = L_inf + (C0 / C)^alpha_C to the same envelope.

The envelope here is :func:`scalelaw.frontier` (``convex=False``: every logged row no row of
smaller compute beats), restricted to compute at or above the end of the shortest run (``min_x``):
before any run has ended, the envelope is made of mid-schedule checkpoints whose learning rate had
not decayed, which Hoffmann's several schedule lengths per size are there to avoid. Uncertainty:
a bootstrap over whole runs (a run's points are not independent).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scalelaw.fitting.data import as_frame
from scalelaw.isoflops import IsoflopResult, _fit_power_laws, ratio_knots
from scalelaw.points import below_all_before, frontier

__all__ = ["envelope"]


def _front(frame, x, y, n, d):
    """The envelope rows: C, N_opt, D_opt, loss_opt, run."""
    f = frontier(frame, x=x, y=y, convex=False)
    out = pd.DataFrame({"C": f[x].to_numpy(float), "N_opt": f[n].to_numpy(float),
                        "loss_opt": f[y].to_numpy(float)})
    out["D_opt"] = f[d].to_numpy(float) if d in f.columns else out["C"] / (6 * out["N_opt"])
    if "run" in f.columns:
        out["run"] = f["run"].to_numpy()
    return out


def envelope(curves, x: str = "flops", y: str = "loss", *, n: str = "n_params", d: str = "n_tokens",
             split: str | None = "val", min_x: float | None = None, loss_law: str = "power_law",
             n_boot: int = 200, level: float = 0.9, seed: int = 0) -> IsoflopResult:
    """Approach 1 of Hoffmann et al. 2022 in one call.

    Parameters
    ----------
    curves : DataFrame
        Training curves in the tidy schema (``run``, ``step``, ``split``, ``loss``, ``n_params``,
        ``flops``...), or a table of final points (each row its own run).
    x, y, n, d : str
        Columns of compute (FLOPs; when the default ``"flops"`` is absent, 6 * n * d is used; another
        name that is absent is an error), loss, parameters, tokens.
    split : str or None
        Keep rows of this split when there is a ``split`` column (default ``"val"``).
    min_x : float, optional
        Smallest compute of the envelope; default the end of the shortest run (see module doc).
    loss_law : {"power_law", "power"}
        The form of L_opt(C).
    n_boot : int
        Bootstrap resamples of whole runs (0: none).

    Returns
    -------
    IsoflopResult with ``approach == 1``; ``optima`` holds the envelope's rows.
    """
    if loss_law not in ("power_law", "power"):
        raise ValueError(f"envelope: loss_law must be 'power_law' or 'power', got {loss_law!r}")
    if int(n_boot) != n_boot or n_boot < 0 or n_boot == 1:
        raise ValueError(f"envelope: n_boot must be 0 or an integer >= 2, got {n_boot!r}")
    frame = as_frame(curves, "curves").copy()
    warnings: list[str] = []
    if split is not None and "split" in frame.columns:
        if not (frame["split"] == split).any():
            raise ValueError(f"envelope: no rows with split == {split!r}; splits are "
                             f"{sorted(map(str, frame['split'].unique()))} (pass split=None to use all)")
        frame = frame[frame["split"] == split]
    for col, role in ((y, "loss"), (n, "parameters")):
        if col not in frame.columns:
            raise KeyError(f"envelope: column {col!r} ({role}) not found; columns are: "
                           f"{', '.join(map(str, frame.columns))}")
    if x not in frame.columns and x != "flops":
        # a compute column named by the caller (not the default) that is not there is a typo or the
        # wrong table: replacing it by 6 N D, said only inside the result, was a silent substitution
        raise KeyError(f"envelope: column {x!r} (compute, x=) not found; columns are: "
                       f"{', '.join(map(str, frame.columns))} (leave x at 'flops' to use 6 * {n} * {d} "
                       "when the data have no compute column)")
    if x not in frame.columns:
        if d not in frame.columns:
            raise KeyError(f"envelope: column {x!r} (compute) not found, nor {d!r} (tokens) to make "
                           f"C = 6 N D; columns are: {', '.join(map(str, frame.columns))}")
        frame[x] = 6.0 * frame[n].astype(float) * frame[d].astype(float)
        warnings.append(f"compute {x!r} not in the data: used C = 6 * {n} * {d}")
    if "run" not in frame.columns:
        frame["run"] = np.arange(len(frame)).astype(str)
    bad = ~(np.isfinite(frame[x].astype(float)) & (frame[x].astype(float) > 0)
            & np.isfinite(frame[y].astype(float)) & (frame[y].astype(float) > 0))
    if bad.any():
        warnings.append(f"{int(bad.sum())} row(s) with compute or loss <= 0 or missing (e.g. step 0) "
                        "left out of the envelope")
        frame = frame[~bad]
    ends = frame.groupby("run")[x].max()
    if len(ends) < 2:
        raise ValueError(f"envelope: {len(ends)} run(s); the envelope needs curves of several sizes")
    lo = float(ends.min()) if min_x is None else float(min_x)
    sub = frame[frame[x] >= lo]
    if len(sub) < len(frame):
        warnings.append(f"{len(frame) - len(sub)} row(s) below C={lo:.3g} (the end of the shortest run) "
                        "left out: mid-schedule checkpoints are not compute-optimal")
    front = _front(sub, x, y, n, d)
    if len(front) < 3:
        raise ValueError(f"envelope: {len(front)} envelope point(s) above C={lo:.3g}; need 3+")
    if front["N_opt"].nunique() < 2:
        warnings.append("the envelope is made of one model size only: N_opt(C) is not identified")

    runs = sub["run"].unique()
    rng = np.random.default_rng(seed)
    Cs, Ns, Ls = [front["C"].to_numpy()], [front["N_opt"].to_numpy()], [front["loss_opt"].to_numpy()]
    n_draw = int(n_boot)
    if n_draw and len(runs) < 5:
        warnings.append(f"bootstrap over {len(runs)} runs (< 5): intervals are rough")
    codes = pd.factorize(sub["run"])[0]
    order = np.lexsort((sub[y].to_numpy(float), sub[x].to_numpy(float)))
    xs, ys = sub[x].to_numpy(float)[order], sub[y].to_numpy(float)[order]
    ns, cs = sub[n].to_numpy(float)[order], codes[order]
    for _ in range(n_draw):
        # a resample of whole runs; a run drawn twice adds nothing to a lower envelope, so the
        # envelope of the draw is the one of the distinct runs drawn (same Pareto rule as frontier)
        drawn = np.zeros(len(runs), dtype=bool)
        drawn[rng.integers(0, len(runs), size=len(runs))] = True
        keep = drawn[cs]
        xk, yk, nk = xs[keep], ys[keep], ns[keep]
        on = below_all_before(yk)
        Cs.append(xk[on])
        Ns.append(nk[on])
        Ls.append(yk[on])
    m = max(len(c) for c in Cs)

    def pad(arrs):
        return np.stack([np.concatenate([a, np.full(m - len(a), np.nan)]) for a in arrs])

    params, draws = _fit_power_laws(pad(Cs), pad(Ns), pad(Ls), loss_law, warnings)
    front["used"] = True
    # tokens per unit of compute: when the compute column is not 6 N D (our trainer's `flops`
    # counts attention, `flops_with_head` the LM head too), D_opt(C) = C / (6 N r(N)) with
    # r = compute / (6 N D) per size, as isoflop(counted=) does; else predict's D would overstate
    # the tokens a budget buys by r (up to 5x for the smallest BPE models)
    tokens_ratio = None
    if d in sub.columns:
        r = sub[x].to_numpy(float) / (6.0 * sub[n].to_numpy(float) * sub[d].to_numpy(float))
        ok = np.isfinite(r) & (r > 0)
        if ok.any() and np.max(np.abs(np.log(r[ok]))) > 1e-3:
            ln_n, ln_r = ratio_knots(sub[n].to_numpy(float)[ok], r[ok])
            tokens_ratio = {"column": x, "ln_N": ln_n.tolist(), "ln_r": ln_r.tolist()}
    pts = pd.DataFrame({"N": sub[n].to_numpy(float), "C": sub[x].to_numpy(float),
                        "loss": sub[y].to_numpy(float), "run": sub["run"].astype(str).to_numpy()})
    return IsoflopResult(approach=1, profile="envelope", inputs={"N": n, "C": x}, target=y,
                         loss_law=loss_law, points=pts, optima=front, params=params, draws=draws,
                         warnings=warnings, level=level,
                         options={"min_x": lo, "split": split, "n_boot": n_draw, "seed": seed,
                                  "tokens_ratio": tokens_ratio})
