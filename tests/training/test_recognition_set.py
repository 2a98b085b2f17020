"""The recognition set a run trains on: training photos and their views, drawn scenes, never the
check's photos; what `train` adds to the stored dialogues."""

from __future__ import annotations

import hashlib
from collections import Counter

import numpy as np
import pytest

from sdft_local.training import TrainConfig
from sdft_local.training.scenes import augmented_views, draw_scenes, recognition_set

from .conftest import square_photo


@pytest.fixture()
def store(tmp_path, monkeypatch):
    from sdft_local.ingest import ingest_photos
    from sdft_local.store import Store

    monkeypatch.setenv("SDFT_HOME", str(tmp_path / "home"))
    store = Store.create("recog", "tiny-random")
    for e, name in enumerate(("Biscuit", "Max")):
        entity = store.add_entity(name, "dog", ["is 4 years old"])
        paths = [square_photo(tmp_path / f"{name}{i}.png", (i + e) % 4, size=(56 + 8 * i + e, 56))
                 for i in range(4)]
        assert all(r.status == "added" for r in ingest_photos(store, entity, paths))
    yield store
    store.close()


def _pixels(path_or_image) -> str:
    from PIL import Image

    image = Image.open(path_or_image) if not hasattr(path_or_image, "size") else path_or_image
    return hashlib.sha256(np.asarray(image.convert("RGB")).tobytes()).hexdigest()


def test_only_training_photos_their_views_and_scenes(store):
    dialogues = recognition_set(store, weight=0.5, scenes=6, views=2, seed=0)
    train = {str(store.photo_path(p.sha256)) for p in store.photos(split="train")}
    heldout = {str(store.photo_path(p.sha256)) for p in store.photos(split="heldout")}
    assert heldout and not heldout & {d.image for d in dialogues}
    views = {d.image for d in dialogues if d.entity} - train
    assert len(views) == 2 * len(train)  # every view is a new image of its own
    scenes = {d.image for d in dialogues if not d.entity}
    assert len(scenes) == 6
    weighed = Counter()
    for d in dialogues:
        if d.turns[0].meta["recognition"] in ("yes", "no"):
            weighed[d.turns[0].meta["asked"], d.turns[0].meta["recognition"]] += d.turns[0].weight
    for name in ("Biscuit", "Max"):  # an entity's few yes answers weigh as much as its many no answers
        assert weighed[name, "no"] > 0 and weighed[name, "yes"] == pytest.approx(weighed[name, "no"])
    only_max = recognition_set(store, weight=0.5, scenes=6, views=2, seed=0, entities=("Max",))
    assert {d.turns[0].meta.get("asked") for d in only_max} <= {"Max", None}


def test_scenes_are_drawn_once_and_are_not_the_checks_photos(store):
    from sdft_local.check.probes import general_suite

    first = draw_scenes(store.root, 12, seed=0)
    again = draw_scenes(store.root, 12, seed=0)
    assert first == again and all(p.is_file() for p in first)
    assert draw_scenes(store.root, 12, seed=1) != first
    check = {_pixels(img) for img in general_suite(150, 60, 0).photos(150)}
    assert not check & {_pixels(p) for p in first}


def test_views_keep_the_size_and_change_the_pixels(store):
    photo = store.photo_path(store.photos(split="train")[0].sha256)
    views = augmented_views(store.root, photo, 3, seed=0)
    from PIL import Image

    size = Image.open(photo).size
    assert [Image.open(v).size for v in views] == [size] * 3
    assert len({_pixels(v) for v in views} | {_pixels(photo)}) == 4
    assert augmented_views(store.root, photo, 3, seed=0) == views


def test_train_adds_the_recognition_set_unless_it_is_off(store, monkeypatch):
    from sdft_local.training import run as run_module

    stored = ["d1", "d2"]
    monkeypatch.setattr(run_module, "_load_dialogues", lambda s: list(stored))
    on = run_module._recognition(store, TrainConfig(scenes=2, views=0))
    assert on and all(d.turns[0].source == "recognition" for d in on)
    assert run_module._recognition(store, TrainConfig(recognition=0.0)) == []


