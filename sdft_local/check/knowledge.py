"""Knowledge: does the tuned model know the project's entities, on photos it never trained on?

Owns the question wording (recognition, fact and recall paraphrases, a bank of distractor facts),
`plan_knowledge` (held-out photos as positives; other entities' held-out photos and unrelated
probe photos as negatives; fact questions as multiple choice) and `measure_knowledge`, which scores
recognition as P(yes)/(P(yes)+P(no)), facts by the mean log-probability of each option as the whole
answer, and name recall by looking for the name in greedy answers to "who is this".
It does not load models or judge the numbers (see `gate.py`).
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass

import numpy as np

from .batch import BatchScorer, Prompt, staged
from .baseline import greedy_answers
from .metrics import mean_or_zero, mentions, recognition
from .report import EntityKnowledge, KnowledgeReport, Recognition

RECOGNITION = ("Is {name} in this photo?", "Can you see {name} in this photo?",
               "Does this photo show {name}?")
FACT_PHOTO = ("What do you know about the {kind} in this photo?",
              "Tell me something true about the {kind} in this photo.")
FACT_TEXT = ("What do you know about {name}?", "Tell me a fact about {name}.")
RECALL = ("Who is this?", "Who is in this photo?")
# Plausible facts about a pet, a person or a thing, used as wrong options next to the real one.
DISTRACTOR_FACTS = (
    "is 7 years old", "is 2 years old", "loves swimming in the lake", "sleeps on the sofa",
    "was born in Paris", "is afraid of thunder", "likes carrots", "lives in Oslo",
    "has a blue collar", "plays the piano", "was a gift from a neighbour", "hates the rain",
    "likes to chase pigeons", "is twelve years old", "came from a shelter in Madrid",
    "loves cheese", "has a scar on one ear", "was bought at a flea market",
    "belongs to my sister", "sits by the window every morning",
)


@dataclass(frozen=True, eq=False)
class EntityPlan:
    name: str
    heldout: tuple  # PIL images of the entity the run never trained on
    negatives: tuple  # PIL images of anything else
    facts: tuple[Prompt, ...]  # one per paraphrase of each fact
    fact_options: tuple[tuple[str, ...], ...]
    fact_answers: tuple[str, ...]


def plan_knowledge(store, unrelated: list, fact_options: int = 4) -> tuple[EntityPlan, ...]:
    """Questions for every entity: held-out photos, negatives, fact multiple choice."""
    entities = store.entities()
    heldout = {e.id: tuple(load_photo(store, p) for p in store.photos(e.id, split="heldout")) for e in entities}
    plans = []
    for entity in entities:
        others = tuple(img for e in entities if e.id != entity.id for img in heldout[e.id])
        prompts, options, answers = _fact_questions(entity, entities, heldout[entity.id], fact_options)
        plans.append(EntityPlan(entity.name, heldout[entity.id], others + tuple(unrelated),
                                prompts, options, answers))
    return tuple(plans)


def measure_knowledge(scorer: BatchScorer, plans, *, recall_tokens: int):
    """Generator (CheckProgressed ...) returning the `KnowledgeReport`."""
    results = []
    for plan in plans:
        result = yield from _measure_entity(scorer, plan, recall_tokens)
        results.append(result)
    return _pooled(tuple(results))


def _measure_entity(scorer: BatchScorer, plan: EntityPlan, recall_tokens: int):
    stage = f"knowledge: {plan.name}"
    recog = None
    if plan.heldout:
        pos = [Prompt.ask(img, t.format(name=plan.name)) for img in plan.heldout for t in RECOGNITION]
        neg = [Prompt.ask(img, t.format(name=plan.name)) for img in plan.negatives for t in RECOGNITION]
        p_yes = yield from staged(stage + " recognition", scorer.yes_probs(pos + neg))
        recog = recognition(p_yes[:len(pos)], p_yes[len(pos):])
    scores = yield from staged(stage + " facts", scorer.option_scores(plan.facts, plan.fact_options))
    right = [opts[int(np.argmax(s / n))] == a for (s, n), opts, a in
             zip(scores, plan.fact_options, plan.fact_answers)]
    recall = [Prompt.ask(img, RECALL[i % len(RECALL)]) for i, img in enumerate(plan.heldout)]
    answers = yield from greedy_answers(scorer, recall, recall_tokens, stage + " recall")
    return EntityKnowledge(
        plan.name, recog, float(np.mean(right)) if right else None, len(right),
        float(np.mean([mentions(a, plan.name) for a in answers])) if answers else None, answers)


def _pooled(results: tuple[EntityKnowledge, ...]) -> KnowledgeReport:
    notes = [f"{r.name}: no held-out photos, so recognition and recall are not measured; add "
             f"photos until at least 4 (about 30% are held out)" for r in results if r.recognition is None]
    notes += [f"{r.name}: no facts, so fact answers are not measured" for r in results
              if r.fact_accuracy is None]
    measured = [r for r in results if r.recognition is not None]
    recog = _pool_recognition([r.recognition for r in measured]) if measured else None
    facts = [r for r in results if r.fact_accuracy is not None]
    fact_acc = (sum(r.fact_accuracy * r.fact_questions for r in facts) /
                sum(r.fact_questions for r in facts)) if facts else None
    recall = mean_or_zero(r.name_recall for r in measured) if measured else None
    if not results:
        notes.append("the project has no entities; knowledge is not measured")
    return KnowledgeReport(results, recog, fact_acc, recall, tuple(notes))


def _pool_recognition(parts: list[Recognition]) -> Recognition:
    """Pooled accuracies weighted by counts; AUROC as the mean of the entities' (each is ranked
    against its own negatives, so scores of different names are not mixed)."""
    npos, nneg = sum(p.positives for p in parts), sum(p.negatives for p in parts)
    pos = sum(p.positive_accuracy * p.positives for p in parts) / max(1, npos)
    neg = sum(p.negative_accuracy * p.negatives for p in parts) / max(1, nneg)
    aucs = [p.auroc for p in parts if p.auroc is not None]
    return Recognition(pos, neg, (pos + neg) / 2 if nneg else pos,
                       float(np.mean(aucs)) if aucs else None, npos, nneg)


def _fact_questions(entity, entities, heldout: tuple, k: int):
    prompts, options, answers = [], [], []
    pool = [f for e in entities if e.id != entity.id for f in e.facts] + list(DISTRACTOR_FACTS)
    own = {f.lower() for f in entity.facts}
    pool = list(dict.fromkeys(f for f in pool if f.lower() not in own))
    for i, fact in enumerate(entity.facts):
        rng = random.Random(zlib.crc32(f"{entity.name}\n{fact}".encode()))
        questions = [Prompt.ask(None, t.format(name=entity.name)) for t in FACT_TEXT]
        if heldout:
            questions += [Prompt.ask(heldout[(i + j) % len(heldout)], t.format(kind=entity.kind))
                          for j, t in enumerate(FACT_PHOTO)]
        for prompt in questions:
            opts = rng.sample(pool, k - 1) + [fact]
            rng.shuffle(opts)
            prompts.append(prompt)
            options.append(tuple(opts))
            answers.append(fact)
    return tuple(prompts), tuple(options), tuple(answers)


def load_photo(store, photo):
    """A stored photo as an RGB PIL image."""
    from PIL import Image

    with Image.open(store.photo_path(photo.sha256)) as img:
        return img.convert("RGB")
