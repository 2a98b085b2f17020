"""Examples → padded micro-batches, the data order, and which positions each loss term uses.

Owns:
- the order: per epoch a seeded shuffle, then length bucketing (sort within windows, shuffle the
  resulting batches), so micro-batch m of a run is a pure function of (seed, m) and a resumed run
  sees exactly the batches an uninterrupted one would; examples of one contrast group (the same
  photo asked the same question about each name) share a micro-batch, so the answers that differ
  only by the name are learned against each other in one step, not pulled apart steps away;
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
                bucketing: bool = True, groups: Sequence[str | None] | None = None) -> list[tuple[int, ...]]:
    """The micro-batches of one epoch: seeded shuffle, then sort-within-window length bucketing.

    Examples with the same `groups` key go into one micro-batch together; the others are dealt
    into units of the groups' size, so every micro-batch holds `batch_size // size` whole units."""
    rng = np.random.default_rng([seed, epoch])
    units = _units(len(lengths), batch_size, groups, rng)
    order = rng.permutation(len(units))
    per = max(1, batch_size // max(len(u) for u in units))
    if bucketing:
        window = per * BUCKET_WINDOW
        longest = np.array([max(lengths[i] for i in u) for u in units])
        order = np.concatenate([
            chunk[np.argsort(longest[chunk], kind="stable")]
            for chunk in np.array_split(order, max(1, math.ceil(len(order) / window)))
        ])
    batches = [tuple(int(i) for u in order[s: s + per] for i in units[u]) for s in range(0, len(order), per)]
    return [batches[i] for i in rng.permutation(len(batches))] if bucketing else batches


def _units(n: int, batch_size: int, groups, rng) -> list[tuple[int, ...]]:
    """Whole contrast groups, and the ungrouped examples shuffled into units of the same size;
    one example per unit when there are no groups or a group would not fit in a micro-batch."""
    members: dict[str, list[int]] = {}
    for i, key in enumerate(groups or ()):
        if key is not None:
            members.setdefault(key, []).append(i)
    grouped = [tuple(m) for m in members.values() if len(m) > 1]
    size = max((len(g) for g in grouped), default=1)
    if size == 1 or size > batch_size:
        return [(i,) for i in range(n)]
    inside = {i for g in grouped for i in g}
    rest = [i for i in rng.permutation(n).tolist() if i not in inside]
    return grouped + [tuple(rest[s: s + size]) for s in range(0, len(rest), size)]


class DataOrder:
    """Micro-batch m of the run → dataset indices, for any m (epochs repeat with new shuffles)."""

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int, bucketing: bool = True,
                 groups: Sequence[str | None] | None = None):
        if not len(lengths):
            raise ValueError("no examples to train on")
        self.lengths, self.batch_size, self.seed, self.bucketing = list(lengths), batch_size, seed, bucketing
        self.groups = list(groups) if groups is not None else None
        self._epochs: dict[int, list[tuple[int, ...]]] = {0: epoch_order(
            self.lengths, batch_size, seed, 0, bucketing, self.groups)}
        self.per_epoch = len(self._epochs[0])  # the same in every epoch: units never change

    def micro_batch(self, m: int) -> tuple[int, ...]:
        epoch, pos = divmod(m, self.per_epoch)
        if epoch not in self._epochs:
            self._epochs = {epoch: epoch_order(self.lengths, self.batch_size, self.seed, epoch,
                                               self.bucketing, self.groups)}
        return self._epochs[epoch][pos]

    def total_steps(self, epochs: float, grad_accum: int, steps: int | None = None) -> int:
        if steps is not None:
            return steps
        return max(1, math.ceil(epochs * self.per_epoch / grad_accum))


def _round_up(n: int, multiple: int) -> int:
    return int(math.ceil(n / multiple) * multiple)
