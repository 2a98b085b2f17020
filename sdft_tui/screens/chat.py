"""Try it: ask about a photo and read the base model's and the tuned model's answers side by side.

A held-out photo is offered first: the tuned model never trained on it, so it is a fair test;
the project's photos are listed by entity, split and file name. Both models run in a worker (the
base first, then the project's current adapter, whose run is named); each pane keeps the
conversation, and the cursor goes back to the question after every answer.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Checkbox, Footer, Header, Input, Label, Select, Static

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
        yield Static("Pick one of the project's photos (held-out ones first) or type a path, ask, press Enter.",
                     classes="hint")
        yield Select(self._photo_options(), prompt="the project's photos", id="photo-pick",
                     allow_blank=True)
        yield PathInput(str(self._default_photo() or ""), id="photo", placeholder="photo file")
        yield Input("Who is this?", id="question", placeholder="question")
        yield Checkbox("Give both models the facts card (the entities' facts as system message)",
                       id="facts-card")
        yield StageProgress(id="progress")
        with Horizontal():
            yield PhotoPreview(id="preview")
            with VerticalScroll(classes="answer"):
                yield Label("Base model", classes="section")
                yield Static("", id="answer-base")
            with VerticalScroll(classes="answer"):
                yield Label(Text(self._tuned_title()), classes="section", id="tuned-title")
                yield Static("", id="answer-tuned")
        yield Footer()

    def _photo_options(self) -> list[tuple[str, str]]:
        """Each photo by its entity, split and file name (not its hash path), held-out ones first."""
        store = self.app.store
        names = {e.id: e.name for e in store.entities()}
        photos = sorted(store.photos(), key=lambda p: (p.split != "heldout", names[p.entity_id], p.id))
        split = {"heldout": "held out", "train": "trained on"}
        return [(f"{names[p.entity_id]} · {split[p.split]} · {p.source_name}",
                 str(store.photo_path(p.sha256))) for p in photos]

    def _tuned_title(self) -> str:
        from sdft_local.training.runs import current_adapter

        found = current_adapter(self.app.store)
        return f"Tuned model ({found[0].name})" if found else "Tuned model (no trained run yet)"

    def _default_photo(self) -> Path | None:
        store = self.app.store
        photos = store.photos(split="heldout") or store.photos()
        return store.photo_path(photos[0].sha256) if photos else None

    def on_mount(self) -> None:
        self.history: dict[str, list[Text]] = {"base": [], "tuned": []}
        self._preview()
        self.query_one("#question", Input).focus()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "photo-pick" and isinstance(event.value, str):
            self.query_one("#photo", PathInput).value = event.value
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
        self.asked = question
        for which in ("base", "tuned"):
            self._show(which, Text("…"))
        self.query_one(StageProgress).begin(None, "Starting …")
        card = self.query_one("#facts-card", Checkbox).value
        self.start("chat", lambda store: chat_records(store, image, question, facts_card=card))

    def on_stage_progressed(self, message: StageProgressed) -> None:
        record = message.record
        if isinstance(record, str):
            self.query_one(StageProgress).status(record)
        elif isinstance(record, ChatAnswered):
            text = Text(f"Q: {self.asked}\n", style="bold")
            text.append(record.answer or "(empty answer)", style="")
            text.append(f"\n{record.student}", style="dim")
            self.history[record.model].append(text)
            self._show(record.model)

    def _show(self, which: str, pending: Text | None = None) -> None:
        """The conversation so far in one pane, newest last (with `pending` for a running answer)."""
        parts = self.history[which] + ([pending] if pending else [])
        self.query_one(f"#answer-{which}", Static).update(Text("\n\n").join(parts))

    def on_stage_finished(self, message: StageFinished) -> None:
        self.query_one(StageProgress).status("Stopped." if message.cancelled else "Done.")
        for which in ("base", "tuned"):
            self._show(which)
        self.query_one("#question", Input).focus()  # the next question goes where it belongs
