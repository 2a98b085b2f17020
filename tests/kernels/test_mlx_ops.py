"""MLX fused kernels vs their full-logits references: values, both gradients, memory; small shapes.

Shapes are ragged on purpose (37 positions in chunks of 8, vocabulary 1,000 in chunks of 128);
targets repeat and sit on chunk borders.
"""

import numpy as np
import pytest

mx = pytest.importorskip("mlx.core")

from sdft_kernels import IMPL_ENV, linear_cross_entropy, linear_kl  # noqa: E402
from sdft_kernels.mlx_ops import reference_linear_cross_entropy, reference_linear_kl  # noqa: E402

N, H, V = 37, 16, 1000
CHUNKS = {"chunk_size": 8, "vocab_chunk": 128}
ARGNUMS = {"hidden": 0, "weight": 1, "both": (0, 1)}


def make_inputs(dtype, seed=0):
    key = mx.random.key(seed)
    k1, k2, k3, k4, k5 = mx.random.split(key, 5)
    hidden = mx.random.normal((N, H), key=k1).astype(dtype)
    weight = (0.4 * mx.random.normal((V, H), key=k2)).astype(dtype)
    base = (hidden.astype(mx.float32) + 0.4 * mx.random.normal((N, H), key=k3)).astype(dtype)
    targets = np.array(mx.random.randint(0, V, (N,), key=k4))
    targets[:4] = targets[4]  # the same token at several positions
    targets[5:9] = [0, 127, 128, V - 1]  # chunk borders and both ends
    grad_out = mx.random.uniform(shape=(N,), key=k5) + 0.1
    return hidden, weight, base, mx.array(targets), grad_out


def value_and_grads(loss_fn, args, grad_out, wrt):
    """loss_fn(hidden, weight) -> (N,); returns the values and the gradients asked for."""

    def objective(hidden, weight):
        out = loss_fn(hidden, weight)
        return (out * grad_out).sum(), out

    (_, out), grads = mx.value_and_grad(objective, argnums=ARGNUMS[wrt])(*args)
    grads = grads if isinstance(grads, tuple) else (grads,)
    mx.eval(out, grads)
    return out, grads


def assert_close_to(actual, expected, tol):
    """Elementwise, relative to the largest expected magnitude."""
    a, e = np.array(actual.astype(mx.float32)), np.array(expected.astype(mx.float32))
    np.testing.assert_allclose(a, e, rtol=tol, atol=tol * np.abs(e).max())


def loss_pair(loss, targets, base):
    if loss == "ce":
        return (
            lambda h, w: linear_cross_entropy(h, w, targets, impl="fused", **CHUNKS),
            lambda h, w: reference_linear_cross_entropy(h, w, targets),
        )
    return (
        lambda h, w: linear_kl(h, base, w, impl="fused", **CHUNKS),
        lambda h, w: reference_linear_kl(h, base, w),
    )


@pytest.mark.parametrize("wrt", ["hidden", "weight", "both"])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
@pytest.mark.parametrize("loss", ["ce", "kl"])
def test_fused_matches_reference(loss, dtype, wrt):
    hidden, weight, base, targets, grad_out = make_inputs(getattr(mx, dtype))
    fused, ref = loss_pair(loss, targets, base)
    out, grads = value_and_grads(fused, (hidden, weight), grad_out, wrt)
    ref_out, ref_grads = value_and_grads(ref, (hidden, weight), grad_out, wrt)
    assert out.dtype == mx.float32
    assert_close_to(out, ref_out, 1e-5)
    leaves = [x for i, x in enumerate((hidden, weight)) if wrt in ("both", ("hidden", "weight")[i])]
    tol = 1e-5 if dtype == "float32" else 1e-2  # bf16: rounding of the returned gradient
    for grad, ref_grad, leaf in zip(grads, ref_grads, leaves):
        assert grad.dtype == leaf.dtype and grad.shape == leaf.shape
        assert_close_to(grad, ref_grad, tol)


