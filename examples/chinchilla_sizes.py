"""Model size x data: Chinchilla, Kaplan and Henighan's L(C) on our decoder sweep.

Loads a decoder-size sweep (one run per (N, D), each with a cosine schedule ending at D), takes
each run's final validation loss (Hoffmann et al.'s points), fits ``chinchilla`` and
``kaplan_nd`` on the smaller two thirds of model sizes and predicts the largest third (a
backtest), fits ``power_law`` to the compute-efficient frontier L(C) (Henighan et al.), and
writes the plots. Run from the repo root:

    python examples/chinchilla_sizes.py [--data data/cpu_decoder_sizes] [--out examples_out] [--min-tokens 3.9e6]

Small byte-level models sit on a loss plateau for their first few hundred steps, and leave it
at a size-dependent step (see data/cpu_decoder_sizes/README.md): the shortest runs are still
paying for it, an interaction of N and D that Chinchilla's additive form does not have. The
backtests are printed for all runs and for runs with at least ``--min-tokens`` tokens.
"""

from __future__ import annotations

import warnings

import scalelaw as sl
from _common import out_path, parse_args, print_backtest

INPUTS = {"N": "n_params", "D": "n_tokens"}


def in_sample(fit) -> dict:
    """The fit's error on its own points: a misfit here is the form's, not extrapolation's."""
    table = fit.predict_frame(fit.table)
    err = (table["pred"] / table[fit.target] - 1).abs()
    return {"mean_rel_err": float(err.mean()), "max_rel_err": float(err.max()), "n": int(len(err))}


def main(data, out, min_tokens=3.9e6):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # read_logs reports the README/index it skips
        df = sl.read_logs(data)
    points = sl.final_points(df, split="val")
    print(f"{len(points)} runs, {points['n_params'].nunique()} sizes "
          f"({points['n_params'].min():,.0f}-{points['n_params'].max():,.0f} non-embedding parameters), "
          f"{points['n_tokens'].nunique()} token budgets")
    results = {}
    for law in ("chinchilla", "kaplan_nd"):
        bt = sl.backtest(law, points, inputs=INPUTS, target="loss", holdout=("N", 1 / 3))
        print_backtest(f"{law}, all runs", bt)
        inside = in_sample(bt.fit)
        print(f"{law}, in-sample on the fitted sizes: {inside['n']} points; "
              f"mean |rel err| {inside['mean_rel_err']:.4f}, max {inside['max_rel_err']:.4f}")
        long_runs = points[points["n_tokens"] >= min_tokens]
        bt_long = sl.backtest(law, long_runs, inputs=INPUTS, target="loss", holdout=("N", 1 / 3))
        print_backtest(f"{law}, runs with D >= {min_tokens:g}", bt_long)
        results[law] = {"all": bt.summary, "long": bt_long.summary, "in_sample": inside}
    fit = sl.fit("chinchilla", points, inputs=INPUTS, target="loss").bootstrap(n=500, seed=0)
    print(fit.report())
    budget = 100 * float((6 * points["n_params"] * points["n_tokens"]).max())
    opt = fit.optimum(C=budget)
    print(f"compute-optimal at C={budget:.3g} FLOPs: N={opt['N']:.3g}, D={opt['D']:.3g}, loss {opt['loss']:.4f}")

    val = df[df["split"] == "val"]
    front = sl.frontier(val[val["step"] > 0], x="flops", y="loss")
    bt_c = sl.backtest("power_law", front, inputs={"x": "flops"}, target="loss", holdout=("x", 1 / 3))
    print_backtest("power_law L(C) on the frontier", bt_c)
    results["power_law"] = bt_c.summary

    from scalelaw.plot import plot_fit

    plot_fit(fit, extend_to=points["n_params"].max() * 10).write_html(out_path(out, "chinchilla.html"))
    plot_fit(sl.fit("power_law", front, inputs={"x": "flops"})).write_html(out_path(out, "power_law_frontier.html"))
    print(f"plots in {out}/")
    return results


if __name__ == "__main__":
    args = parse_args(__doc__, "cpu_decoder_sizes",
                      extra=[("--min-tokens", float, 3.9e6, "second backtest: runs with at least this many tokens")])
    main(args.data, args.out, min_tokens=args.min_tokens)
