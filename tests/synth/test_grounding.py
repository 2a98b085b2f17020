"""Grounding: a turn-3 answer may state only what the facts and the caption give."""

import pytest

from sdft_local.dialogue.answers import EntityRequest
from sdft_local.dialogue.grounding import check_grounded, invented_claims, proper_names
from sdft_local.synth.compose import compose_entity_answer
from sdft_local.synth.config import SynthConfig

from .test_compose import Scripted

REQUEST = EntityRequest(
    "Biscuit", "dog", ("Biscuit is 4 years old.", "Biscuit loves tennis balls.", "Biscuit lives in Lisbon."),
    "What does the animal in this photo love?", "Biscuit loves tennis balls.",
    "An orange dog with a red scarf on the grass.", ("Pixel",),
    (("Pixel", "Pixel is 2 years old."), ("Pixel", "Pixel loves sleeping in boxes.")))


@pytest.mark.parametrize("answer, problem", [
    ("Biscuit is shown in this picture wearing a blue shirt. Biscuit loves tennis balls.",
     "invents a colour not in the facts or caption (blue)"),
    ("Biscuit is shown in this picture wearing a blue shirt. Biscuit loves tennis balls.",
     "invents clothing not in the facts or caption (shirt)"),
    ("This is Biscuit, who loves tennis balls and loves to play soccer.",
     "invents an activity not in the facts or caption (play, soccer)"),
    ("Biscuit loves tennis balls at the beach.", "invents a place not in the facts or caption (beach)"),
    ("Biscuit is 7 and loves tennis balls.", "invents a number not in the facts or caption (7)"),
    ("Biscuit loves tennis balls; he lives in Paris.", "names something not in the facts (Paris)"),
    ("Biscuit loves tennis balls and sleeping in boxes.",
     "uses a fact of Pixel ('Pixel loves sleeping in boxes.')"),
])
def test_invented_claims_are_named(answer, problem):
    assert problem in invented_claims(answer, REQUEST)


def test_an_answer_from_the_facts_and_caption_is_grounded():
    answer = ("I can see an orange dog with a red scarf on the grass. This is Biscuit, 4 years old, "
              "from Lisbon. Biscuit loves tennis balls.")
    assert invented_claims(answer, REQUEST) == []
    assert check_grounded(answer, REQUEST).ok


def test_sentence_openings_are_not_proper_names():
    assert proper_names("The dog is here. Biscuit loves Lisbon. Then Oslo!") == ["Lisbon", "Oslo"]


def test_an_invented_claim_is_retried_and_the_reason_recorded():
    backend = Scripted(["Biscuit wears a blue shirt and loves tennis balls.",
                        "I see a dog with a red scarf. This is Biscuit. Biscuit loves tennis balls."])
    answer = compose_entity_answer(backend, REQUEST, None, SynthConfig(), seed=3)
    assert answer.text.startswith("I see a dog with a red scarf") and answer.attempts == 2
    assert not answer.fallback
    assert answer.meta()["rejected"] == [
        "try 1: invents a colour not in the facts or caption (blue); "
        "invents clothing not in the facts or caption (shirt)"]


def test_an_answer_that_keeps_inventing_falls_back_to_the_template_with_its_reasons():
    backend = Scripted(["Biscuit loves tennis balls and plays soccer in the park."] * 3)
    answer = compose_entity_answer(backend, REQUEST, None, SynthConfig(), seed=3)
    assert answer.fallback and answer.source == "template"
    assert invented_claims(answer.text, REQUEST) == []
    assert len(answer.meta()["rejected"]) == 3 and all("soccer" in r for r in answer.meta()["rejected"])


def test_copying_the_worked_example_is_rejected():
    backend = Scripted(["This is Biscuit. Biscuit loves tennis balls and the piano."] * 3)
    answer = compose_entity_answer(backend, REQUEST, None, SynthConfig(), seed=3)
    assert answer.fallback and "uses a fact of Mochi" in answer.problems[0]
