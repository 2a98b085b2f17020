"""A text LoRA adapter as a llama.cpp GGUF LoRA (`general.type adapter`, `adapter.type lora`).

Owns the adapter metadata (same `general.architecture` as the base, `adapter.lora.alpha` as
float32, so llama.cpp's scale alpha / rank equals the trained one) and the tensor names
`blk.N.<tensor>.weight.lora_a` (r, in) / `.lora_b` (out, r), as llama.cpp's own converter writes
them. Such a file applies to any Qwen2-VL GGUF with the same base weights, quantized or not.
Vision LoRA has no GGUF LoRA slot: callers merge it into the mmproj (see `formats.py`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ExportError
from .adapters import LoraAdapter
from .gguf_text import text_hparams


def write_lora_gguf(adapter: LoraAdapter, config: dict, path: Path, *, ftype: str = "f32",
                    name: str = "sdft-local") -> int:
    """Write the text modules of `adapter`; returns how many modules were written."""
    import gguf

    modules = adapter.text_modules()
    if not modules:
        raise ExportError("the adapter has no text-model modules, so a GGUF LoRA would be empty; "
                          "export the mmproj (format gguf) instead")
    hp = text_hparams(config)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.QWEN2VL, hp.num_layers)
    writer = gguf.GGUFWriter(str(path), gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.QWEN2VL])
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_name(name)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(adapter.alpha))
    dtype = np.float16 if ftype == "f16" else np.float32
    for module in sorted(modules):
        mapped = names.get_name(module)
        if mapped is None:
            raise ExportError(f"adapter module {module} has no llama.cpp qwen2vl counterpart")
        a, b = adapter.modules[module]
        writer.add_tensor(f"{mapped}.weight.lora_a", np.ascontiguousarray(a, dtype=dtype))
        writer.add_tensor(f"{mapped}.weight.lora_b", np.ascontiguousarray(b, dtype=dtype))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return len(modules)
