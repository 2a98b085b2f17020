"""Retention: is the tuned model still as good as its base at everything the run did not teach?

Owns `measure_retention` — probe accuracy per family (tuned vs the base's cached answers), forward
KL(base || tuned) per token and greedy agreement, both teacher-forced on the base's own greedy
answers — and concept bleed (`measure_bleed`: "yes" to "Is <name> in this photo?" and the name in
open answers, on photos unrelated to any entity). It does not judge the numbers (see `gate.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .batch import BatchScorer, Prompt, staged
from .baseline import BaseSuite, greedy_answers, picks_answer
from .metrics import kl_from_top_k, mentions, ratio
from .probes import ProbeSuite
from .report import Bleed, FamilyRetention, RetentionReport

MIN_FAMILY_ITEMS = 10  # fewer items than this make a family's ratio too noisy to gate on
BLEED_YES = "Is {name} in this photo?"
BLEED_OPEN = "Who or what is in this photo?"


@dataclass(frozen=True)
class BleedSide:
    """One model on the unrelated photos: share of "yes" and of answers naming an entity."""

    yes_rate: float
    name_rate: float
    examples: tuple[str, ...]


def measure_retention(scorer: BatchScorer, suite: ProbeSuite, base: BaseSuite, above_chance: float):
    """Generator (CheckProgressed ...) returning the `RetentionReport` (without bleed)."""
    prompts = suite.prompts()
    scores = yield from staged("retention options",
                               scorer.option_scores(prompts, [i.options for i in suite.items]))
    correct = np.array([picks_answer(s, item) for s, item in zip(scores, suite.items)], bool)

    def compare(i, _, logprobs):
        return kl_from_top_k(base.top_ids[i], base.top_lp[i], logprobs), logprobs.argmax(-1) == base.argmax(i)

    rows = yield from staged("retention log-probs", scorer.answer_logprobs(prompts, base.answers, compare))
    return _report(suite, base, correct, [r[0] for r in rows], [r[1] for r in rows], above_chance)


def _report(suite, base, correct, kls, agrees, above_chance) -> RetentionReport:
    families = tuple(_family(suite, f, base.correct, correct, kls, agrees, above_chance)
                     for f in suite.families)
    gated = [f for f in families if f.gated]
    idx = [i for f in gated for i in suite.indices(f.family)]
    base_hits, tuned_hits = int(base.correct[idx].sum()), int(correct[idx].sum())
    all_kl, all_agree = np.concatenate(kls), np.concatenate(agrees)
    return RetentionReport(
        families, len(suite.items), float(base.correct.mean()), float(correct.mean()),
        ratio(tuned_hits, base_hits) if gated else None, float(all_kl.mean()),
        float(max(k.mean() for k in kls)), float(all_agree.mean()),
        float(np.mean([a.all() for a in agrees])), int(len(all_kl)), None)


def _family(suite, family, base_correct, correct, kls, agrees, above_chance) -> FamilyRetention:
    idx = suite.indices(family)
    chance = float(np.mean([1.0 / len(suite.items[i].options) for i in idx]))
    base_acc, tuned_acc = float(base_correct[idx].mean()), float(correct[idx].mean())
    skill = chance + beyond_chance(chance, len(idx), above_chance)
    gated = len(idx) >= MIN_FAMILY_ITEMS and base_acc >= skill
    before, after = base_correct[idx], correct[idx]
    return FamilyRetention(
        family, len(idx), chance, base_acc, tuned_acc, ratio(tuned_acc, base_acc), gated,
        float(np.concatenate([kls[i] for i in idx]).mean()),
        float(np.concatenate([agrees[i] for i in idx]).mean()),
        int((before & ~after).sum()), int((~before & after).sum()))


def beyond_chance(chance: float, items: int, margin: float) -> float:
    """How far above chance a base accuracy must be to count as a skill: `margin`, and at least two
    standard errors of guessing (a guessing model clears that on about 2% of families)."""
    return max(margin, 2.0 * float(np.sqrt(chance * (1.0 - chance) / items)))


def measure_bleed(scorer: BatchScorer, names: list[str], photos: list, *, recall_tokens: int, stage: str):
    """Generator returning one model's `BleedSide` on `photos` (none of which shows an entity)."""
    asks = [Prompt.ask(img, BLEED_YES.format(name=n)) for n in names for img in photos]
    p_yes = yield from staged(stage + " yes/no", scorer.yes_probs(asks))
    opens = [Prompt.ask(img, BLEED_OPEN) for img in photos]
    answers = yield from greedy_answers(scorer, opens, recall_tokens, stage + " open answers")
    named = [a for a in answers if any(mentions(a, n) for n in names)]
    return BleedSide(float((p_yes > 0.5).mean()) if len(asks) else 0.0,
                     len(named) / len(answers) if answers else 0.0, tuple(named[:5]))


def bleed_report(base: BleedSide, tuned: BleedSide, photos: int) -> Bleed:
    return Bleed(photos, base.yes_rate, tuned.yes_rate, base.name_rate, tuned.name_rate, tuned.examples)
