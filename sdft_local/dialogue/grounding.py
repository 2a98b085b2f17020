"""Grounding of turn-3 answers: every concrete claim must come from the facts or the caption.

Owns `invented_claims`, which lists what an answer states that its sources (the entity's name,
kind and facts, the base model's caption, the question) do not: a colour, a piece of clothing, an
activity, a place, a number, a proper name, or another entity's fact. Small local models write
fluent answers that add "wearing a blue shirt" or "loves to play soccer"; a dialogue that teaches
such a claim teaches the model something false about the user's pet. Pure and lexical: the lists
below are the claims small models invent, matched on crude stems (`answers.content_words`).
"""

from __future__ import annotations

import re

from .answers import AnswerBounds, AnswerCheck, EntityRequest, check_answer, content_words

def _stems(words: str) -> frozenset[str]:
    return frozenset(content_words(words))


COLOURS = _stems(
    "red orange yellow green blue purple violet pink brown black white grey gray golden gold silver "
    "beige tan cream navy teal turquoise maroon ginger")
CLOTHING = _stems(
    "shirt tshirt sweater jumper jacket coat hoodie scarf hat cap beanie collar bow tie bowtie "
    "bandana harness leash dress skirt shoe boot sock glasses sunglasses costume vest uniform glove "
    "necklace ribbon")
ACTIVITIES = _stems(
    "play playing soccer football basketball baseball tennis frisbee fetch swimming running jumping "
    "chasing hiking dancing singing hunting flying riding skating surfing climbing walking barking "
    "sleeping eating cooking reading painting")
PLACES = _stems(
    "park beach garden yard backyard kitchen bedroom sofa couch bed house home apartment flat forest "
    "wood mountain lake river sea ocean city town street farm school office car field box basket "
    "window")
NUMBERS = frozenset({str(n) for n in range(2, 100)})  # "one" reads as a pronoun as often as a number
CATEGORIES = (("a colour", COLOURS), ("clothing", CLOTHING), ("an activity", ACTIVITIES),
              ("a place", PLACES), ("a number", NUMBERS))
_WORDS_ANY_ANSWER_USES = _stems("photo picture image show see visible here this that who name called know "
                                "usually also like love live year old")


def check_grounded(raw: str, request: EntityRequest, bounds: AnswerBounds = AnswerBounds()) -> AnswerCheck:
    """`check_answer`'s problems, then every invented claim: an answer is usable when both are empty."""
    check = check_answer(raw, request, bounds)
    return AnswerCheck(check.text, (*check.problems, *invented_claims(check.text, request)))


def invented_claims(text: str, request: EntityRequest) -> list[str]:
    """Problems, one per kind of claim, for what `text` states that no source of `request` does.

    `request.other_facts` are (name, fact) pairs of the project's other entities: an answer that
    borrows one of their distinctive words is about the wrong entity.
    """
    sources = _sources(request)
    spelled = _spellings(text)
    words = set(spelled)
    problems = []
    for label, lexicon in CATEGORIES:
        invented = sorted({spelled[w] for w in words if w in lexicon and w not in sources})
        if invented:
            problems.append(f"invents {label} not in the facts or caption ({', '.join(invented)})")
    names = sorted({n for n in proper_names(text) if content_words(n) - sources})
    if names:
        problems.append(f"names something not in the facts ({', '.join(names)})")
    problems += _borrowed(words, sources, request.other_facts)
    return problems


def _spellings(text: str) -> dict[str, str]:
    """Each content stem of `text` -> the word as first written (messages quote the answer)."""
    out: dict[str, str] = {}
    for word in re.findall(r"[A-Za-z0-9]+", text):
        for stem in content_words(word):
            out.setdefault(stem, word.lower())
    return out


def _sources(request: EntityRequest) -> set[str]:
    given = " ".join((request.name, request.kind, request.question, request.caption, *request.facts))
    return content_words(given) | _WORDS_ANY_ANSWER_USES


def proper_names(text: str) -> list[str]:
    """Capitalized words that do not open a sentence ("lives in Paris", not "The dog")."""
    names = []
    for sentence in re.split(r"(?<=[.!?])\s+", text.strip()):
        words = re.findall(r"[A-Za-z][\w'-]*", sentence)
        names += [w for w in words[1:] if w[0].isupper() and len(w) > 2 and w[1:].islower()]
    return names


def _borrowed(words: set[str], sources: set[str], other_facts: tuple[tuple[str, str], ...]) -> list[str]:
    for name, fact in other_facts:
        own = content_words(fact) - sources
        if own & words:
            return [f"uses a fact of {name} ({fact!r})"]
    return []
