"""One screen from a GPU check: each GPU test, tokens/s and MFU per size, stacked-vs-single
ratios, against the trainer's speed goals (issue 5), ending in one verdict line.

Reads what ``benchmarks/gpu_session.sh check`` writes under ``$OUT``: the GPU tests' JUnit XML
(``pytest --junitxml``) and the JSON of ``bench_train.py --json`` (any number of them). Needs
neither torch nor a GPU, so it is tested on the CPU with recorded numbers.

Goals (on an H100-class GPU):

- MFU >= 40% for the ~85M-parameter decoder (d12-768) at T = 1024, compiled;
- a stack of same-shape runs >= 3x the aggregate tokens/s of the same runs one after another
  for runs of <= 1M parameters, >= 2x for 3-5M (steady state, both compiled).

Usage::

    python benchmarks/gpu_verdict.py --junit out/gpu_tests.xml out/bench.json out/bench_85m.json
"""

from __future__ import annotations

import argparse
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

MFU_GOAL, MFU_N = 0.40, (70e6, 100e6)  # ~85M parameters
MFU_SEQ_LEN = 1024
STACK_GOALS = [((0, 1.1e6), 3.0, "<= 1M"), ((3e6, 5.5e6), 2.0, "3-5M")]


def read_junit(path) -> list[tuple[str, str, str]]:
    """(test name, outcome, message) per test case: passed, failed, error or skipped."""
    tests = []
    for case in ET.parse(path).getroot().iter("testcase"):
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            node = case.find(tag)
            if node is not None:
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[tag]
                message = (node.get("message") or node.text or "").strip().splitlines()
                message = message[0] if message else ""
                break
        tests.append((case.get("name"), outcome, message))
    return tests


def _mega(x: float) -> str:
    return f"{x / 1e6:.2f}M" if x >= 1e5 else f"{x / 1e3:.1f}k"


def _mark(ok: bool | None) -> str:
    return {True: "PASS", False: "FAIL", None: "----"}[ok]


def verdict(junit: str | None, benches: list[dict]) -> tuple[list[str], bool]:
    """The lines of the verdict screen and whether every test passed and every goal was met."""
    lines, ok = [], True
    devices = sorted({b.get("device", "?") for b in benches})
    peaks = sorted({b.get("peak_flops") for b in benches if b.get("peak_flops")})
    torch_v = sorted({b.get("torch", "?") for b in benches})
    peak = (f"peak {peaks[0] / 1e12:.0f} TFLOP/s dense bf16" if len(peaks) == 1 else
            "no peak known: MFU not measured" if not peaks else f"peaks {peaks}")
    lines.append(f"GPU check: {', '.join(devices) or 'no benchmark'}; torch "
                 f"{', '.join(torch_v) or '?'}; {peak}")

    # -- tests
    if junit is None or not Path(junit).is_file():
        lines.append(f"GPU tests: MISSING ({junit} not written)")
        ok = False
    else:
        tests = read_junit(junit)
        counts = {k: sum(t[1] == k for t in tests) for k in ("passed", "failed", "error", "skipped")}
        lines.append("GPU tests: " + ", ".join(f"{v} {k}" for k, v in counts.items() if v))
        for name, outcome, message in tests:
            lines.append(f"  {outcome.upper():<7} {name}" + (f": {message[:70]}" if message and
                                                             outcome != "passed" else ""))
        ok &= bool(tests) and counts["failed"] == counts["error"] == 0 and counts["skipped"] == 0

    # -- throughput per size
    sizes = [dict(s, seq_len=b.get("seq_len")) for b in benches for s in b.get("sizes", [])]
    if sizes:
        lines.append("Tokens/s and MFU per size (one model):")
        for s in sizes:
            mfu = f"{100 * s['mfu']:.1f}%" if s.get("mfu") is not None else "-"
            lines.append(f"  {s['preset']:<9} N={_mega(s['N']):>7} T={s['seq_len']:<5} "
                         f"{s['mode']:<16} {_mega(s['tokens_per_s']):>8} tok/s  MFU {mfu}")

    # -- goals
    lines.append("Goals:")
    target = [s for s in sizes if MFU_N[0] <= s["N"] <= MFU_N[1] and s["seq_len"] == MFU_SEQ_LEN
              and s["mode"] != "eager" and s.get("mfu") is not None]
    if target:
        best = max(target, key=lambda s: s["mfu"])
        met = best["mfu"] >= MFU_GOAL
        lines.append(f"  {_mark(met)} MFU >= {MFU_GOAL:.0%} at ~85M, T={MFU_SEQ_LEN}: "
                     f"{100 * best['mfu']:.1f}% ({best['preset']}, {best['mode']}, "
                     f"{_mega(best['tokens_per_s'])} tok/s)")
        ok &= met
    else:
        lines.append(f"  MISSING MFU at ~85M, T={MFU_SEQ_LEN} (no compiled measurement with a "
                     "known peak)")
        ok = False
    sweeps = [s for b in benches for s in b.get("sweeps", [])]
    for (lo, hi), goal, label in STACK_GOALS:
        inside = [s for s in sweeps if lo <= s["N"] <= hi]
        if not inside:
            lines.append(f"  MISSING stacked >= {goal:g}x at {label} (no measurement)")
            ok = False
        for s in inside:
            met = s["ratio_steady"] >= goal
            lines.append(f"  {_mark(met)} stacked x{s['stack']} >= {goal:g}x at {label}: "
                         f"{s['ratio_steady']:.2f}x ({s['preset']}, N={_mega(s['N'])}; "
                         f"{s['ratio_with_compile']:.2f}x with compile time)")
            ok &= met
    for s in sweeps:
        if not any(lo <= s["N"] <= hi for (lo, hi), _, _ in STACK_GOALS):
            lines.append(f"  {_mark(None)} stacked x{s['stack']} at N={_mega(s['N'])}: "
                         f"{s['ratio_steady']:.2f}x ({s['preset']}; no goal at this size)")
    for b in [b for bench in benches for b in bench.get("budget_stacks", [])]:
        lines.append(f"  {_mark(None)} budgets {'/'.join(map(str, b['budgets']))} leaving the "
                     f"stack: {b['ratio']:.2f}x ({b['preset']}; no goal)")
    lines.append(f"VERDICT: {'PASS' if ok else 'FAIL'}")
    return lines, ok


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("bench", nargs="*", help="bench_train.py --json files")
    ap.add_argument("--junit", default=None, help="pytest --junitxml of the GPU tests")
    args = ap.parse_args(argv)
    benches = []
    for path in args.bench:
        try:
            benches.append(json.loads(Path(path).read_text()))
        except (OSError, ValueError) as err:
            print(f"gpu_verdict: {path}: {err}", file=sys.stderr)
    lines, ok = verdict(args.junit, benches)
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
