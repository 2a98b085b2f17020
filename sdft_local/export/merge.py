"""LoRA folded into the base weights, and the merged model written as a Hugging Face folder.

Owns `MergedWeights` (a base model's tensors with W + (alpha/r)·B@A applied on read, one tensor
at a time, so a 2B model merges without holding two copies) and `write_merged_folder` (safetensors
in the base's float dtype, config.json without MLX quantization keys, tokenizer/processor files).
A quantized MLX base is dequantized first; `MergedWeights.dequantized` says so. It does not
verify (see `verify.py`) or write GGUF (see `gguf_text.py`, `gguf_vision.py`).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from ..errors import ExportError
from .adapters import LoraAdapter
from .tensors import BaseWeights, cast_float, write_safetensors

# Everything besides weights that transformers, mlx-vlm and llama.cpp's converter read.
PROCESSOR_FILES = (
    "tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt", "special_tokens_map.json",
    "added_tokens.json", "chat_template.json", "chat_template.jinja", "preprocessor_config.json",
    "processor_config.json", "video_preprocessor_config.json", "generation_config.json",
)
_MLX_ONLY_CONFIG_KEYS = ("quantization", "quantization_config")
# Keys that make transformers import code shipped beside the weights: never passed on.
_REMOTE_CODE_KEYS = ("auto_map", "trust_remote_code")


class MergedWeights:
    """`base` with `adapter` merged into every adapted Linear weight (canonical names)."""

    def __init__(self, base: BaseWeights, adapter: LoraAdapter | None):
        self.base = base
        self.adapter = adapter
        self._deltas = {}
        for module in (adapter.modules if adapter else {}):
            self._deltas[module + ".weight"] = module
        self._check()

    @property
    def config(self) -> dict:
        return self.base.config

    @property
    def dequantized(self) -> bool:
        return self.base.dequantized

    def names(self) -> list[str]:
        return self.base.names()

    def __contains__(self, name: str) -> bool:
        return name in self.base

    def shape(self, name: str) -> tuple[int, ...]:
        return self.base.shape(name)

    def dtype(self, name: str) -> str:
        return self.base.dtype(name)

    def get(self, name: str) -> np.ndarray:
        weight = self.base.get(name)
        module = self._deltas.get(name)
        if module is None:
            return weight
        return (weight + self.adapter.delta(module)).astype(np.float32)

    def _check(self) -> None:
        for weight, module in self._deltas.items():
            if module.startswith(("lm_head", "model.embed_tokens")):
                raise ExportError(f"adapter trains {module}; LoRA on embeddings or the output head "
                                  "cannot be exported (GGUF LoRA has no such slot); train without it")
            if weight not in self.base:
                raise ExportError(f"adapter module {module} has no weight {weight} in "
                                  f"{self.base.model_dir}; was it trained on another base model?")
            a, b = self.adapter.modules[module]
            if (b.shape[0], a.shape[1]) != tuple(self.base.shape(weight)):
                raise ExportError(f"adapter module {module} is {b.shape[0]}x{a.shape[1]} but the base "
                                  f"weight is {self.base.shape(weight)}; use the run's own base model")


def merged_dtype(weights: MergedWeights) -> str:
    """The float dtype to save in: the base's own (the scales' dtype for a quantized base)."""
    dtypes = {weights.dtype(n) for n in weights.names()}
    for candidate in ("BF16", "F16", "F32"):
        if candidate in dtypes:
            return candidate
    return "F32"


def write_merged_folder(weights: MergedWeights, out: Path, *, dtype: str | None = None) -> str:
    """Write model.safetensors + config + processor files into `out`; returns the dtype used."""
    out.mkdir(parents=True, exist_ok=True)
    dtype = dtype or merged_dtype(weights)
    specs = [(name, dtype, tuple(weights.shape(name))) for name in sorted(weights.names())]
    write_safetensors(out / "model.safetensors", specs,
                      lambda name: cast_float(weights.get(name), dtype), metadata={"format": "pt"})
    (out / "config.json").write_text(json.dumps(merged_config(weights.config, dtype), indent=2) + "\n")
    copy_processor_files(weights.base.model_dir, out)
    return dtype


def merged_config(config: dict, dtype: str) -> dict:
    torch_dtype = {"BF16": "bfloat16", "F16": "float16", "F32": "float32"}[dtype]
    config = without_remote_code({k: v for k, v in config.items() if k not in _MLX_ONLY_CONFIG_KEYS})
    config["torch_dtype"] = torch_dtype
    if isinstance(config.get("text_config"), dict):
        config["text_config"] = {**config["text_config"], "torch_dtype": torch_dtype}
    return config


def without_remote_code(data: dict) -> dict:
    """`data` (a config, at any depth) without the keys that would load code from the model folder."""
    return {k: without_remote_code(v) if isinstance(v, dict) else v
            for k, v in data.items() if k not in _REMOTE_CODE_KEYS}


def copy_processor_files(model_dir: Path, out: Path) -> list[str]:
    """The tokenizer and processor files, JSON ones without remote-code keys."""
    copied = []
    for name in PROCESSOR_FILES:
        source = Path(model_dir) / name
        if not source.is_file():
            continue
        if name.endswith(".json"):
            data = json.loads(source.read_text("utf-8"))
            clean = without_remote_code(data) if isinstance(data, dict) else data
            (out / name).write_text(json.dumps(clean, indent=2, ensure_ascii=False) + "\n", "utf-8")
        else:
            shutil.copyfile(source, out / name)
        copied.append(name)
    if "tokenizer.json" not in copied and "vocab.json" not in copied:
        raise ExportError(f"{model_dir}: no tokenizer files (tokenizer.json or vocab.json + merges.txt)")
    return copied
