"""Turn-3 answers: template composition, cleaning, and every validation rule."""

import random

import pytest

from sdft_local.dialogue.answers import (
    EntityRequest, check_answer, clean_answer, fact_sentence, template_answer, usable_caption,
)

FACTS = ("4 years old", "loves tennis balls")


def request(question="How old is Biscuit?", fact="4 years old", others=("Max",)):
    return EntityRequest("Biscuit", "dog", FACTS, question, fact, "A dog on grass.", others)


def test_template_answer_goes_from_cue_to_name_to_fact():
    text = template_answer(request(), random.Random(0))
    assert "dog" in text and "Biscuit is 4 years old." in text
    assert text.index("dog") < text.index("Biscuit")
    assert check_answer(text, request()).ok
    assert template_answer(request(), random.Random(0)) == text
    yes = template_answer(request("Is this Biscuit?", None), random.Random(0))
    assert yes.startswith("Yes.") and check_answer(yes, request("Is this Biscuit?", None)).ok


@pytest.mark.parametrize("fact,sentence", [
    ("4 years old", "Biscuit is 4 years old."), ("Loves tennis balls", "Biscuit loves tennis balls."),
    ("born in 2019", "Biscuit was born in 2019."), ("my grandmother's dog", "Biscuit is your grandmother's dog."),
    ("She sleeps a lot.", "She sleeps a lot."), ("Lisbon is his home town", "Lisbon is his home town."),
])
def test_fact_sentence(fact, sentence):
    assert fact_sentence("Biscuit", fact) == sentence


@pytest.mark.parametrize("raw,clean", [
    ("<think>the user wants</think>Biscuit is four.", "Biscuit is four."),
    ("<reasoning>x</reasoning> <|im_end|>Biscuit!", "Biscuit!"),
    ("Answer: \"Biscuit is 4 years old.\"", "Biscuit is 4 years old."),
    ("<think>never closed, Biscuit is 4", ""),
    ("<|begin_of_thought|>hm<|end_of_thought|>Yes, Biscuit.", "Yes, Biscuit."),
])
def test_clean_answer(raw, clean):
    assert clean_answer(raw) == clean


@pytest.mark.parametrize("raw,problem", [
    ("The dog is 4 years old and loves balls.", "does not name Biscuit"),
    ("Biscuit is five years old.", "says five years"),
    ("Biscuit is 6 years old.", "says 6 years"),
    ("Biscuit does not love tennis balls; he is 4 years old.", "contradicts the fact"),
    ("This is Max, 4 years old, sitting next to Biscuit.", "names another entity (Max)"),
    ("This is not Biscuit, it is 4 years old.", "denies that this is Biscuit"),
    ("Biscuit is a cat, 4 years old.", "calls Biscuit a cat"),
    ("Biscuit.", "too short"),
    ("Biscuit is a lovely dog. " * 40, "too long"),
    ("This is Biscuit, a happy dog on the grass.", "does not state the fact asked"),
    ("<think>Biscuit is 4 years old</think>", "too short"),
])
def test_check_answer_rejects(raw, problem):
    check = check_answer(raw, request())
    assert not check.ok
    assert any(problem in p for p in check.problems), check.problems


@pytest.mark.parametrize("raw", [
    "I see a brown dog on the grass. This is Biscuit, and Biscuit is 4 years old.",
    "That's Biscuit! He is four years old.",
    "<think>the facts say 4</think>This is Biscuit, a golden retriever puppy who is 4 years old.",
])
def test_check_answer_accepts(raw):
    assert check_answer(raw, request()).ok, check_answer(raw, request()).problems


def test_own_negative_facts_are_not_contradictions():
    req = EntityRequest("Biscuit", "dog", ("hates baths", "is not allowed on the sofa"),
                        "What does Biscuit dislike?", "hates baths")
    assert check_answer("Biscuit hates baths and is not allowed on the sofa.", req).ok


def test_usable_caption_rejects_random_model_output():
    assert usable_caption("A brown dog lying on green grass.") == "A brown dog lying on green grass."
    assert usable_caption("ionsqu zzerat plinthwor ghosk") == ""
    assert usable_caption("ok") == ""


def test_repeated_sentences_and_misnamed_kinds_are_rejected():
    req = request("What does Biscuit love?", "loves tennis balls")
    assert "repeats a sentence" in check_answer(
        "Biscuit loves tennis balls. Biscuit is a dog. Biscuit is a dog.", req).problems
    for text in ("The dog in this picture is a cat. Biscuit loves tennis balls.",
                 "I can see a dog named Biscuit, a cat. Biscuit loves tennis balls."):
        assert any("calls Biscuit a cat" in p for p in check_answer(text, req).problems)
    assert check_answer("I can see a dog named Biscuit, a dog who loves tennis balls.", req).ok
    assert not check_answer("That's a biscuit, and it loves tennis balls.", req).ok


def test_a_sentence_cut_off_by_the_token_budget_is_dropped():
    assert clean_answer("This is Biscuit. Biscuit loves tennis balls. He is a") == \
        "This is Biscuit. Biscuit loves tennis balls."
    assert clean_answer("Biscuit loves tennis") == "Biscuit loves tennis"
