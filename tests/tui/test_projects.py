"""The projects screen: create a project through the form, open an existing one."""

import pytest

from sdft_local.store import Store, current_project, list_projects
from sdft_tui.app import make_app
from sdft_tui.messages import ProjectOpened
from sdft_tui.screens.entities import EntitiesScreen
from sdft_tui.screens.new_project import NewProjectScreen
from sdft_tui.screens.projects import ProjectsScreen

from .conftest import screen_text

pytestmark = pytest.mark.anyio


async def test_first_start_creates_a_project_through_the_form(recorder):
    app = make_app()
    async with app.run_test(size=(100, 30), message_hook=recorder) as pilot:
        assert isinstance(app.screen, ProjectsScreen)
        assert "No projects yet" in screen_text(app)
        await pilot.press("n")
        assert isinstance(app.screen, NewProjectScreen)
        await pilot.press(*"garden")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, EntitiesScreen)
        assert "garden — base model demo" in screen_text(app)  # the model that learns, not the test one
    assert list_projects() == ["garden"] and current_project() == "garden"
    with Store.open("garden") as store:
        assert store.project.settings == {"heldout_fraction": 0.3}
    assert [m.name for m in recorder.of(ProjectOpened)] == ["garden"]


async def test_the_form_shows_the_library_message_and_creates_nothing():
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("n", *"../evil", "ctrl+s")
        assert isinstance(app.screen, NewProjectScreen)
        assert "path separator" in screen_text(app)
        app.screen.query_one("#name").value = "pets"
        app.screen.query_one("#heldout").value = "0.9"
        await pilot.press("ctrl+s")
        assert "must be a number from 0 to 0.5" in screen_text(app)
        await pilot.press("escape")
        assert isinstance(app.screen, ProjectsScreen)
    assert list_projects() == []


async def test_the_form_keeps_focus_on_an_empty_name_and_refuses_an_unknown_model():
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("n", "enter")
        assert isinstance(app.screen, NewProjectScreen)
        assert "Give the project a name" in screen_text(app)
        assert app.focused is app.screen.query_one("#name")
        assert "Held-out share" in screen_text(app)
        await pilot.press(*"pets")
        app.screen.query_one("#base-model").value = "no-such-model"
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, NewProjectScreen)
        assert "no such model" in " ".join(screen_text(app).split())
        assert app.focused is app.screen.query_one("#base-model")
    assert list_projects() == []


async def test_enter_opens_the_highlighted_project(project):
    Store.create("zoo", "demo").close()
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        assert isinstance(app.screen, EntitiesScreen)  # the current project opens at start
        await pilot.press("escape")
        assert isinstance(app.screen, ProjectsScreen)
        text = screen_text(app)
        assert "pets tiny-random 1 5" in text and "zoo demo 0 0" in text
        await pilot.press("down", "enter")
        assert "zoo — base model demo" in screen_text(app)
    assert current_project() == "zoo"


async def test_a_missing_project_is_reported_not_fatal():
    app = make_app("nowhere")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, ProjectsScreen)
        [note] = list(app._notifications)
        assert note.title == "Not found" and "no project named 'nowhere'" in note.message
