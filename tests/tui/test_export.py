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
    from sdft_local.export import VerificationFinished

    out = tmp_path / "exported"
    app = make_app()
    async with app.run_test(size=(140, 44), message_hook=recorder) as pilot:
        await open_export(pilot, out)
        assert "Run run-1 (id 1, torch, finished) · latest check: unchecked" in screen_text(app)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: recorder.of(StageFinished), timeout=120)
        text = screen_text(app)
    checks = [m.record.check for m in recorder.of(StageProgressed) if isinstance(m.record, VerificationFinished)]
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
        assert "tick “force" in note.message and "--force" not in note.message  # the app's control
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


async def test_warnings_stay_in_the_screen_and_the_folder_is_remembered(trained_project, tmp_path, recorder):
    out = tmp_path / "gguf"
    app = make_app()
    async with app.run_test(size=(140, 44), message_hook=recorder) as pilot:
        screen = await open_export(pilot, out)
        formats = screen.query_one("#formats")
        formats.deselect("peft")
        formats.select("gguf")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: recorder.of(StageFinished), timeout=180)
        text = " ".join(screen_text(app).split())
        [finished] = [m.record for m in recorder.of(StageProgressed) if type(m.record).__name__ == "ExportFinished"]
        warnings = finished.result.warnings
        manifest = json.loads((out / "manifest.json").read_text())
        if warnings:  # the tiny random model loses accuracy in Q8_0 (see tests/export)
            assert "all verified" not in text and "outside their tolerance" in text
            assert "Warnings (kept in each format's manifest.json):" in text and warnings[0].split(":")[0] in text
            assert manifest["verification"]["verified"] is False and manifest["verification"]["warnings"]
        else:
            assert "all verified" in text and manifest["verification"]["verified"] is True
        await pilot.press("escape")
        await pilot.press("e")  # the form opens on the last export folder
        assert app.screen.query_one("#out").value == str(out)


def test_library_advice_speaks_of_the_apps_controls():
    from sdft_tui.wording import in_app_words

    assert "tick “force: export despite a failed check”" in in_app_words(
        "run 'r' (id 1) failed its latest check; look at `sdft check --run 1`, or pass --force to export it anyway")
    assert "--" not in in_app_words("/x already exists; pass --overwrite to replace it, or choose another --out")
    assert "press b" in in_app_words("for richer answers use --backend llama-cpp --synth-model MODEL.gguf")
