"""SelfAug's base pass is computed once per example and then reused: the same run, fewer forwards."""

from __future__ import annotations

import pytest

from sdft_local.training import TrainConfig, TrainFinished, train
from sdft_local.training import torch_backend

BASE_HIDDEN = torch_backend.TorchStudent._base_hidden
CONFIG = dict(backend="torch", lora_dropout=0.0, selfaug=0.5, checkpoint_every=0, warmup_ratio=0.0,
              batch_size=2, epochs=3.0, learning_rate=5e-3)


def _run(dialogues, model, run_dir, monkeypatch, cache_bytes):
    calls = []

    def counting(self, batch, features):
        calls.append(batch.indices)
        return BASE_HIDDEN(self, batch, features)

    monkeypatch.setattr(torch_backend, "BASE_CACHE_BYTES", cache_bytes)
    monkeypatch.setattr(torch_backend.TorchStudent, "_base_hidden", counting)
    done = [r for r in train(dialogues, TrainConfig(**CONFIG), model=model, run_dir=run_dir)
            if isinstance(r, TrainFinished)][-1]
    return done, calls


def test_cached_base_pass_gives_the_same_run_with_a_third_of_the_forwards(dialogues, tiny_model_dir,
                                                                          tmp_path, monkeypatch):
    cached, cached_calls = _run(dialogues, tiny_model_dir, tmp_path / "cached", monkeypatch,
                                torch_backend.BASE_CACHE_BYTES)
    plain, plain_calls = _run(dialogues, tiny_model_dir, tmp_path / "plain", monkeypatch, 0)
    assert cached.steps == plain.steps == 6  # 4 examples, batch 2, 3 epochs
    assert len(plain_calls) == 6 and len(cached_calls) == 2  # the first epoch only
    assert cached.metrics["history"] == pytest.approx(plain.metrics["history"], rel=1e-5)
    assert cached.metrics["history"][-1] < cached.metrics["history"][0]
