"""Facts in open answers: ask about each fact in words, let the model answer freely, judge the text.

Multiple choice by option log-probability is lenient (a model can prefer the right option and
never say it). This module owns the open questions (the check's own wording, by name and about
the photo), `judge_answer` — a deterministic judge a user can read: the fact's key terms and
numbers must be in the answer, and the answer must not contradict the fact (another number of
the same unit, a negation) or state a competing fact (another entity's, or a distractor of the
same topic) instead — and `measure_open_facts`, which asks every question with and without the
facts card as the system message. It does not load models or gate (see `gate.py`).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from ..dialogue.answers import content_words, negation_of, quantity_clash
from ..dialogue.pools import fact_topic
from .batch import Prompt
from .baseline import greedy_answers
from .report import OpenFacts

# Asked by name (text only) and about a held-out photo; never the training wording.
BY_TOPIC = {
    "age": ("How old is {name}?", "What is the age of the {kind} in this photo?"),
    "likes": ("What does {name} love?", "What does the {kind} in this photo love?"),
    "dislikes": ("What does {name} dislike?", "What does the {kind} in this photo dislike?"),
    "place": ("Where does {name} live?", "Where does the {kind} in this photo live?"),
    "role": ("What does {name} do?", "What does the {kind} in this photo do?"),
    "appearance": ("What does {name} look like?", "What makes the {kind} in this photo special?"),
    "general": ("What do you know about {name}?", "What is true about the {kind} in this photo?"),
}


@dataclass(frozen=True)
class Judgement:
    correct: bool
    reason: str  # "states it", "does not state it", "contradicts: ...", "states another fact: ..."


def judge_answer(answer: str, fact: str, competing: tuple[str, ...] = ()) -> Judgement:
    """Whether `answer` states `fact`: at least half its key terms (numbers included), no clash
    with it, and no competing fact of the same topic stated as well."""
    clash = quantity_clash(answer, fact) or negation_of(answer, fact)
    if clash:
        return Judgement(False, f"contradicts: {clash}")
    wanted = content_words(fact)
    found = wanted & content_words(answer)
    if not wanted or len(found) * 2 < len(wanted):
        return Judgement(False, "does not state it")
    topic = fact_topic(fact)
    for other in competing:
        extra = content_words(other) - wanted
        if fact_topic(other) == topic and extra and len(extra & content_words(answer)) * 2 >= len(extra):
            return Judgement(False, f"states another fact: {other!r}")
    return Judgement(True, "states it")


@dataclass(frozen=True, eq=False)
class OpenFactPlan:
    """One entity's open fact questions: a prompt per (fact, wording) and what judges it."""

    name: str
    prompts: tuple[Prompt, ...]
    facts: tuple[str, ...]  # the fact each prompt asks for
    competing: tuple[tuple[str, ...], ...]  # per prompt: the other entities' facts and distractors


def plan_open_facts(entity, entities, heldout: tuple, distractors: tuple[str, ...]) -> OpenFactPlan:
    """By name for every fact; about a held-out photo too when there is one."""
    prompts, facts, competing = [], [], []
    others = tuple(f for e in entities if e.id != entity.id for f in e.facts) + distractors
    for i, fact in enumerate(entity.facts):
        by_name, by_photo = BY_TOPIC[fact_topic(fact)]
        asks = [Prompt.ask(None, by_name.format(name=entity.name))]
        if heldout:
            pick = zlib.crc32(f"{entity.name}\n{fact}".encode()) + i
            asks.append(Prompt.ask(heldout[pick % len(heldout)], by_photo.format(kind=entity.kind.lower())))
        for ask in asks:
            prompts.append(ask)
            facts.append(fact)
            competing.append(tuple(o for o in others if o.lower() != fact.lower()))
    return OpenFactPlan(entity.name, tuple(prompts), tuple(facts), tuple(competing))


def open_fact_plans(store, distractors: tuple[str, ...]) -> tuple[OpenFactPlan, ...]:
    """Every entity with facts: its questions, about its own held-out photos."""
    from .knowledge import load_photo

    entities = store.entities()
    plans = []
    for entity in (e for e in entities if e.facts):
        heldout = tuple(load_photo(store, p) for p in store.photos(entity.id, split="heldout"))
        plans.append(plan_open_facts(entity, entities, heldout, distractors))
    return tuple(plans)


def plans_key(store, plans) -> list:
    """What the base model's open answers depend on, for its cache."""
    entities = {e.name: e for e in store.entities()}
    return [[p.name, list(entities[p.name].facts),
             [x.sha256 for x in store.photos(entities[p.name].id, "heldout")]] for p in plans]


def with_system(plan: OpenFactPlan, system: str | None) -> tuple[Prompt, ...]:
    if not system:
        return plan.prompts
    return tuple(Prompt(p.image, ({"role": "system", "content": system},) + p.messages) for p in plan.prompts)


def measure_open_facts(scorer, plan: OpenFactPlan, card: str | None, *, tokens: int, stage: str):
    """Generator: (accuracy without the card, with it, example answers) for one entity."""
    plain = yield from greedy_answers(scorer, plan.prompts, tokens, f"{stage} (no card)")
    carded = yield from greedy_answers(scorer, with_system(plan, card), tokens, f"{stage} (facts card)")
    return _accuracy(plan, plain), _accuracy(plan, carded), tuple(plain[:3])


def _accuracy(plan: OpenFactPlan, answers) -> float:
    right = [judge_answer(a, f, c).correct for a, f, c in zip(answers, plan.facts, plan.competing)]
    return sum(right) / len(right) if right else 0.0


def attach_open_facts(knowledge, plans, base: dict, tuned: dict):
    """`knowledge` with each entity's OpenFacts (base and tuned, each without and with the card)
    and the pool over entities, weighted by their questions."""
    from dataclasses import replace

    per = {p.name: OpenFacts(base[p.name][0], tuned[p.name][0], base[p.name][1], tuned[p.name][1],
                             len(p.prompts), tuple(tuned[p.name][2])) for p in plans if p.prompts}
    entities = tuple(replace(e, open_facts=per.get(e.name)) for e in knowledge.entities)
    return replace(knowledge, entities=entities, open_facts=_pooled(tuple(per.values())))


def _pooled(parts: tuple[OpenFacts, ...]) -> OpenFacts | None:
    n = sum(p.questions for p in parts)
    if not n:
        return None
    mean = lambda field: sum(getattr(p, field) * p.questions for p in parts) / n  # noqa: E731
    return OpenFacts(mean("base"), mean("tuned"), mean("card"), mean("tuned_card"), n)
