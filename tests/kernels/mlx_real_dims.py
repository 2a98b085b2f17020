"""MLX fused vs reference at Qwen2-VL-2B head dimensions; run as a script, prints JSON.

A script rather than a test because mlx-cpu needs OpenBLAS preloaded at process start to do these
matmuls in seconds rather than minutes; `test_real_dims.py` starts it with that environment and
checks the JSON. Each entry: worst |fused - reference| over the tolerance allowed for it (<= 1 is
a pass), and the largest reference magnitude.
"""

import json
import sys

import mlx.core as mx
import numpy as np

from sdft_kernels import linear_cross_entropy, linear_kl

N, H, V = 512, 1536, 151936
# Per-position losses: lse is about 12, so fp32 rounding alone is a few 1e-6 in absolute terms;
# for KL, MLX's full-logits reference itself is 2e-5 off a float64 computation (fused: 6e-6).
LOSS_ATOL = {"ce": 1e-4, "kl": 5e-5}


def main() -> None:
    hidden, weight, base, targets, grad_out = make_inputs()
    report = {}
    for loss in sys.argv[1:] or ["ce", "kl"]:
        fused, ref = (
            run(loss, impl, hidden, weight, base, targets, grad_out)
            for impl in ("fused", "reference")
        )
        report[f"{loss}.loss"] = compare(fused[0], ref[0], rtol=1e-5, atol=LOSS_ATOL[loss])
        for name, a, b in zip(("d_hidden", "d_weight"), fused[1:], ref[1:]):
            report[f"{loss}.{name}"] = compare(a, b, rtol=1e-4, atol=1e-4 * mx.abs(b).max().item())
    print(json.dumps(report))


def make_inputs():
    # numpy's generator: mlx-cpu's takes 9 s for the 233 M weight entries here.
    rng = np.random.default_rng(0)
    hidden = rng.standard_normal((N, H), dtype=np.float32)
    weight = rng.standard_normal((V, H), dtype=np.float32) * np.float32(0.02)
    base = hidden + np.float32(0.5) * rng.standard_normal((N, H), dtype=np.float32)
    targets = rng.integers(0, V, N).astype(np.int32)
    grad_out = rng.random(N, dtype=np.float32) + np.float32(0.1)
    return [mx.array(x) for x in (hidden, weight, base, targets, grad_out)]


def run(loss, impl, hidden, weight, base, targets, grad_out):
    def objective(h, w):
        if loss == "ce":
            out = linear_cross_entropy(h, w, targets, impl=impl)
        else:
            out = linear_kl(h, base, w, impl=impl)
        return (out * grad_out).sum(), out

    (_, out), (dh, dw) = mx.value_and_grad(objective, argnums=(0, 1))(hidden, weight)
    mx.eval(out, dh, dw)
    return out, dh, dw


def compare(actual: mx.array, expected: mx.array, rtol: float, atol: float) -> dict:
    """worst |actual - expected| / (atol + rtol |expected|): at most 1 passes."""
    worst = (mx.abs(actual - expected) / (atol + rtol * mx.abs(expected))).max()
    return {"worst": worst.item(), "scale": mx.abs(expected).max().item()}


if __name__ == "__main__":
    main()
