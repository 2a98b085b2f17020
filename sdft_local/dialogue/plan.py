"""Planning one photo's dialogues: which questions to ask, in which order, seeded.

Owns the per-photo choices — the caption request of each variant, the ordered turn-2 candidates
(hard negatives naming other entities, then concepts far from the entity's kind) with their
template fallbacks, the turn-3 target of each variant (identity or one fact) — the check that an
answer is negative, and the assembly of a `Dialogue` from finished turns. Every choice comes from a
`random.Random` seeded by (seed, photo, variant, part), so a rerun asks the same questions. Pure:
no models, no I/O.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, replace
from typing import Iterable, Protocol

from . import pools
from .concepts import pick_negatives
from .config import DialogueConfig
from .types import Dialogue, Turn


class Subject(Protocol):
    """What a dialogue is about (the store's `Entity` fits)."""

    name: str
    kind: str
    facts: tuple[str, ...]


@dataclass(frozen=True)
class EntityTarget:
    """Turn 3's question and what it asks for: identity (fact None) or one of the facts."""

    question: str
    fact: str | None
    topic: str  # "identity" or a `pools.fact_topic`


@dataclass(frozen=True)
class NegativeOption:
    """One turn-2 candidate: the question, what it names, and the answer to use if all else fails."""

    question: str
    target: str
    category: str  # the concept's category, or "entity" for a hard negative
    hard: bool
    template_answer: str


def rng_for(seed: int, photo_key: str, variant: int, part: str) -> random.Random:
    """An independent, reproducible stream per (seed, photo, variant, part)."""
    return random.Random(f"{seed}:{photo_key}:{variant}:{part}")


def fill(template: str, subject: Subject, **extra: str) -> str:
    values = {"name": subject.name, "kind": subject.kind.strip().lower(), **extra}
    return template.format(**values)


# --- turn 1 -----------------------------------------------------------------------------------------


def caption_question(config: DialogueConfig, photo_key: str, variant: int) -> str:
    return rng_for(config.seed, photo_key, variant, "caption").choice(config.caption_requests)


# --- turn 2 -----------------------------------------------------------------------------------------


def negative_options(
    subject: Subject, others: Iterable[str], config: DialogueConfig, photo_key: str,
    variant: int, avoid_text: str = "",
) -> list[NegativeOption]:
    """Turn-2 candidates in the order to try them (`config.negative_attempts` of them).

    A hard negative (another entity's name) comes first with probability `hard_negative_rate`;
    the rest are concepts outside the entity's category and its near categories, never named in
    the entity's kind, facts or `avoid_text` (pass the photo's caption).
    """
    rng = rng_for(config.seed, photo_key, variant, "negative")
    out: list[NegativeOption] = []
    others = sorted({o for o in others if o.lower() != subject.name.lower()})
    if others and rng.random() < config.hard_negative_rate:
        out.append(_hard_option(subject, rng.choice(others), config, rng))
    avoid = " ".join([avoid_text, *subject.facts])
    concepts = pick_negatives(subject.kind, avoid, rng, count=config.negative_attempts,
                              bank=config.concepts)
    if not concepts:  # a caption that names nearly everything: fall back to the category rule
        concepts = pick_negatives(subject.kind, "", rng, count=config.negative_attempts,
                                  bank=config.concepts)
    for concept in concepts:
        question = fill(rng.choice(config.negative_forms), subject, concept=concept.phrase)
        answer = rng.choice(pools.TEMPLATE_NEGATIVES).format(
            concept=concept.phrase, concept_name=concept.name)
        out.append(NegativeOption(question, concept.name, concept.category, False, answer))
    return out[: config.negative_attempts]


def _hard_option(subject: Subject, other: str, config: DialogueConfig,
                 rng: random.Random) -> NegativeOption:
    question = fill(rng.choice(config.hard_negative_forms), subject, other=other)
    answer = rng.choice(pools.TEMPLATE_HARD_NEGATIVES).format(other=other)
    return NegativeOption(question, other, "entity", True, answer)


_NEGATIVE_FIRST = {"no", "nope", "not", "none", "never", "nothing"}
_POSITIVE_FIRST = {"yes", "yeah", "yep", "sure", "indeed", "certainly", "absolutely", "correct"}
_NEGATION = re.compile(r"\b(no|not|none|nothing|cannot|without|neither|nor)\b|n't\b")


def answer_polarity(answer: str, target: str) -> str:
    """'negative', 'positive' or 'unclear': does `answer` deny that `target` is there?"""
    words = re.findall(r"[a-z']+", answer.lower())
    if not words:
        return "unclear"
    if words[0] in _NEGATIVE_FIRST:
        return "negative"
    if words[0] in _POSITIVE_FIRST:
        return "positive"
    if _NEGATION.search(answer.lower()):
        return "negative"
    target_words = set(re.findall(r"[a-z]+", target.lower())) - {"of", "a", "an", "the"}
    return "positive" if target_words & set(words) else "unclear"


# --- turn 3 -----------------------------------------------------------------------------------------


def entity_targets(subject: Subject, config: DialogueConfig, photo_key: str) -> list[EntityTarget]:
    """One turn-3 target per variant, cycling identity and every fact from a per-photo offset,
    so that across photos each fact is asked about about equally often; repeated targets get
    different phrasings."""
    rng = rng_for(config.seed, photo_key, 0, "entity")
    facts = list(subject.facts)
    rng.shuffle(facts)
    order: list[str | None] = [None, *facts]
    start = rng.randrange(len(order))
    used: set[str] = set()
    targets = []
    for variant in range(config.variants):
        fact = order[(start + variant) % len(order)]
        target = _target(subject, fact, config, rng, used)
        by_name = rng_for(config.seed, photo_key, variant, "recognition")
        if fact is not None and by_name.random() < config.recognition_rate:
            target = _by_name(target, subject, by_name)
        targets.append(target)
    return targets


def _target(subject: Subject, fact: str | None, config: DialogueConfig,
            rng: random.Random, used: set[str]) -> EntityTarget:
    forms = config.identity_questions if fact is None else pools.fact_questions(fact)
    fresh = [f for f in forms if f not in used] or list(forms)
    form = rng.choice(fresh)
    used.add(form)
    topic = "identity" if fact is None else pools.fact_topic(fact)
    return EntityTarget(fill(form, subject), fact, topic)


def _by_name(target: EntityTarget, subject: Subject, rng: random.Random) -> EntityTarget:
    """A fact target asked after "Is this <name>?" (its answer then starts with "Yes")."""
    ask = fill(rng.choice(pools.RECOGNITION_QUESTIONS), subject)
    return replace(target, question=f"{ask} {target.question}")


# --- assembly ---------------------------------------------------------------------------------------


def assemble(image: str, subject: Subject, turns: Iterable[Turn], variant: int,
             config: DialogueConfig) -> Dialogue:
    """A `Dialogue` from finished turns, each given its kind's weight from `config`."""
    weighted = tuple(
        Turn(t.kind, t.question, t.answer, config.weights[t.kind], t.source, dict(t.meta))
        for t in turns
    )
    kinds = tuple(t.kind for t in weighted)
    assert kinds == ("caption", "negative", "entity"), kinds
    return Dialogue(image, subject.name, weighted, variant, config.system)
