"""The tiny random Qwen2-VL: a real-architecture model small enough to build in seconds.

Owns `TinySpec` (its shape, validated against what Qwen2-VL, mlx-vlm and llama.cpp need) and
`build_tiny_qwen2vl`, which writes a complete model folder (safetensors weights, a config.json
that both transformers and mlx-vlm load, tokenizer, image processor, chat template, generation
config). Weights are drawn with numpy from the seed, so builds are byte-identical and need no torch.
It does not load models (see `loaders.py`) or decide where they live (see `registry.py`).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

from ..errors import ConfigError
from .tokenizer import SPECIAL_TOKENS, build_tokenizer, write_tokenizer_files

# Qwen2-VL resizes images to multiples of patch × merge (28) with at least 56×56 pixels.
QWEN2VL_MIN_PIXELS = 56 * 56
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class TinySpec:
    """Shape of the tiny model. Defaults stay inside llama.cpp's limits (see NOTES.md)."""

    seed: int = 0
    vocab_budget: int = 1024
    vocab_multiple: int = 64
    hidden_size: int = 128
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    intermediate_size: int = 256
    mrope_section: tuple[int, int, int] = (4, 6, 6)
    rope_theta: float = 1000000.0
    rms_norm_eps: float = 1e-6
    max_position_embeddings: int = 32768
    tie_word_embeddings: bool = True
    vision_depth: int = 3
    vision_embed_dim: int = 32
    vision_num_heads: int = 2
    vision_mlp_ratio: int = 4
    patch_size: int = 14
    spatial_merge_size: int = 2
    temporal_patch_size: int = 2
    min_pixels: int = QWEN2VL_MIN_PIXELS
    max_pixels: int = 224 * 224
    init_std: float = 0.2  # large enough that greedy text varies with the photo and prompt

    def __post_init__(self):
        problem = _spec_problem(self)
        if problem:
            raise ConfigError(f"invalid TinySpec: {problem}")

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads


