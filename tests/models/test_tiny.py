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
