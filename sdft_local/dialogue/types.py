"""The dialogue records shared by synthesis (which writes them) and training (which reads them).

One photo, the image once (in the first user turn), three turns: a caption (foundation
preservation), a negative answer about an unrelated concept (contrastive disambiguation) and a
reasoned answer about the entity (knowledge specialization). Each turn carries its loss weight
and the provenance of its answer. Pure data: no I/O, no models.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

TURN_KINDS = ("caption", "negative", "entity")
DEFAULT_WEIGHTS = {"caption": 0.2, "negative": 0.3, "entity": 0.5}
MAX_WEIGHT = 10.0


def weight_problem(name: str, value) -> str | None:
    """What is wrong with a loss weight (None: fine). Every weight lies in 0..10, and 0 means one
    thing everywhere: the turn stays in the dialogue as context and carries no loss."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= MAX_WEIGHT:
        return f"{name} {value!r} must be a number within 0..{MAX_WEIGHT:g} (0: no loss)"
    return None


@dataclass(frozen=True)
class Turn:
    """One question/answer pair; `weight` applies to every token of the answer and its end token."""

    kind: str
    question: str
    answer: str
    weight: float
    source: str = "template"  # who wrote the answer: "torch:tiny-random", "llama-cpp:<file>", ...
    meta: dict = field(default_factory=dict)  # e.g. {"concept": "teapot", "fallback": True}

    def __post_init__(self):
        if self.kind not in TURN_KINDS:
            raise ValueError(f"turn kind {self.kind!r} is not one of {TURN_KINDS}")
        problem = weight_problem("turn weight", self.weight)
        if problem:
            raise ValueError(problem)


@dataclass(frozen=True)
class Dialogue:
    """A full SDFT conversation about one photo; `image` is the photo file inside the project."""

    image: str
    entity: str
    turns: tuple[Turn, ...]
    variant: int = 0
    system: str | None = None

    def turns_json(self) -> str:
        return self.turns_to_json(self.turns)

    @staticmethod
    def turns_to_json(turns) -> str:
        return json.dumps([asdict(t) for t in turns], ensure_ascii=False)

    @staticmethod
    def turns_from_json(text: str) -> tuple[Turn, ...]:
        return tuple(Turn(**t) for t in json.loads(text))

    def messages(self) -> list[dict]:
        """Chat messages (text only; the caller places the image in the first user turn)."""
        out = [{"role": "system", "content": self.system}] if self.system else []
        for turn in self.turns:
            out.append({"role": "user", "content": turn.question})
            out.append({"role": "assistant", "content": turn.answer})
        return out
