"""How much leaving fitted runs out widens a schedule law's interval (issue 11, two-run fits).

A schedule law fitted on fewer than 3 runs is calibrated on rolling cuts along its fitted curves
only (no run can be left out), so its interval never measured the error of predicting another
schedule's shape (calibration.SCHEDULE_SHAPE_WARNING). Could a fixed widening stand in for the
missing leave-one-run-out folds? This measures, on fits of 3 runs, the calibrated half-width at
distance 0 with every fold against the same calibration built from the rolling cuts alone
(their ratio is the widening such a rule would apply). It reads only the fitted runs of each set
(Luo et al.'s 25M / 100M curves fitted on constant, cosine and wsdcon_9, as bench_coverage.py;
and data/cpu_schedules fitted on constant + cosine + step), never a held-out point.

Measured (2026-11-29): 0.95-1.02 on Luo's curves and 0.50-0.99 on data/cpu_schedules at 80/90/95%:
the run folds do not widen the interval, so they justify no widening.

Usage: python benchmarks/bench_schedule_loo_width.py
"""
from __future__ import annotations

import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_coverage as B  # noqa: E402

import scalelaw.calibration as C  # noqa: E402

LEVELS = (0.8, 0.9, 0.95)


def rolling_only_calibration(fit):
    """``calibrate_fit`` with the leave-one-run-out folds removed (the rolling cuts kept)."""
    make = C.make_folds
    C.make_folds = lambda names, coords, groups=None, leave_one_level=(): make(
        names, coords, groups=None, leave_one_level=leave_one_level)
    try:
        return C.calibrate_fit(fit)
    finally:
        C.make_folds = make


def main():
    print("set | folds (all / rolling) | half-width ratio all / rolling at d = 0, 80 / 90 / 95%")
    for case in B.iter_cases(["mpl", "cpu_schedules3"]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = case.fit()
            every, rolling = C.calibrate_fit(fit), rolling_only_calibration(fit)
        ratios = [float(every.half_width(0.0, lv) / rolling.half_width(0.0, lv)) for lv in LEVELS]
        print(f"{case.name} | {every.n_folds} / {rolling.n_folds} | " + " / ".join(f"{r:.2f}" for r in ratios))


if __name__ == "__main__":
    main()
