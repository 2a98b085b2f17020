"""The entity form: add an entity (name, kind, facts), or edit an existing one's kind and facts.

Saving an edit re-reads the entity inside the write transaction, so facts another process
added while the form was open are kept, not overwritten.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Static, TextArea

from .base import SdftModal


class EntityFormScreen(SdftModal[str | None]):
    BINDINGS = [
        Binding("escape", "dismiss(None)", "Cancel"),
        Binding("ctrl+s", "save", "Save"),
        # Enter in a one-line field moves on at once, before the keys typed after it arrive.
        Binding("enter", "next_field", show=False, priority=True),
    ]

    def __init__(self, entity=None):
        super().__init__()
        self.entity = entity  # None: add a new one

    def compose(self) -> ComposeResult:
        ent = self.entity
        with Vertical(classes="dialog"):
            yield Label(Text(f"Edit {ent.name}" if ent else "New entity"), classes="dialog-title")
            yield Input(ent.name if ent else "", placeholder="name, e.g. Biscuit", id="name",
                        disabled=ent is not None)
            yield Input(ent.kind if ent else "", placeholder="kind, e.g. dog", id="kind")
            yield Label("Facts, one per line (ctrl+s saves)")
            yield TextArea("\n".join(ent.facts) if ent else "", id="facts", soft_wrap=True)
            yield Static("", id="form-error", classes="form-error")
            with Horizontal(classes="buttons"):
                yield Button("Save", variant="primary", id="save")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#kind" if self.entity else "#name", Input).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.dismiss(None)

    def check_action(self, action: str, parameters) -> bool:
        return action != "next_field" or isinstance(self.focused, Input)

    def action_next_field(self) -> None:
        self.focus_next()

    def action_save(self) -> None:
        from sdft_local.errors import SdftError

        kind = self.query_one("#kind", Input).value
        facts = self.query_one("#facts", TextArea).text.splitlines()
        try:
            name = self._save(kind, facts)
        except SdftError as err:
            self.query_one("#form-error", Static).update(Text(err.message))
            return
        self.dismiss(name)

    def _save(self, kind: str, facts: list[str]) -> str:
        store = self.app.store
        if self.entity is None:
            return store.add_entity(self.query_one("#name", Input).value, kind, facts).name
        with store.transaction():
            current = store.entity_by_id(self.entity.id).facts
            kept = [f for f in current if f not in self.entity.facts and f not in facts]
            return store.update_entity(self.entity.name, kind=kind, facts=[*facts, *kept]).name
