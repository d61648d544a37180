"""multi_power's loss-drop sum: the fast evaluation against the naive O(T^2) sum, in one process.

Problem: three 24,000-step schedules as in Luo et al. 2025 (cosine 3e-4 -> 3e-5, constant, and a
two-stage drop at 8,000 steps; linear warm-up 2,160 steps), logged every 128 steps, with the
paper's 25M parameters. Baseline: the plain sum over every earlier step at every logged step
(the authors' released evaluation does this). We time

1. one parameter set: naive vs fast (merged nodes), and the fast sum's largest error in nats;
2. many parameter sets at once (what a Jacobian or a start grid needs): per set, fast batch vs naive;
3. a whole fit (sl.fit with its multi-start search) on the three synthetic curves.

Usage: python benchmarks/bench_multi_power.py [--sets 64]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

import scalelaw as sl
from scalelaw import schedules as S
from scalelaw.laws.multi_power import LDNodes, ld_nodes, loss_drop_naive

PAPER_25M = dict(L0=3.04045406, A=0.52468604, alpha=0.50786857, B=363.78751622, C=2.06560812,
                 beta=0.58279013, gamma=0.64142257)


def schedules(T=24000, peak=3e-4, floor=3e-5, warm=2160):
    two = S.constant(T, peak, warmup=warm)
    two[8000:] = 9e-5
    return {"cosine": S.cosine(T, peak, floor, warmup=warm), "constant": S.constant(T, peak, warmup=warm),
            "wsdcon_9": two}


def main(n_sets):
    sch = schedules()
    steps = np.arange(2176, 24001, 128)
    p = PAPER_25M
    t = time.perf_counter()
    naive = {n: loss_drop_naive(lr, steps, 0, B=p["B"], C=p["C"], beta=p["beta"], gamma=p["gamma"])
             for n, lr in sch.items()}
    t_naive = time.perf_counter() - t
    t = time.perf_counter()
    nodes = {n: LDNodes(*ld_nodes(lr, steps, 0), n_rows=len(steps)) for n, lr in sch.items()}
    t_build = time.perf_counter() - t
    t = time.perf_counter()
    fast = {n: p["B"] * nd(p["C"], p["beta"], p["gamma"])[0] for n, nd in nodes.items()}
    t_fast = time.perf_counter() - t
    err = max(np.abs(fast[n] - naive[n]).max() for n in sch)
    n_nodes = sum(nd.n_nodes for nd in nodes.values())
    print(f"three 24,000-step curves, {len(steps)} logged steps each; {n_nodes} nodes in all")
    print(f"one parameter set: naive {t_naive:.3f} s, fast {t_fast * 1e3:.2f} ms (+ {t_build:.3f} s once to "
          f"build the nodes): {t_naive / t_fast:.0f}x; largest error {err:.2e} nats")
    rng = np.random.default_rng(0)
    C = p["C"] * np.exp(rng.normal(0, 0.3, (n_sets, 1)))
    beta = p["beta"] * np.exp(rng.normal(0, 0.3, (n_sets, 1)))
    gamma = p["gamma"] * np.exp(rng.normal(0, 0.1, (n_sets, 1)))
    t = time.perf_counter()
    for nd in nodes.values():
        nd(C, beta, gamma)
    t_batch = (time.perf_counter() - t) / n_sets
    print(f"{n_sets} parameter sets at once: {t_batch * 1e3:.2f} ms per set; naive {t_naive / t_batch:.0f}x slower")

    # curves from the law itself (fast evaluation of the full law), 0.1% noise
    fit_df = []
    for n, lr in sch.items():
        feats = sl.get_law("multi_power").features_for_prediction({"schedule": lr, "steps": steps}, {}, {})
        loss = sl.get_law("multi_power").evaluate(feats, p)
        fit_df.append(pd.DataFrame({"run": n, "step": steps, "loss": loss * np.exp(rng.normal(0, 1e-3, len(steps)))}))
    df = pd.concat(fit_df, ignore_index=True)
    t = time.perf_counter()
    fit = sl.fit("multi_power", df, schedules=sch, warmup_steps=0)
    t_fit = time.perf_counter() - t
    print(f"sl.fit on the three curves ({len(df)} points, {fit.starts['n_starts']} starts, "
          f"{fit.starts['n_polished']} polished): {t_fit:.1f} s; naive sum for one objective evaluation: "
          f"{t_naive:.2f} s")
    print("fitted:", {k: round(v, 4) for k, v in fit.params.items()})
    return {"speedup_one": t_naive / t_fast, "speedup_batch": t_naive / t_batch, "fit_s": t_fit, "err": err}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", type=int, default=64, help="parameter sets evaluated at once")
    main(ap.parse_args().sets)
