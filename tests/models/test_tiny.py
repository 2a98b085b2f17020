"""The tiny model factory: deterministic, valid configs, every tensor present with its shape."""

from __future__ import annotations

import json
import math

import pytest
from safetensors import safe_open

from sdft_local.errors import ConfigError
from sdft_local.models.tiny import TinySpec, build_tiny_qwen2vl, weight_shapes


def _files(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_builds_are_byte_identical(tmp_path, tiny_model_dir):
    again = build_tiny_qwen2vl(tmp_path / "again")
    first, second = _files(tiny_model_dir), _files(again)
    assert set(first) >= {"config.json", "model.safetensors", "tokenizer.json",
                          "preprocessor_config.json", "chat_template.jinja"}
    assert first == second


def test_seed_changes_weights_only(tmp_path, tiny_model_dir):
    other = build_tiny_qwen2vl(tmp_path / "seed1", spec=TinySpec(seed=1))
    a, b = _files(tiny_model_dir), _files(other)
    assert a["model.safetensors"] != b["model.safetensors"]
    assert a["tokenizer.json"] == b["tokenizer.json"]


def test_rebuild_replaces_existing_folder(tmp_path):
    out = tmp_path / "m"
    build_tiny_qwen2vl(out)
    (out / "stale.bin").write_bytes(b"x")
    build_tiny_qwen2vl(out)
    assert not (out / "stale.bin").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_weights_match_declared_shapes(tiny_model_dir):
    config = json.loads((tiny_model_dir / "config.json").read_text())
    spec = TinySpec()
    with safe_open(str(tiny_model_dir / "model.safetensors"), "np") as f:
        shapes = {k: f.get_slice(k).get_shape() for k in f.keys()}
    assert shapes == {k: list(v) for k, v in weight_shapes(spec, config["vocab_size"]).items()}
    assert "lm_head.weight" not in shapes  # tied, like Qwen2-VL-2B
    assert sum(math.prod(s) for s in shapes.values()) < 1_000_000


def test_config_serves_both_loaders(tiny_model_dir):
    config = json.loads((tiny_model_dir / "config.json").read_text())
    rope = {"type": "mrope", "mrope_section": [4, 6, 6]}
    assert config["rope_scaling"] == rope and config["text_config"]["rope_scaling"] == rope
    assert config["vision_config"]["model_type"] == "qwen2_vl"
    assert config["hidden_size"] == config["text_config"]["hidden_size"] == 128
    assert config["vocab_size"] % 64 == 0


def test_image_processor_keeps_qwen_minimum(tiny_model_dir):
    pre = json.loads((tiny_model_dir / "preprocessor_config.json").read_text())
    assert pre["min_pixels"] == 56 * 56 and pre["max_pixels"] == 224 * 224


@pytest.mark.parametrize("bad", [
    {"mrope_section": (4, 6, 8)},
    {"num_key_value_heads": 3},
    {"vision_num_heads": 3},
    {"vision_num_heads": 16},  # vision head_dim 2: llama.cpp's vision rope needs a multiple of 4
    {"min_pixels": 28 * 28},
])
def test_spec_rejects_inconsistent_shapes(bad):
    with pytest.raises(ConfigError, match="TinySpec"):
        TinySpec(**bad)


# The demo model's shape (sdft_local/demo): 112x112 photos -> 16 image tokens.
DEMO_SHAPE = dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                  num_key_value_heads=2, intermediate_size=768, mrope_section=(8, 12, 12),
                  vision_depth=4, vision_embed_dim=128, vision_num_heads=4, vision_mlp_ratio=4,
                  min_pixels=112 * 112, max_pixels=112 * 112)


def test_demo_spec_is_valid():
    spec = TinySpec(**DEMO_SHAPE)
    assert spec.head_dim == 64 and 2 * sum(spec.mrope_section) == spec.head_dim


def test_custom_corpus_shapes_the_vocabulary_and_the_model_loads(tmp_path, tiny_model_dir):
    import torch

    from sdft_local.models.chat import build_inputs, to_torch
    from sdft_local.models.loaders import load_torch_student
    from sdft_local.models.processor import load_tokenizer
    from tests.models.conftest import make_photo

    word = " zorblax"
    corpus = ["The zorblax sits by the teal quixotic wug.", "A zorblax? Two zorblax!"] * 20
    out = build_tiny_qwen2vl(tmp_path / "demo", spec=TinySpec(**DEMO_SHAPE), corpus=corpus)
    assert len(load_tokenizer(tiny_model_dir)(word, add_special_tokens=False)["input_ids"]) > 1
    model, processor = load_torch_student(out, device="cpu")
    ids = processor.tokenizer(word, add_special_tokens=False)["input_ids"]
    assert len(ids) == 1 and processor.tokenizer.decode(ids) == word
    x = build_inputs(processor, [{"role": "user", "content": "Is the zorblax teal?"}],
                     make_photo(0, width=112, height=112))
    assert (x["input_ids"][0] == processor.image_token_id).sum() == 16
    with torch.inference_mode():
        logits = model(**to_torch(x)).logits
    assert logits.shape[-1] == model.config.text_config.vocab_size >= len(processor.tokenizer)
    assert torch.isfinite(logits).all()
