"""Turn-3 answers: the request a synthesis model gets, the template answer, and validation.

Owns `EntityRequest` (everything a writer of turn 3 may use: the question, the entity, its facts,
the base model's caption), `template_answer` (the deterministic answer: visible cues -> who this
is -> the fact asked), `clean_answer` (reasoning tags and chat-template debris removed) and
`check_answer` (names the entity, states the fact asked, contradicts no given fact, stays within
length bounds). Pure; the models that write answers live in `sdft_local.synth`.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from .concepts import KIND_CATEGORIES

_YES_NO_STARTS = ("is ", "can ", "do ", "does ", "are ", "would ", "am ")
_THINK_BLOCK = re.compile(
    r"<(think|thinking|thought|reasoning|reflection)>.*?</\1>|"
    r"<\|begin_of_thought\|>.*?<\|end_of_thought\|>", re.S | re.I)
_THINK_OPEN = re.compile(r"<(think|thinking|thought|reasoning|reflection)>|<\|begin_of_thought\|>", re.I)
_SPECIAL = re.compile(r"<\|[^|>]{1,40}\|>|</?s>|\[/?INST\]")
_LEAD = re.compile(r"^\s*(answer|assistant|response|a)\s*:\s*", re.I)
_STOP = {"a", "an", "the", "and", "or", "of", "to", "in", "on", "at", "is", "are", "was", "has",
         "have", "with", "for", "by", "it", "its", "his", "her", "their", "my", "very", "really"}
_NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve".split())}


@dataclass(frozen=True)
class EntityRequest:
    """What turn 3 is about. `caption` is the base model's turn-1 answer ("" if unusable)."""

    name: str
    kind: str
    facts: tuple[str, ...]
    question: str
    fact: str | None = None
    caption: str = ""
    others: tuple[str, ...] = ()  # other entities' names: an answer naming one is confused
    other_facts: tuple[tuple[str, str], ...] = ()  # (name, fact) of other entities: never borrowed

    @property
    def is_yes_no(self) -> bool:
        return self.question.lower().startswith(_YES_NO_STARTS)


@dataclass(frozen=True)
class AnswerBounds:
    min_chars: int = 12
    max_chars: int = 700
    min_words: int = 3


@dataclass(frozen=True)
class AnswerCheck:
    text: str
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


# --- the template answer -------------------------------------------------------------------------

_CUES = (
    "I can see {a_kind} in this photo.",
    "The photo shows {a_kind}.",
    "There is {a_kind} here.",
    "Looking at this picture, I see {a_kind}.",
)
_WHO = (
    "This is {name}.",
    "That {kind} is {name}.",
    "I recognize {name}.",
    "It's {name}, {a_kind} I know.",
)


def template_answer(request: EntityRequest, rng: random.Random) -> str:
    """A deterministic (given `rng`) answer in three steps: visible cue, identity, the fact."""
    values = {"name": request.name, "kind": request.kind.lower(), "a_kind": a_kind(request.kind)}
    parts = ["Yes." if request.is_yes_no else "",
             rng.choice(_CUES).format(**values), rng.choice(_WHO).format(**values)]
    if request.fact:
        parts.append(fact_sentence(request.name, request.fact))
    return " ".join(p for p in parts if p)


def a_kind(kind: str) -> str:
    kind = kind.strip().lower()
    return f"{'an' if kind[:1] in 'aeiou' else 'a'} {kind}"


_VERB_STARTS = {"is", "was", "has", "had", "can", "will", "does", "did", "always", "never",
                "often", "usually", "sometimes", "really", "still", "once", "used"}
_PRONOUNS = {"he", "she", "it", "they", "his", "her", "its", "their", "i", "my", "we", "our"}


def fact_sentence(name: str, fact: str) -> str:
    """A user's fact as a sentence about `name` ('loves tennis balls' -> 'Biscuit loves ...')."""
    fact = fact.strip().rstrip(".!")
    words = fact.split()
    first = words[0].lower() if words else ""
    lowered = first + fact[len(first):] if not words[0].isupper() else fact
    if first == "my":  # the user's "my grandmother" is "your grandmother" to the assistant
        sentence = f"{name} is your {fact[3:]}"
    elif name.lower() in fact.lower() or first in _PRONOUNS or _is_clause(words):
        sentence = fact
    elif first in _VERB_STARTS or (first.endswith("s") and first.isalpha() and len(first) > 3):
        sentence = f"{name} {lowered}"
    elif first == "born":
        sentence = f"{name} was {lowered}"
    else:
        sentence = f"{name} is {lowered}"
    return sentence[0].upper() + sentence[1:] + "."


