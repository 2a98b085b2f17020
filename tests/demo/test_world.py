"""The demo world: deterministic rendering, and captions / labels that agree with the pixels."""

from __future__ import annotations

import random
from collections import deque

import numpy as np
import pytest

from sdft_local.world.draw import COLORS, PLAIN_BACKGROUNDS, SHAPES
from sdft_local.world.scene import (ITEM_COLORS, POSITIONS, Item, Scene, caption, make_count, make_objects,
                                   make_scene, make_single, make_word, position_of, render_scene)


def _pixels(scene: Scene, size: int = 112) -> np.ndarray:
    return np.asarray(render_scene(scene, size), dtype=np.int16)


def _foreground(scene: Scene, arr: np.ndarray, tol: int = 40) -> np.ndarray:
    """Pixels that differ clearly from the plain background (lit like the scene)."""
    bg = np.asarray(PLAIN_BACKGROUNDS[scene.background], np.float32) * scene.light
    return np.abs(arr - bg).max(-1) > tol


def _components(mask: np.ndarray, min_pixels: int = 12) -> int:
    seen = np.zeros_like(mask)
    count = 0
    for y, x in zip(*np.nonzero(mask)):
        if seen[y, x]:
            continue
        size, todo = 0, deque([(y, x)])
        seen[y, x] = True
        while todo:
            cy, cx = todo.popleft()
            size += 1
            for ny, nx in ((cy + 1, cx), (cy - 1, cx), (cy, cx + 1), (cy, cx - 1)):
                if 0 <= ny < mask.shape[0] and 0 <= nx < mask.shape[1] and mask[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    todo.append((ny, nx))
        count += size >= min_pixels
    return count



def test_rendering_is_deterministic_and_sized():
    scene = make_scene("objects", random.Random(3))
    a, b = render_scene(scene), render_scene(scene)
    assert a.size == (112, 112) and a.mode == "RGB"
    assert a.tobytes() == b.tobytes()
    assert render_scene(scene, 84).size == (84, 84)
    assert make_scene("objects", random.Random(3)) == scene
    assert render_scene(make_scene("objects", random.Random(4))).tobytes() != a.tobytes()


@pytest.mark.parametrize("n", range(1, 7))
def test_count_scene_draws_that_many_separate_things(n):
    rng = random.Random(f"count-{n}")
    for _ in range(4):
        scene = make_count(rng, n=n, kinds=SHAPES)
        if scene.background not in PLAIN_BACKGROUNDS:
            continue
        assert len(scene.items) == n and len({(i.kind, i.color) for i in scene.items}) == 1
        assert _components(_foreground(scene, _pixels(scene))) == n
        word = ("one", "two", "three", "four", "five", "six")[n - 1]
        assert caption(scene).lower().startswith(("a ", "an ") if n == 1 else word)


def test_single_item_colour_is_what_the_pixels_show():
    rng = random.Random(11)
    checked = 0
    while checked < 12:
        scene = make_single(rng, SHAPES)
        if scene.background not in PLAIN_BACKGROUNDS:
            continue
        item = scene.items[0]
        arr = _pixels(scene).astype(np.float32)
        fg = arr[_foreground(scene, arr)] / scene.light
        mean = np.median(fg, axis=0)
        nearest = min(ITEM_COLORS, key=lambda c: np.abs(np.asarray(COLORS[c]) - mean).sum())
        assert nearest == item.color, (item, mean)
        assert item.color in caption(scene)
        checked += 1


@pytest.mark.parametrize("position", POSITIONS)
def test_position_label_matches_where_the_pixels_are(position):
    rng = random.Random(f"pos-{position}")
    for _ in range(6):
        scene = make_single(rng, SHAPES, position)
        assert position_of(scene.items[0]) == position
        if scene.background not in PLAIN_BACKGROUNDS:
            continue
        ys, xs = np.nonzero(_foreground(scene, _pixels(scene)))
        cx, cy = xs.mean() / 112 - 0.5, ys.mean() / 112 - 0.5
        expected = {"left": cx < -0.15, "right": cx > 0.15, "top": cy < -0.15, "bottom": cy > 0.15,
                    "center": max(abs(cx), abs(cy)) < 0.1}
        assert expected[position], (position, cx, cy)


def test_word_is_drawn_where_the_spec_says():
    scene = make_word(random.Random(5))
    ys, xs = np.nonzero(_foreground(scene, _pixels(scene)))
    assert len(xs) > 60
    assert abs(ys.mean() / 112 - scene.word.y) < 0.08 and abs(xs.mean() / 112 - scene.word.x) < 0.08
    assert f'"{scene.word.text}"' in caption(scene)
    blank = Scene(scene.background, light=scene.light)
    assert not _foreground(blank, _pixels(blank)).any()


def test_objects_scene_items_do_not_overlap_and_caption_names_each():
    rng = random.Random(8)
    for _ in range(20):
        scene = make_objects(rng)
        assert len(set(scene.kinds)) == len(scene.items) in (2, 3)
        for a in scene.items:
            for b in scene.items:
                if a is not b:
                    assert max(abs(a.x - b.x), abs(a.y - b.y)) >= (a.size + b.size) / 2
        text = caption(scene)
        assert all(f"{i.color} {i.kind}" in text for i in scene.items)


def test_position_of_boundaries():
    def at(x, y):
        return position_of(Item("circle", "red", x, y, 0.2))

    assert [at(0.5, 0.5), at(0.2, 0.5), at(0.8, 0.55), at(0.5, 0.2), at(0.45, 0.8)] == \
        ["center", "left", "right", "top", "bottom"]


def test_bad_specs_are_rejected():
    with pytest.raises(ValueError, match="kind"):
        Item("unicorn", "red", 0.5, 0.5, 0.3)
    with pytest.raises(ValueError, match="colour"):
        Item("circle", "teal", 0.5, 0.5, 0.3)
    with pytest.raises(ValueError, match="background"):
        Scene("space")
    with pytest.raises(ValueError, match="layout"):
        make_scene("nope", random.Random(0))
