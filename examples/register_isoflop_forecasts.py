"""Register an IsoFLOP ladder's forecasts of its held-out budgets before those budgets finish.

    python examples/register_isoflop_forecasts.py runs/cpu_isoflop_bpe4 examples/sweeps/cpu_isoflop_bpe4.yaml

The complete budgets' final points, plus placeholder profiles (a parabola in log N) at the planned
sizes of the budgets not yet complete, go through the same call as
examples/chinchilla_approaches.py --data (compare_approaches, holdout 1/3, n_boot 100, curves =
the complete runs). The backtest's forecasts and intervals for the held-out budgets depend only on
the fitted budgets; the placeholders only fill the 'truth' column, which is not printed."""
import argparse
import sys
import warnings

# parsed before the imports below, so --help (or a missing argument) answers at once, without
# the fitting stack; before, `--help` ran the script and failed with an IndexError on sys.argv
_parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
_parser.add_argument("folder", help="the ladder's runs folder (logs and index.csv), e.g. runs/cpu_isoflop_bpe4")
_parser.add_argument("spec", help="its sweep spec, e.g. examples/sweeps/cpu_isoflop_bpe4.yaml")
_args = _parser.parse_args()

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
import scalelaw as sl  # noqa: E402
from chinchilla_approaches import ladder_status, own_isoflop  # noqa: E402
from scalelaw.train.sweep import expand  # noqa: E402

folder, spec = _args.folder, _args.spec
files, table, _ = ladder_status(folder, spec)
print(table[["C", "planned", "done", "complete"]].to_string())
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    runs = pd.concat([sl.read_logs(f) for f in files], ignore_index=True)
pts = sl.final_points(runs, split="val")
done_C = set(table.loc[table.complete, "C"])
fake = []
for cfg in expand(spec):
    C = float(cfg.name.split("_C")[1].split("_")[0])
    if C in done_C:
        continue
    fake.append({"C": C, "n_params": cfg.counts()["N"]})
fake = pd.DataFrame(fake)
if len(fake):  # a convex placeholder profile centred in each budget's planned sizes
    centre = fake.groupby("C")["n_params"].transform(lambda n: np.exp(np.log(n).mean()))
    fake["n_tokens"] = fake["C"] / (6 * fake["n_params"])
    fake["loss"] = 3.0 + 0.05 * np.log(fake["n_params"] / centre) ** 2
    fake = fake.drop(columns="C")
allp = pd.concat([pts[["n_params", "n_tokens", "loss"]], fake], ignore_index=True)
print(f"{len(pts)} real points in {len(done_C)} budgets; placeholders: {len(fake)} points")
inputs = {"N": "n_params", "D": "n_tokens"}
for level in (0.8, 0.9, 0.95):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cmp = sl.compare_approaches(allp, inputs=inputs, n_boot=100, curves=runs, curve_columns={"x": "flops"},
                                    holdout=1 / 3, level=level)
    bt = cmp.backtest
    held = sorted(bt["C"].unique())
    print(f"\n== level {level}: recommended {cmp.recommended}; rolling {({k: round(100 * v, 2) for k, v in cmp.rolling.items()})}")
    for name, g in bt.groupby("approach", sort=False):
        cells = [f"C={r.C:.3g}: {r.pred:.4f} [{r.lo:.4f}, {r.hi:.4f}]" for r in g.itertuples()]
        print(f"  {name:32s} " + "; ".join(cells))
    _, p, _ = own_isoflop(cmp, n_boot=100)  # Approach 2's own predict, as chinchilla_approaches reports it
    print("  Approach 2's own predict: " + "; ".join(
        f"C={c:.3g}: {p['loss'][j]:.4f} [{p['loss_lo'][j]:.4f}, {p['loss_hi'][j]:.4f}]" for j, c in enumerate(held)))
