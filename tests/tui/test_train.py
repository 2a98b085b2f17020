"""The train screen: validated settings, a live run (progress, loss per turn), stop and resume."""

import threading

import pytest

from sdft_local.training.runs import get_run, list_runs
from sdft_tui.app import make_app
from sdft_tui.screens.confirm import ConfirmScreen
from sdft_tui.messages import StageFinished, StageProgressed
from sdft_tui.screens.train import TrainScreen

from .conftest import screen_text, wait_for

pytestmark = pytest.mark.anyio


def records_of(recorder, kind):
    return [m.record for m in recorder.of(StageProgressed) if isinstance(m.record, kind)]


async def open_train(pilot):
    await pilot.press("t")
    assert isinstance(pilot.app.screen, TrainScreen)
    return pilot.app.screen


async def test_a_run_shows_progress_and_loss_per_turn(trained_project, recorder):
    from sdft_local.training import TrainFinished, TrainProgress

    app = make_app()
    async with app.run_test(size=(140, 44), message_hook=recorder) as pilot:
        screen = await open_train(pilot)
        assert "1 run-1 finished 2" in screen_text(app)
        assert screen.query_one("#steps").value == "2"
        screen.query_one("#steps").value = "3"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: recorder.of(StageFinished), timeout=120)
        steps = records_of(recorder, TrainProgress)
        chart = screen.query_one("#loss").history
        text = screen_text(app)
    assert [p.step for p in steps] == [1, 2, 3]
    assert chart["total"] == [p.loss for p in steps]
    assert chart["entity"] == [p.turn_loss["entity"] for p in steps]
    assert f"step 3/3 · epoch" in text and "tokens/s · peak memory" in text
    assert "2 run-2 finished 3" in text
    [finished] = records_of(recorder, TrainFinished)
    run = get_run(trained_project, finished.run_id)
    assert run.state == "finished" and (trained_project.root / run.adapter_path).is_dir()
    assert trained_project.project.settings["train"]["steps"] == 3


async def test_invalid_settings_are_refused_with_the_library_message(trained_project):
    app = make_app()
    async with app.run_test(size=(140, 44)) as pilot:
        screen = await open_train(pilot)
        screen.query_one("#lora_rank").value = "0"
        await pilot.press("ctrl+s")
        assert "invalid training setting: lora_rank 0 must be >= 1" in screen_text(app)
        screen.query_one("#lora_rank").value = "8"
        screen.query_one("#learning_rate").value = "fast"
        await pilot.press("ctrl+s")
        assert "learning rate: 'fast' is not a number" in screen_text(app)
        assert not screen.running
    assert [r.id for r in list_runs(trained_project)] == [1]


def hold_after(monkeypatch, when) -> threading.Event:
    """Make the first run (not a resume) wait after the record `when` picks until the returned
    event is set, so that a key pressed meanwhile lands mid-run."""
    import sdft_tui.screens.train as train_screen

    pressed, real = threading.Event(), train_screen.train_records

    def held(store, config, resume=False):
        for record in real(store, config, resume):
            yield record
            if when(record) and not resume:
                pressed.wait(30)

    monkeypatch.setattr(train_screen, "train_records", held)
    return pressed


async def test_a_stop_checkpoints_the_step_it_stopped_at(trained_project, recorder, monkeypatch):
    from sdft_local.training import TrainProgress, TrainStarted

    # No periodic checkpoint at all: stopped mid-run, it still resumes where it stopped.
    pressed = hold_after(monkeypatch, lambda r: isinstance(r, TrainProgress) and r.step == 3)
    app = make_app()
    async with app.run_test(size=(140, 44), message_hook=recorder) as pilot:
        screen = await open_train(pilot)
        screen.query_one("#steps").value = "6"
        screen.query_one("#checkpoint_every").value = "0"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: [p for p in records_of(recorder, TrainProgress) if p.step == 3], timeout=120)
        await pilot.press("escape")
        pressed.set()
        await wait_for(pilot, lambda: recorder.of(StageFinished), timeout=60)
        last = records_of(recorder, TrainProgress)[-1].step  # the step in flight when Escape came
        assert last < 6 and f"Stopped at step {last}; ctrl+r resumes from there." in screen_text(app)
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: len(recorder.of(StageFinished)) == 2, timeout=120)
    assert records_of(recorder, TrainStarted)[1].start_step == last


