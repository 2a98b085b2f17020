"""One entity: its facts, its photos with a preview, and which photos are held out for the check.

Reloads every few seconds, so photos added elsewhere (the CLI, another window) appear here.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Header, Label, Static

from ..widgets.photo import PhotoPreview
from ..widgets.tables import KeyedTable
from .base import SdftScreen

POLL_SECONDS = 2.0
SPLIT_LABEL = {"train": "train", "heldout": "held out"}


class EntityScreen(SdftScreen):
    BINDINGS = [
        Binding("p", "add_photos", "Add photos"),
        Binding("e", "edit", "Edit facts"),
        Binding("delete,x", "remove_photo", "Remove photo"),
        Binding("escape", "app.pop_screen", "Back"),
    ]

    def __init__(self, name: str):
        super().__init__()
        self.entity_name = name

    def compose(self) -> ComposeResult:
        yield Header()
        yield Label("", id="entity-title", classes="screen-title")
        with Horizontal():
            with Vertical(id="entity-left"):
                yield Static("", id="facts")
                yield Static("", id="split-summary", classes="hint")
                yield KeyedTable("id", "split", "size", "source", "sha256", id="photos")
            yield PhotoPreview(id="preview")
        yield Footer()

    def on_mount(self) -> None:
        self.reload()
        self.set_interval(POLL_SECONDS, self.reload)

    def on_screen_resume(self) -> None:
        self.reload()

    def reload(self) -> None:
        from sdft_local.errors import NotFoundError

        store = self.app.store
        try:
            self.entity = ent = store.entity(self.entity_name)
        except NotFoundError as err:  # removed elsewhere while this screen was open
            self.app.report_error(err)
            self.dismiss()
            return
        self.photos = {str(p.id): p for p in store.photos(ent.id)}
        self.query_one("#entity-title", Label).update(Text(f"{ent.name} ({ent.kind})"))
        facts = "\n".join(f"• {f}" for f in ent.facts) or "No facts yet (press e to add some)."
        self.query_one("#facts", Static).update(Text(facts))
        self.query_one("#split-summary", Static).update(_split_summary(list(self.photos.values())))
        if self.query_one(KeyedTable).show_rows([(k, _photo_row(p)) for k, p in self.photos.items()]):
            self._preview(self.query_one(KeyedTable).selected_key)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._preview(event.row_key.value if event.row_key else None)

    def _preview(self, key: str | None) -> None:
        photo = self.photos.get(key) if key else None
        preview = self.query_one(PhotoPreview)
        if photo is None:
            preview.show(None, "No photos yet (press p to add some).")
            return
        note = "held out: kept for the check, never trained on" if photo.split == "heldout" else "train"
        preview.show(self.app.store.photo_path(photo.sha256), f"{photo.source_name} — {note}")

    def action_add_photos(self) -> None:
        self.app.show_add_photos(self.entity.name)

    def action_edit(self) -> None:
        from .entity_form import EntityFormScreen

        self.app.push_screen(EntityFormScreen(self.entity), lambda _: self.reload())

    def action_remove_photo(self) -> None:
        from .confirm import ConfirmScreen

        photo = self.photos.get(self.query_one(KeyedTable).selected_key or "")
        if photo:
            self.app.push_screen(
                ConfirmScreen(f"Remove photo {photo.source_name}?", "Its dialogues go too."),
                lambda yes: yes and self._remove(photo.id))

    def _remove(self, photo_id: int) -> None:
        self.app.store.remove_photo(photo_id)
        self.reload()


def _photo_row(photo) -> tuple:
    return (photo.id, SPLIT_LABEL.get(photo.split, photo.split), f"{photo.width}×{photo.height}",
            photo.source_name, photo.sha256[:10])


def _split_summary(photos) -> str:
    heldout = sum(p.split == "heldout" for p in photos)
    return (f"{len(photos)} photos: {len(photos) - heldout} for training, {heldout} held out for "
            f"the check (chosen automatically once there are 4)")
