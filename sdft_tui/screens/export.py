"""Export: write the current run's adapter in the chosen formats, each loaded back and verified.

The export goes through `sdft_local.export.export_run` in a worker; every verification appears
as it finishes, and each written format with its folder and whether it verified.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Footer, Header, Label, Static

from ..messages import StageFinished, StageProgressed
from ..stages import export_records
from ..widgets.export_form import ExportForm
from ..wording import in_app_words
from ..widgets.progress import StageProgress
from .stage import StageScreen


class ExportScreen(StageScreen):
    BINDINGS = [Binding("ctrl+s", "export", "Export"), Binding("escape", "back", "Stop / back")]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Label("Export", classes="screen-title")
        yield Static("", id="run-info", classes="hint")
        with Horizontal():
            with VerticalScroll(id="export-left"):  # every checkbox reachable at 80x24
                yield ExportForm(self._default_out(), id="export-form")
                yield Static("", id="form-error", classes="form-error")
            with Vertical(id="export-right"):
                yield StageProgress(id="progress")
                yield DataTable(id="checks", cursor_type="row")
                yield DataTable(id="outputs", cursor_type="row")
                yield Static("", id="export-warnings")
        yield Footer()

    def _default_out(self) -> Path:
        """The folder of the project's last export, else ~/sdft-exports/<project>."""
        last = self.app.store.project.settings.get("export", {}).get("last_out")
        return Path(last) if last else Path.home() / "sdft-exports" / self.app.store.project.name

    def on_mount(self) -> None:
        from sdft_local.errors import SdftError
        from sdft_local.export.run import find_run, latest_verdict

        self.query_one("#checks", DataTable).add_columns("artifact", "check", "value", "limit", "result")
        self.query_one("#outputs", DataTable).add_columns("format", "verified", "folder")
        try:
            run = find_run(self.app.store, None)
        except SdftError as err:  # no trained run yet: the export would fail the same way
            self.query_one("#run-info", Static).update(Text(in_app_words(err.message)))
            return
        verdict = latest_verdict(self.app.store, run.id)
        self.query_one("#run-info", Static).update(Text(
            f"Run {run.name} (id {run.id}, {run.backend}, {run.shown_state}) · latest check: {verdict} · "
            "ctrl+s exports"))

    def action_export(self) -> None:
        from sdft_local.errors import SdftError

        try:
            values = self.query_one(ExportForm).values()
        except SdftError as err:
            self.query_one("#form-error", Static).update(Text(err.message))
            return
        self.query_one("#form-error", Static).update("")
        self.query_one("#checks", DataTable).clear()
        self.query_one("#outputs", DataTable).clear()
        self.query_one("#export-warnings", Static).update("")
        self.query_one(StageProgress).begin(None, "Starting …")
        self.start("export", lambda store: export_records(store, None, **values))

    def on_stage_progressed(self, message: StageProgressed) -> None:
        from sdft_local import export

        record, progress = message.record, self.query_one(StageProgress)
        if isinstance(record, str):
            progress.status(record)
        elif isinstance(record, export.ExportStarted):
            progress.begin(len(record.formats), f"Exporting {', '.join(record.formats)} to {record.out}")
            self.done = 0
        elif isinstance(record, export.StepStarted):
            progress.status(f"{record.format}: {record.step}")
        elif isinstance(record, export.VerificationFinished):
            self.query_one("#checks", DataTable).add_row(*_check_row(record.check))
        elif isinstance(record, export.FormatExported):
            self.done += 1
            progress.advance(self.done)
            result = record.result
            self.query_one("#outputs", DataTable).add_row(
                Text(result.format), _verified(result), Text(str(result.path)))
        elif isinstance(record, export.ExportFinished):
            result = record.result
            progress.status(f"Done: {len(result.formats)} format(s) in {result.out}, " + _summary(result))
            self.query_one("#export-warnings", Static).update(_warnings_text(result.warnings))
            self.app.store.update_settings(export={"last_out": str(result.out)})

    def on_stage_finished(self, message: StageFinished) -> None:
        if message.cancelled:
            self.query_one(StageProgress).status("Stopped; unfinished folders are not left behind.")


def _verified(result) -> Text:
    if result.verified:
        return Text("yes", style="green")
    if result.warnings:
        return Text(f"with {len(result.warnings)} warning(s)", style="yellow")
    return Text("no", style="bold red")


def _summary(result) -> str:
    if result.verified:
        return "all verified"
    if result.warnings and all(f.verified or f.warnings for f in result.formats):
        return f"usable, but {len(result.warnings)} result(s) outside their tolerance (listed below)"
    return "NOT all verified"


def _warnings_text(warnings) -> Text:
    if not warnings:
        return Text("")
    text = Text("Warnings (kept in each format's manifest.json):\n", style="bold yellow")
    for warning in warnings:
        text.append(f"• {warning}\n")
    return text


def _check_row(c) -> tuple:
    result = Text("ok", style="green") if c.passed else (
        Text("warn", style="yellow") if c.severity == "quality" else Text("FAIL", style="bold red"))
    return (c.artifact, c.name, f"{c.value:.3g}", f"{c.op} {c.limit:.3g}", result)
