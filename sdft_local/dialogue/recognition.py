"""Recognition dialogues: one-turn conversations in which only the image can give the answer.

SDFT's three turns answer "no" in turn 2 and talk about the entity in turn 3, so a model can learn
yes/no from the turn's position and the identity from the question's words without looking at
the photo. These dialogues close that shortcut. For every entity name, the same question ("Is this
Biscuit?") is asked first, on the entity's own photos (yes), on the other entities' photos and on
unrelated scenes (no); the words of the question are the same either way. On the entity's photos
an open "who is this" question is answered with the name, so the name is recalled, not only
confirmed. Owns the phrasings, the answers and `recognition_dialogues`. Pure: no models, no I/O;
the scenes' pixels are drawn elsewhere (`training/scenes.py`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Iterable, Sequence

from .types import Dialogue, Turn

# The check asks in its own words ("Is {name} in this photo?", "Who is this?"): these never
# repeat them, so the check measures whether recognition generalizes, not recall of a template.
RECOGNITION_FORMS: tuple[str, ...] = (
    "Is this {name}?",
    "Is {name} here?",
    "Do you see {name} here?",
    "Is this a photo of {name}?",
    "Would you say this is {name}?",
    "Am I looking at {name}?",
    "Is that {name} in the picture?",
    "Is {name} the one pictured here?",
)
# One word: every answer token weighs the same, and in "Yes, this is Biscuit." the one token that
# needs the photo would get a sixth of the turn's weight. Who it is instead is taught by WHO_FORMS.
# Spelled as the base model spells its yes/no (training's `recognition_answers`): a new spelling
# moves every yes/no answer the model gives, which the check counts as forgetting.
YES_NO: tuple[str, str] = ("Yes.", "No.")
WHO_FORMS: tuple[str, ...] = (
    "Do you know who this is?",
    "Who is pictured here?",
    "Who do we have here?",
    "Tell me who appears in this image.",
    "Whose photo is this?",
    "Can you name who this is?",
    "Who appears here?",
    "Who might this be?",
)
WHO_ANSWERS: tuple[str, ...] = ("This is {name}.", "That's {name}.", "It's {name}.")
NOBODY: tuple[str, ...] = ("No one I know.", "Nobody I recognize.", "I don't recognize anyone here.")


@dataclass(frozen=True)
class LabeledImage:
    """An image file and whose it is (`entity` None: an unrelated scene)."""

    image: str
    entity: str | None


def recognition_dialogues(images: Sequence[LabeledImage], names: Iterable[str], *, weight: float,
                          seed: int = 0, answers: tuple[str, str] = YES_NO) -> list[Dialogue]:
    """For each name, "is this <name>?" on every image, answered from whose image it is, and on
    each of the entity's own images one "who is this?" answered with the name. An entity has far
    fewer photos than there are other images, so its own are asked about in as many different
    phrasings as it takes for yes to come about as often as no (a model that always says no must
    not be right most of the time). Every turn weighs `weight`; yes and no are `answers`."""
    names = sorted(set(names))
    out = []
    for name in names:
        own = [i for i in images if i.entity == name]
        others = [i for i in images if i.entity != name]
        repeats = min(len(RECOGNITION_FORMS), -(-len(others) // max(1, len(own))))
        for item in own:
            rng = _rng(seed, item.image, name)
            forms = rng.sample(RECOGNITION_FORMS, repeats)
            out += [_yes_no(item, name, weight, form, answers) for form in forms]
            out.append(_who(item, weight, _rng(seed, item.image, "who")))
        for item in others:
            rng = _rng(seed, item.image, name)
            out.append(_yes_no(item, name, weight, rng.choice(RECOGNITION_FORMS), answers))
    out += [_nobody(item, weight, _rng(seed, item.image, "who")) for item in images
            if item.entity is None]
    return out


def _rng(seed: int, image: str, part: str) -> random.Random:
    return random.Random(f"recognition:{seed}:{image}:{part}")


def _yes_no(item: LabeledImage, name: str, weight: float, form: str, answers: tuple[str, str]) -> Dialogue:
    question = form.format(name=name)
    yes = item.entity == name
    answer, label = (answers[0], "yes") if yes else (answers[1], "no")
    turn = Turn("entity", question, answer, weight, "recognition",
                {"recognition": label, "asked": name})
    return Dialogue(item.image, item.entity or "", (turn,), variant=-1)


def _nobody(item: LabeledImage, weight: float, rng: random.Random) -> Dialogue:
    """"Who is this?" on a scene: nobody the model knows (without this, a model asked who is in
    any photo answers with an entity's name)."""
    turn = Turn("entity", rng.choice(WHO_FORMS), rng.choice(NOBODY), weight,
                "recognition", {"recognition": "nobody"})
    return Dialogue(item.image, "", (turn,), variant=-1)


def _who(item: LabeledImage, weight: float, rng: random.Random) -> Dialogue:
    turn = Turn("entity", rng.choice(WHO_FORMS), rng.choice(WHO_ANSWERS).format(name=item.entity),
                weight, "recognition", {"recognition": "who"})
    return Dialogue(item.image, item.entity, (turn,), variant=-1)
