"""Which base models sdft-local knows, and turning a model id or folder into a local folder.

Owns the built-in ids (`tiny-random`, `demo`, the real Qwen2-VL-2B for torch and for MLX),
`resolve_model` (build, find or download, then validate: config.json + safetensors, never pickle
weights), `list_models` for `sdft models`, and `default_model_for(backend)`. Import-light: no
torch, transformers or mlx here. It does not load models (see `loaders.py`).
"""

from __future__ import annotations

import json
import os
import platform
import re
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Callable

from ..errors import ConfigError, ModelError
from ..paths import models_dir

TINY_ID = "tiny-random"
DEMO_ID = "demo"
TORCH_2B_ID = "Qwen/Qwen2-VL-2B-Instruct"
MLX_2B_ID = "mlx-community/Qwen2-VL-2B-Instruct-4bit"
BACKENDS = ("auto", "torch", "mlx")

# Everything a model folder needs, and nothing that can execute code when loaded.
HUB_ALLOW_PATTERNS = ("*.safetensors", "*.json", "*.txt", "*.jinja")
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")

_BUILTINS = {
    TINY_ID: ("Tiny random Qwen2-VL built locally in seconds (tests, trying the pipeline)", "any"),
    DEMO_ID: ("Demo model shipped with sdft-local (small Qwen2-VL trained on the demo world)", "any"),
    TORCH_2B_ID: ("Qwen2-VL 2B Instruct, Hugging Face weights (torch: CUDA, MPS or CPU)", "torch"),
    MLX_2B_ID: ("Qwen2-VL 2B Instruct, 4-bit MLX weights (Apple Silicon)", "mlx"),
}


# Training settings measured to work for each built-in model; the project's own settings and the
# flags a user gives override them. The demo model is 400x smaller than the 2B model and its
# LoRA learns at five times the 2B model's rate (bench/learning.py, docs/results.md); it answers
# yes/no questions "yes" / "no" (its pretraining's short answers), not "Yes." / "No.". A local
# folder gets the training defaults.
_DEMO_TRAINING = {"learning_rate": 1e-3, "epochs": 9.0, "lora_rank": 16, "lora_dropout": 0.0,
                  "selfaug": 2.0, "recognition_answers": ("yes", "no"), "lora_targets": ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                                   "up_proj", "down_proj")}
_2B_TRAINING = {"learning_rate": 2e-4, "epochs": 3.0, "lora_rank": 8, "selfaug": 0.5}
RECOMMENDED_TRAINING: dict[str, dict] = {
    TINY_ID: {}, DEMO_ID: _DEMO_TRAINING, TORCH_2B_ID: _2B_TRAINING, MLX_2B_ID: _2B_TRAINING,
}


def recommended_training(model_id: str | None) -> dict:
    """The training settings recommended for a built-in model ({} for others)."""
    return dict(RECOMMENDED_TRAINING.get(str(model_id), {}))


@dataclass(frozen=True)
class ModelInfo:
    """One entry of `sdft models`."""

    id: str
    description: str
    backend: str
    cached: bool
    path: Path | None


@dataclass(frozen=True)
class DownloadProgressed:
    """Bytes (or files) fetched so far for one download bar."""

    model_id: str
    desc: str
    done: float
    total: float | None


def default_model_for(backend: str = "auto") -> str:
    """The base model to suggest: MLX 4-bit on Apple Silicon, HF weights elsewhere."""
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend == "auto":
        backend = "mlx" if is_apple_silicon() else "torch"
    return MLX_2B_ID if backend == "mlx" else TORCH_2B_ID


def is_apple_silicon() -> bool:
    return sys.platform == "darwin" and platform.machine() == "arm64"


def resolve_model(id_or_path: str | Path, *, offline: bool | None = None,
                  progress: Callable[[DownloadProgressed], None] | None = None) -> Path:
    """A validated local model folder for a built-in id, a folder path or a hub id.

    `offline=None` follows `HF_HUB_OFFLINE`. Hub downloads fetch only safetensors, JSON, text
    and templates; `progress` receives `DownloadProgressed` records while they run.
    """
    name = str(id_or_path)
    if name == TINY_ID:
        return _tiny_model()
    if name == DEMO_ID:
        return _demo_model()
    folder = _local_folder(name)
    if folder is not None:
        return folder
    return validate_model_dir(_download(name, offline=_is_offline(offline), progress=progress))


def _local_folder(name: str) -> Path | None:
    """The validated folder `name` names, or None when it is a hub id (ModelError for a missing
    or unusable folder)."""
    path = Path(name).expanduser()
    if not (path.exists() or not _HUB_ID.match(name)):
        return None
    if not path.is_dir():
        raise ModelError(f"{name}: no such model folder; pass a folder with config.json and "
                         f"*.safetensors, a hub id like {TORCH_2B_ID}, or one of: "
                         f"{', '.join(_BUILTINS)}")
    return validate_model_dir(path.resolve())


def check_base_model(id_or_path: str) -> str | None:
    """Refuse, before a project is made with it, a base model that cannot work: an unknown id, a
    missing folder, a folder without config.json or with pickle weights only. Returns a note
    for a hub id that is not on this machine yet (it downloads on first use), else None.
    Nothing is built or downloaded."""
    name = str(id_or_path)
    if name in (TINY_ID, DEMO_ID):
        return None
    if name in _BUILTINS or _local_folder(name) is None:
        return _not_cached_note(name)
    return None