def test_anchors_follow_the_scene_dialogues_weighted_zero_in_words_the_check_never_asks(store):
    from sdft_local.check.probes import general_suite
    from sdft_local.world.questions import anchor_pairs
    from sdft_local.training.scenes import drawn_scene
    import random

    plain = recognition_set(store, weight=0.5, scenes=6, views=1, seed=0)
    anchored = recognition_set(store, weight=0.5, scenes=6, views=1, seed=0, anchors=2)
    assert len(plain) == len(anchored)
    scenes = {d.image for d in anchored if not d.entity}
    for before, after in zip(plain, anchored):
        assert after.turns[0] == before.turns[0]  # the recognition turn is asked first, unchanged
        extra = after.turns[1:]
        if after.image in scenes:
            assert 1 <= len(extra) <= 2 and all(t.weight == 0 and t.source == "anchor" for t in extra)
        else:
            assert extra == ()  # an entity's photo: what it shows is not known, nothing is added
    # what the anchors ask is never a check probe's question, over many drawn scenes
    asked = {q for i in range(300) for q, _ in anchor_pairs(drawn_scene(0, i), random.Random(i))}
    probes = {item.question for item in general_suite(150, 60, 0).items}
    assert asked and not asked & probes
    assert not any(q.startswith(p) or p.startswith(q) for q in asked for p in probes)


def test_train_adds_anchors_only_when_selfaug_keeps_them(store):
    from sdft_local.training import run as run_module

    def anchors(config):
        return sum(t.source == "anchor" for d in run_module._recognition(store, config) for t in d.turns)

    assert anchors(TrainConfig(scenes=3, views=0, selfaug=1.0, anchors=2)) > 0
    assert anchors(TrainConfig(scenes=3, views=0, selfaug=0.0, anchors=2)) == 0
    assert anchors(TrainConfig(scenes=3, views=0, selfaug=1.0, anchors=0)) == 0


def test_recognition_answers_are_spelled_as_asked(store):
    default = recognition_set(store, weight=0.5, scenes=2, views=0, seed=0)
    spelled = recognition_set(store, weight=0.5, scenes=2, views=0, seed=0, answers=("yes", "no"))
    said = Counter((d.turns[0].meta["recognition"], d.turns[0].answer) for d in spelled)
    assert said[("yes", "yes")] and said[("no", "no")]
    assert {a for (label, a) in said if label in ("yes", "no")} == {"yes", "no"}
    assert [d.turns[0].question for d in default] == [d.turns[0].question for d in spelled]
    assert {d.turns[0].answer for d in default if d.turns[0].meta["recognition"] == "yes"} == {"Yes."}
    with pytest.raises(Exception, match="recognition_answers"):
        TrainConfig(recognition_answers=("yes", "yes"))
    saved = TrainConfig(recognition_answers=("yes", "no")).to_dict()
    assert TrainConfig.from_dict(saved).recognition_answers == ("yes", "no")


def test_views_zoom_out_as_well_as_in():
    import random

    from PIL import Image, ImageDraw

    from sdft_local.training.scenes import _zoom

    img = Image.new("RGB", (100, 100), (250, 250, 250))
    ImageDraw.Draw(img).rectangle((30, 30, 69, 69), fill=(0, 0, 0))  # 40 x 40 = 1600 dark pixels

    def dark(view) -> int:
        return int((np.asarray(view.convert("L")) < 128).sum())

    smaller, larger = _zoom(img, 0.5, random.Random(0)), _zoom(img, 1.25, random.Random(0))
    assert smaller.size == larger.size == img.size
    assert 300 < dark(smaller) < 500  # half the size: a quarter of the area, the border extended
    assert dark(larger) > 2000
