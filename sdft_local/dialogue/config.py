"""What shapes a photo's dialogues: turn weights, variants, phrasing pools, concept bank, seed.

Owns `DialogueConfig`, a frozen dataclass validated on construction (the bad value is named in the
error). It holds no models and no I/O; generation settings (token budgets, retries, the synthesis
backend) live in `sdft_local.synth.config`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ConfigError
from . import pools
from .concepts import CONCEPTS, Concept
from .types import DEFAULT_WEIGHTS, weight_problem

_PLACEHOLDERS = {
    "caption_requests": set(),
    "negative_forms": {"concept"},
    "hard_negative_forms": {"other"},
}


@dataclass(frozen=True)
class DialogueConfig:
    """How each photo's three-turn dialogues are built (see DESIGN.md "SDFT dialogue")."""

    caption_weight: float = field(default=DEFAULT_WEIGHTS["caption"],
                                  metadata={"help": "Loss weight α1 of turn 1 (caption)."})
    negative_weight: float = field(default=DEFAULT_WEIGHTS["negative"],
                                   metadata={"help": "Loss weight α2 of turn 2 (negative)."})
    entity_weight: float = field(default=DEFAULT_WEIGHTS["entity"],
                                 metadata={"help": "Loss weight α3 of turn 3 (entity)."})
    variants: int = field(default=3, metadata={
        "help": "Dialogues per photo; they differ in turn 3 (identity, each fact, paraphrases)."})
    seed: int = field(default=0, metadata={"help": "Seed of every random choice."})
    hard_negative_rate: float = field(default=0.3, metadata={
        "help": "Share of turn-2 questions naming another entity of the project (if any)."})
    recognition_rate: float = field(default=0.0, metadata={
        "help": "Share of turn-3 fact questions that first ask, by name, whether the photo shows "
                "the entity (answered yes). Off by default: a yes that only turn 3 gives lets the "
                "position answer; training's recognition dialogues ask by name in turn 1 instead, "
                "yes and no alike."})
    negative_attempts: int = field(default=3, metadata={
        "help": "Concepts tried in turn 2 before falling back to a template negative."})
    caption_requests: tuple[str, ...] = pools.CAPTION_REQUESTS
    negative_forms: tuple[str, ...] = pools.NEGATIVE_FORMS
    hard_negative_forms: tuple[str, ...] = pools.HARD_NEGATIVE_FORMS
    identity_questions: tuple[str, ...] = pools.IDENTITY_QUESTIONS
    concepts: tuple[Concept, ...] = CONCEPTS
    system: str | None = field(default=None, metadata={
        "help": "System message of every dialogue (None: the chat template's default)."})

    def __post_init__(self):
        for name in ("caption_weight", "negative_weight", "entity_weight"):
            problem = weight_problem(name, getattr(self, name))
            if problem:
                raise ConfigError(problem)
        if self.caption_weight + self.negative_weight + self.entity_weight <= 0:
            raise ConfigError("all turn weights are 0; at least one turn must carry loss")
        _check_range("variants", self.variants, 1, 32)
        _check_range("negative_attempts", self.negative_attempts, 1, 20)
        for name in ("hard_negative_rate", "recognition_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"{name}={getattr(self, name)}: use 0..1")
        for name, needed in _PLACEHOLDERS.items():
            _check_pool(name, getattr(self, name), needed)
        _check_pool("identity_questions", self.identity_questions, set())
        if len(self.concepts) < 10:
            raise ConfigError(f"concepts has {len(self.concepts)} entries; give at least 10")

    @property
    def weights(self) -> dict[str, float]:
        return {"caption": self.caption_weight, "negative": self.negative_weight,
                "entity": self.entity_weight}

    def summary(self) -> dict:
        """The settings worth recording next to each dialogue (pools are summarized by size)."""
        return {
            "weights": self.weights, "variants": self.variants, "seed": self.seed,
            "hard_negative_rate": self.hard_negative_rate, "recognition_rate": self.recognition_rate,
            "negative_attempts": self.negative_attempts,
            "pools": {"caption": len(self.caption_requests), "negative": len(self.negative_forms),
                      "hard_negative": len(self.hard_negative_forms),
                      "identity": len(self.identity_questions), "concepts": len(self.concepts)},
        }


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{name}={value!r}: use a whole number from {low} to {high}")


def _check_pool(name: str, pool: tuple[str, ...], needed: set[str]) -> None:
    if not pool:
        raise ConfigError(f"{name} is empty; give at least one phrasing")
    for text in pool:
        missing = [p for p in needed if "{" + p + "}" not in text]
        if missing:
            raise ConfigError(f"{name}: {text!r} lacks the placeholder {{{missing[0]}}}")
