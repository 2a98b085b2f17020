"""Model weights as float32 numpy arrays under one naming, whatever folder they came from.

Owns reading safetensors without torch (bf16 included, memory-mapped), streaming safetensors
writes, the canonical tensor names every exporter uses (Hugging Face's hub names:
`model.layers.N...`, `model.embed_tokens`, `lm_head`, `visual.*`), and `BaseWeights`, which reads a
Hugging Face folder (legacy or transformers-5 names) or an mlx-vlm folder (its names, channels-last
patch embedding, affine-quantized weights dequantized on read). It does not know about LoRA
(see `adapters.py`, `merge.py`) or about any output format.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from ..errors import ExportError

_NUMPY = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": np.uint16,
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8,
    "U64": np.uint64, "U32": np.uint32, "U16": np.uint16, "U8": np.uint8, "BOOL": np.bool_,
}
FLOAT_DTYPES = ("F32", "F16", "BF16")


@dataclass(frozen=True)
class TensorRef:
    """Where one tensor's bytes lie in a safetensors file."""

    file: Path
    dtype: str
    shape: tuple[int, ...]
    offset: int

    def load(self) -> np.ndarray:
        """The raw array (bf16 comes back as its uint16 bit pattern), memory-mapped."""
        count = int(np.prod(self.shape)) if self.shape else 1
        data = np.memmap(self.file, dtype=_NUMPY[self.dtype], mode="r", offset=self.offset,
                         shape=(count,))
        return data.reshape(self.shape)

    def load_f32(self) -> np.ndarray:
        return to_float32(self.load(), self.dtype)


def read_safetensors_index(path: Path) -> dict[str, TensorRef]:
    """Every tensor of one safetensors file, from its JSON header (no data is read)."""
    with open(path, "rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(size))
    header.pop("__metadata__", None)
    refs = {}
    for name, info in header.items():
        if info["dtype"] not in _NUMPY:
            raise ExportError(f"{path}: tensor {name} has dtype {info['dtype']}, which sdft-local "
                              f"cannot read; supported: {', '.join(_NUMPY)}")
        refs[name] = TensorRef(path, info["dtype"], tuple(info["shape"]),
                               8 + size + info["data_offsets"][0])
    return refs


def read_folder_index(folder: Path) -> dict[str, TensorRef]:
    """The tensors of every *.safetensors file in a folder (sharded checkpoints included)."""
    refs: dict[str, TensorRef] = {}
    files = sorted(Path(folder).glob("*.safetensors"))
    if not files:
        raise ExportError(f"{folder}: no .safetensors weights; pass a model folder with safetensors")
    for path in files:
        for name, ref in read_safetensors_index(path).items():
            if name in refs:
                raise ExportError(f"{folder}: tensor {name} appears in {refs[name].file.name} and "
                                  f"{path.name}; remove the stale file")
            refs[name] = ref
    return refs


def to_float32(array: np.ndarray, dtype: str) -> np.ndarray:
    if dtype == "BF16":
        return (array.astype(np.uint32) << 16).view(np.float32)
    return np.asarray(array, dtype=np.float32)


def float32_to_bf16_bits(array: np.ndarray) -> np.ndarray:
    """Round-to-nearest-even float32 -> bfloat16, as uint16 bit patterns."""
    bits = np.ascontiguousarray(array, dtype=np.float32).view(np.uint32)
    rounding = ((bits >> 16) & 1) + np.uint32(0x7FFF)
    return ((bits + rounding) >> 16).astype(np.uint16)


def cast_float(array: np.ndarray, dtype: str) -> np.ndarray:
    """A float32 array in a safetensors float dtype (bf16 as bit patterns)."""
    if dtype == "BF16":
        return float32_to_bf16_bits(array)
    return np.ascontiguousarray(array, dtype=_NUMPY[dtype])


def write_safetensors(path: Path, specs: Iterable[tuple[str, str, tuple[int, ...]]],
                      produce: Callable[[str], np.ndarray], metadata: dict | None = None) -> None:
    """Write tensors one at a time: `specs` gives (name, dtype, shape), `produce(name)` the data.

    Only one tensor is in memory at a time, so a model larger than half the RAM still merges.
    """
    specs = list(specs)
    header, offset = {}, 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, dtype, shape in specs:
        size = int(np.prod(shape)) * np.dtype(_NUMPY[dtype]).itemsize
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(blob)) + blob)
        for name, dtype, shape in specs:
            data = produce(name)
            if tuple(data.shape) != tuple(shape) or data.dtype != np.dtype(_NUMPY[dtype]):
                raise AssertionError(f"{name}: produced {data.dtype}{data.shape}, declared {dtype}{shape}")
            f.write(np.ascontiguousarray(data).tobytes())


# --- names ---------------------------------------------------------------------------------------

def canonical_name(name: str) -> str:
    """A tensor or module name in the hub's legacy naming, from any of the known layouts."""
    for prefix, canonical in (
        ("model.language_model.", "model."),   # transformers >= 4.52 module names
        ("model.visual.", "visual."),
        ("language_model.model.", "model."),   # mlx-vlm
        ("language_model.lm_head", "lm_head"),
        ("vision_tower.", "visual."),
    ):
        if name.startswith(prefix):
            return canonical + name[len(prefix):]
    return name


