"""Shared by the examples: where the bundled data sets live and where plots go."""

from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"


def parse_args(description: str, default_set: str, extra=()):
    ap = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    for flag, kind, default, text in extra:
        ap.add_argument(flag, type=kind, default=default, help=text)
    ap.add_argument("--data", default=str(DATA / default_set), help="data set folder (run logs + README)")
    ap.add_argument("--out", default="examples_out", help="folder for the HTML plots")
    return ap.parse_args()


def out_path(out_dir, name: str) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return out / name


def print_backtest(label: str, bt) -> None:
    s = bt.summary
    print(f"{label}: held out {bt.holdout}; {s['n_heldout']} points; "
          f"mean |rel err| {s['mean_rel_err']:.4f}, max {s['max_rel_err']:.4f}")
