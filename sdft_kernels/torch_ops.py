"""torch: fused chunked output projection + cross-entropy / KL, and the full-logits references.

Owns the math for torch tensors. Logits are produced `chunk_size` positions x `vocab_chunk` tokens
at a time in fp32 (bf16 inputs are upcast chunk by chunk) and reduced with an online logsumexp, so
the (N, V) logits and their gradient never exist.

Gradients, per position n with grad_output g_n, are g_n * (p_n - t_n) @ W for hidden and
sum_n g_n (p_n - t_n)^T h_n for the weight (t_n is the one-hot target, or q_n = p_base for KL).
The hidden-state part is linear in g_n, so when the weight is frozen (LoRA training) the forward
accumulates (p_n - t_n) @ W alongside the logsumexp and the backward only scales it: for CE as
many matmuls as the reference (two), for KL four against three. When the weight needs a gradient
the backward recomputes each logits chunk instead of storing it (CE four matmuls against three,
KL six against four). Autocast is switched off inside: the chunks stay fp32 whatever the caller's
autocast says. Does not own validation or dispatch (`sdft_kernels.api`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch

F32 = torch.float32
# Logits chunk width: 1,024 positions x 8,192 tokens is 32 MB of fp32, large enough for BLAS.
DEFAULT_VOCAB_CHUNK = 8192


# ---------------------------------------------------------------- references


def reference_linear_cross_entropy(
    hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """Plain math: full fp32 logits, then cross-entropy per position."""
    with _fp32(hidden):
        logits = hidden.to(F32) @ weight.to(F32).t()
        return torch.nn.functional.cross_entropy(logits, targets.long(), reduction="none")


def reference_linear_kl(
    hidden: torch.Tensor, base_hidden: torch.Tensor, weight: torch.Tensor
) -> torch.Tensor:
    """Plain math: full fp32 logits for both, KL(p_base || p_tuned) per position."""
    with _fp32(hidden):
        with torch.no_grad():
            base_logp = torch.log_softmax(base_hidden.to(F32) @ weight.to(F32).t(), dim=-1)
        logp = torch.log_softmax(hidden.to(F32) @ weight.to(F32).t(), dim=-1)
        kl = torch.nn.functional.kl_div(logp, base_logp, reduction="none", log_target=True)
        return kl.sum(dim=-1)


# ---------------------------------------------------------------- entry points


def no_positions(hidden: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """The (0,) fp32 loss of an empty selection, still connected to both inputs (zero gradients)."""
    return (hidden.to(F32) @ weight[:1].to(F32).t()).sum(dim=1)


def fused_linear_cross_entropy(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    targets: torch.Tensor,
    chunk_size: int,
    vocab_chunk: int,
) -> torch.Tensor:
    targets = targets.long()
    if _needs_autograd(hidden, weight):
        return _LinearCrossEntropy.apply(hidden, weight, targets, chunk_size, vocab_chunk)
    with torch.no_grad(), _fp32(hidden):
        h32 = hidden.to(F32)
        lse = _logsumexp(h32, weight, chunk_size, vocab_chunk, want_acc=False)[0]
        return lse - _target_logits(h32, weight, targets)


def fused_linear_kl(
    hidden: torch.Tensor,
    base_hidden: torch.Tensor,
    weight: torch.Tensor,
    chunk_size: int,
    vocab_chunk: int,
) -> torch.Tensor:
    if _needs_autograd(hidden, weight):
        return _LinearKL.apply(hidden, base_hidden, weight, chunk_size, vocab_chunk)
    with torch.no_grad(), _fp32(hidden):
        h32, hb32 = hidden.to(F32), base_hidden.to(F32)
        return _kl_forward(h32, hb32, weight, chunk_size, vocab_chunk, want_acc=False).kl


def _needs_autograd(hidden: torch.Tensor, weight: torch.Tensor) -> bool:
    return torch.is_grad_enabled() and (hidden.requires_grad or weight.requires_grad)


def _fp32(tensor: torch.Tensor) -> torch.autocast:
    """Autocast off: under a caller's bf16 autocast the chunk matmuls would lose fp32."""
    return torch.autocast(device_type=tensor.device.type, enabled=False)


# ---------------------------------------------------------------- chunking


def _spans(total: int, size: int) -> list[tuple[int, int]]:
    return [(start, min(start + size, total)) for start in range(0, total, size)]


def _rows_f32(weight: torch.Tensor, v0: int, v1: int) -> torch.Tensor:
    """Rows v0:v1 of the weight in fp32: a view when it is fp32 already, a small copy if bf16."""
    return weight[v0:v1].to(F32)


