"""Fixtures for the terminal-app tests: a tiny-model project with photos, and no nondeterminism.

Every test gets its own SDFT_HOME (root conftest) and HOME, a fixed clock for rows the store
writes, and photos drawn from fixed seeds, so screens (and SVG snapshots) are the same on every run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

FIXED_TIME = 1_735_689_600.0  # 2025-01-01 00:00 UTC


@pytest.fixture()
def anyio_backend() -> str:
    """Async tests (marked `anyio`) run on asyncio, Textual's event loop."""
    return "asyncio"


@pytest.fixture(autouse=True)
def deterministic(monkeypatch, tmp_path, sdft_home):
    """Fixed clock for stored rows, an empty HOME, no project preselected by the environment."""
    import sdft_local.store as store_module

    class FixedClock:
        @staticmethod
        def time() -> float:
            return FIXED_TIME

    monkeypatch.setattr(store_module, "time", FixedClock)
    home = tmp_path / "user_home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SDFT_PROJECT", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return sdft_home


def draw_photo(path: Path, seed: int, size=(96, 72)) -> Path:
    """A picture of coloured blocks: distinct per seed (also to perceptual hashing)."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, size=(3, 4, 3), dtype=np.uint8)
    arr = np.kron(blocks, np.ones((size[1] // 3 + 1, size[0] // 4 + 1, 1), dtype=np.uint8))
    Image.fromarray(arr[: size[1], : size[0]], "RGB").save(path)
    return path


@pytest.fixture()
def photo_dir(tmp_path) -> Path:
    """Six good photos and one broken file, in a folder."""
    folder = tmp_path / "pictures"
    folder.mkdir()
    for i in range(6):
        draw_photo(folder / f"biscuit_{i}.png", seed=i)
    (folder / "broken.jpg").write_bytes(b"this is not a jpeg")
    return folder


def make_pets(photo_dir: Path, settings: dict | None = None, photos: int = 5):
    """Project 'pets' on the tiny model, current, with Biscuit (2 facts, 5 photos, 2 held out)."""
    from sdft_local.ingest import ingest_photos
    from sdft_local.store import Store, set_current_project

    store = Store.create("pets", "tiny-random", {"heldout_fraction": 0.3, **(settings or {})})
    set_current_project("pets")
    biscuit = store.add_entity("Biscuit", "dog", ["4 years old", "loves tennis balls"])
    files = sorted(photo_dir.glob("biscuit_*.png"))[:photos]
    assert all(r.status == "added" for r in ingest_photos(store, biscuit, files))
    return store


@pytest.fixture()
def project(photo_dir):
    store = make_pets(photo_dir)
    yield store
    store.close()


# Small stages: one dialogue per photo, two optimizer steps.
STAGE_SETTINGS = {"dialogue": {"variants": 1}, "train": {"steps": 2, "checkpoint_every": 0}}


@pytest.fixture(scope="session")
def trained_template(tmp_path_factory) -> Path:
    """'pets' with dialogues (template turn 3) and one finished 2-step run, built once per session."""
    from sdft_local.synth import SynthConfig, project_config, synthesize_project
    from sdft_local.training import train

    root = tmp_path_factory.mktemp("trained")
    photos = root / "pictures"
    photos.mkdir()
    for i in range(4):
        draw_photo(photos / f"biscuit_{i}.png", seed=i)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SDFT_HOME", str(root / "home"))
        mp.setenv("HF_HUB_OFFLINE", "1")
        store = make_pets(photos, STAGE_SETTINGS, photos=4)  # 3 train, 1 held out
        config = SynthConfig(project_config(store).dialogue, caption_tokens=12,
                             negative_tokens=8)  # short answers: the tiny model's text is noise anyway
        list(synthesize_project(store, config))
        list(train(store))
        store.close()
    return root / "home" / "projects" / "pets"


@pytest.fixture()
def trained_project(trained_template, sdft_home):
    """A private copy of the trained project, current in this test's SDFT_HOME."""
    import shutil

    from sdft_local.store import Store, set_current_project

    shutil.copytree(trained_template, sdft_home / "projects" / "pets")
    set_current_project("pets")
    store = Store.open("pets")
    yield store
    store.close()


class Recorder:
    """Collects the messages an app posts (pass `recorder` as run_test's message_hook).

    The hook sees a message at every pump it reaches while bubbling; each is kept once.
    """

    def __init__(self):
        self.messages = []
        self._seen: set[int] = set()

    def __call__(self, message) -> None:
        if id(message) not in self._seen:
            self._seen.add(id(message))
            self.messages.append(message)

    def of(self, kind) -> list:
        return [m for m in self.messages if isinstance(m, kind)]


@pytest.fixture()
def recorder() -> Recorder:
    return Recorder()


async def wait_for(pilot, condition, timeout: float = 20.0) -> None:
    """Let the app run until `condition()` holds (worker threads finish on their own time)."""
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.05)
    await asyncio.sleep(0)


def screen_text(app) -> str:
    """Everything the visible screen shows, as plain text."""
    from textual.widgets import DataTable, Label, Static

    parts = []
    for widget in app.screen.query("*"):
        if not all(node.display for node in widget.ancestors_with_self if hasattr(node, "display")):
            continue
        if isinstance(widget, (Label, Static)):
            parts.append(str(widget.content))
        elif isinstance(widget, DataTable):
            parts.extend(" ".join(str(c) for c in widget.get_row_at(i)) for i in range(widget.row_count))
    return "\n".join(parts)
