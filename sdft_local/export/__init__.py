"""Exports of a trained run: MLX and PEFT adapters, merged model, GGUF (+ mmproj), GGUF LoRA, Ollama.

Every export converts the trainer's native adapter (never retrains), is loaded back by its
consumer and compared with the trained model on fixed probes, and lands in its folder atomically
with a manifest.json (sha256 of every file, source run, check verdict, verification results).
Entry points: `export_run` (a project's run, through the store) and the store-free
`export_formats` / `export_gguf` / `export_gguf_lora` / `export_merged` / `export_mlx_adapter` /
`export_peft_adapter` / `export_ollama`; all are generators of the records in `events`, and
`drain` runs one to its `ExportResult`. Submodules import torch, mlx, gguf and llama_cpp only
inside functions.
"""

from .events import (FORMATS, VerificationFinished, ExportFinished, ExportOptions, ExportResult,
                     ExportStarted, FormatExported, FormatResult, StepStarted, drain, parse_formats)
from .formats import (export_formats, export_gguf, export_gguf_lora, export_merged,
                      export_mlx_adapter, export_ollama, export_peft_adapter)
from .run import export_run
from .workspace import ExportSource

__all__ = [
    "FORMATS", "VerificationFinished", "ExportFinished", "ExportOptions", "ExportResult", "ExportSource",
    "ExportStarted", "FormatExported", "FormatResult", "StepStarted", "drain", "export_formats",
    "export_gguf", "export_gguf_lora", "export_merged", "export_mlx_adapter", "export_ollama",
    "export_peft_adapter", "export_run", "parse_formats",
]
