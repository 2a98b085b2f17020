"""Synthesis settings: which backend writes turn 3 (and its files or endpoint), dialogues per photo.

Saved to the project exactly as `sdft synth --backend ... --variants ...` saves them, so the CLI
and this app share them. An endpoint gets photos only with its own switch on (default off).
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from ..widgets.path_input import PathInput
from .base import SdftModal

FORM_KEYS = ("name", "model", "mmproj", "endpoint")


class SynthSettingsScreen(SdftModal[bool]):
    BINDINGS = [Binding("escape", "dismiss(False)", "Cancel"), Binding("ctrl+s", "save", "Save")]

    def compose(self) -> ComposeResult:
        from sdft_local.synth import BACKENDS, backend_from_settings
        from sdft_local.synth.config import dialogue_from_settings

        settings = self.app.store.project.settings
        backend, dialogue = backend_from_settings(settings), dialogue_from_settings(settings)
        endpoint = backend.endpoint
        with VerticalScroll(classes="dialog wide-dialog"):
            yield Label("Synthesis settings", classes="dialog-title")
            yield Label("Turn-3 backend")
            yield Select([(f"{b.name} — {b.description}", b.name) for b in BACKENDS.values()],
                         value=backend.name, allow_blank=False, id="name")
            yield PathInput(backend.model or "", id="model", placeholder="model: GGUF file or folder")
            yield PathInput(backend.mmproj or "", id="mmproj", placeholder="mmproj GGUF (llama-cpp-vlm)")
            yield Label("OpenAI-compatible endpoint (backend openai)")
            yield Input(endpoint.base_url if endpoint else "", id="url",
                        placeholder="http://127.0.0.1:8080/v1")
            yield Input(endpoint.model if endpoint else "", id="endpoint-model", placeholder="model name")
            yield Input((endpoint.api_key_env or "") if endpoint else "", id="key-env",
                        placeholder="name of the variable holding the API key (never the key)")
            yield Checkbox("send this project's photos to the endpoint",
                           bool(endpoint and endpoint.send_photos), id="send-photos")
            yield Label("Dialogues per photo")
            yield Input(str(dialogue.variants), id="variants")
            yield Static("", id="form-error", classes="form-error")
            with Horizontal(classes="buttons"):
                yield Button("Save", variant="primary", id="save")
                yield Button("Cancel", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.dismiss(False)

    def action_save(self) -> None:
        from sdft_local.errors import ConfigError, SdftError
        from sdft_local.synth import backend_from_settings
        from sdft_local.synth.config import backend_settings, dialogue_from_settings, dialogue_settings

        store = self.app.store
        settings = store.project.settings
        kept = {k: v for k, v in settings.get("synth", {}).items() if k not in FORM_KEYS}
        try:
            variants = self._text("variants")
            if not variants.isdigit():
                raise ConfigError(f"dialogues per photo: {variants!r} is not a whole number")
            backend = backend_from_settings({"synth": kept}, **self._backend_flags())
            dialogue = dialogue_from_settings(settings, variants=int(variants))
        except SdftError as err:
            self.query_one("#form-error", Static).update(Text(err.message))
            return
        store.update_settings(synth=backend_settings(backend), dialogue=dialogue_settings(dialogue))
        self.dismiss(True)

    def _backend_flags(self) -> dict:
        endpoint = {"base_url": self._text("url") or None, "model": self._text("endpoint-model") or None,
                    "api_key_env": self._text("key-env") or None,
                    "send_photos": self.query_one("#send-photos", Checkbox).value}
        if not (endpoint["base_url"] or endpoint["model"]):
            endpoint = None
        return {"name": self.query_one("#name", Select).value, "model": self._text("model") or None,
                "mmproj": self._text("mmproj") or None, "endpoint": endpoint}

    def _text(self, widget_id: str) -> str:
        return self.query_one(f"#{widget_id}", Input).value.strip()
