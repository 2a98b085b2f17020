"""Benchmark the fused linear-loss kernels against their full-logits references; prints JSON.

Dimensions default to Qwen2-VL-2B's output projection (hidden 1536, vocabulary 151,936) at 1,024
positions. Memory: each implementation of each variant (framework x dtype x loss x gradients)
runs once in a fresh subprocess; peak = the resident high-water mark (VmHWM, reset through
/proc/self/clear_refs once the inputs exist) minus the resident size at that moment; MLX also
reports its allocator's own peak. `working_mb` leaves out the returned gradients, which both
implementations must produce. Time: one forward plus backward of sum(loss * g) with a random
per-position g, both implementations in one subprocess, interleaved --repeats times; the ratio
of the best times and the ratio of each adjacent pair are reported. `goal` says whether a variant
meets the target: at most 10% of the reference's memory (working memory when the weight's gradient
is asked, peak otherwise) and at most 1.2x its time.

mlx-cpu on Linux ships the netlib reference BLAS; when a system OpenBLAS exists the script
re-executes itself with it preloaded (see sdft_kernels.blas) and also reports a GEMM measured
with and without it. Usage: python bench/kernels.py [--positions 1024] [--frameworks torch,mlx].
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rss import mb, reset_peak, status_bytes  # noqa: E402  (bench/rss.py)
from sdft_kernels.blas import (  # noqa: E402
    find_openblas,
    mlx_cpu_blas_env,
    openblas_preloaded,
    reexec_with_openblas,
)

GRADS = {"hidden": (0,), "hidden+weight": (0, 1)}
IMPLS = ("reference", "fused")
# The goal: at most this share of the reference's memory, at most this multiple of its time.
GOAL = {"memory_ratio": 0.10, "time_ratio": 1.2}


def main() -> None:
    args = _parse()
    if args.child:
        print(json.dumps(_run_child(json.loads(args.child))))
        return
    reexec_with_openblas()
    print(json.dumps(_run_all(args), indent=2))


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, default=1024)
    parser.add_argument("--hidden", type=int, default=1536)
    parser.add_argument("--vocab", type=int, default=151936)
    parser.add_argument("--frameworks", default="torch,mlx")
    parser.add_argument("--losses", default="ce,kl")
    parser.add_argument("--grads", default="hidden,hidden+weight")
    parser.add_argument("--dtypes", default="float32", help="also: bfloat16 (torch only)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--chunk-size", type=int, default=None)
    parser.add_argument("--vocab-chunk", type=int, default=None)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    return parser.parse_args()


# ---------------------------------------------------------------- parent


def _run_all(args: argparse.Namespace) -> dict:
    return {
        "shape": {"positions": args.positions, "hidden": args.hidden, "vocab": args.vocab},
        "machine": {"cpus": os.cpu_count(), "openblas_preloaded_for_mlx": openblas_preloaded()},
        "mlx_cpu_gemm": _gemm_report() if "mlx" in args.frameworks else None,
        "comparisons": [_compare(variant) for variant in _variants(args)],
    }


def _variants(args: argparse.Namespace):
    for framework in args.frameworks.split(","):
        for dtype in args.dtypes.split(","):
            if framework == "mlx" and dtype != "float32":
                continue  # mlx-cpu has no BLAS path for bf16: minutes per variant, no signal
            for loss in args.losses.split(","):
                for grads in args.grads.split(","):
                    yield {
                        "framework": framework, "dtype": dtype, "loss": loss, "grads": grads,
                        "n": args.positions, "h": args.hidden, "v": args.vocab,
                        "repeats": args.repeats, "chunk_size": args.chunk_size,
                        "vocab_chunk": args.vocab_chunk,
                    }


def _compare(variant: dict) -> dict:
    """Memory of each implementation in its own process; time of both in one, interleaved.

    Interleaving (reference, fused, reference, fused, ...) keeps the ratio honest on a machine
    whose load changes from minute to minute.
    """
    memory = {impl: _spawn({**variant, "mode": "memory", "impl": impl}) for impl in IMPLS}
    timing = _spawn({**variant, "mode": "timing"})
    keys = ("framework", "dtype", "loss", "grads")
    row = {key: variant[key] for key in keys}
    errors = [run["error"] for run in (*memory.values(), timing) if "error" in run]
    if errors:
        return {**row, "errors": errors}
    ref, fused = memory["reference"], memory["fused"]
    result = {
        **row,
        "time_s": {impl: min(timing["times_s"][impl]) for impl in IMPLS},
        "time_ratio": _ratio(min(timing["times_s"]["fused"]), min(timing["times_s"]["reference"])),
        "paired_time_ratios": timing["paired_ratios"],
        "peak_mb": {impl: memory[impl]["peak_mb"] for impl in IMPLS},
        "peak_ratio": _ratio(fused["peak_mb"], ref["peak_mb"]),
        "grad_mb": fused["grad_mb"],
        "working_mb": {impl: memory[impl]["working_mb"] for impl in IMPLS},
        "working_ratio": _ratio(fused["working_mb"], ref["working_mb"]),
        **_allocator_ratio(ref, fused),
        "max_abs_diff_loss": _diff(ref["loss_head"], fused["loss_head"]),
    }
    return {**result, "goal": _goal(result)}


def _goal(result: dict) -> dict:
    """Peak memory against the goal, except with the weight's gradient: both implementations
    return that (V x H) array, which alone is half the reference's peak, so there the working
    memory (peak minus the returned gradients) is what the kernel can save."""
    measure = "working_ratio" if result["grads"] == "hidden+weight" else "peak_ratio"
    memory, time = result[measure], result["time_ratio"]
    met = None not in (memory, time) and memory <= GOAL["memory_ratio"] and time <= GOAL["time_ratio"]
    return {**GOAL, "memory_measure": measure, "met": met}


def _spawn(variant: dict, env: dict | None = None) -> dict:
    command = [sys.executable, __file__, "--child", json.dumps(variant)]
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        return {**variant, "error": done.stderr.strip().splitlines()[-1:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _allocator_ratio(ref: dict, fused: dict) -> dict:
    """MLX's own accounting (counts buffers the OS has not paged in yet, unlike VmHWM)."""
    if "mlx_allocator_peak_mb" not in ref:
        return {}
    peaks = {"reference": ref["mlx_allocator_peak_mb"], "fused": fused["mlx_allocator_peak_mb"]}
    ratio = _ratio(peaks["fused"], peaks["reference"])
    return {"mlx_allocator_peak_mb": peaks, "mlx_allocator_peak_ratio": ratio}


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b > 0 else None


