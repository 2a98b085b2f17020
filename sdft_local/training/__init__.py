"""LoRA training with SDFT's per-turn weights, on MLX or torch with identical semantics.

Dialogues become examples (token ids, a weight per token, M-RoPE positions, pixels), examples
become length-bucketed micro-batches, and a backend-neutral loop drives a torch or MLX student
through AdamW steps on Σ w·CE / Σ w (plus the optional SelfAug KL term), with atomic checkpoints
and exact resume. Entry points: `train` (a generator of progress records) and `evaluate`.
Importing this package is light; numpy and the frameworks load when they are used.
"""

from .config import TrainConfig, resolve_config
from .progress import CheckpointSaved, EvalResult, TrainFinished, TrainProgress, TrainStarted

__all__ = ["CheckpointSaved", "EvalResult", "TrainConfig", "TrainFinished", "TrainProgress",
           "TrainStarted", "evaluate", "pick_backend", "resolve_config", "train"]

_LAZY = {"train", "evaluate", "pick_backend"}


def __getattr__(name: str):
    if name in _LAZY:
        from . import run

        return getattr(run, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
