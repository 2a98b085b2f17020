"""Try it: ask about a photo and read the base model's and the tuned model's answers side by side.

A held-out photo is offered first: the tuned model never trained on it, so it is a fair test.
Both models run in a worker (the base first, then the project's current adapter).
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Checkbox, Footer, Header, Input, Label, Static

from ..messages import StageFinished, StageProgressed
from ..stages import ChatAnswered, chat_records
from ..widgets.path_input import PathInput
from ..widgets.photo import PhotoPreview
from ..widgets.progress import StageProgress
from .stage import StageScreen


class ChatScreen(StageScreen):
    BINDINGS = [Binding("escape", "back", "Stop / back")]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Label("Try it", classes="screen-title")
        yield Static("Pick a photo (a held-out one is offered), ask a question, press Enter.",
                     classes="hint")
        yield PathInput(str(self._default_photo() or ""), id="photo", placeholder="photo file")
        yield Input("Who is this?", id="question", placeholder="question")
        yield Checkbox("Give both models the facts card (the entities' facts as system message)",
                       id="facts-card")
        yield StageProgress(id="progress")
        with Horizontal():
            yield PhotoPreview(id="preview")
            with Vertical(classes="answer"):
                yield Label("Base model", classes="section")
                yield Static("", id="answer-base")
            with Vertical(classes="answer"):
                yield Label("Tuned model", classes="section")
                yield Static("", id="answer-tuned")
        yield Footer()

    def _default_photo(self) -> Path | None:
        store = self.app.store
        photos = store.photos(split="heldout") or store.photos()
        return store.photo_path(photos[0].sha256) if photos else None

    def on_mount(self) -> None:
        self._preview()
        self.query_one("#question", Input).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "photo":
            self._preview()

    def _preview(self) -> None:
        path = Path(self.query_one("#photo", PathInput).value.strip()).expanduser()
        self.query_one(PhotoPreview).show(path if path.is_file() else None, path.name)

    def on_input_submitted(self) -> None:
        photo = self.query_one("#photo", PathInput).value.strip()
        question = self.query_one("#question", Input).value.strip()
        if not question:
            self.notify("Type a question.", severity="warning")
            return
        image = str(Path(photo).expanduser()) if photo else None
        if image and not Path(image).is_file():
            self.notify(f"{photo}: no such file; pick a photo or leave the field empty", markup=False,
                        title="Photo", severity="error")
            return
        for which in ("base", "tuned"):
            self.query_one(f"#answer-{which}", Static).update("…")
        self.query_one(StageProgress).begin(None, "Starting …")
        card = self.query_one("#facts-card", Checkbox).value
        self.start("chat", lambda store: chat_records(store, image, question, facts_card=card))

    def on_stage_progressed(self, message: StageProgressed) -> None:
        record = message.record
        if isinstance(record, str):
            self.query_one(StageProgress).status(record)
        elif isinstance(record, ChatAnswered):
            text = Text(record.answer or "(empty answer)")
            text.append(f"\n\n{record.student}", style="dim")
            self.query_one(f"#answer-{record.model}", Static).update(text)

    def on_stage_finished(self, message: StageFinished) -> None:
        self.query_one(StageProgress).status("Stopped." if message.cancelled else "Done.")
