"""Training: settings, start / stop / resume, progress with ETA, live loss per turn, speed, memory.

The run goes through `sdft_local.training.train` in a worker; stopping closes the generator, which
marks the run interrupted, and `r` resumes it from its last checkpoint. The form's values are
saved to the project's `train` settings when a run starts, so the CLI uses them too.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Header, Label, Static

from ..messages import StageFinished, StageProgressed
from ..stages import train_records
from ..widgets.loss_chart import LossChart
from ..widgets.progress import StageProgress
from ..widgets.tables import KeyedTable
from ..widgets.train_form import TrainForm
from .stage import StageScreen


class TrainScreen(StageScreen):
    BINDINGS = [
        Binding("ctrl+s", "train", "Start"),
        Binding("ctrl+r", "resume", "Resume"),
        Binding("escape", "back", "Stop / back"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Label("Train a LoRA adapter", classes="screen-title")
        yield Static("ctrl+s starts a run · Escape stops it (resumable) · ctrl+r resumes the newest "
                     "unfinished run", classes="hint")
        with Horizontal():
            with Vertical(id="train-left"):
                yield TrainForm(id="train-form")
                yield Static("", id="form-error", classes="form-error")
                yield KeyedTable("run", "name", "state", "steps", "final loss", id="runs")
            with Vertical(id="train-right"):
                yield StageProgress(id="progress")
                yield Static("", id="metrics")
                yield LossChart(id="loss")
        yield Footer()

    def on_mount(self) -> None:
        from sdft_local.training import resolve_config

        store = self.app.store
        self.query_one(TrainForm).fill(resolve_config(store.project.settings, store.project.base_model))
        self.reload_runs()

    def reload_runs(self) -> None:
        from sdft_local.training.runs import list_runs

        rows = []
        for run in list_runs(self.app.store):
            loss = run.metrics.get("final_loss")
            rows.append((str(run.id), (run.id, run.name, run.shown_state, run.metrics.get("steps", ""),
                                       "" if loss is None else f"{loss:.4f}")))
        self.query_one(KeyedTable).show_rows(rows)

    def on_data_table_row_highlighted(self, event) -> None:
        self._show_picked_run()

    def on_descendant_focus(self, event) -> None:
        if event.widget is self.query_one(KeyedTable):
            self._show_picked_run()

    def _show_picked_run(self) -> None:
        """The past run under the cursor: its loss curve. Only while the user looks through the
        runs (a reload moves the cursor too), and never over a run that draws its own."""
        from sdft_local.training.runs import get_run

        table = self.query_one(KeyedTable)
        if self.running or not table.has_focus or table.selected_key is None:
            return
        run = get_run(self.app.store, int(table.selected_key))
        self.query_one(LossChart).show_run(run.metrics.get("history", []))

    def action_train(self) -> None:
        from sdft_local.errors import SdftError
        from sdft_local.training import resolve_config

        store, error = self.app.store, self.query_one("#form-error", Static)
        try:
            values = self.query_one(TrainForm).values()
            config = resolve_config(store.project.settings, store.project.base_model, **values)
        except SdftError as err:
            error.update(Text(err.message))
            return
        error.update("")
        store.update_settings(train={**store.project.settings.get("train", {}), **values})
        self._begin(lambda s: train_records(s, config, resume=False))

    def action_resume(self) -> None:
        self._begin(lambda s: train_records(s, None, resume=True))

    def _begin(self, make_records) -> None:
        self.query_one(LossChart).clear()
        self.query_one(StageProgress).begin(None, "Starting …")
        self.start("train", make_records)

    def on_stage_progressed(self, message: StageProgressed) -> None:
        from sdft_local.training import CheckpointSaved, TrainFinished, TrainProgress, TrainStarted

        record, progress = message.record, self.query_one(StageProgress)
        if isinstance(record, str):
            progress.status(record)
        elif isinstance(record, TrainStarted):
            resumed = f", resumed at step {record.start_step}" if record.start_step else ""
            progress.begin(record.total_steps, f"Run {record.run_id} on {record.backend}: "
                           f"{record.examples} dialogues{resumed}", done=record.start_step)
            self.reload_runs()
        elif isinstance(record, TrainProgress):
            progress.advance(record.step, record.total)
            self.query_one("#metrics", Static).update(_metrics(record))
            self.query_one(LossChart).add(record.loss, record.turn_loss)
        elif isinstance(record, CheckpointSaved):
            progress.status(f"Checkpoint saved at step {record.step}")
        elif isinstance(record, TrainFinished):
            progress.status(f"Run {record.run_id} {record.state} after {record.steps} steps "
                            f"({record.elapsed_s:.0f} s); adapter: {record.adapter_path}")

    def on_stage_finished(self, message: StageFinished) -> None:
        if message.cancelled:
            self.query_one(StageProgress).status(self._stopped_line())
        self.reload_runs()

    def _stopped_line(self) -> str:
        """What a stop kept: the run checkpoints the step it stopped at (none before the first)."""
        from sdft_local.training.checkpoint import latest_checkpoint
        from sdft_local.training.runs import list_runs

        runs = [r for r in list_runs(self.app.store) if r.state != "finished"]
        found = latest_checkpoint(runs[-1].folder(self.app.store)) if runs else None
        if found is None:
            return "Stopped before the first step: nothing to resume; ctrl+s starts a new run."
        return f"Stopped at step {found.step}; ctrl+r resumes from there."


def _metrics(p) -> str:
    kl = f" · KL {p.kl:.4f}" if p.kl is not None else ""
    return (f"step {p.step}/{p.total} · epoch {p.epoch:.2f} · loss {p.loss:.4f}{kl} · lr {p.lr:.2e}"
            f"\n{p.tokens_per_s:,.0f} tokens/s · peak memory {p.peak_memory_mb:,.0f} MB · "
            f"ETA {_duration(p.eta_s)}")


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds < 3600 else \
        f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
