"""The evidence behind ``compare_approaches``' fallback with fewer than 4 fitted budgets
(``scalelaw/approaches.py``: ``FALLBACK``): a synthetic study, Approach 2 vs 3 (all points) vs 3
near each budget's optimum, each fitted on 3 budgets and predicting the optimum loss of the next 2,
on a law of known form L = E + ((A/N^alpha)^(1/g) + (B/D^beta)^(1/g))^g
(g = 1: Chinchilla's additive form; g != 1: the form the fits assume is wrong away from the
valley; g < 0: the additive law plus a short-run penalty), known noise, budgets 2x apart, 6 sizes
per budget with random off-centre windows. Run from the repo root (about 2.5 minutes):

    python benchmarks/study_isoflop_fallback.py [REPS=6] [BUDGETS=3] [G=1.0,0.7,1.4]

Measured 2026-11-29 (6 replicates per cell, g in 0.7/1.0/1.4, tau 0/0.005; mean / max error):
Approach 2 1.55% / 6.75%, chinchilla on all points 0.92% / 4.58%, near-optimum 1.03% / 4.62%;
with the short-run penalty (g = -1) 1.34% / 3.05%, 0.66% / 1.32%, 1.17% / 2.43%. Both parametric
fits beat Approach 2 with 3 budgets; between the two, Epoch's rolling backtests on 3 budgets
(near-optimum 0.74% / 0.59% mean against 0.39% / 3.34% for all points) chose near-optimum.
"""
import sys, time, warnings
import numpy as np, pandas as pd
import scalelaw as sl
from scalelaw.approaches import _fit_one, _predict_one
warnings.simplefilter("ignore")
E, A, ALPHA, B, BETA = 1.69, 406.4, 0.34, 410.7, 0.28

def loss(N, C, g):
    # g < 0: the additive law (g = 1) plus a short-run penalty for models trained on few tokens
    # per parameter (not converged, warm-up a large part of the run): 0.1 exp(-(D/N)/2)
    D = C / (6 * N)
    if g < 0:
        return E + A / N**ALPHA + B / D**BETA + 0.1 * np.exp(-(D / N) / 2)
    a, b = A / N**ALPHA, B / D**BETA
    return E + (a ** (1 / g) + b ** (1 / g)) ** g

def l_opt(C, g):
    N = np.geomspace(1e5, 1e13, 200001)
    return np.array([loss(N, c, g).min() for c in np.atleast_1d(C)])

def n_opt(C, g):
    N = np.geomspace(1e5, 1e13, 200001)
    return np.array([N[np.argmin(loss(N, c, g))] for c in np.atleast_1d(C)])

def make(rng, m, g, sig, tau, n_sizes=6, step=1.8, shift=0.6, C0=1e18):
    rows = []
    Cs = C0 * 2.0 ** np.arange(m)
    No = n_opt(Cs, g)
    for C, n0 in zip(Cs, No):
        off = tau * rng.standard_normal()
        Ns = n0 * np.exp(rng.uniform(-shift, shift)) * step ** (np.arange(n_sizes) - (n_sizes - 1) / 2)
        for N in Ns:
            rows.append({"N": N, "C": C, "loss": loss(N, C, g) * np.exp(off + sig * rng.standard_normal())})
    return pd.DataFrame(rows), C0 * 2.0 ** np.arange(m, m + 2)

GS = (1.0, 0.7, 1.4)

def main():
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 6
    ms = [int(x) for x in sys.argv[2].split(",")] if len(sys.argv) > 2 else [3]
    opts = {"budgets": None, "tol": 0.05, "profile": "parabola", "near": 3.0}
    names = ("2 isoflop", "3 chinchilla", "3 near-optimum")
    out, t0 = [], time.time()
    for g in GS:
        for sig, tau in ((0.005, 0.0), (0.005, 0.005)):
            for m in ms:
                for r in range(reps):
                    rng = np.random.default_rng(100 * r + int(10 * abs(g)) + int(1e4 * tau) + m)
                    df, held = make(rng, m, g, sig, tau)
                    iso = sl.isoflop(df, inputs={"N": "N", "C": "C"}, n_boot=0)
                    pts = iso.points
                    truth = l_opt(held, g)
                    for name in names:
                        try:
                            obj = _fit_one(name, pts, None, opts, 30 if name == "2 isoflop" else 0, r)
                            e = _predict_one(obj, held, 0.9)["loss"] / truth - 1
                        except Exception as err:
                            e = [np.nan, np.nan]
                        for j, ej in enumerate(e):
                            out.append(dict(g=g, sig=sig, tau=tau, m=m, rep=r, approach=name, h=j, err=abs(ej)))
    print(f"{time.time()-t0:.0f}s")
    d = pd.DataFrame(out)
    def summ(gb):
        return pd.DataFrame({"mean%": 100 * gb.mean(), "max%": 100 * gb.max(), "within2%": gb.apply(lambda e: (e < 0.02).mean())})
    print(summ(d.groupby(["g", "tau", "m", "approach"])["err"]).unstack("approach").round(2).to_string())
    print(summ(d.groupby(["approach"])["err"]).round(3))

if __name__ == "__main__":
    if len(sys.argv) > 3:
        GS = tuple(float(x) for x in sys.argv[3].split(","))
    main()
