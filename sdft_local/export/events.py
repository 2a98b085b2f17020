"""The typed records an export yields, and its options and result.

Owns `ExportOptions` (validated in `__post_init__`), the progress records (`ExportStarted`,
`StepStarted`, `VerificationFinished`, `FormatExported`, `ExportFinished`), `FormatResult` and
`ExportResult`, plus `drain`, which runs an export to its end for callers that need no progress.
Records only: nothing here does work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from ..errors import ConfigError
from .quantize import QUANTS
from .runtimes import RUNTIMES
from .verify import CheckResult, Tolerances

FORMATS = ("mlx", "peft", "merged", "gguf", "gguf-lora", "ollama")
NEEDS_ADAPTER = ("mlx", "peft", "gguf-lora")


@dataclass(frozen=True)
class ExportOptions:
    """How to export. `quant` is the text GGUF's type; the mmproj stays float (`mmproj_type`)."""

    quant: str = field(default="q8_0", metadata={"help": "text GGUF type: f32, f16, q8_0, q4_k_m"})
    mmproj_type: str = field(default="f16", metadata={"help": "mmproj GGUF type: f32 or f16"})
    verify: bool = field(default=True, metadata={"help": "load every artifact back and compare"})
    reference: str = field(default="auto", metadata={
        "help": "runtime of the trained model: auto, torch, mlx"})
    ollama_adapter: bool = field(default=False, metadata={
        "help": "Ollama: base GGUF + ADAPTER instead of the merged model"})
    name: str = field(default="sdft-local", metadata={"help": "model name written into GGUF files"})
    overwrite: bool = field(default=False, metadata={"help": "replace an existing --out folder"})
    tolerances: Tolerances = field(default_factory=Tolerances)

    def __post_init__(self):
        if self.quant not in QUANTS:
            raise ConfigError(f"quant {self.quant!r} is not supported; choose one of {', '.join(QUANTS)}")
        if self.mmproj_type not in ("f32", "f16"):
            raise ConfigError(f"mmproj_type {self.mmproj_type!r}; choose f32 or f16")
        if self.reference not in ("auto", *RUNTIMES):
            raise ConfigError(f"reference {self.reference!r}; choose auto, {', '.join(RUNTIMES)}")
        if not self.name or any(c in self.name for c in "/\\\0"):
            raise ConfigError(f"name {self.name!r} must be non-empty and contain no path separators")


def parse_formats(formats: str | Iterable[str]) -> tuple[str, ...]:
    """Validated, de-duplicated, in canonical order; "all" means every format."""
    items = [formats] if isinstance(formats, str) else list(formats)
    items = [f.strip() for item in items for f in item.split(",") if f.strip()]
    if "all" in items:
        return FORMATS
    unknown = [f for f in items if f not in FORMATS]
    if unknown or not items:
        raise ConfigError(f"unknown export format {', '.join(unknown) or '(none)'}; choose from "
                          f"{', '.join(FORMATS)} or all")
    return tuple(f for f in FORMATS if f in items)


@dataclass(frozen=True)
class FormatResult:
    format: str
    path: Path
    files: tuple[str, ...]
    checks: tuple[CheckResult, ...]
    verified: bool
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    artifacts: dict[str, str] = field(default_factory=dict)  # role ("model", "mmproj"...) -> file


@dataclass(frozen=True)
class ExportResult:
    out: Path
    run_id: int | None
    formats: tuple[FormatResult, ...]
    verified: bool
    check_verdict: str
    forced: bool

    @property
    def warnings(self) -> tuple[str, ...]:
        """Every format's warnings, each once (formats sharing a file share its warnings)."""
        return tuple(dict.fromkeys(w for f in self.formats for w in f.warnings))


@dataclass(frozen=True)
class ExportStarted:
    out: Path
    formats: tuple[str, ...]
    run_id: int | None


@dataclass(frozen=True)
class StepStarted:
    format: str
    step: str


@dataclass(frozen=True)
class VerificationFinished:
    format: str
    check: CheckResult


@dataclass(frozen=True)
class FormatExported:
    result: FormatResult


@dataclass(frozen=True)
class ExportFinished:
    result: ExportResult


def drain(events: Iterable) -> ExportResult:
    """Run an export generator to the end and return its result."""
    result = None
    for event in events:
        if isinstance(event, ExportFinished):
            result = event.result
    if result is None:
        raise AssertionError("export ended without an ExportFinished record")
    return result
