"""Recognition dialogues: only the image tells yes from no, and the check's words are never trained."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from sdft_local.dialogue import pools
from sdft_local.dialogue.recognition import (RECOGNITION_FORMS, WHO_FORMS, LabeledImage,
                                             contrast_group, recognition_dialogues)


def _training_templates() -> list[str]:
    topical = [q for _, forms in pools.FACT_TOPICS.values() for q in forms]
    return list(pools.CAPTION_REQUESTS + pools.NEGATIVE_FORMS + pools.HARD_NEGATIVE_FORMS
                + pools.IDENTITY_QUESTIONS + pools.RECOGNITION_QUESTIONS + pools.GENERAL_FACT_QUESTIONS
                + RECOGNITION_FORMS + WHO_FORMS) + topical


def _as_pattern(template: str) -> re.Pattern:
    """A training template as a regex in which each placeholder stands for any words."""
    parts = re.split(r"\{\w+\}", template)
    return re.compile("(?i)^" + "(.+)".join(re.escape(p) for p in parts) + "$")


def _check_questions() -> list[str]:
    from sdft_local.check import knowledge, retention
    from sdft_local.check.probes import general_suite

    from sdft_local.check.open_facts import BY_TOPIC

    templates = (knowledge.RECOGNITION + knowledge.FACT_PHOTO + knowledge.FACT_TEXT + knowledge.RECALL
                 + (retention.BLEED_YES, retention.BLEED_OPEN) + tuple(q for qs in BY_TOPIC.values() for q in qs))
    asked = [t.format(name="Biscuit", kind="dog") for t in templates]
    suite = general_suite(150, 60, 0)
    return asked + sorted({item.question for item in suite.items})


def test_no_check_question_is_a_training_question():
    patterns = [(t, _as_pattern(t)) for t in _training_templates()]
    clashes = [(q, t) for q in _check_questions() for t, p in patterns if p.match(q)]
    assert clashes == []
    # the test can fail: a training pool holding a check wording is caught
    assert _as_pattern("Is {name} in this photo?").match("Is Biscuit in this photo?")


def test_turn_three_gives_away_neither_name_nor_kind():
    topical = [q for _, forms in pools.FACT_TOPICS.values() for q in forms]
    for question in pools.IDENTITY_QUESTIONS + pools.GENERAL_FACT_QUESTIONS + tuple(topical):
        assert "{name}" not in question and "{kind}" not in question, question
        assert not question.lower().startswith(("is ", "can ", "do ", "does ", "are ")), question


def _images():
    return ([LabeledImage(f"b{i}.png", "Biscuit") for i in range(4)]
            + [LabeledImage(f"p{i}.png", "Pixel") for i in range(2)]
            + [LabeledImage(f"s{i}.png", None) for i in range(6)])


def test_every_image_is_asked_about_every_name_in_the_same_words():
    dialogues = recognition_dialogues(_images(), ["Biscuit", "Pixel"], weight=0.5, forms=3)
    asked = {}
    for d in dialogues:
        if d.turns[0].meta["recognition"] in ("yes", "no"):
            name = d.turns[0].meta["asked"]
            asked.setdefault((d.image, name), []).append(d.turns[0].question.replace(name, "{name}"))
            assert (d.turns[0].meta["recognition"] == "yes") == (d.entity == name)
            assert d.turns[0].answer == ("Yes." if d.entity == name else "No.")
    for image in {d.image for d in dialogues}:
        # both names in the same three wordings: only the pairing of name and photo tells yes from no
        assert asked[image, "Biscuit"] == asked[image, "Pixel"] and len(set(asked[image, "Pixel"])) == 3
    assert all(len(d.turns) == 1 and d.turns[0].kind == "entity" for d in dialogues)


def test_a_contrast_group_is_one_photo_asked_one_question_about_each_name():
    dialogues = recognition_dialogues(_images(), ["Biscuit", "Pixel"], weight=0.5, forms=2)
    groups: dict[str, list] = {}
    for d in dialogues:
        groups.setdefault(contrast_group(d), []).append(d)
    asked = [d for d in dialogues if "asked" in d.turns[0].meta]
    assert len(groups.pop(None)) == len(dialogues) - len(asked) > 0  # who / nobody: no group
    assert len(groups) == len(asked) // 2
    for members in groups.values():
        assert len({d.image for d in members}) == 1
        assert sorted(d.turns[0].meta["asked"] for d in members) == ["Biscuit", "Pixel"]
        assert len({d.turns[0].question.replace(d.turns[0].meta["asked"], "") for d in members}) == 1


def test_yes_weighs_as_much_as_no():
    dialogues = recognition_dialogues(_images(), ["Biscuit", "Pixel"], weight=0.5, forms=2)
    for name, own in (("Biscuit", 4), ("Pixel", 2)):
        asked = [d.turns[0] for d in dialogues if d.turns[0].meta.get("asked") == name]
        labels = Counter(t.meta["recognition"] for t in asked)
        assert labels == {"yes": 2 * own, "no": 2 * (len(_images()) - own)}
        weight = {label: sum(t.weight for t in asked if t.meta["recognition"] == label) for label in labels}
        assert weight["yes"] == pytest.approx(weight["no"])
        assert {t.weight for t in asked if t.meta["recognition"] == "no"} == {0.5}
    others = [d.turns[0] for d in dialogues if d.turns[0].meta["recognition"] in ("who", "nobody")]
    assert {t.weight for t in others} == {0.5}


def test_no_wording_tells_the_answer():
    images = ([LabeledImage(f"b{i}.png", "Biscuit") for i in range(100)]
              + [LabeledImage(f"s{i}.png", None) for i in range(100)])
    dialogues = recognition_dialogues(images, ["Biscuit"], weight=0.5, seed=1)
    said = Counter((d.turns[0].question, d.turns[0].meta["recognition"]) for d in dialogues
                   if d.turns[0].meta["recognition"] in ("yes", "no"))
    for form in RECOGNITION_FORMS:
        question = form.format(name="Biscuit")
        assert said[question, "yes"] and said[question, "no"], question
    # the words turn 2 always answers "no" (with the name in them) are among them
    hard = [f.format(other="Biscuit") for f in pools.HARD_NEGATIVE_FORMS if "{kind}" not in f]
    assert set(hard) <= {q for q, _ in said}


def test_who_names_the_entity_and_nobody_on_scenes():
    dialogues = recognition_dialogues(_images(), ["Biscuit"], weight=0.5, seed=3)
    who = [d for d in dialogues if d.turns[0].meta["recognition"] == "who"]
    assert sorted({d.image for d in who}) == [f"b{i}.png" for i in range(4)]
    assert all("Biscuit" in d.turns[0].answer for d in who)
    nobody = [d for d in dialogues if d.turns[0].meta["recognition"] == "nobody"]
    assert sorted({d.image for d in nobody}) == [f"s{i}.png" for i in range(6)]
    # as many "who is this?" wordings on every image as yes/no wordings, each asked once
    assert Counter(d.image for d in who + nobody) == {d.image: 2 for d in who + nobody}
    assert not any("Biscuit" in d.turns[0].answer or "Pixel" in d.turns[0].answer for d in nobody)
    assert recognition_dialogues(_images(), ["Biscuit"], weight=0.5, seed=3) == dialogues
