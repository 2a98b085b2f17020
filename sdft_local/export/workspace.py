"""One export's shared state: the source, the probes, the trained model's outputs, built files.

Owns `ExportSource` (base model folder, adapter folder, and the run facts a manifest records) and
`Workspace`, which builds everything several formats share exactly once — the merged weights, the
reference logits of the trained model on the probes, float/quantized text GGUFs, mmprojs and the
GGUF LoRA — in a scratch folder, so `all` never converts or loads the same thing twice. Scratch
files are hard-linked into format folders (`place`). It does not decide pass/fail (see
`verify.py`) or lay out format folders (see `formats.py`).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from ..errors import ExportError
from .adapters import adapter_format, read_adapter, write_mlx, write_peft
from .events import ExportOptions
from .gguf_lora import write_lora_gguf
from .gguf_text import text_hparams, write_text_gguf
from .gguf_vision import write_mmproj_gguf
from .merge import MergedWeights
from .quantize import quantize_gguf
from .runtimes import available, open_runtime
from .tensors import BaseWeights

# Above this many text parameters, verification GGUFs are F16 rather than F32 (disk and time).
F32_VERIFY_LIMIT = 600_000_000


@dataclass(frozen=True)
class ExportSource:
    """What is exported. `base_ref` is how READMEs name the base (hub id or folder)."""

    model_dir: Path
    adapter_dir: Path | None
    base_ref: str = ""
    run_id: int | None = None
    run_name: str = ""
    backend: str = ""
    check_verdict: str = "unchecked"
    cards: tuple = ()  # FactsCard of every entity: written beside each format, SYSTEM for Ollama

    def describe(self) -> dict:
        return {"run_id": self.run_id, "run_name": self.run_name, "backend": self.backend,
                "base_model": self.base_ref or str(self.model_dir), "model_dir": str(self.model_dir),
                "adapter_dir": str(self.adapter_dir) if self.adapter_dir else None,
                "adapter_format": self.adapter_format}

    @property
    def adapter_format(self) -> str | None:
        return adapter_format(self.adapter_dir) if self.adapter_dir else None


@dataclass(frozen=True)
class ReferenceOutputs:
    """The trained model's logits on the probes, from one runtime."""

    kind: str
    text: tuple[np.ndarray, ...]
    image: np.ndarray
    note: str


