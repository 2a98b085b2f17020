"""Quantizing a float GGUF through llama.cpp (llama-cpp-python's `llama_model_quantize`).

Owns the quant names sdft-local offers, their llama.cpp file types, and reading back which tensor
types a GGUF really holds (llama.cpp silently falls back to other types for rows that are not
multiples of the block size, so the manifest says what was written, not what was asked).
PyPI `gguf` writes F32/F16 only; everything else goes through here.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from ..errors import ExportError

QUANTS = ("f32", "f16", "q8_0", "q4_k_m")
# llama.cpp's llama_ftype values.
LLAMA_FTYPES = {"q8_0": 7, "q4_k_m": 15}


def quantize_gguf(source: Path, target: Path, quant: str, *, threads: int = 0) -> None:
    """Quantize a float GGUF to `quant` (q8_0 or q4_k_m) with llama.cpp."""
    import ctypes

    import llama_cpp

    if quant not in LLAMA_FTYPES:
        raise ExportError(f"quantization {quant!r} is not one llama.cpp does here; choose one of "
                          f"{', '.join(LLAMA_FTYPES)}")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = LLAMA_FTYPES[quant]
    params.nthread = threads
    from llama_cpp._utils import suppress_stdout_stderr

    # llama.cpp prints a line per tensor (and per fallback); `tensor_types` reports what matters.
    with suppress_stdout_stderr(disable=False):
        status = llama_cpp.llama_model_quantize(str(source).encode(), str(target).encode(),
                                               ctypes.byref(params))
    if status != 0 or not Path(target).is_file():
        raise ExportError(f"llama.cpp could not quantize {source.name} to {quant} (status {status})")


def tensor_types(path: Path) -> dict[str, int]:
    """How many tensors of each GGML type a GGUF file holds, e.g. {"Q8_0": 14, "F32": 9}."""
    from gguf import GGUFReader

    reader = GGUFReader(str(path))
    return dict(Counter(t.tensor_type.name for t in reader.tensors))


def gguf_metadata(path: Path, keys: tuple[str, ...]) -> dict[str, object]:
    """Selected scalar/string metadata of a GGUF file."""
    from gguf import GGUFReader

    reader = GGUFReader(str(path))
    out = {}
    for key in keys:
        field = reader.get_field(key)
        if field is not None:
            out[key] = field.contents()
    return out