def hf_module_name(canonical: str) -> str:
    """The module path inside transformers' Qwen2VLForConditionalGeneration (>= 4.52)."""
    if canonical.startswith("model."):
        return "model.language_model." + canonical[len("model."):]
    if canonical.startswith("visual."):
        return "model." + canonical
    return canonical


def mlx_module_name(canonical: str) -> str:
    """The module path inside mlx-vlm's Qwen2-VL model."""
    if canonical.startswith("model."):
        return "language_model." + canonical
    if canonical.startswith("visual."):
        return "vision_tower." + canonical[len("visual."):]
    if canonical.startswith("lm_head"):
        return "language_model." + canonical
    return canonical


# --- a base model's weights ----------------------------------------------------------------------

class BaseWeights:
    """A model folder's weights by canonical name, as float32 in Hugging Face orientation.

    Quantized mlx-vlm weights (uint32 + scales + biases) are dequantized on read;
    `dequantized` says whether that happened, so exports can tell the user.
    """

    def __init__(self, model_dir: str | Path):
        self.model_dir = Path(model_dir)
        self.config = json.loads((self.model_dir / "config.json").read_text("utf-8"))
        raw = read_folder_index(self.model_dir)
        self._quant = self.config.get("quantization") or {}
        self._refs: dict[str, tuple[str, TensorRef]] = {}
        for name, ref in raw.items():
            if name.endswith((".scales", ".biases")) and name[: -len(".scales")] + ".weight" in raw:
                continue
            self._refs[canonical_name(name)] = (name, ref)
        self._raw = raw
        self.dequantized = any(self._is_quantized(n) for n in self._refs)

    def names(self) -> list[str]:
        return list(self._refs)

    def __contains__(self, name: str) -> bool:
        return name in self._refs

    def shape(self, name: str) -> tuple[int, ...]:
        original, ref = self._refs[name]
        if self._is_quantized(name):
            return (ref.shape[0], ref.shape[1] * 32 // self._bits(original))
        if _is_mlx_patch_embed(name, ref.shape):
            s = ref.shape
            return (s[0], s[4], s[1], s[2], s[3])
        return ref.shape

    def dtype(self, name: str) -> str:
        """The float dtype the tensor is stored in (for quantized weights: that of its scales)."""
        original, ref = self._refs[name]
        if self._is_quantized(name):
            return self._raw[original[: -len(".weight")] + ".scales"].dtype
        return ref.dtype

    def get(self, name: str) -> np.ndarray:
        original, ref = self._refs[name]
        if self._is_quantized(name):
            return self._dequantize(original)
        array = ref.load_f32()
        if _is_mlx_patch_embed(name, ref.shape):
            array = np.ascontiguousarray(array.transpose(0, 4, 1, 2, 3))
        return array

    def _is_quantized(self, name: str) -> bool:
        original, ref = self._refs[name]
        return (ref.dtype == "U32" and original.endswith(".weight")
                and original[: -len(".weight")] + ".scales" in self._raw)

    def _layer_quant(self, original: str) -> dict:
        module = original[: -len(".weight")]
        override = self._quant.get(module)
        return override if isinstance(override, dict) else self._quant

    def _bits(self, original: str) -> int:
        return int(self._layer_quant(original).get("bits", 4))

    def _dequantize(self, original: str) -> np.ndarray:
        params = self._layer_quant(original)
        if params.get("mode", "affine") != "affine":
            raise ExportError(f"{self.model_dir}: {original} uses {params['mode']} quantization; "
                              "only MLX affine quantization can be dequantized; use a float base")
        module = original[: -len(".weight")]
        return dequantize_affine(
            self._raw[original].load(), self._raw[module + ".scales"].load_f32(),
            self._raw[module + ".biases"].load_f32(),
            group_size=int(params.get("group_size", 64)), bits=int(params.get("bits", 4)))


def dequantize_affine(packed: np.ndarray, scales: np.ndarray, biases: np.ndarray, *,
                      group_size: int, bits: int) -> np.ndarray:
    """MLX affine dequantization: values packed little-endian, `bits` each, in uint32 words."""
    rows = packed.shape[0]
    bit_stream = np.unpackbits(np.ascontiguousarray(packed).view(np.uint8).reshape(rows, -1),
                               axis=-1, bitorder="little")
    weights = (1 << np.arange(bits, dtype=np.uint32)).astype(np.float32)
    q = bit_stream.reshape(rows, -1, bits).astype(np.float32) @ weights
    q = q.reshape(rows, -1, group_size)
    return (q * scales[..., None] + biases[..., None]).reshape(rows, -1).astype(np.float32)


def _is_mlx_patch_embed(name: str, shape: tuple[int, ...]) -> bool:
    # mlx-vlm stores the Conv3d kernel channels-last (out, t, h, w, in); transformers (out, in, t, h, w).
    return name == "visual.patch_embed.proj.weight" and len(shape) == 5 and shape[-1] == 3 != shape[1]
