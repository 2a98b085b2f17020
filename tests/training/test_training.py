"""Whole runs: learning on both backends, exact resume, the image-feature cache, gradient
accumulation and checkpointing, non-finite losses, and adapters loading in their ecosystems."""

from __future__ import annotations

import numpy as np
import pytest

from sdft_local.errors import TrainingError
from sdft_local.training import TrainConfig, TrainFinished, TrainProgress, evaluate, train
from sdft_local.training.checkpoint import latest_checkpoint, read_adapter

FAST = dict(lora_dropout=0.0, checkpoint_every=0, warmup_ratio=0.0)


def run(dialogues, model, run_dir, stop_after: int | None = None, resume=False, **config):
    """Train and return (progress records, finished record or None when stopped early)."""
    progress, finished = [], None
    records = train(dialogues, TrainConfig(**config), model=model, run_dir=run_dir, resume=resume)
    for record in records:
        if isinstance(record, TrainProgress):
            progress.append(record)
            if stop_after is not None and record.step == stop_after:
                records.close()
                break
        elif isinstance(record, TrainFinished):
            finished = record
    return progress, finished


@pytest.mark.parametrize("backend", ["torch", pytest.param("mlx", marks=pytest.mark.mlx)])
def test_training_halves_the_weighted_loss(backend, learnable_model_dir, dialogues, tmp_path):
    if backend == "mlx":
        pytest.importorskip("mlx_vlm")
    config = dict(backend=backend, steps=12, learning_rate=1e-2, batch_size=4, **FAST)
    before = evaluate(dialogues, TrainConfig(**config), model=learnable_model_dir)
    progress, finished = run(dialogues, learnable_model_dir, tmp_path / "run", **config)
    after = evaluate(dialogues, TrainConfig(**config), model=learnable_model_dir,
                     adapter=finished.adapter_path)
    assert after.loss <= 0.5 * before.loss, (before.loss, after.loss)
    assert all(after.turn_loss[k] < before.turn_loss[k] for k in before.turn_loss)
    assert progress[0].loss == pytest.approx(before.loss, rel=1e-4)
    assert finished.metrics["vision_computed"] == 2  # two photos, four dialogues, twelve steps


def test_resume_continues_exactly(tiny_model_dir, dialogues, tmp_path):
    # Dropout on: the resumed run must also restore the RNG to draw the same masks.
    config = dict(steps=20, learning_rate=5e-3, batch_size=1, lora_dropout=0.1, checkpoint_every=5)
    straight, done = run(dialogues, tiny_model_dir, tmp_path / "a", **config)
    first, _ = run(dialogues, tiny_model_dir, tmp_path / "b", stop_after=12, **config)
    assert latest_checkpoint(tmp_path / "b").step == 12  # a stopped run keeps the steps it did
    rest, resumed = run(dialogues, tiny_model_dir, tmp_path / "b", resume=True, **config)
    assert [p.step for p in rest] == list(range(13, 21))
    assert resumed.metrics["history"] == pytest.approx(done.metrics["history"], rel=1e-6, abs=1e-7)
    assert [p.loss for p in first[:12]] == pytest.approx(resumed.metrics["history"][:12], rel=1e-6)
    a, b = read_adapter(tmp_path / "a" / "adapter"), read_adapter(tmp_path / "b" / "adapter")
    assert all(np.allclose(a[k], b[k], rtol=1e-5, atol=1e-7) for k in a)
    assert np.abs(a["layers.0.self_attn.q_proj.lora_B"]).max() > 1e-3


def test_image_features_cached_per_photo_give_identical_results(tiny_model_dir, dialogues, tmp_path):
    config = dict(steps=4, learning_rate=5e-3, batch_size=2, **FAST)
    _, cached = run(dialogues, tiny_model_dir, tmp_path / "c", cache_vision=True, **config)
    _, fresh = run(dialogues, tiny_model_dir, tmp_path / "f", cache_vision=False, **config)
    assert cached.metrics["history"] == fresh.metrics["history"]
    assert (cached.metrics["vision_computed"], fresh.metrics["vision_computed"]) == (2, 8)


