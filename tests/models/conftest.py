"""Photos and a loaded processor for the model tests (small, deterministic)."""

from __future__ import annotations

import numpy as np
import pytest


def make_photo(seed: int, width: int = 112, height: int = 84):
    """A deterministic noisy RGB image; different seeds give different pixels."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    return Image.fromarray((rng.random((height, width, 3)) * 255).astype(np.uint8))


@pytest.fixture(scope="session")
def photo():
    return make_photo(0)


@pytest.fixture(scope="session")
def processor(tiny_model_dir):
    from sdft_local.models.processor import load_processor

    return load_processor(tiny_model_dir)
