"""SVG snapshots of each screen (pytest-textual-snapshot; versions pinned in constraints.txt).

Refresh them after an intended change with `pytest tests/tui/test_snapshots.py --snapshot-update`
and look at the report before committing.
"""

from sdft_tui.app import make_app
from sdft_tui.screens.add_photos import AddPhotosScreen

from .conftest import wait_for

SIZE = (110, 32)


def test_projects(snap_compare, project):
    assert snap_compare(make_app(), press=["escape"], terminal_size=SIZE)


def test_entities(snap_compare, project):
    assert snap_compare(make_app(), terminal_size=SIZE)


def test_entity_with_preview(snap_compare, project):
    assert snap_compare(make_app(), press=["enter", "down"], terminal_size=SIZE)


def test_entity_form_with_an_error(snap_compare, project):
    assert snap_compare(make_app(), press=["a", *"Biscuit", "enter", *"dog", "ctrl+s"],
                        terminal_size=SIZE)


def test_help(snap_compare, project):
    assert snap_compare(make_app(), press=["f1"], terminal_size=SIZE)


def test_add_photos_results(snap_compare, project, photo_dir, monkeypatch):
    monkeypatch.chdir(photo_dir.parent)  # a relative path: the same text on every machine
    async def add_folder(pilot):
        screen = AddPhotosScreen("Biscuit", start=photo_dir)
        pilot.app.push_screen(screen)
        await pilot.pause()
        screen.query_one("#path").value = "pictures/"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "— done" in str(screen.query_one("#summary").content))
        await wait_for(pilot, lambda: len(screen.query_one("#tree").root.children) == 7)
        await wait_for(pilot, lambda: screen.query_one("#results").row_count == 7)

    assert snap_compare(make_app(), run_before=add_folder, terminal_size=SIZE)


def test_dialogues(snap_compare, trained_project):
    assert snap_compare(make_app(), press=["d", "down"], terminal_size=(130, 36))


def test_train_settings(snap_compare, project):
    assert snap_compare(make_app(), press=["t"], terminal_size=(130, 40))


def test_check_without_reports(snap_compare, project):
    assert snap_compare(make_app(), press=["c"], terminal_size=SIZE)
