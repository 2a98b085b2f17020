"""MLX: fused chunked output projection + cross-entropy / KL, and the full-logits references.

Owns the math for mlx arrays. The fused forward is an `mx.custom_function` that works on logits
`chunk_size` positions x `vocab_chunk` tokens at a time (fp32; bf16 inputs upcast per chunk) and
keeps only per-position statistics, merged across vocabulary chunks like the components of a
mixture: the logsumexp, and (softmax - onehot) @ W (KL: (p_tuned - p_base) @ W), which is the
hidden-state gradient for a grad_output of 1. Its explicit VJP scales that by the per-position
grad_output; the weight gradient G.T @ h (G = g * (softmax - onehot), or g * (p_tuned - p_base))
recomputes each logits chunk and, MLX being lazy, runs only when the weight's gradient is asked.

Trade-off: a custom function's outputs are all computed whenever one is used, so forward-only
callers also pay for the gradient statistics (CE: two matmul passes instead of one; KL: four
instead of two). In exchange a training step with a frozen weight costs the same matmuls as the
full-logits reference (KL: four against three) instead of one more pass for a recompute.
Does not own validation or dispatch (`sdft_kernels.api`).
"""

from __future__ import annotations

from functools import lru_cache

import mlx.core as mx

F32 = mx.float32
# MLX allocates the outputs of operations queued ahead of the running one, so about a dozen
# logits chunks can be alive at once: the width sets the peak, hence narrower chunks than
# torch's (measured, CE forward at 512 positions: 48 MB peak with chunks of 2,048 tokens, 96 MB
# with 4,096; CE weight gradient at 1,024 positions (dW left out): 62 MB with 512, 197 MB with
# 2,048, and no slower). At 1,024 positions with a frozen weight, 512 against 2,048 costs about 5%
# of the kernel's time for a lower peak (CE: 77 MB against 122).
DEFAULT_VOCAB_CHUNK = 512


# ---------------------------------------------------------------- references


def reference_linear_cross_entropy(
    hidden: mx.array, weight: mx.array, targets: mx.array
) -> mx.array:
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


def no_positions(hidden: mx.array, weight: mx.array) -> mx.array:
    """The (0,) fp32 loss of an empty selection, still connected to both inputs (zero gradients)."""
    return (hidden.astype(F32) @ weight[:1].astype(F32).T).sum(axis=1)


