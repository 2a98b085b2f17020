"""Crash safety and artifacts: a SIGKILLed run resumes from its last checkpoint, atomic folders,
and adapters that load in their own ecosystems (PEFT, mlx-vlm, QLoRA) with the trained weights."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from sdft_local.atomic import write_folder
from sdft_local.training import TrainConfig, TrainFinished, TrainStarted, train
from sdft_local.training.checkpoint import latest_checkpoint, read_adapter

CHILD = """
import json, sys, torch
torch.set_num_threads(1)
from sdft_local.dialogue.types import Dialogue, Turn
from sdft_local.training import TrainConfig, TrainProgress, train
args = json.loads(sys.argv[1])
dialogues = [Dialogue(d["image"], d["entity"], tuple(Turn(**t) for t in d["turns"]), d["variant"])
             for d in args["dialogues"]]
for record in train(dialogues, TrainConfig(**args["config"]), model=args["model"], run_dir=args["run_dir"]):
    if isinstance(record, TrainProgress):
        print(record.step, flush=True)
"""

CONFIG = dict(steps=60, learning_rate=5e-3, batch_size=1, lora_dropout=0.1, checkpoint_every=3,
              warmup_ratio=0.0)


def test_sigkilled_run_resumes_from_its_last_checkpoint(tiny_model_dir, dialogues, tmp_path):
    run_dir = tmp_path / "killed"
    args = {"dialogues": [asdict(d) for d in dialogues], "config": CONFIG, "model": str(tiny_model_dir),
            "run_dir": str(run_dir)}
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), "OMP_NUM_THREADS": "1"}
    child = subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(args)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = time.time() + 120
    while latest_checkpoint(run_dir) is None and child.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL
    killed_at = latest_checkpoint(run_dir).step
    assert 3 <= killed_at < 60 and not (run_dir / "adapter").exists()

    resumed = list(train(dialogues, TrainConfig(**CONFIG), model=tiny_model_dir, run_dir=run_dir, resume=True))
    straight = list(train(dialogues, TrainConfig(**CONFIG), model=tiny_model_dir, run_dir=tmp_path / "straight"))
    assert isinstance(resumed[0], TrainStarted) and resumed[0].start_step == killed_at
    assert resumed[-1].state == "finished" and resumed[-1].steps == 60
    assert resumed[-1].metrics["history"] == pytest.approx(straight[-1].metrics["history"], rel=1e-6)
    assert not list((run_dir / "checkpoints").glob(".*.sdft-*"))


def test_atomic_folder_leaves_old_or_new_never_half(tmp_path):
    target = tmp_path / "adapter"
    write_folder(target, lambda d: (d / "a.txt").write_text("old"))

    def crash(folder):
        (folder / "a.txt").write_text("half")
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        write_folder(target, crash)
    assert (target / "a.txt").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["adapter"]


def _logits_torch(model, processor, dialogue):
    import torch

    from sdft_local.models.chat import build_inputs, to_torch

    inputs = build_inputs(processor, dialogue.messages(), dialogue.image, add_generation_prompt=False)
    with torch.no_grad():
        return model(**to_torch(inputs)).logits[0].numpy()


def _logits_mlx(model, processor, dialogue):
    import mlx.core as mx

    from sdft_local.models.chat import build_inputs, to_mx

    inputs = to_mx(build_inputs(processor, dialogue.messages(), dialogue.image, add_generation_prompt=False))
    out = model(inputs["input_ids"], pixel_values=inputs["pixel_values"], mask=inputs["attention_mask"],
                image_grid_thw=inputs["image_grid_thw"]).logits
    return np.array(out[0].astype(mx.float32))


@pytest.mark.mlx
def test_adapters_load_in_peft_and_mlx_vlm_with_the_trained_weights(tiny_model_dir, dialogues, tmp_path):
    pytest.importorskip("mlx_vlm")
    from peft import PeftModel

    from sdft_local.models.loaders import load_mlx_student, load_torch_student
    from sdft_local.training.mlx_backend import MlxStudent

    config = TrainConfig(steps=3, learning_rate=1e-2, batch_size=2, lora_dropout=0.0, checkpoint_every=0)
    finished = list(train(dialogues, config, model=tiny_model_dir, run_dir=tmp_path / "t"))[-1]
    assert json.loads((Path(finished.adapter_path) / "sdft_train.json").read_text())["config"] == config.to_dict()
    base, processor = load_torch_student(tiny_model_dir)
    before = _logits_torch(base, processor, dialogues[0])
    peft_logits = _logits_torch(PeftModel.from_pretrained(base, finished.adapter_path), processor, dialogues[0])
    assert np.abs(peft_logits - before).max() > 1e-2

    # The same weights through the canonical form into mlx-vlm's format, loaded by mlx-vlm itself.
    weights = read_adapter(finished.adapter_path)
    MlxStudent(tiny_model_dir, config, init=weights).save_adapter(tmp_path / "mlx")
    assert all(np.array_equal(weights[k], v) for k, v in read_adapter(tmp_path / "mlx").items())
    mlx_model, _ = load_mlx_student(tiny_model_dir, adapter=tmp_path / "mlx")
    mlx_logits = _logits_mlx(mlx_model, processor, dialogues[0])
    assert np.abs(mlx_logits - peft_logits).max() <= 1e-4 * np.abs(peft_logits).max()


@pytest.mark.mlx
def test_qlora_trains_on_a_4bit_base_and_reloads_quantized(tiny_model_dir, dialogues, tmp_path):
    pytest.importorskip("mlx_vlm")
    import mlx.nn as nn

    from sdft_local.models.loaders import load_mlx_student

    config = TrainConfig(backend="mlx", qlora_bits=4, steps=4, learning_rate=1e-2, batch_size=4,
                         lora_dropout=0.0, checkpoint_every=0, warmup_ratio=0.0)
    finished = [r for r in train(dialogues, config, model=tiny_model_dir, run_dir=tmp_path / "q")
                if isinstance(r, TrainFinished)][0]
    history = finished.metrics["history"]
    assert history[-1] < history[0]
    saved = json.loads((Path(finished.adapter_path) / "adapter_config.json").read_text())
    assert saved["base_quantization"]["language_model.model.layers.0.self_attn.q_proj"]["bits"] == 4
    model, _ = load_mlx_student(tiny_model_dir, adapter=finished.adapter_path)
    assert isinstance(model.language_model.model.layers[0].self_attn.q_proj.linear, nn.QuantizedLinear)


def test_a_run_stopped_by_its_caller_checkpoints_the_steps_it_did(tiny_model_dir, dialogues, tmp_path):
    from sdft_local.training import TrainConfig, TrainProgress, TrainStarted, train
    from sdft_local.training.checkpoint import latest_checkpoint

    config = TrainConfig(steps=6, batch_size=2, checkpoint_every=0, lora_dropout=0.0)
    records = train(dialogues, config, model=tiny_model_dir, run_dir=tmp_path / "r")
    for record in records:
        if isinstance(record, TrainProgress) and record.step == 3:
            break
    records.close()  # what the app's Escape does
    assert latest_checkpoint(tmp_path / "r").step == 3
    again = list(train(dialogues, config, model=tiny_model_dir, run_dir=tmp_path / "r", resume=True))
    assert [r.start_step for r in again if isinstance(r, TrainStarted)] == [3]
    assert [r.step for r in again if isinstance(r, TrainProgress)] == [4, 5, 6]
