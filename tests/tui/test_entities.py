"""The project home: add, open and remove entities; the table follows the store."""

import pytest

from sdft_local.store import Store
from sdft_tui.app import make_app
from sdft_tui.screens.entities import EntitiesScreen
from sdft_tui.screens.entity import EntityScreen
from sdft_tui.screens.entity_form import EntityFormScreen

from .conftest import screen_text

pytestmark = pytest.mark.anyio


async def test_add_an_entity_with_facts(project):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("a")
        assert isinstance(app.screen, EntityFormScreen)
        await pilot.press(*"Rex", "enter", *"cat", "enter")
        await pilot.press(*"black", "enter", *"shy")
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, EntitiesScreen)
        text = screen_text(app)
        assert "Rex cat 2 0 0" in text and "Biscuit dog 2 3 2" in text
    with Store.open("pets") as store:
        rex = store.entity("Rex")
    assert (rex.kind, rex.facts) == ("cat", ("black", "shy"))


async def test_a_duplicate_name_is_refused_with_the_library_message(project):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("a", *"biscuit", "enter", *"dog", "ctrl+s")
        assert isinstance(app.screen, EntityFormScreen)
        assert "entity 'biscuit' already exists in project 'pets'" in screen_text(app)
        await pilot.press("escape")
    with Store.open("pets") as store:
        assert [e.name for e in store.entities()] == ["Biscuit"]


async def test_remove_asks_first(project):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("x", "n")
        assert project.entities() != []
        await pilot.press("x", "y")
        assert isinstance(app.screen, EntitiesScreen)
        assert "No entities yet" in screen_text(app)
    assert project.entities() == [] and project.photos() == []


async def test_enter_opens_the_entity_and_rows_added_elsewhere_appear(project):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        with Store.open("pets") as other:  # another process's connection
            other.add_entity("Mochi", "plant", ["needs water on Sundays"])
        app.screen.reload()  # what the poll timer does every few seconds
        assert "Mochi plant 1 0 0" in screen_text(app)
        await pilot.press("enter")
        assert isinstance(app.screen, EntityScreen) and app.screen.entity_name == "Biscuit"


async def test_names_and_facts_with_brackets_are_shown_as_typed(project):
    with Store.open("pets") as store:
        store.add_entity("[b]Rex", "cat", ["wears a [red] collar"])
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        assert "[b]Rex cat 1" in screen_text(app)  # a table cell, not a bold "Rex"
        await pilot.press("down", "enter")
        text = screen_text(app)
        assert "[b]Rex (cat)" in text and "wears a [red] collar" in text
