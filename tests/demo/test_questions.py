"""Probe items and pretraining pairs: deterministic, answers consistent with the scene, check wording."""

from __future__ import annotations

import random

import numpy as np
import pytest

from scripts.pretraining import mix
from sdft_local.world import questions
from sdft_local.world.draw import KINDS
from sdft_local.world.questions import (COUNT_WORDS, PROBE_FAMILIES, TEXT_FACTS, YES, probe_items, probe_specs,
                                       qa_pairs)
from sdft_local.world.scene import make_scene, plural, position_of


@pytest.mark.parametrize("family", PROBE_FAMILIES)
def test_probe_items_are_deterministic_and_well_formed(family):
    a, b = probe_items(family, 6, seed=3), probe_items(family, 6, seed=3)
    assert [(i.question, i.options, i.answer) for i in a] == [(i.question, i.options, i.answer) for i in b]
    for x, y in zip(a, b):
        assert (x.image is None) == (family == "text")
        assert x.image is None or x.image.tobytes() == y.image.tobytes()
        assert x.answer in x.options and 2 <= len(x.options) <= 6 and x.family == family
    other = probe_items(family, 6, seed=4)
    assert [i.question + i.answer for i in other] != [i.question + i.answer for i in a] or family == "presence"


def test_unknown_family_is_named():
    with pytest.raises(ValueError, match="colour, shape"):
        probe_specs("smell", 3)


def test_count_items_cycle_one_to_six_and_match_the_scene():
    specs = probe_specs("count", 12, seed=1)
    assert [s.answer for s in specs] == list(COUNT_WORDS) * 2
    for s in specs:
        assert COUNT_WORDS[len(s.scene.items) - 1] == s.answer
        assert s.question == f"How many {plural(s.scene.items[0].kind)} are there?"


def test_each_family_answer_agrees_with_the_scene():
    for s in probe_specs("colour", 20, seed=2):
        kind = s.question.split("the ")[1].rstrip("?")
        assert s.answer in {i.color for i in s.scene.items if i.kind == kind}
    for s in probe_specs("position", 10, seed=2):
        assert s.answer == position_of(s.scene.items[0])
    for s in probe_specs("shape", 10, seed=2):
        assert s.answer == s.scene.items[0].kind
    for s in probe_specs("word", 10, seed=2):
        assert s.answer == s.scene.word.text
    presence = probe_specs("presence", 20, seed=2)
    assert [s.answer for s in presence].count(YES) == 10
    for s in presence:
        kind = next(k for k in KINDS if f" {k} in" in s.question)
        assert (kind in s.scene.kinds) == (s.answer == YES)


def test_text_facts_are_distinct_and_enough():
    assert len({f.question for f in TEXT_FACTS}) == len(TEXT_FACTS) >= 60
    assert all(f.answer in f.pool for f in TEXT_FACTS)
    items = probe_items("text", 60, seed=0)
    assert len({i.question for i in items}) == 60
    plus = next(f for f in TEXT_FACTS if f.question == "What is three plus four?")
    assert plus.answer == "seven"


def test_presence_pairs_are_balanced_and_concepts_never_in_the_world():
    concepts = questions.absent_concepts()
    assert len(concepts) > 100 and not set(concepts) & set(KINDS)
    words = {w for c in concepts for w in c.split()}
    assert not words & (set(KINDS) | {"ball", "puppy", "kitten", "sunflower"})
    rng = random.Random(0)
    answers = []
    for _ in range(300):
        for q, a in qa_pairs(make_scene("objects", rng), rng, concepts):
            if q.startswith(("Is ", "Do ", "Can you spot", "Can you find", "Does ")):
                answers.append(a.split(",")[0].split(" ")[0].lower().rstrip("."))
    assert set(answers) == {"yes", "no"}
    assert abs(answers.count("yes") / len(answers) - 0.5) < 0.05


def test_short_answers_in_the_mix_are_exactly_probe_options():
    """The mix teaches each probe question with a probe answer string, never a sentence."""
    allowed: dict[str, set] = {}
    for family in PROBE_FAMILIES:
        specs = probe_specs(family, 300, seed=9)
        pool = {o for s in specs for o in s.options}
        for spec in specs:
            allowed.setdefault(spec.question, set()).update(pool)
    rng = random.Random(1)
    seen = 0
    for _ in range(1500):
        for q, a in mix.sample_dialogue(rng).turns:
            if q in allowed:
                assert a in allowed[q] and not a.endswith("."), (q, a)
                seen += 1
    assert seen > 500


def test_the_check_scores_exactly_these_items():
    """One source of probe items: the check's general suite is built from `probe_items`."""
    from sdft_local.check.probes import general_suite

    suite = general_suite(0, 6, seed=3)
    expected = [(i.question, i.answer, i.options) for i in probe_items("text", 6, 3)]
    assert [(i.question, i.answer, i.options) for i in suite.items] == expected


def test_dialogue_labels_cover_only_the_answers(tiny_model_dir):
    from scripts.pretraining.pretrain import IGNORE, encode_dialogue
    from sdft_local.models.processor import load_processor

    processor = load_processor(tiny_model_dir)
    dialogue = mix.sample_dialogue(random.Random(5))
    while dialogue.scene is None or len(dialogue.turns) < 2:
        dialogue = mix.sample_dialogue(random.Random(len(dialogue.turns) + 17))
    row = encode_dialogue(processor, dialogue)
    ids, labels = row["input_ids"][0], row["labels"][0]
    tok = processor.tokenizer
    answers = tok.decode([int(i) for i, l in zip(ids, labels) if l != IGNORE])
    assert answers == "".join(a + "<|im_end|>" for _, a in dialogue.turns)
    image_id = tok.convert_tokens_to_ids("<|image_pad|>")
    assert (ids == image_id).sum() == 16 and not (labels == image_id).any()
