"""The training configuration: one frozen dataclass, validated on construction, saved with every run.

Owns `TrainConfig` (LoRA shape, optimizer, schedule, batching, SelfAug, checkpoints, backend
choice), its JSON round trip and the precedence rule (explicit values over project settings over
defaults). It does not read the store or resolve models.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from sdft_kernels import IMPLS as KERNEL_IMPLS

from ..dialogue.recognition import FORMS_PER_IMAGE, YES_NO
from ..dialogue.types import TURN_KINDS, weight_problem
from ..errors import ConfigError
from ..settings import Settings, option

BACKENDS = ("auto", "torch", "mlx")
ATTENTION_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj")
MLP_TARGETS = ("gate_proj", "up_proj", "down_proj")
LORA_TARGETS = ATTENTION_TARGETS + MLP_TARGETS
DTYPES = ("auto", "float32", "bfloat16", "float16")



@dataclass(frozen=True)
class TrainConfig(Settings):
    """Everything that decides what a training run computes. Saved beside every adapter."""

    _what = "training"

    backend: str = option("auto", "auto (MLX on Apple Silicon, torch elsewhere), torch or mlx")
    lora_rank: int = option(8, "LoRA rank r")
    lora_alpha: float = option(16.0, "LoRA alpha; the update is scaled by alpha / r")
    lora_dropout: float = option(0.05, "dropout on the LoRA input")
    lora_targets: tuple[str, ...] = option(ATTENTION_TARGETS, "language-model projections to adapt")
    learning_rate: float = option(2e-4, "peak learning rate (AdamW)")
    min_lr_ratio: float = option(0.1, "final learning rate as a fraction of the peak (cosine)")
    warmup_ratio: float = option(0.05, "fraction of steps spent warming up linearly")
    weight_decay: float = option(0.0, "AdamW decoupled weight decay")
    adam_betas: tuple[float, float] = option((0.9, 0.999), "AdamW betas")
    adam_eps: float = option(1e-8, "AdamW epsilon")
    grad_clip: float = option(1.0, "clip the global gradient norm to this (0: off)")
    epochs: float = option(3.0, "passes over the dialogues (ignored when steps is set)")
    steps: int | None = option(None, "optimizer steps to run (overrides epochs)")
    batch_size: int = option(2, "dialogues per micro-batch")
    grad_accum: int = option(1, "micro-batches per optimizer step")
    max_length: int = option(2048, "longest dialogue in tokens (image included); longer is an error")
    length_bucketing: bool = option(True, "batch dialogues of similar length together")
    seed: int = option(0, "seed for LoRA init, data order and dropout")
    selfaug: float = option(0.0, "SelfAug weight lambda (0: off; 0.5 recommended)")
    turn_weights: tuple[float, ...] | None = option(None, "loss weights of the caption, negative and entity "
                                                        "turns (default: the dialogues' own, 0.2/0.3/0.5); "
                                                        "a turn weighted 0 stays in the dialogue as context")
    turns: tuple[str, ...] = option(TURN_KINDS, "the turns kept in each dialogue (default all three; "
                                    "'entity' alone is plain SFT on the answers about the entity)")
    recognition: float = option(0.5, "loss weight of the recognition dialogues: 'is this <name>?' "
                                   "asked first on every training photo and drawn scene, and 'who "
                                   "is this?' on the entity's photos, so that only the image "
                                   "answers (0: none, the dialogues alone)")
    scenes: int = option(48, "unrelated scenes drawn for the recognition dialogues' negatives")
    recognition_forms: int = option(FORMS_PER_IMAGE, "wordings in which each image is asked about "
                                    "each name ('is this <name>?') and who it shows; an entity's "
                                    "yes answers weigh more, so that they count as much as its no")
    recognition_answers: tuple[str, str] = option(YES_NO, "the recognition dialogues' yes and "
                                                  "no, spelled as the base model answers yes/no "
                                                  "questions (the demo model: yes, no)")
    anchors: int = option(0, "general questions (colour, count, presence, ...) asked after the "
                           "recognition turn on each drawn scene, weighted 0, so SelfAug keeps the "
                           "base model's answers to them (0: none; no effect without selfaug)")
    views: int = option(3, "augmented views (mirrored, cropped, turned, relit) of each training photo "
                         "in the recognition dialogues")
    entities: tuple[str, ...] = option((), "train only on these entities' dialogues (default: all)")
    replay: float = option(0.0, "with entities (--entity): also train on this share of the other "
                              "entities' dialogues, so an adapter that learned them keeps them "
                              "(e.g. 0.5 with --from-run; 0: none)")
    init_adapter: str | None = option(None, "start from this adapter folder instead of a fresh LoRA "
                                          "(teach a new entity on top of an earlier run)")
    checkpoint_every: int = option(50, "save a resumable checkpoint every N steps (0: only at the end)")
    keep_checkpoints: int = option(2, "how many recent checkpoints to keep")
    grad_checkpoint: bool = option(False, "recompute activations in the backward pass (less memory)")
    cache_vision: bool = option(True, "compute each photo's image features once (vision is frozen)")
    compile: bool | None = option(None, "compile the MLX step (default: on with Metal; it does not "
                                      "speed up mlx-cpu)")
    qlora_bits: int | None = option(None, "MLX: quantize a float base to 4 or 8 bits before LoRA")
    dtype: str = option("auto", "compute dtype: auto (bf16 on CUDA, fp16 on MPS, else fp32)")
    device: str = option("auto", "torch device: auto, cuda, mps or cpu")
    kernel_impl: str = option("auto", "loss kernels: auto, fused or reference")

    def __post_init__(self):
        object.__setattr__(self, "lora_targets", tuple(self.lora_targets))
        object.__setattr__(self, "adam_betas", tuple(float(b) for b in self.adam_betas))
        object.__setattr__(self, "entities", tuple(self.entities))
        object.__setattr__(self, "turns", tuple(self.turns))
        object.__setattr__(self, "recognition_answers", tuple(self.recognition_answers))
        if self.turn_weights is not None:
            object.__setattr__(self, "turn_weights", tuple(float(w) for w in self.turn_weights))
        problem = _problem(self)
        if problem:
            raise ConfigError(f"invalid training setting: {problem}")

    @property
    def lora_scale(self) -> float:
        return self.lora_alpha / self.lora_rank

    def to_dict(self) -> dict:
        data = asdict(self)
        data["lora_targets"] = list(self.lora_targets)
        data["adam_betas"] = list(self.adam_betas)
        data["entities"] = list(self.entities)
        data["turns"] = list(self.turns)
        data["recognition_answers"] = list(self.recognition_answers)
        if self.turn_weights is not None:
            data["turn_weights"] = list(self.turn_weights)
        return data


def resolve_config(settings: dict | None = None, model: str | None = None, **flags) -> TrainConfig:
    """Flags over the project's `train` settings over the base `model`'s recommended settings
    over defaults (None flags are not given)."""
    from ..models.registry import recommended_training

    layered = {**recommended_training(model), **dict((settings or {}).get("train", {}))}
    return TrainConfig.from_dict(layered).merged(**flags)


def help_text(name: str) -> str:
    return next(f.metadata["help"] for f in fields(TrainConfig) if f.name == name)


def _problem(c: TrainConfig) -> str | None:
    checks = [
        (c.backend in BACKENDS, f"backend {c.backend!r} is not one of {', '.join(BACKENDS)}"),
        (isinstance(c.lora_rank, int) and c.lora_rank >= 1, f"lora_rank {c.lora_rank} must be >= 1"),
        (c.lora_alpha > 0, f"lora_alpha {c.lora_alpha} must be > 0"),
        (0.0 <= c.lora_dropout < 1.0, f"lora_dropout {c.lora_dropout} must be within [0, 1)"),
        (len(c.lora_targets) > 0 and set(c.lora_targets) <= set(LORA_TARGETS),
         f"lora_targets {list(c.lora_targets)} must be a non-empty subset of {list(LORA_TARGETS)}"),
        (len(set(c.lora_targets)) == len(c.lora_targets), f"lora_targets {list(c.lora_targets)} repeat a name"),
        (c.learning_rate > 0, f"learning_rate {c.learning_rate} must be > 0"),
        (0.0 <= c.min_lr_ratio <= 1.0, f"min_lr_ratio {c.min_lr_ratio} must be within [0, 1]"),
        (0.0 <= c.warmup_ratio < 1.0, f"warmup_ratio {c.warmup_ratio} must be within [0, 1)"),
        (c.weight_decay >= 0, f"weight_decay {c.weight_decay} must be >= 0"),
        (len(c.adam_betas) == 2 and all(0 <= b < 1 for b in c.adam_betas),
         f"adam_betas {list(c.adam_betas)} must be two numbers within [0, 1)"),
        (c.adam_eps > 0, f"adam_eps {c.adam_eps} must be > 0"),
        (c.grad_clip >= 0, f"grad_clip {c.grad_clip} must be >= 0 (0 turns clipping off)"),
        (c.epochs > 0, f"epochs {c.epochs} must be > 0"),
        (c.steps is None or (isinstance(c.steps, int) and c.steps >= 1), f"steps {c.steps} must be >= 1"),
        (isinstance(c.batch_size, int) and c.batch_size >= 1, f"batch_size {c.batch_size} must be >= 1"),
        (isinstance(c.grad_accum, int) and c.grad_accum >= 1, f"grad_accum {c.grad_accum} must be >= 1"),
        (isinstance(c.max_length, int) and c.max_length >= 16, f"max_length {c.max_length} must be >= 16"),
        (c.selfaug >= 0, f"selfaug {c.selfaug} must be >= 0 (0 turns it off)"),
        (c.turn_weights is None or (len(c.turn_weights) == 3 and not any(weight_problem("", w) for w in c.turn_weights)
                                    and sum(c.turn_weights) > 0),
         f"turn_weights {c.turn_weights} must be three weights within 0..10 (caption, negative, entity), "
         f"not all 0"),
        (bool(c.turns) and set(c.turns) <= set(TURN_KINDS) and len(set(c.turns)) == len(c.turns),
         f"turns {list(c.turns)} must name some of {', '.join(TURN_KINDS)}, each once"),
        (not weight_problem("recognition", c.recognition), weight_problem("recognition", c.recognition)),
        (isinstance(c.scenes, int) and 0 <= c.scenes <= 1000,
         f"scenes {c.scenes} must be a whole number within 0..1000"),
        (isinstance(c.recognition_forms, int) and 1 <= c.recognition_forms <= 12,
         f"recognition_forms {c.recognition_forms} must be a whole number within 1..12"),
        (len(c.recognition_answers) == 2 and all(isinstance(a, str) and a.strip() for a in c.recognition_answers)
         and len(set(c.recognition_answers)) == 2,
         f"recognition_answers {list(c.recognition_answers)} must be two different answers: yes, then no"),
        (isinstance(c.anchors, int) and 0 <= c.anchors <= 6,
         f"anchors {c.anchors} must be a whole number within 0..6"),
        (isinstance(c.views, int) and 0 <= c.views <= 16, f"views {c.views} must be a whole number within 0..16"),
        (all(isinstance(e, str) and e for e in c.entities), f"entities {list(c.entities)} must be entity names"),
        (0.0 <= c.replay <= 1.0, f"replay {c.replay} must be within 0..1 (a share of the other "
                                 f"entities' dialogues)"),
        (c.replay == 0.0 or bool(c.entities), f"replay {c.replay} needs entities: without them every "
                                              f"entity's dialogues are trained already"),
        (isinstance(c.checkpoint_every, int) and c.checkpoint_every >= 0,
         f"checkpoint_every {c.checkpoint_every} must be >= 0"),
        (isinstance(c.keep_checkpoints, int) and c.keep_checkpoints >= 1,
         f"keep_checkpoints {c.keep_checkpoints} must be >= 1"),
        (c.qlora_bits in (None, 4, 8), f"qlora_bits {c.qlora_bits} must be 4, 8 or unset"),
        (c.dtype in DTYPES, f"dtype {c.dtype!r} is not one of {', '.join(DTYPES)}"),
        (c.device.split(":")[0] in ("auto", "cuda", "mps", "cpu"),
         f"device {c.device!r} is not one of auto, cuda, mps, cpu"),
        (c.kernel_impl in KERNEL_IMPLS, f"kernel_impl {c.kernel_impl!r} is not one of {', '.join(KERNEL_IMPLS)}"),
    ]
    return next((msg for ok, msg in checks if not ok), None)
