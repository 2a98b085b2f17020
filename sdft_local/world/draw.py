"""Pillow drawing of the demo world: the palette, backgrounds, shapes, everyday objects and pets.

Owns how each thing looks: `draw_thing(draw, kind, box, rgb, flip)` for every shape and object
kind, `draw_pet` for dogs and cats with an optional coat pattern and accessory (the demo entities
are pets drawn by the same code), `paint_background` and `apply_light`. Pure functions of their
arguments: no randomness here, so a scene spec always draws the same pixels. It does not decide
what a scene contains (see `scene.py`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Object colours: distinct hues that stay recognisable under the lighting range of the world.
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (214, 39, 40),
    "orange": (245, 130, 20),
    "yellow": (240, 205, 30),
    "green": (44, 160, 44),
    "blue": (31, 90, 220),
    "purple": (140, 60, 180),
    "pink": (240, 110, 180),
    "brown": (125, 75, 35),
    "black": (25, 25, 25),
    "white": (250, 250, 250),
    "grey": (128, 128, 128),
}

# Plain backgrounds (name used in captions -> RGB) and drawn settings.
PLAIN_BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "white": (246, 246, 246),
    "grey": (205, 205, 208),
    "beige": (238, 225, 196),
    "light blue": (200, 225, 245),
    "light green": (210, 238, 205),
    "pink": (248, 214, 226),
}
SETTINGS = ("garden", "room", "beach")

SHAPES = ("circle", "square", "triangle", "star", "heart", "diamond", "cross")
OBJECTS = ("apple", "balloon", "car", "house", "cup", "flower", "fish", "bird", "cat", "dog",
           "tree", "umbrella")
KINDS = SHAPES + OBJECTS

Box = tuple[float, float, float, float]  # left, top, right, bottom (pixels)


def shade(rgb: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    """`rgb` darkened (factor < 1) or lightened toward white (factor > 1)."""
    if factor <= 1:
        return tuple(int(c * factor) for c in rgb)
    return tuple(int(c + (255 - c) * (factor - 1)) for c in rgb)


def paint_background(img, name: str) -> None:
    """Fill `img` with a plain colour or a drawn setting (garden, room, beach)."""
    from PIL import ImageDraw

    d = ImageDraw.Draw(img)
    w, h = img.size
    if name in PLAIN_BACKGROUNDS:
        d.rectangle((0, 0, w, h), fill=PLAIN_BACKGROUNDS[name])
    elif name == "garden":
        _bands(d, w, h, ((0.0, (175, 215, 245)), (0.55, (120, 190, 90))))
    elif name == "room":
        _bands(d, w, h, ((0.0, (236, 222, 200)), (0.62, (170, 120, 80))))
        d.rectangle((w * 0.08, h * 0.12, w * 0.3, h * 0.4), fill=(190, 220, 245), outline=(120, 90, 60),
                    width=max(1, w // 80))
    elif name == "beach":
        _bands(d, w, h, ((0.0, (170, 210, 245)), (0.42, (60, 130, 200)), (0.6, (235, 210, 150))))
    else:
        raise ValueError(f"unknown background {name!r}")


def _bands(d, w, h, bands) -> None:
    for i, (top, rgb) in enumerate(bands):
        bottom = bands[i + 1][0] if i + 1 < len(bands) else 1.0
        d.rectangle((0, h * top, w, h * bottom), fill=rgb)


def apply_light(img, light: float, tint: tuple[float, float, float] = (1.0, 1.0, 1.0)):
    """The image under a light level (brightness factor) and colour tint, plus a soft gradient."""
    import numpy as np
    from PIL import Image

    arr = np.asarray(img, dtype=np.float32)
    h = arr.shape[0]
    ramp = np.linspace(1.04, 0.96, h, dtype=np.float32)[:, None, None]
    arr = arr * ramp * light * np.asarray(tint, dtype=np.float32)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def draw_thing(d, kind: str, box: Box, rgb, flip: bool = False) -> None:
    """Draw one shape or object of `kind`, filling `box`, in colour `rgb`."""
    if kind in ("dog", "cat"):
        draw_pet(d, box, PetLook(species=kind, body=rgb), PetPose(facing_left=flip))
        return
    _DRAWERS[kind](d, box, rgb, flip)


def _outline(rgb):
    return shade(rgb, 0.55)


def _lw(box: Box) -> int:
    return max(1, int((box[2] - box[0]) / 28))


def _circle(d, box, rgb, flip):
    d.ellipse(_inset(box, 0.04), fill=rgb, outline=_outline(rgb), width=_lw(box))


def _square(d, box, rgb, flip):
    d.rectangle(_inset(box, 0.1), fill=rgb, outline=_outline(rgb), width=_lw(box))


def _triangle(d, box, rgb, flip):
    l, t, r, b = _inset(box, 0.04)
    d.polygon([((l + r) / 2, t), (r, b), (l, b)], fill=rgb, outline=_outline(rgb), width=_lw(box))


def _star(d, box, rgb, flip):
    cx, cy, s = _centre(box)
    pts = []
    for i in range(10):
        r = s * (0.5 if i % 2 == 0 else 0.21)
        a = -math.pi / 2 + i * math.pi / 5
        pts.append((cx + r * math.cos(a), cy + 0.06 * s + r * math.sin(a)))
    d.polygon(pts, fill=rgb, outline=_outline(rgb), width=_lw(box))


def _heart(d, box, rgb, flip):
    cx, cy, s = _centre(box)
    r = s * 0.25
    d.ellipse((cx - 2 * r, cy - 1.6 * r, cx, cy + 0.4 * r), fill=rgb)
    d.ellipse((cx, cy - 1.6 * r, cx + 2 * r, cy + 0.4 * r), fill=rgb)
    d.polygon([(cx - 1.93 * r, cy - 0.3 * r), (cx + 1.93 * r, cy - 0.3 * r), (cx, cy + 1.9 * r)], fill=rgb)


def _diamond(d, box, rgb, flip):
    cx, cy, s = _centre(box)
    pts = [(cx, cy - 0.5 * s), (cx + 0.33 * s, cy), (cx, cy + 0.5 * s), (cx - 0.33 * s, cy)]
    d.polygon(pts, fill=rgb, outline=_outline(rgb), width=_lw(box))


def _cross(d, box, rgb, flip):
    cx, cy, s = _centre(box)
    a, b = 0.16 * s, 0.46 * s
    d.rectangle((cx - a, cy - b, cx + a, cy + b), fill=rgb)
    d.rectangle((cx - b, cy - a, cx + b, cy + a), fill=rgb)


def _apple(d, box, rgb, flip):
    cx, cy, s = _centre(box)
    d.ellipse((cx - 0.42 * s, cy - 0.3 * s, cx + 0.42 * s, cy + 0.46 * s), fill=rgb, outline=_outline(rgb),
              width=_lw(box))
    d.line((cx, cy - 0.3 * s, cx + 0.05 * s, cy - 0.48 * s), fill=(90, 55, 20), width=max(1, int(s / 14)))
    leaf = (20, 110, 30) if rgb == COLORS["green"] else (60, 170, 60)
    d.ellipse((cx + 0.06 * s, cy - 0.48 * s, cx + 0.3 * s, cy - 0.36 * s), fill=leaf)


def _balloon(d, box, rgb, flip):
    cx, cy, s = _centre(box)
    d.line((cx, cy + 0.2 * s, cx + 0.06 * s, cy + 0.5 * s), fill=(60, 60, 60), width=max(1, int(s / 30)))
    d.polygon([(cx, cy + 0.2 * s), (cx - 0.05 * s, cy + 0.27 * s), (cx + 0.05 * s, cy + 0.27 * s)], fill=rgb)
    d.ellipse((cx - 0.3 * s, cy - 0.5 * s, cx + 0.3 * s, cy + 0.22 * s), fill=rgb, outline=_outline(rgb),
              width=_lw(box))
    d.ellipse((cx - 0.17 * s, cy - 0.38 * s, cx - 0.07 * s, cy - 0.22 * s), fill=shade(rgb, 1.5))


def _car(d, box, rgb, flip):
    cx, cy, s = _centre(box)
    sign = -1 if flip else 1
    d.rectangle((cx - 0.5 * s, cy - 0.05 * s, cx + 0.5 * s, cy + 0.22 * s), fill=rgb, outline=_outline(rgb),
                width=_lw(box))
    cab = [(cx - sign * 0.3 * s, cy - 0.05 * s), (cx - sign * 0.2 * s, cy - 0.3 * s),
           (cx + sign * 0.15 * s, cy - 0.3 * s), (cx + sign * 0.3 * s, cy - 0.05 * s)]
    d.polygon(cab, fill=rgb, outline=_outline(rgb), width=_lw(box))
    win = [(cx - sign * 0.22 * s, cy - 0.07 * s), (cx - sign * 0.15 * s, cy - 0.24 * s),
           (cx + sign * 0.11 * s, cy - 0.24 * s), (cx + sign * 0.2 * s, cy - 0.07 * s)]
    d.polygon(win, fill=(190, 225, 245))
    for wx in (-0.28, 0.28):
        d.ellipse((cx + (wx - 0.11) * s, cy + 0.12 * s, cx + (wx + 0.11) * s, cy + 0.34 * s), fill=(30, 30, 30))


def _house(d, box, rgb, flip):
    cx, cy, s = _centre(box)
    d.rectangle((cx - 0.36 * s, cy - 0.08 * s, cx + 0.36 * s, cy + 0.46 * s), fill=rgb, outline=_outline(rgb),
                width=_lw(box))
    d.polygon([(cx - 0.46 * s, cy - 0.06 * s), (cx, cy - 0.48 * s), (cx + 0.46 * s, cy - 0.06 * s)],
              fill=(90, 60, 50))
    d.rectangle((cx - 0.08 * s, cy + 0.16 * s, cx + 0.08 * s, cy + 0.46 * s), fill=(80, 50, 25))
    d.rectangle((cx + 0.15 * s, cy + 0.04 * s, cx + 0.29 * s, cy + 0.18 * s), fill=(190, 225, 245))


def _cup(d, box, rgb, flip):
    cx, cy, s = _centre(box)
    sign = -1 if flip else 1
    hx = cx + sign * 0.3 * s
    d.ellipse((hx - 0.16 * s, cy - 0.16 * s, hx + 0.16 * s, cy + 0.16 * s), outline=_outline(rgb),
              width=max(2, int(s / 12)))
    d.polygon([(cx - 0.32 * s, cy - 0.34 * s), (cx + 0.32 * s, cy - 0.34 * s),
               (cx + 0.25 * s, cy + 0.38 * s), (cx - 0.25 * s, cy + 0.38 * s)], fill=rgb,
              outline=_outline(rgb), width=_lw(box))
    d.ellipse((cx - 0.32 * s, cy - 0.4 * s, cx + 0.32 * s, cy - 0.28 * s), fill=shade(rgb, 0.7))


def _flower(d, box, rgb, flip):
    cx, cy, s = _centre(box)
    d.line((cx, cy, cx, cy + 0.5 * s), fill=(40, 130, 40), width=max(1, int(s / 14)))
    d.ellipse((cx, cy + 0.22 * s, cx + 0.22 * s, cy + 0.34 * s), fill=(60, 160, 60))
    r, pr = 0.2 * s, 0.13 * s
    fy = cy - 0.12 * s
    for i in range(5):
        a = -math.pi / 2 + i * 2 * math.pi / 5
        px, py = cx + r * math.cos(a), fy + r * math.sin(a)
        d.ellipse((px - pr, py - pr, px + pr, py + pr), fill=rgb, outline=_outline(rgb), width=_lw(box))
    centre = (250, 200, 30) if rgb != COLORS["yellow"] else (200, 90, 20)
    d.ellipse((cx - 0.09 * s, fy - 0.09 * s, cx + 0.09 * s, fy + 0.09 * s), fill=centre)


def _fish(d, box, rgb, flip):
    cx, cy, s = _centre(box)
    sign = -1 if flip else 1
    tail = [(cx - sign * 0.22 * s, cy), (cx - sign * 0.5 * s, cy - 0.22 * s), (cx - sign * 0.5 * s, cy + 0.22 * s)]
    d.polygon(tail, fill=rgb, outline=_outline(rgb), width=_lw(box))
    d.ellipse((cx - 0.34 * s, cy - 0.22 * s, cx + 0.42 * s, cy + 0.22 * s), fill=rgb, outline=_outline(rgb),
              width=_lw(box))
    ex = cx + sign * 0.22 * s
    d.ellipse((ex - 0.05 * s, cy - 0.09 * s, ex + 0.05 * s, cy + 0.01 * s), fill=(20, 20, 20))


def _bird(d, box, rgb, flip):
    cx, cy, s = _centre(box)
    sign = -1 if flip else 1
    d.ellipse((cx - 0.36 * s, cy - 0.16 * s, cx + 0.22 * s, cy + 0.3 * s), fill=rgb, outline=_outline(rgb),
              width=_lw(box))
    hx, hy = cx + sign * 0.2 * s, cy - 0.18 * s
    d.ellipse((hx - 0.17 * s, hy - 0.17 * s, hx + 0.17 * s, hy + 0.17 * s), fill=rgb, outline=_outline(rgb),
              width=_lw(box))
    bx = hx + sign * 0.15 * s
    d.polygon([(bx, hy - 0.06 * s), (bx + sign * 0.17 * s, hy), (bx, hy + 0.06 * s)], fill=(245, 150, 20))
    d.ellipse((hx + sign * 0.04 * s - 0.04 * s, hy - 0.07 * s, hx + sign * 0.04 * s + 0.04 * s, hy + 0.01 * s),
              fill=(20, 20, 20))
    d.chord((cx - 0.26 * s, cy - 0.06 * s, cx + 0.1 * s, cy + 0.22 * s), 0, 180, fill=shade(rgb, 0.75))
    for lx in (-0.1, 0.02):
        d.line((cx + lx * s, cy + 0.28 * s, cx + lx * s, cy + 0.44 * s), fill=(120, 80, 20),
               width=max(1, int(s / 30)))


def _tree(d, box, rgb, flip):
    cx, cy, s = _centre(box)
    d.rectangle((cx - 0.07 * s, cy + 0.05 * s, cx + 0.07 * s, cy + 0.5 * s), fill=(110, 70, 35))
    for ox, oy, r in ((-0.17, -0.08, 0.22), (0.17, -0.08, 0.22), (0.0, -0.26, 0.24)):
        x, y = cx + ox * s, cy + oy * s
        d.ellipse((x - r * s, y - r * s, x + r * s, y + r * s), fill=rgb)


def _umbrella(d, box, rgb, flip):
    cx, cy, s = _centre(box)
    d.line((cx, cy - 0.2 * s, cx, cy + 0.38 * s), fill=(60, 60, 60), width=max(1, int(s / 20)))
    d.arc((cx - 0.14 * s, cy + 0.26 * s, cx, cy + 0.5 * s), 0, 180, fill=(60, 60, 60),
          width=max(1, int(s / 20)))
    d.pieslice((cx - 0.5 * s, cy - 0.45 * s, cx + 0.5 * s, cy + 0.05 * s), 180, 360, fill=rgb,
               outline=_outline(rgb), width=_lw(box))


_DRAWERS = {
    "circle": _circle, "square": _square, "triangle": _triangle, "star": _star, "heart": _heart,
    "diamond": _diamond, "cross": _cross, "apple": _apple, "balloon": _balloon, "car": _car,
    "house": _house, "cup": _cup, "flower": _flower, "fish": _fish, "bird": _bird, "tree": _tree,
    "umbrella": _umbrella,
}


@dataclass(frozen=True)
class PetLook:
    """What a pet looks like: species sets ears and snout; pattern and accessory are optional."""

    species: str = "dog"  # "dog" (floppy ears, snout) or "cat" (pointed ears, whiskers)
    body: tuple[int, int, int] = COLORS["brown"]
    pattern: str | None = None  # "spots", "stripes", "patch"
    pattern_rgb: tuple[int, int, int] = (0, 0, 0)
    accessory: str | None = None  # "scarf", "collar", "bow"
    accessory_rgb: tuple[int, int, int] = (0, 0, 0)


@dataclass(frozen=True)
class PetPose:
    """How a pet stands in the picture."""

    facing_left: bool = False
    sitting: bool = False
    tail_up: bool = True
    head_tilt: float = 0.0  # fraction of the size the head is raised (+) or lowered (-)


def draw_pet(d, box: Box, look: PetLook, pose: PetPose = PetPose()) -> None:
    """A side-view pet filling `box`: legs, body, tail, head, ears, face, pattern, accessory."""
    cx, cy, s = _centre(box)
    g = _PetGeometry(cx, cy, s, -1 if pose.facing_left else 1, pose)
    _pet_tail(d, g, look)
    _pet_legs(d, g, look)
    _pet_body(d, g, look)
    _pet_head(d, g, look)
    if look.accessory:
        _pet_accessory(d, g, look)


@dataclass(frozen=True)
class _PetGeometry:
    cx: float
    cy: float
    s: float
    sign: int
    pose: PetPose

    @property
    def body(self) -> Box:
        cx, cy, s = self.cx, self.cy, self.s
        if self.pose.sitting:
            return (cx - 0.24 * s, cy - 0.12 * s, cx + 0.2 * s, cy + 0.38 * s)
        return (cx - 0.36 * s, cy - 0.06 * s, cx + 0.24 * s, cy + 0.26 * s)

    @property
    def head(self) -> tuple[float, float, float]:
        x = self.cx + self.sign * (0.16 if self.pose.sitting else 0.28) * self.s
        y = self.cy - (0.26 if self.pose.sitting else 0.18) * self.s - self.pose.head_tilt * self.s
        return x, y, 0.17 * self.s


def _pet_body(d, g: _PetGeometry, look: PetLook) -> None:
    l, t, r, b = g.body
    if g.sign < 0:
        l, r = 2 * g.cx - r, 2 * g.cx - l
    d.ellipse((l, t, r, b), fill=look.body, outline=_outline(look.body), width=_lw((0, 0, g.s, 0)))
    if look.pattern:
        _pet_pattern(d, (l, t, r, b), g.s, look)


def _pet_pattern(d, box: Box, s: float, look: PetLook) -> None:
    l, t, r, b = box
    w, h = r - l, b - t
    if look.pattern == "spots":
        for fx, fy in ((0.25, 0.3), (0.5, 0.55), (0.72, 0.3), (0.38, 0.75), (0.7, 0.72)):
            x, y, rr = l + fx * w, t + fy * h, 0.055 * s
            d.ellipse((x - rr, y - rr, x + rr, y + rr), fill=look.pattern_rgb)
    elif look.pattern == "stripes":
        for fx in (0.28, 0.45, 0.62, 0.79):
            x = l + fx * w
            d.line((x, t + 0.1 * h, x - 0.05 * w, b - 0.15 * h), fill=look.pattern_rgb, width=max(1, int(s / 22)))
    elif look.pattern == "patch":
        d.ellipse((l + 0.4 * w, t + 0.05 * h, l + 0.85 * w, t + 0.6 * h), fill=look.pattern_rgb)


def _pet_legs(d, g: _PetGeometry, look: PetLook) -> None:
    l, t, r, b = g.body
    lw = max(2, int(g.s / 12))
    spots = (0.22, 0.42, 0.7, 0.88) if not g.pose.sitting else (0.35, 0.7)
    for f in spots:
        x = g.cx + g.sign * (l + f * (r - l) - g.cx)
        d.line((x, b - 0.1 * g.s, x, b + 0.12 * g.s), fill=shade(look.body, 0.8), width=lw)


def _pet_tail(d, g: _PetGeometry, look: PetLook) -> None:
    l, t, r, b = g.body
    x0 = g.cx - g.sign * (g.cx - l) * 0.95
    y0 = t + 0.3 * (b - t)
    dy = -0.22 if g.pose.tail_up else 0.12
    x1 = x0 - g.sign * 0.16 * g.s
    d.line((x0, y0, x1, y0 + dy * g.s), fill=shade(look.body, 0.85), width=max(2, int(g.s / 14)))


def _pet_head(d, g: _PetGeometry, look: PetLook) -> None:
    x, y, r = g.head
    ear = shade(look.body, 0.7)
    if look.species == "cat":
        for ex in (-0.7, 0.5):
            d.polygon([(x + ex * r, y - 0.5 * r), (x + (ex + 0.15) * r, y - 1.45 * r),
                       (x + (ex + 0.6) * r, y - 0.7 * r)],
                      fill=ear)
    d.ellipse((x - r, y - r, x + r, y + r), fill=look.body, outline=_outline(look.body), width=_lw((0, 0, g.s, 0)))
    if look.species == "dog":
        d.ellipse((x - g.sign * 1.05 * r - 0.3 * r, y - 0.6 * r, x - g.sign * 1.05 * r + 0.3 * r, y + 0.7 * r),
                  fill=ear)
        sx = x + g.sign * 0.85 * r
        d.ellipse((sx - 0.45 * r, y - 0.05 * r, sx + 0.45 * r, y + 0.6 * r), fill=shade(look.body, 1.35))
        d.ellipse((sx + g.sign * 0.25 * r - 0.15 * r, y - 0.02 * r, sx + g.sign * 0.25 * r + 0.15 * r,
                   y + 0.26 * r), fill=(20, 20, 20))
    else:
        for k in (-1, 1):
            d.line((x + g.sign * 0.5 * r, y + 0.35 * r, x + g.sign * 1.4 * r, y + (0.25 + 0.2 * k) * r),
                   fill=(40, 40, 40), width=1)
    ex = x + g.sign * 0.35 * r
    d.ellipse((ex - 0.14 * r, y - 0.35 * r, ex + 0.14 * r, y - 0.07 * r), fill=(20, 20, 20))


def _pet_accessory(d, g: _PetGeometry, look: PetLook) -> None:
    x, y, r = g.head
    neck_y = y + 0.95 * r
    nx = x - g.sign * 0.25 * r
    rgb = look.accessory_rgb
    if look.accessory == "scarf":
        d.rounded_rectangle((nx - 0.95 * r, neck_y - 0.28 * r, nx + 0.95 * r, neck_y + 0.28 * r),
                            radius=0.2 * r, fill=rgb)
        d.polygon([(nx - g.sign * 0.3 * r, neck_y), (nx - g.sign * 0.75 * r, neck_y + 1.1 * r),
                   (nx - g.sign * 0.05 * r, neck_y + 0.95 * r)], fill=shade(rgb, 0.85))
    elif look.accessory == "collar":
        d.rounded_rectangle((nx - 0.8 * r, neck_y - 0.14 * r, nx + 0.8 * r, neck_y + 0.14 * r),
                            radius=0.1 * r, fill=rgb)
        d.ellipse((nx - 0.18 * r, neck_y + 0.05 * r, nx + 0.18 * r, neck_y + 0.41 * r), fill=(240, 200, 40))
    elif look.accessory == "bow":
        bx, by = x - g.sign * 0.2 * r, y - 0.95 * r
        d.polygon([(bx, by), (bx - 0.6 * r, by - 0.35 * r), (bx - 0.6 * r, by + 0.35 * r)], fill=rgb)
        d.polygon([(bx, by), (bx + 0.6 * r, by - 0.35 * r), (bx + 0.6 * r, by + 0.35 * r)], fill=rgb)


def _centre(box: Box) -> tuple[float, float, float]:
    l, t, r, b = box
    return (l + r) / 2, (t + b) / 2, min(r - l, b - t)


def _inset(box: Box, f: float) -> Box:
    l, t, r, b = box
    dx, dy = (r - l) * f, (b - t) * f
    return l + dx, t + dy, r - dx, b - dy
