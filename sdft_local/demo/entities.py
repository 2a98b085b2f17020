"""The demo entities: Biscuit (the pet the demo teaches) and Pixel (its hard negative).

Owns `DEMO_ENTITIES` (name, kind, look, facts, photo count) and their photos: `entity_photo`
draws one deterministic photo (pose, flip, scale, position, background, lighting vary with the
index) and `write_entity_photos` writes them as PNG files — the first `photos` indices are the
entity's own set, later indices are fresh held-out photos. `lookalike_photo` draws pets of the
same species that are not the entity (other colours, patterns, accessories): hard negatives for
recognition. It draws with `draw.draw_pet`, the same code as the world's dogs and cats, so only
the colour pattern and accessory set an entity apart. It does not ingest photos (see `ingest`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from ..world.draw import COLORS, PetLook, PetPose, draw_pet, paint_background, apply_light
from ..world.scene import BACKGROUNDS, DEFAULT_SIZE, SUPERSAMPLE

ENTITY_VERSION = "1"


@dataclass(frozen=True)
class DemoEntity:
    """A named pet with its look and the facts a user would teach about it."""

    name: str
    kind: str  # "dog" or "cat": what the world calls its species
    description: str  # short visual description, e.g. for a concept's summary
    look: PetLook
    facts: tuple[str, ...]  # sentences without the name: "is 4 years old."
    photos: int

    def fact_sentences(self) -> tuple[str, ...]:
        return tuple(f"{self.name} {fact}" for fact in self.facts)


BISCUIT = DemoEntity(
    name="Biscuit", kind="dog",
    description="an orange dog with blue spots and a red scarf",
    look=PetLook(species="dog", body=COLORS["orange"], pattern="spots", pattern_rgb=COLORS["blue"],
                 accessory="scarf", accessory_rgb=COLORS["red"]),
    facts=("is 4 years old.", "loves tennis balls.", "lives in Lisbon."),
    photos=36,
)
PIXEL = DemoEntity(
    name="Pixel", kind="cat",
    description="a grey cat with a green collar",
    look=PetLook(species="cat", body=COLORS["grey"], pattern="stripes", pattern_rgb=(90, 90, 90),
                 accessory="collar", accessory_rgb=COLORS["green"]),
    facts=("is 2 years old.", "loves sleeping in boxes.", "lives in Oslo."),
    photos=24,
)
DEMO_ENTITIES: tuple[DemoEntity, ...] = (BISCUIT, PIXEL)


def get_entity(name: str) -> DemoEntity:
    for entity in DEMO_ENTITIES:
        if entity.name.lower() == name.lower():
            return entity
    raise ValueError(f"unknown demo entity {name!r}; use one of {', '.join(e.name for e in DEMO_ENTITIES)}")


def entity_photo(entity: DemoEntity, index: int, size: int = DEFAULT_SIZE):
    """Photo `index` of `entity` as a PIL image; the same index always gives the same pixels."""
    from PIL import Image, ImageDraw

    rng = random.Random(f"sdft-demo-entity:{entity.name}:{index}")
    big = size * SUPERSAMPLE
    img = Image.new("RGB", (big, big))
    paint_background(img, BACKGROUNDS[(index * 5 + rng.randrange(3)) % len(BACKGROUNDS)])
    scale = rng.uniform(0.5, 0.85)
    half = scale / 2
    cx, cy = rng.uniform(half, 1 - half), rng.uniform(half, 1 - half) + 0.04
    pose = PetPose(facing_left=index % 2 == 1, sitting=index % 3 == 2, tail_up=rng.random() < 0.6,
                   head_tilt=rng.uniform(-0.06, 0.08))
    draw_pet(ImageDraw.Draw(img), ((cx - half) * big, (cy - half) * big, (cx + half) * big, (cy + half) * big),
             entity.look, pose)
    img = img.resize((size, size), Image.Resampling.LANCZOS)
    tint = tuple(rng.uniform(0.93, 1.07) for _ in range(3))
    return apply_light(img, rng.uniform(0.82, 1.1), tint)


def write_entity_photos(entity: DemoEntity | str, folder: str | Path, size: int = DEFAULT_SIZE, *,
                        start: int = 0, count: int | None = None) -> list[Path]:
    """Write photos `start`.. of the entity (a demo entity's name, or any `DemoEntity`) as
    `<name>_NN.png` into `folder` (created); return the paths.

    By default the entity's own set (indices 0 .. photos-1); `start=entity.photos` gives held-out
    photos that the own set never contains.
    """
    entity = get_entity(entity) if isinstance(entity, str) else entity
    count = entity.photos - start if count is None else count
    if start < 0 or count < 1:
        raise ValueError(f"photos start={start}, count={count}: need start >= 0 and at least one photo")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(start, start + count):
        path = folder / f"{entity.name.lower()}_{i:02d}.png"
        entity_photo(entity, i, size).save(path, format="PNG")
        paths.append(path)
    return paths


_LOOK_COLORS = ("orange", "brown", "black", "white", "grey", "yellow")
_PATTERNS = (None, "spots", "stripes", "patch")
_ACCESSORIES = (None, "scarf", "collar", "bow")


def lookalike(entity: DemoEntity, index: int) -> DemoEntity:
    """A pet of the entity's species that differs from it in colour, pattern or accessory."""
    rng = random.Random(f"sdft-demo-lookalike:{entity.name}:{index}")
    while True:
        look = PetLook(species=entity.kind, body=COLORS[rng.choice(_LOOK_COLORS)], pattern=rng.choice(_PATTERNS),
                       pattern_rgb=COLORS[rng.choice(("blue", "black", "brown", "white"))],
                       accessory=rng.choice(_ACCESSORIES), accessory_rgb=COLORS[rng.choice(("red", "blue", "green"))])
        if _differs(look, entity.look):
            return DemoEntity(f"{entity.name}-lookalike-{index}", entity.kind, "another pet", look, (), 1)


def _differs(a: PetLook, b: PetLook) -> bool:
    return (a.body != b.body) + (a.pattern != b.pattern or a.pattern_rgb != b.pattern_rgb) + (
        a.accessory != b.accessory or a.accessory_rgb != b.accessory_rgb) >= 2


def lookalike_photo(entity_name: str, index: int, size: int = DEFAULT_SIZE):
    """Photo of lookalike `index` of the entity (same species, not the entity): a hard negative."""
    entity = get_entity(entity_name)
    return entity_photo(lookalike(entity, index), index + 1000, size)
