"""Keyboard navigation: the help screen, the command palette, the stage keys."""

import pytest

from sdft_tui.app import make_app
from sdft_tui.screens.entities import EntitiesScreen
from sdft_tui.screens.entity import EntityScreen
from sdft_tui.screens.help import HelpScreen
from sdft_tui.screens.projects import ProjectsScreen
from sdft_tui.screens.train import TrainScreen

from .conftest import wait_for

pytestmark = pytest.mark.anyio


async def test_f1_opens_help_and_escape_closes_it(project):
    app = make_app()
    async with app.run_test(size=(110, 32)) as pilot:
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        markdown = app.screen.query_one("Markdown")
        assert "Structured Dialogue Fine-Tuning" in markdown.source
        await pilot.press("escape")
        assert isinstance(app.screen, EntitiesScreen)


async def test_the_palette_jumps_to_an_entity_by_name(project):
    app = make_app()
    async with app.run_test(size=(110, 32)) as pilot:
        await pilot.press("ctrl+p", *"Entity Bisc")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, EntityScreen))
        assert app.screen.entity_name == "Biscuit"


async def test_the_palette_opens_a_stage_and_the_stage_keys_work(project):
    app = make_app()
    async with app.run_test(size=(110, 32)) as pilot:
        await pilot.press("ctrl+p", *"Train")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, TrainScreen))
        await pilot.press("escape")
        assert isinstance(app.screen, EntitiesScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, ProjectsScreen)


async def test_stages_need_an_open_project():
    app = make_app()
    async with app.run_test(size=(110, 32)) as pilot:
        app.action_stage("train")
        await pilot.pause()
        assert isinstance(app.screen, ProjectsScreen)
        assert [n.message for n in app._notifications] == ["Open a project first."]
