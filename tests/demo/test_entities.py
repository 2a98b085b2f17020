"""Demo entities: enough distinct, deterministic photos of Biscuit and of its hard negative Pixel."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from PIL import Image

from sdft_local.demo.entities import BISCUIT, DEMO_ENTITIES, PIXEL, entity_photo, get_entity, write_entity_photos
from sdft_local.ingest import dhash, hamming


@pytest.mark.parametrize("entity, minimum", [(BISCUIT, 12), (PIXEL, 8)])
def test_photos_are_many_distinct_pngs(tmp_path, entity, minimum):
    paths = write_entity_photos(entity.name, tmp_path / entity.name)
    assert len(paths) >= minimum and all(p.suffix == ".png" and p.is_file() for p in paths)
    images = [Image.open(p) for p in paths]
    assert {im.size for im in images} == {(112, 112)} and {im.format for im in images} == {"PNG"}
    hashes = [dhash(im) for im in images]
    # the ingest flags photos within 6 bits as near duplicates: every pair must stay clear of that
    assert min(hamming(a, b) for a, b in itertools.combinations(hashes, 2)) > 6


def test_photos_are_deterministic(tmp_path):
    first = write_entity_photos("Biscuit", tmp_path / "a")
    second = write_entity_photos("biscuit", tmp_path / "b")
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    assert np.array_equal(np.asarray(entity_photo(PIXEL, 3)), np.asarray(Image.open(
        write_entity_photos("Pixel", tmp_path / "c")[3])))


def test_entities_look_different():
    # Biscuit is orange with blue spots, Pixel grey: their mean colours are far apart
    def mean_rgb(entity):
        return np.mean([np.asarray(entity_photo(entity, i), np.float32).reshape(-1, 3).mean(0) for i in range(6)], 0)

    biscuit, pixel = mean_rgb(BISCUIT), mean_rgb(PIXEL)
    assert biscuit[0] - biscuit[2] > pixel[0] - pixel[2] + 5  # redder than blue, unlike the grey cat


def test_entities_have_facts_and_names():
    assert [e.name for e in DEMO_ENTITIES] == ["Biscuit", "Pixel"]
    assert BISCUIT.kind == "dog" and PIXEL.kind == "cat"
    assert "Biscuit is 4 years old." in BISCUIT.fact_sentences() and len(PIXEL.facts) >= 3
    assert get_entity("PIXEL") is PIXEL
    with pytest.raises(ValueError, match="Biscuit"):
        get_entity("Rex")


def test_held_out_photos_continue_the_set(tmp_path):
    own = write_entity_photos("Biscuit", tmp_path / "own")
    held = write_entity_photos("Biscuit", tmp_path / "held", start=BISCUIT.photos, count=4)
    assert len(held) == 4 and held[0].name == f"biscuit_{BISCUIT.photos:02d}.png"
    own_hashes = [dhash(Image.open(p)) for p in own]
    assert all(min(hamming(dhash(Image.open(p)), h) for h in own_hashes) > 6 for p in held)
    with pytest.raises(ValueError, match="count=0"):
        write_entity_photos("Biscuit", tmp_path / "none", count=0)


def test_lookalikes_are_the_same_species_but_not_the_entity():
    from sdft_local.demo.entities import lookalike, lookalike_photo

    for i in range(8):
        other = lookalike(BISCUIT, i)
        assert other.kind == "dog" and other.look != BISCUIT.look
        changed = [other.look.body != BISCUIT.look.body, other.look.pattern != BISCUIT.look.pattern
                   or other.look.pattern_rgb != BISCUIT.look.pattern_rgb,
                   other.look.accessory != BISCUIT.look.accessory or other.look.accessory_rgb != BISCUIT.look.accessory_rgb]
        assert sum(changed) >= 2
    assert np.array_equal(np.asarray(lookalike_photo("Biscuit", 2)), np.asarray(lookalike_photo("Biscuit", 2)))
    assert lookalike_photo("Pixel", 0).size == (112, 112)
