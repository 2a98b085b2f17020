"""The dialogues screen: synthesize through the worker, review, edit, reject, regenerate."""

import pytest

from sdft_local.synth import list_dialogues
from sdft_tui.app import make_app
from sdft_tui.messages import StageFinished, StageProgressed
from sdft_tui.screens.dialogues import DialoguesScreen
from sdft_tui.screens.turn_edit import TurnEditScreen

from .conftest import STAGE_SETTINGS, make_pets, screen_text, wait_for

pytestmark = pytest.mark.anyio


async def test_synthesize_then_review_the_three_turns(photo_dir, recorder):
    from sdft_local.synth import SynthFinished

    project = make_pets(photo_dir, STAGE_SETTINGS, photos=2)  # two training photos, none held out
    app = make_app()
    async with app.run_test(size=(140, 40), message_hook=recorder) as pilot:
        await pilot.press("d")
        assert isinstance(app.screen, DialoguesScreen)
        assert "0 dialogues" in screen_text(app)
        await pilot.press("s")
        await wait_for(pilot, lambda: recorder.of(StageFinished), timeout=120)
        [finished] = [m.record for m in recorder.of(StageProgressed)
                      if isinstance(m.record, SynthFinished)]
        text = screen_text(app)
        assert "2 dialogues (2 used for training) · turn 3 by template" in text
        assert "1. caption (foundation) · weight 0.2 · by torch:tiny-random" in text
        assert "2. negative (contrastive) · weight 0.3 · by template" in text  # a random model never says no
        assert "3. entity (knowledge) · weight 0.5 · by template" in text
    stored = list_dialogues(project)
    assert finished.dialogues == len(stored) == 2 and finished.photos == 2
    assert {d.photo_id for d in stored} == {p.id for p in project.photos(split="train")}
    assert recorder.of(StageFinished)[0].cancelled is False
    project.close()


async def test_edit_reject_and_regenerate_write_to_the_store(trained_project, recorder):
    first = list_dialogues(trained_project)[0]
    app = make_app()
    async with app.run_test(size=(140, 40), message_hook=recorder) as pilot:
        await pilot.press("d", "e")
        assert isinstance(app.screen, TurnEditScreen)
        app.screen.query_one("#answer").text = "This is Biscuit, the dog with the red collar."
        await pilot.press("ctrl+s")
        assert "A: This is Biscuit, the dog with the red collar." in screen_text(app)
        await pilot.press("x")
        assert "3 dialogues (2 used for training)" in screen_text(app)
        await pilot.press("r")
        await wait_for(pilot, lambda: recorder.of(StageFinished), timeout=120)
    again = next(d for d in list_dialogues(trained_project) if d.photo_id == first.photo_id)
    assert again.status == "ok" and again.provenance["generation"] == 1
    assert again.turns[2].answer != "This is Biscuit, the dog with the red collar."
    assert first.provenance.get("generation", 0) == 0


async def test_synthesis_without_training_photos_reports_the_library_message(project):
    project.remove_entity("Biscuit")
    project.add_entity("Rex", "cat")
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("d", "s")
        await wait_for(pilot, lambda: app._notifications)
        [note] = list(app._notifications)
        assert note.title == "Not found" and note.message.startswith("no training photos for Rex")


async def test_backend_settings_are_validated_and_saved_like_the_cli(project, tmp_path):
    from sdft_local.synth import backend_from_settings
    from sdft_tui.screens.synth_settings import SynthSettingsScreen

    gguf = tmp_path / "writer.gguf"
    gguf.write_bytes(b"GGUF")
    app = make_app()
    async with app.run_test(size=(140, 50)) as pilot:
        await pilot.press("d", "b")
        form = app.screen
        assert isinstance(form, SynthSettingsScreen)
        form.query_one("#name").value = "llama-cpp"
        await pilot.press("ctrl+s")
        assert "backend 'llama-cpp' needs a model" in screen_text(app)
        form.query_one("#model").value = str(gguf)
        form.query_one("#variants").value = "2"
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, DialoguesScreen)
        assert "turn 3 by llama-cpp" in screen_text(app)
        await pilot.press("b")
        form = app.screen
        form.query_one("#name").value = "openai"
        form.query_one("#url").value = "http://127.0.0.1:8080/v1"
        form.query_one("#endpoint-model").value = "writer"
        form.query_one("#key-env").value = "sk-live-123"
        await pilot.press("ctrl+s")
        assert "is not an environment variable name" in screen_text(app)
        form.query_one("#key-env").value = "WRITER_KEY"
        await pilot.press("ctrl+s")
    settings = project.project.settings
    backend = backend_from_settings(settings)
    assert (backend.name, backend.model) == ("openai", str(gguf))  # the form kept what it showed
    assert (backend.endpoint.base_url, backend.endpoint.api_key_env) == ("http://127.0.0.1:8080/v1",
                                                                         "WRITER_KEY")
    assert backend.endpoint.send_photos is False and settings["dialogue"]["variants"] == 2


async def test_the_review_shows_the_dialogues_photo(trained_project):
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("d", "down")
        screen = app.screen
        record = screen.selected
        preview = screen.query_one("#dialogue-photo")
        assert preview.query_one("#photo-image").image == record.image
        assert f"{record.entity}, photo {record.photo_id}" in screen_text(app)


def test_review_shows_why_the_model_answers_were_rejected():
    from types import SimpleNamespace

    from sdft_local.dialogue.types import Turn
    from sdft_tui.widgets.dialogue_view import dialogue_text

    rejected = ["try 1: invents clothing not in the facts or caption (shirt)", "try 2: does not name Biscuit"]
    turns = (Turn("caption", "Describe it.", "A dog.", 0.2), Turn("negative", "A teapot?", "No.", 0.3),
             Turn("entity", "Who is this?", "This is Biscuit.", 0.5, "template",
                  {"attempts": 2, "fallback": "template", "rejected": rejected}))
    record = SimpleNamespace(id=7, entity="Biscuit", photo_id=3, split="train", variant=0, status="ok",
                             turns=turns, provenance={"student": "torch:demo", "synth_backend": "llama-cpp:x"})
    shown = dialogue_text(record).plain
    assert "the template wrote this one" in shown
    assert all(line in shown for line in rejected)
    kept = SimpleNamespace(**{**vars(record), "turns": turns[:2] + (
        Turn("entity", "Who is this?", "This is Biscuit.", 0.5, "llama-cpp:x", {"attempts": 2, "rejected": rejected[:1]}),)})
    assert "Kept after rejected tries" in dialogue_text(kept).plain and "template wrote" not in dialogue_text(kept).plain
