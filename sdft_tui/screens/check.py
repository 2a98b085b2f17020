"""The check: knowledge and retention of the current adapter, the gate's verdict with reasons,
and every checked run side by side."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Header, Label, Static, TabbedContent, TabPane

from ..messages import StageFinished, StageProgressed
from ..stages import check_records
from ..widgets.check_compare import CheckComparison
from ..widgets.check_report import CheckReportView
from ..widgets.progress import StageProgress
from .stage import StageScreen


class CheckScreen(StageScreen):
    BINDINGS = [Binding("ctrl+s", "check", "Run check"), Binding("escape", "back", "Stop / back")]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Label("Check: does it know, and did it forget?", classes="screen-title")
        yield Static("ctrl+s checks the project's current adapter (base-model results are cached)",
                     classes="hint")
        yield StageProgress(id="progress")
        with TabbedContent():
            with TabPane("Latest report", id="report-tab"):
                yield CheckReportView(id="report")
            with TabPane("Runs side by side", id="compare-tab"):
                yield CheckComparison(id="compare", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        self.reload()

    def reload(self) -> None:
        reports = stored_reports(self.app.store)
        if reports:
            self.query_one(CheckReportView).show(max(reports, key=lambda r: r.created))
        self.query_one(CheckComparison).show(reports)

    def action_check(self) -> None:
        self.query_one(StageProgress).begin(None, "Starting …")
        self.start("check", lambda store: check_records(store))

    def on_stage_progressed(self, message: StageProgressed) -> None:
        from sdft_local.check import CheckFinished, CheckProgressed, CheckStarted

        record, progress = message.record, self.query_one(StageProgress)
        if isinstance(record, str):
            progress.status(record)
        elif isinstance(record, CheckStarted):
            progress.status(f"Checking run {record.run_name} on {record.backend} "
                            f"({record.probes} general probes)")
        elif isinstance(record, CheckProgressed):
            progress.advance(record.done, record.total, f"{record.stage}: {record.done}/{record.total}")
        elif isinstance(record, CheckFinished):
            progress.status(f"Verdict: {record.report.verdict}")
            self.query_one(CheckReportView).show(record.report)

    def on_stage_finished(self, message: StageFinished) -> None:
        if message.cancelled:
            self.query_one(StageProgress).status("Stopped; nothing was stored.")
        self.reload()


def stored_reports(store) -> list:
    """The latest stored report of every run that has been checked, in run order."""
    from sdft_local.check import latest_check, load_report
    from sdft_local.training.runs import list_runs

    checks = [latest_check(store, run.id) for run in list_runs(store)]
    return [load_report(c) for c in checks if c is not None]
