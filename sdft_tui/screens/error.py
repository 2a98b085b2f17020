"""A modal for failures that are not the library's own errors (bugs, broken installs)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static


class ErrorScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,enter", "dismiss", "Close")]

    def __init__(self, error: BaseException):
        super().__init__()
        self.error = error

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog error-dialog"):
            yield Label("Unexpected error", classes="dialog-title")
            yield Static(f"{type(self.error).__name__}: {self.error}", id="error-text", markup=False)
            yield Static("The operation stopped; your project data is unchanged by the failed step. "
                         "Please report this with the text above.", classes="hint")
            yield Button("Close", variant="error", id="close")

    def on_button_pressed(self) -> None:
        self.dismiss()
