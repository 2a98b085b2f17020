"""Loading the tiny model with transformers and mlx-vlm, and their logits parity on image+text."""

from __future__ import annotations

import numpy as np
import pytest

from sdft_local.errors import ConfigError, ModelError
from sdft_local.models.chat import build_inputs, to_mx, to_torch
from tests.models.conftest import make_photo

MESSAGES = [{"role": "user", "content": "Is there a dog in this photo?"}]


@pytest.fixture(scope="module")
def torch_student(tiny_model_dir):
    from sdft_local.models.loaders import load_torch_student

    return load_torch_student(tiny_model_dir, device="cpu")


@pytest.fixture(scope="module")
def mlx_student(tiny_model_dir):
    pytest.importorskip("mlx_vlm")
    from sdft_local.models.loaders import load_mlx_student

    return load_mlx_student(tiny_model_dir)


def _torch_logits(student, inputs):
    import torch

    model, _ = student
    with torch.no_grad():
        return model(**to_torch(inputs)).logits[0].float().numpy()


def _mlx_logits(student, inputs):
    model, _ = student
    x = to_mx(inputs)
    out = model(x["input_ids"], pixel_values=x.get("pixel_values"), mask=x["attention_mask"],
                image_grid_thw=x.get("image_grid_thw"))
    return np.array(out.logits[0])


def test_torch_loads_every_weight(tiny_model_dir):
    from transformers import Qwen2VLForConditionalGeneration

    _, info = Qwen2VLForConditionalGeneration.from_pretrained(
        str(tiny_model_dir), output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    assert not info["mismatched_keys"]


def test_torch_student_is_eval_fp32_on_cpu(torch_student):
    import torch

    model, processor = torch_student
    assert not model.training and model.dtype == torch.float32
    assert model.config.image_token_id == processor.image_token_id


def test_image_changes_the_logits(torch_student):
    _, processor = torch_student
    a = _torch_logits(torch_student, build_inputs(processor, MESSAGES, make_photo(0)))
    b = _torch_logits(torch_student, build_inputs(processor, MESSAGES, make_photo(1)))
    assert np.abs(a[-1] - b[-1]).max() > 1e-3


@pytest.mark.mlx
def test_mlx_matches_torch_on_image_and_text(torch_student, mlx_student):
    _, processor = torch_student
    inputs = build_inputs(processor, MESSAGES, make_photo(2, width=98, height=70))
    ref = _torch_logits(torch_student, inputs)
    got = _mlx_logits(mlx_student, inputs)
    assert got.shape == ref.shape
    assert np.abs(got - ref).max() <= 1e-4


@pytest.mark.mlx
def test_mlx_student_uses_the_same_processor(mlx_student, torch_student):
    assert type(mlx_student[1]) is type(torch_student[1])
    assert mlx_student[0].config.image_token_id == torch_student[1].image_token_id


def test_mlx_quantized_folder_is_refused_by_torch(tmp_path, tiny_model_dir):
    import json
    import shutil

    from sdft_local.models.loaders import load_torch_student

    folder = tmp_path / "q"
    shutil.copytree(tiny_model_dir, folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(config | {"quantization": {"bits": 4}}))
    with pytest.raises(ModelError, match="mlx backend"):
        load_torch_student(folder, device="cpu")


def test_unsupported_architecture_is_refused(tmp_path):
    from sdft_local.models.processor import load_processor

    (tmp_path / "config.json").write_text('{"model_type": "llama"}')
    with pytest.raises(ModelError, match="'llama' is not supported"):
        load_processor(tmp_path)


def test_bad_device_and_dtype():
    from sdft_local.models.loaders import pick_device, pick_dtype

    assert pick_device("cpu") == "cpu"
    with pytest.raises(ConfigError, match="tpu"):
        pick_device("tpu")
    with pytest.raises(ConfigError, match="int8"):
        pick_dtype("cpu", "int8")
