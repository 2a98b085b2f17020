"""The new-project form: name, base model (completed from known ids and folders), held-out share."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.validation import Number
from textual.widgets import Button, Input, Label, Static

from ..widgets.path_input import PathInput
from .base import SdftModal

BUILTIN_MODELS = ("demo", "Qwen/Qwen2-VL-2B-Instruct", "mlx-community/Qwen2-VL-2B-Instruct-4bit",
                  "tiny-random")
DEFAULT_MODEL = "demo"  # the bundled model that learns; tiny-random is for tests


class NewProjectScreen(SdftModal[str | None]):
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel"), Binding("ctrl+s", "create", "Create")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog"):  # scrolls on a small terminal: the buttons stay reachable
            yield Label("New project", classes="dialog-title")
            yield Label("Name")
            yield Input(placeholder="name, e.g. pets", id="name", compact=True)
            yield Label("Base model")
            yield PathInput(DEFAULT_MODEL, words=BUILTIN_MODELS, id="base-model",
                            placeholder="model id or local folder", compact=True)
            yield Static(", ".join(BUILTIN_MODELS) + ", or a folder", classes="hint")
            yield Label("Held-out share (photos kept for the check, 0–0.5)")
            yield Input("0.3", id="heldout", validators=[Number(minimum=0.0, maximum=0.5)],
                        placeholder="0.3", compact=True)
            yield Static("", id="form-error", classes="form-error")
            with Horizontal(classes="buttons"):
                yield Button("Create", variant="primary", id="create")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()  # not the scrolling dialog around it

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "create":
            self.action_create()
        else:
            self.dismiss(None)

    def on_input_submitted(self) -> None:
        self.action_create()

    def action_create(self) -> None:
        from sdft_local.errors import SdftError
        from sdft_local.models.registry import check_base_model
        from sdft_local.store import Store

        name = self.query_one("#name", Input).value.strip()
        if not name:
            self._error("Give the project a name (e.g. pets).", "#name")
            return
        heldout = self.query_one("#heldout", Input)
        if not heldout.is_valid:
            self._error(f"held-out share {heldout.value!r} must be a number from 0 to 0.5", "#heldout")
            return
        model = self.query_one("#base-model", Input).value.strip() or DEFAULT_MODEL
        try:
            note = check_base_model(model)
            Store.create(name, model, {"heldout_fraction": float(heldout.value)}).close()
        except SdftError as err:
            self._error(err.message, "#base-model" if "model" in err.message else "#name")
            return
        if note:
            self.notify(note, severity="warning", timeout=8, markup=False)
        self.dismiss(name)

    def _error(self, text: str, field: str) -> None:
        self.query_one("#form-error", Static).update(Text(text))
        self.query_one(field, Input).focus()
