"""Fused vs reference at Qwen2-VL-2B head sizes: hidden 1536, vocabulary 151,936, 512 positions.

Forward values and gradients w.r.t. the hidden states and the projection weight, torch in process
and MLX in a child process that has OpenBLAS preloaded (mlx-cpu's bundled BLAS would take many
minutes here). Marked slow: deselect with -m "not slow".
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from sdft_kernels import linear_cross_entropy, linear_kl
from sdft_kernels.blas import mlx_cpu_blas_env

pytestmark = pytest.mark.slow

N, H, V = 512, 1536, 151936
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def inputs():
    gen = torch.Generator().manual_seed(0)
    hidden = torch.randn(N, H, generator=gen)
    weight = torch.randn(V, H, generator=gen).mul_(0.02)
    base = hidden + 0.5 * torch.randn(N, H, generator=gen)
    targets = torch.randint(0, V, (N,), generator=gen)
    grad_out = torch.rand(N, generator=gen) + 0.1
    return hidden, weight, base, targets, grad_out


def loss_and_grads(loss, impl, inputs, with_weight):
    hidden, weight, base, targets, grad_out = inputs
    h = hidden.clone().requires_grad_()
    w = weight.detach().requires_grad_(with_weight)
    if loss == "ce":
        out = linear_cross_entropy(h, w, targets, impl=impl)
    else:
        out = linear_kl(h, base, w, impl=impl)
    grads = torch.autograd.grad((out * grad_out).sum(), [h, w] if with_weight else [h])
    return out.detach(), *grads


# Per-position losses: lse is about 12, so fp32 rounding alone is a few 1e-6 in absolute terms
# (KL subtracts two such logsumexps; MLX's full-logits reference is off from float64 by 2e-5
# there); a real mistake is off by the loss itself (KL ~ 0.08).
LOSS_ATOL = {"ce": 1e-4, "kl": 5e-5}


def assert_close_to(actual, expected, tol, atol=None):
    """|actual - expected| <= atol + tol |expected| everywhere; atol defaults to tol x the
    largest expected magnitude. Block by block: torch.testing.assert_close on the 0.9 GB weight
    gradient takes 16 s here, mostly in page faults for its temporaries."""
    atol = tol * expected.abs().max().item() if atol is None else atol
    worst = 0.0
    for start in range(0, expected.shape[0], 8192):
        a, e = actual[start : start + 8192], expected[start : start + 8192]
        bound = e.abs().mul_(tol).add_(atol)
        worst = max(worst, (a - e).abs_().div_(bound).max().item())
    assert worst <= 1.0, f"worst |difference| is {worst:.3g} x the tolerance"


@pytest.mark.parametrize("loss", ["ce", "kl"])
def test_torch_fused_matches_reference_at_real_dims(inputs, loss):
    ref_out, ref_dh, ref_dw = loss_and_grads(loss, "reference", inputs, with_weight=True)
    out, dh, dw = loss_and_grads(loss, "fused", inputs, with_weight=True)
    assert_close_to(out, ref_out, 1e-5, atol=LOSS_ATOL[loss])
    assert_close_to(dh, ref_dh, 1e-4)
    assert_close_to(dw, ref_dw, 1e-4)
    del dw, ref_dw
    # Frozen weight (LoRA training): the hidden-state gradient comes from the forward pass.
    out, dh = loss_and_grads(loss, "fused", inputs, with_weight=False)
    assert_close_to(out, ref_out, 1e-5, atol=LOSS_ATOL[loss])
    assert_close_to(dh, ref_dh, 1e-4)


@pytest.mark.parametrize("loss", ["ce", "kl"])
def test_mlx_fused_matches_reference_at_real_dims(loss):
    if importlib.util.find_spec("mlx") is None:
        pytest.skip("mlx is not installed")
    env = mlx_cpu_blas_env()
    if env is None:
        pytest.skip(
            "no system OpenBLAS: mlx-cpu's bundled BLAS (~4 GFLOP/s) would need many minutes; "
            "install libopenblas0-pthread to run this check"
        )
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    script = Path(__file__).with_name("mlx_real_dims.py")
    command = [sys.executable, str(script), loss]
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(report) == {f"{loss}.{name}" for name in ("loss", "d_hidden", "d_weight")}
    failures = {name: entry for name, entry in report.items() if not entry["worst"] <= 1.0}
    assert not failures, failures
    assert all(entry["scale"] > 0 for entry in report.values())