async def test_escape_stops_a_run_and_ctrl_r_resumes_it(trained_project, recorder, monkeypatch):
    from sdft_local.training import CheckpointSaved, TrainProgress, TrainStarted

    # Hold the run after its first checkpoint until Escape was pressed: the stop lands mid-run.
    pressed = hold_after(monkeypatch, lambda r: isinstance(r, CheckpointSaved))
    app = make_app()
    async with app.run_test(size=(140, 44), message_hook=recorder) as pilot:
        screen = await open_train(pilot)
        screen.query_one("#steps").value = "6"
        screen.query_one("#checkpoint_every").value = "2"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: records_of(recorder, CheckpointSaved), timeout=120)
        await pilot.press("escape")
        pressed.set()
        await wait_for(pilot, lambda: recorder.of(StageFinished), timeout=60)
        assert recorder.of(StageFinished)[0].cancelled
        stopped = records_of(recorder, TrainProgress)[-1].step
        assert f"Stopped at step {stopped}; ctrl+r resumes from there." in screen_text(app)
        run_id = records_of(recorder, TrainStarted)[0].run_id
        assert get_run(trained_project, run_id).state == "interrupted"
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: len(recorder.of(StageFinished)) == 2, timeout=120)
    first, resumed = records_of(recorder, TrainStarted)
    assert resumed.run_id == run_id and resumed.start_step == stopped
    assert [p.step for p in records_of(recorder, TrainProgress)][-(6 - stopped):] == list(range(stopped + 1, 7))
    assert get_run(trained_project, run_id).state == "finished"


async def test_quitting_mid_run_leaves_it_interrupted_and_resumable(trained_project, recorder,
                                                                   monkeypatch):
    import time

    from sdft_local.training import TrainProgress, TrainStarted

    quit_pressed = hold_after(monkeypatch, lambda r: isinstance(r, TrainProgress))
    app = make_app()
    async with app.run_test(size=(140, 44), message_hook=recorder) as pilot:
        screen = await open_train(pilot)
        screen.query_one("#steps").value = "50"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: records_of(recorder, TrainProgress), timeout=120)
        run_id = records_of(recorder, TrainStarted)[0].run_id
        await pilot.press("ctrl+q")  # asks first while the run goes on
        assert isinstance(app.screen, ConfirmScreen) and "still running" in screen_text(app)
        await pilot.press("n")
        assert app.screen is screen and screen.running
        await pilot.press("ctrl+q", "y")
        quit_pressed.set()
    deadline = time.monotonic() + 60  # the worker thread finishes its step, then stops
    while get_run(trained_project, run_id).state == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert get_run(trained_project, run_id).state == "interrupted"


def test_loss_curves_are_smoothed_and_labelled_with_their_range():
    from sdft_tui.widgets.loss_chart import smooth, value_line

    noisy = [8.0, 2.0] * 30
    smoothed = smooth(noisy)
    assert smoothed[0] == 8.0 and max(smoothed[30:]) - min(smoothed[30:]) < 1.0  # the see-saw flattens
    assert smooth([1.0, 2.0], alpha=1.0) == [1.0, 2.0]
    assert value_line("total", noisy) == f"   total {smoothed[-1]:7.4f}  [2.00 – 8.00]"
    assert value_line("caption", []) == " caption  –"


async def test_picking_a_past_run_shows_its_loss_curve(trained_project):
    from sdft_local.training.runs import get_run
    from sdft_tui.widgets.loss_chart import LossChart, smooth

    app = make_app()
    async with app.run_test(size=(140, 44)) as pilot:
        screen = await open_train(pilot)
        table = screen.query_one("#runs")
        screen.query_one("#loss").clear()
        table.focus()  # the user looks through the runs
        await pilot.pause()
        history = get_run(trained_project, 1).metrics["history"]
        chart = screen.query_one(LossChart)
        assert history and chart.query_one("#loss-total").data == smooth(history)
        assert f"[{min(history):.2f} – {max(history):.2f}]" in " ".join(screen_text(app).split())
