"""Add photos to an entity: type a path (with completion) or pick one in the tree; see each result.

The batch runs in a stage worker over `ingest_photos`; one row appears per file as it is
handled, and Escape (or leaving the screen) stops it after the current file.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, DirectoryTree, Footer, Header, Input, Label, Static

from ..messages import StageFinished, StageProgressed
from ..widgets.path_input import PathInput
from ..widgets.photo_tree import PhotoTree
from ..widgets.tables import KeyedTable
from .stage import StageScreen

STATUS_STYLE = {"added": "green", "duplicate": "yellow", "rejected": "bold red"}


class AddPhotosScreen(StageScreen):
    BINDINGS = [Binding("escape", "back", "Stop / back")]

    def __init__(self, entity: str, start: Path | None = None):
        super().__init__()
        self.entity_name = entity
        self.start_dir = Path(start) if start else Path.home()
        self.results: list = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Label(Text(f"Add photos to {self.entity_name}"), classes="screen-title")
        yield Static("A file or a folder (its images are added). Tab completes, Enter adds. The tree "
                     "follows what you type; its top line goes up a folder.", classes="hint")
        with Horizontal(id="path-row"):
            yield PathInput(placeholder="~/Pictures/biscuit/", id="path")
            yield Button("Add", variant="primary", id="add")
        with Horizontal():
            yield PhotoTree(self.start_dir, id="tree")
            with Vertical(id="results-pane"):
                yield Static("", id="summary")
                # A fixed width: the whole message of the highlighted row shows below the table.
                yield KeyedTable("result", "file", "details", widths={"details": 44}, id="results")
                yield Static("", id="result-detail", classes="hint")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#path", PathInput).focus()

    def on_directory_tree_file_selected(self, event: DirectoryTree.FileSelected) -> None:
        self._pick(event.path)

    def on_directory_tree_directory_selected(self, event: DirectoryTree.DirectorySelected) -> None:
        tree = self.query_one(PhotoTree)
        if event.node is tree.root:  # the root is the way up, never "add this whole folder"
            tree.path = Path(tree.path).resolve().parent
            return
        self._pick(event.path)

    def on_input_changed(self, event: Input.Changed) -> None:
        """The tree follows the typed path: it shows the folder typed (or the one holding the file)."""
        if event.input.id != "path":
            return
        typed = Path(event.value.strip()).expanduser() if event.value.strip() else None
        folder = typed if typed and typed.is_dir() else (
            typed.parent if typed and typed.parent.is_dir() else None)
        tree = self.query_one(PhotoTree)
        if folder is not None and folder.resolve() != Path(tree.path).resolve():
            tree.path = folder.resolve()

    def _pick(self, path: Path) -> None:
        field = self.query_one("#path", PathInput)
        field.value = str(path)
        field.focus()

    def on_input_submitted(self) -> None:
        self.action_add()

    def on_button_pressed(self) -> None:
        self.action_add()

    def action_add(self) -> None:
        raw = self.query_one("#path", PathInput).value.strip()
        if not raw:
            self.notify("Type a file or folder, or pick one in the tree.", severity="warning")
            return
        self.query_one("#summary", Static).update(Text(f"Adding {raw} …"))
        self.start("ingest", lambda store: _ingest(store, self.entity_name, [raw]))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        result = self.results[int(event.row_key.value)]
        text = "\n".join([result.source, result.message, *result.warnings])
        self.query_one("#result-detail", Static).update(Text(text))

    def on_stage_progressed(self, message: StageProgressed) -> None:
        self.results.append(message.record)
        rows = [(str(i), _result_row(r)) for i, r in enumerate(self.results)]
        self.query_one(KeyedTable).show_rows(rows)
        self.query_one(KeyedTable).move_cursor(row=len(rows) - 1)
        self.query_one("#summary", Static).update(_summary(self.results))

    def on_stage_finished(self, message: StageFinished) -> None:
        if message.error is not None:
            return
        text = _summary(self.results) + (" — stopped" if message.cancelled else " — done")
        self.query_one("#summary", Static).update(text)
        if not self.results:
            self.notify("No image files there.", severity="warning")


def _ingest(store, entity: str, paths: list[str]):
    from sdft_local.ingest import ingest_photos

    return ingest_photos(store, store.entity(entity), paths)


def _result_row(result) -> tuple:
    details = "; ".join([result.message, *result.warnings])
    return (Text(result.status, style=STATUS_STYLE[result.status]), Path(result.source).name, details)


def _summary(results) -> str:
    count = {s: sum(r.status == s for r in results) for s in STATUS_STYLE}
    return (f"{count['added']} added, {count['duplicate']} duplicates skipped, "
            f"{count['rejected']} rejected")
