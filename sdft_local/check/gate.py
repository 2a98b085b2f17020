"""The export gate: from the knowledge and retention numbers to pass / warn / fail, with reasons.

Owns `judge`. Every threshold comes from `GateConfig`; every reason names the number, the limit and
what to change, with one diagnosis (over-fit, under-fit or both). Forgetting (retention, KL,
agreement, concept bleed) can fail a run, and so can an adapter that does not recognize its entity
(weighted recognition near chance, or an entity found on almost none of its held-out photos): that
adapter would be exported as if it worked. Weak facts and recall only warn. One probe family's drop fails only
when chance does not explain it (McNemar over the items that changed answer). Numbers that cannot
mean anything (no family where the base beats chance, no held-out photos) become notes, not reasons.
"""

from __future__ import annotations

from dataclasses import replace

from .config import GateConfig
from .metrics import drop_p_value
from .report import FamilyRetention, GateVerdict, KnowledgeReport, Reason, RetentionReport

LESS_TRAINING = "lower the learning rate or the epochs, raise the caption turn's weight, or "
MORE_TRAINING = "train longer (more epochs) or add photos of the entity"
LEVELS = ("warn", "fail")
DRIFTED_UNLEARNED = ("the run drifted from the base model before it learned the entity, so neither "
                     "longer nor shorter training helps: lower the learning rate and raise the epochs "
                     "(smaller steps, more of them), add photos of the entity, or ")


def _selfaug_advice(train_config: dict | None) -> str:
    selfaug = float((train_config or {}).get("selfaug") or 0.0)
    return "train with SelfAug (selfaug 0.5)" if selfaug <= 0 else f"raise SelfAug above the run's {selfaug:g}"


def forgetting_fix(train_config: dict | None = None) -> str:
    """What to change against forgetting, given the run's training settings (when known)."""
    return LESS_TRAINING + _selfaug_advice(train_config)


def judge(knowledge: KnowledgeReport, retention: RetentionReport, gate: GateConfig,
          train_config: dict | None = None) -> GateVerdict:
    """The verdict; `train_config` (the run's TrainConfig as a dict) tailors the advice.

    The advice is one diagnosis: over-fit (it forgot: train less), under-fit (it did not learn:
    train more) or both (smaller steps), never "train longer" next to "train less"."""
    forgetting = _retention_reasons(retention, gate) + _bleed_reasons(retention, gate)
    learning = _knowledge_reasons(knowledge, gate)
    fix = _diagnosis(forgetting, learning, train_config)
    reasons = _advised(forgetting, fix) + _advised(learning, fix)
    notes = list(knowledge.notes)
    if retention.ratio is None:
        notes.append(f"probe accuracy ratios are not gated: in no family of at least 10 items does "
                     f"the base model beat chance clearly (by {gate.above_chance:.2f} and two standard "
                     f"errors; expected for an untrained test model); KL and agreement still are")
    levels = {r.level for r in reasons}
    verdict = "fail" if "fail" in levels else "warn" if "warn" in levels else "pass"
    return GateVerdict(verdict, tuple(reasons), tuple(notes))


def _diagnosis(forgetting: list[Reason], learning: list[Reason], train_config: dict | None) -> str:
    """The one fix every reason carries. The side that fails decides over a side that only warns
    (a run that does not know its entity and forgot a little needs more training that keeps the
    rest, not less); when both fail, or both only warn, the run drifted before it learned."""
    worst_forgetting, worst_learning = _worst(forgetting), _worst(learning)
    if forgetting and learning and worst_forgetting == worst_learning:
        return DRIFTED_UNLEARNED + _selfaug_advice(train_config)
    if learning and worst_learning > worst_forgetting:
        return MORE_TRAINING + (f", and {_selfaug_advice(train_config)} so the longer run keeps the rest"
                                if forgetting else "")
    return forgetting_fix(train_config)


def _worst(reasons: list[Reason]) -> int:
    return max((LEVELS.index(r.level) for r in reasons), default=-1)


def _advised(reasons: list[Reason], fix: str) -> list[Reason]:
    return [replace(r, message=f"{r.message}; {fix}") for r in reasons]


def _below(metric, value, warn, fail, message) -> list[Reason]:
    if value is None or value >= warn:
        return []
    level, limit = ("fail", fail) if value < fail else ("warn", warn)
    return [Reason(level, metric, float(value), float(limit), message(limit))]


def _above(metric, value, warn, fail, message) -> list[Reason]:
    if value is None or value <= warn:
        return []
    level, limit = ("fail", fail) if value > fail else ("warn", warn)
    return [Reason(level, metric, float(value), float(limit), message(limit))]


