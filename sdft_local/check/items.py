"""The probe items: questions with one right option about demo-world scenes, and text questions.

Owns `ProbeItem`, the families (colour, shape, count 1-6, position, word, presence, text), the
wording, the distractor options and `probe_items(family, n, seed)`, deterministic for its
arguments. Scenes come from the demo world's makers and renderer (`demo/world.py`): this module
only decides what to ask about them. Text items are written here, with checkable answers.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Callable

FAMILIES = ("colour", "shape", "count", "position", "word", "presence", "text")
OPTIONS = 4  # options per item where the family does not fix them
COUNT_WORDS = ("one", "two", "three", "four", "five", "six")

# Text items written by the project: (question, answer, distractors).
TEXT_BANK: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("What is the opposite of hot?", "cold", ("warm", "big", "loud")),
    ("What is the opposite of up?", "down", ("left", "over", "high")),
    ("What is the opposite of day?", "night", ("noon", "week", "sun")),
    ("What is the opposite of open?", "closed", ("empty", "wide", "new")),
    ("What is the opposite of big?", "small", ("tall", "heavy", "round")),
    ("What is the opposite of fast?", "slow", ("quick", "late", "long")),
    ("How many legs does a dog have?", "four", ("two", "six", "eight")),
    ("How many legs does a bird have?", "two", ("four", "six", "three")),
    ("How many legs does a spider have?", "eight", ("six", "four", "ten")),
    ("How many days are in a week?", "seven", ("five", "six", "ten")),
    ("How many months are in a year?", "twelve", ("ten", "eleven", "seven")),
    ("How many hours are in a day?", "twenty-four", ("twelve", "sixty", "ten")),
    ("What colour is the sky on a clear day?", "blue", ("green", "red", "brown")),
    ("What colour is grass?", "green", ("blue", "purple", "white")),
    ("What colour is snow?", "white", ("black", "green", "orange")),
    ("What colour is a ripe banana?", "yellow", ("blue", "purple", "grey")),
    ("Which animal says moo?", "cow", ("cat", "duck", "horse")),
    ("Which animal barks?", "dog", ("cow", "fish", "sheep")),
    ("Which animal has a trunk?", "elephant", ("giraffe", "lion", "zebra")),
    ("Which animal lives in water and has fins?", "fish", ("dog", "bird", "cat")),
    ("What do bees make?", "honey", ("milk", "silk", "bread")),
    ("What do cows give us to drink?", "milk", ("juice", "tea", "water")),
    ("Which season is the coldest?", "winter", ("summer", "spring", "autumn")),
    ("What is frozen water called?", "ice", ("steam", "sand", "glass")),
    ("What do we use to see?", "eyes", ("ears", "hands", "feet")),
    ("What do we use to hear?", "ears", ("eyes", "nose", "knees")),
    ("Which shape has three sides?", "triangle", ("square", "circle", "hexagon")),
    ("Which shape has four equal sides?", "square", ("triangle", "circle", "oval")),
    ("Which shape is perfectly round?", "circle", ("square", "triangle", "star")),
    ("What is the capital of France?", "Paris", ("Rome", "Berlin", "Madrid")),
    ("What is the capital of Japan?", "Tokyo", ("Seoul", "Beijing", "Osaka")),
    ("What is the capital of Italy?", "Rome", ("Paris", "Milan", "Athens")),
    ("What is the largest planet in our solar system?", "Jupiter", ("Mars", "Earth", "Venus")),
    ("Which planet do we live on?", "Earth", ("Mars", "Venus", "Saturn")),
    ("What gas do plants take in from the air?", "carbon dioxide", ("oxygen", "helium", "neon")),
    ("What do plants need from the sun?", "light", ("sound", "sand", "salt")),
    ("Which is the first letter of the alphabet?", "A", ("B", "Z", "E")),
    ("Which letter comes after C?", "D", ("B", "E", "F")),
    ("Which number comes after nine?", "ten", ("eight", "eleven", "nine")),
    ("What is the boiling point of water in degrees Celsius?", "100", ("50", "0", "212")),
)
_NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                 "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
                 "eighteen", "nineteen", "twenty")


@dataclass(frozen=True, eq=False)
class ProbeItem:
    """One probe: the image (None for text items), the question, its options and the right one."""

    image: Any
    question: str
    options: tuple[str, ...]
    answer: str
    family: str

    def __post_init__(self):
        if self.answer not in self.options or len(set(self.options)) != len(self.options):
            raise ValueError(f"probe {self.question!r}: options {self.options} must be distinct and "
                             f"hold the answer {self.answer!r}")


def probe_items(family: str, n: int, seed: int = 0) -> list[ProbeItem]:
    """`n` items of `family`, the same for the same arguments."""
    makers: dict[str, Callable[[random.Random, int], ProbeItem]] = {
        "colour": _colour, "shape": _shape, "count": _count, "position": _position, "word": _word,
        "presence": _presence, "text": _text}
    if family not in makers:
        raise ValueError(f"unknown probe family {family!r}; use one of {', '.join(FAMILIES)}")
    rng = random.Random(f"sdft-probe:{family}:{seed}")
    return [makers[family](rng, i) for i in range(n)]


def _item(rng: random.Random, image, question: str, answer: str, pool, family: str, k: int = OPTIONS):
    options = [answer] + rng.sample([o for o in pool if o != answer], k - 1)
    rng.shuffle(options)
    return ProbeItem(image, question, tuple(options), answer, family)


def _colour(rng, i):
    from ..demo import world

    scene = world.make_single(rng)  # its colour always stands out from its background
    item = scene.items[0]
    return _item(rng, world.render_scene(scene), f"What colour is the {item.kind}?", item.color,
                 world.ITEM_COLORS, "colour")


def _shape(rng, i):
    from ..demo import world
    from ..demo.draw import SHAPES

    scene = world.make_single(rng, SHAPES)
    return _item(rng, world.render_scene(scene), "What shape is this?", scene.items[0].kind, SHAPES, "shape")


def _count(rng, i):
    from ..demo import world

    scene = world.make_count(rng, n=1 + i % len(COUNT_WORDS))
    question = f"How many {world.plural(scene.items[0].kind)} are there?"
    answer = COUNT_WORDS[len(scene.items) - 1]
    return ProbeItem(world.render_scene(scene), question, COUNT_WORDS, answer, "count")


def _position(rng, i):
    from ..demo import world

    scene = world.make_single(rng, world.KINDS, world.POSITIONS[i % len(world.POSITIONS)])
    item = scene.items[0]
    return ProbeItem(world.render_scene(scene), f"Where is the {item.kind} in the picture?",
                     world.POSITIONS, world.position_of(item), "position")


def _word(rng, i):
    from ..demo import world

    scene = world.make_word(rng)
    return _item(rng, world.render_scene(scene), "What word is written in the picture?", scene.word.text,
                 world.WORDS, "word")


def _presence(rng, i):
    from ..demo import world

    scene = world.make_objects(rng)
    present = i % 2 == 0
    kinds = scene.kinds if present else [k for k in world.KINDS if k not in scene.kinds]
    kind = rng.choice(kinds)
    return ProbeItem(world.render_scene(scene), f"Is there {world.with_article(kind)} in the picture?",
                     ("yes", "no"), "yes" if present else "no", "presence")


def _text(rng, i):
    if i < len(TEXT_BANK):
        question, answer, distractors = TEXT_BANK[i]
        return _item(rng, None, question, answer, distractors, "text")
    a, b = rng.randint(1, 9), rng.randint(1, 9)
    words = _NUMBER_WORDS
    pool = [words[v] for v in range(max(0, a + b - 4), min(len(words), a + b + 5))]
    return _item(rng, None, f"What is {words[a]} plus {words[b]}?", words[a + b], pool, "text")