def _diff(a: list[float], b: list[float]) -> float:
    return round(max(abs(x - y) for x, y in zip(a, b)), 6)


def _gemm_report() -> dict:
    """mlx-cpu fp32 GEMM GFLOP/s as shipped and with OpenBLAS preloaded."""
    gemm = {"framework": "mlx", "gemm": True}
    plain = dict(os.environ)
    plain["LD_PRELOAD"] = " ".join(
        item for item in plain.get("LD_PRELOAD", "").split() if "libopenblas" not in item
    )
    report = {"bundled_blas": _spawn(gemm, plain).get("gflops")}
    preload = mlx_cpu_blas_env(plain)
    report["openblas"] = _spawn(gemm, preload).get("gflops") if preload else None
    report["openblas_path"] = find_openblas()
    return report


# ---------------------------------------------------------------- child


def _run_child(variant: dict) -> dict:
    if variant.get("gemm"):
        return {"gflops": _mlx_gemm_gflops()}
    runner = _torch_runner if variant["framework"] == "torch" else _mlx_runner
    small = {**variant, "n": 8, "v": 1024}
    for step in runner(small).values():
        step()  # loads libraries and code paths outside the measurement
    if variant["mode"] == "timing":
        return _time_both(runner(variant), variant["repeats"])
    return _measure_memory(runner(variant, (variant["impl"],))[variant["impl"]], variant)


def _time_both(steps: dict, repeats: int) -> dict:
    times = {impl: [] for impl in IMPLS}
    for _ in range(repeats):
        for impl in IMPLS:
            start = time.perf_counter()
            steps[impl]()
            times[impl].append(round(time.perf_counter() - start, 3))
    ratios = [round(f / r, 3) for f, r in zip(times["fused"], times["reference"])]
    return {"times_s": times, "paired_ratios": ratios}


