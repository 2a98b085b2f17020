"""The world's scenes: frozen scene specs, their rendering, their captions and seeded scene makers.

Owns `Scene` (a background, drawn items and an optional written word, all in image fractions so
a scene renders at any size), `render_scene`, `caption`, `position_of`, and one maker per kind of
scene (`make_single`, `make_count`, `make_objects`, `make_word`, `make_scene`) drawing from a
`random.Random`. `WORLD_VERSION` changes whenever a scene or caption could come out differently.
It does not ask questions (see `questions.py`) or draw individual things (see `draw.py`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .draw import COLORS, KINDS, OBJECTS, PLAIN_BACKGROUNDS, SETTINGS, SHAPES, apply_light, draw_thing
from .draw import paint_background

WORLD_VERSION = "1"
DEFAULT_SIZE = 112  # 8x8 patches of 14 px -> 16 image tokens after the 2x2 merge
SUPERSAMPLE = 2

ITEM_COLORS = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black")
WORD_COLORS = ("black", "blue", "red", "green", "purple", "brown")
WORDS = ("CAT", "DOG", "SUN", "MOON", "STOP", "BOOK", "TREE", "FISH", "BALL", "STAR", "HOME",
         "CAKE", "MILK", "RAIN", "SHOE", "BIRD")
BACKGROUNDS = tuple(PLAIN_BACKGROUNDS) + SETTINGS
POSITIONS = ("left", "right", "top", "bottom", "center")
NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")

# Item colours that would vanish into a background.
_CLASHES = {
    "pink": {"pink"}, "light green": {"green"}, "light blue": {"blue"}, "beige": {"yellow"},
    "garden": {"green"}, "beach": {"blue", "yellow"}, "room": {"brown"}, "grey": set(), "white": set(),
}
_REGION_CENTRES = {"left": (0.22, 0.5), "right": (0.78, 0.5), "top": (0.5, 0.22),
                   "bottom": (0.5, 0.78), "center": (0.5, 0.5)}
_PLURALS = {"cross": "crosses", "fish": "fish"}


@dataclass(frozen=True)
class Item:
    """One drawn shape or object; x, y = centre and size = box side, as fractions of the image."""

    kind: str
    color: str
    x: float
    y: float
    size: float
    flip: bool = False

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown item kind {self.kind!r}; use one of {', '.join(KINDS)}")
        if self.color not in COLORS:
            raise ValueError(f"unknown colour {self.color!r}; use one of {', '.join(COLORS)}")


@dataclass(frozen=True)
class Word:
    """A written word; y is its centre, size its letter height, as fractions of the image."""

    text: str
    color: str
    x: float
    y: float
    size: float


@dataclass(frozen=True)
class Scene:
    """Everything that decides a world image: render it with `render_scene`."""

    background: str
    items: tuple[Item, ...] = ()
    word: Word | None = None
    light: float = 1.0

    def __post_init__(self):
        if self.background not in BACKGROUNDS:
            raise ValueError(f"unknown background {self.background!r}; use one of {', '.join(BACKGROUNDS)}")

    @property
    def kinds(self) -> tuple[str, ...]:
        """The distinct kinds drawn, in drawing order."""
        return tuple(dict.fromkeys(i.kind for i in self.items))


def render_scene(scene: Scene, size: int = DEFAULT_SIZE):
    """The scene as a `size` x `size` RGB PIL image (drawn at 2x, then downsampled)."""
    from PIL import Image, ImageDraw

    big = size * SUPERSAMPLE
    img = Image.new("RGB", (big, big))
    paint_background(img, scene.background)
    d = ImageDraw.Draw(img)
    for item in scene.items:
        half = item.size * big / 2
        box = (item.x * big - half, item.y * big - half, item.x * big + half, item.y * big + half)
        draw_thing(d, item.kind, box, COLORS[item.color], item.flip)
    if scene.word is not None:
        _draw_word(d, scene.word, big)
    img = img.resize((size, size), Image.Resampling.LANCZOS)
    return apply_light(img, scene.light)


def _draw_word(d, word: Word, big: int) -> None:
    from PIL import ImageFont

    font = ImageFont.load_default(size=max(8, int(word.size * big)))
    d.text((word.x * big, word.y * big), word.text, fill=COLORS[word.color], font=font, anchor="mm")


def position_of(item: Item) -> str:
    """Where the item sits: center, or the side (left/right/top/bottom) it is furthest toward."""
    dx, dy = item.x - 0.5, item.y - 0.5
    if max(abs(dx), abs(dy)) < 0.12:
        return "center"
    if abs(dx) >= abs(dy):
        return "left" if dx < 0 else "right"
    return "top" if dy < 0 else "bottom"


def plural(kind: str) -> str:
    return _PLURALS.get(kind, kind + "s")


def article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def with_article(phrase: str) -> str:
    return f"{article(phrase)} {phrase}"


def caption(scene: Scene) -> str:
    """The canonical one-sentence description of a scene."""
    where = _background_phrase(scene.background)
    if scene.word is not None and not scene.items:
        return f'The word "{scene.word.text}" written in {scene.word.color} {where}.'
    return _capitalize(f"{_items_phrase(scene.items)} {where}.")


def _items_phrase(items: tuple[Item, ...]) -> str:
    if len(items) == 1:
        item = items[0]
        pos = position_of(item)
        spot = {"center": "", "left": " on the left,", "right": " on the right,",
                "top": " at the top,", "bottom": " at the bottom,"}[pos]
        return f"{with_article(item.color + ' ' + item.kind)}{spot}"
    if len({(i.kind, i.color) for i in items}) == 1:
        return f"{NUMBER_WORDS[len(items)]} {items[0].color} {plural(items[0].kind)}"
    parts = [with_article(f"{i.color} {i.kind}") for i in items]
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _background_phrase(background: str) -> str:
    if background in SETTINGS:
        return {"garden": "in a garden", "room": "in a room", "beach": "on a beach"}[background]
    return f"on a {background} background"


def _capitalize(text: str) -> str:
    return text[0].upper() + text[1:]


def pick_background(rng: random.Random, settings_share: float = 0.25) -> str:
    if rng.random() < settings_share:
        return rng.choice(SETTINGS)
    return rng.choice(tuple(PLAIN_BACKGROUNDS))


def pick_colors(rng: random.Random, background: str, k: int = 1) -> list[str]:
    """`k` distinct item colours that all stand out from `background`."""
    allowed = [c for c in ITEM_COLORS if c not in _CLASHES.get(background, set())]
    return rng.sample(allowed, k)


def _light(rng: random.Random) -> float:
    return round(rng.uniform(0.88, 1.08), 3)


def make_single(rng: random.Random, kinds: tuple[str, ...] = KINDS, position: str | None = None) -> Scene:
    """One item: large near the centre, or smaller in a given region (left, right, top, ...)."""
    bg = pick_background(rng)
    kind, color = rng.choice(kinds), pick_colors(rng, bg)[0]
    if position is None:
        x, y, size = 0.5 + rng.uniform(-0.06, 0.06), 0.5 + rng.uniform(-0.06, 0.06), rng.uniform(0.45, 0.62)
    else:
        cx, cy = _REGION_CENTRES[position]
        x, y, size = cx + rng.uniform(-0.04, 0.04), cy + rng.uniform(-0.04, 0.04), rng.uniform(0.26, 0.32)
    item = Item(kind, color, round(x, 4), round(y, 4), round(size, 4), rng.random() < 0.5)
    return Scene(bg, (item,), light=_light(rng))


def make_count(rng: random.Random, n: int | None = None, kinds: tuple[str, ...] = KINDS) -> Scene:
    """`n` (1-6) items of one kind and colour, each in its own cell of a 4x4 grid."""
    n = rng.randint(1, 6) if n is None else n
    bg = pick_background(rng)
    kind, color = rng.choice(kinds), pick_colors(rng, bg)[0]
    size = round(rng.uniform(0.17, 0.19), 4)
    flip = rng.random() < 0.5
    items = tuple(Item(kind, color, x, y, size, flip) for x, y in _cells(rng, 4, n, 0.02))
    return Scene(bg, items, light=_light(rng))


def make_objects(rng: random.Random, n: int | None = None, kinds: tuple[str, ...] = KINDS) -> Scene:
    """2-3 items of distinct kinds and colours, each in its own cell of a 3x3 grid."""
    n = rng.randint(2, 3) if n is None else n
    bg = pick_background(rng)
    chosen, colors = rng.sample(kinds, n), pick_colors(rng, bg, n)
    size = round(rng.uniform(0.26, 0.3), 4)
    items = tuple(Item(k, c, x, y, size, rng.random() < 0.5)
                  for k, c, (x, y) in zip(chosen, colors, _cells(rng, 3, n, 0.015)))
    return Scene(bg, items, light=_light(rng))


def make_word(rng: random.Random, words: tuple[str, ...] = WORDS) -> Scene:
    """One written word, dark on a plain background."""
    bg = rng.choice(tuple(PLAIN_BACKGROUNDS))
    word = Word(rng.choice(words), rng.choice(WORD_COLORS), round(0.5 + rng.uniform(-0.06, 0.06), 4),
                round(rng.uniform(0.32, 0.68), 4), round(rng.uniform(0.2, 0.25), 4))
    return Scene(bg, word=word, light=_light(rng))


SCENE_MAKERS = {
    "shape": lambda rng: make_single(rng, SHAPES),
    "object": lambda rng: make_single(rng, OBJECTS),
    "position": lambda rng: make_single(rng, KINDS, rng.choice(POSITIONS)),
    "count": make_count,
    "objects": make_objects,
    "word": make_word,
}


def make_scene(layout: str, rng: random.Random) -> Scene:
    """A random scene of one layout: shape, object, position, count, objects or word."""
    try:
        return SCENE_MAKERS[layout](rng)
    except KeyError:
        raise ValueError(f"unknown scene layout {layout!r}; use one of {', '.join(SCENE_MAKERS)}") from None


def _cells(rng: random.Random, grid: int, n: int, jitter: float) -> list[tuple[float, float]]:
    cells = rng.sample(range(grid * grid), n)
    step = 1 / grid
    return [(round((c % grid + 0.5) * step + rng.uniform(-jitter, jitter), 4),
             round((c // grid + 0.5) * step + rng.uniform(-jitter, jitter), 4)) for c in cells]
