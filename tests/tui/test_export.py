"""The export screen: a verified PEFT export through the worker, recorded in the store; the gate."""

import json

import pytest

from sdft_tui.app import make_app
from sdft_tui.messages import StageFinished, StageProgressed
from sdft_tui.screens.export import ExportScreen

from .conftest import screen_text, wait_for

pytestmark = pytest.mark.anyio


async def open_export(pilot, out):
    await pilot.press("e")
    screen = pilot.app.screen
    assert isinstance(screen, ExportScreen)
    screen.query_one("#out").value = str(out)
    return screen


async def test_a_peft_export_is_verified_and_recorded(trained_project, tmp_path, recorder):
    from sdft_local.export import CheckFinished

    out = tmp_path / "exported"
    app = make_app()
    async with app.run_test(size=(140, 44), message_hook=recorder) as pilot:
        await open_export(pilot, out)
        assert "Run run-1 (id 1, torch, finished) · latest check: unchecked" in screen_text(app)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: recorder.of(StageFinished), timeout=120)
        text = screen_text(app)
    checks = [m.record.check for m in recorder.of(StageProgressed) if isinstance(m.record, CheckFinished)]
    assert checks and all(c.passed for c in checks)
    assert f"peft yes {out}" in text and f"Done: 1 format(s) in {out}, all verified" in text
    manifest = json.loads((out / "manifest.json").read_text())
    assert (out / "adapter_model.safetensors").is_file() and manifest
    [row] = list(trained_project.db.query("SELECT format, verified, path FROM exports"))
    assert row == {"format": "peft", "verified": 1, "path": str(out)}


async def test_a_failed_check_blocks_the_export_unless_forced(trained_project, tmp_path, recorder):
    with trained_project.transaction():
        trained_project.db["checks"].insert(
            {"run_id": 1, "report": "{}", "verdict": "fail", "created": 0.0})
    out = tmp_path / "forced"
    app = make_app()
    async with app.run_test(size=(140, 44), message_hook=recorder) as pilot:
        screen = await open_export(pilot, out)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: recorder.of(StageFinished), timeout=60)
        [note] = list(app._notifications)
        assert note.title == "Gate failed" and "failed its latest check" in note.message
        assert not out.exists()
        screen.query_one("#force").value = True
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: len(recorder.of(StageFinished)) == 2, timeout=120)
    assert json.loads((out / "manifest.json").read_text())
    [row] = list(trained_project.db.query("SELECT forced FROM exports"))
    assert row["forced"] == 1


async def test_no_format_chosen_is_refused_in_the_form(trained_project, tmp_path):
    app = make_app()
    async with app.run_test(size=(140, 44)) as pilot:
        screen = await open_export(pilot, tmp_path / "none")
        screen.query_one("#formats").deselect_all()
        await pilot.press("ctrl+s")
        assert "unknown export format (none)" in screen_text(app)
        assert not screen.running
