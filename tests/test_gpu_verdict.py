"""The GPU check's verdict screen (benchmarks/gpu_verdict.py), fed recorded numbers on the CPU:
real pytest JUnit XML and bench_train.py-shaped JSON."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("gpu_verdict", ROOT / "benchmarks" / "gpu_verdict.py")
gpu_verdict = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gpu_verdict)


@pytest.fixture(scope="module")
def junit(tmp_path_factory):
    """JUnit XML written by pytest itself: one test passes, one fails, one is skipped."""
    folder = tmp_path_factory.mktemp("junit")
    (folder / "test_fake_gpu.py").write_text(
        "import pytest\n"
        "def test_compiled_run():\n    assert True\n"
        "def test_stack_on_cuda():\n    assert 1 == 2, 'losses differ'\n"
        "@pytest.mark.skip(reason='needs a CUDA device')\ndef test_graphs():\n    pass\n")
    xml = folder / "gpu_tests.xml"
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                    f"--junitxml={xml}", str(folder / "test_fake_gpu.py")],
                   cwd=folder, capture_output=True)
    return xml


def passing_junit(tmp_path):
    path = tmp_path / "ok.xml"
    path.write_text('<?xml version="1.0"?><testsuites><testsuite name="pytest" tests="2">'
                    '<testcase classname="tests.test_train_gpu" name="test_a" time="1.0"/>'
                    '<testcase classname="tests.test_train_gpu" name="test_b" time="2.0"/>'
                    '</testsuite></testsuites>')
    return path


def bench(mfu_85m=0.45, small_ratio=3.4, mid_ratio=2.3):
    """What bench_train.py --json writes on an H100 (two files' worth), numbers chosen."""
    peak = 989e12
    full = {"device": "NVIDIA H100 80GB HBM3", "torch": "2.11.0", "peak_flops": peak,
            "batch": 64, "seq_len": 512,
            "sizes": [{"preset": "d2-64", "N": 98624, "mode": "eager", "tokens_per_s": 2.0e6,
                       "mfu": 0.002},
                      {"preset": "d2-64", "N": 98624, "mode": "default", "tokens_per_s": 4.0e6,
                       "mfu": 0.004}],
            "sweeps": [{"preset": "d2-128", "N": 393728, "stack": 8,
                        "sequential_tokens_per_s": 1e6, "stacked_tokens_per_s": small_ratio * 1e6,
                        "ratio_steady": small_ratio, "ratio_with_compile": small_ratio * 0.9},
                       {"preset": "d4-256", "N": 3147776, "stack": 8,
                        "sequential_tokens_per_s": 1e6, "stacked_tokens_per_s": mid_ratio * 1e6,
                        "ratio_steady": mid_ratio, "ratio_with_compile": mid_ratio * 0.9}],
            "budget_stacks": [{"preset": "d2-128", "budgets": [100, 200, 400, 800],
                               "kept_s": 10.0, "retired_s": 5.0, "ratio": 2.0}]}
    n85 = 84934656
    tps = mfu_85m * peak / (6 * n85 + 6 * 12 * 1024 * 768)
    big = {"device": "NVIDIA H100 80GB HBM3", "torch": "2.11.0", "peak_flops": peak, "batch": 32,
           "seq_len": 1024,
           "sizes": [{"preset": "d12-768", "N": n85, "mode": "eager", "tokens_per_s": tps / 2,
                      "mfu": mfu_85m / 2},
                     {"preset": "d12-768", "N": n85, "mode": "default", "tokens_per_s": tps,
                      "mfu": mfu_85m}],
           "sweeps": [], "budget_stacks": []}
    return [full, big]


def test_all_goals_met_is_a_pass(tmp_path):
    lines, ok = gpu_verdict.verdict(str(passing_junit(tmp_path)), bench())
    text = "\n".join(lines)
    assert ok and lines[-1] == "VERDICT: PASS"
    assert "GPU check: NVIDIA H100 80GB HBM3; torch 2.11.0; peak 989 TFLOP/s dense bf16" in text
    assert "GPU tests: 2 passed" in text
    assert "PASS MFU >= 40% at ~85M, T=1024: 45.0% (d12-768, default" in text
    assert "PASS stacked x8 >= 3x at <= 1M: 3.40x (d2-128" in text
    assert "PASS stacked x8 >= 2x at 3-5M: 2.30x (d4-256" in text
    assert "budgets 100/200/400/800 leaving the stack: 2.00x" in text
    assert len(lines) <= 40  # one screen


@pytest.mark.parametrize("kwargs, failing", [
    ({"mfu_85m": 0.35}, "FAIL MFU >= 40% at ~85M, T=1024: 35.0%"),
    ({"small_ratio": 2.9}, "FAIL stacked x8 >= 3x at <= 1M: 2.90x"),
    ({"mid_ratio": 1.5}, "FAIL stacked x8 >= 2x at 3-5M: 1.50x"),
])
def test_a_missed_goal_fails(tmp_path, kwargs, failing):
    lines, ok = gpu_verdict.verdict(str(passing_junit(tmp_path)), bench(**kwargs))
    assert not ok and failing in "\n".join(lines) and lines[-1] == "VERDICT: FAIL"


def test_failed_and_skipped_gpu_tests_fail_the_check(junit):
    lines, ok = gpu_verdict.verdict(str(junit), bench())
    text = "\n".join(lines)
    assert "GPU tests: 1 passed, 1 failed, 1 skipped" in text
    assert "FAILED  test_stack_on_cuda: AssertionError: losses differ" in text
    assert "SKIPPED test_graphs: needs a CUDA device" in text
    assert not ok  # a skipped GPU test means the GPU path did not run


def test_missing_measurements_are_said(tmp_path):
    full, _ = bench()
    lines, ok = gpu_verdict.verdict(str(tmp_path / "absent.xml"), [full])
    text = "\n".join(lines)
    assert not ok and "GPU tests: MISSING" in text and "MISSING MFU at ~85M, T=1024" in text
    unknown = dict(full, peak_flops=None, sizes=[dict(s, mfu=None) for s in full["sizes"]])
    lines, _ = gpu_verdict.verdict(None, [unknown])
    assert "no peak known: MFU not measured" in lines[0]


def test_command_line_exit_code(tmp_path):
    files = []
    for i, b in enumerate(bench()):
        files.append(tmp_path / f"b{i}.json")
        files[-1].write_text(json.dumps(b))
    ok = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_verdict.py"),
                         "--junit", str(passing_junit(tmp_path)), *map(str, files)],
                        capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout.rstrip().endswith("VERDICT: PASS")
    bad = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_verdict.py"),
                          str(files[0])], capture_output=True, text=True)
    assert bad.returncode == 1 and "VERDICT: FAIL" in bad.stdout
