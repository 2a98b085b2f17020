"""Loading a resolved Qwen2-VL folder as a student model, with torch or with MLX.

Owns `load_torch_student` (transformers, safetensors only, no remote code, device auto =
cuda > mps > cpu) and `load_mlx_student` (mlx-vlm model classes). Both return the same
transformers processor (`processor.load_processor`), so both backends see identical token ids
and pixel values. It does not resolve ids (see `registry.py`) or run the model (see `student.py`).
"""

from __future__ import annotations

from contextlib import contextmanager

from pathlib import Path

from ..errors import ConfigError, ModelError
from .processor import load_processor, read_model_config

DEVICES = ("auto", "cuda", "mps", "cpu")
DTYPES = ("float32", "bfloat16", "float16")


def pick_device(device: str = "auto") -> str:
    """`device`, or for "auto" the best one present: cuda, then mps, then cpu."""
    import torch

    base = device.split(":")[0]
    if base not in DEVICES:
        raise ConfigError(f"unknown device {device!r}; choose one of {', '.join(DEVICES)}")
    if device != "auto":
        return device
    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def pick_dtype(device: str, dtype=None):
    """A torch dtype: as asked, else bf16 on CUDA, fp16 on MPS, fp32 on CPU."""
    import torch

    if dtype is None:
        dtype = {"cuda": "bfloat16", "mps": "float16"}.get(device.split(":")[0], "float32")
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in DTYPES:
        raise ConfigError(f"unknown dtype {dtype!r}; choose one of {', '.join(DTYPES)}")
    return getattr(torch, dtype)


def load_torch_student(path: str | Path, *, device: str = "auto", dtype=None):
    """(model, processor) for a local model folder, in eval mode on `device`."""
    from transformers import Qwen2VLForConditionalGeneration

    path = Path(path).resolve()
    config = read_model_config(path)
    if "quantization" in config:
        raise ModelError(f"{path}: MLX-quantized weights cannot be loaded with torch; use the mlx "
                         "backend, or the Hugging Face weights (Qwen/Qwen2-VL-2B-Instruct)")
    device = pick_device(device)
    with quiet_transformers():
        model = Qwen2VLForConditionalGeneration.from_pretrained(
            str(path), dtype=pick_dtype(device, dtype), use_safetensors=True,
            trust_remote_code=False, local_files_only=True,
        )
    return model.to(device).eval(), load_processor(path)


@contextmanager
def quiet_transformers():
    """Silence transformers' per-load progress bar and config notices for the duration (the
    CLI and the app draw their own progress; the previous settings are restored)."""
    from transformers.utils import logging as hf_logging

    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def load_mlx_student(path: str | Path, *, adapter: str | Path | None = None):
    """(model, processor) through mlx-vlm's model classes, optionally with an MLX LoRA adapter.

    The folder is passed as an absolute `Path`: mlx-vlm treats strings that are not existing
    paths as hub ids and would try to download them.
    """
    import mlx_vlm.models.qwen2_vl  # noqa: F401  (registers the Qwen2-VL classes first)
    from mlx_vlm.utils import load_model

    path = Path(path).resolve()
    read_model_config(path)
    model = load_model(path)
    if adapter is not None:
        model = _apply_mlx_adapter(model, Path(adapter).resolve())
    model.eval()
    return model, load_processor(path)


def _apply_mlx_adapter(model, adapter: Path):
    from mlx_vlm.trainer.peft.utils import apply_lora_layers

    if not (adapter / "adapter_config.json").is_file():
        raise ModelError(f"{adapter}: not an MLX adapter folder (no adapter_config.json)")
    return apply_lora_layers(model, adapter)
