"""Pure parts: collation and loss positions, data order and bucketing, the loss bookkeeping,
the schedule and the config. No model is loaded."""

from __future__ import annotations

import numpy as np
import pytest

from sdft_local.errors import ConfigError
from sdft_local.training.batching import DataOrder, collate, epoch_order
from sdft_local.training.config import MLP_TARGETS, TrainConfig, resolve_config
from sdft_local.training.examples import Example
from sdft_local.training.losses import StepTotals
from sdft_local.training.schedule import lr_at

IMG = 99


def example(ids, weights, kinds=None, name="x") -> Example:
    ids = np.asarray(ids, np.int32)
    weights = np.asarray(weights, np.float32)
    kinds = np.where(weights > 0, 2, -1).astype(np.int8) if kinds is None else np.asarray(kinds, np.int8)
    positions = np.tile(np.arange(len(ids), dtype=np.int32), (3, 1))
    return Example(name, ids, weights, kinds, positions, None, None, None, IMG)


def test_collate_indexes_exactly_the_positions_that_count():
    a = example([5, IMG, IMG, 6, 7, 8], [0, 0, 0, 0, 0.5, 0.5])
    b = example([5, 6, 7], [0, 0.3, 0])
    batch = collate([a, b], [0, 1], pad_id=0, pad_to=4)
    assert batch.input_ids.shape == (2, 8)
    assert batch.input_ids[1].tolist() == [5, 6, 7, 0, 0, 0, 0, 0]
    # Position p is scored when token p+1 has weight: a predicts 7 and 8 from 3 and 4; b 6 from 0.
    assert batch.ce_index.tolist() == [3, 4, 8 + 0]
    assert batch.ce_targets.tolist() == [7, 8, 6]
    assert np.allclose(batch.ce_weights, [0.5, 0.5, 0.3])
    # SelfAug positions: weight-0 next token, not an image token, not padding, not the last token.
    assert batch.kl_index.tolist() == [0, 8 + 1]
    assert batch.image_index.tolist() == [1, 2]
    assert batch.tokens == 9 and batch.weight == pytest.approx(1.3)
    assert batch.position_ids[0, 1, 3:].tolist() == [3, 4, 5, 6, 7]


def test_epoch_order_is_a_seeded_permutation_with_length_buckets():
    lengths = [10, 200, 12, 190, 11, 210, 13, 205]
    first = epoch_order(lengths, 2, seed=0, epoch=0)
    assert first == epoch_order(lengths, 2, seed=0, epoch=0)
    assert sorted(i for batch in first for i in batch) == list(range(8))
    assert first != epoch_order(lengths, 2, seed=0, epoch=1)
    padded = sum(2 * max(lengths[i] for i in batch) for batch in first)
    unbucketed = [sum(2 * max(lengths[i] for i in batch) for batch in
                      epoch_order(lengths, 2, seed=s, epoch=0, bucketing=False)) for s in range(5)]
    assert padded == 2 * (11 + 13 + 200 + 210) < min(unbucketed)


@pytest.mark.parametrize("batch_size", [2, 4])
def test_a_contrast_group_shares_its_micro_batch(batch_size):
    groups = [f"g{i // 2}" if i < 12 else None for i in range(17)]  # six pairs, five ungrouped
    lengths = [10 + (i * 7) % 13 for i in range(17)]
    for epoch in range(4):
        for bucketing in (True, False):
            batches = epoch_order(lengths, batch_size, seed=epoch, epoch=epoch, bucketing=bucketing,
                                  groups=groups)
            assert sorted(i for b in batches for i in b) == list(range(17))
            assert all(len(b) <= batch_size for b in batches)
            where = {i: n for n, b in enumerate(batches) for i in b}
            assert all(where[2 * g] == where[2 * g + 1] for g in range(6))
    # The count of micro-batches is the same every epoch, so steps map to batches for any epoch.
    order = DataOrder(lengths, batch_size, seed=1, groups=groups)
    assert {len(epoch_order(lengths, batch_size, 1, e, groups=groups)) for e in range(5)} == {order.per_epoch}


def test_groups_too_large_for_a_micro_batch_are_not_kept_together():
    groups = ["a", "a", "a", None]
    assert epoch_order([5, 6, 7, 8], 2, seed=0, epoch=0, groups=groups) == \
        epoch_order([5, 6, 7, 8], 2, seed=0, epoch=0)


def test_data_order_continues_across_epochs_and_counts_steps():
    order = DataOrder([5, 6, 7, 8, 9], batch_size=2, seed=3)
    assert order.per_epoch == 3
    epoch1 = [order.micro_batch(m) for m in range(3, 6)]
    assert sorted(i for b in epoch1 for i in b) == list(range(5))
    assert order.micro_batch(0) == DataOrder([5, 6, 7, 8, 9], 2, 3).micro_batch(0)
    assert order.total_steps(epochs=2, grad_accum=2) == 3
    assert order.total_steps(epochs=2, grad_accum=2, steps=7) == 7


def test_step_loss_is_weighted_over_all_tokens_not_a_mean_of_means():
    totals = StepTotals()
    # Example 1: two tokens of weight 0.5 with CE 1 and 3; example 2: one token, weight 0.2, CE 10.
    totals.add(np.array([1.0, 3.0]), np.array([0.5, 0.5]), np.array([2, 2]))
    totals.add(np.array([10.0]), np.array([0.2]), np.array([0]))
    assert totals.loss == pytest.approx((0.5 + 1.5 + 2.0) / 1.2)
    assert totals.loss != pytest.approx((2.0 + 10.0) / 2)
    assert totals.turn_loss() == pytest.approx({"caption": 10.0, "entity": 2.0})
    totals.add(np.array([]), np.array([]), np.array([]), kl_sum=0.6, kl_count=3)
    assert totals.kl == pytest.approx(0.2)
    assert totals.objective(0.5) == pytest.approx(totals.loss + 0.1)


def test_schedule_warms_up_then_decays_to_the_floor():
    lrs = [lr_at(s, total=20, peak=1e-3, warmup=4, min_ratio=0.1) for s in range(20)]
    assert lrs[:4] == pytest.approx([2.5e-4, 5e-4, 7.5e-4, 1e-3])
    assert lrs[4] == pytest.approx(1e-3)
    assert lrs[-1] == pytest.approx(1e-4)
    assert all(a >= b for a, b in zip(lrs[4:], lrs[5:]))


def test_config_validates_and_round_trips():
    config = TrainConfig(lora_targets=("q_proj", "down_proj"), selfaug=0.5)
    assert TrainConfig.from_dict(config.to_dict()) == config
    assert config.lora_scale == 2.0
    with pytest.raises(ConfigError, match="lora_rank 0"):
        TrainConfig(lora_rank=0)
    with pytest.raises(ConfigError, match="'lm_head'"):
        TrainConfig(lora_targets=("lm_head",))
    with pytest.raises(ConfigError, match="unknown training setting.*bogus"):
        TrainConfig.from_dict({"bogus": 1})


def test_flags_override_project_settings_override_defaults():
    settings = {"train": {"lora_rank": 4, "learning_rate": 1e-3, "lora_targets": list(MLP_TARGETS)}}
    config = resolve_config(settings, learning_rate=5e-4, steps=None)
    assert (config.lora_rank, config.learning_rate, config.steps) == (4, 5e-4, None)
    assert config.lora_targets == MLP_TARGETS
    assert resolve_config(None).lora_rank == TrainConfig().lora_rank
