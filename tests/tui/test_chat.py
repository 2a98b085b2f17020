"""Try it: the base and the tuned model answer about a photo, side by side."""

import pytest

from sdft_tui.app import make_app
from sdft_tui.messages import StageFinished, StageProgressed
from sdft_tui.screens.chat import ChatScreen
from sdft_tui.stages import ChatAnswered

from .conftest import screen_text, wait_for

pytestmark = pytest.mark.anyio


async def test_base_and_tuned_answers_side_by_side(trained_project, recorder):
    heldout = trained_project.photos(split="heldout")[0]
    app = make_app()
    async with app.run_test(size=(140, 44), message_hook=recorder) as pilot:
        await pilot.press("y")
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        assert screen.query_one("#photo").value == str(trained_project.photo_path(heldout.sha256))
        await pilot.press("enter")
        await wait_for(pilot, lambda: recorder.of(StageFinished), timeout=120)
        base_pane = str(screen.query_one("#answer-base").content)
        tuned_pane = str(screen.query_one("#answer-tuned").content)
        # the cursor is back on the question: the next one is asked, not typed into the path
        assert app.focused is screen.query_one("#question")
        assert "Tuned model (run-1)" in screen_text(app)
        screen.query_one("#question").value = "What is this?"
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(recorder.of(StageFinished)) == 2, timeout=120)
        history = str(screen.query_one("#answer-tuned").content)
    base, tuned = [m.record for m in recorder.of(StageProgressed) if isinstance(m.record, ChatAnswered)][:2]
    assert (base.model, base.student) == ("base", "torch:tiny-random")
    assert tuned.model == "tuned" and tuned.student.startswith("torch:") and "adapter" in tuned.student
    assert base_pane == f"Q: Who is this?\n{base.answer or '(empty answer)'}\n{base.student}"
    assert tuned_pane == f"Q: Who is this?\n{tuned.answer or '(empty answer)'}\n{tuned.student}"
    assert history.startswith(tuned_pane) and "Q: What is this?" in history  # the conversation is kept


async def test_the_photo_picker_lists_photos_by_name_held_out_first(trained_project):
    app = make_app()
    async with app.run_test(size=(140, 44)) as pilot:
        await pilot.press("y")
        screen = app.screen
        options = screen._photo_options()
        labels = [label for label, _ in options]
        assert len(options) == len(trained_project.photos())
        assert labels[0].startswith("Biscuit · held out · ") and all("/" not in l for l in labels)
        path = options[-1][1]
        screen.query_one("#photo-pick").value = path
        await pilot.pause()
        assert screen.query_one("#photo").value == path and app.focused is screen.query_one("#question")


async def test_a_missing_photo_is_refused_before_loading_anything(trained_project, tmp_path):
    app = make_app()
    async with app.run_test(size=(140, 44)) as pilot:
        await pilot.press("y")
        app.screen.query_one("#photo").value = str(tmp_path / "nope.jpg")
        app.screen.query_one("#question").focus()
        await pilot.press("enter")
        [note] = list(app._notifications)
        assert "nope.jpg: no such file" in note.message and not app.screen.running


def test_the_facts_card_goes_to_both_models_as_their_system_message(trained_project, monkeypatch):
    from sdft_tui import stages

    seen, real = [], stages._answer

    def spy(side, student, image, messages, max_new_tokens):
        seen.append((side, messages))
        return real(side, student, image, messages, 4)

    monkeypatch.setattr(stages, "_answer", spy)
    image = str(trained_project.photo_path(trained_project.photos()[0].sha256))
    answered = [r for r in stages.chat_records(trained_project, image, "Who is this?", facts_card=True)
                if isinstance(r, ChatAnswered)]
    assert [a.model for a in answered] == ["base", "tuned"]
    for side, messages in seen:
        assert messages[0]["role"] == "system" and "Biscuit" in messages[0]["content"]
        assert messages[-1] == {"role": "user", "content": "Who is this?"}
    list(stages.chat_records(trained_project, image, "Who is this?"))
    assert seen[-1][1] == [{"role": "user", "content": "Who is this?"}]
