"""Fixtures for the training tests: tiny photos, SDFT dialogues about them, a processor, and a
"learnable" tiny model (larger init scale, so its logits can move far enough to show learning).

Photos are 56×56 (4 image tokens), dialogues about 120 tokens: every step stays in the tens of
milliseconds on a busy 2-core machine.
"""

from __future__ import annotations

import numpy as np
import pytest

from sdft_local.dialogue.types import Dialogue, Turn

COLOURS = ("red", "green", "blue", "yellow")
RGB = ((200, 40, 40), (40, 200, 40), (40, 40, 200), (210, 210, 40))


def square_photo(path, i: int, size=(56, 56)):
    from PIL import Image

    a = np.zeros((size[1], size[0], 3), np.uint8) + np.array(RGB[i], np.uint8)
    a[8:28, 8:28] = 255 - np.array(RGB[i], np.uint8)
    Image.fromarray(a).save(path)
    return path


def sdft_dialogue(image, i: int, variant: int = 0, extra: str = "") -> Dialogue:
    return Dialogue(image=str(image), entity="Biscuit", variant=variant, turns=(
        Turn("caption", "Describe the photo." if variant else "What is in this photo?",
             f"A white square on a {COLOURS[i]} background.{extra}", 0.2),
        Turn("negative", "Is there a teapot here?", "No, there is no teapot.", 0.3),
        Turn("entity", "Who is this?" if variant else "Do you know who this is?",
             "This is Biscuit, a dog who loves tennis balls.", 0.5),
    ))


@pytest.fixture(scope="session")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    return [square_photo(folder / f"p{i}.png", i) for i in range(len(COLOURS))]


@pytest.fixture(scope="session")
def dialogues(photos):
    """Two photos × two variants, with different answer lengths (so examples differ in size)."""
    return [sdft_dialogue(photos[i], i, v, extra=" It is sunny." * i) for i in range(2) for v in range(2)]


@pytest.fixture(scope="session")
def processor(tiny_model_dir):
    from sdft_local.models.processor import load_processor

    return load_processor(tiny_model_dir)


@pytest.fixture(scope="session")
def learnable_model_dir(tmp_path_factory):
    """The tiny architecture with an explicit init scale of 0.1. The learning test must not hang on
    the default: at 0.02 the tied output layer caps the reachable CE near 4 nats (|h|·|e| is too
    small), so no adapter could halve the loss."""
    from sdft_local.models.tiny import TinySpec, build_tiny_qwen2vl

    return build_tiny_qwen2vl(tmp_path_factory.mktemp("models") / "tiny-learnable",
                              spec=TinySpec(init_std=0.1))


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """These shapes are tiny: one intra-op thread avoids OpenMP spin-waiting against the other
    processes on a shared 2-core machine (10× slower steps otherwise). Results do not change."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