def fused_linear_cross_entropy(
    hidden: mx.array, weight: mx.array, targets: mx.array, chunk_size: int, vocab_chunk: int
) -> mx.array:
    return _cross_entropy_function(chunk_size, vocab_chunk)(hidden, weight, targets)[0]


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
    (measured, KL forward at 512 x 65,536: 368 MB peak without, 192 MB with).
    """
    return x if previous is None else mx.depends(x, previous)


def _softmax_part(logits: mx.array, w: mx.array, *extra: mx.array) -> tuple:
    """One vocabulary part: (logsumexp, softmax @ W, sum(softmax * e) for each e in extra),
    the softmax taken over this part only; `_merge` combines parts."""
    lse = mx.logsumexp(logits, axis=1)
    p = mx.exp(logits - lse[:, None])
    return (lse, p @ w, *((p * e).sum(axis=1) for e in extra))


def _merge(total: tuple | None, part: tuple) -> tuple:
    """Two vocabulary parts merged like mixture components, weighted exp(lse_part - lse)."""
    if total is None:
        return part
    lse = mx.logaddexp(total[0], part[0])
    mine, theirs = mx.exp(total[0] - lse), mx.exp(part[0] - lse)
    merged = (_scaled(a, mine) + _scaled(b, theirs) for a, b in zip(total[1:], part[1:]))
    return (lse, *merged)


def _scaled(x: mx.array, per_row: mx.array) -> mx.array:
    return x * (per_row if x.ndim == 1 else per_row[:, None])


def _columns(per_chunk: list[tuple]) -> list[mx.array]:
    """Per-row-chunk tuples of statistics -> one array per statistic over all rows."""
    return [mx.concatenate(column) for column in zip(*per_chunk)]


def _weight_gradient(h32: mx.array, grid: _Chunks, grad_logits) -> mx.array:
    """dW = G.T @ h, G built chunk by chunk by grad_logits(hc, c0, c1, w) and dropped.

    Lazy: none of this runs unless the caller asked for the weight's gradient.
    """
    # Written block by block into one buffer (MLX updates it in place): joining the blocks at
    # the end would hold dW twice. No `_after` chain here: it kept the blocks alive (measured,
    # 512 x 65,536: 764 MB peak with, 584 MB without, for a 384 MB dW).
    dw = mx.zeros(grid.weight.shape, dtype=grid.weight.dtype)
    for v0, v1 in grid.vocab:
        w = grid.weight_rows(v0, v1)
        rows = None
        for c0, c1 in grid.rows:
            rows = _add(rows, grad_logits(h32[c0:c1], c0, c1, w).T @ h32[c0:c1])
        dw[v0:v1] = rows.astype(grid.weight.dtype)
    return dw


def _add(total: mx.array | None, part: mx.array) -> mx.array:
    return part if total is None else total + part


# ---------------------------------------------------------------- cross-entropy


def _ce_forward(h32: mx.array, weight: mx.array, targets: mx.array, grid: _Chunks):
    """(ce, (softmax - onehot) @ W) per row: the CE and its hidden-state gradient for g = 1."""
    stats = [None] * len(grid.rows)
    for v0, v1 in grid.vocab:
        w = grid.weight_rows(v0, v1)
        for i, (c0, c1) in enumerate(grid.rows):
            previous = None if stats[i] is None else list(stats[i])
            logits = _after(h32[c0:c1], previous) @ w.T
            stats[i] = _merge(stats[i], _softmax_part(logits, w))
    lse, softmax_w = _columns(stats)
    target_w = weight[targets].astype(F32)
    return lse - (h32 * target_w).sum(axis=1), softmax_w - target_w


@lru_cache(maxsize=16)
def _cross_entropy_function(chunk_size: int, vocab_chunk: int):
    chunks = (chunk_size, vocab_chunk)

    @mx.custom_function
    def cross_entropy(hidden, weight, targets):
        h32 = hidden.astype(F32)
        return _ce_forward(h32, weight, targets, _Chunks(h32.shape[0], weight, chunks))

    @cross_entropy.vjp
    def cross_entropy_vjp(primals, cotangents, outputs):
        hidden, weight, targets = primals
        (ce, dh_unit), g = outputs, cotangents[0].astype(F32)
        dh = (g[:, None] * dh_unit).astype(hidden.dtype)
        dw = _ce_weight_gradient(hidden.astype(F32), weight, targets, ce, g, chunks)
        # Zeros, not None: mlx 0.32 shifts later cotangents when a None sits before them.
        return dh, dw, mx.zeros_like(targets)

    return cross_entropy


def _ce_weight_gradient(h32, weight, targets, ce, g, chunks):
    """dW for G = g * (softmax - onehot(targets)), the logits recomputed chunk by chunk."""
    lse = ce + (h32 * weight[targets].astype(F32)).sum(axis=1)
    gh = g[:, None] * h32

    def grad_logits(hc, c0, c1, w):
        return mx.exp(hc @ w.T - lse[c0:c1, None]) * g[c0:c1, None]

    dw = _weight_gradient(h32, _Chunks(h32.shape[0], weight, chunks), grad_logits)
    # The one-hot part of G touches one weight row per position: subtracted once, in place, at
    # the end. Done per block it needed an (N, H) masked copy of g * h for each block, and the
    # blocks MLX queues ahead each held one (measured at 1,024 x 151,936: 438 MB working memory
    # against 197 MB, same chunks).
    return dw.at[targets].subtract(gh.astype(weight.dtype))


# ---------------------------------------------------------------- KL


def _kl_forward(h32: mx.array, hb32: mx.array, grid: _Chunks):
    """(kl, lse_tuned, lse_base, (p_tuned - p_base) @ W) per row.

    KL(q || p) = E_q[l_base - l_tuned] - lse_base + lse_tuned; every term is a softmax statistic
    that merges across vocabulary parts.
    """
    tuned, base = [None] * len(grid.rows), [None] * len(grid.rows)
    for v0, v1 in grid.vocab:
        w = grid.weight_rows(v0, v1)
        for i, (c0, c1) in enumerate(grid.rows):
            previous = None if base[i] is None else [*tuned[i], *base[i]]
            t_logits, b_logits = (_after(x[c0:c1], previous) @ w.T for x in (h32, hb32))
            tuned[i] = _merge(tuned[i], _softmax_part(t_logits, w))
            base[i] = _merge(base[i], _softmax_part(b_logits, w, b_logits - t_logits))
    (lse_tuned, tuned_w), (lse_base, base_w, cross) = _columns(tuned), _columns(base)
    return cross - lse_base + lse_tuned, lse_tuned, lse_base, tuned_w - base_w


@lru_cache(maxsize=16)
def _kl_function(chunk_size: int, vocab_chunk: int):
    chunks = (chunk_size, vocab_chunk)

    @mx.custom_function
    def kl(hidden, base_hidden, weight):
        h32, hb32 = hidden.astype(F32), base_hidden.astype(F32)
        return _kl_forward(h32, hb32, _Chunks(h32.shape[0], weight, chunks))

    @kl.vjp
    def kl_vjp(primals, cotangents, outputs):
        hidden, base_hidden, weight = primals
        _, lse_tuned, lse_base, dh_unit = outputs
        g = cotangents[0].astype(F32)
        h32, hb32 = hidden.astype(F32), base_hidden.astype(F32)

        def grad_logits(hc, c0, c1, w):
            p = mx.exp(hc @ w.T - lse_tuned[c0:c1, None])
            q = mx.exp(hb32[c0:c1] @ w.T - lse_base[c0:c1, None])
            return (p - q) * g[c0:c1, None]

        dw = _weight_gradient(h32, _Chunks(h32.shape[0], weight, chunks), grad_logits)
        dh = (g[:, None] * dh_unit).astype(hidden.dtype)
        return dh, mx.zeros_like(base_hidden), dw

    return kl
