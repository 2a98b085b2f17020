"""The projects list: open one, or create a new one."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Label, Static

from ..widgets.tables import KeyedTable
from .base import SdftScreen


class ProjectsScreen(SdftScreen):
    BINDINGS = [
        Binding("n", "new_project", "New project"),
        Binding("r", "reload", "Reload", show=False),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Label("Projects", classes="screen-title")
        yield Static("Enter opens a project · n creates one", classes="hint")
        yield KeyedTable("project", "base model", "entities", "photos", id="projects")
        yield Static("No projects yet. Press n to create one.", id="empty", classes="empty")
        yield Footer()

    def on_screen_resume(self) -> None:
        # Listing opens every project's database: skip it when the project screen already covers
        # this one (at start-up, when the current project opens at once).
        if self.app.screen is self:
            self.action_reload()

    def action_reload(self) -> None:
        rows = _project_rows()
        self.query_one(KeyedTable).show_rows([(row[0], row) for row in rows])
        self.query_one("#empty").display = not rows

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self._open(event.row_key.value)

    def _open(self, name: str) -> None:
        from sdft_local.errors import SdftError

        try:
            self.app.open_project(name)
        except SdftError as err:
            self.app.report_error(err)

    def action_new_project(self) -> None:
        from .new_project import NewProjectScreen

        self.app.push_screen(NewProjectScreen(), self._created)

    def _created(self, name: str | None) -> None:
        if name:
            self._open(name)


def _project_rows() -> list[tuple[str, str, int, int]]:
    from sdft_local.store import Store, list_projects

    rows = []
    for name in list_projects():
        with Store.open(name) as store:
            rows.append((name, store.project.base_model, len(store.entities()), len(store.photos())))
    return rows
