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
# for KL, MLX's full-logits reference itself is 2e-5 off a float64 computation (the fused path 6e-6).
LOSS_ATOL = {"ce": 1e-4, "kl": 5e-5}


def main() -> None:
    hidden, weight, base, targets, grad_out = make_inputs()
    report = {}
    for loss in sys.argv[1:] or ["ce", "kl"]:
        fused, ref = (run(loss, impl, hidden, weight, base, targets, grad_out) for impl in ("fused", "reference"))
        report[f"{loss}.loss"] = compare(fused[0], ref[0], rtol=1e-5, atol=LOSS_ATOL[loss])
        for name, a, b in zip(("d_hidden", "d_weight"), fused[1:], ref[1:]):
            report[f"{loss}.{name}"] = compare(a, b, rtol=1e-4, atol=1e-4 * float(np.abs(b).max()))
    print(json.dumps(report))


def make_inputs():
    mx.random.seed(0)
    hidden = mx.random.normal((N, H))
    weight = mx.random.normal((V, H)) * 0.02
    base = hidden + 0.5 * mx.random.normal((N, H))
    targets = mx.random.randint(0, V, (N,))
    grad_out = mx.random.uniform(shape=(N,)) + 0.1
    mx.eval(hidden, weight, base, targets, grad_out)
    return hidden, weight, base, targets, grad_out


def run(loss, impl, hidden, weight, base, targets, grad_out):
    def objective(h, w):
        if loss == "ce":
            out = linear_cross_entropy(h, w, targets, impl=impl)
        else:
            out = linear_kl(h, base, w, impl=impl)
        return (out * grad_out).sum(), out

    (_, out), (dh, dw) = mx.value_and_grad(objective, argnums=(0, 1))(hidden, weight)
    mx.eval(out, dh, dw)
    return [np.array(x) for x in (out, dh, dw)]


def compare(actual: np.ndarray, expected: np.ndarray, rtol: float, atol: float) -> dict:
    """worst |actual - expected| / (atol + rtol |expected|): at most 1 passes."""
    allowed = atol + rtol * np.abs(expected)
    worst = float((np.abs(actual - expected) / allowed).max())
    return {"worst": worst, "scale": float(np.abs(expected).max())}


if __name__ == "__main__":
    main()
