"""Phrasing pools and the concept bank: sizes, placeholders, and the negative selector's rules."""

import random
import string

import pytest

from sdft_local.dialogue import pools
from sdft_local.dialogue.concepts import (
    CATEGORIES, CONCEPTS, excluded_categories, kind_category, pick_negatives,
)


def _placeholders(text):
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_pool_sizes_meet_the_spec():
    assert len(set(pools.CAPTION_REQUESTS)) >= 20
    assert len(set(pools.NEGATIVE_FORMS)) >= 10
    assert len(set(pools.entity_question_pool())) >= 20
    assert len(set(pools.IDENTITY_QUESTIONS)) >= 10
    for topic, (_, forms) in pools.FACT_TOPICS.items():
        assert len(forms) >= 3, topic


def test_placeholders_are_the_documented_ones():
    assert all(not _placeholders(q) for q in pools.CAPTION_REQUESTS)
    assert all(_placeholders(q) == {"concept"} for q in pools.NEGATIVE_FORMS)
    assert all("other" in _placeholders(q) for q in pools.HARD_NEGATIVE_FORMS)
    allowed = {"name", "kind"}
    assert all(_placeholders(q) <= allowed for q in pools.entity_question_pool())


@pytest.mark.parametrize("fact,topic", [
    ("4 years old", "age"), ("three months old", "age"), ("born in 2019", "age"),
    ("loves tennis balls", "likes"), ("favourite food is cheese", "likes"),
    ("afraid of thunder", "dislikes"), ("hates baths", "dislikes"),
    ("lives in Lisbon", "place"), ("works as a nurse", "role"),
    ("has a white spot on the chest", "appearance"), ("adopted from a shelter", "place"),
    ("can open doors", "general"),
])
def test_fact_topics(fact, topic):
    assert pools.fact_topic(fact) == topic
    questions = pools.fact_questions(fact)
    assert questions[-len(pools.GENERAL_FACT_QUESTIONS):] == pools.GENERAL_FACT_QUESTIONS


def test_concept_bank_is_large_unique_and_categorized():
    assert len(CONCEPTS) >= 300
    assert len({c.name for c in CONCEPTS}) == len(CONCEPTS)
    assert len(CATEGORIES) >= 20
    assert all(c.category in CATEGORIES for c in CONCEPTS)
    assert {c.article for c in CONCEPTS} == {"a", "an"}
    assert next(c for c in CONCEPTS if c.name == "umbrella").phrase == "an umbrella"
    assert next(c for c in CONCEPTS if c.name == "hourglass").phrase == "an hourglass"


@pytest.mark.parametrize("kind,category", [
    ("dog", "pet"), ("Golden Retriever", "pet"), ("cats", "pet"), ("my grandma", "person"),
    ("succulent", "plant"), ("coffee mug", "kitchenware"), ("vintage car", "vehicle"),
    ("spaceship", None),
])
def test_kind_category(kind, category):
    assert kind_category(kind) == category


@pytest.mark.parametrize("kind", ["dog", "person", "mug", "plant", "car", "guitar"])
def test_negatives_never_share_or_neighbour_the_entity_category(kind):
    banned = excluded_categories(kind_category(kind))
    assert kind_category(kind) in banned
    picked = pick_negatives(kind, "", random.Random(1), count=200)
    assert len(picked) == 200 and len({c.name for c in picked}) == 200
    assert not {c.category for c in picked} & banned


def test_person_negatives_skip_clothing_and_dog_negatives_skip_leashes():
    person = {c.category for c in pick_negatives("person", "", random.Random(0), count=300)}
    assert "clothing" not in person and "accessory" not in person
    dog = {c.name for c in pick_negatives("dog", "", random.Random(0), count=300)}
    assert "leash" not in dog and "cat" not in dog and "elephant" not in dog


def test_negatives_avoid_things_named_in_facts_and_caption():
    avoid = "loves tennis balls; the photo shows a teapot and a red umbrella"
    names = {c.name for c in pick_negatives("dog", avoid, random.Random(0), count=400)}
    assert not names & {"soccer ball", "bowling ball", "teapot", "umbrella"}
    assert "bar of soap" in names  # stopwords like "of"/"and" must not exclude concepts


def test_selection_is_seeded():
    a = pick_negatives("dog", "", random.Random(7), count=5)
    b = pick_negatives("dog", "", random.Random(7), count=5)
    c = pick_negatives("dog", "", random.Random(8), count=5)
    assert a == b and a != c
