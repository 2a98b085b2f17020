"""LoRA adapters in one framework-neutral form, read from and written to MLX and PEFT folders.

Owns `LoraAdapter` (canonical module name -> A (r, in), B (out, r) in float32, PEFT orientation,
one rank and one alpha), `read_adapter` (detects the format), `read_peft`/`read_mlx` and
`write_peft`/`write_mlx`. Conversion transposes both matrices and keeps alpha = scale × rank, so
a round trip is exact. The written folders load unchanged with `peft.PeftModel.from_pretrained`
and `mlx_vlm.load(..., adapter_path=)`. It does not merge (see `merge.py`) or run models.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ExportError
from .tensors import (canonical_name, hf_module_name, mlx_module_name, read_safetensors_index,
                      write_safetensors)

PEFT_WEIGHTS = "adapter_model.safetensors"
MLX_WEIGHTS = "adapters.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
PEFT_PREFIX = "base_model.model."
ADAPTER_FORMATS = ("peft", "mlx")


@dataclass(frozen=True, eq=False)
class LoraAdapter:
    """A LoRA adapter: delta W = (alpha / rank) · B @ A for every adapted Linear."""

    rank: int
    alpha: float
    modules: dict[str, tuple[np.ndarray, np.ndarray]] = field(repr=False)
    dropout: float = 0.0
    source_format: str = "peft"

    def __post_init__(self):
        if self.rank < 1 or not self.modules:
            raise ExportError(f"LoRA adapter with rank {self.rank} and {len(self.modules)} modules "
                              "is empty; train a run first")
        for name, (a, b) in self.modules.items():
            if a.shape[0] != self.rank or b.shape[1] != self.rank:
                raise ExportError(f"LoRA module {name}: A {a.shape} / B {b.shape} do not have rank "
                                  f"{self.rank}; the adapter files are inconsistent")

    @property
    def scale(self) -> float:
        return self.alpha / self.rank

    def delta(self, module: str) -> np.ndarray:
        a, b = self.modules[module]
        return (self.scale * b.astype(np.float64) @ a.astype(np.float64)).astype(np.float32)

    def text_modules(self) -> list[str]:
        return [m for m in self.modules if m.startswith("model.")]

    def vision_modules(self) -> list[str]:
        return [m for m in self.modules if m.startswith("visual.")]


def adapter_format(path: str | Path) -> str:
    """ "peft" or "mlx", from the files in the folder."""
    path = Path(path)
    if (path / PEFT_WEIGHTS).is_file():
        return "peft"
    if (path / MLX_WEIGHTS).is_file():
        return "mlx"
    raise ExportError(f"{path}: no {PEFT_WEIGHTS} (PEFT) or {MLX_WEIGHTS} (MLX) found; pass the "
                      "adapter folder of a finished training run")


def read_adapter(path: str | Path) -> LoraAdapter:
    return read_peft(path) if adapter_format(path) == "peft" else read_mlx(path)


# --- PEFT ----------------------------------------------------------------------------------------

def read_peft(path: str | Path) -> LoraAdapter:
    path = Path(path)
    config = _read_config(path)
    _check_peft_config(path, config)
    rank = int(config["r"])
    alpha = float(config.get("lora_alpha", rank))
    if config.get("use_rslora"):
        alpha = rank * alpha / math.sqrt(rank)  # keep scale = alpha_eff / rank
    pairs: dict[str, dict[str, np.ndarray]] = {}
    for key, ref in read_safetensors_index(path / PEFT_WEIGHTS).items():
        module, part = _split_peft_key(path, key)
        pairs.setdefault(canonical_name(module), {})[part] = ref.load_f32().copy()
    return LoraAdapter(rank, alpha, _complete(path, pairs, "A", "B"),
                       float(config.get("lora_dropout", 0.0)), "peft")


def _check_peft_config(path: Path, config: dict) -> None:
    if config.get("peft_type", "LORA") != "LORA":
        raise ExportError(f"{path}: peft_type {config.get('peft_type')!r}; only LoRA adapters export")
    unsupported = [k for k in ("use_dora", "modules_to_save", "rank_pattern", "alpha_pattern",
                               "layers_to_transform") if config.get(k)]
    if config.get("bias", "none") != "none":
        unsupported.append(f"bias={config['bias']}")
    if unsupported:
        raise ExportError(f"{path}: adapter uses {', '.join(unsupported)}, which has no MLX or GGUF "
                          "equivalent; train with plain LoRA (one rank, no DoRA, no extra modules)")


def _split_peft_key(path: Path, key: str) -> tuple[str, str]:
    for part in ("A", "B"):
        marker = f".lora_{part}.weight"
        if key.endswith(marker) and key.startswith(PEFT_PREFIX):
            return key[len(PEFT_PREFIX): -len(marker)], part
    raise ExportError(f"{path / PEFT_WEIGHTS}: unexpected tensor {key!r}; only LoRA A/B matrices "
                      "of Linear layers can be exported")


def write_peft(adapter: LoraAdapter, path: str | Path, *, base_model: str = "") -> None:
    """adapter_model.safetensors + adapter_config.json, as `PeftModel.save_pretrained` writes them."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for module, (a, b) in sorted(adapter.modules.items()):
        prefix = PEFT_PREFIX + hf_module_name(module)
        tensors[prefix + ".lora_A.weight"] = np.ascontiguousarray(a, dtype=np.float32)
        tensors[prefix + ".lora_B.weight"] = np.ascontiguousarray(b, dtype=np.float32)
    _write_tensors(path / PEFT_WEIGHTS, tensors)
    _write_json(path / ADAPTER_CONFIG, _peft_config(adapter, base_model))


