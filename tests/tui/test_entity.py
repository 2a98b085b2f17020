"""The entity screen: facts, photos with their split and a preview; edit facts; remove a photo."""

import pytest

from sdft_local.store import Store
from sdft_tui.app import make_app
from sdft_tui.screens.entity import EntityScreen
from sdft_tui.screens.entity_form import EntityFormScreen

from .conftest import screen_text

pytestmark = pytest.mark.anyio


async def open_biscuit(pilot):
    await pilot.press("enter")
    assert isinstance(pilot.app.screen, EntityScreen)
    return pilot.app.screen


async def test_shows_facts_split_and_a_preview_of_the_highlighted_photo(project):
    photos = project.photos()
    heldout = [p for p in photos if p.split == "heldout"]
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_biscuit(pilot)
        text = screen_text(app)
        assert "Biscuit (dog)" in text and "• 4 years old" in text and "• loves tennis balls" in text
        assert "5 photos: 3 for training, 2 held out" in text
        for p in photos:
            label = "held out" if p.split == "heldout" else "train"
            assert f"{p.id} {label} 96×72 {p.source_name} {p.sha256[:10]}" in text
        row = [p.id for p in photos].index(heldout[0].id)
        await pilot.press(*["down"] * row)
        await pilot.pause()
        image = screen.query_one("#photo-image")
        assert image.image == str(project.photo_path(heldout[0].sha256))
        caption = str(screen.query_one("#photo-caption").content)
        assert caption == f"{heldout[0].source_name} — held out: kept for the check, never trained on"


async def test_edit_facts_keeps_facts_added_elsewhere_meanwhile(project):
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await open_biscuit(pilot)
        await pilot.press("e")
        form = app.screen
        assert isinstance(form, EntityFormScreen)
        with Store.open("pets") as other:
            other.update_entity("Biscuit", facts=["4 years old", "loves tennis balls", "barks at bikes"])
        form.query_one("#facts").text = "5 years old\nloves tennis balls\nsleeps on the sofa"
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, EntityScreen)
        assert "• barks at bikes" in screen_text(app)
    assert project.entity("Biscuit").facts == (
        "5 years old", "loves tennis balls", "sleeps on the sofa", "barks at bikes")


async def test_remove_a_photo_rebalances_the_split(project):
    first = project.photos()[0]
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await open_biscuit(pilot)
        await pilot.press("x", "y")
        await pilot.pause()
        assert "4 photos: 3 for training, 1 held out" in screen_text(app)
    left = project.photos()
    assert first.id not in {p.id for p in left} and len(left) == 4
    assert sum(p.split == "heldout" for p in left) == 1
    assert not project.photo_path(first.sha256).exists()


async def test_an_entity_removed_elsewhere_closes_its_screen(project):
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_biscuit(pilot)
        with Store.open("pets") as other:
            other.remove_entity("Biscuit")
        screen.reload()
        await pilot.pause()
        assert not isinstance(app.screen, EntityScreen)
        assert any("no entity named 'Biscuit'" in n.message for n in app._notifications)