def test_gradient_accumulation_matches_one_big_batch(tiny_model_dir, dialogues, tmp_path):
    _, big = run(dialogues, tiny_model_dir, tmp_path / "big", steps=1, batch_size=4, **FAST)
    _, acc = run(dialogues, tiny_model_dir, tmp_path / "acc", steps=1, batch_size=2, grad_accum=2, **FAST)
    assert acc.metrics["history"] == pytest.approx(big.metrics["history"], rel=1e-6)
    a, b = read_adapter(tmp_path / "big" / "adapter"), read_adapter(tmp_path / "acc" / "adapter")
    assert all(np.allclose(a[k], b[k], rtol=1e-4, atol=1e-6) for k in a)


@pytest.mark.parametrize("backend", ["torch", pytest.param("mlx", marks=pytest.mark.mlx)])
def test_gradient_checkpointing_changes_nothing(backend, tiny_model_dir, dialogues, tmp_path):
    if backend == "mlx":
        pytest.importorskip("mlx_vlm")
    config = dict(backend=backend, steps=2, learning_rate=5e-3, batch_size=2, **FAST)
    _, plain = run(dialogues, tiny_model_dir, tmp_path / "p", **config)
    _, ckpt = run(dialogues, tiny_model_dir, tmp_path / "k", grad_checkpoint=True, **config)
    assert ckpt.metrics["history"] == pytest.approx(plain.metrics["history"], rel=1e-6)
    a, b = read_adapter(tmp_path / "p" / "adapter"), read_adapter(tmp_path / "k" / "adapter")
    assert all(np.allclose(a[k], b[k], rtol=1e-5, atol=1e-7) for k in a)


def test_non_finite_gradient_norm_is_named_and_the_weights_keep_their_step(tiny_model_dir, dialogues, tmp_path,
                                                                          monkeypatch):
    import json
    import math

    from sdft_local.training.torch_backend import TorchStudent

    real, calls = TorchStudent.apply_update, []

    def update(self, lr):  # the second update meets a NaN gradient: nothing is applied
        calls.append(lr)
        if len(calls) == 2:
            self.discard_grads()
            return math.nan
        return real(self, lr)

    monkeypatch.setattr(TorchStudent, "apply_update", update)
    records = []
    with pytest.raises(TrainingError) as err:
        for record in train(dialogues, TrainConfig(steps=5, learning_rate=1e-2, batch_size=2, **FAST),
                            model=tiny_model_dir, run_dir=tmp_path / "nan-norm"):
            records.append(record)
    message = err.value.message
    assert "non-finite at step 2: the gradient norm was nan" in message and "was finite" in message
    assert "weights after step 1" in message
    finished = records[-1]
    assert finished.state == "failed" and finished.steps == 1
    saved = json.loads((tmp_path / "nan-norm" / "adapter" / "sdft_train.json").read_text())
    assert saved["step"] == 1
    kept = read_adapter(finished.adapter_path)
    assert any(v.any() for k, v in kept.items() if k.endswith("lora_B"))  # step 1's update is kept


def test_non_finite_loss_stops_and_keeps_the_last_good_weights(tiny_model_dir, dialogues, tmp_path):
    # A huge learning rate: step 1 is finite, its update overflows, step 2's loss is NaN.
    records = []
    with pytest.raises(TrainingError, match="non-finite at step 2"):
        for record in train(dialogues, TrainConfig(steps=5, learning_rate=1e30, batch_size=2, **FAST),
                            model=tiny_model_dir, run_dir=tmp_path / "nan"):
            records.append(record)
    finished = records[-1]
    assert isinstance(finished, TrainFinished) and finished.state == "failed"
    kept = read_adapter(finished.adapter_path)
    # The weights after the overflowing update are gone: what is kept scored a finite loss.
    assert all(np.isfinite(v).all() for v in kept.values())
    assert all(not v.any() for k, v in kept.items() if k.endswith("lora_B"))
    assert np.isfinite(evaluate(dialogues, TrainConfig(), model=tiny_model_dir, adapter=finished.adapter_path).loss)