def _retention_reasons(r: RetentionReport, g: GateConfig) -> list[Reason]:
    out = _below("retention.ratio", r.ratio, g.retention_warn, g.retention_fail, lambda t: (
        f"general probe accuracy is {r.ratio:.3f} of the base model's (limit {t:.2f}): the run "
        f"forgot general skills"))
    for f in (f for f in r.families if f.gated):
        out += _family_reasons(f, g)
    out += _above("retention.kl", r.kl_per_token, g.kl_warn, g.kl_fail, lambda t: (
        f"answers to general probes drift from the base model by KL {r.kl_per_token:.3f} nats per "
        f"token (limit {t:.2f})"))
    out += _below("retention.agreement", r.token_agreement, g.agreement_warn, g.agreement_fail, lambda t: (
        f"only {r.token_agreement:.1%} of the base model's greedy answer tokens are still its greedy "
        f"choice (limit {t:.0%}; {r.answer_agreement:.1%} of whole answers unchanged)"))
    return out


def _family_reasons(f: FamilyRetention, g: GateConfig) -> list[Reason]:
    """A family below family_fail whose drop chance explains (McNemar p >= family_p) only warns:
    on 25 items, three answers lost to guessing can cross the limit."""
    out = _below(f"retention.family.{f.family}", f.ratio, g.family_warn, g.family_fail, lambda t: (
        f"{f.family} probes: accuracy {f.base_accuracy:.2f} -> {f.tuned_accuracy:.2f} "
        f"(ratio {f.ratio:.3f}, limit {t:.2f})"))
    if not out or out[0].level != "fail" or f.lost is None or f.gained is None:
        return out
    p = drop_p_value(f.lost, f.gained)
    if p < g.family_p:
        return out
    return [replace(out[0], level="warn", message=(
        f"{out[0].message}. Only a warning: {f.lost} of the {f.lost + f.gained} items that changed "
        f"answer were lost, which chance does with p = {p:.2f} (family_p {g.family_p:g})"))]


def _bleed_reasons(r: RetentionReport, g: GateConfig) -> list[Reason]:
    b = r.bleed
    if b is None:
        return []
    examples = f", e.g. {b.examples[0]!r}" if b.examples else ""
    rise = b.yes_rate_tuned - b.yes_rate_base
    out = _above("bleed.yes", rise, g.bleed_yes_warn, g.bleed_yes_fail, lambda t: (
        f"says yes to 'Is <name> in this photo?' on {b.yes_rate_tuned:.0%} of unrelated photos "
        f"(base {b.yes_rate_base:.0%}; rise limit {t:.0%}): the name bleeds into everything; add "
        f"another entity as a hard negative"))
    out += _above("bleed.name", b.name_rate_tuned - b.name_rate_base, g.bleed_name_warn, g.bleed_name_fail,
                  lambda t: (
        f"names an entity in {b.name_rate_tuned:.0%} of open answers about unrelated photos "
        f"(base {b.name_rate_base:.0%}; rise limit {t:.0%}){examples}"))
    return out


def _knowledge_reasons(k: KnowledgeReport, g: GateConfig) -> list[Reason]:
    out = []
    if k.recognition is not None:
        rec = k.recognition
        out += _below("knowledge.recognition", rec.weighted_accuracy, g.recognition_warn, g.recognition_fail,
                      lambda t: (
            f"recognizes the entities on held-out photos with weighted accuracy {rec.weighted_accuracy:.2f} "
            f"(positives {rec.positive_accuracy:.2f}, negatives {rec.negative_accuracy:.2f}; limit {t:.2f}, "
            f"chance 0.50, Yo'LLaVA reports 0.92)"))
    for entity in (e for e in k.entities if e.recognition is not None):
        out += _below(f"knowledge.positives.{entity.name}", entity.recognition.positive_accuracy,
                      g.positives_fail, g.positives_fail, lambda t, e=entity: (
            f"{e.name} is recognized on only {e.recognition.positive_accuracy:.0%} of its held-out photos "
            f"(limit {t:.0%}): the adapter does not know {e.name}"))
    out += _below("knowledge.facts", k.fact_accuracy, g.facts_warn, 0.0, lambda t: (
        f"picks the right fact in {k.fact_accuracy:.0%} of multiple-choice questions (limit {t:.0%}); "
        f"more turn-3 variants per photo repeat the facts more often"))
    if k.open_facts is not None:
        o = k.open_facts
        card = (f"with the facts card as its system message {o.tuned_card:.0%}, so use the card that "
                f"every export carries" if o.tuned_card > o.tuned else
                f"the facts card as system message does not help this model ({o.tuned_card:.0%})")
        out += _below("knowledge.open_facts", o.tuned, g.open_facts_warn, 0.0, lambda t: (
            f"states the fact asked about in {o.tuned:.0%} of open answers (limit {t:.0%}; base "
            f"{o.base:.0%}); {card}"))
    out += _below("knowledge.recall", k.name_recall, g.recall_warn, 0.0, lambda t: (
        f"names the entity in {k.name_recall:.0%} of open 'who is this' answers on held-out photos "
        f"(limit {t:.0%})"))
    return out
