"""Adding photos: a worker runs the library's ingest, one row per file, cancellable, errors shown."""

import pytest

from sdft_local.store import Store
from sdft_tui.app import make_app
from sdft_tui.messages import StageFinished, StageProgressed
from sdft_tui.screens.add_photos import AddPhotosScreen
from sdft_tui.screens.error import ErrorScreen
from sdft_tui.widgets.path_input import complete_path

from .conftest import draw_photo, screen_text, wait_for

pytestmark = pytest.mark.anyio


async def open_add_photos(pilot, start):
    pilot.app.push_screen(AddPhotosScreen("Biscuit", start=start))
    await pilot.pause()
    return pilot.app.screen


async def test_a_folder_is_added_with_one_result_per_file(project, photo_dir, recorder):
    app = make_app()
    async with app.run_test(size=(120, 36), message_hook=recorder) as pilot:
        screen = await open_add_photos(pilot, photo_dir)
        screen.query_one("#path").value = str(photo_dir)
        await pilot.press("enter")
        await wait_for(pilot, lambda: recorder.of(StageFinished))
        text = screen_text(app)
        assert "1 added, 5 duplicates skipped, 1 rejected — done" in text
        assert "added biscuit_5.png stored" in text
        assert "rejected broken.jpg broken.jpg: not an image Pillow can read" in text
    statuses = [m.record.status for m in recorder.of(StageProgressed)]
    assert sorted(statuses) == ["added"] + ["duplicate"] * 5 + ["rejected"]
    assert recorder.of(StageFinished)[0].cancelled is False
    photos = project.photos()
    assert len(photos) == 6 and {p.split for p in photos} == {"train", "heldout"}
    assert "biscuit_5.png" in {p.source_name for p in photos}


async def test_escape_stops_a_batch_and_the_screen_matches_the_store(
        project, tmp_path, recorder, monkeypatch):
    import threading

    import sdft_local.ingest

    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(12):
        draw_photo(folder / f"p{i:02}.png", seed=100 + i)
    # Hold the second file until Escape was pressed, so the stop lands mid-batch on any machine.
    pressed, real = threading.Event(), sdft_local.ingest.normalize_photo
    monkeypatch.setattr(sdft_local.ingest, "normalize_photo",
                        lambda path, config: (path.name == "p00.png" or pressed.wait(10))
                        and real(path, config))
    app = make_app()
    async with app.run_test(size=(120, 36), message_hook=recorder) as pilot:
        screen = await open_add_photos(pilot, folder)
        screen.query_one("#path").value = str(folder)
        await pilot.press("enter")
        await wait_for(pilot, lambda: recorder.of(StageProgressed))
        await pilot.press("escape")
        pressed.set()
        await wait_for(pilot, lambda: recorder.of(StageFinished))
        assert isinstance(app.screen, AddPhotosScreen)  # the first Escape only stops
        assert "2 added, 0 duplicates skipped, 0 rejected — stopped" in screen_text(app)
        await pilot.press("escape")
        assert not isinstance(app.screen, AddPhotosScreen)
    # The file in flight when Escape came is stored, and shown: nothing in the store is unseen.
    assert [m.record.status for m in recorder.of(StageProgressed)] == ["added", "added"]
    assert recorder.of(StageFinished)[0].cancelled is True
    assert {p.source_name for p in project.photos()} >= {"p00.png", "p01.png"}
    assert len(project.photos()) == 7


async def test_tab_completes_paths_and_the_tree_fills_the_field(project, photo_dir):
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_add_photos(pilot, photo_dir)
        field = screen.query_one("#path")
        field.value = str(photo_dir.parent / "pic")
        await pilot.press("t")  # typing: the suggestion follows the value
        await pilot.pause()
        await pilot.press("tab")
        assert field.value == f"{photo_dir}/"
        tree = screen.query_one("#tree")
        await wait_for(pilot, lambda: len(tree.root.children) == 7)
        assert str(tree.root.children[0].label) == "biscuit_0.png"
        tree.select_node(tree.root.children[0])
        await pilot.pause()
        assert field.value == str(photo_dir / "biscuit_0.png")


def test_complete_path_picks_the_first_match_and_marks_folders(photo_dir):
    assert complete_path(str(photo_dir / "bis")) == str(photo_dir / "biscuit_0.png")
    assert complete_path(str(photo_dir / "br")) == str(photo_dir / "broken.jpg")
    assert complete_path(str(photo_dir.parent / "pic")) == f"{photo_dir}/"
    assert complete_path(str(photo_dir / "zzz")) is None
    assert complete_path(str(photo_dir / "bis"), dirs_only=True) is None


async def test_a_library_error_in_the_worker_becomes_a_notification(project, photo_dir):
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_add_photos(pilot, photo_dir)
        with Store.open("pets") as other:
            other.remove_entity("Biscuit")
        screen.query_one("#path").value = str(photo_dir)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app._notifications)
        [note] = list(app._notifications)
        assert note.title == "Not found" and note.message.startswith("no entity named 'Biscuit'")
        assert isinstance(app.screen, AddPhotosScreen)


async def test_an_unexpected_error_opens_a_modal_with_its_text(project, photo_dir, monkeypatch):
    import sdft_local.ingest

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")
        yield

    monkeypatch.setattr(sdft_local.ingest, "ingest_photos", broken)
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_add_photos(pilot, photo_dir)
        screen.query_one("#path").value = str(photo_dir)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorScreen))
        assert "RuntimeError: disk on fire" in screen_text(app)
        await pilot.press("enter")
        assert isinstance(app.screen, AddPhotosScreen)


async def test_the_tree_follows_the_typed_path_and_its_root_goes_up(project, photo_dir, tmp_path):
    from sdft_tui.widgets.photo_tree import PhotoTree

    elsewhere = tmp_path / "elsewhere" / "cats"
    elsewhere.mkdir(parents=True)
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_add_photos(pilot, photo_dir)
        tree = screen.query_one(PhotoTree)
        screen.query_one("#path").value = str(elsewhere)  # any folder, not only under home
        await pilot.pause()
        assert tree.path.resolve() == elsewhere.resolve()
        tree.focus()
        tree.move_cursor(tree.root)
        await pilot.press("enter")  # Enter on the root: up one folder, nothing submitted
        await pilot.pause()
        assert tree.path.resolve() == elsewhere.parent.resolve()
        assert screen.query_one("#path").value == str(elsewhere) and not screen.running


async def test_a_photo_of_another_entity_is_added_with_a_visible_warning(project, photo_dir, recorder):
    project.add_entity("Max", "cat")
    shared = sorted(photo_dir.glob("biscuit_*.png"))[0]  # already one of Biscuit's
    app = make_app()
    async with app.run_test(size=(120, 36), message_hook=recorder) as pilot:
        pilot.app.push_screen(AddPhotosScreen("Max", start=photo_dir))
        await pilot.pause()
        app.screen.query_one("#path").value = str(shared)
        await pilot.press("enter")
        await wait_for(pilot, lambda: recorder.of(StageFinished))
        assert "also one of Biscuit's" in " ".join(screen_text(app).split())
