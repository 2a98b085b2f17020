"""Public entry points: validate the inputs, pick the framework and the implementation.

Owns: argument checking, the `impl` switch (with the `SDFT_KERNEL_IMPL` override of "auto") and
dispatch to `sdft_kernels.torch_ops` or `sdft_kernels.mlx_ops` by the type of `hidden`. Does not
own any math: that lives in the two framework modules, each with its fused path and reference.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import Any

IMPL_ENV = "SDFT_KERNEL_IMPL"
IMPLS = ("auto", "fused", "reference")
DEFAULT_CHUNK_SIZE = 1024


def linear_cross_entropy(
    hidden: Any,
    weight: Any,
    targets: Any,
    *,
    impl: str = "auto",
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    vocab_chunk: int | None = None,
) -> Any:
    """Per-position cross-entropy of `softmax(hidden @ weight.T)` at `targets`, shape (N,), fp32.

    hidden (N, H) and weight (V, H) are fp32 or bf16 (accumulation is fp32 either way); targets
    (N,) are integer token ids. Differentiable w.r.t. hidden and weight. The fused path works on
    `chunk_size` x `vocab_chunk` logits at a time (vocab_chunk None: the framework's default) and
    recomputes them in the backward instead of storing them.
    """
    _check_common(hidden, weight, chunk_size, vocab_chunk)
    _check_targets(hidden, targets)
    ops = _framework(hidden)
    if hidden.shape[0] == 0:
        return ops.no_positions(hidden, weight)
    if resolve_impl(impl) == "reference":
        return ops.reference_linear_cross_entropy(hidden, weight, targets)
    vocab_chunk = ops.DEFAULT_VOCAB_CHUNK if vocab_chunk is None else vocab_chunk
    return ops.fused_linear_cross_entropy(hidden, weight, targets, chunk_size, vocab_chunk)


def linear_kl(
    hidden: Any,
    base_hidden: Any,
    weight: Any,
    *,
    impl: str = "auto",
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    vocab_chunk: int | None = None,
) -> Any:
    """Per-position forward KL(p_base || p_tuned), shape (N,), fp32, temperature 1, full vocabulary.

    p_tuned = softmax(hidden @ weight.T), p_base = softmax(base_hidden @ weight.T). p_base is a
    constant (no gradient through base_hidden, nor through weight on the base side): the result is
    differentiable w.r.t. hidden and, through p_tuned, weight.
    """
    _check_common(hidden, weight, chunk_size, vocab_chunk)
    if tuple(base_hidden.shape) != tuple(hidden.shape):
        raise ValueError(
            f"base_hidden has shape {tuple(base_hidden.shape)} but hidden has "
            f"{tuple(hidden.shape)}: pass the base model's hidden states at the same positions"
        )
    ops = _framework(hidden)
    if hidden.shape[0] == 0:
        return ops.no_positions(hidden, weight)
    if resolve_impl(impl) == "reference":
        return ops.reference_linear_kl(hidden, base_hidden, weight)
    vocab_chunk = ops.DEFAULT_VOCAB_CHUNK if vocab_chunk is None else vocab_chunk
    return ops.fused_linear_kl(hidden, base_hidden, weight, chunk_size, vocab_chunk)


def resolve_impl(impl: str) -> str:
    """The path to run: an explicit "fused"/"reference" wins; "auto" follows $SDFT_KERNEL_IMPL,
    else fused."""
    if impl not in IMPLS:
        raise ValueError(f"impl={impl!r} is not one of {', '.join(IMPLS)}")
    if impl != "auto":
        return impl
    forced = os.environ.get(IMPL_ENV, "").strip().lower()
    if forced in ("", "auto"):
        return "fused"
    if forced not in IMPLS:
        raise ValueError(
            f"{IMPL_ENV}={forced!r} is not one of {', '.join(IMPLS)}; unset it or pick one of those"
        )
    return forced


def _framework(array: Any) -> ModuleType:
    """The ops module for the framework `array` belongs to (imported only now)."""
    module = type(array).__module__.split(".")[0]
    if module == "torch":
        return importlib.import_module("sdft_kernels.torch_ops")
    if module == "mlx":
        return importlib.import_module("sdft_kernels.mlx_ops")
    raise TypeError(
        f"hidden is a {type(array).__module__}.{type(array).__name__}; "
        "pass a torch.Tensor or an mlx.core.array"
    )


def _check_common(hidden: Any, weight: Any, chunk_size: int, vocab_chunk: int | None) -> None:
    if len(hidden.shape) != 2 or len(weight.shape) != 2:
        raise ValueError(
            f"hidden {tuple(hidden.shape)} and weight {tuple(weight.shape)} must both be 2-D: "
            "flatten hidden to (positions, hidden_size); weight is (vocab, hidden_size)"
        )
    if hidden.shape[1] != weight.shape[1]:
        raise ValueError(
            f"hidden size {hidden.shape[1]} does not match weight {tuple(weight.shape)}: "
            "weight must be the output projection laid out (vocab, hidden_size)"
        )
    if type(hidden).__module__.split(".")[0] != type(weight).__module__.split(".")[0]:
        raise TypeError("hidden and weight must come from the same framework (torch or mlx)")
    sizes = {"chunk_size": chunk_size, "vocab_chunk": 1 if vocab_chunk is None else vocab_chunk}
    for name, value in sizes.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name}={value!r} must be a positive integer")


def _check_targets(hidden: Any, targets: Any) -> None:
    if tuple(targets.shape) != (hidden.shape[0],):
        raise ValueError(
            f"targets has shape {tuple(targets.shape)}; expected ({hidden.shape[0]},), "
            "one token id per row of hidden"
        )
    if "int" not in str(targets.dtype):
        raise TypeError(f"targets must hold integer token ids, got dtype {targets.dtype}")