class _Online:
    """Running max, sum of exp and (optionally) sum of exp-weighted weight rows for some rows.

    After all vocabulary chunks: logsumexp = m + log(s) and softmax @ W = acc / s.
    """

    def __init__(self, like: torch.Tensor, want_acc: bool):
        rows, hidden_size = like.shape
        self.m = torch.full((rows,), float("-inf"), dtype=F32, device=like.device)
        self.s = torch.zeros(rows, dtype=F32, device=like.device)
        self.acc = torch.zeros_like(like, dtype=F32) if want_acc else None

    def update(self, span: tuple[int, int], logits: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """Fold a logits chunk in (it becomes exp(logits - m), in place); returns the rescale."""
        m, s = self.m[span[0] : span[1]], self.s[span[0] : span[1]]
        new_m = torch.maximum(m, logits.amax(dim=1))
        rescale = (m - new_m).exp_()
        logits.sub_(new_m[:, None]).exp_()
        s.mul_(rescale).add_(logits.sum(dim=1))
        if self.acc is not None:
            self.acc[span[0] : span[1]].mul_(rescale[:, None]).addmm_(logits, w)
        m.copy_(new_m)
        return rescale

    def logsumexp(self) -> torch.Tensor:
        return self.m + self.s.log()

    def softmax_at_weight(self) -> torch.Tensor:
        return self.acc / self.s[:, None]


def _logsumexp(
    h32: torch.Tensor, weight: torch.Tensor, chunk_size: int, vocab_chunk: int, want_acc: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """logsumexp of h32 @ W.T per row and, if asked, softmax(h32 @ W.T) @ W."""
    state = _Online(h32, want_acc)
    for v0, v1 in _spans(weight.shape[0], vocab_chunk):
        w = _rows_f32(weight, v0, v1)
        for span in _spans(h32.shape[0], chunk_size):
            state.update(span, torch.mm(h32[span[0] : span[1]], w.t()), w)
    return state.logsumexp(), state.softmax_at_weight() if want_acc else None


def _target_logits(h32: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return (h32 * weight[targets].to(F32)).sum(dim=1)


def _project_back(
    h32: torch.Tensor,
    weight: torch.Tensor,
    grad_logits: Callable[[tuple[int, int], torch.Tensor], torch.Tensor],
    chunks: tuple[int, int],
    need_dh: bool,
    onehot: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> tuple[torch.Tensor | None, torch.Tensor]:
    """dh = G @ W (if asked) and dW = G.T @ h, for G = grad_logits(span, w) chunk by chunk.

    Each chunk of G is recomputed from the inputs, used for both products and dropped. `onehot`
    = (targets, c) subtracts c[n] from row targets[n] of dW, the one-hot part of a CE gradient,
    while the rows are still fp32.
    """
    chunk_size, vocab_chunk = chunks
    dh = torch.zeros_like(h32) if need_dh else None
    dw = torch.empty_like(weight)
    for v0, v1 in _spans(weight.shape[0], vocab_chunk):
        w = _rows_f32(weight, v0, v1)
        dw_rows = dw[v0:v1].zero_() if dw.dtype == F32 else torch.zeros_like(w)
        for c0, c1 in _spans(h32.shape[0], chunk_size):
            g_chunk = grad_logits((c0, c1), w)
            if need_dh:
                dh[c0:c1].addmm_(g_chunk, w)
            dw_rows.addmm_(g_chunk.t(), h32[c0:c1])
        if onehot is not None:
            _subtract_rows(dw_rows, v0, v1, *onehot)
        if dw.dtype != F32:
            dw[v0:v1].copy_(dw_rows)
    return dh, dw


def _subtract_rows(
    rows: torch.Tensor, v0: int, v1: int, targets: torch.Tensor, values: torch.Tensor
) -> None:
    inside = (targets >= v0) & (targets < v1)
    rows.index_add_(0, targets[inside] - v0, values[inside], alpha=-1.0)


# ---------------------------------------------------------------- cross-entropy


class _LinearCrossEntropy(torch.autograd.Function):
    """CE per position. Saves (p - onehot) @ W when only hidden needs a gradient, else the lse."""

    @staticmethod
    def forward(ctx, hidden, weight, targets, chunk_size, vocab_chunk):
        ctx.chunks, ctx.hidden_dtype = (chunk_size, vocab_chunk), hidden.dtype
        need_dw = ctx.needs_input_grad[1]
        with _fp32(hidden):
            h32 = hidden.to(F32)
            lse, soft_w = _logsumexp(h32, weight, chunk_size, vocab_chunk, want_acc=not need_dw)
            target_w = weight[targets].to(F32)
            if need_dw:
                ctx.save_for_backward(hidden, weight, targets, lse)
            else:
                ctx.save_for_backward(soft_w.sub_(target_w))
            return lse - (h32 * target_w).sum(dim=1)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_ce):
        g = grad_ce.to(F32)
        if not ctx.needs_input_grad[1]:
            (dh_unit,) = ctx.saved_tensors
            return (g[:, None] * dh_unit).to(ctx.hidden_dtype), None, None, None, None
        hidden, weight, targets, lse = ctx.saved_tensors
        with _fp32(hidden):
            dh, dw = _ce_backward(hidden.to(F32), weight, targets, lse, g, ctx)
        return dh, dw, None, None, None


def _ce_backward(h32, weight, targets, lse, g, ctx):
    """Both gradients by recomputation: G = g * (softmax - onehot(targets))."""

    def grad_logits(span, w):
        logits = torch.mm(h32[span[0] : span[1]], w.t())
        return logits.sub_(lse[span[0] : span[1], None]).exp_().mul_(g[span[0] : span[1], None])

    need_dh = ctx.needs_input_grad[0]
    onehot = (targets, g[:, None] * h32)
    dh, dw = _project_back(h32, weight, grad_logits, ctx.chunks, need_dh, onehot)
    if need_dh:
        dh = dh.sub_(g[:, None] * weight[targets].to(F32)).to(ctx.hidden_dtype)
    return dh, dw


# ---------------------------------------------------------------- KL


class _KLStats(NamedTuple):
    """Per-row results of the KL forward pass; dh_unit = (p_tuned - p_base) @ W if asked."""

    kl: torch.Tensor
    lse_tuned: torch.Tensor
    lse_base: torch.Tensor
    dh_unit: torch.Tensor | None


def _kl_forward(h32, hb32, weight, chunk_size, vocab_chunk, want_acc) -> _KLStats:
    """KL(p_base || p_tuned) = E_q[l_base - l_tuned] - lse_base + lse_tuned, one vocab pass."""
    rows = h32.shape[0]
    tuned, base = _Online(h32, want_acc), _Online(h32, want_acc)
    cross = torch.zeros_like(base.s)  # sum_v exp(l_base - m_base) * (l_base - l_tuned)
    for v0, v1 in _spans(weight.shape[0], vocab_chunk):
        w = _rows_f32(weight, v0, v1)
        for c0, c1 in _spans(rows, chunk_size):
            tuned_logits, base_logits = torch.mm(h32[c0:c1], w.t()), torch.mm(hb32[c0:c1], w.t())
            diff = base_logits - tuned_logits
            tuned.update((c0, c1), tuned_logits, w)
            rescale = base.update((c0, c1), base_logits, w)
            cross[c0:c1].mul_(rescale).add_(diff.mul_(base_logits).sum(dim=1))
    lse_tuned, lse_base = tuned.logsumexp(), base.logsumexp()
    kl = cross / base.s - lse_base + lse_tuned
    dh_unit = tuned.softmax_at_weight().sub_(base.softmax_at_weight()) if want_acc else None
    return _KLStats(kl, lse_tuned, lse_base, dh_unit)


class _LinearKL(torch.autograd.Function):
    """KL per position; p_base is a constant. Same saving policy as _LinearCrossEntropy."""

    @staticmethod
    def forward(ctx, hidden, base_hidden, weight, chunk_size, vocab_chunk):
        ctx.chunks, ctx.hidden_dtype = (chunk_size, vocab_chunk), hidden.dtype
        need_dw = ctx.needs_input_grad[2]
        with _fp32(hidden):
            h32, hb32 = hidden.to(F32), base_hidden.detach().to(F32)
            stats = _kl_forward(h32, hb32, weight, chunk_size, vocab_chunk, want_acc=not need_dw)
        if need_dw:
            lse = (stats.lse_tuned, stats.lse_base)
            ctx.save_for_backward(hidden, base_hidden.detach(), weight, *lse)
        else:
            ctx.save_for_backward(stats.dh_unit)
        return stats.kl

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_kl):
        g = grad_kl.to(F32)
        if not ctx.needs_input_grad[2]:
            (dh_unit,) = ctx.saved_tensors
            return (g[:, None] * dh_unit).to(ctx.hidden_dtype), None, None, None, None
        with _fp32(grad_kl):
            dh, dw = _kl_backward(*ctx.saved_tensors, g, ctx)
        return dh, None, dw, None, None


def _kl_backward(hidden, base_hidden, weight, lse_tuned, lse_base, g, ctx):
    """Both gradients by recomputation: G = g * (p_tuned - p_base)."""
    h32, hb32 = hidden.to(F32), base_hidden.to(F32)

    def grad_logits(span, w):
        c0, c1 = span
        p = torch.mm(h32[c0:c1], w.t()).sub_(lse_tuned[c0:c1, None]).exp_()
        q = torch.mm(hb32[c0:c1], w.t()).sub_(lse_base[c0:c1, None]).exp_()
        return p.sub_(q).mul_(g[c0:c1, None])

    dh, dw = _project_back(h32, weight, grad_logits, ctx.chunks, ctx.needs_input_grad[0])
    return (None if dh is None else dh.to(ctx.hidden_dtype)), dw
