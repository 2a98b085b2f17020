"""MLX: fused chunked output projection + cross-entropy / KL, and the full-logits references.

Owns the math for mlx arrays. The fused forward is an `mx.custom_function` that reduces logits
`chunk_size` positions x `vocab_chunk` tokens at a time with an online logsumexp (fp32, bf16
inputs upcast per chunk) and keeps only per-position statistics; its explicit VJP recomputes each
logits chunk and turns it into both gradients, G @ W for the hidden states and G.T @ h for the
weight, with G = g * (softmax - onehot) for CE and g * (p_tuned - p_base) for KL. MLX is lazy:
when only the hidden states are differentiated, the weight-gradient half of the graph is never
evaluated. Unlike the torch path, the forward does not also accumulate the hidden-state
gradient: a custom function's outputs are all computed whenever one is used, so forward-only
callers (checks, evaluation) would pay for it. Does not own validation or dispatch
(`sdft_kernels.api`).
"""

from __future__ import annotations

from functools import lru_cache

import mlx.core as mx

F32 = mx.float32
# MLX allocates the outputs of operations queued ahead of the running one, so a dozen logits
# chunks can be alive at once (measured, CE forward at 512 positions: 48 MB peak with chunks of
# 2,048 tokens, 96 MB with 4,096): the width sets the peak, hence narrower chunks than torch's.
DEFAULT_VOCAB_CHUNK = 2048


# ---------------------------------------------------------------- references


def reference_linear_cross_entropy(hidden: mx.array, weight: mx.array, targets: mx.array) -> mx.array:
    """Plain math: full fp32 logits, then cross-entropy per position."""
    logits = hidden.astype(F32) @ weight.astype(F32).T
    target_logits = mx.take_along_axis(logits, targets[:, None], axis=1)[:, 0]
    return mx.logsumexp(logits, axis=1) - target_logits


def reference_linear_kl(hidden: mx.array, base_hidden: mx.array, weight: mx.array) -> mx.array:
    """Plain math: full fp32 logits for both, KL(p_base || p_tuned) per position."""
    w = weight.astype(F32)
    base_logp = mx.stop_gradient(_log_softmax(base_hidden.astype(F32) @ w.T))
    logp = _log_softmax(hidden.astype(F32) @ w.T)
    return (mx.exp(base_logp) * (base_logp - logp)).sum(axis=1)


def _log_softmax(logits: mx.array) -> mx.array:
    return logits - mx.logsumexp(logits, axis=1, keepdims=True)


# ---------------------------------------------------------------- entry points


def fused_linear_cross_entropy(
    hidden: mx.array, weight: mx.array, targets: mx.array, chunk_size: int, vocab_chunk: int
) -> mx.array:
    return _cross_entropy_function(chunk_size, vocab_chunk)(hidden, weight, targets)


def fused_linear_kl(
    hidden: mx.array, base_hidden: mx.array, weight: mx.array, chunk_size: int, vocab_chunk: int
) -> mx.array:
    base_hidden = mx.stop_gradient(base_hidden)
    return _kl_function(chunk_size, vocab_chunk)(hidden, base_hidden, weight)[0]


# ---------------------------------------------------------------- chunking


def _spans(total: int, size: int) -> list[tuple[int, int]]:
    return [(start, min(start + size, total)) for start in range(0, total, size)]


class _Chunks:
    """The position spans and vocabulary spans of one call, and fp32 blocks of weight rows."""

    def __init__(self, rows: int, weight: mx.array, chunks: tuple[int, int]):
        self.weight = weight
        self.rows = _spans(rows, chunks[0])
        self.vocab = _spans(weight.shape[0], chunks[1])

    def weight_rows(self, v0: int, v1: int) -> mx.array:
        return self.weight[v0:v1].astype(F32)


def _after(x: mx.array, previous) -> mx.array:
    """x, made to wait for `previous`, so chunk k+1 is not computed before chunk k is reduced.

    Left alone, MLX may run the independent matmuls of many chunks before their reductions
    (measured, KL forward at 512 x 65,536: 368 MB peak without, 192 MB with). In the backward
    the chain runs through the hidden-state gradient: asking for the weight gradient alone then
    evaluates dh as well, a matmul that no LoRA trainer avoids anyway.
    """
    return x if previous is None else mx.depends(x, previous)


def _online_logsumexp(h32: mx.array, grid: _Chunks) -> mx.array:
    """logsumexp of h32 @ W.T per row, one vocabulary chunk at a time."""
    lse = [None] * len(grid.rows)
    for v0, v1 in grid.vocab:
        w = grid.weight_rows(v0, v1)
        for i, (c0, c1) in enumerate(grid.rows):
            part = mx.logsumexp(_after(h32[c0:c1], lse[i]) @ w.T, axis=1)
            lse[i] = part if lse[i] is None else mx.logaddexp(lse[i], part)
    return mx.concatenate(lse)


def _project_back(h32: mx.array, grid: _Chunks, grad_logits, fix_rows=None):
    """dh = G @ W and dW = G.T @ h (fp32), G built chunk by chunk by grad_logits(hc, c0, c1, w).

    `fix_rows(rows, v0, v1)` may adjust each fp32 block of dW before it is cast and written.
    """
    dh = [None] * len(grid.rows)
    dw = mx.zeros(grid.weight.shape, dtype=grid.weight.dtype)
    for v0, v1 in grid.vocab:
        w = grid.weight_rows(v0, v1)
        rows = None
        for i, (c0, c1) in enumerate(grid.rows):
            g_chunk = grad_logits(_after(h32[c0:c1], dh[i]), c0, c1, w)
            dh[i] = _add(dh[i], g_chunk @ w)
            rows = _add(rows, g_chunk.T @ h32[c0:c1])
        rows = rows if fix_rows is None else fix_rows(rows, v0, v1)
        dw[v0:v1] = rows.astype(grid.weight.dtype)
    return mx.concatenate(dh), dw


