"""Examples → padded micro-batches, the data order, and which positions each loss term uses.

Owns:
- the order: per epoch a seeded shuffle, then length bucketing (sort within windows, shuffle the
  resulting batches), so micro-batch m of a run is a pure function of (seed, m) and a resumed run
  sees exactly the batches an uninterrupted one would;
- `collate`: right padding (with causal attention, padding never changes real positions), the
  flat indices of the positions whose next token has weight > 0 (the only places the output
  projection and the CE are computed), and of the weight-0 text positions SelfAug uses;
- the loss semantics: a step's loss is Σ w·CE / Σ w over every counted token of all its
  micro-batches together — each micro-batch divides by the *step's* total weight, so gradient
  accumulation and batch composition never change the objective, and a long dialogue counts by its
  tokens, not as one example among equals.

It does not touch models or frameworks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .examples import Example

BUCKET_WINDOW = 16  # batches per bucketing window: sort this many batches' worth by length


@dataclass(frozen=True, eq=False)
class Batch:
    """One micro-batch. Flat indices address the (B·T) positions of `input_ids`."""

    indices: tuple[int, ...]      # dataset indices of the examples
    input_ids: np.ndarray         # (B, T) int32, right-padded
    position_ids: np.ndarray      # (3, B, T) int32
    lengths: np.ndarray           # (B,) int32
    image_keys: tuple[str, ...]   # one per image, in order of their tokens
    image_index: np.ndarray       # (I,) flat positions of image tokens, row-major
    ce_index: np.ndarray          # (N,) flat positions whose next token counts
    ce_targets: np.ndarray        # (N,) int32, that next token
    ce_weights: np.ndarray        # (N,) float32, its weight
    ce_kind: np.ndarray           # (N,) int8, its turn kind (index into TURN_KINDS)
    kl_index: np.ndarray          # (M,) flat weight-0 text positions (SelfAug)

    @property
    def tokens(self) -> int:
        return int(self.lengths.sum())

    @property
    def weight(self) -> float:
        return float(self.ce_weights.astype(np.float64).sum())

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.input_ids.shape)


def collate(examples: Sequence[Example], indices: Sequence[int], pad_id: int,
            pad_to: int = 8) -> Batch:
    """Pad `examples` to a common length (a multiple of `pad_to`) and index the loss positions."""
    length = _round_up(max(e.length for e in examples), pad_to)
    ids = np.full((len(examples), length), pad_id, np.int32)
    pos = np.zeros((3, len(examples), length), np.int32)
    for b, e in enumerate(examples):
        ids[b, : e.length] = e.input_ids
        pos[:, b, : e.length] = e.position_ids
        # Padding positions continue the count; they are never attended to or scored.
        pos[:, b, e.length:] = e.position_ids.max() + 1 + np.arange(length - e.length)
    ce, kl = _loss_positions(examples, length)
    return Batch(
        tuple(int(i) for i in indices), ids, pos, np.array([e.length for e in examples], np.int32),
        tuple(e.image_key for e in examples if e.image_key is not None),
        np.flatnonzero(ids.reshape(-1) == examples[0].image_token_id).astype(np.int64),
        *ce, kl,
    )


def _loss_positions(examples: Sequence[Example], length: int):
    ce_index, targets, weights, kinds, kl_index = [], [], [], [], []
    for b, e in enumerate(examples):
        label_w = e.weights[1:]
        counted = np.flatnonzero(label_w > 0)
        ce_index.append(b * length + counted)
        targets.append(e.input_ids[1:][counted])
        weights.append(label_w[counted])
        kinds.append(e.turn_kind[1:][counted])
        text = e.input_ids[:-1] != e.image_token_id
        kl_index.append(b * length + np.flatnonzero((label_w == 0) & text))
    cat = np.concatenate
    return ((cat(ce_index).astype(np.int64), cat(targets).astype(np.int32),
             cat(weights).astype(np.float32), cat(kinds).astype(np.int8)),
            cat(kl_index).astype(np.int64))


def epoch_order(lengths: Sequence[int], batch_size: int, seed: int, epoch: int,
                bucketing: bool = True) -> list[tuple[int, ...]]:
    """The micro-batches of one epoch: seeded shuffle, then sort-within-window length bucketing."""
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(lengths))
    if bucketing:
        window = batch_size * BUCKET_WINDOW
        lengths = np.asarray(lengths)
        order = np.concatenate([
            chunk[np.argsort(lengths[chunk], kind="stable")]
            for chunk in np.array_split(order, max(1, math.ceil(len(order) / window)))
        ])
    batches = [tuple(int(i) for i in order[s: s + batch_size]) for s in range(0, len(order), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))] if bucketing else batches


class DataOrder:
    """Micro-batch m of the run → dataset indices, for any m (epochs repeat with new shuffles)."""

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int, bucketing: bool = True):
        if not len(lengths):
            raise ValueError("no examples to train on")
        self.lengths, self.batch_size, self.seed, self.bucketing = list(lengths), batch_size, seed, bucketing
        self.per_epoch = math.ceil(len(self.lengths) / batch_size)
        self._epochs: dict[int, list[tuple[int, ...]]] = {}

    def micro_batch(self, m: int) -> tuple[int, ...]:
        epoch, pos = divmod(m, self.per_epoch)
        if epoch not in self._epochs:
            self._epochs = {epoch: epoch_order(self.lengths, self.batch_size, self.seed, epoch,
                                               self.bucketing)}
        return self._epochs[epoch][pos]

    def total_steps(self, epochs: float, grad_accum: int, steps: int | None = None) -> int:
        if steps is not None:
            return steps
        return max(1, math.ceil(epochs * self.per_epoch / grad_accum))


def _round_up(n: int, multiple: int) -> int:
    return int(math.ceil(n / multiple) * multiple)
