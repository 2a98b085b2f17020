"""Qwen2-VL's vision tower and merger as a llama.cpp mmproj GGUF (`clip`, `qwen2vl_merger`).

Owns the vision hyperparameters, the `clip.*` metadata (image size, patch size, widths, depth,
heads, epsilon, image mean/std from preprocessor_config.json) and the tensor layout llama.cpp's
mtmd expects: the Conv3D patch embedding split in two along time, qkv split into q/k/v, merger
`ln_q` -> `v.post_ln`, `mlp.0`/`mlp.2` -> `mm.0`/`mm.2`. Vision LoRA must already be merged into
the weights it is given (see `merge.py`). It does not write the text model (see `gguf_text.py`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ExportError
from .gguf_text import GGUF_FLOAT_TYPES, storage_array, text_hparams

# llama.cpp's converter writes 560 for Qwen2-VL, which has no fixed image size; mtmd resizes
# within its own pixel limits and uses this only for warm-up.
DEFAULT_IMAGE_SIZE = 560


@dataclass(frozen=True)
class VisionHParams:
    embed_dim: int
    depth: int
    num_heads: int
    ffn_dim: int
    patch_size: int
    spatial_merge_size: int
    temporal_patch_size: int
    projection_dim: int
    image_mean: tuple[float, ...]
    image_std: tuple[float, ...]
    layer_norm_eps: float = 1e-6


def vision_hparams(config: dict, model_dir: Path) -> VisionHParams:
    vision = config.get("vision_config") or {}
    pre_path = Path(model_dir) / "preprocessor_config.json"
    pre = json.loads(pre_path.read_text("utf-8")) if pre_path.is_file() else {}
    try:
        embed = int(vision["embed_dim"])
        params = VisionHParams(
            embed, int(vision["depth"]), int(vision["num_heads"]),
            int(embed * float(vision.get("mlp_ratio", 4))), int(vision.get("patch_size", 14)),
            int(vision.get("spatial_merge_size", 2)), int(vision.get("temporal_patch_size", 2)),
            text_hparams(config).hidden_size,
            tuple(pre.get("image_mean", (0.48145466, 0.4578275, 0.40821073))),
            tuple(pre.get("image_std", (0.26862954, 0.26130258, 0.27577711))),
        )
    except KeyError as err:
        raise ExportError(f"config.json vision_config has no {err.args[0]!r}; a Qwen2-VL vision "
                          "config (embed_dim, depth, num_heads) is needed for the mmproj") from None
    if params.temporal_patch_size != 2:
        raise ExportError(f"temporal_patch_size {params.temporal_patch_size}: llama.cpp's mmproj "
                          "supports Qwen2-VL's 2 only")
    return params


def write_mmproj_gguf(weights, model_dir: Path, path: Path, *, ftype: str = "f16",
                      name: str = "sdft-local") -> None:
    """Write the vision tower + merger of `weights` (vision LoRA already merged) as an mmproj."""
    import gguf

    if ftype not in GGUF_FLOAT_TYPES:
        raise ExportError(f"mmproj float type {ftype!r}; choose one of {', '.join(GGUF_FLOAT_TYPES)}")
    hp = vision_hparams(weights.config, model_dir)
    writer = gguf.GGUFWriter(str(path), gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.MMPROJ])
    _add_metadata(writer, hp, name, ftype)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.MMPROJ, hp.depth)
    for tensor in sorted(t for t in weights.names() if t.startswith("visual.")):
        for gguf_name, array in vision_tensors(tensor, weights.get(tensor), names):
            writer.add_tensor(gguf_name, storage_array(array, ftype))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def vision_tensors(tensor: str, array: np.ndarray, names) -> list[tuple[str, np.ndarray]]:
    """The mmproj tensors one Hugging Face vision tensor becomes."""
    module, _, suffix = tensor.rpartition(".")
    if module == "visual.patch_embed.proj":
        base = names.get_name(module)
        return [(f"{base}.weight", array[:, :, 0]), (f"{base}.weight.1", array[:, :, 1])]
    if module.endswith(".attn.qkv"):
        q, k, v = np.split(array, 3, axis=0)
        stem = module[: -len("qkv")]
        return [(f"{names.get_name(stem + p)}.{suffix}", part) for p, part in zip("qkv", (q, k, v))]
    mapped = names.get_name(module)
    if mapped is None:
        raise ExportError(f"vision tensor {tensor} has no llama.cpp mmproj counterpart")
    return [(f"{mapped}.{suffix}", array)]


def _add_metadata(writer, hp: VisionHParams, name: str, ftype: str) -> None:
    import gguf

    writer.add_type(gguf.GGUFType.MMPROJ)
    writer.add_name(name)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16 if ftype == "f16" else gguf.LlamaFileType.ALL_F32)
    writer.add_clip_has_vision_encoder(True)
    writer.add_clip_projector_type(gguf.VisionProjectorType.QWEN2VL)
    writer.add_vision_projection_dim(hp.projection_dim)
    writer.add_vision_image_size(DEFAULT_IMAGE_SIZE)
    writer.add_vision_patch_size(hp.patch_size)
    writer.add_vision_embedding_length(hp.embed_dim)
    writer.add_vision_feed_forward_length(hp.ffn_dim)
    writer.add_vision_block_count(hp.depth)
    writer.add_vision_head_count(hp.num_heads)
    writer.add_vision_attention_layernorm_eps(hp.layer_norm_eps)
    writer.add_vision_image_mean(list(hp.image_mean))
    writer.add_vision_image_std(list(hp.image_std))