def _add(total: mx.array | None, part: mx.array) -> mx.array:
    return part if total is None else total + part


# ---------------------------------------------------------------- cross-entropy


def _target_logits(h32: mx.array, weight: mx.array, targets: mx.array) -> mx.array:
    return (h32 * weight[targets].astype(F32)).sum(axis=1)


@lru_cache(maxsize=16)
def _cross_entropy_function(chunk_size: int, vocab_chunk: int):
    chunks = (chunk_size, vocab_chunk)

    @mx.custom_function
    def cross_entropy(hidden, weight, targets):
        h32 = hidden.astype(F32)
        lse = _online_logsumexp(h32, _Chunks(h32.shape[0], weight, chunks))
        return lse - _target_logits(h32, weight, targets)

    @cross_entropy.vjp
    def cross_entropy_vjp(primals, cotangent, output):
        hidden, weight, targets = primals
        dh, dw = _ce_gradients(hidden, weight, targets, output, cotangent, chunks)
        # Zeros, not None: mlx 0.32 shifts later cotangents when a None sits before them.
        return dh, dw, mx.zeros_like(targets)

    return cross_entropy


def _ce_gradients(hidden, weight, targets, ce, cotangent, chunks):
    h32, g = hidden.astype(F32), cotangent.astype(F32)
    target_w = weight[targets].astype(F32)
    lse = ce + (h32 * target_w).sum(axis=1)
    grid = _Chunks(h32.shape[0], weight, chunks)
    gh = g[:, None] * h32

    def grad_logits(hc, c0, c1, w):
        return mx.exp(hc @ w.T - lse[c0:c1, None]) * g[c0:c1, None]

    def fix_rows(rows, v0, v1):
        # The one-hot part of G touches one weight row per position: subtract it directly.
        local = targets - v0
        inside = (local >= 0) & (local < v1 - v0)
        return rows.at[mx.where(inside, local, 0)].subtract(mx.where(inside[:, None], gh, 0.0))

    dh, dw = _project_back(h32, grid, grad_logits, fix_rows)
    return (dh - g[:, None] * target_w).astype(hidden.dtype), dw


# ---------------------------------------------------------------- KL


def _kl_statistics(h32: mx.array, hb32: mx.array, grid: _Chunks):
    """(kl, lse_tuned, lse_base) with KL = E_q[l_base - l_tuned] - lse_base + lse_tuned.

    Each vocabulary chunk contributes its own logsumexp and its expectation under the chunk's
    local softmax; chunks merge like the parts of a mixture, weighted by exp(lse_part - lse).
    """
    stats = [None] * len(grid.rows)
    for v0, v1 in grid.vocab:
        w = grid.weight_rows(v0, v1)
        for i, (c0, c1) in enumerate(grid.rows):
            previous = None if stats[i] is None else list(stats[i])
            tuned, base = (_after(x[c0:c1], previous) @ w.T for x in (h32, hb32))
            stats[i] = _merge_kl(stats[i], _kl_part(tuned, base))
    lse_tuned, lse_base, cross = (mx.concatenate(column) for column in zip(*stats))
    return cross - lse_base + lse_tuned, lse_tuned, lse_base


def _kl_part(tuned: mx.array, base: mx.array):
    lse_base = mx.logsumexp(base, axis=1)
    cross = (mx.exp(base - lse_base[:, None]) * (base - tuned)).sum(axis=1)
    return mx.logsumexp(tuned, axis=1), lse_base, cross


def _merge_kl(total, part):
    if total is None:
        return part
    lse_base = mx.logaddexp(total[1], part[1])
    cross = total[2] * mx.exp(total[1] - lse_base) + part[2] * mx.exp(part[1] - lse_base)
    return mx.logaddexp(total[0], part[0]), lse_base, cross


@lru_cache(maxsize=16)
def _kl_function(chunk_size: int, vocab_chunk: int):
    chunks = (chunk_size, vocab_chunk)

    @mx.custom_function
    def kl(hidden, base_hidden, weight):
        h32, hb32 = hidden.astype(F32), base_hidden.astype(F32)
        # The two logsumexps ride along as outputs so the VJP need not recompute them.
        return _kl_statistics(h32, hb32, _Chunks(h32.shape[0], weight, chunks))

    @kl.vjp
    def kl_vjp(primals, cotangents, outputs):
        hidden, base_hidden, weight = primals
        h32, hb32, g = hidden.astype(F32), base_hidden.astype(F32), cotangents[0].astype(F32)
        _, lse_tuned, lse_base = outputs

        def grad_logits(hc, c0, c1, w):
            p = mx.exp(hc @ w.T - lse_tuned[c0:c1, None])
            q = mx.exp(mx.depends(hb32[c0:c1], hc) @ w.T - lse_base[c0:c1, None])
            return (p - q) * g[c0:c1, None]

        dh, dw = _project_back(h32, _Chunks(h32.shape[0], weight, chunks), grad_logits)
        return dh.astype(hidden.dtype), mx.zeros_like(base_hidden), dw

    return kl
