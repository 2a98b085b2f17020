"""Fixtures for the store, ingest and CLI tests: an isolated SDFT_HOME and photo factories."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image


@pytest.fixture()
def home(tmp_path, monkeypatch):
    root = tmp_path / "home"
    monkeypatch.setenv("SDFT_HOME", str(root))
    monkeypatch.delenv("SDFT_PROJECT", raising=False)
    return root


@pytest.fixture()
def store(home):
    from sdft_local.store import Store

    s = Store.create("proj", "tiny-random")
    yield s
    s.close()


def photo(path, seed=0, size=(64, 48), mode="RGB", fmt=None, **save):
    """A distinct random-ish picture (blocks of colour, so perceptual hashes differ by seed)."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, size=(4, 4, 3), dtype=np.uint8)
    arr = np.kron(blocks, np.ones((size[1] // 4 + 1, size[0] // 4 + 1, 1), dtype=np.uint8))
    im = Image.fromarray(arr[: size[1], : size[0]], "RGB")
    if mode != "RGB":
        im = im.convert(mode)
    im.save(path, format=fmt, **save)
    return path