def _measure_memory(step, variant: dict) -> dict:
    baseline = reset_peak()
    mlx_baseline = _mlx_reset_peak() if variant["framework"] == "mlx" else None
    loss, grad_bytes = step()
    peak = _peak_rss() - baseline
    result = {
        "peak_mb": mb(peak), "grad_mb": mb(grad_bytes), "working_mb": mb(peak - grad_bytes),
        "loss_head": [round(x, 5) for x in loss[:4]],
    }
    if mlx_baseline is not None:
        result["mlx_allocator_peak_mb"] = mb(_mlx_peak() - mlx_baseline)
    return result


def _peak_rss() -> int:
    return status_bytes("VmHWM")


def _torch_runner(variant: dict, impls: tuple[str, ...] = IMPLS) -> dict:
    """impl -> step(): forward + backward once, returns (first losses, gradient bytes)."""
    import torch

    import sdft_kernels

    torch.manual_seed(0)
    dtype = getattr(torch, variant["dtype"])
    n, h, v = variant["n"], variant["h"], variant["v"]
    hidden = torch.randn(n, h, dtype=dtype)
    weight = torch.randn(v, h, dtype=dtype).mul_(0.02)
    base = hidden + 0.1 * torch.randn(n, h, dtype=dtype)
    targets = torch.randint(0, v, (n,))
    g = torch.rand(n)
    wrt = [hidden.requires_grad_()]
    if variant["grads"] != "hidden":
        wrt.append(weight.requires_grad_())

    def step(kwargs):
        if variant["loss"] == "ce":
            loss = sdft_kernels.linear_cross_entropy(hidden, weight, targets, **kwargs)
        else:
            loss = sdft_kernels.linear_kl(hidden, base, weight, **kwargs)
        grads = torch.autograd.grad((loss * g).sum(), wrt)
        return loss[:4].tolist(), sum(t.numel() * t.element_size() for t in grads)

    return {impl: functools.partial(step, _kernel_kwargs(variant, impl)) for impl in impls}


def _mlx_runner(variant: dict, impls: tuple[str, ...] = IMPLS) -> dict:
    """Same contract as _torch_runner, for MLX (fp32 only)."""
    import mlx.core as mx

    import sdft_kernels

    mx.random.seed(0)
    n, h, v = variant["n"], variant["h"], variant["v"]
    hidden = mx.random.normal((n, h))
    weight = mx.random.normal((v, h)) * 0.02
    base = hidden + 0.1 * mx.random.normal((n, h))
    targets = mx.random.randint(0, v, (n,))
    g = mx.random.uniform(shape=(n,))
    mx.eval(hidden, weight, base, targets, g)
    mx.clear_cache()

    def objective(hidden_, weight_, kwargs):
        if variant["loss"] == "ce":
            loss = sdft_kernels.linear_cross_entropy(hidden_, weight_, targets, **kwargs)
        else:
            loss = sdft_kernels.linear_kl(hidden_, base, weight_, **kwargs)
        return (loss * g).sum(), loss

    grad_fn = mx.value_and_grad(objective, argnums=GRADS[variant["grads"]])

    def step(kwargs):
        (_, loss), grads = grad_fn(hidden, weight, kwargs)
        grads = grads if isinstance(grads, tuple) else (grads,)
        mx.eval(loss, grads)
        return loss[:4].tolist(), sum(grad.nbytes for grad in grads)

    return {impl: functools.partial(step, _kernel_kwargs(variant, impl)) for impl in impls}


def _kernel_kwargs(variant: dict, impl: str) -> dict:
    kwargs = {"impl": impl}
    if variant.get("chunk_size"):
        kwargs["chunk_size"] = variant["chunk_size"]
    if variant.get("vocab_chunk"):
        kwargs["vocab_chunk"] = variant["vocab_chunk"]
    return kwargs


def _mlx_reset_peak() -> int:
    import mlx.core as mx

    mx.reset_peak_memory()
    return mx.get_active_memory()


def _mlx_peak() -> int:
    import mlx.core as mx

    return mx.get_peak_memory()


def _mlx_gemm_gflops() -> float:
    import mlx.core as mx

    a, b = mx.random.normal((1024, 1536)), mx.random.normal((4096, 1536))
    mx.eval(a @ b.T)
    start = time.perf_counter()
    mx.eval(a @ b.T)
    return round(2 * 1024 * 1536 * 4096 / (time.perf_counter() - start) / 1e9, 1)


if __name__ == "__main__":
    main()
