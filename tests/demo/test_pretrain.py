"""Pretraining: a resumed run ends with exactly the weights of an uninterrupted one, and the folder loads."""

from __future__ import annotations

import json
import shutil

import pytest

from scripts.pretraining.pretrain import (PretrainConfig, PretrainFinished, PretrainProgressed, VisionProgressed,
                                      build_initial_model, learning_rate, pretrain_demo)

pytestmark = pytest.mark.slow

TINY_RUN = PretrainConfig(vision_steps=2, vision_batch=2, steps=2, batch_size=2, warmup=1, anneal_steps=1,
                          checkpoint_every=1, eval_items=1)


@pytest.fixture(scope="module")
def init_dir(tmp_path_factory):
    return build_initial_model(tmp_path_factory.mktemp("demo-init") / "init")


def _work(tmp_path, name, init_dir):
    work = tmp_path / name
    shutil.copytree(init_dir, work / "init")
    return work


def test_resumed_run_equals_uninterrupted_run(tmp_path, init_dir):
    whole = list(pretrain_demo(tmp_path / "a", _work(tmp_path, "wa", init_dir), TINY_RUN))
    work_b = _work(tmp_path, "wb", init_dir)
    for event in pretrain_demo(tmp_path / "b", work_b, TINY_RUN):
        if isinstance(event, PretrainProgressed):
            break  # interrupted after step 1
    assert not (tmp_path / "b").exists()
    rest = list(pretrain_demo(tmp_path / "b", work_b, TINY_RUN))
    assert [e.step for e in rest if isinstance(e, PretrainProgressed)] == [2]
    assert not any(isinstance(e, VisionProgressed) for e in rest)  # stage 1 was complete
    assert [e.step for e in whole if isinstance(e, VisionProgressed)] == [1, 2]
    weights_a = (tmp_path / "a" / "model.safetensors").read_bytes()
    assert weights_a == (tmp_path / "b" / "model.safetensors").read_bytes()
    assert weights_a != (init_dir / "model.safetensors").read_bytes()
    losses = [e.loss for e in whole if isinstance(e, PretrainProgressed)]
    assert len(losses) == 2 and all(0 < x < 20 for x in losses)
    finished = whole[-1]
    assert isinstance(finished, PretrainFinished)
    report = json.loads((tmp_path / "a" / "pretrain_report.json").read_text())
    assert report["steps"] == 2 and set(report["eval"]["accuracy"]) >= {"colour", "count", "text", "average"}
    assert report["vision_stage"]["steps"] == 2 and "count" in report["vision_stage"]["held_out_head_accuracy"]


def test_vision_targets_follow_the_scene_spec():
    import random

    from sdft_local.world.draw import KINDS
    from scripts.pretraining.vision_warmup import IGNORE, scene_targets
    from sdft_local.world.scene import ITEM_COLORS, POSITIONS, WORDS, make_count, make_objects, make_single, make_word

    rng = random.Random(0)
    count = scene_targets(make_count(rng, n=4))
    assert count.count == 3 and count.colour != IGNORE and count.kind != IGNORE and count.kinds.sum() == 1
    objects = make_objects(rng, n=3)
    t = scene_targets(objects)
    assert t.colour == t.kind == t.position == t.word == IGNORE and t.count == 2
    assert {KINDS[i] for i in t.kinds.nonzero()[0]} == set(objects.kinds)
    assert {ITEM_COLORS[i] for i in t.colours.nonzero()[0]} == {i.color for i in objects.items}
    placed = make_single(rng, position="bottom")
    assert POSITIONS[scene_targets(placed).position] == "bottom"
    word = make_word(rng)
    w = scene_targets(word)
    assert WORDS[w.word] == word.word.text and w.count == IGNORE and w.kinds.sum() == 0


def test_written_folder_loads_with_its_processor(tmp_path, init_dir):
    from sdft_local.models.student import make_student

    list(pretrain_demo(tmp_path / "m", _work(tmp_path, "w", init_dir), PretrainConfig(vision_steps=0, steps=1,
                                                                                     batch_size=1, warmup=1,
                                                                                     eval_items=1)))
    student = make_student(tmp_path / "m", "torch")
    assert len(student.option_logprobs(None, [{"role": "user", "content": "What is two plus two?"}],
                                       ["four", "five"])) == 2


def test_learning_rate_warms_up_then_decays():
    config = PretrainConfig(steps=100, warmup=10, lr=1e-3, min_lr_ratio=0.1, schedule_steps=None, anneal_steps=0)
    lrs = [learning_rate(config, s) for s in range(100)]
    assert lrs[0] == pytest.approx(1e-4) and lrs[9] == pytest.approx(1e-3)
    assert lrs[10] > lrs[50] > lrs[99] >= 1e-4


def test_stopping_early_with_an_anneal_keeps_the_longer_schedule_until_the_anneal():
    long = PretrainConfig(steps=200, warmup=10, schedule_steps=None, anneal_steps=0)
    short = PretrainConfig(steps=120, warmup=10, schedule_steps=200, anneal_steps=20)
    assert [learning_rate(short, s) for s in range(100)] == [learning_rate(long, s) for s in range(100)]
    tail = [learning_rate(short, s) for s in range(100, 120)]
    assert all(a > b for a, b in zip(tail, tail[1:])) and tail[-1] == pytest.approx(short.lr * short.min_lr_ratio)
    with pytest.raises(Exception, match="schedule_steps"):
        PretrainConfig(steps=300, schedule_steps=200)


def test_each_answer_counts_once_whatever_its_length():
    import numpy as np
    import torch

    from scripts.pretraining.pretrain import IGNORE, answer_mean_loss, answer_weights

    labels = np.array([[IGNORE, 5, 6, IGNORE, 7, IGNORE], [1, IGNORE, IGNORE, 2, 3, 4]])
    weights, answers = answer_weights(labels)
    assert answers == 4
    assert weights.ravel().tolist() == pytest.approx([0, 0.5, 0.5, 0, 1, 0, 1, 0, 0, 1 / 3, 1 / 3, 1 / 3])

    class Scripted(torch.nn.Module):
        """Uniform logits over 16 tokens, except a sure prediction of token 3 at position 0."""

        def forward(self, input_ids, **_):
            logits = torch.zeros(*input_ids.shape, 16)
            logits[0, 0, 3] = 100.0
            return type("Out", (), {"logits": logits})()

    # Answers after the shift: positions 0-1 (CE 0 and log 16) and position 3 (log 16).
    batch = {"input_ids": torch.zeros(1, 5, dtype=torch.long), "labels": torch.tensor([[IGNORE, 3, 3, IGNORE, 4]])}
    per_answer = (np.log(16) / 2 + np.log(16)) / 2  # a token mean would give 2/3 log 16
    assert float(answer_mean_loss(Scripted(), batch)) == pytest.approx(per_answer, rel=1e-5)