def _spec_problem(s: TinySpec) -> str | None:
    heads, kv_heads = s.num_attention_heads, s.num_key_value_heads
    if s.hidden_size % heads:
        return f"hidden_size {s.hidden_size} is not divisible by num_attention_heads {heads}"
    if heads % kv_heads:
        return f"num_attention_heads {heads} is not a multiple of num_key_value_heads {kv_heads}"
    if len(s.mrope_section) != 3 or 2 * sum(s.mrope_section) != s.head_dim:
        return (f"mrope_section {list(s.mrope_section)} must be 3 numbers summing to "
                f"head_dim/2 = {s.head_dim // 2}")
    embed, vheads = s.vision_embed_dim, s.vision_num_heads
    if embed % vheads or (embed // vheads) % 4:
        return f"vision head_dim {embed}/{vheads} must be a whole multiple of 4"
    if s.vision_depth < 1 or s.num_hidden_layers < 1:
        return "vision_depth and num_hidden_layers must be at least 1"
    if s.vocab_budget < 257:
        return f"vocab_budget {s.vocab_budget} must exceed the 256 byte tokens"
    if s.min_pixels < QWEN2VL_MIN_PIXELS or s.max_pixels < s.min_pixels:
        return (f"min_pixels {s.min_pixels} / max_pixels {s.max_pixels}: need "
                f"{QWEN2VL_MIN_PIXELS} <= min_pixels <= max_pixels")
    return None


def build_tiny_qwen2vl(out_dir: str | Path, *, spec: TinySpec = TinySpec(),
                       corpus: Sequence[str] | None = None) -> Path:
    """Write the tiny model folder to `out_dir` (replaced if present) and return its path.

    `corpus`: lines the BPE tokenizer is trained on (None: the built-in corpus), e.g. the
    demo world's vocabulary so its words become single tokens.

    Files are written to a temporary sibling folder and renamed into place when complete, so a
    crash never leaves a half-built model where a loader would find it.
    """
    from .. import atomic

    out_dir = Path(out_dir).expanduser().resolve()
    return atomic.write_folder(out_dir, lambda tmp: (_write_model(tmp, spec, corpus), _make_readable(tmp)))


def _make_readable(folder: Path) -> None:
    # mkdtemp and safetensors create owner-only entries; a model folder is ordinary shared data.
    folder.chmod(0o755)
    for f in folder.iterdir():
        f.chmod(0o644)


def _write_model(folder: Path, spec: TinySpec, corpus: Sequence[str] | None) -> None:
    tok = build_tokenizer(spec.vocab_budget, corpus)
    ids = {t: tok.token_to_id(t) for t in SPECIAL_TOKENS}
    vocab_size = _round_up(tok.get_vocab_size(with_added_tokens=True), spec.vocab_multiple)
    write_tokenizer_files(tok, folder, model_max_length=spec.max_position_embeddings)
    _write_json(folder / "config.json", model_config(spec, vocab_size, ids))
    _write_json(folder / "generation_config.json", _generation_config(ids))
    _write_json(folder / "preprocessor_config.json", _preprocessor_config(spec))
    _write_json(folder / "processor_config.json", {"processor_class": "Qwen2VLProcessor"})
    _write_json(folder / "tiny_spec.json", asdict(spec))
    _write_weights(folder / "model.safetensors", spec, vocab_size)


def _round_up(n: int, multiple: int) -> int:
    return int(math.ceil(n / multiple) * multiple)


def model_config(spec: TinySpec, vocab_size: int, ids: dict[str, int]) -> dict:
    """config.json: nested for transformers, text keys also at the root for mlx-vlm."""
    rope = {"type": "mrope", "mrope_section": list(spec.mrope_section)}
    text = _text_config(spec, vocab_size, ids) | {"rope_scaling": rope}
    return {
        "architectures": ["Qwen2VLForConditionalGeneration"],
        "model_type": "qwen2_vl",
        **text,
        "image_token_id": ids["<|image_pad|>"],
        "video_token_id": ids["<|video_pad|>"],
        "vision_start_token_id": ids["<|vision_start|>"],
        "vision_end_token_id": ids["<|vision_end|>"],
        "vision_token_id": ids["<|vision_pad|>"],
        "text_config": {"model_type": "qwen2_vl_text", **text},
        "vision_config": _vision_config(spec),
    }


def _text_config(spec: TinySpec, vocab_size: int, ids: dict[str, int]) -> dict:
    return {
        "attention_dropout": 0.0,
        "bos_token_id": ids["<|endoftext|>"],
        "eos_token_id": ids["<|im_end|>"],
        "hidden_act": "silu",
        "hidden_size": spec.hidden_size,
        "initializer_range": spec.init_std,
        "intermediate_size": spec.intermediate_size,
        "max_position_embeddings": spec.max_position_embeddings,
        "max_window_layers": spec.num_hidden_layers,
        "num_attention_heads": spec.num_attention_heads,
        "num_hidden_layers": spec.num_hidden_layers,
        "num_key_value_heads": spec.num_key_value_heads,
        "rms_norm_eps": spec.rms_norm_eps,
        "rope_theta": spec.rope_theta,
        "sliding_window": spec.max_position_embeddings,
        "tie_word_embeddings": spec.tie_word_embeddings,
        "torch_dtype": "float32",
        "use_cache": True,
        "use_sliding_window": False,
        "vocab_size": vocab_size,
    }


def _vision_config(spec: TinySpec) -> dict:
    # model_type "qwen2_vl" (not "qwen2_vl_vision") is what mlx-vlm matches; transformers accepts it.
    return {
        "model_type": "qwen2_vl",
        "depth": spec.vision_depth,
        "embed_dim": spec.vision_embed_dim,
        "hidden_size": spec.hidden_size,
        "hidden_act": "quick_gelu",
        "mlp_ratio": spec.vision_mlp_ratio,
        "num_heads": spec.vision_num_heads,
        "in_channels": 3,
        "in_chans": 3,
        "patch_size": spec.patch_size,
        "spatial_patch_size": spec.patch_size,
        "spatial_merge_size": spec.spatial_merge_size,
        "temporal_patch_size": spec.temporal_patch_size,
        "initializer_range": spec.init_std,
    }


def _generation_config(ids: dict[str, int]) -> dict:
    return {
        "bos_token_id": ids["<|endoftext|>"],
        "pad_token_id": ids["<|endoftext|>"],
        "eos_token_id": [ids["<|im_end|>"], ids["<|endoftext|>"]],
        "do_sample": False,
    }


def _preprocessor_config(spec: TinySpec) -> dict:
    return {
        "image_processor_type": "Qwen2VLImageProcessor",
        "processor_class": "Qwen2VLProcessor",
        "min_pixels": spec.min_pixels,
        "max_pixels": spec.max_pixels,
        "size": {"shortest_edge": spec.min_pixels, "longest_edge": spec.max_pixels},
        "patch_size": spec.patch_size,
        "temporal_patch_size": spec.temporal_patch_size,
        "merge_size": spec.spatial_merge_size,
        "image_mean": list(CLIP_MEAN),
        "image_std": list(CLIP_STD),
        "do_resize": True,
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "do_convert_rgb": True,
        "resample": 3,
    }


def weight_shapes(spec: TinySpec, vocab_size: int) -> dict[str, tuple[int, ...]]:
    """Every tensor of the checkpoint, in transformers' legacy (hub) key names."""
    shapes = _vision_shapes(spec)
    h, kv = spec.hidden_size, spec.num_key_value_heads * spec.head_dim
    shapes["model.embed_tokens.weight"] = (vocab_size, h)
    for i in range(spec.num_hidden_layers):
        p = f"model.layers.{i}."
        for name, shape in (
            ("self_attn.q_proj.weight", (h, h)), ("self_attn.q_proj.bias", (h,)),
            ("self_attn.k_proj.weight", (kv, h)), ("self_attn.k_proj.bias", (kv,)),
            ("self_attn.v_proj.weight", (kv, h)), ("self_attn.v_proj.bias", (kv,)),
            ("self_attn.o_proj.weight", (h, h)),
            ("mlp.gate_proj.weight", (spec.intermediate_size, h)),
            ("mlp.up_proj.weight", (spec.intermediate_size, h)),
            ("mlp.down_proj.weight", (h, spec.intermediate_size)),
            ("input_layernorm.weight", (h,)), ("post_attention_layernorm.weight", (h,)),
        ):
            shapes[p + name] = shape
    shapes["model.norm.weight"] = (h,)
    if not spec.tie_word_embeddings:
        shapes["lm_head.weight"] = (vocab_size, h)
    return shapes


def _vision_shapes(spec: TinySpec) -> dict[str, tuple[int, ...]]:
    e, mlp = spec.vision_embed_dim, spec.vision_embed_dim * spec.vision_mlp_ratio
    merged = e * spec.spatial_merge_size**2
    p = spec.patch_size
    shapes = {"visual.patch_embed.proj.weight": (e, 3, spec.temporal_patch_size, p, p)}
    for i in range(spec.vision_depth):
        b = f"visual.blocks.{i}."
        for name, shape in (
            ("norm1.weight", (e,)), ("norm1.bias", (e,)), ("norm2.weight", (e,)), ("norm2.bias", (e,)),
            ("attn.qkv.weight", (3 * e, e)), ("attn.qkv.bias", (3 * e,)),
            ("attn.proj.weight", (e, e)), ("attn.proj.bias", (e,)),
            ("mlp.fc1.weight", (mlp, e)), ("mlp.fc1.bias", (mlp,)),
            ("mlp.fc2.weight", (e, mlp)), ("mlp.fc2.bias", (e,)),
        ):
            shapes[b + name] = shape
    shapes |= {
        "visual.merger.ln_q.weight": (e,), "visual.merger.ln_q.bias": (e,),
        "visual.merger.mlp.0.weight": (merged, merged), "visual.merger.mlp.0.bias": (merged,),
        "visual.merger.mlp.2.weight": (spec.hidden_size, merged),
        "visual.merger.mlp.2.bias": (spec.hidden_size,),
    }
    return shapes


def _write_weights(path: Path, spec: TinySpec, vocab_size: int) -> None:
    import numpy as np
    from safetensors.numpy import save_file

    rng = np.random.default_rng(spec.seed)
    tensors = {}
    for name, shape in weight_shapes(spec, vocab_size).items():
        noise = rng.standard_normal(shape, dtype=np.float32)
        # Norm weights near 1 and non-zero biases: an exporter that drops or mangles either
        # must change the logits, so equivalence tests cannot pass by accident.
        is_norm = "norm" in name or "ln_q" in name
        if is_norm and name.endswith(".weight"):
            tensors[name] = 1.0 + 0.1 * noise
        else:
            tensors[name] = spec.init_std * noise
    save_file(tensors, str(path), metadata={"format": "pt"})


def _write_json(path: Path, obj: dict) -> None:
    path.write_text(json.dumps(obj, indent=2) + "\n", "utf-8")