@pytest.mark.parametrize("loss", ["ce", "kl"])
def test_forward_only_matches_reference(loss):
    hidden, weight, base, targets, _ = make_inputs(mx.float32)
    fused, ref = loss_pair(loss, targets, base)
    assert_close_to(fused(hidden, weight), ref(hidden, weight), 1e-5)


def test_kl_is_zero_for_identical_inputs_and_has_no_base_gradient():
    hidden, weight, _, _, grad_out = make_inputs(mx.float32)

    def objective(h, b, w):
        return (linear_kl(h, b, w, impl="fused", **CHUNKS) * grad_out).sum()

    value, (dh, db, dw) = mx.value_and_grad(objective, argnums=(0, 1, 2))(hidden, hidden, weight)
    assert abs(value.item()) < 1e-5
    assert mx.abs(dh).max().item() < 1e-5 and mx.abs(dw).max().item() < 1e-5
    shifted = hidden + 0.5
    _, (dh, db, dw) = mx.value_and_grad(objective, argnums=(0, 1, 2))(shifted, hidden, weight)
    assert mx.abs(dh).max().item() > 1e-3 and mx.abs(db).max().item() == 0.0


@pytest.mark.parametrize("impl", ["fused", "reference"])
def test_env_switch_and_peak_memory(monkeypatch, impl):
    """Forcing a path through the environment shows in memory: only the reference holds logits."""
    monkeypatch.setenv(IMPL_ENV, impl)
    n, v = 64, 100_000
    hidden = mx.random.normal((n, 32))
    weight, targets = 0.1 * mx.random.normal((v, 32)), mx.random.randint(0, v, (n,))
    mx.eval(hidden, weight, targets)
    mx.clear_cache()
    mx.reset_peak_memory()
    start = mx.get_active_memory()
    def total(h):
        return linear_cross_entropy(h, weight, targets, vocab_chunk=1024).sum()

    grad = mx.grad(total)(hidden)
    mx.eval(grad)
    logits_bytes = n * v * 4
    peak = mx.get_peak_memory() - start
    assert (peak < logits_bytes / 4) if impl == "fused" else (peak > logits_bytes)


@pytest.mark.parametrize("loss", ["ce", "kl"])
def test_mlx_and_torch_agree_on_the_same_numbers(loss):
    torch = pytest.importorskip("torch")
    hidden, weight, base, targets, grad_out = make_inputs(mx.float32)
    as_torch = [torch.tensor(np.array(x)) for x in (hidden, weight, base, targets, grad_out)]
    th, tw, tb, tt, tg = as_torch
    th.requires_grad_()
    tw.requires_grad_()
    if loss == "ce":
        out = linear_cross_entropy(th, tw, tt, impl="reference")
    else:
        out = linear_kl(th, tb, tw, impl="reference")
    dh, dw = torch.autograd.grad((out * tg).sum(), [th, tw])
    fused, _ = loss_pair(loss, targets, base)
    mlx_out, (mlx_dh, mlx_dw) = value_and_grads(fused, (hidden, weight), grad_out, "both")
    for ours, theirs in ((mlx_out, out), (mlx_dh, dh), (mlx_dw, dw)):
        assert_close_to(ours, mx.array(theirs.detach().numpy()), 1e-5)


def test_no_positions_give_empty_losses():
    hidden, weight, base, _, _ = make_inputs(mx.float32)
    targets = mx.zeros((0,), dtype=mx.int32)
    ce = linear_cross_entropy(hidden[:0], weight, targets, impl="fused", **CHUNKS)
    kl = linear_kl(hidden[:0], base[:0], weight, impl="fused", **CHUNKS)
    assert ce.shape == kl.shape == (0,)
    dh, dw = mx.grad(lambda h, w: linear_cross_entropy(h, w, targets).sum(), argnums=(0, 1))(
        hidden[:0], weight
    )
    assert dh.shape == (0, H) and dw.shape == weight.shape and mx.abs(dw).max().item() == 0
