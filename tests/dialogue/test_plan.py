"""Per-photo planning: seeded choices, negative candidates, turn-3 targets, polarity, assembly."""

from dataclasses import dataclass

import pytest

from sdft_local.dialogue.concepts import excluded_categories, kind_category
from sdft_local.dialogue.config import DialogueConfig
from sdft_local.dialogue.plan import (
    answer_polarity, assemble, caption_question, entity_targets, negative_options,
)
from sdft_local.dialogue.types import Turn
from sdft_local.errors import ConfigError


@dataclass(frozen=True)
class Subject:
    name: str
    kind: str
    facts: tuple


BISCUIT = Subject("Biscuit", "dog", ("4 years old", "loves tennis balls", "lives in Lisbon"))


def test_caption_questions_are_seeded_per_photo_and_variant():
    config = DialogueConfig()
    asked = {caption_question(config, f"photo{i}", v) for i in range(20) for v in range(3)}
    assert len(asked) >= 10
    assert caption_question(config, "p", 1) == caption_question(config, "p", 1)
    other_seed = DialogueConfig(seed=1)
    assert any(caption_question(config, f"p{i}", 0) != caption_question(other_seed, f"p{i}", 0)
               for i in range(5))


def test_negative_options_are_far_from_the_kind_and_avoid_the_caption():
    config = DialogueConfig(negative_attempts=5)
    banned = excluded_categories(kind_category("dog"))
    for i in range(30):
        options = negative_options(BISCUIT, [], config, f"p{i}", 0, avoid_text="a teapot")
        assert len(options) == 5
        assert all(not o.hard and o.category not in banned for o in options)
        assert all(o.target != "teapot" and o.target in o.question for o in options)
        assert all(o.template_answer.startswith("No") for o in options)


def test_hard_negatives_name_other_entities_at_the_configured_rate():
    config = DialogueConfig(hard_negative_rate=0.5)
    firsts = [negative_options(BISCUIT, ["Max", "Biscuit"], config, f"p{i}", 0)[0]
              for i in range(200)]
    hard = [o for o in firsts if o.hard]
    assert 70 <= len(hard) <= 130
    assert all(o.target == "Max" and "Max" in o.question and o.category == "entity" for o in hard)
    assert all("Max" in o.template_answer for o in hard)
    never = DialogueConfig(hard_negative_rate=0.0)
    assert not any(negative_options(BISCUIT, ["Max"], never, f"p{i}", 0)[0].hard for i in range(50))


def test_entity_targets_cover_identity_and_every_fact():
    config = DialogueConfig(variants=4)
    targets = entity_targets(BISCUIT, config, "photo")
    assert len(targets) == 4
    assert {t.fact for t in targets} == {None, *BISCUIT.facts}
    age = next(t for t in targets if t.fact == "4 years old")
    assert age.topic == "age"
    assert all("{" not in t.question for t in targets)


def test_entity_targets_balance_facts_across_photos_and_vary_phrasing():
    config = DialogueConfig(variants=1)
    firsts = [entity_targets(BISCUIT, config, f"p{i}")[0] for i in range(200)]
    counts = {f: sum(t.fact == f for t in firsts) for f in (None, *BISCUIT.facts)}
    assert all(30 <= c <= 70 for c in counts.values()), counts
    many = entity_targets(Subject("Biscuit", "dog", ()), DialogueConfig(variants=6), "p")
    assert all(t.fact is None for t in many)
    assert len({t.question for t in many}) == 6  # repeated targets get fresh phrasings


@pytest.mark.parametrize("answer,polarity", [
    ("No, there is no teapot.", "negative"), ("Nope.", "negative"),
    ("There isn't a teapot in this image.", "negative"), ("I can't see one.", "negative"),
    ("Yes, on the table.", "positive"), ("A teapot sits on the table.", "positive"),
    ("A dog on the grass.", "unclear"), ("", "unclear"),
])
def test_answer_polarity(answer, polarity):
    assert answer_polarity(answer, "teapot") == polarity


def test_assemble_applies_the_configured_weights():
    config = DialogueConfig(caption_weight=0.1, negative_weight=0.4, entity_weight=1.0)
    turns = [Turn("caption", "q", "a", 0.0), Turn("negative", "q", "No.", 0.0, meta={"x": 1}),
             Turn("entity", "q", "Biscuit.", 0.0, source="llama-cpp:m.gguf")]
    dialogue = assemble("/p.png", BISCUIT, turns, 2, config)
    assert [t.weight for t in dialogue.turns] == [0.1, 0.4, 1.0]
    assert dialogue.variant == 2 and dialogue.turns[2].source == "llama-cpp:m.gguf"
    assert dialogue.turns[1].meta == {"x": 1}


@pytest.mark.parametrize("bad", [
    {"caption_weight": -0.1}, {"caption_weight": 0, "negative_weight": 0, "entity_weight": 0},
    {"variants": 0}, {"hard_negative_rate": 1.5}, {"negative_forms": ("Is there a cat?",)},
    {"caption_requests": ()}, {"concepts": ()},
])
def test_config_rejects_bad_values(bad):
    with pytest.raises(ConfigError):
        DialogueConfig(**bad)


def test_fact_questions_ask_by_name_only_when_configured():
    from sdft_local.dialogue.answers import EntityRequest
    from sdft_local.dialogue.pools import RECOGNITION_QUESTIONS

    asks = tuple(q.format(name="Biscuit", kind="dog") + " " for q in RECOGNITION_QUESTIONS)

    def fact_targets(config):
        return [t for i in range(200) for t in entity_targets(BISCUIT, config, f"p{i}") if t.fact is not None]

    targets = fact_targets(DialogueConfig(variants=1, recognition_rate=0.5))
    by_name = [t for t in targets if t.question.startswith(asks)]
    assert 0.35 <= len(by_name) / len(targets) <= 0.65
    assert all(EntityRequest("Biscuit", "dog", BISCUIT.facts, t.question, t.fact).is_yes_no for t in by_name)
    # off by default: a yes only turn 3 gives would let the turn's position answer
    assert not any(t.question.startswith(asks) for t in fact_targets(DialogueConfig(variants=1)))
