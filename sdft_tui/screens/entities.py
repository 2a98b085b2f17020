"""A project's home: its entities with photo counts; add, open or remove one.

Reloads every few seconds, so entities and photos added from the CLI meanwhile appear here.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Label, Static

from ..widgets.tables import KeyedTable
from .base import SdftScreen

POLL_SECONDS = 2.0


class EntitiesScreen(SdftScreen):
    BINDINGS = [
        # Short names, and Remove / Projects only in the help: at 80 columns every stage still shows.
        Binding("a", "add_entity", "Add"),
        Binding("p", "add_photos", "Photos"),
        Binding("delete,x", "remove_entity", "Remove", show=False),
        Binding("d", "app.stage('dialogues')", "Dialogues"),
        Binding("t", "app.stage('train')", "Train"),
        Binding("c", "app.stage('check')", "Check"),
        Binding("e", "app.stage('export')", "Export"),
        Binding("y", "app.stage('chat')", "Try it"),
        Binding("escape", "app.show_projects", "Projects", show=False),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Label("", id="project-title", classes="screen-title")
        yield Static("Enter opens an entity · a adds one · p adds photos to it · x removes it · then d "
                     "dialogues, t train, c check, e export, y try it · Escape: projects", classes="hint")
        yield KeyedTable("entity", "kind", "facts", "train photos", "held out", id="entities")
        yield Static("No entities yet. Press a to add the first thing to teach the model "
                     "(a pet, a person, a mug).", id="empty", classes="empty")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.reload()
        self.set_interval(POLL_SECONDS, self.reload)

    def on_screen_resume(self) -> None:
        self.reload()

    def reload(self) -> None:
        store = self.app.store
        project = store.project
        self.query_one("#project-title", Label).update(
            Text(f"{project.name} — base model {project.base_model}"))
        rows = [(e.name, _entity_row(store, e)) for e in store.entities()]
        self.query_one(KeyedTable).show_rows(rows)
        self.query_one("#empty").display = not rows

    @property
    def selected(self) -> str | None:
        return self.query_one(KeyedTable).selected_key

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.app.show_entity(event.row_key.value)

    def action_add_entity(self) -> None:
        from .entity_form import EntityFormScreen

        self.app.push_screen(EntityFormScreen(), self._added)

    def _added(self, name: str | None) -> None:
        if name:
            self.reload()
            table = self.query_one(KeyedTable)
            table.move_cursor(row=table.get_row_index(name))
            self.notify(f"Added {name}. Press p to add its photos.", timeout=4, markup=False)

    def action_add_photos(self) -> None:
        if self.selected:
            self.app.show_add_photos(self.selected)

    def action_remove_entity(self) -> None:
        from .confirm import ConfirmScreen

        name = self.selected
        if name:
            self.app.push_screen(ConfirmScreen(f"Remove {name}?", "Its photos and dialogues go too."),
                                 lambda yes: yes and self._remove(name))

    def _remove(self, name: str) -> None:
        from sdft_local.errors import SdftError

        try:
            self.app.store.remove_entity(name)
        except SdftError as err:
            self.app.report_error(err)
        self.reload()


def _entity_row(store, entity) -> tuple:
    photos = store.photos(entity.id)
    heldout = sum(p.split == "heldout" for p in photos)
    return (entity.name, entity.kind, len(entity.facts), len(photos) - heldout, heldout)
