"""The check's arithmetic, pure numpy: AUROC, recognition accuracies, the McNemar p-value of a
probe family's drop, KL from kept top-k log-probs, top-k selection, and finding a name in free
text. No models, no I/O.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from .report import Recognition


def auroc(positive: Sequence[float], negative: Sequence[float]) -> float | None:
    """P(score of a random positive > score of a random negative), ties counting one half."""
    pos, neg = np.asarray(positive, np.float64), np.asarray(negative, np.float64)
    if len(pos) == 0 or len(neg) == 0:
        return None
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (len(pos) * len(neg)))


def recognition(positive: Sequence[float], negative: Sequence[float]) -> Recognition:
    """Accuracies at P(yes) > 0.5; weighted accuracy is the mean of the two sides."""
    pos_acc = float(np.mean(np.asarray(positive) > 0.5)) if len(positive) else 0.0
    neg_acc = float(np.mean(np.asarray(negative) <= 0.5)) if len(negative) else 0.0
    sides = [a for a, n in ((pos_acc, len(positive)), (neg_acc, len(negative))) if n]
    weighted = float(np.mean(sides)) if sides else 0.0
    return Recognition(pos_acc, neg_acc, weighted, auroc(positive, negative), len(positive), len(negative))


def drop_p_value(lost: int, gained: int) -> float:
    """Exact one-sided McNemar test: how often items that changed answer would split at least this
    badly (`lost` or more of `lost + gained`) if each change were a coin flip. 1.0 with no change."""
    from math import comb

    changed = lost + gained
    return sum(comb(changed, k) for k in range(lost, changed + 1)) / 2.0**changed


def top_k(logprobs: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k largest log-probs of each row (ids int32, values float32), all of them if k >= V."""
    vocab = logprobs.shape[-1]
    if k >= vocab:
        ids = np.broadcast_to(np.arange(vocab, dtype=np.int32), logprobs.shape)
        return np.ascontiguousarray(ids), logprobs.astype(np.float32)
    ids = np.argpartition(-logprobs, k - 1, axis=-1)[..., :k].astype(np.int32)
    return ids, np.take_along_axis(logprobs, ids, axis=-1).astype(np.float32)


def kl_from_top_k(base_ids: np.ndarray, base_lp: np.ndarray, tuned_lp: np.ndarray) -> np.ndarray:
    """Forward KL(base || tuned) per row, from the base's kept ids/log-probs and full tuned rows.

    Tokens outside the kept set are pooled into one tail bucket on both sides. Pooling can only
    lower a KL (log-sum inequality), so this is a lower bound that is exact when the kept set is
    the whole vocabulary or holds all of the base's mass.
    """
    p = np.exp(base_lp.astype(np.float64))
    q_lp = np.take_along_axis(tuned_lp, base_ids.astype(np.int64), axis=-1).astype(np.float64)
    kl = (p * (base_lp - q_lp)).sum(axis=-1)
    if base_ids.shape[-1] >= tuned_lp.shape[-1]:
        return np.maximum(kl, 0.0)
    tail_p = np.clip(1.0 - p.sum(axis=-1), 0.0, 1.0)
    tail_q = np.clip(1.0 - np.exp(q_lp).sum(axis=-1), 1e-30, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        tail = np.where(tail_p > 1e-6, tail_p * (np.log(tail_p) - np.log(tail_q)), 0.0)
    return np.maximum(kl + tail, 0.0)


def mentions(text: str, name: str) -> bool:
    """Whether `name` appears in `text` as a whole word (any case, possessive included)."""
    return re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", text, flags=re.IGNORECASE) is not None


def ratio(tuned: float, base: float) -> float | None:
    return None if base <= 0 else tuned / base


def mean_or_zero(values) -> float:
    values = list(values)
    return float(np.mean(values)) if values else 0.0
