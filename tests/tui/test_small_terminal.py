"""At 80×24 every screen's keys, fields and buttons stay reachable."""

import pytest

from sdft_tui.app import make_app

SMALL = (80, 24)
pytestmark = pytest.mark.anyio


def footer_keys(app) -> set[str]:
    from textual.widgets._footer import FooterKey

    footer = app.screen.query_one("Footer")
    return {key.description for key in footer.query(FooterKey) if key.region.right <= SMALL[0]}


async def test_the_project_home_shows_every_stage_key_at_80_columns(project):
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        assert {"Add", "Photos", "Dialogues", "Train", "Check", "Export", "Try it"} <= footer_keys(app)


async def test_the_new_project_buttons_and_export_checkboxes_are_reachable(trained_project):
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("escape", "n")
        create = app.screen.query_one("#create")
        create.focus()
        await pilot.pause()
        assert create.region.bottom <= SMALL[1] and create.region.height > 0  # scrolled into view
        await pilot.press("escape", "enter", "e")
        force = app.screen.query_one("#force")
        force.focus()
        await pilot.pause()
        assert 0 < force.region.bottom <= SMALL[1]


def test_the_project_home_at_80_by_24(snap_compare, project):
    assert snap_compare(make_app(), terminal_size=SMALL)
