"""The recognition set of a project: its training photos, drawn unrelated scenes, their dialogues.

Owns `draw_scenes` (unrelated scenes from the procedural world, written once into the project's
`recognition/` folder under a content hash, drawn from a seed space of their own so they are
never the check's probe photos), `augmented_views` of the training photos, and `recognition_set`,
which labels every training photo and view with its entity and every scene with none and hands
them to `dialogue.recognition`. Held-out photos are never used: they are the check's. It does
not train (see `run.py`).
"""

from __future__ import annotations

import hashlib
import io
import random
from pathlib import Path

from .. import atomic
from ..dialogue.recognition import LabeledImage, recognition_dialogues
from ..dialogue.types import Dialogue

RECOGNITION_DIR = "recognition"
SCENE_LAYOUTS = ("objects", "object", "count", "shape", "position", "word")


def draw_scenes(root: Path, count: int, seed: int = 0) -> list[Path]:
    """`count` unrelated scenes as PNG files in `root/recognition/` (kept; the same seed draws the
    same scenes, so a rerun or a resumed run trains on identical pixels)."""
    from ..world.scene import make_scene, render_scene

    folder = Path(root) / RECOGNITION_DIR
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        rng = random.Random(f"sdft-training-scene:{seed}:{i}")
        paths.append(_write_once(folder, render_scene(make_scene(SCENE_LAYOUTS[i % len(SCENE_LAYOUTS)], rng))))
    return paths


def _write_once(folder: Path, image) -> Path:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    data = buffer.getvalue()
    path = folder / f"{hashlib.sha256(data).hexdigest()[:24]}.png"
    if not path.is_file():
        atomic.write_bytes(path, data)
    return path


def augmented_views(root: Path, photo: Path, count: int, seed: int = 0) -> list[Path]:
    """`count` views of a photo: mirrored or not, cropped and zoomed, slightly turned and lit
    differently; never recoloured, since colour is often what tells one entity from another."""
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
        view = _crop(view, rng.uniform(0.75, 0.95), rng)
        view = ImageEnhance.Brightness(view).enhance(rng.uniform(0.85, 1.15))
        views.append(_write_once(folder, view))
    return views


def _crop(img, share: float, rng: random.Random):
    w, h = img.size
    cw, ch = int(w * share), int(h * share)
    x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
    return img.crop((x, y, x + cw, y + ch)).resize((w, h), 3)


def _edge(img) -> tuple[int, int, int]:
    return img.getpixel((0, 0))


def recognition_set(store, *, weight: float, scenes: int, views: int = 0, seed: int = 0,
                    entities: tuple[str, ...] = ()) -> list[Dialogue]:
    """Recognition dialogues over the training photos (and `views` augmented views of each) of
    every entity and `scenes` drawn scenes; the names of `entities` (default all) are asked about
    on every image."""
    chosen = [e for e in store.entities() if not entities or e.name in entities]
    images = []
    for entity in store.entities():
        for photo in store.photos(entity.id, split="train"):
            path = store.photo_path(photo.sha256)
            images += [LabeledImage(str(p), entity.name)
                       for p in [path, *augmented_views(store.root, path, views, seed)]]
    images += [LabeledImage(str(p), None) for p in draw_scenes(store.root, scenes, seed)]
    return recognition_dialogues(images, [e.name for e in chosen], weight=weight, seed=seed)