def _peft_config(adapter: LoraAdapter, base_model: str) -> dict:
    # Full module paths, not suffixes: a suffix list would also adapt modules the run never trained.
    return {
        "peft_type": "LORA", "task_type": None, "base_model_name_or_path": base_model or None,
        "r": adapter.rank, "lora_alpha": adapter.alpha, "lora_dropout": adapter.dropout,
        "target_modules": sorted(hf_module_name(m) for m in adapter.modules),
        "bias": "none", "fan_in_fan_out": False, "use_rslora": False, "use_dora": False,
        "modules_to_save": None, "init_lora_weights": True, "inference_mode": True,
        "rank_pattern": {}, "alpha_pattern": {},
    }


# --- MLX -----------------------------------------------------------------------------------------

def read_mlx(path: str | Path) -> LoraAdapter:
    path = Path(path)
    config = _read_config(path)
    if config.get("fine_tune_type", "lora") != "lora" or "lora_parameters" not in config:
        raise ExportError(f"{path}: fine_tune_type {config.get('fine_tune_type')!r}; only MLX LoRA "
                          "adapters (lora_parameters in adapter_config.json) can be exported")
    params = config["lora_parameters"]
    pairs: dict[str, dict[str, np.ndarray]] = {}
    for key, ref in read_safetensors_index(path / MLX_WEIGHTS).items():
        module, _, part = key.rpartition(".")
        if part not in ("lora_a", "lora_b"):
            raise ExportError(f"{path / MLX_WEIGHTS}: unexpected tensor {key!r}; only lora_a/lora_b")
        pairs.setdefault(canonical_name(module), {})[part] = ref.load_f32().T.copy()
    rank = int(params["rank"])
    return LoraAdapter(rank, float(params["scale"]) * rank, _complete(path, pairs, "lora_a", "lora_b"),
                       float(params.get("dropout", 0.0)), "mlx")


def write_mlx(adapter: LoraAdapter, path: str | Path) -> None:
    """adapters.safetensors (lora_a (in, r), lora_b (r, out)) + adapter_config.json for mlx-vlm."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for module, (a, b) in sorted(adapter.modules.items()):
        name = mlx_module_name(module)
        tensors[name + ".lora_a"] = np.ascontiguousarray(a.T, dtype=np.float32)
        tensors[name + ".lora_b"] = np.ascontiguousarray(b.T, dtype=np.float32)
    _write_tensors(path / MLX_WEIGHTS, tensors)
    _write_json(path / ADAPTER_CONFIG, {
        "fine_tune_type": "lora", "num_layers": -1,
        "lora_parameters": {
            "rank": adapter.rank, "dropout": adapter.dropout, "scale": adapter.scale,
            "keys": sorted(mlx_module_name(m) for m in adapter.modules),
        },
    })


# --- shared --------------------------------------------------------------------------------------

def _complete(path: Path, pairs: dict, a_key: str, b_key: str) -> dict:
    modules = {}
    for module, parts in pairs.items():
        if set(parts) != {a_key, b_key}:
            raise ExportError(f"{path}: module {module} has {sorted(parts)} but needs both "
                              f"{a_key} and {b_key}; the adapter file is incomplete")
        a, b = parts[a_key], parts[b_key]
        modules[module] = (a, b)
    return modules


def _read_config(path: Path) -> dict:
    try:
        return json.loads((path / ADAPTER_CONFIG).read_text("utf-8"))
    except FileNotFoundError:
        raise ExportError(f"{path}: no {ADAPTER_CONFIG}; keep it beside the adapter weights") from None


def _write_tensors(path: Path, tensors: dict[str, np.ndarray]) -> None:
    specs = [(name, "F32", tuple(t.shape)) for name, t in tensors.items()]
    write_safetensors(path, specs, tensors.__getitem__, metadata={"format": "pt"})


def _write_json(path: Path, obj: dict) -> None:
    path.write_text(json.dumps(obj, indent=2) + "\n", "utf-8")