class Workspace:
    """Caches of one export (see the module docstring); scratch files live in `scratch`."""

    def __init__(self, source: ExportSource, options: ExportOptions, scratch: Path):
        self.source = source
        self.options = options
        self.scratch = Path(scratch)
        self.scratch.mkdir(parents=True, exist_ok=True)
        self._files: dict[tuple, Path] = {}
        self.checks: dict[tuple, tuple] = {}

    # -- weights ------------------------------------------------------------------------------

    @cached_property
    def adapter(self):
        return read_adapter(self.source.adapter_dir) if self.source.adapter_dir else None

    @cached_property
    def base(self) -> BaseWeights:
        return BaseWeights(self.source.model_dir)

    def weights(self, which: str) -> MergedWeights:
        """ "merged" (the trained model) or "base" (the adapter left out)."""
        return MergedWeights(self.base, self.adapter if which == "merged" else None)

    @cached_property
    def config(self) -> dict:
        return self.base.config

    def verify_ftype(self) -> str:
        """F32 for the GGUFs that exist only to be checked, unless the model is large."""
        hp = text_hparams(self.config)
        params = hp.vocab_size * hp.hidden_size + hp.num_layers * (
            4 * hp.hidden_size ** 2 + 3 * hp.hidden_size * hp.intermediate_size)
        return "f32" if params < F32_VERIFY_LIMIT else "f16"

    # -- probes and the trained model's outputs --------------------------------------------------

    @cached_property
    def processor(self):
        from ..models.processor import load_processor

        return load_processor(self.source.model_dir)

    @cached_property
    def probes(self):
        from .probes import text_probes

        return text_probes(self.processor)

    @cached_property
    def image(self):
        from .probes import probe_image

        return probe_image(self.processor)

    @cached_property
    def image_inputs(self) -> dict:
        from .probes import image_inputs

        return image_inputs(self.processor, self.image)

    def text_inputs(self) -> list[dict]:
        return [{"input_ids": np.asarray([p.ids], dtype=np.int64),
                 "attention_mask": np.ones((1, len(p.ids)), dtype=np.int64)} for p in self.probes]

    @cached_property
    def reference(self) -> ReferenceOutputs:
        kind = self.reference_kind()
        adapter, note = self.adapter_folder_for(kind)
        outputs = runtime_outputs(kind, self.source.model_dir, adapter, self)
        return ReferenceOutputs(kind, outputs[0], outputs[1], note)

    def reference_kind(self) -> str:
        if self.options.reference != "auto":
            return self.options.reference
        native_mlx = self.source.adapter_format == "mlx" or self.base.dequantized
        for kind in (("mlx", "torch") if native_mlx else ("torch", "mlx")):
            if available(kind) and not (kind == "torch" and self.base.dequantized):
                return kind
        raise ExportError("verification needs transformers + peft (sdft-local[torch]) or mlx-vlm "
                          "(sdft-local[mlx]), or a quantized MLX base needs mlx-vlm; install one, "
                          "or export with --no-verify")

    def adapter_folder_for(self, kind: str) -> tuple[Path | None, str]:
        """The adapter in the format runtime `kind` loads: the native folder or a conversion."""
        if self.adapter is None:
            return None, "base model (no adapter)"
        wanted = "peft" if kind == "torch" else "mlx"
        if self.source.adapter_format == wanted:
            return self.source.adapter_dir, f"{kind} with the run's own {wanted} adapter"
        folder = self.scratch / f"adapter-{wanted}"
        if not folder.exists() and wanted == "peft":
            write_peft(self.adapter, folder)
        elif not folder.exists():
            write_mlx(self.adapter, folder)
        return folder, f"{kind} with the run's adapter converted to {wanted}"

    # -- built files (scratch, built once) ---------------------------------------------------------

    def text_gguf(self, which: str, ftype: str) -> Path:
        return self._build(("text", which, ftype), self._gguf_name(which, ftype), lambda p: write_text_gguf(
            self.weights(which), self.source.model_dir, p, ftype=ftype, name=self.options.name))

    def quantized_gguf(self, which: str, quant: str) -> Path:
        if quant in ("f32", "f16"):
            return self.text_gguf(which, quant)
        source = self.text_gguf(which, "f16")
        return self._build(("quant", which, quant), self._gguf_name(which, quant),
                           lambda p: quantize_gguf(source, p, quant))

    def mmproj_gguf(self, ftype: str) -> Path:
        """The vision tower with any vision LoRA merged in: right for the merged text model and,
        since GGUF LoRA holds text modules only, for a base text model + GGUF LoRA too."""
        name = "mmproj-" + self._gguf_name("merged", ftype)
        return self._build(("mmproj", ftype), name, lambda p: write_mmproj_gguf(
            self.weights("merged"), self.source.model_dir, p, ftype=ftype, name=self.options.name))

    def lora_gguf(self) -> Path:
        return self._build(("lora",), f"{self.options.name}-lora.gguf", lambda p: write_lora_gguf(
            self.adapter, self.config, p, name=self.options.name))

    def _gguf_name(self, which: str, kind: str) -> str:
        return f"{self.options.name}{'-base' if which == 'base' else ''}-{kind}.gguf"

    def _build(self, key: tuple, filename: str, write) -> Path:
        if key not in self._files:
            path = self.scratch / filename
            write(path)
            self._files[key] = path
        return self._files[key]

    def cached_checks(self, key: tuple, run) -> tuple:
        """Checks of one built file, run once even when several formats ship that file."""
        if key not in self.checks:
            self.checks[key] = tuple(run())
        return self.checks[key]


def runtime_outputs(kind: str, model_dir: Path, adapter_dir: Path | None, ws: Workspace):
    """(text logits per probe, image logits) from a Python runtime, which is closed after."""
    runtime = open_runtime(kind, model_dir, adapter_dir)
    try:
        text = tuple(runtime.logits(inputs) for inputs in ws.text_inputs())
        return text, runtime.logits(ws.image_inputs)
    finally:
        runtime.close()


def place(source: Path, target: Path) -> None:
    """Put a scratch file into a format folder: a hard link when possible, else a copy."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
