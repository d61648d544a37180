"""Nominal C = 6ND or counted compute (LM head included) for a trainer-made IsoFLOP ladder?
(issue 18; Porian et al. 2024, arXiv:2406.19146; Pearce & Song 2024, arXiv:2406.12907).

Synthetic ladders with the geometry of ``data/cpu_isoflop_bpe`` (its runs' N, D and counted
compute; 2 layers, n_ctx 128, vocab 1024) in two worlds:

- ``nominal``: L = E + A / N^alpha + B / D^beta, N non-embedding. The nominal budgets' minima
  then lie exactly on a power law plus constant in C = 6ND; counted compute only relabels C.
- ``with head``: L = E + A / (N + vocab d_model)^alpha + B / D^beta: the tied embedding / head
  counts as parameters (Pearce & Song 2024). Counted compute ~ 6 (N + vocab d) D is then
  Chinchilla's compute in that N, and the nominal budgets' minima bend in C = 6ND.

Each world's parameters are fitted (chinchilla, Huber) to the real ladder's 4 smaller budgets
only. Runs get 0.3% log-normal noise. For each seed, ``sl.isoflop`` (parabola, 30 bootstrap
draws, inverse-variance weights: the library's path) is fitted to the 4 smaller budgets in each
axis and predicts the 2 largest budgets' own minima; the rolling backtest inside the fitted
budgets (fit 3, predict the 4th, as ``compare_approaches`` does) is scored too, to see whether
choosing the axis by it picks the axis that wins on the held-out budgets.

Run from the repo root (a few minutes on a busy 2-core machine):

    python benchmarks/study_counted_compute.py [--seeds 20]

Measured 2026-11-29 on the 6-budget ladder (20 seeds, 0.3% noise, 30 draws; 7.5 min), mean |err|
at the 2 held-out budgets: world "nominal" 0.73% nominal vs 0.96% counted (counted better in 20%
of seeds); world "with head" 0.79% vs 1.03% (15%). The rolling backtest picked counted in 45% of
seeds and the held-out winner in 50-55%: choosing the axis by it gave 0.87% / 0.92%, worse than
always nominal. Without noise (``--seeds 1 --noise 0 --boot 0``) counted is still worse (0.52% vs
0.32%, 0.61% vs 0.39%): placing each nominal budget's minimum at C_nominal r(N_opt) is not the
counted-compute frontier (the minimum of a nominal profile is not the minimum at fixed counted
compute), so the gap is systematic, not noise. Hence ``counted=`` is an option, not the default.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import scalelaw as sl

ROOT = Path(__file__).resolve().parents[1]
VOCAB = 1024


def ladder():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        runs = sl.read_logs(ROOT / "data" / "cpu_isoflop_bpe")
    pts = sl.final_points(runs, split="val")
    pts = pts[pts["run"].str.contains("_C")].copy()
    pts["C"] = 6 * pts["n_params"] * pts["n_tokens"]
    iso = sl.isoflop(pts, inputs={"N": "n_params", "C": "C"}, n_boot=0)
    pts["budget"] = iso.points["budget"].to_numpy()
    pts["d_model"] = [int(r.split("d_model")[1].split("_")[0]) for r in pts["run"]]
    return pts, np.sort(iso.optima["C"].to_numpy())[:6]


def world_params(pts, budgets, world):
    fit_pts = pts[pts["budget"] < budgets[4] * 0.99]
    N = fit_pts["n_params"] + (VOCAB * fit_pts["d_model"] if world == "with head" else 0)
    f = sl.fit("chinchilla", pd.DataFrame({"N": N, "D": fit_pts["n_tokens"], "loss": fit_pts["loss"]}),
               inputs={"N": "N", "D": "D"}, target="loss")
    return f.params


def simulate(pts, params, world, rng, noise):
    N = pts["n_params"].to_numpy(float) + (VOCAB * pts["d_model"].to_numpy(float) if world == "with head" else 0)
    D = pts["n_tokens"].to_numpy(float)
    L = params["E"] + params["A"] / N ** params["alpha"] + params["B"] / D ** params["beta"]
    return L * np.exp(noise * rng.standard_normal(len(L)))


def one(pts, budgets, loss, counted, n_boot, seed):
    df = pd.DataFrame({"N": pts["n_params"].to_numpy(float), "C": pts["C"].to_numpy(float),
                       "Cc": pts["flops_with_head"].to_numpy(float), "loss": loss})
    kw = {"inputs": {"N": "N", "C": "C"}, "counted": "Cc" if counted else None, "seed": seed}
    full = sl.isoflop(df, n_boot=0, **kw)
    col = "C_counted" if counted else "C"
    truth = full.optima
    out = {}
    for n_fit, key in ((4, "held"), (3, "rolling")):
        fit_df = df[df["C"] < budgets[n_fit] * 0.99]
        target = budgets[n_fit:6] if key == "held" else budgets[3:4]
        iso = sl.isoflop(fit_df, n_boot=n_boot, **kw)
        rows = truth.iloc[[int(np.argmin(np.abs(np.log(truth["C"].to_numpy() / b)))) for b in target]]
        pred = iso.predict(rows[col].to_numpy(float), kind="parameter")["loss"]
        out[key] = pred / rows["loss_opt"].to_numpy(float) - 1
    return out


def main(seeds, noise, n_boot):
    pts, budgets = ladder()
    print(f"ladder: {len(pts)} runs, budgets {[f'{b:.2g}' for b in budgets]}; noise {noise:.1%}, "
          f"{n_boot} bootstrap draws, {seeds} seeds")
    for world in ("nominal", "with head"):
        params = world_params(pts, budgets, world)
        print(f"\n== world '{world}': " + ", ".join(f"{k}={v:.4g}" for k, v in params.items()))
        res = {False: [], True: []}
        for s in range(seeds):
            rng = np.random.default_rng(s)
            loss = simulate(pts, params, world, rng, noise)
            for counted in (False, True):
                res[counted].append(one(pts, budgets, loss, counted, n_boot, s))
        for counted in (False, True):
            held = np.array([r["held"] for r in res[counted]])
            roll = np.array([r["rolling"] for r in res[counted]]).ravel()
            print(f"  {'counted' if counted else 'nominal'}: held-out err mean {100 * held.mean(0)} %, "
                  f"mean |err| {100 * np.abs(held).mean():.2f}%, max |err| {100 * np.abs(held).max():.2f}%; "
                  f"rolling (fit 3, predict the 4th) mean |err| {100 * np.abs(roll).mean():.2f}%")
        held_n = np.array([np.abs(r["held"]).mean() for r in res[False]])
        held_c = np.array([np.abs(r["held"]).mean() for r in res[True]])
        roll_n = np.array([np.abs(r["rolling"]).mean() for r in res[False]])
        roll_c = np.array([np.abs(r["rolling"]).mean() for r in res[True]])
        pick_c = roll_c < roll_n
        chosen = np.where(pick_c, held_c, held_n)
        print(f"  counted better on the held-out budgets in {np.mean(held_c < held_n):.0%} of seeds; the rolling "
              f"backtest picks counted in {pick_c.mean():.0%}, and picks the held-out winner in "
              f"{np.mean(pick_c == (held_c < held_n)):.0%}; choosing by it: mean |err| {100 * chosen.mean():.2f}% "
              f"(nominal always {100 * held_n.mean():.2f}%, counted always {100 * held_c.mean():.2f}%)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--noise", type=float, default=0.003)
    ap.add_argument("--boot", type=int, default=30)
    a = ap.parse_args()
    main(a.seeds, a.noise, a.boot)
