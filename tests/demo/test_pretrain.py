"""Pretraining: a resumed run ends with exactly the weights of an uninterrupted one, and the folder loads."""

from __future__ import annotations

import json
import shutil

import pytest

from sdft_local.demo.pretrain import (PretrainConfig, PretrainFinished, PretrainProgressed, build_initial_model,
                                      learning_rate, pretrain_demo)

pytestmark = pytest.mark.slow

TINY_RUN = PretrainConfig(steps=2, batch_size=2, warmup=1, anneal_steps=1, checkpoint_every=1, eval_items=1)


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
    weights_a = (tmp_path / "a" / "model.safetensors").read_bytes()
    assert weights_a == (tmp_path / "b" / "model.safetensors").read_bytes()
    assert weights_a != (init_dir / "model.safetensors").read_bytes()
    losses = [e.loss for e in whole if isinstance(e, PretrainProgressed)]
    assert len(losses) == 2 and all(0 < x < 20 for x in losses)
    finished = whole[-1]
    assert isinstance(finished, PretrainFinished)
    report = json.loads((tmp_path / "a" / "pretrain_report.json").read_text())
    assert report["steps"] == 2 and set(report["eval"]["accuracy"]) >= {"colour", "count", "text", "average"}


def test_written_folder_loads_with_its_processor(tmp_path, init_dir):
    from sdft_local.models.student import make_student

    list(pretrain_demo(tmp_path / "m", _work(tmp_path, "w", init_dir), PretrainConfig(steps=1, batch_size=1,
                                                                                     warmup=1, anneal_steps=0,
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
