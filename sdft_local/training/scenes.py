"""The recognition set of a project: its training photos, drawn unrelated scenes, their dialogues.

Owns `draw_scenes` (unrelated scenes from the procedural world, written once into the project's
`recognition/` folder under a content hash, drawn from a seed space of their own so they are
never the check's probe photos), `augmented_views` of the training photos, `recognition_set`,
which labels every training photo and view with its entity and every scene with none and hands
them to `dialogue.recognition`, and `anchor_turns`, the weight-0 general questions that follow
the recognition turn on a drawn scene. Held-out photos are never used: they are the check's.
It does not train (see `run.py`).
"""

from __future__ import annotations

import hashlib
import io
import random
from dataclasses import replace
from pathlib import Path

from .. import atomic
from ..dialogue.recognition import FORMS_PER_IMAGE, YES_NO, LabeledImage, recognition_dialogues
from ..dialogue.types import Dialogue, Turn

RECOGNITION_DIR = "recognition"
SCENE_LAYOUTS = ("objects", "object", "count", "shape", "position", "word")
ZOOM_RANGE = (0.55, 1.15)  # views from the entity at about half its size to a close crop


def draw_scenes(root: Path, count: int, seed: int = 0) -> list[Path]:
    """`count` unrelated scenes as PNG files in `root/recognition/` (kept; the same seed draws the
    same scenes, so a rerun or a resumed run trains on identical pixels)."""
    from ..world.scene import render_scene

    folder = Path(root) / RECOGNITION_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return [_write_once(folder, render_scene(drawn_scene(seed, i))) for i in range(count)]


def drawn_scene(seed: int, i: int):
    """The `i`-th drawn scene of `seed` (a world `Scene`: what it shows is known)."""
    from ..world.scene import make_scene

    rng = random.Random(f"sdft-training-scene:{seed}:{i}")
    return make_scene(SCENE_LAYOUTS[i % len(SCENE_LAYOUTS)], rng)


def _write_once(folder: Path, image) -> Path:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    data = buffer.getvalue()
    path = folder / f"{hashlib.sha256(data).hexdigest()[:24]}.png"
    if not path.is_file():
        atomic.write_bytes(path, data)
    return path


def augmented_views(root: Path, photo: Path, count: int, seed: int = 0) -> list[Path]:
    """`count` views of a photo: mirrored or not, slightly turned, zoomed in (a crop) or out (the
    photo smaller inside its own edges, extended), moved, and lit differently; never recoloured,
    since colour is often what tells one entity from another. Zooming out matters: trained only on
    photos where the entity fills the frame, a model does not know it when it is small."""
    from PIL import Image, ImageEnhance

    folder = Path(root) / RECOGNITION_DIR
    folder.mkdir(parents=True, exist_ok=True)
    with Image.open(photo) as img:
        img = img.convert("RGB")
    views = []
    for k in range(count):
        rng = random.Random(f"sdft-training-view:{seed}:{Path(photo).stem}:{k}")
        view = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if k % 2 == 0 else img
        view = view.rotate(rng.uniform(-8, 8), resample=Image.Resampling.BILINEAR, fillcolor=_edge(view))
        view = _zoom(view, rng.uniform(*ZOOM_RANGE), rng)
        view = ImageEnhance.Brightness(view).enhance(rng.uniform(0.82, 1.15))
        views.append(_write_once(folder, view))
    return views


def _zoom(img, factor: float, rng: random.Random):
    """Zoom in (factor > 1: a crop, resized back) or out (factor < 1: the photo shrunk at a random
    place inside a canvas of its own size, the border filled by extending the photo's edges)."""
    if factor >= 1:
        return _crop(img, 1 / factor, rng)
    import numpy as np
    from PIL import Image

    w, h = img.size
    pad_w, pad_h = round(w / factor) - w, round(h / factor) - h
    left, top = rng.randint(0, pad_w), rng.randint(0, pad_h)
    grown = np.pad(np.asarray(img), ((top, pad_h - top), (left, pad_w - left), (0, 0)), mode="edge")
    return Image.fromarray(grown).resize((w, h), Image.Resampling.LANCZOS)


def _crop(img, share: float, rng: random.Random):
    w, h = img.size
    cw, ch = int(w * share), int(h * share)
    x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
    return img.crop((x, y, x + cw, y + ch)).resize((w, h), 3)


def _edge(img) -> tuple[int, int, int]:
    return img.getpixel((0, 0))


def recognition_set(store, *, weight: float, scenes: int, views: int = 0, seed: int = 0,
                    entities: tuple[str, ...] = (), answers: tuple[str, str] = YES_NO,
                    anchors: int = 0, forms: int = FORMS_PER_IMAGE) -> list[Dialogue]:
    """Recognition dialogues over the training photos (and `views` augmented views of each) of
    every entity and `scenes` drawn scenes; the names of `entities` (default all) are asked about
    on every image in `forms` wordings, answered with `answers` (yes, no). Each dialogue on a
    drawn scene goes on with `anchors` general questions about it, weighted 0 (see
    `anchor_turns`)."""
    chosen = [e for e in store.entities() if not entities or e.name in entities]
    images = []
    for entity in store.entities():
        for photo in store.photos(entity.id, split="train"):
            path = store.photo_path(photo.sha256)
            images += [LabeledImage(str(p), entity.name)
                       for p in [path, *augmented_views(store.root, path, views, seed)]]
    drawn = {str(p): drawn_scene(seed, i) for i, p in enumerate(draw_scenes(store.root, scenes, seed))}
    images += [LabeledImage(p, None) for p in drawn]
    dialogues = recognition_dialogues(images, [e.name for e in chosen], weight=weight, seed=seed,
                                      answers=answers, forms=forms)
    if anchors <= 0:
        return dialogues
    return [replace(d, turns=d.turns + anchor_turns(drawn[d.image], anchors, f"{seed}:{d.image}:{k}"))
            if d.image in drawn else d for k, d in enumerate(dialogues)]


def anchor_turns(scene, count: int, key: str) -> tuple[Turn, ...]:
    """`count` general questions about a drawn scene, weighted 0: context without loss, which
    SelfAug holds to the base model's distribution (KL at every weight-0 text position). They
    follow the recognition turn, so its answer cannot read them (attention looks back only), and
    they keep the base model's answers to everyday questions from drifting with the new yes/no."""
    from ..world.questions import anchor_pairs

    rng = random.Random(f"sdft-anchor:{key}")
    pairs = anchor_pairs(scene, rng)
    return tuple(Turn("caption", q, a, 0.0, "anchor", {"anchor": True})
                 for q, a in rng.sample(pairs, min(count, len(pairs))))
