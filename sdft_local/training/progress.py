"""The records a training run yields, in order: started, progress per step, checkpoints, finished.

Plain frozen dataclasses so the CLI renders them with rich, the TUI posts them as messages, and
`--json` serializes them. Nothing here computes anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TrainStarted:
    run_id: int | None
    run_dir: str
    backend: str
    total_steps: int
    start_step: int          # > 0 when resumed from a checkpoint
    examples: int
    tokens_per_epoch: int


@dataclass(frozen=True)
class TrainProgress:
    """One optimizer step done. `loss` is Σ w·CE / Σ w over the step's tokens; `kl` is SelfAug's
    mean KL(p_base ‖ p_tuned) over weight-0 text positions (None when SelfAug is off)."""

    step: int
    total: int
    loss: float
    turn_loss: dict[str, float]
    kl: float | None
    lr: float
    grad_norm: float
    tokens_per_s: float
    peak_memory_mb: float
    eta_s: float
    epoch: float


@dataclass(frozen=True)
class CheckpointSaved:
    step: int
    path: str


@dataclass(frozen=True)
class TrainFinished:
    """The run ended: state is "finished", or "failed" (non-finite loss; the last good adapter is kept)."""

    run_id: int | None
    state: str
    steps: int
    adapter_path: str | None
    elapsed_s: float
    metrics: dict = field(default_factory=dict)


@dataclass(frozen=True)
class EvalResult:
    """Weighted loss of an adapter (or the base model) over dialogues, without training."""

    loss: float
    turn_loss: dict[str, float]
    tokens: int
    examples: int
    adapter: str | None
    backend: str