def _not_cached_note(model_id: str) -> str | None:
    if _hub_cached(model_id) is not None:
        return None
    return (f"{model_id} is not on this machine yet; it is downloaded on first use (or now, on a "
            f"connected machine, with `hf download {model_id}`)")


def validate_model_dir(path: Path) -> Path:
    """`path` if it holds config.json and complete safetensors weights, else a ModelError."""
    if not (path / "config.json").is_file():
        raise ModelError(f"{path}: no config.json; this is not a model folder")
    weights = sorted(p.name for p in path.glob("*.safetensors"))
    if not weights:
        pickles = sorted(p.name for p in path.iterdir() if p.suffix in PICKLE_SUFFIXES)
        if pickles:
            raise ModelError(
                f"{path}: weights are pickle files ({', '.join(pickles)}), which can run code when "
                "loaded; sdft-local loads safetensors only. Convert them on a trusted machine "
                "(transformers: model.save_pretrained(out, safe_serialization=True)) or download "
                "the safetensors release"
            )
        raise ModelError(f"{path}: no *.safetensors weights; the download may be incomplete")
    _check_shards(path)
    return path


def _check_shards(path: Path) -> None:
    index = path / "model.safetensors.index.json"
    if not index.is_file():
        return
    shards = set(json.loads(index.read_text("utf-8")).get("weight_map", {}).values())
    missing = sorted(s for s in shards if not (path / s).is_file())
    if missing:
        raise ModelError(f"{path}: missing weight shards {', '.join(missing)}; download the model again")


def list_models() -> list[ModelInfo]:
    """The built-in models, with whether each is already on this machine and where."""
    return [_info(model_id) for model_id in _BUILTINS]


def _info(model_id: str) -> ModelInfo:
    description, backend = _BUILTINS[model_id]
    if model_id == TINY_ID:
        path = models_dir() / TINY_ID
        path = path if _tiny_is_current(path) else None
    elif model_id == DEMO_ID:
        path = _demo_dir() if (_demo_dir() / "config.json").is_file() else None
    else:
        path = _hub_cached(model_id)
    return ModelInfo(model_id, description, backend, path is not None, path)


def _tiny_model() -> Path:
    from .tiny import build_tiny_qwen2vl

    path = models_dir() / TINY_ID
    if not _tiny_is_current(path):
        build_tiny_qwen2vl(path)
    return path


def _tiny_is_current(path: Path) -> bool:
    # A folder built from another TinySpec (older sdft-local) is rebuilt rather than reused.
    from dataclasses import asdict

    from .tiny import TinySpec

    spec_file = path / "tiny_spec.json"
    if not (spec_file.is_file() and (path / "model.safetensors").is_file()):
        return False
    return json.loads(spec_file.read_text("utf-8")) == json.loads(json.dumps(asdict(TinySpec())))


def _demo_dir() -> Path:
    return Path(str(resources.files("sdft_local").joinpath("demo", "model")))


def _demo_model() -> Path:
    path = _demo_dir()
    if not (path / "config.json").is_file():
        raise ModelError(
            f"the demo model is not built in this installation ({path} is missing); "
            f"use '{TINY_ID}' for a quick local model or a real one such as {default_model_for()}"
        )
    return validate_model_dir(path)


def _is_offline(offline: bool | None) -> bool:
    if offline is not None:
        return offline
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in ("1", "ON", "YES", "TRUE")


def _fix_hint(model_id: str) -> str:
    return (f"download it on a connected machine with `hf download {model_id}` and pass the folder, "
            "or set HF_HOME to a Hugging Face cache that has it")


def _download(model_id: str, *, offline: bool, progress) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (GatedRepoError, HTTPError, LocalEntryNotFoundError,
                                        RepositoryNotFoundError)

    try:
        folder = snapshot_download(
            model_id, allow_patterns=list(HUB_ALLOW_PATTERNS), local_files_only=offline,
            tqdm_class=_progress_bar_class(model_id, progress),
        )
    except GatedRepoError:
        raise ModelError(f"{model_id}: the model is gated; accept its license on the hub and "
                         "run `hf auth login`") from None
    except RepositoryNotFoundError:
        raise ModelError(f"{model_id}: no such model on the hub (check the spelling, or run "
                         "`hf auth login` if it is private)") from None
    except LocalEntryNotFoundError:
        why = "offline mode is on and it is not in the local cache" if offline else "cannot reach the hub"
        raise ModelError(f"{model_id}: {why}; {_fix_hint(model_id)}") from None
    except (OSError, HTTPError) as err:
        raise ModelError(f"{model_id}: cannot reach the hub ({err}); {_fix_hint(model_id)}") from None
    return Path(folder)


def _hub_cached(model_id: str) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(model_id, "config.json")
    return Path(found).parent if isinstance(found, str) else None


def _progress_bar_class(model_id: str, progress):
    """A silent tqdm class that forwards each update to `progress` (the library never prints)."""
    import io

    from tqdm.auto import tqdm

    class _Reporting(tqdm):
        def __init__(self, *args, **kwargs):
            kwargs["file"] = io.StringIO()
            super().__init__(*args, **kwargs)

        def update(self, n=1):
            shown = super().update(n)
            if progress is not None:
                progress(DownloadProgressed(model_id, str(self.desc or ""), float(self.n),
                                            None if self.total is None else float(self.total)))
            return shown

    return _Reporting
