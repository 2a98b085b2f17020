"""Weights without torch, LoRA merging, and the merged model folder (float and 4-bit MLX bases)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from sdft_local.errors import ExportError
from sdft_local.export.adapters import LoraAdapter, read_peft
from sdft_local.export.merge import MergedWeights, write_merged_folder
from sdft_local.export.tensors import (BaseWeights, canonical_name, cast_float, dequantize_affine,
                                       float32_to_bf16_bits, read_safetensors_index, to_float32,
                                       write_safetensors)

from .conftest import max_diff, peft_logits, probe_inputs


def test_streamed_safetensors_round_trip_every_float_dtype(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file

    rng = np.random.default_rng(0)
    data = {"a": rng.standard_normal((3, 5)).astype(np.float32),
            "b": rng.standard_normal(7).astype(np.float32)}
    specs = [("a", "F16", (3, 5)), ("b", "BF16", (7,))]
    write_safetensors(tmp_path / "x.safetensors", specs, lambda n: cast_float(data[n], dict(
        (s[0], s[1]) for s in specs)[n]), metadata={"format": "pt"})
    refs = read_safetensors_index(tmp_path / "x.safetensors")
    np.testing.assert_array_equal(refs["a"].load_f32(), data["a"].astype(np.float16).astype(np.float32))
    assert np.abs(refs["b"].load_f32() - data["b"]).max() <= np.abs(data["b"]).max() * 2 ** -8
    loaded = load_file(str(tmp_path / "x.safetensors"))  # the real safetensors reader agrees
    assert loaded["a"].dtype == torch.float16 and loaded["b"].dtype == torch.bfloat16
    np.testing.assert_array_equal(loaded["b"].float().numpy(), refs["b"].load_f32())


def test_bf16_rounds_to_nearest_even():
    values = np.array([1.0, 1.0 + 2 ** -8, 1.0 + 3 * 2 ** -8, -2.5], np.float32)
    back = to_float32(float32_to_bf16_bits(values), "BF16")
    np.testing.assert_array_equal(back, [1.0, 1.0, 1.0 + 4 * 2 ** -8, -2.5])


def test_canonical_names_cover_every_layout():
    assert canonical_name("model.language_model.layers.3.mlp.up_proj") == "model.layers.3.mlp.up_proj"
    assert canonical_name("language_model.model.norm.weight") == "model.norm.weight"
    assert canonical_name("language_model.lm_head.weight") == "lm_head.weight"
    assert canonical_name("vision_tower.blocks.0.attn.qkv") == "visual.blocks.0.attn.qkv"
    assert canonical_name("model.visual.merger.mlp.0.bias") == "visual.merger.mlp.0.bias"


def test_merge_applies_scale_b_a(tiny_model_dir, peft_dir):
    base, adapter = BaseWeights(tiny_model_dir), read_peft(peft_dir)
    merged = MergedWeights(base, adapter)
    name = "visual.blocks.1.mlp.fc2.weight"
    a, b = adapter.modules["visual.blocks.1.mlp.fc2"]
    np.testing.assert_allclose(merged.get(name), base.get(name) + 2.0 * b @ a, atol=1e-6)
    np.testing.assert_array_equal(merged.get("model.norm.weight"), base.get("model.norm.weight"))


def test_merge_refuses_an_adapter_of_another_model(tiny_model_dir):
    wrong = LoraAdapter(2, 4.0, {"model.layers.0.self_attn.q_proj": (np.ones((2, 64), np.float32),
                                                                     np.ones((128, 2), np.float32))})
    with pytest.raises(ExportError, match="another base model|run's own base"):
        MergedWeights(BaseWeights(tiny_model_dir), wrong)


def test_merged_folder_matches_peft_in_transformers(tiny_model_dir, peft_dir, reference, tmp_path):
    merged = MergedWeights(BaseWeights(tiny_model_dir), read_peft(peft_dir))
    dtype = write_merged_folder(merged, tmp_path / "m")
    _, _, text, image = probe_inputs(tmp_path / "m")
    got = peft_logits(tmp_path / "m", None, text[:3] + [image])
    diff = max_diff(got, list(reference.text[:3]) + [reference.image])
    print(f"merged (transformers) vs base + peft: max |Δ logit| {diff:.2e}")
    assert dtype == "F32" and diff <= 1e-4
    written = {p.name for p in (tmp_path / "m").iterdir()}
    assert {"tokenizer.json", "chat_template.jinja", "preprocessor_config.json"} <= written


def test_merged_keeps_a_bf16_base_in_bf16(tiny_model_dir, tmp_path):
    write_merged_folder(MergedWeights(BaseWeights(tiny_model_dir), None), tmp_path / "b", dtype="BF16")
    refs = read_safetensors_index(tmp_path / "b" / "model.safetensors")
    assert {r.dtype for r in refs.values()} == {"BF16"}
    assert json.loads((tmp_path / "b" / "config.json").read_text())["torch_dtype"] == "bfloat16"
    again = BaseWeights(tmp_path / "b")
    original = BaseWeights(tiny_model_dir).get("model.norm.weight")
    assert np.abs(again.get("model.norm.weight") - original).max() < 1e-2


def test_merged_folder_drops_remote_code_keys(tiny_model_dir, tmp_path):
    base = tmp_path / "untrusted"
    shutil.copytree(tiny_model_dir, base)
    config = json.loads((base / "config.json").read_text())
    config.update(auto_map={"AutoModel": "evil.Model"}, trust_remote_code=True)
    config["text_config"] = {**config.get("text_config", {}), "auto_map": {"AutoConfig": "evil.Cfg"}}
    (base / "config.json").write_text(json.dumps(config))
    tokenizer = json.loads((base / "tokenizer_config.json").read_text())
    (base / "tokenizer_config.json").write_text(json.dumps({**tokenizer, "auto_map": {"AutoTokenizer": ["evil.T", None]}}))
    write_merged_folder(MergedWeights(BaseWeights(base), None), tmp_path / "m", dtype="F32")
    written = (tmp_path / "m" / "config.json").read_text() + (tmp_path / "m" / "tokenizer_config.json").read_text()
    assert "auto_map" not in written and "trust_remote_code" not in written and "evil" not in written
    merged = json.loads((tmp_path / "m" / "config.json").read_text())
    assert merged["model_type"] == config["model_type"] and merged["torch_dtype"] == "float32"
    assert json.loads((tmp_path / "m" / "tokenizer_config.json").read_text())["chat_template"] == tokenizer.get("chat_template")


@pytest.fixture(scope="module")
def mlx_4bit_dir(tiny_model_dir, tmp_path_factory):
    pytest.importorskip("mlx_vlm")
    from mlx_vlm import convert

    out = tmp_path_factory.mktemp("mlx") / "tiny-4bit"
    convert(str(tiny_model_dir), mlx_path=str(out), quantize=True, q_group_size=64, q_bits=4,
            trust_remote_code=False)
    # mlx-vlm 0.7.10's convert rewrites processor_config.json with a Qwen3-VL image processor that
    # transformers cannot resolve; published 4-bit Qwen2-VL folders carry the original file.
    shutil.copyfile(tiny_model_dir / "processor_config.json", out / "processor_config.json")
    return out


@pytest.mark.mlx
def test_numpy_dequantize_equals_mlx(mlx_4bit_dir):
    import mlx.core as mx

    base = BaseWeights(mlx_4bit_dir)
    assert base.dequantized
    refs = read_safetensors_index(mlx_4bit_dir / "model.safetensors")
    stem = "language_model.model.layers.1.mlp.down_proj"
    want = mx.dequantize(mx.array(refs[stem + ".weight"].load()), mx.array(refs[stem + ".scales"].load()),
                         mx.array(refs[stem + ".biases"].load()), group_size=64, bits=4)
    np.testing.assert_array_equal(base.get("model.layers.1.mlp.down_proj.weight"), np.array(want))
    packed = np.arange(8, dtype=np.uint32).reshape(1, 8) * 0x11111111
    assert dequantize_affine(packed, np.ones((1, 1), np.float32), np.zeros((1, 1), np.float32),
                             group_size=64, bits=4)[0, 8:16].tolist() == [1.0] * 8
    assert base.shape("visual.patch_embed.proj.weight") == (32, 3, 2, 14, 14)


@pytest.mark.mlx
@pytest.mark.slow
def test_merged_from_a_4bit_mlx_base_is_dequantized_and_verified(mlx_4bit_dir, peft_dir, tmp_path):
    from sdft_local.export import ExportOptions, drain, export_merged

    result = drain(export_merged(mlx_4bit_dir, peft_dir, tmp_path / "merged", ExportOptions()))
    fmt = result.formats[0]
    assert fmt.verified and any("dequantized" in n for n in fmt.notes)
    assert "quantization" not in json.loads((tmp_path / "merged" / "config.json").read_text())
    readme = (tmp_path / "merged" / "README.md").read_text()
    assert "dequantized" in readme
    print("4-bit MLX base merged, vs mlx-vlm + adapter:", [(c.name, f"{c.value:.2e}") for c in fmt.checks])
