"""Edit one turn of a dialogue (question and answer); the dialogue becomes 'edited'."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Select, Static, TextArea

from .base import SdftModal


class TurnEditScreen(SdftModal[bool]):
    BINDINGS = [Binding("escape", "dismiss(False)", "Cancel"), Binding("ctrl+s", "save", "Save")]

    def __init__(self, record, turn: int = 3):
        super().__init__()
        self.record, self.turn = record, turn

    def compose(self) -> ComposeResult:
        options = [(f"{i}. {t.kind} (weight {t.weight:g})", i) for i, t in enumerate(self.record.turns, 1)]
        with Vertical(classes="dialog wide-dialog"):
            yield Label(f"Edit dialogue {self.record.id}", classes="dialog-title")
            yield Select(options, value=self.turn, allow_blank=False, id="turn")
            yield Input(id="question")
            yield TextArea(id="answer", soft_wrap=True)
            yield Static("", id="form-error", classes="form-error")
            with Horizontal(classes="buttons"):
                yield Button("Save", variant="primary", id="save")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self._load(self.turn)
        self.query_one("#answer", TextArea).focus()

    def _load(self, turn: int) -> None:
        self.turn = turn
        chosen = self.record.turns[turn - 1]
        self.query_one("#question", Input).value = chosen.question
        self.query_one("#answer", TextArea).text = chosen.answer

    def on_select_changed(self, event: Select.Changed) -> None:
        self._load(int(event.value))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.dismiss(False)

    def action_save(self) -> None:
        from sdft_local.errors import SdftError
        from sdft_local.synth import edit_turn

        old = self.record.turns[self.turn - 1]
        question = self.query_one("#question", Input).value
        answer = self.query_one("#answer", TextArea).text
        try:
            edit_turn(self.app.store, self.record.id, self.turn,
                      answer=answer if answer != old.answer else None,
                      question=question if question != old.question else None)
        except SdftError as err:
            self.query_one("#form-error", Static).update(Text(err.message))
            return
        self.dismiss(True)
