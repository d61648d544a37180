"""Trainer throughput: tokens/s and MFU per model size (eager vs compiled), and a sweep's
aggregate throughput with M same-shape models stacked against the same runs one after another.

What is timed is the training step the trainer runs (forward, backward, gradient clipping,
AdamW; bf16 autocast and SDPA flash attention on CUDA) on a fixed batch of random tokens already
on the device, after warm-up steps (which include compilation). MFU = tokens/s x
``flops_per_token`` (``scalelaw.model_size.count_params``: 6N + 6 n_layer T d) / the device's
dense bf16 peak (``scalelaw.train.peaks``; ``--peak-flops`` for a device not listed there; no
MFU without one).

Sweep comparison: "stacked" is one :class:`StackedGPT` of M models (compiled); "sequential" is
the same M runs done one after another, each compiled (``torch.compile`` default mode), whose
aggregate throughput is one compiled model's. Ratios are given in steady state, and for a sweep
of ``--run-steps`` steps per run with the measured compile times included.

Goals for the GPU (H100): >= 40% MFU for the ~85M decoder (d12-768) at T=1024; stacked sweep
>= 3x for runs of <= 1M parameters, >= 2x for 3-5M.

Without CUDA it runs a reduced CPU version (tiny sizes, few steps, eager only), timed in this
process's CPU time (steady on a shared machine); its numbers are not the GPU figures.

``--overhead SIZE`` (any device) measures what the trainer costs beyond the training itself:
``train(cfg)`` end to end (setup, its data pipeline, logging, validation at step 0 and every
``eval_interval``, checkpoint-free) against a minimal plain-PyTorch loop (nanoGPT-style random
windows of the same corpus, the same model, batch, AdamW and clipping) for the same steps, in
this process, alternated and repeated; tokens/s of each and the trainer's overhead (goal:
< 10%). It needs the tiny corpus (``scalelaw data build --tiny``; ``--data-root``).

Usage::

    python benchmarks/bench_train.py                      # GPU: full; CPU: reduced
    python benchmarks/bench_train.py --sizes d2-128,d12-768 --seq-len 1024 --batch 32
    python benchmarks/bench_train.py --stack 8 --stack-sizes d2-128,d4-256 --json out.json
    OMP_NUM_THREADS=1 python benchmarks/bench_train.py --overhead tiny --overhead-steps 300
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

from scalelaw.train.config import get_preset  # noqa: E402
from scalelaw.train.engine import build_engine, initial_state  # noqa: E402
from scalelaw.train.hardware import check_memory, device_name, peak_info  # noqa: E402


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _build(size, *, lengths, compile_mode, batch, seq_len, device, stack):
    """An engine of runs of preset ``size`` (one per entry of ``lengths``, its steps) and one
    fixed random batch for them."""
    compiled = compile_mode != "eager"
    configs = [get_preset(size, seed=m, name=f"bench{m}", n_steps=n, batch_size=batch,
                          seq_len=seq_len, device=device.type, compile=compiled,
                          compile_mode=compile_mode if compiled else "default")
               for m, n in enumerate(lengths)]
    bf16 = device.type == "cuda"
    check_memory(configs[0], len(configs), device, bf16)
    if compiled:
        torch._dynamo.reset()
    engine = build_engine(configs, device, bf16, [initial_state(c) for c in configs], stack=stack)
    gen = torch.Generator(device="cpu").manual_seed(0)
    tokens = torch.randint(0, 256, (len(configs), batch, seq_len + 1), generator=gen).to(device)
    return engine, (tokens[..., :-1], tokens[..., 1:]), configs[0].counts()


def _clock(device) -> float:
    """Seconds: wall time on CUDA; on the CPU this process's CPU time, which other processes
    on a shared machine do not lengthen (threads add up: compare at equal thread counts)."""
    return time.perf_counter() if device.type == "cuda" else time.process_time()


def _release(device):
    if device.type == "cuda":
        torch.cuda.empty_cache()


def measure(size, *, n_models, compile_mode, batch, seq_len, steps, warmup, device):
    """Seconds per step (steady state) and warm-up seconds of M models of preset ``size``."""
    engine, batch_xy, counts = _build(size, lengths=[warmup + steps] * n_models,
                                      compile_mode=compile_mode, batch=batch, seq_len=seq_len,
                                      device=device, stack=n_models > 1)
    t0 = _clock(device)
    for step in range(1, warmup + 1):
        engine.train_step(batch_xy, step)
    _sync(device)
    t1 = _clock(device)
    for step in range(warmup + 1, warmup + steps + 1):
        loss = engine.train_step(batch_xy, step)
    loss.sum().item()
    _sync(device)
    per_step = (_clock(device) - t1) / steps
    del engine
    _release(device)
    return per_step, t1 - t0, counts


def measure_budgets(size, *, budgets, compile_mode, batch, seq_len, retire, device):
    """Seconds to train one stack of runs of ``budgets`` steps (e.g. 1:2:4:8 x base), each run
    leaving the stack when it ends (``retire``) or riding along at lr 0 until the longest ends."""
    engine, batch_xy, _ = _build(size, lengths=budgets, compile_mode=compile_mode, batch=batch,
                                 seq_len=seq_len, device=device, stack=True)
    t0 = _clock(device)
    for step in range(1, max(budgets) + 1):
        loss = engine.train_step(batch_xy, step)
        ended = [m for m, n in enumerate(budgets) if n == step]
        if retire and ended and step < max(budgets):
            loss.sum().item()
            engine.retire(ended)
    loss.sum().item()
    _sync(device)
    seconds = _clock(device) - t0
    del engine
    _release(device)
    return seconds


def plain_loop(cfg, tokens, device) -> tuple[float, float]:
    """(wall, CPU) seconds for ``cfg.steps`` steps of the plainest PyTorch loop (nanoGPT's
    get_batch, forward, backward, clip, AdamW) on random windows of ``tokens``."""
    from scalelaw.train.hardware import fused_adamw_supported
    from scalelaw.train.model import GPT

    t0, c0 = time.perf_counter(), time.process_time()
    torch.manual_seed(cfg.seed)
    model = GPT(cfg.model).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(cfg.beta1, cfg.beta2),
                            eps=cfg.eps, weight_decay=cfg.weight_decay,
                            fused=fused_adamw_supported(device))
    data = torch.from_numpy(np.array(tokens))  # a writable copy (the corpus is a memmap)
    B, T = cfg.batch_size, cfg.model.seq_len
    gen = torch.Generator().manual_seed(0)
    for _ in range(cfg.steps):
        ix = torch.randint(len(data) - T - 1, (B,), generator=gen)
        window = torch.stack([data[i:i + T + 1] for i in ix]).long().to(device)
        loss = model(window[:, :-1], window[:, 1:])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
    loss.item()
    _sync(device)
    return time.perf_counter() - t0, time.process_time() - c0


def measure_overhead(size, *, steps, repeats, data_root, device):
    """Trainer and plain-loop seconds, each ``{"wall", "cpu"}``, the best of ``repeats``
    alternated runs (the least disturbed by other processes), and the config. On a shared
    CPU, this process's CPU time (one thread) is the steadier measure: other processes
    lengthen the wall time, not the work done."""
    import tempfile

    from scalelaw.train import corpora
    from scalelaw.train.loop import train

    cfg = get_preset(size, n_steps=steps, device=device.type, data_root=data_root,
                     eval_interval=100, log_interval=10, eval_seqs=128, compile=False)
    tokens = corpora.load_tokens(cfg.corpus, "train", data_root, tiny=cfg.tiny_data)
    ours, plain = [], []
    with tempfile.TemporaryDirectory() as out:  # warm-up of both (imports, first kernels)
        train(get_preset(size, n_steps=2, device=device.type, data_root=data_root,
                         compile=False, out_dir=out), progress=False)
    plain_loop(get_preset(size, n_steps=2, device=device.type), tokens, device)
    for r in range(repeats):
        with tempfile.TemporaryDirectory() as out:
            t0, c0 = time.perf_counter(), time.process_time()
            train(get_preset(size, n_steps=steps, device=device.type, data_root=data_root,
                             eval_interval=100, log_interval=10, eval_seqs=128, compile=False,
                             out_dir=out, seed=r), progress=False)
            _sync(device)
            ours.append((time.perf_counter() - t0, time.process_time() - c0))
        plain.append(plain_loop(cfg, tokens, device))

    def best(times):
        return {"wall": min(w for w, _ in times), "cpu": min(c for _, c in times)}
    return best(ours), best(plain), cfg


def fmt(x):
    return f"{x / 1e6:.2f}M" if x >= 1e5 else f"{x / 1e3:.1f}k"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default=None, help="presets for the per-size table")
    ap.add_argument("--stack-sizes", default=None, help="presets for the sweep comparison")
    ap.add_argument("--modes", default=None,
                    help="eager,default,reduce-overhead (compile modes; default: all on CUDA)")
    ap.add_argument("--stack", type=int, default=None, help="models per stack (default 8)")
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--seq-len", type=int, default=None)
    ap.add_argument("--steps", type=int, default=None, help="timed steps")
    ap.add_argument("--warmup", type=int, default=None, help="untimed first steps (compile)")
    ap.add_argument("--run-steps", type=int, default=2000,
                    help="steps per run for the sweep ratio with compile time included")
    ap.add_argument("--budget-sizes", default=None,
                    help="presets for the stack-of-budgets comparison (runs leaving the stack)")
    ap.add_argument("--budget-steps", type=int, default=None,
                    help="steps of the shortest run there (default 100 on the GPU, 10 on CPU)")
    ap.add_argument("--overhead", default=None, metavar="SIZE",
                    help="only: the trainer end to end vs a plain PyTorch loop (e.g. tiny)")
    ap.add_argument("--overhead-steps", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3, help="alternated repeats (best kept)")
    ap.add_argument("--data-root", default=None, help="shard folder of the tiny corpus")
    ap.add_argument("--peak-flops", type=float, default=None,
                    help="MFU's denominator (default: the device's dense bf16 peak, if known)")
    ap.add_argument("--json", default=None, help="also write the results to this file")
    args = ap.parse_args(argv)

    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    peak = peak_info(device, args.peak_flops)["peak_flops"]
    if args.overhead:
        from scalelaw.train import corpora

        root = args.data_root or corpora.DEFAULT_ROOT
        ours, plain, cfg = measure_overhead(args.overhead, steps=args.overhead_steps,
                                            repeats=args.repeats, data_root=str(root),
                                            device=device)
        tokens = cfg.steps * cfg.tokens_per_step
        print(f"{args.overhead} on {device_name(device)} ({torch.get_num_threads()} threads), "
              f"B={cfg.batch_size}, T={cfg.model.seq_len}, {cfg.steps} steps, eval every "
              f"{cfg.eval_interval} on {cfg.eval_seqs} windows, best of {args.repeats}:")
        for kind in ("cpu", "wall"):
            print(f"  {kind + ' time':<9} trainer (train(), end to end) "
                  f"{tokens / ours[kind]:9,.0f} tokens/s {ours[kind]:7.2f} s;  plain PyTorch loop "
                  f"{tokens / plain[kind]:9,.0f} tokens/s {plain[kind]:7.2f} s;  trainer "
                  f"overhead {100 * (ours[kind] / plain[kind] - 1):+.1f}%")
        print("  (goal < 10%; CPU time is the steadier measure on a shared machine)")
        over = ours["cpu"] / plain["cpu"] - 1
        result = {"device": device_name(device), "preset": args.overhead, "steps": cfg.steps,
                  "trainer_s": ours, "plain_s": plain, "overhead_cpu_time": over,
                  "overhead_wall_time": ours["wall"] / plain["wall"] - 1}
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=1))
        return result
    if cuda:
        torch.set_float32_matmul_precision("high")
        sizes = args.sizes or "d2-64,d2-128,d4-256,d6-384,d8-512,d12-768"
        stack_sizes = args.stack_sizes or "d2-128,d4-128,d4-256,d6-256"
        budget_sizes = args.budget_sizes or "d2-128,d4-256"
        modes = (args.modes or "eager,default,reduce-overhead").split(",")
        batch, seq_len = args.batch or 64, args.seq_len or 512
        steps, warmup, stack = args.steps or 50, args.warmup or 10, args.stack or 8
        print(f"GPU: {device_name(device)}; torch {torch.__version__}; MFU vs "
              + (f"{peak / 1e12:.0f} TFLOP/s (dense bf16)" if peak else
                 "nothing: device not in scalelaw.train.peaks, give --peak-flops"))
    else:
        sizes = args.sizes or "tiny,d2-64"
        stack_sizes = args.stack_sizes or "tiny"
        budget_sizes = args.budget_sizes or "tiny"
        modes = (args.modes or "eager").split(",")
        batch, seq_len = args.batch or 16, args.seq_len or 64
        steps, warmup, stack = args.steps or 5, args.warmup or 2, args.stack or 4
        print(f"CPU reduced mode ({device_name(device)}, {torch.get_num_threads()} threads, "
              f"torch {torch.__version__}): checks the benchmark runs; NOT the GPU figures.")
    results = {"device": device_name(device), "torch": torch.__version__, "peak_flops": peak,
               "batch": batch,
               "seq_len": seq_len, "sizes": [], "sweeps": [], "budget_stacks": []}

    print(f"\nPer size, one model, B={batch}, T={seq_len}, {steps} timed steps after {warmup}:")
    print(f"{'preset':<10} {'N':>8} {'mode':<16} {'tokens/s':>10} {'MFU':>7} {'vs eager':>9}")
    for size in sizes.split(","):
        eager_tps = None
        for mode in modes:
            try:
                per_step, _, c = measure(size, n_models=1, compile_mode=mode, batch=batch,
                                         seq_len=seq_len, steps=steps, warmup=warmup,
                                         device=device)
            except Exception as err:  # noqa: BLE001 - a benchmark reports and goes on
                print(f"{size:<10} {'':>8} {mode:<16} failed: {type(err).__name__}: {err}")
                continue
            tps = batch * seq_len / per_step
            mfu = tps * c["flops_per_token"] / peak if peak else None
            eager_tps = tps if mode == "eager" else eager_tps
            ratio = f"{tps / eager_tps:.2f}x" if eager_tps else ""
            print(f"{size:<10} {fmt(c['N']):>8} {mode:<16} {fmt(tps):>10} "
                  f"{(f'{100 * mfu:.1f}%' if mfu is not None else '-'):>7} {ratio:>9}")
            results["sizes"].append({"preset": size, "N": c["N"], "mode": mode,
                                     "tokens_per_s": tps, "mfu": mfu})

    seq_mode = "default" if cuda else "eager"
    print(f"\nSweep of {stack} same-shape runs: stacked vs one after another "
          f"(each {'compiled' if cuda else 'eager'}), aggregate tokens/s:")
    for size in stack_sizes.split(","):
        try:
            one, one_warm, c = measure(size, n_models=1, compile_mode=seq_mode, batch=batch,
                                       seq_len=seq_len, steps=steps, warmup=warmup, device=device)
            many, many_warm, _ = measure(size, n_models=stack, compile_mode=seq_mode,
                                         batch=batch, seq_len=seq_len, steps=steps,
                                         warmup=warmup, device=device)
        except Exception as err:  # noqa: BLE001
            print(f"{size:<10} failed: {type(err).__name__}: {err}")
            continue
        seq_tps, stack_tps = batch * seq_len / one, stack * batch * seq_len / many
        # a whole sweep of --run-steps steps per run, compile (warm-up) time included
        seq_total = stack * (one_warm + (args.run_steps - warmup) * one)
        stack_total = many_warm + (args.run_steps - warmup) * many
        goal = ">= 3x" if c["N"] <= 1.1e6 else ">= 2x" if c["N"] <= 5.5e6 else ""
        print(f"{size:<10} N={fmt(c['N']):>7}  sequential {fmt(seq_tps):>8}  stacked x{stack} "
              f"{fmt(stack_tps):>8}  ratio {stack_tps / seq_tps:.2f}x steady, "
              f"{seq_total / stack_total:.2f}x for {args.run_steps}-step runs"
              + (f"  (goal {goal} on the GPU)" if cuda and goal else ""))
        results["sweeps"].append({"preset": size, "N": c["N"], "stack": stack,
                                  "sequential_tokens_per_s": seq_tps,
                                  "stacked_tokens_per_s": stack_tps,
                                  "ratio_steady": stack_tps / seq_tps,
                                  "ratio_with_compile": seq_total / stack_total})
    base = args.budget_steps or (100 if cuda else 10)
    budgets = [base, 2 * base, 4 * base, 8 * base]
    print(f"\nOne stack of 4 runs of {'/'.join(map(str, budgets))} steps (a size's token budgets): "
          "runs leave the stack when they end, against riding along at lr 0:")
    for size in budget_sizes.split(","):
        try:
            kept, retired = (measure_budgets(size, budgets=budgets, compile_mode=seq_mode,
                                             batch=batch, seq_len=seq_len, retire=r, device=device)
                             for r in (False, True))
        except Exception as err:  # noqa: BLE001
            print(f"{size:<10} failed: {type(err).__name__}: {err}")
            continue
        print(f"{size:<10} riding along {kept:8.2f} s  leaving {retired:8.2f} s  "
              f"ratio {kept / retired:.2f}x (compute ratio {4 * max(budgets) / sum(budgets):.2f}x)")
        results["budget_stacks"].append({"preset": size, "budgets": budgets, "kept_s": kept,
                                         "retired_s": retired, "ratio": kept / retired})
    if not cuda:
        print("\n(CPU reduced mode: not the GPU figures.)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main()
