"""Study: candidates for the polish's crawl along a collapsing floor, compared on 14 fits (see
benchmarks/bench_polish_stall.py for the decision rule and outcome).

old: every floor in log space (the polish before); new: the landed polish (floor in value space);
stall: old + stop when the relative gain over the last 20 L-BFGS-B iterations is < 1e-10;
pin: the floor pinned at 0 and the rest polished, kept if dF/dfloor >= 0 there (else old).
Prints per fit each candidate's summed L-BFGS-B evaluations, wall time and (objective - old) / old.

Usage (repo root): PYTHONPATH=. python benchmarks/study_polish_candidates.py [old,new,stall,pin] [label part]
"""
import sys, time, warnings
import numpy as np, pandas as pd
import scalelaw as sl
from scalelaw.fitting import solver, search
from scipy.optimize import minimize
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1] / "tests"))
new_polish = solver.polish_lbfgsb
COUNT = []
def old(pred_fn, theta, y, w, loss, delta, lo, hi, *, ftol=1e-15, gtol=1e-12, floor_cols=()):
    x, f, r = new_polish(pred_fn, theta, y, w, loss, delta, lo, hi, ftol=ftol, gtol=gtol, floor_cols=())
    COUNT.append(r.nfev); return x, f, r
def new(*a, **k):
    x, f, r = new_polish(*a, **k); COUNT.append(r.nfev); return x, f, r
def stall(pred_fn, theta, y, w, loss, delta, lo, hi, *, ftol=1e-15, gtol=1e-12, floor_cols=(), k=20, tol=1e-10):
    # old polish + stop when the relative gain over the last k iterations < tol
    hist = []
    orig_min = solver_min[0]
    def mm(fun, x0, **kw):
        def cb(intermediate_result):
            hist.append(intermediate_result.fun)
            if len(hist) > k and (hist[-k - 1] - hist[-1]) <= tol * abs(hist[-1]):
                raise StopIteration
        return orig_min(fun, x0, callback=cb, **kw)
    import scipy.optimize as so
    so.minimize = mm
    try:
        x, f, r = new_polish(pred_fn, theta, y, w, loss, delta, lo, hi, ftol=ftol, gtol=gtol, floor_cols=())
    finally:
        so.minimize = orig_min
    COUNT.append(r.nfev); return x, f, r
import scipy.optimize as so
solver_min = [so.minimize]
def pin(pred_fn, theta, y, w, loss, delta, lo, hi, *, ftol=1e-15, gtol=1e-12, floor_cols=()):
    cols = [j for j in floor_cols if not np.isfinite(lo[j])]
    if not cols:
        return old(pred_fn, theta, y, w, loss, delta, lo, hi, ftol=ftol, gtol=gtol)
    j = cols[0]; keep = [i for i in range(len(theta)) if i != j]
    def full(T):
        T = np.atleast_2d(T); F = np.empty((len(T), len(theta))); F[:, keep] = T; F[:, j] = -np.inf; return F
    pf = lambda T: pred_fn(full(T))
    if getattr(pred_fn, "distinct", None) is not None:
        on, inv, m = pred_fn.distinct; pf.distinct = (lambda T: on(full(T)), inv, m)
    x2, f2, r2 = new_polish(pf, theta[keep], y, w, loss, delta, lo[keep], hi[keep], ftol=ftol, gtol=gtol)
    # KKT at value 0: dF/dvalue >= 0 (value-space derivative by forward difference)
    from scalelaw.fitting.objective import objective
    th = full(x2)[0]; scale = np.max(np.abs(y)) * 1e-7
    th2 = th.copy(); th2[j] = np.log(scale)
    f_plus = objective(pred_fn(th2[None]), y, w, loss, delta)[0]
    n = r2.nfev
    if f_plus >= f2:
        th[j] = np.log(1e-30 * np.max(np.abs(y)))
        COUNT.append(n + 1); return th, float(objective(pred_fn(th[None]), y, w, loss, delta)[0]), r2
    x, f, r = new_polish(pred_fn, theta, y, w, loss, delta, lo, hi, ftol=ftol, gtol=gtol)
    COUNT.append(n + 1 + r.nfev); return x, f, r

CANDS = {"old": old, "new": new, "stall": stall, "pin": pin}

def fits():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logs = sl.read_logs("data/cpu_schedules")
    out = []
    for split in ("val", "train"):
        L = logs[(logs["split"] == split) & (logs["step"] >= 101)]
        for size in ("d2-32", "d4-64"):
            for kinds in (("constant", "cosine"), ("constant", "cosine", "step")):
                d = L[L["run"].str.startswith(f"sch_{size}_") & L["run"].str.split("_").str[-2].isin(kinds)]
                lrs = {r: sl.schedules.from_spec(g["schedule"].iloc[0]) for r, g in d.groupby("run")}
                if split == "val" or kinds == ("constant", "cosine"):
                    out.append((f"multi_power {split} {size} {'+'.join(kinds)}", lambda d=d, lrs=lrs: sl.fit("multi_power", d, schedules=lrs)))
                if split == "val":
                    out.append((f"multi_power free {size} {'+'.join(kinds)}", lambda d=d, lrs=lrs: sl.fit("multi_power", d, schedules=lrs, fixed={"beta": None, "gamma": None})))
                    if kinds == ("constant", "cosine"):
                        warm = 100
                        out.append((f"lr_annealing {size} {'+'.join(kinds)}", lambda d=d, lrs=lrs: sl.fit("lr_annealing", d, schedules=lrs, warmup_steps=warm)))
    from pathlib import Path
    V = Path(__file__).resolve().parents[2] / "shared" / "validation"
    if V.exists():
        from test_validation_data import epoch_points
        df = epoch_points(V)
        out.append(("chinchilla Epoch", lambda: sl.fit("chinchilla", df, inputs={"N": "Model Size", "D": "n_tokens"}, target="loss")))
    X = np.geomspace(1e15, 1e19, 12)
    from conftest import noisy
    y0 = noisy((1e13 / X) ** 0.1, np.random.default_rng(0), 0.002)
    y1 = noisy(1.7 + (1e13 / X) ** 0.3, np.random.default_rng(1), 0.002)
    out.append(("power_law no floor", lambda: sl.fit("power_law", pd.DataFrame({"flops": X, "loss": y0}), inputs={"x": "flops"}, target="loss")))
    out.append(("power_law floor 1.7", lambda: sl.fit("power_law", pd.DataFrame({"flops": X, "loss": y1}), inputs={"x": "flops"}, target="loss")))
    return out

if __name__ == "__main__":
    names = sys.argv[1].split(",") if len(sys.argv) > 1 else list(CANDS)
    only = sys.argv[2] if len(sys.argv) > 2 else ""  # run only fits whose label contains this
    for label, f in fits():
        if only not in label:
            continue
        row = {}
        for c in names:
            solver.polish_lbfgsb = CANDS[c]
            COUNT.clear()
            t = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = f()
            row[c] = (fit.objective, sum(COUNT), time.perf_counter() - t, fit.params[[p.name for p in fit.law.params if p.floor][0]])
        base = row["old"][0]
        print(f"{label:<42} " + " | ".join(f"{c}: nfev {n:5d} {t:5.1f}s rel {(o - base) / base:+.2e} floor {fl:.3g}" for c, (o, n, t, fl) in row.items()), flush=True)
