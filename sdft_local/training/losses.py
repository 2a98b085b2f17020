"""The training objective, shared by both backends: where the loss kernels are called, and how a
step's numbers are added up.

Owns `token_ce` / `token_kl` (the one place the trainers reach the loss kernels: the output
projection fused with CE or KL, evaluated only at the gathered positions), `objective` (CE + λ·KL,
written once for both backends) and `StepTotals`, the
framework-free bookkeeping of a step: Σ w·CE / Σ w overall and per turn kind, and SelfAug's mean
KL over weight-0 text positions. It does not run models (see `torch_backend.py`, `mlx_backend.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..dialogue.types import TURN_KINDS


def token_ce(hidden, weight, targets, impl: str = "auto"):
    """Per-position CE of softmax(hidden @ weight.T) at `targets` (N,), fp32; torch or MLX."""
    from sdft_kernels import linear_cross_entropy

    return linear_cross_entropy(hidden, weight, targets, impl=impl)


def token_kl(hidden, base_hidden, weight, impl: str = "auto"):
    """Per-position KL(p_base ‖ p_tuned) (N,), fp32; no gradient through the base side."""
    from sdft_kernels import linear_kl

    return linear_kl(hidden, base_hidden, weight, impl=impl)


def objective(hidden, weight, ce_index, targets, ce_weights, total_weight, *, base_hidden=None,
              kl_index=None, selfaug: float = 0.0, total_kl=1, impl: str = "auto"):
    """The training objective of one micro-batch, for torch and MLX arrays alike:
    Σ w·CE / `total_weight`, plus `selfaug` · Σ KL(base ‖ tuned) / `total_kl` at `kl_index` when
    `base_hidden` (the base model's hidden states there, no gradient) is given.

    Returns (loss, per-position CE, Σ KL or None).
    """
    ce = token_ce(hidden[ce_index], weight, targets, impl)
    loss = (ce * ce_weights).sum() / total_weight
    if base_hidden is None:
        return loss, ce, None
    kl_sum = token_kl(hidden[kl_index], base_hidden, weight, impl).sum()
    return loss + selfaug * kl_sum / total_kl, ce, kl_sum


@dataclass
class StepTotals:
    """Sums over the micro-batches of one step (or of an evaluation), turned into losses at the end.

    `loss` is Σ w·CE / Σ w over every counted token together; `turn_loss[kind]` is the same ratio
    restricted to that turn kind's tokens; `kl` is the mean KL over the SelfAug positions.
    """

    weighted_ce: float = 0.0
    weight: float = 0.0
    kind_ce: np.ndarray = field(default_factory=lambda: np.zeros(len(TURN_KINDS)))
    kind_weight: np.ndarray = field(default_factory=lambda: np.zeros(len(TURN_KINDS)))
    kl_sum: float = 0.0
    kl_count: int = 0
    tokens: int = 0

    def add(self, ce: np.ndarray, weights: np.ndarray, kinds: np.ndarray, kl_sum: float = 0.0,
            kl_count: int = 0, tokens: int = 0) -> None:
        wce = ce.astype(np.float64) * weights
        self.weighted_ce += float(wce.sum())
        self.weight += float(weights.astype(np.float64).sum())
        np.add.at(self.kind_ce, kinds.astype(np.int64), wce)
        np.add.at(self.kind_weight, kinds.astype(np.int64), weights)
        self.kl_sum += kl_sum
        self.kl_count += kl_count
        self.tokens += tokens

    @property
    def loss(self) -> float:
        return self.weighted_ce / self.weight if self.weight else float("nan")

    @property
    def kl(self) -> float | None:
        return self.kl_sum / self.kl_count if self.kl_count else None

    def turn_loss(self) -> dict[str, float]:
        return {kind: float(self.kind_ce[i] / self.kind_weight[i])
                for i, kind in enumerate(TURN_KINDS) if self.kind_weight[i] > 0}

    def objective(self, selfaug: float) -> float:
        """The optimized value: weighted CE plus λ · mean KL (when SelfAug is on)."""
        kl = self.kl
        return self.loss + (selfaug * kl if selfaug and kl is not None else 0.0)
