#!/usr/bin/env bash
# The GPU work of issues 5 and 7, in phases that each fit one device command (<= 10 minutes).
# Runs from the checkout root on the GPU machine, uninstalled (torch there, no lmfit/plotly):
#
#   here:   scalelaw data build && scalelaw data pack shards.tar.xz
#   device: bash benchmarks/gpu_session.sh check     (carry: shards.tar.xz)
#           bash benchmarks/gpu_session.sh ladder
#           bash benchmarks/gpu_session.sh rest
#
# `check` ends with one screen (benchmarks/gpu_verdict.py, also in $OUT/verdict.txt): each GPU
# test, tokens/s and MFU per size, stacked-vs-single ratios against the goals, VERDICT PASS/FAIL.
#
# Every phase writes what must come back under $OUT (at most a few files: sweeps travel as one
# .tar.gz each) and a log of its own. A phase is resumable: the sweeps skip complete runs, so a
# phase cut off by the time limit is finished by running it again on the same warm machine.
set -euo pipefail
phase=${1:?say check, ladder or rest}
OUT=${OUT:-out}
mkdir -p "$OUT"
export PYTHONPATH=.
py=python3
log="$OUT/$phase.log"

if [ ! -f shards/general/train.bin ]; then
    $py -m scalelaw data unpack shards.tar.xz --root shards | tee -a "$log"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee -a "$log"
git rev-parse --short HEAD 2>/dev/null | sed 's/^/commit /' | tee -a "$log" || true

sweep() {  # sweep NAME: the spec examples/sweeps/NAME.yaml into runs/NAME and $OUT/NAME.tar.gz
    local start end
    start=$(date -u +%FT%TZ)
    /usr/bin/time -f "wall %e s" $py -m scalelaw sweep "examples/sweeps/$1.yaml" --out "runs/$1" \
        --quiet --archive "$OUT/$1.tar.gz" 2>&1 | tee -a "$log"
    end=$(date -u +%FT%TZ)
    echo "sweep $1: $start to $end" | tee -a "$log"
}

case "$phase" in
    check)  # the GPU tests, then the speed goals of issue 5, then one screen of verdict
        # (a failing test or benchmark does not stop the phase: the verdict says what failed)
        $py -m pytest -q -m gpu tests/test_train_gpu.py --junitxml "$OUT/gpu_tests.xml" 2>&1 \
            | tee -a "$log" || true
        $py benchmarks/bench_train.py --json "$OUT/bench.json" 2>&1 | tee -a "$log" || true
        # the 40% MFU goal: ~85M parameters at T=1024 (compiled); a small stack to keep it short
        $py benchmarks/bench_train.py --sizes d12-768 --seq-len 1024 --batch 32 --modes \
            eager,default --stack-sizes d2-64 --json "$OUT/bench_85m.json" 2>&1 \
            | tee -a "$log" || true
        $py benchmarks/gpu_verdict.py --junit "$OUT/gpu_tests.xml" "$OUT/bench.json" \
            "$OUT/bench_85m.json" 2>&1 | tee "$OUT/verdict.txt" | tee -a "$log" || true
        ;;
    ladder)  # data/decoder_sizes (and the base checkpoints dcpt.yaml starts from)
        sweep ladder
        ;;
    rest)  # data/lr_schedules, data/dcpt (needs the ladder's checkpoints), data/encdec
        sweep schedules
        sweep dcpt
        sweep encdec
        ;;
    *)
        echo "unknown phase $phase: say check, ladder or rest" >&2
        exit 2
        ;;
esac
