"""Dialogues: synthesize them, then review each one's three turns; edit, reject or regenerate.

Synthesis and regeneration load the base model in a worker; the table reloads from the store
as each photo's dialogues are written (the library writes a photo's dialogues in one transaction).
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Footer, Header, Label, Static

from ..messages import StageFinished, StageProgressed
from ..stages import regenerate_records, synth_records
from ..wording import in_app_words
from ..widgets.dialogue_view import DialogueView
from ..widgets.progress import StageProgress
from ..widgets.tables import KeyedTable
from .stage import StageScreen


class DialoguesScreen(StageScreen):
    BINDINGS = [
        Binding("s", "synthesize", "Synthesize"),
        Binding("g", "synthesize(True)", "Redo all"),
        Binding("e", "edit", "Edit"),
        Binding("x", "toggle_reject", "Reject"),
        Binding("r", "regenerate", "Redo one"),
        Binding("b", "settings", "Backend"),
        Binding("escape", "back", "Stop / back"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Label("Dialogues", classes="screen-title")
        yield Static("", id="summary", classes="hint")
        yield StageProgress(id="progress")
        with Horizontal():
            yield KeyedTable("id", "entity", "photo", "v", "status", "turn 3 by", id="dialogues")
            yield DialogueView(id="dialogue")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.reload()

    def reload(self) -> None:
        from sdft_local.synth import backend_from_settings, list_dialogues

        store = self.app.store
        self.records = {str(r.id): r for r in list_dialogues(store)}
        rows = [(k, (r.id, r.entity, r.photo_id, r.variant, r.status, r.turns[-1].source))
                for k, r in self.records.items()]
        self.query_one(KeyedTable).show_rows(rows)
        backend = backend_from_settings(store.project.settings).name
        live = sum(r.status != "rejected" for r in self.records.values())
        self.query_one("#summary", Static).update(Text(
            f"{len(rows)} dialogues ({live} used for training) · turn 3 by {backend} · "
            "s synthesizes the missing ones · b changes the backend"))
        self._show(self.query_one(KeyedTable).selected_key)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show(event.row_key.value if event.row_key else None)

    def _show(self, key: str | None) -> None:
        self.query_one(DialogueView).show(self.records.get(key or ""))

    @property
    def selected(self):
        return self.records.get(self.query_one(KeyedTable).selected_key or "")

    def action_synthesize(self, regenerate: bool = False) -> None:
        self.query_one(StageProgress).begin(None, "Starting …")
        self.start("synth", lambda store: synth_records(store, regenerate))

    def action_regenerate(self) -> None:
        if self.selected:
            dialogue_id = self.selected.id
            self.start("regenerate", lambda store: regenerate_records(store, dialogue_id))

    def action_toggle_reject(self) -> None:
        from sdft_local.synth import set_status

        if self.selected:
            status = "ok" if self.selected.status == "rejected" else "rejected"
            set_status(self.app.store, self.selected.id, status)
            self.reload()

    def action_settings(self) -> None:
        from .synth_settings import SynthSettingsScreen

        self.app.push_screen(SynthSettingsScreen(), lambda saved: saved and self.reload())

    def action_edit(self) -> None:
        from .turn_edit import TurnEditScreen

        if self.selected:
            self.app.push_screen(TurnEditScreen(self.selected), lambda saved: saved and self.reload())

    def on_stage_progressed(self, message: StageProgressed) -> None:
        from sdft_local.synth import SynthBackendReady, SynthFinished, SynthLoading, SynthProgressed, SynthStarted

        record, progress = message.record, self.query_one(StageProgress)
        if isinstance(record, str):
            progress.status(record)
        elif isinstance(record, SynthLoading):
            progress.status(record.message)
        elif isinstance(record, SynthBackendReady):
            why = f" ({record.chosen_because})" if record.chosen_because else ""
            progress.status(f"Turn 3 by {record.backend}{why}")
            for warning in record.warnings:
                self.notify(in_app_words(warning), severity="warning", timeout=10, markup=False)
        elif isinstance(record, SynthStarted):
            progress.begin(record.photos, f"Synthesizing {record.photos} photo(s) with "
                           f"{record.student}, turn 3 by {record.backend}")
        elif isinstance(record, SynthProgressed):
            progress.advance(record.done, record.total, f"{record.entity}: photo {record.photo_id} "
                             f"({record.written} dialogue(s), {record.fallbacks} template fallback(s))")
            self.reload()
        elif isinstance(record, SynthFinished):
            progress.status(f"Wrote {record.dialogues} dialogue(s) for {record.photos} photo(s) in "
                            f"{record.seconds:.1f} s; {record.skipped} photo(s) were already done.")
        else:  # a regenerated DialogueRecord
            progress.status(f"Dialogue {record.id} written again.")
            self.reload()

    def on_stage_finished(self, message: StageFinished) -> None:
        if message.cancelled:
            self.query_one(StageProgress).status("Stopped; the photos done so far are stored.")
        self.reload()
