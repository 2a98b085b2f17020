"""The open-answer judge on right, wrong and contradicting answers, and the facts card."""

from __future__ import annotations

import pytest

from sdft_local.check.open_facts import judge_answer
from sdft_local.facts import FactsCard, read_card_file, system_prompt, write_card_file

OTHERS = ("is 2 years old", "loves sleeping in boxes", "lives in Oslo", "loves swimming in the lake")


@pytest.mark.parametrize("answer", [
    "Biscuit is 4 years old.", "He is four years old.", "That dog is 4 years old and loves balls.",
])
def test_the_fact_stated_is_right(answer):
    assert judge_answer(answer, "is 4 years old", OTHERS).correct


@pytest.mark.parametrize("answer,reason", [
    ("Biscuit is a good dog.", "does not state it"),
    ("I don't know.", "does not state it"),
    ("", "does not state it"),
])
def test_an_answer_without_the_fact_is_wrong(answer, reason):
    judged = judge_answer(answer, "loves tennis balls", OTHERS)
    assert not judged.correct and judged.reason == reason


def test_a_contradicting_answer_is_wrong_with_the_clash_named():
    judged = judge_answer("Biscuit is 2 years old.", "is 4 years old", OTHERS)
    assert not judged.correct and judged.reason.startswith("contradicts") and "2 years" in judged.reason
    negated = judge_answer("Biscuit does not love tennis balls.", "loves tennis balls", OTHERS)
    assert not negated.correct and negated.reason.startswith("contradicts")


def test_an_answer_that_also_states_a_competing_fact_is_wrong():
    both = judge_answer("He loves tennis balls and loves swimming in the lake.", "loves tennis balls", OTHERS)
    assert not both.correct and "swimming" in both.reason
    place = judge_answer("Biscuit lives in Lisbon, not Oslo... he lives in Oslo.", "lives in Lisbon", OTHERS)
    assert not place.correct
    # a competing fact of another topic does not count against it
    assert judge_answer("He lives in Lisbon and loves sleeping in boxes.", "lives in Lisbon", ("is 2 years old",)).correct


def test_the_facts_card_round_trips_and_reads_as_a_system_message(tmp_path):
    cards = (FactsCard("Biscuit", "Dog", ("is 4 years old.", "loves tennis balls")), FactsCard("Pixel", "cat", ()))
    prompt = system_prompt(cards)
    assert "- Biscuit, a dog: is 4 years old; loves tennis balls." in prompt and "- Pixel, a cat." in prompt
    write_card_file(tmp_path, cards)
    assert read_card_file(tmp_path) == cards
    assert system_prompt(()) is None
