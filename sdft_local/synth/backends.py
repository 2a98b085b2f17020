"""The `ChatBackend` protocol that writes turn-3 answers, and the registry of backends by name.

Owns the protocol (a name for provenance, capability flags, `compose(request, image, options)`,
`close`), `PromptedBackend` (the shared path of every model backend: render the prompt, chat,
return the raw text) and `make_backend`, which imports a backend's module only when that backend
is asked for, so listing backends or starting the CLI loads no model library. Validation and
retries live in `compose.py`; prompts in `prompts.py`.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from ..dialogue.answers import EntityRequest
from ..errors import ConfigError
from .config import BackendConfig
from .prompts import entity_messages


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do; callers branch on these flags, never on the class."""

    sees_images: bool = False  # gets the photo itself (else only the caption)
    remote: bool = False  # sends data off this machine
    templated: bool = False  # writes from templates, not a model: always valid, no retries needed


@dataclass(frozen=True)
class GenerationOptions:
    max_tokens: int = 160
    temperature: float = 0.2
    seed: int = 0
    attempt: int = 0  # 0 for the first try


@runtime_checkable
class ChatBackend(Protocol):
    """Writes turn-3 answers. `name` goes into each answer's provenance."""

    name: str
    capabilities: Capabilities

    def compose(self, request: EntityRequest, image: Path | None,
                options: GenerationOptions) -> str: ...

    def close(self) -> None: ...


class PromptedBackend(ABC):
    """Base of every model backend: one chat call per answer on the prompt of `prompts.py`."""

    name = "model"
    capabilities = Capabilities()

    def compose(self, request: EntityRequest, image: Path | None,
                options: GenerationOptions) -> str:
        image = image if self.capabilities.sees_images else None
        messages = entity_messages(request, with_image=image is not None)
        return self.chat(messages, image, options)

    @abstractmethod
    def chat(self, messages: list[dict], image: Path | None, options: GenerationOptions) -> str:
        """One completion for `messages`; `image` (if any) belongs to the last user turn."""

    def close(self) -> None:
        return None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass(frozen=True)
class BackendInfo:
    name: str
    factory: str  # "module:function", imported on use
    description: str


BACKENDS: dict[str, BackendInfo] = {b.name: b for b in (
    BackendInfo("template", "sdft_local.synth.template:make_template",
                "Deterministic answers from templates (no model; the fallback)."),
    BackendInfo("llama-cpp", "sdft_local.synth.llamacpp:make_llama_text",
                "A local text GGUF through llama-cpp-python; composes from caption + facts."),
    BackendInfo("llama-cpp-vlm", "sdft_local.synth.llamacpp:make_llama_vlm",
                "A local vision GGUF + mmproj through llama-cpp-python; sees the photo."),
    BackendInfo("mlx-vlm", "sdft_local.synth.mlx:make_mlx_vlm",
                "A vision-language model folder through mlx-vlm (Apple Silicon, mlx-cpu)."),
    BackendInfo("transformers", "sdft_local.synth.hf:make_transformers",
                "A model folder through transformers (vision-language or text-only)."),
    BackendInfo("openai", "sdft_local.synth.remote:make_openai",
                "An OpenAI-compatible endpoint enabled for the project (vLLM, llama.cpp, Ollama)."),
)}


def make_backend(config: BackendConfig) -> ChatBackend:
    """Build the backend `config.name` (heavy libraries are imported here, not before)."""
    info = BACKENDS.get(config.name)
    if info is None:
        raise ConfigError(
            f"unknown synthesis backend {config.name!r}; choose one of {', '.join(BACKENDS)}")
    module, attr = info.factory.split(":")
    return getattr(importlib.import_module(module), attr)(config)
