"""Questions about demo-world scenes and text-only facts, with checkable answers, and the probe sets.

Owns the question families and their wording: the short *probe* form of each family (a question
whose whole expected answer is one of `options`: bare lowercase words, the upper-case written
word, count words "one".."six", "yes" / "no"; the check's general suite is built from these), the long sentence forms the demo model also learns (other wordings, so the
two never conflict), the yes/no presence questions (kinds present or absent, and unrelated
concepts from the SDFT concept bank, always absent), `TEXT_FACTS`, and `probe_items` /
`probe_specs`, the seeded probe sets the check stage scores by option log-probability.
`PROBE_VERSION` changes whenever an item could come out differently. It does not draw (see
`scene.py`) or score.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any

from .draw import KINDS, OBJECTS, SHAPES
from .scene import (DEFAULT_SIZE, ITEM_COLORS, NUMBER_WORDS, POSITIONS, WORDS, WORLD_VERSION, Scene,
                    caption, make_count, make_objects, make_single, make_word, plural, position_of,
                    render_scene, with_article)

PROBE_FAMILIES = ("colour", "shape", "count", "position", "word", "presence", "text")
IMAGE_FAMILIES = PROBE_FAMILIES[:-1]
TEXT_FAMILY = "text"
PROBE_VERSION = f"world{WORLD_VERSION}-probes2"
COUNT_WORDS = NUMBER_WORDS[1:7]
YES, NO = "yes", "no"
# Cues a user may add; pretraining appends them now and then, the answer stays the bare word.
SHORT_CUES = ("Answer with one word.", "Answer in one word.", "Reply with a single word.")
NUMBER_NAMES = NUMBER_WORDS + ("eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
                               "eighteen", "nineteen", "twenty")


@dataclass(frozen=True, eq=False)
class ProbeItem:
    """One probe: the image (None for text), the question, its options, the right one, its family."""

    image: Any
    question: str
    options: tuple[str, ...]
    answer: str
    family: str
    scene: Scene | None = None

    def __post_init__(self):
        _check_options(self.question, self.options, self.answer)


@dataclass(frozen=True)
class ProbeSpec:
    """A probe before rendering: the scene (None for text) instead of the image."""

    scene: Scene | None
    question: str
    options: tuple[str, ...]
    answer: str
    family: str

    def render(self, size: int = DEFAULT_SIZE) -> ProbeItem:
        image = None if self.scene is None else render_scene(self.scene, size)
        return ProbeItem(image, self.question, self.options, self.answer, self.family, self.scene)


def _check_options(question: str, options: tuple[str, ...], answer: str) -> None:
    if answer not in options or len(set(options)) != len(options) or not 2 <= len(options) <= 6:
        raise ValueError(f"probe {question!r}: options {options} must be 2-6 distinct strings holding "
                         f"the answer {answer!r}")


def _options(answer: str, pool, rng: random.Random, k: int = 4) -> tuple[str, ...]:
    others = [p for p in dict.fromkeys(pool) if p != answer]
    chosen = rng.sample(others, min(k - 1, len(others))) + [answer]
    rng.shuffle(chosen)
    return tuple(chosen)


# ---- probe (short) forms: (question, answer, options) about a scene -----------------------------

def colour_probe(scene: Scene, rng: random.Random):
    item = rng.choice(scene.items)
    many = sum(i.kind == item.kind for i in scene.items) > 1
    noun, verb = (plural(item.kind), "are") if many else (item.kind, "is")
    return f"What colour {verb} the {noun}?", item.color, _options(item.color, ITEM_COLORS, rng)


def shape_probe(scene: Scene, rng: random.Random):
    kind = scene.items[0].kind
    return "What shape is this?", kind, _options(kind, SHAPES, rng)


def object_probe(scene: Scene, rng: random.Random):
    kind = scene.items[0].kind
    return "What object is this?", kind, _options(kind, OBJECTS, rng)


def count_probe(scene: Scene, rng: random.Random):
    kinds = scene.kinds
    noun = plural(kinds[0]) if len(kinds) == 1 else "objects"
    return f"How many {noun} are there?", COUNT_WORDS[len(scene.items) - 1], COUNT_WORDS


def position_probe(scene: Scene, rng: random.Random):
    item = scene.items[0]
    return f"Where is the {item.kind} in the picture?", position_of(item), POSITIONS


def word_probe(scene: Scene, rng: random.Random):
    text = scene.word.text
    return "What word is written in the picture?", text, _options(text, WORDS, rng)


def presence_probe(scene: Scene, rng: random.Random, present: bool):
    kind = rng.choice(scene.kinds) if present else rng.choice([k for k in KINDS if k not in scene.kinds])
    return f"Is there {with_article(kind)} in the picture?", YES if present else NO, (YES, NO)


# ---- long forms: (question, answer) sentences ---------------------------------------------------

_WHERE = {"left": "on the left", "right": "on the right", "top": "at the top", "bottom": "at the bottom",
          "center": "in the center"}


def colour_long(scene: Scene, rng: random.Random) -> tuple[str, str]:
    item = rng.choice(scene.items)
    many = sum(i.kind == item.kind for i in scene.items) > 1
    noun, verb = (plural(item.kind), "are") if many else (item.kind, "is")
    form = rng.choice(("What color {v} the {n} in this image?", "Can you tell me the colour of the {n}?"))
    return form.format(v=verb, n=noun), f"The {noun} {verb} {item.color}."


def thing_long(scene: Scene, rng: random.Random) -> tuple[str, str]:
    item = scene.items[0]
    q = rng.choice(("What is in this picture?", "What can you see here?"))
    return q, f"This is {with_article(item.color + ' ' + item.kind)}."


def count_long(scene: Scene, rng: random.Random) -> tuple[str, str]:
    kinds, n = scene.kinds, len(scene.items)
    noun = plural(kinds[0]) if len(kinds) == 1 else "objects"
    q = rng.choice(("How many {n} can you see?", "How many {n} are in this picture?")).format(n=noun)
    if n == 1:
        return q, f"There is one {kinds[0]}."
    return q, f"There are {NUMBER_WORDS[n]} {noun}."


def position_long(scene: Scene, rng: random.Random) -> tuple[str, str]:
    item = scene.items[0]
    q = rng.choice(("Where is the {k} in this image?", "Where can I find the {k}?")).format(k=item.kind)
    return q, f"The {item.kind} is {_WHERE[position_of(item)]}."


def word_long(scene: Scene, rng: random.Random) -> tuple[str, str]:
    q = rng.choice(("What does the text say?", "What is written here?", "Can you read the word in this image?"))
    return q, f'The text says "{scene.word.text}".'


# Concept names that are, or could be taken for, a world kind: never asked about as absent.
_WORLDLY = re.compile(r"\b(" + "|".join(KINDS) + r"|ball|basketball|puppy|kitten|sun\w*|rose|tulip|daisy|"
                      r"lily|orchid|bonsai|teacup|mug|coffee cup|house\w*|word|letter)\b")
# The turn-2 question forms of SDFT dialogues (dialogue/pools.py) plus the probe's own wording.
PRESENCE_FORMS = ("Is there {c} in this photo?", "Do you see {c} in this image?", "Can you spot {c} here?",
                  "Does this picture contain {c}?", "Is {c} visible in this photo?", "Is this a photo of {c}?",
                  "Does this image show {c}?", "Can you find {c} anywhere in this picture?")


def absent_concepts() -> tuple[str, ...]:
    """Concept-bank names (the SDFT turn-2 negatives) that no demo scene ever shows."""
    from ..dialogue.concepts import CONCEPTS

    return tuple(c.name for c in CONCEPTS if c.category not in ("pet", "plant") and not _WORLDLY.search(c.name))


def presence_long(scene: Scene, rng: random.Random, present: bool, concepts: tuple[str, ...] = ()):
    """A yes/no question in sentence form; absent names are world kinds or unrelated concepts."""
    if present:
        item = rng.choice(scene.items)
        name, shown = item.kind, with_article(f"{item.color} {item.kind}")
    else:
        absent = [k for k in KINDS if k not in scene.kinds]
        name = rng.choice(concepts) if concepts and rng.random() < 0.6 else rng.choice(absent)
    q = rng.choice(PRESENCE_FORMS).format(c=with_article(name))
    if present:
        return q, f"Yes, there is {shown} in this image."
    return q, rng.choice((f"No, there is no {name} in this image.", f"No, I don't see {with_article(name)} here."))


CAPTION_REQUESTS_EXTRA = ("Describe this image.", "What do you see?", "Describe the picture.")


def describe_pair(scene: Scene, rng: random.Random) -> tuple[str, str]:
    """A caption request (the SDFT turn-1 phrasings) and the scene's caption."""
    from ..dialogue.pools import CAPTION_REQUESTS

    return rng.choice(CAPTION_REQUESTS + CAPTION_REQUESTS_EXTRA), caption(scene)


