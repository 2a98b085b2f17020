"""The check's records: what it measured and what the gate concluded, as frozen dataclasses.

Owns `KnowledgeReport` (per entity: recognition, facts as multiple choice and in open answers,
name recall), `RetentionReport` (per probe family accuracy base vs tuned, KL, agreement, concept
bleed), `Reason` / `GateVerdict`, `CheckReport` (all of it plus provenance) and their JSON round
trip, and the progress records `run_check` yields. It measures nothing and decides nothing.
"""

from __future__ import annotations

import json
import types
import typing
from dataclasses import asdict, dataclass, fields, is_dataclass

VERDICTS = ("pass", "warn", "fail")


@dataclass(frozen=True)
class Recognition:
    """Yes/no recognition on held-out photos (positives) and on photos of anything else."""

    positive_accuracy: float
    negative_accuracy: float
    weighted_accuracy: float  # mean of the two, as in Yo'LLaVA
    auroc: float | None  # None when one side is empty
    positives: int
    negatives: int


@dataclass(frozen=True)
class OpenFacts:
    """Facts stated in open answers (judged by `open_facts.judge_answer`), four ways: the base
    model, the tuned one, the base with the facts card as its system message, the tuned with it."""

    base: float
    tuned: float
    card: float
    tuned_card: float
    questions: int
    examples: tuple[str, ...] = ()  # tuned answers without the card, for the reader


@dataclass(frozen=True)
class EntityKnowledge:
    name: str
    recognition: Recognition | None  # None without held-out photos
    fact_accuracy: float | None  # None without facts
    fact_questions: int
    name_recall: float | None  # None without held-out photos
    recall_answers: tuple[str, ...]  # the open answers, for the reader
    open_facts: OpenFacts | None = None  # None without facts (or in reports from before)


@dataclass(frozen=True)
class KnowledgeReport:
    entities: tuple[EntityKnowledge, ...]
    recognition: Recognition | None  # pooled over entities
    fact_accuracy: float | None  # multiple choice
    name_recall: float | None
    notes: tuple[str, ...] = ()
    open_facts: OpenFacts | None = None  # pooled over entities, weighted by questions


@dataclass(frozen=True)
class FamilyRetention:
    family: str
    items: int
    chance: float
    base_accuracy: float
    tuned_accuracy: float
    ratio: float | None  # tuned / base; None when the base got nothing right
    gated: bool  # the base beats chance clearly enough for the ratio to mean something
    kl_per_token: float
    token_agreement: float
    lost: int | None = None  # items the base got right and the tuned model wrong (None: not recorded)
    gained: int | None = None  # the reverse


@dataclass(frozen=True)
class Bleed:
    """The entity leaking into photos that have nothing to do with it."""

    photos: int
    yes_rate_base: float  # P(yes) > 0.5 to "Is <name> in this photo?"
    yes_rate_tuned: float
    name_rate_base: float  # the name inside an open answer
    name_rate_tuned: float
    examples: tuple[str, ...]  # tuned open answers that named an entity


@dataclass(frozen=True)
class RetentionReport:
    families: tuple[FamilyRetention, ...]
    items: int
    base_accuracy: float
    tuned_accuracy: float
    ratio: float | None  # over the gated families; None when none is gated
    kl_per_token: float  # forward KL(base || tuned), mean over answer tokens, nats
    kl_max_item: float  # the largest per-item mean, to spot single collapses
    token_agreement: float  # tuned argmax == base argmax, teacher-forced on base answers
    answer_agreement: float  # share of items whose whole greedy answer would be unchanged
    answer_tokens: int
    bleed: Bleed | None


@dataclass(frozen=True)
class Reason:
    """One thing the gate objects to, with the number, the threshold and what to do."""

    level: str  # "warn" | "fail"
    metric: str
    value: float
    threshold: float
    message: str


@dataclass(frozen=True)
class GateVerdict:
    verdict: str  # "pass" | "warn" | "fail"
    reasons: tuple[Reason, ...]
    notes: tuple[str, ...] = ()  # what was not gated, and why

    @property
    def passed(self) -> bool:
        """Export may go ahead (a warning does not block it)."""
        return self.verdict != "fail"


@dataclass(frozen=True)
class CheckReport:
    run_id: int | None
    run_name: str
    base_model: str
    backend: str
    student: str
    adapter: str | None
    suite_version: str
    created: float
    seconds: float
    knowledge: KnowledgeReport
    retention: RetentionReport
    gate: GateVerdict
    config: dict

    @property
    def verdict(self) -> str:
        return self.gate.verdict

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, allow_nan=False)

    @classmethod
    def from_dict(cls, data: dict) -> "CheckReport":
        return _build(cls, data)

    @classmethod
    def from_json(cls, text: str) -> "CheckReport":
        return cls.from_dict(json.loads(text))


# --- progress ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckStarted:
    run_id: int | None
    run_name: str
    base_model: str
    backend: str
    probes: int


@dataclass(frozen=True)
class CheckProgressed:
    """`done` of `total` units of `stage` (base answers, base scores, retention, knowledge, bleed)."""

    stage: str
    done: int
    total: int


@dataclass(frozen=True)
class CheckFinished:
    report: CheckReport
    check_id: int | None  # the checks row, None when not stored


# --- JSON back to dataclasses ------------------------------------------------------------------


def _build(cls, data):
    """A field with a default may be missing (a report stored before the field existed)."""
    hints = typing.get_type_hints(cls)
    return cls(**{f.name: _value(hints[f.name], data[f.name]) for f in fields(cls) if f.name in data})


def _value(hint, value):
    if value is None:
        return None
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if is_dataclass(hint):
        return _build(hint, value)
    if origin is tuple:
        return tuple(_value(args[0], v) for v in value)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return _value(inner[0], value)
    return value
