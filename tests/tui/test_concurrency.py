"""The app and the `sdft` CLI writing the same project at the same time lose and corrupt nothing."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import sdft_local.ingest
from sdft_local.store import Store, heldout_count
from sdft_tui.app import make_app
from sdft_tui.messages import StageFinished, StageProgressed
from sdft_tui.screens.add_photos import AddPhotosScreen
from sdft_tui.screens.entity import EntityScreen

from .conftest import draw_photo, screen_text, wait_for

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.anyio


def batch(folder: Path, seed: int, n: int, size=(96, 72)) -> Path:
    folder.mkdir()
    for i in range(n):
        draw_photo(folder / f"{folder.name}_{i:02}.png", seed=seed + i, size=size)
    return folder


def cli(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "sdft_local.cli", *args, "--project", "pets"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


async def test_app_and_cli_add_to_one_project_at_once(project, tmp_path, recorder, monkeypatch):
    from_app = batch(tmp_path / "app", 200, 12)
    from_cli = batch(tmp_path / "cli", 400, 16, size=(800, 600))
    proc = cli("photos", "add", "Biscuit", str(from_cli))
    overlap = {}

    # The app's batch starts once the CLI has stored its first photo, while it is still adding.
    real = sdft_local.ingest.normalize_photo

    def after_cli_started(path, config):
        if not overlap:
            with Store(project.root) as probe:
                while len(probe.photos()) == 5 and time.monotonic() < start + 60:
                    time.sleep(0.01)
            overlap["cli_still_running"] = proc.poll() is None
        return real(path, config)

    monkeypatch.setattr(sdft_local.ingest, "normalize_photo", after_cli_started)
    app = make_app()
    async with app.run_test(size=(120, 36), message_hook=recorder) as pilot:
        start = time.monotonic()
        app.push_screen(AddPhotosScreen("Biscuit", start=tmp_path))
        await pilot.pause()
        app.screen.query_one("#path").value = str(from_app)
        await pilot.press("enter")
        await wait_for(pilot, lambda: recorder.of(StageFinished), timeout=120)
        assert proc.wait(timeout=120) == 0, proc.stderr.read()
        await pilot.press("escape")
        await pilot.press("enter")  # open Biscuit: the screen reads what both wrote
        assert isinstance(app.screen, EntityScreen)
        shown = screen_text(app)

    assert overlap == {"cli_still_running": True}
    assert [m.record.status for m in recorder.of(StageProgressed)] == ["added"] * 12
    with Store.open("pets") as store:
        photos = store.photos()
        on_disk = {p.stem for p in (store.root / "photos").glob("*/*.png")}
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert len(photos) == 5 + 12 + 16
    assert on_disk == {p.sha256 for p in photos}
    assert {p.source_name for p in photos} >= {f"app_{i:02}.png" for i in range(12)}
    assert {p.source_name for p in photos} >= {f"cli_{i:02}.png" for i in range(16)}
    heldout = heldout_count(33, 0.3)
    assert sum(p.split == "heldout" for p in photos) == heldout
    assert f"33 photos: {33 - heldout} for training, {heldout} held out" in shown


async def test_an_entity_added_by_the_cli_while_the_form_is_open(project):
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("a", *"Rex", "enter", *"cat")
        proc = cli("entity", "add", "Mochi", "--kind", "plant")
        assert proc.wait(timeout=60) == 0, proc.stderr.read()
        await pilot.press("ctrl+s")
        app.screen.reload()
        text = screen_text(app)
    assert "Rex cat" in text and "Mochi plant" in text and "Biscuit dog" in text
    with Store.open("pets") as store:
        assert sorted(e.name for e in store.entities()) == ["Biscuit", "Mochi", "Rex"]