def _is_clause(words: list[str]) -> bool:
    """'Lisbon is her home town': already a sentence with its own verb."""
    return len(words) >= 3 and any(w.lower() in {"is", "was", "are", "has"} for w in words[1:3])


# --- cleaning and validation -----------------------------------------------------------------------


def clean_answer(text: str) -> str:
    """Strip reasoning blocks, chat-template tokens, an 'Answer:' label, wrapping quotes and a
    sentence cut off by the token budget.

    An unclosed reasoning tag means the model never got to the answer: everything is dropped.
    """
    text = _THINK_BLOCK.sub(" ", text)
    opened = _THINK_OPEN.search(text)
    if opened:
        text = text[: opened.start()]
    text = re.sub(r"</(think|thinking|thought|reasoning|reflection)>", " ", text, flags=re.I)
    text = _SPECIAL.sub(" ", text)
    text = _LEAD.sub("", text.strip())
    text = " ".join(text.split())
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'“”":
        text = text[1:-1].strip()
    return trim_unfinished(text)


def trim_unfinished(text: str) -> str:
    """Cut a last sentence the token budget broke off ('... Biscuit is a'), if others remain."""
    if not text or text[-1] in ".!?)\"'”":
        return text
    end = max(text.rfind(". "), text.rfind("! "), text.rfind("? "))
    return text[: end + 1] if end > 0 else text


def check_answer(raw: str, request: EntityRequest, bounds: AnswerBounds = AnswerBounds()) -> AnswerCheck:
    """Clean `raw` and list everything wrong with it as a turn-3 answer (empty: usable)."""
    text = clean_answer(raw)
    problems = [p for p in (
        _length_problem(text, bounds),
        _name_problem(text, request),
        _fact_missing(text, request),
        _contradiction(text, request),
        _kind_problem(text, request),
        _repetition(text),
    ) if p]
    return AnswerCheck(text, tuple(problems))


def _repetition(text: str) -> str | None:
    sentences = [" ".join(content_words(x)) for x in re.split(r"(?<=[.!?])\s+", text)]
    sentences = [x for x in sentences if x]
    if len(sentences) != len(set(sentences)):
        return "repeats a sentence"
    return None


def _length_problem(text: str, bounds: AnswerBounds) -> str | None:
    if len(text) < bounds.min_chars or len(text.split()) < bounds.min_words:
        return f"too short ({len(text)} characters)"
    if len(text) > bounds.max_chars:
        return f"too long ({len(text)} characters, limit {bounds.max_chars})"
    return None


def mentions(text: str, name: str) -> bool:
    """`name` as a word, with its capitals ('a biscuit' does not name Biscuit)."""
    return re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text) is not None


def _name_problem(text: str, request: EntityRequest) -> str | None:
    if not mentions(text, request.name):
        return f"does not name {request.name}"
    confused = [o for o in request.others if mentions(text, o)]
    if confused:
        return f"names another entity ({confused[0]})"
    if re.search(rf"\b(not|isn't|isnt|never|no)\s+{re.escape(request.name)}\b", text):
        return f"denies that this is {request.name}"
    return None


def content_words(text: str) -> set[str]:
    words = re.findall(r"[a-z0-9]+", text.lower())
    return {_stem(w) for w in words if w not in _STOP and (len(w) > 2 or w.isdigit())}


