"""Continual pre-training mixtures: the D-CPT law (Que et al. 2024) on our CPT sweep.

Loads base models continually pre-trained on general text mixed with a domain corpus at several
ratios r. For each domain, fits ``dcpt`` to the domain validation loss and (with
``side="general"``) to the general validation loss, checks both on a held-out mixture ratio, and
finds the largest r whose general loss stays within 3% of the base model's (Que et al.'s worked
example). Then fits the cross-domain form ``dcpt_cross`` over all domains at once.
Run from the repo root:

    python examples/dcpt_mixture.py [--data data/cpu_dcpt] [--out examples_out]
"""

from __future__ import annotations

import warnings

import scalelaw as sl
from _common import out_path, parse_args, print_backtest

INPUTS = {"N": "n_params", "D": "n_tokens", "r": "mix_ratio"}
HELD_OUT_R = 0.5


def main(data, out):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = sl.read_logs(data)
    results = {}
    held = lambda d: (d["mix_ratio"] == HELD_OUT_R) & (d["n_tokens"] > 0)  # noqa: E731
    fits = {}
    for domain in sorted(df["domain"].dropna().unique()):
        runs = df[df["domain"] == domain]
        dom_rows = runs[runs["split"] == f"val_{domain}"]
        gen_rows = runs[runs["split"] == "val_general"]
        dom_bt = sl.backtest("dcpt", dom_rows[dom_rows["n_tokens"] > 0], inputs=INPUTS, holdout=held)
        gen_bt = sl.backtest("dcpt", gen_rows, inputs=INPUTS, holdout=held, side="general")
        print_backtest(f"{domain}: domain loss", dom_bt)
        print_backtest(f"{domain}: general loss", gen_bt)
        dom = sl.fit("dcpt", dom_rows[dom_rows["n_tokens"] > 0], inputs=INPUTS)
        gen = sl.fit("dcpt", gen_rows, inputs=INPUTS, side="general")
        N, D = float(runs["n_params"].max()), float(runs["n_tokens"].max())
        opt = sl.mixture_optimum(dom, gen, N=N, D=D, max_general_increase=0.03)
        print(f"  largest r keeping general loss within 3% of the base model's at N={N:.3g}, D={D:.3g}: "
              f"r={opt['r']:.3f} (domain loss {opt['domain_loss']:.4f}, general {opt['general_loss']:.4f}, "
              f"baseline {opt['general_baseline']:.4f})")
        results[domain] = {"domain": dom_bt.summary, "general": gen_bt.summary, "optimum": opt}
        fits[domain] = (dom, gen)

    dom_all = df[df["split"] == "val_" + df["domain"].astype(str)]
    cross_bt = sl.backtest("dcpt_cross", dom_all, inputs={**INPUTS, "domain": "domain"}, holdout=held,
                           domain_features=sl.domain_features(dom_all))
    print_backtest("dcpt_cross (all domains)", cross_bt)
    results["cross"] = cross_bt.summary

    from scalelaw.plot import plot_fit

    first = sorted(fits)[0]
    plot_fit(fits[first][0]).write_html(out_path(out, f"dcpt_{first}.html"))
    print(f"plots in {out}/")
    return results


if __name__ == "__main__":
    args = parse_args(__doc__, "cpu_dcpt")
    main(args.data, args.out)
