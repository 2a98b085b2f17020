"""Recognition dialogues: one-turn conversations in which only the image can give the answer.

SDFT's three turns answer "no" in turn 2 and talk about the entity in turn 3, so a model can learn
yes/no from the turn's position and the identity from the question's words without looking at
the photo. These dialogues close that shortcut. Every image is asked the same yes/no question
about every name in the same words ("Is this Biscuit?", "Is this Pixel?"): yes for its own entity,
no for the others and for unrelated scenes, so only the pairing of name and photo tells the
answer. The wordings include every turn-2 wording with the name in it: turn 2 answers those "no"
in every SDFT dialogue, and here they are answered "yes" as often. On the entity's photos an open
"who is this" question is answered with the name, so the name is recalled, not only confirmed.
Owns the phrasings, the answers and `recognition_dialogues`. Pure: no models, no I/O; the scenes'
pixels are drawn elsewhere (`training/scenes.py`).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Sequence

from .pools import HARD_NEGATIVE_FORMS, NEGATIVE_FORMS
from .types import MAX_WEIGHT, Dialogue, Turn

# The check asks in its own words ("Is {name} in this photo?", "Who is this?"): these never
# repeat them, so the check measures whether recognition generalizes, not recall of a template.
OWN_FORMS: tuple[str, ...] = (
    "Is this {name}?",
    "Is {name} here?",
    "Do you see {name} here?",
    "Is this a photo of {name}?",
    "Would you say this is {name}?",
    "Am I looking at {name}?",
    "Is that {name} in the picture?",
    "Is {name} the one pictured here?",
)
# Turn 2's wordings with the name in them: answered "no" in every SDFT dialogue, they would mean
# "no" whatever the photo shows (the check's wording is close to them) unless they also get yes.
TURN_TWO_FORMS: tuple[str, ...] = tuple(
    [f.replace("{other}", "{name}") for f in HARD_NEGATIVE_FORMS if "{kind}" not in f]
    + [f.replace("{concept}", "{name}") for f in NEGATIVE_FORMS])
RECOGNITION_FORMS: tuple[str, ...] = tuple(dict.fromkeys(OWN_FORMS + TURN_TWO_FORMS))
# One word: every answer token weighs the same, and in "Yes, this is Biscuit." the one token that
# needs the photo would get a sixth of the turn's weight. Who it is instead is taught by WHO_FORMS.
# Spelled as the base model spells its yes/no (training's `recognition_answers`): a new spelling
# moves every yes/no answer the model gives, which the check counts as forgetting.
YES_NO: tuple[str, str] = ("Yes.", "No.")
# Wordings per image and name: each is asked about every name, so more wordings mean more dialogues.
FORMS_PER_IMAGE = 2
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
                          seed: int = 0, answers: tuple[str, str] = YES_NO,
                          forms: int = FORMS_PER_IMAGE) -> list[Dialogue]:
    """For every image, "is this <name>?" about every name in the same `forms` wordings, answered
    from whose image it is, and "who is this?" in `forms` wordings, answered with the name on an
    entity's own images and with nobody on scenes. An entity has far fewer images than there are
    others, so its yes answers weigh more, as much as it takes for yes to count as much as no (a
    model that always says no must not be right most of the time); every other turn weighs
    `weight`. Yes and no are `answers`."""
    names = sorted(set(names))
    forms = max(1, min(forms, len(RECOGNITION_FORMS), len(WHO_FORMS)))
    own = Counter(i.entity for i in images)
    out = []
    for item in images:
        rng = _rng(seed, item.image, "forms")
        wordings = rng.sample(RECOGNITION_FORMS, forms)
        for name in names:
            w = _yes_weight(weight, own[name], len(images)) if item.entity == name else weight
            out += [_yes_no(item, name, w, form, answers) for form in wordings]
        if item.entity is None:
            out += [_nobody(item, weight, form, rng) for form in rng.sample(WHO_FORMS, forms)]
        elif item.entity in names:
            out += [_who(item, weight, form, rng) for form in rng.sample(WHO_FORMS, forms)]
    return out


def contrast_group(dialogue: Dialogue) -> str | None:
    """What a yes/no recognition dialogue shares with the same question about the other names on
    the same photo (None for any other dialogue): trained side by side, the answers that differ
    only by the name are learned from the photo, and no step pushes every answer one way."""
    if len(dialogue.turns) != 1 or "asked" not in (dialogue.turns[0].meta or {}):
        return None
    turn = dialogue.turns[0]
    return f"{dialogue.image}\n{turn.question.replace(turn.meta['asked'], '{name}')}"


def _yes_weight(weight: float, own: int, total: int) -> float:
    """The weight of an entity's yes answers that makes them count as much as its no answers
    (never below `weight`, never above the largest turn weight)."""
    return min(MAX_WEIGHT, weight * max(1.0, (total - own) / max(1, own)))


def _rng(seed: int, image: str, part: str) -> random.Random:
    return random.Random(f"recognition:{seed}:{image}:{part}")


def _yes_no(item: LabeledImage, name: str, weight: float, form: str, answers: tuple[str, str]) -> Dialogue:
    question = form.format(name=name)
    yes = item.entity == name
    answer, label = (answers[0], "yes") if yes else (answers[1], "no")
    turn = Turn("entity", question, answer, weight, "recognition",
                {"recognition": label, "asked": name})
    return Dialogue(item.image, item.entity or "", (turn,), variant=-1)


def _nobody(item: LabeledImage, weight: float, form: str, rng: random.Random) -> Dialogue:
    """"Who is this?" on a scene: nobody the model knows (without this, a model asked who is in
    any photo answers with an entity's name)."""
    turn = Turn("entity", form, rng.choice(NOBODY), weight, "recognition", {"recognition": "nobody"})
    return Dialogue(item.image, "", (turn,), variant=-1)


def _who(item: LabeledImage, weight: float, form: str, rng: random.Random) -> Dialogue:
    turn = Turn("entity", form, rng.choice(WHO_ANSWERS).format(name=item.entity), weight,
                "recognition", {"recognition": "who"})
    return Dialogue(item.image, item.entity, (turn,), variant=-1)
