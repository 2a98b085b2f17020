"""The check's settings: the gate's thresholds and what the check measures, as frozen dataclasses.

Owns `GateConfig` (every threshold the verdict uses, each with its help text) and `CheckConfig`
(suite sizes, batching, backend, the gate), validated in `__post_init__`, with `from_dict` /
`to_dict` for project settings and the saved report. It computes nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from ..errors import ConfigError
from ..settings import Settings, option

BACKENDS = ("auto", "torch", "mlx")




@dataclass(frozen=True)
class GateConfig:
    """Thresholds of the export gate. Retention and bleed can fail a run; knowledge only warns."""

    retention_warn: float = option(0.97, "warn when probe accuracy tuned / base falls below this")
    retention_fail: float = option(0.93, "fail when probe accuracy tuned / base falls below this")
    family_warn: float = option(0.90, "warn when one probe family's accuracy ratio falls below this")
    family_fail: float = option(0.80, "fail when one probe family's accuracy ratio falls below this")
    family_p: float = option(0.05, "a family below family_fail fails the run only when its drop is "
                                 "unlikely to be chance: when coin flips over the items that changed "
                                 "answer would lose as many less often than this (exact McNemar "
                                 "test); otherwise it warns")
    above_chance: float = option(0.10, "a family's ratio counts only when the base model beats "
                                     "chance by this much, and by two standard errors of "
                                     "guessing (it cannot lose a skill it lacks)")
    kl_warn: float = option(0.10, "warn when KL(base || tuned) per answer token exceeds this (nats)")
    kl_fail: float = option(0.50, "fail when KL(base || tuned) per answer token exceeds this (nats)")
    agreement_warn: float = option(0.90, "warn when greedy token agreement with the base falls below this")
    agreement_fail: float = option(0.75, "fail when greedy token agreement with the base falls below this")
    bleed_yes_warn: float = option(0.10, "warn when 'yes, that is <name>' on unrelated photos rises "
                                       "over the base model's rate by more than this")
    bleed_yes_fail: float = option(0.25, "fail when that rise exceeds this")
    bleed_name_warn: float = option(0.05, "warn when the name shows up in open answers about "
                                        "unrelated photos more often than with the base by this")
    bleed_name_fail: float = option(0.20, "fail when that rise exceeds this")
    recognition_warn: float = option(0.75, "warn when weighted recognition accuracy on held-out "
                                         "photos falls below this (Yo'LLaVA reports 0.92)")
    recognition_fail: float = option(0.60, "fail when weighted recognition accuracy on held-out photos "
                                         "falls below this (chance is 0.50): the adapter does not "
                                         "know its entity")
    positives_fail: float = option(0.20, "fail when fewer held-out photos of the entity than this are "
                                       "recognized (a model that always says no scores 0.50 weighted)")
    facts_warn: float = option(0.50, "warn when fact multiple-choice accuracy falls below this")
    recall_warn: float = option(0.50, "warn when the name appears in fewer open 'who is this' "
                                    "answers than this")
    open_facts_warn: float = option(0.50, "warn when fewer open answers than this state the fact asked "
                                        "about (judged on the text, without the facts card)")

    def __post_init__(self):
        problem = _gate_problem(self)
        if problem:
            raise ConfigError(f"invalid gate setting: {problem}")


@dataclass(frozen=True)
class CheckConfig(Settings):
    """What one check measures and how. Defaults give the full suite (>= 120 image, >= 60 text)."""

    _what = "check"

    backend: str = option("auto", "student backend: auto (MLX on Apple Silicon, else torch), torch, mlx")
    image_probes: int = option(150, "synthetic image probe items (colours, shapes, counts, ...)")
    text_probes: int = option(60, "text-only probe items with checkable answers")
    probe_seed: int = option(0, "seed of the probe suite (part of its version)")
    batch_size: int = option(16, "sequences per teacher-forced forward pass")
    answer_tokens: int = option(24, "longest base answer generated for the KL / agreement probes")
    kl_top_k: int = option(1024, "base log-probs kept per answer token; the rest is one tail "
                               "bucket (exact when the vocabulary is no larger)")
    bleed_photos: int = option(12, "unrelated probe photos used for concept bleed")
    easy_negatives: int = option(6, "unrelated probe photos added to each entity's recognition negatives")
    recall_tokens: int = option(32, "longest open answer generated for name recall and bleed")
    fact_options: int = option(4, "options per fact question (the fact and distractors)")
    gate: GateConfig = field(default_factory=GateConfig, metadata={"help": "thresholds of the verdict"})

    def __post_init__(self):
        if isinstance(self.gate, dict):
            object.__setattr__(self, "gate", GateConfig(**self.gate))
        problem = _check_problem(self)
        if problem:
            raise ConfigError(f"invalid check setting: {problem}")

    def to_dict(self) -> dict:
        return asdict(self)


def resolve_check_config(settings: dict | None = None, **flags) -> CheckConfig:
    """Flags over the project's `check` settings over defaults."""
    return CheckConfig.from_dict(dict((settings or {}).get("check", {}))).merged(**flags)


def help_text(name: str) -> str:
    return next(f.metadata["help"] for f in fields(CheckConfig) + fields(GateConfig) if f.name == name)


def _gate_problem(g: GateConfig) -> str | None:
    pairs = [("retention", g.retention_fail, g.retention_warn), ("family", g.family_fail, g.family_warn),
             ("agreement", g.agreement_fail, g.agreement_warn)]
    for name, fail, warn in pairs:
        if not 0.0 <= fail <= warn <= 1.5:
            return f"{name}_fail {fail} must be <= {name}_warn {warn}, both within 0..1.5"
    for name, warn, fail in [("kl", g.kl_warn, g.kl_fail), ("bleed_yes", g.bleed_yes_warn, g.bleed_yes_fail),
                             ("bleed_name", g.bleed_name_warn, g.bleed_name_fail)]:
        if not 0.0 <= warn <= fail:
            return f"{name}_warn {warn} must be >= 0 and <= {name}_fail {fail}"
    if not 0.0 <= g.recognition_fail <= g.recognition_warn <= 1.0:
        return (f"recognition_fail {g.recognition_fail} must be <= recognition_warn "
                f"{g.recognition_warn}, both within 0..1")
    for name in ("above_chance", "family_p", "positives_fail", "facts_warn", "recall_warn", "open_facts_warn"):
        if not 0.0 <= getattr(g, name) <= 1.0:
            return f"{name} {getattr(g, name)} must be within 0..1"
    return None


def _check_problem(c: CheckConfig) -> str | None:
    if c.backend not in BACKENDS:
        return f"backend {c.backend!r} is not one of {', '.join(BACKENDS)}"
    if not isinstance(c.gate, GateConfig):
        return f"gate {c.gate!r} must be a GateConfig"
    for name in ("image_probes", "text_probes", "bleed_photos", "easy_negatives"):
        if getattr(c, name) < 0:
            return f"{name} {getattr(c, name)} must be >= 0"
    if c.image_probes + c.text_probes == 0:
        return "image_probes and text_probes are both 0; the retention check needs probes"
    for name in ("batch_size", "answer_tokens", "kl_top_k", "recall_tokens"):
        if getattr(c, name) < 1:
            return f"{name} {getattr(c, name)} must be >= 1"
    if not 2 <= c.fact_options <= 8:
        return f"fact_options {c.fact_options} must be within 2..8"
    return None
