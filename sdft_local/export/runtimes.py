"""The Python runtimes an export is compared in: transformers (+ peft) and mlx-vlm.

Owns `TorchRuntime` (Qwen2VLForConditionalGeneration in float32 on the CPU, optionally with a PEFT
adapter loaded by `PeftModel.from_pretrained`) and `MlxRuntime` (mlx-vlm's model, optionally with
an MLX adapter loaded by mlx-vlm's own adapter loader), both answering `logits(inputs)` for the
processor's numpy inputs. They serve twice: as the trained model the exports are compared with,
and as the consumers that load the PEFT, MLX and merged exports. They never write files.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from ..errors import ExportError

RUNTIMES = ("torch", "mlx")


def available(kind: str) -> bool:
    """Whether the runtime's packages are importable (without importing them)."""
    needs = {"torch": ("torch", "transformers", "peft"), "mlx": ("mlx", "mlx_vlm")}[kind]
    return all(importlib.util.find_spec(name) is not None for name in needs)


def open_runtime(kind: str, model_dir: Path, adapter_dir: Path | None = None):
    if kind not in RUNTIMES:
        raise ExportError(f"unknown runtime {kind!r}; choose one of {', '.join(RUNTIMES)}")
    if not available(kind):
        extra = "torch" if kind == "torch" else "mlx"
        raise ExportError(f"the {kind} runtime is not installed; install sdft-local[{extra}]")
    return TorchRuntime(model_dir, adapter_dir) if kind == "torch" else MlxRuntime(model_dir, adapter_dir)


class TorchRuntime:
    """transformers in float32 on the CPU: the same numbers on every machine."""

    kind = "torch"

    def __init__(self, model_dir: Path, adapter_dir: Path | None = None):
        from ..models.loaders import load_torch_student

        self.model, self.processor = load_torch_student(model_dir, device="cpu", dtype="float32")
        if adapter_dir is not None:
            from peft import PeftModel

            self.model = PeftModel.from_pretrained(self.model, str(adapter_dir)).eval()

    def logits(self, inputs: dict) -> np.ndarray:
        """(tokens, vocab) float32 logits for one sequence of processor inputs."""
        import torch

        from ..models.chat import to_torch

        with torch.no_grad():
            out = self.model(**to_torch(inputs))
        return out.logits[0].float().numpy()

    def close(self) -> None:
        self.model = None


class MlxRuntime:
    """mlx-vlm's Qwen2-VL, with an MLX adapter loaded the way mlx-vlm users load it."""

    kind = "mlx"

    def __init__(self, model_dir: Path, adapter_dir: Path | None = None):
        from ..models.loaders import load_mlx_student

        self.model, self.processor = load_mlx_student(model_dir, adapter=adapter_dir)

    def logits(self, inputs: dict) -> np.ndarray:
        import mlx.core as mx

        from ..models.chat import to_mx

        arrays = to_mx(inputs)
        # mlx-vlm keeps the M-RoPE positions of the last prompt for generation; a new,
        # unrelated sequence must not reuse them.
        language = getattr(self.model, "language_model", None)
        for attr in ("_position_ids", "_rope_deltas"):
            if hasattr(language, attr):
                setattr(language, attr, None)
        kwargs = {"mask": arrays.get("attention_mask")}
        if "pixel_values" in arrays:
            kwargs.update(pixel_values=arrays["pixel_values"], image_grid_thw=arrays["image_grid_thw"])
        out = self.model(arrays["input_ids"], **kwargs)
        logits = out.logits if hasattr(out, "logits") else out
        return np.array(logits[0].astype(mx.float32))

    def close(self) -> None:
        self.model = None
