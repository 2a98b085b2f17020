"""Resumable checkpoints and adapter folders, written atomically, read back framework-free.

A checkpoint `checkpoints/step-NNNNNNN/` holds the LoRA weights and AdamW moments in canonical
numpy form (`lora.safetensors`, `optimizer.safetensors`), the backend's RNG state
(`rng.safetensors`), `state.json` (step, data position, loss history, clock) and `adapter/`, the
native adapter at that step. Every folder is built under a temporary name (`atomic.py`) and renamed
into place, so a run killed at any instant leaves either the old or the new checkpoint, never half of
one; resuming picks the highest complete step. Safetensors and JSON only: nothing is unpickled.

Also owns mapping an adapter folder of either format (PEFT or mlx-vlm, read by `export.adapters`)
to the trainer's arrays.
It does not know about the training loop or the store.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import sweep_stale, write_folder
from ..errors import TrainingError

CHECKPOINTS = "checkpoints"
STEP_DIR = re.compile(r"^step-(\d{7})$")
TRAIN_RECORD = "sdft_train.json"


@dataclass(frozen=True)
class Checkpoint:
    path: Path
    step: int
    state: dict
    lora: dict[str, np.ndarray]
    optimizer: dict[str, np.ndarray]
    rng: dict[str, np.ndarray]


def save_checkpoint(run_dir: Path, step: int, *, student, state: dict, keep: int) -> Path:
    lora = student.lora_arrays()
    moments, opt_step = student.optimizer_arrays()
    rng = student.rng_state()

    def fill(tmp: Path) -> None:
        _save_arrays(tmp / "lora.safetensors", lora)
        _save_arrays(tmp / "optimizer.safetensors", moments)
        _save_arrays(tmp / "rng.safetensors", rng)
        (tmp / "state.json").write_text(json.dumps({**state, "step": step, "optimizer_step": opt_step}))
        student.save_adapter(tmp / "adapter")

    path = write_folder(Path(run_dir) / CHECKPOINTS / f"step-{step:07d}", fill)
    prune_checkpoints(run_dir, keep)
    return path


def latest_checkpoint(run_dir: Path) -> Checkpoint | None:
    steps = _complete_steps(run_dir)
    if not steps:
        return None
    step, path = steps[-1]
    state = json.loads((path / "state.json").read_text())
    return Checkpoint(path, step, state, _load_arrays(path / "lora.safetensors"),
                      _load_arrays(path / "optimizer.safetensors"), _load_arrays(path / "rng.safetensors"))


def restore(student, checkpoint: Checkpoint) -> None:
    student.set_lora_arrays(checkpoint.lora)
    student.set_optimizer_arrays(checkpoint.optimizer, checkpoint.state["optimizer_step"])
    student.set_rng_state(checkpoint.rng)


def prune_checkpoints(run_dir: Path, keep: int) -> None:
    for _, path in _complete_steps(run_dir)[:-keep]:
        shutil.rmtree(path, ignore_errors=True)
    sweep_stale(Path(run_dir) / CHECKPOINTS)


def _complete_steps(run_dir: Path) -> list[tuple[int, Path]]:
    root = Path(run_dir) / CHECKPOINTS
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if (m := STEP_DIR.match(p.name))]
    return sorted((s, p) for s, p in found if (p / "state.json").is_file())


def save_adapter_folder(target: Path, student, record: dict) -> Path:
    """The run's user-facing adapter: native format plus the resolved training record beside it."""
    def fill(tmp: Path) -> None:
        student.save_adapter(tmp)
        (tmp / TRAIN_RECORD).write_text(json.dumps(record, indent=2, default=str))

    return write_folder(target, fill)


# --- adapters of either format → canonical ------------------------------------------------------


def read_adapter(folder: str | Path) -> dict[str, np.ndarray]:
    """The trainer's LoRA arrays (`layers.N.self_attn.q_proj.lora_A`, PEFT orientation) of a PEFT
    or mlx-vlm adapter folder, read by the project's one adapter reader (`export.adapters`)."""
    from ..errors import ExportError
    from ..export.adapters import read_adapter as read_lora

    try:
        adapter = read_lora(folder)
    except ExportError as err:
        raise TrainingError(err.message) from None
    out = {}
    for module, (a, b) in adapter.modules.items():
        match = _LM_MODULE.match(module)
        if match:
            out[f"layers.{match.group(1)}.{match.group(2)}.lora_A"] = a
            out[f"layers.{match.group(1)}.{match.group(2)}.lora_B"] = b
    if not out:
        raise TrainingError(f"{folder}: no language-model LoRA weights among {len(adapter.modules)} "
                            f"adapted modules")
    return out


_LM_MODULE = re.compile(r"^model\.layers\.(\d+)\.((?:self_attn|mlp)\.\w+)$")


# --- files ---------------------------------------------------------------------------------------


def _save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    from safetensors.numpy import save_file

    save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(path))


def _load_arrays(path: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(path))
