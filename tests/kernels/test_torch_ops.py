"""torch fused kernels vs their full-logits references: values and both gradients, small shapes.

Shapes are ragged on purpose (37 positions in chunks of 8, vocabulary 1,000 in chunks of 128) so
every partial-chunk edge is crossed; targets repeat and sit on chunk borders.
"""

import pytest
import torch

from sdft_kernels import linear_cross_entropy, linear_kl
from sdft_kernels.torch_ops import reference_linear_cross_entropy, reference_linear_kl

N, H, V = 37, 16, 1000
CHUNKS = {"chunk_size": 8, "vocab_chunk": 128}
WRT = {"hidden": (True, False), "weight": (False, True), "both": (True, True)}


def make_inputs(dtype, wrt="both", seed=0):
    gen = torch.Generator().manual_seed(seed)
    hidden = torch.randn(N, H, generator=gen).to(dtype)
    weight = (torch.randn(V, H, generator=gen) * 0.4).to(dtype)
    base = (hidden.float() + 0.4 * torch.randn(N, H, generator=gen)).to(dtype)
    targets = torch.randint(0, V, (N,), generator=gen)
    targets[:4] = targets[4]  # the same token at several positions
    targets[5:9] = torch.tensor([0, 127, 128, V - 1])  # chunk borders and both ends
    hidden.requires_grad_(WRT[wrt][0])
    weight.requires_grad_(WRT[wrt][1])
    grad_out = torch.rand(N, generator=gen) + 0.1
    return hidden, weight, base, targets, grad_out


def run(fn, args, grad_out, wrt):
    out = fn(*args)
    grads = torch.autograd.grad((out * grad_out).sum(), wrt)
    return out.detach(), grads


def assert_close_to(actual, expected, tol):
    """Elementwise, relative to the largest expected magnitude: fails on any real mistake."""
    scale = expected.float().abs().max().item()
    torch.testing.assert_close(actual.float(), expected.float(), rtol=tol, atol=tol * scale)


def fused_ce(h, w, t):
    return linear_cross_entropy(h, w, t, impl="fused", **CHUNKS)


def fused_kl(h, b, w):
    return linear_kl(h, b, w, impl="fused", **CHUNKS)


@pytest.mark.parametrize("wrt", ["hidden", "weight", "both"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("loss", ["ce", "kl"])
def test_fused_matches_reference(loss, dtype, wrt):
    hidden, weight, base, targets, grad_out = make_inputs(dtype, wrt)
    leaves = [x for x in (hidden, weight) if x.requires_grad]
    if loss == "ce":
        pair = ((fused_ce, reference_linear_cross_entropy), (hidden, weight, targets))
    else:
        pair = ((fused_kl, reference_linear_kl), (hidden, base, weight))
    (fused, ref), args = pair
    out, grads = run(fused, args, grad_out, leaves)
    ref_out, ref_grads = run(ref, args, grad_out, leaves)
    tol = 1e-5 if dtype == torch.float32 else 1e-2  # bf16: rounding of the returned gradient
    assert out.dtype == torch.float32
    assert_close_to(out, ref_out, 1e-5)
    for grad, ref_grad, leaf in zip(grads, ref_grads, leaves):
        assert grad.dtype == leaf.dtype and grad.shape == leaf.shape
        assert_close_to(grad, ref_grad, tol)


@pytest.mark.parametrize("loss", ["ce", "kl"])
def test_no_grad_path_matches_reference(loss):
    hidden, weight, base, targets, _ = make_inputs(torch.float32)
    with torch.no_grad():
        if loss == "ce":
            out = fused_ce(hidden, weight, targets)
            ref = reference_linear_cross_entropy(hidden, weight, targets)
        else:
            out, ref = fused_kl(hidden, base, weight), reference_linear_kl(hidden, base, weight)
    assert out.grad_fn is None
    assert_close_to(out, ref, 1e-5)


def test_cross_entropy_matches_a_hand_computed_value():
    hidden = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    weight = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    targets = torch.tensor([2, 0])
    expected = torch.tensor([
        torch.logsumexp(torch.tensor([1.0, 0.0, 1.0]), 0) - 1.0,
        torch.logsumexp(torch.tensor([0.0, 2.0, 2.0]), 0) - 0.0,
    ])
    out = linear_cross_entropy(hidden, weight, targets, impl="fused", vocab_chunk=2)
    torch.testing.assert_close(out, expected)


def test_kl_is_zero_for_identical_inputs_and_gradient_vanishes():
    hidden, weight, _, _, grad_out = make_inputs(torch.float32, "both")
    out, (dh, dw) = run(fused_kl, (hidden, hidden.detach(), weight), grad_out, [hidden, weight])
    assert out.abs().max() < 1e-5
    assert dh.abs().max() < 1e-5 and dw.abs().max() < 1e-5


def test_kl_has_no_gradient_through_base_hidden():
    hidden, weight, base, _, grad_out = make_inputs(torch.float32, "hidden")
    base.requires_grad_(True)
    out = fused_kl(hidden, base, weight)
    dh, db = torch.autograd.grad((out * grad_out).sum(), [hidden, base], allow_unused=True)
    assert db is None and dh.abs().max() > 0


@pytest.mark.parametrize("wrt", ["hidden", "both"])
@pytest.mark.parametrize("loss", ["ce", "kl"])
def test_nothing_of_logits_size_is_saved_for_backward(loss, wrt):
    hidden, weight, base, targets, _ = make_inputs(torch.float32, wrt)
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        if loss == "ce":
            fused_ce(hidden, weight, targets)
        else:
            fused_kl(hidden, base, weight)
    inputs = {x.data_ptr() for x in (hidden, weight, base, targets)}
    new = [t for t in saved if t.data_ptr() not in inputs]
    assert saved and all(t.numel() <= N * H for t in new), [tuple(t.shape) for t in new]


@pytest.mark.parametrize("loss", ["ce", "kl"])
def test_caller_autocast_does_not_lower_the_precision(loss):
    hidden, weight, base, targets, grad_out = make_inputs(torch.float32, "hidden")
    if loss == "ce":
        fused, args = fused_ce, (hidden, weight, targets)
    else:
        fused, args = fused_kl, (hidden, base, weight)
    expected, (expected_dh,) = run(fused, args, grad_out, [hidden])
    reference = reference_linear_cross_entropy if loss == "ce" else reference_linear_kl
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, (dh,) = run(fused, args, grad_out, [hidden])
        with torch.no_grad():
            ref = reference(*args)
    for value in (out, ref):
        assert value.dtype == torch.float32
        assert_close_to(value, expected, 1e-5)
    assert_close_to(dh, expected_dh, 1e-5)


def test_no_positions_give_empty_losses_and_zero_gradients():
    hidden, weight, base, _, _ = make_inputs(torch.float32, "both")
    empty, targets = hidden[:0], torch.zeros(0, dtype=torch.long)
    ce, kl = fused_ce(empty, weight, targets), fused_kl(empty, base[:0], weight)
    assert ce.shape == kl.shape == (0,)
    (dw,) = torch.autograd.grad(ce.sum() + kl.sum(), [weight])
    assert dw.shape == weight.shape and not dw.any()
