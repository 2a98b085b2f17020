"""MLX <-> PEFT adapter conversion: exact round trips, and each file loaded by its own consumer."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sdft_local.errors import ExportError
from sdft_local.export.adapters import (LoraAdapter, adapter_format, read_adapter, read_mlx,
                                        read_peft, write_mlx, write_peft)

from .conftest import max_diff, peft_logits, probe_inputs


def _same_adapter(a: LoraAdapter, b: LoraAdapter) -> float:
    assert set(a.modules) == set(b.modules)
    assert a.rank == b.rank and a.alpha == pytest.approx(b.alpha)
    return max(max(float(np.abs(x - y).max()) for x, y in zip(a.modules[m], b.modules[m]))
               for m in a.modules)


def test_peft_reader_sees_text_and_vision_modules(peft_dir):
    adapter = read_peft(peft_dir)
    assert adapter_format(peft_dir) == "peft"
    assert len(adapter.text_modules()) == 2 * 7 and len(adapter.vision_modules()) == 3 * 4
    assert adapter.scale == pytest.approx(2.0)
    a, b = adapter.modules["model.layers.1.mlp.down_proj"]
    assert a.shape == (4, 256) and b.shape == (128, 4)
    assert float(np.abs(b).max()) > 0.05  # randomized: the adapter really changes the model


def test_peft_mlx_peft_round_trip_is_exact(peft_dir, mlx_dir, tmp_path):
    original = read_peft(peft_dir)
    via_mlx = read_mlx(mlx_dir)
    write_peft(via_mlx, tmp_path / "back")
    assert _same_adapter(original, via_mlx) == 0.0
    assert _same_adapter(original, read_peft(tmp_path / "back")) == 0.0


def test_mlx_files_have_mlx_vlm_names_and_orientation(peft_dir, mlx_dir):
    from safetensors.numpy import load_file

    tensors = load_file(str(mlx_dir / "adapters.safetensors"))
    config = json.loads((mlx_dir / "adapter_config.json").read_text())
    a_peft, b_peft = read_peft(peft_dir).modules["model.layers.0.self_attn.q_proj"]
    np.testing.assert_array_equal(tensors["language_model.model.layers.0.self_attn.q_proj.lora_a"], a_peft.T)
    np.testing.assert_array_equal(tensors["language_model.model.layers.0.self_attn.q_proj.lora_b"], b_peft.T)
    assert "vision_tower.blocks.2.attn.qkv.lora_a" in tensors
    keys = sorted(k[: -len(".lora_a")] for k in tensors if k.endswith("lora_a"))
    assert config["lora_parameters"] == {"rank": 4, "dropout": 0.0, "scale": 2.0, "keys": keys}


def _mlx_logits(model_dir, adapter_dir, inputs) -> list[np.ndarray]:
    import mlx.core as mx
    import mlx_vlm

    from sdft_local.models.chat import to_mx

    model, _ = mlx_vlm.load(str(model_dir), adapter_path=str(adapter_dir) if adapter_dir else None)
    out = []
    for x in map(to_mx, inputs):
        model.language_model._position_ids = model.language_model._rope_deltas = None
        extra = ({"pixel_values": x["pixel_values"], "image_grid_thw": x["image_grid_thw"]}
                 if "pixel_values" in x else {})
        logits = model(x["input_ids"], mask=x["attention_mask"], **extra).logits[0]
        out.append(np.array(logits.astype(mx.float32)))
    return out


@pytest.mark.mlx
@pytest.mark.slow
def test_mlx_vlm_loads_the_converted_adapter_like_peft(tiny_model_dir, mlx_dir, reference):
    """mlx_vlm.load(path, adapter_path=...) unchanged, compared with transformers + peft.

    The two frameworks differ by a float32 floor even without any adapter; the converted adapter
    must add nothing measurable to it.
    """
    pytest.importorskip("mlx_vlm")
    _, _, text, image = probe_inputs(tiny_model_dir)
    inputs = text[:3] + [image]
    tuned = _mlx_logits(tiny_model_dir, mlx_dir, inputs)
    floor = max_diff(_mlx_logits(tiny_model_dir, None, text[:3]), reference.base_text[:3])
    diff = max_diff(tuned, list(reference.text[:3]) + [reference.image])
    effect = max_diff(reference.text[:3], reference.base_text[:3])
    print(f"mlx-vlm + converted adapter vs peft: {diff:.2e}; framework floor without adapter "
          f"{floor:.2e}; LoRA effect {effect:.2f}")
    assert effect > 0.5
    assert diff <= 1e-4 and diff <= 2 * floor + 1e-6


def test_peft_loads_an_adapter_converted_from_mlx(tiny_model_dir, mlx_dir, reference, tmp_path):
    write_peft(read_mlx(mlx_dir), tmp_path / "peft", base_model=str(tiny_model_dir))
    _, _, text, _ = probe_inputs(tiny_model_dir)
    got = peft_logits(tiny_model_dir, tmp_path / "peft", text[:3])
    diff = max_diff(got, reference.text[:3])
    print(f"PEFT -> MLX -> PEFT, loaded by peft: max |Δ logit| {diff:.2e}")
    assert diff <= 1e-5


def test_read_adapter_detects_format(peft_dir, mlx_dir, tmp_path):
    assert read_adapter(mlx_dir).source_format == "mlx"
    assert read_adapter(peft_dir).source_format == "peft"
    with pytest.raises(ExportError, match="no adapter_model.safetensors"):
        adapter_format(tmp_path)


def test_unsupported_peft_features_are_refused(peft_dir, tmp_path):
    import shutil

    shutil.copytree(peft_dir, tmp_path / "dora")
    config = json.loads((tmp_path / "dora" / "adapter_config.json").read_text())
    config["use_dora"] = True
    (tmp_path / "dora" / "adapter_config.json").write_text(json.dumps(config))
    with pytest.raises(ExportError, match="use_dora"):
        read_peft(tmp_path / "dora")


def test_rslora_scale_is_kept(peft_dir, tmp_path):
    import shutil

    shutil.copytree(peft_dir, tmp_path / "rs")
    config = json.loads((tmp_path / "rs" / "adapter_config.json").read_text())
    config["use_rslora"] = True
    (tmp_path / "rs" / "adapter_config.json").write_text(json.dumps(config))
    assert read_peft(tmp_path / "rs").scale == pytest.approx(8 / 4 ** 0.5)