def _stem(word: str) -> str:
    """A crude stem that maps love/loves/loved/loving and ball/balls together."""
    word = str(_NUMBER_WORDS.get(word, word))
    for suffix in ("ing", "ed", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            word = word[: -len(suffix)]
            break
    return word[:-1] if len(word) > 3 and word.endswith("e") else word


def _fact_missing(text: str, request: EntityRequest) -> str | None:
    if not request.fact:
        return None
    wanted = content_words(request.fact) - content_words(request.name)  # the name is checked on its own
    found = wanted & content_words(text)
    if wanted and len(found) * 2 < len(wanted):
        return f"does not state the fact asked ({request.fact!r})"
    return None


_QUANTITY = re.compile(r"\b(\d+|" + "|".join(_NUMBER_WORDS) + r")\s*(years?|months?|weeks?|kg|kilos?|"
                       r"pounds?|lbs?|cm|centimet(?:er|re)s?|inches|meters?|metres?)\b", re.I)
_NEGATORS = r"(not|never|n't|no longer|doesn't|does not|isn't|hates|dislikes)"


def _contradiction(text: str, request: EntityRequest) -> str | None:
    for fact in request.facts:
        problem = quantity_clash(text, fact) or negation_of(text, fact)
        if problem:
            return problem
    return None


def quantity_clash(text: str, fact: str) -> str | None:
    given = {_unit(u): _num(n) for n, u in _QUANTITY.findall(fact)}
    for number, unit in _QUANTITY.findall(text):
        if _unit(unit) in given and given[_unit(unit)] != _num(number):
            return f"says {number} {unit} where the facts say {given[_unit(unit)]} {unit}"
    return None


def _unit(unit: str) -> str:
    return _stem(unit.lower())


def _num(value: str) -> str:
    return str(_NUMBER_WORDS.get(value.lower(), value))


def negation_of(text: str, fact: str) -> str | None:
    """A negation within three words before a content word of the fact ("does not love tennis"),
    as a message naming it; None when there is none."""
    key = content_words(fact)
    for match in re.finditer(_NEGATORS + r"((?:\W+\w+){1,3})", text, re.I):
        if content_words(match.group(2)) & key and not content_words(match.group(1)) & key:
            return f"contradicts the fact {fact!r} ({match.group(0).strip()!r})"
    return None


_KIND_GROUPS = (
    {"dog", "puppy", "pup", "doggy", "pooch", "hound", "retriever", "labrador", "poodle", "terrier",
     "beagle", "bulldog", "spaniel", "shepherd", "husky", "corgi", "dachshund", "collie", "pug",
     "chihuahua", "greyhound", "schnauzer"},
    {"cat", "kitten", "kitty", "tabby", "siamese"},
    {"rabbit", "bunny"}, {"horse", "pony"}, {"turtle", "tortoise"},
)


def _kind_problem(text: str, request: EntityRequest) -> str | None:
    """'Biscuit is a cat' (or 'the dog here is a cat', 'a dog named Biscuit, a cat') about a
    dog: a stated kind that cannot be the entity's kind."""
    pattern = r"(?:\bis|,)\s+(?:a|an)\s+(\w+)(?:\s+(\w+))?"
    own = set(re.findall(r"[a-z]+", request.kind.lower()))
    for pair in re.findall(pattern, text, re.I):
        nouns = [w.lower() for w in pair if w.lower() in KIND_CATEGORIES]
        if nouns and not any(n in own or _compatible(n, own) for n in nouns):
            return f"calls {request.name} a {nouns[0]}, not a {request.kind}"
    return None


def _compatible(noun: str, own: set[str]) -> bool:
    for group in _KIND_GROUPS:
        if noun in group:
            return bool(group & own)
    category = KIND_CATEGORIES[noun]
    own_categories = {KIND_CATEGORIES.get(w) for w in own}
    return category in own_categories and category != "pet"


def usable_caption(caption: str) -> str:
    """The caption if it reads as text (a random test model's output does not), else ""."""
    text = clean_answer(caption)
    words = re.findall(r"[A-Za-z]+", text)
    if len(words) < 3 or len(text) > 600:
        return ""
    common = sum(w.lower() in _COMMON for w in words)
    return text if common / len(words) >= 0.2 else ""


_COMMON = set(
    "a an the is are was were this that there these those of in on at with and or to from by "
    "it its his her their he she they i you we photo image picture shows showing see can "
    "some two one three near next behind front sitting standing lying looking holding wearing "
    "on into under over small large big white black brown red blue green yellow grey gray "
    "dog cat person man woman child table grass floor wall background room outside".split())