def qa_pairs(scene: Scene, rng: random.Random, concepts: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """Every question the scene can answer, in probe and sentence form, once each (unordered).

    Presence comes as one yes and one no question, so a sample of the pairs stays balanced.
    """
    if scene.word is not None and not scene.items:
        return [short_pair(word_probe(scene, rng), rng), word_long(scene, rng)]
    pairs = [short_pair(colour_probe(scene, rng), rng), colour_long(scene, rng),
             short_pair(count_probe(scene, rng), rng), count_long(scene, rng)]
    for present in (True, False):
        pairs.append(short_pair(presence_probe(scene, rng, present), rng) if rng.random() < 0.5
                     else presence_long(scene, rng, present, concepts))
    if len(scene.items) == 1:
        kind = scene.items[0].kind
        naming = shape_probe if kind in SHAPES else object_probe
        pairs += [short_pair(naming(scene, rng), rng), thing_long(scene, rng)]
        if clear_position(scene.items[0]):
            pairs += [short_pair(position_probe(scene, rng), rng), position_long(scene, rng)]
    return pairs


# ---- anchors: questions a tuned model is kept to its base model's answers on ---------------------

# Worded unlike the probes (the check's questions), so keeping these answers is not recall of the
# check: the yes/no forms ask what the probes ask in other words, the rest are the sentence forms.
ANCHOR_PRESENCE_FORMS = ("Does this image have {c} in it?", "Is there {c} somewhere in this scene?",
                         "Would you find {c} in this picture?")
ANCHOR_WORD_FORMS = ("Which word appears in this image?", "Read the word shown here.")


def anchor_pairs(scene: Scene, rng: random.Random) -> list[tuple[str, str]]:
    """General questions about `scene` with their answers, none in a probe's words (unordered)."""
    words = [] if scene.word is None else [(rng.choice(ANCHOR_WORD_FORMS), scene.word.text),
                                           word_long(scene, rng)]
    if not scene.items:
        return words
    present = rng.choice(scene.kinds)
    absent = rng.choice([k for k in KINDS if k not in scene.kinds])
    pairs = [(rng.choice(ANCHOR_PRESENCE_FORMS).format(c=with_article(present)), YES),
             (rng.choice(ANCHOR_PRESENCE_FORMS).format(c=with_article(absent)), NO),
             colour_long(scene, rng), count_long(scene, rng)] + words
    if len(scene.items) == 1:
        pairs.append(thing_long(scene, rng))
        if clear_position(scene.items[0]):
            pairs.append(position_long(scene, rng))
    return pairs


def short_pair(probe: tuple, rng: random.Random, cue_share: float = 0.25) -> tuple[str, str]:
    """A probe-form pair, now and then with a short-answer cue appended (same bare answer)."""
    question, answer = probe[0], probe[1]
    if rng.random() < cue_share:
        question = f"{question} {rng.choice(SHORT_CUES)}"
    return question, answer


def clear_position(item) -> bool:
    """Whether the item sits plainly in one region (near the centre, or well toward one side)."""
    dx, dy = abs(item.x - 0.5), abs(item.y - 0.5)
    return max(dx, dy) < 0.08 or (max(dx, dy) >= 0.2 and min(dx, dy) <= 0.1)


# ---- text-only facts ----------------------------------------------------------------------------

@dataclass(frozen=True)
class TextFact:
    """A text question with a short answer (offered among `pool`) and a sentence form."""

    question: str
    answer: str
    pool: tuple[str, ...]
    long_question: str
    long_answer: str


THING_COLOURS = {
    "grass": "green", "snow": "white", "a banana": "yellow", "a strawberry": "red", "coal": "black",
    "chocolate": "brown", "a lemon": "yellow", "milk": "white", "a tomato": "red", "a carrot": "orange",
    "a pumpkin": "orange", "a frog": "green", "a cherry": "red", "an eggplant": "purple", "a flamingo": "pink",
    "a crow": "black", "a polar bear": "white", "an elephant": "grey", "the sea": "blue",
    "the sky on a clear day": "blue", "a ripe banana": "yellow",
}
OPPOSITES = (("hot", "cold"), ("big", "small"), ("up", "down"), ("day", "night"), ("fast", "slow"),
             ("happy", "sad"), ("open", "closed"), ("wet", "dry"), ("full", "empty"), ("hard", "soft"),
             ("loud", "quiet"), ("early", "late"), ("clean", "dirty"), ("thick", "thin"), ("old", "young"),
             ("push", "pull"), ("win", "lose"), ("first", "last"), ("rich", "poor"), ("buy", "sell"))
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")
# General knowledge, worded like the check's text items: (question, answer, distractors).
GENERAL = (
    ("How many legs does a dog have?", "four", ("two", "six", "eight")),
    ("How many legs does a bird have?", "two", ("four", "six", "three")),
    ("How many legs does a spider have?", "eight", ("six", "four", "ten")),
    ("How many days are in a week?", "seven", ("five", "six", "ten")),
    ("How many months are in a year?", "twelve", ("ten", "eleven", "seven")),
    ("How many hours are in a day?", "twenty-four", ("twelve", "sixty", "ten")),
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
_COLOUR_POOL = tuple(dict.fromkeys(ITEM_COLORS + tuple(THING_COLOURS.values())))
_OPPOSITE_POOL = tuple(w for pair in OPPOSITES for w in pair)


def _fact(question: str, answer: str, pool, long_question: str, long_answer: str) -> TextFact:
    return TextFact(question, answer, tuple(dict.fromkeys((answer,) + tuple(pool))), long_question, long_answer)


def _text_facts() -> tuple[TextFact, ...]:
    facts = [_fact(q, a, d, f"Please answer in a sentence: {q[0].lower() + q[1:]}", f"The answer is {a}.")
             for q, a, d in GENERAL]
    facts += [_fact(f"What colour is {t}?", c, _COLOUR_POOL, f"What color is {t}, usually?",
                    f"{t[0].upper() + t[1:]} is {c}.") for t, c in THING_COLOURS.items()]
    for a, b in OPPOSITES:
        for x, y in ((a, b), (b, a)):
            facts.append(_fact(f"What is the opposite of {x}?", y, _OPPOSITE_POOL,
                               f"Tell me the opposite of {x}.", f"The opposite of {x} is {y}."))
    for a in range(1, 6):  # sums up to ten: recalling facts, not learning arithmetic, is what is probed
        for b in range(1, 6):
            s = a + b
            near = NUMBER_NAMES[max(0, s - 4): s + 5]
            facts.append(_fact(f"What is {NUMBER_NAMES[a]} plus {NUMBER_NAMES[b]}?", NUMBER_NAMES[s], near,
                               f"What is {a} + {b}?", f"{a} + {b} = {s}."))
    for names, unit in ((DAYS, "day"), (MONTHS, "month")):
        for i, name in enumerate(names):
            nxt = names[(i + 1) % len(names)]
            facts.append(_fact(f"Which {unit} comes after {name}?", nxt, names,
                               f"What {unit} follows {name}?", f"{nxt} comes after {name}."))
    return tuple(facts)


TEXT_FACTS: tuple[TextFact, ...] = _text_facts()


def text_pairs() -> list[tuple[str, str]]:
    """Every text fact as a (question, answer) pair, in the probe wording."""
    return [(f.question, f.answer) for f in TEXT_FACTS]


# ---- probe sets ---------------------------------------------------------------------------------

def probe_specs(family: str, n: int, seed: int = 0) -> list[ProbeSpec]:
    """`n` unrendered probes of `family` (the scene stays inspectable), the same for the same arguments."""
    if family not in PROBE_FAMILIES:
        raise ValueError(f"unknown probe family {family!r}; use one of {', '.join(PROBE_FAMILIES)}")
    if n < 0:
        raise ValueError(f"probe count {n} must be >= 0")
    rng = random.Random(f"sdft-demo-probe:{PROBE_VERSION}:{family}:{seed}")
    if family == TEXT_FAMILY:
        return _text_specs(rng, n)
    return [_image_spec(family, rng, i) for i in range(n)]


def probe_items(family: str, n: int, seed: int = 0, size: int = DEFAULT_SIZE) -> list[ProbeItem]:
    """`n` probes of `family` with their images rendered (`size` px square)."""
    return [spec.render(size) for spec in probe_specs(family, n, seed)]


def _image_spec(family: str, rng: random.Random, i: int) -> ProbeSpec:
    if family == "colour":
        scene = make_single(rng) if i % 2 == 0 else make_objects(rng)
        q, a, opts = colour_probe(scene, rng)
    elif family == "shape":
        scene = make_single(rng, SHAPES)
        q, a, opts = shape_probe(scene, rng)
    elif family == "count":
        scene = make_count(rng, n=1 + i % 6)
        q, a, opts = count_probe(scene, rng)
    elif family == "position":
        scene = make_single(rng, KINDS, POSITIONS[i % len(POSITIONS)])
        q, a, opts = position_probe(scene, rng)
    elif family == "word":
        scene = make_word(rng)
        q, a, opts = word_probe(scene, rng)
    else:
        scene = make_objects(rng)
        q, a, opts = presence_probe(scene, rng, present=i % 2 == 0)
    return ProbeSpec(scene, q, tuple(opts), a, family)


def _text_specs(rng: random.Random, n: int) -> list[ProbeSpec]:
    order = list(range(len(TEXT_FACTS)))
    rng.shuffle(order)
    specs = []
    for i in range(n):
        fact = TEXT_FACTS[order[i % len(order)]]
        specs.append(ProbeSpec(None, fact.question, _options(fact.answer, fact.pool, rng), fact.answer, TEXT_FAMILY))
    return specs
