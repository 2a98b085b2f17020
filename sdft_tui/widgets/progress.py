"""A progress bar with ETA and one status line, for any long stage."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import ProgressBar, Static


class StageProgress(Vertical):
    """Hidden until a stage starts (an idle indeterminate bar would animate for nothing)."""

    def on_mount(self) -> None:
        self.display = False

    def compose(self) -> ComposeResult:
        yield ProgressBar(total=None, show_eta=True, id="bar")
        yield Static("", id="status")

    def begin(self, total: int | None, text: str = "", done: int = 0) -> None:
        self.display = True
        bar = self.query_one(ProgressBar)
        bar.display = True
        bar.update(total=total, progress=done)
        self.status(text)

    def advance(self, done: int, total: int | None = None, text: str | None = None) -> None:
        bar = self.query_one(ProgressBar)
        bar.update(total=total if total is not None else bar.total, progress=done)
        if text is not None:
            self.status(text)

    def status(self, text: str) -> None:
        self.display = True
        self.query_one("#status", Static).update(text)

    def stop(self) -> None:
        """The stage ended: keep the status line, drop the bar (an open-ended one would spin on)."""
        self.query_one(ProgressBar).display = False
